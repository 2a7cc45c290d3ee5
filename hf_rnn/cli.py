"""`hf-rnn` console entry point: a thin dispatcher to the library's functions.

    hf-rnn train --dataset DATA --label_column label --output_dir runs/x   # the main job, any labelled text
    hf-rnn imdb --preset quick --output_dir runs/imdb-quick      # IMDB's settings over it
    hf-rnn predict runs/imdb-quick/model "Great film!" "Dull."  # or --file reviews.txt, or text on stdin
    hf-rnn timeseries runs/gunpoint/model series.csv [--horizon 12]   # a saved time-series model on a .ts/.csv
    hf-rnn explain runs/imdb-quick/model "Great film!" --html words.html --plot opinion.png   # why that label
    hf-rnn space runs/imdb-quick/model demo     # a Gradio app folder: python demo/app.py
"""

import argparse
import functools
import json
import sys
from pathlib import Path


def predict_main(argv):
    parser = argparse.ArgumentParser(prog="hf-rnn predict", description="Classify or rate reviews with a saved model.")
    parser.add_argument("model", help="folder of a saved hf_rnn classifier")
    parser.add_argument("texts", nargs="*", help="reviews; none: read --file or stdin, one review per line")
    parser.add_argument("--file", help="a text file with one review per line")
    parser.add_argument("--batch_size", type=int, default=32)
    args = parser.parse_args(argv)
    texts = args.texts or read_lines(args.file)
    if not texts:
        parser.error("no text given: pass reviews as arguments, --file, or lines on stdin")
    from .inference import load_classifier, predict_reviews

    for text, result in zip(texts, predict_reviews(load_classifier(args.model), texts, args.batch_size)):
        print(json.dumps({"text": text[:80], **result}))


def read_lines(path):
    """Non-empty lines of a UTF-8 file (stdin without a path); bad bytes are a one-line error naming where."""
    data = Path(path).read_bytes() if path else sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(f"{path or '<stdin>'} line {line} (byte offset {error.start}) is not UTF-8 ({error.reason}): "
                         "save the file as UTF-8, e.g. iconv -f latin1 -t utf-8 FILE > FILE.utf8") from None
    return [line.strip() for line in text.split("\n") if line.strip()]  # not splitlines: IMDB text holds \x85


def timeseries_main(argv):
    parser = argparse.ArgumentParser(prog="hf-rnn timeseries", description="Run a saved time-series model.")
    parser.add_argument("model", help="folder of a saved hf_rnn time-series model")
    parser.add_argument("path", help="a .ts archive or a CSV file of series")
    parser.add_argument("--horizon", type=int, default=1, help="forecasters: steps to predict")
    args = parser.parse_args(argv)
    from .timeseries import predict_file

    result = predict_file(args.model, args.path, horizon=args.horizon)
    print(json.dumps(result, default=_to_list, allow_nan=False))  # strict JSON: NaN is no JSON value


def _to_list(value):
    return value.tolist() if hasattr(value, "tolist") else str(value)


def _bad_input_in_one_line(command):
    """Wrap a command so bad input (a ValueError or OSError whose message names the fix) ends it with one line
    on stderr and exit status 1, instead of a traceback."""

    @functools.wraps(command)
    def run(argv):
        try:
            command(argv)
        except (ValueError, OSError) as error:
            sys.exit(f"hf-rnn: error: {error}")

    return run


COMMANDS = {
    "timeseries": _bad_input_in_one_line(timeseries_main),
    "train": _bad_input_in_one_line(
        lambda argv: __import__("hf_rnn.recipes.text_classification", fromlist=["main"]).main(argv)),
    "imdb": lambda argv: __import__("hf_rnn.recipes.imdb", fromlist=["main"]).main(argv),
    "predict": _bad_input_in_one_line(predict_main),
    "explain": _bad_input_in_one_line(lambda argv: __import__("hf_rnn.explain", fromlist=["main"]).main(argv)),
    "space": _bad_input_in_one_line(lambda argv: __import__("hf_rnn.space", fromlist=["main"]).main(argv)),
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: hf-rnn {{{','.join(COMMANDS)}}} ... (hf-rnn COMMAND --help for details)", file=sys.stderr)
        return 2
    COMMANDS[argv[0]](argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
