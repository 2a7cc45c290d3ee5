"""Speed of `hf_rnn.explain`: one 300-word review explained (attributions + running opinion + the prediction) on
this CPU, for a model of the quick preset's shapes (`hf-rnn imdb --preset quick`: embedding 128, one LSTM 256 layer,
mean pooling, a 10,000-word vocabulary, the 2^18-bucket n-gram bag beside the pooling, two heads (sentiment and
stars), and the ensemble's 2^18-bucket bag-of-words member at weight 0.5).

The weights are random: time does not depend on them (no trained model is needed, and none is read). The text is
300 words drawn from the vocabulary. Each row is the best of `--rounds` timed runs after one warm-up, at each number
of integrated-gradients steps (the library's default is `DEFAULT_STEPS`).

    python bench/bench_explain.py [--rounds 5] [--steps 8 16 32] [--threads 1 2] [--max_load 2.5 --wait 300]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from transformers import pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's hf_rnn, run from anywhere
from common import BusyMachine, load_average, wait_for_quiet_machine, write_results  # noqa: E402

from hf_rnn import RNNConfig, RNNEnsembleForSequenceClassification, RNNForSequenceClassification  # noqa: E402
from hf_rnn.explain import DEFAULT_STEPS, explain  # noqa: E402
from hf_rnn.models.rnn.modeling_rnn_ensemble import NgramLogisticRegression  # noqa: E402

NAME = "explain_speed"
VOCAB, WORDS, BUCKETS = 10_000, 300, 2**18
QUICK_SHAPES = dict(embedding_size=128, hidden_size=256, num_hidden_layers=1, classifier_pooling="mean",
                    classifier_hidden_size=50, ngram_buckets=BUCKETS)


def word_tokenizer():
    """A word-level tokenizer over `VOCAB` made-up words (w0 ... w9995 and the special tokens), prepending <s>."""
    from hf_rnn.tokenization import wrap_tokenizer
    from tokenizers import Tokenizer, models, pre_tokenizers

    specials = ["<pad>", "<unk>", "<s>", "</s>"]
    vocab = {word: i for i, word in enumerate(specials + [f"w{i}" for i in range(VOCAB - len(specials))])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return wrap_tokenizer(backend)


def quick_models() -> dict:
    """The models timed: the quick preset's published ensemble, and its forward classifier alone."""
    labels = {0: "neg", 1: "pos"}
    config = RNNConfig(vocab_size=VOCAB, num_labels=2, id2label=labels, label2id={v: k for k, v in labels.items()},
                       auxiliary_label_names=[str(i) for i in range(1, 11)], **QUICK_SHAPES)
    member = RNNForSequenceClassification(config).eval()
    bag = NgramLogisticRegression(VOCAB, BUCKETS, num_labels=2, num_auxiliary_labels=10)
    torch.nn.init.normal_(bag.scores.weight, std=0.01)
    ensemble = RNNEnsembleForSequenceClassification.from_members(member, ngram_logistic=bag, ngram_logistic_weight=0.5,
                                                                 ngram_logistic_auxiliary_weight=0.5).eval()
    return {"quick ensemble (classifier + bag of words)": ensemble, "quick classifier alone": member}


def review(seed: int = 0) -> str:
    generator = torch.Generator().manual_seed(seed)
    return " ".join(f"w{int(i)}" for i in torch.randint(0, VOCAB - 4, (WORDS,), generator=generator))


def time_explain(served, text, steps: int, rounds: int) -> tuple[float, float, object]:
    explain(served, text, n_steps=steps)  # warm-up
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        explanation = explain(served, text, n_steps=steps)
        seconds.append(time.perf_counter() - start)
    return min(seconds), statistics.median(seconds), explanation


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, nargs="+", default=[8, DEFAULT_STEPS, 32])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="torch threads; on a shared 2-core machine 1 thread often wins (2 spin-wait for a core)")
    parser.add_argument("--max_load", type=float, default=2.5, help="wait for a 1-minute load average below this")
    parser.add_argument("--wait", type=float, default=300, help="seconds to wait for it, then time anyway")
    args = parser.parse_args(argv)
    try:
        wait_for_quiet_machine(args.max_load, args.wait)
    except BusyMachine as busy:
        print(f"{busy}; timing anyway, the load is in the notes", flush=True)
    torch.manual_seed(0)
    tokenizer, text, load = word_tokenizer(), review(), load_average()
    rows = []
    for name, model in quick_models().items():
        served = pipeline("text-classification", model=model, tokenizer=tokenizer)  # as load_explainer gives
        for threads, steps in [(threads, steps) for threads in args.threads for steps in args.steps]:
            torch.set_num_threads(threads)
            best, median, explanation = time_explain(served, text, steps, args.rounds)
            rows.append({"model": name, "threads": threads, "IG steps": steps, "words": len(explanation.words),
                         "best s": best, "median s": median, "under 1 s": "yes" if best < 1 else "no",
                         "IG delta": explanation.delta, "running opinion": explanation.running is not None})
            print(rows[-1], flush=True)
    notes = (f"One {WORDS}-word review (plus <s>), random weights of the quick preset's shapes (embedding 128, LSTM "
             f"256 x 1, vocabulary {VOCAB:,}, mean pooling, 2^18-bucket n-gram bag, two heads; the ensemble adds the "
             "2^18-bucket bag-of-words member at weight 0.5). Time covers the whole `explain()` call: integrated "
             "gradients on the embedding output (Gauss-Legendre, all steps in one batch), occlusion for the "
             "bag-of-words member, the running opinion (one pass) and the prediction. Best and median of "
             f"{args.rounds} runs after a warm-up; 1-minute load average at the start "
             f"{load:.2f} (a shared machine: neighbours only ever slow a run down). The library's default is "
             f"{DEFAULT_STEPS} steps.")
    columns = ["model", "threads", "IG steps", "words", "best s", "median s", "under 1 s", "IG delta", "running opinion"]
    print(write_results(NAME, {"one 300-word review": (rows, columns)}, notes))


if __name__ == "__main__":
    main()
