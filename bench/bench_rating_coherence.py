"""The star rating read on its own against the rating that takes its polarity from the sentiment head
(`hf_rnn.ratings.stars_agreeing_with_sentiment`), on a finished IMDB job's saved outputs.

    python bench/bench_rating_coherence.py --run runs/bench-imdb-full-fp32-val --name rating_coherence_full_fp32

For every classifier of the run (a two-head model: its own sentiment head; separate sentiment and rating models:
the sentiment model beside the rating model) and the forward + backward ensemble, the rating's figures both ways
on each split the classifiers kept outputs for, and paired tests of the difference: exact McNemar on the most
likely rating's exact hits, a sign test on the median's absolute errors. Nothing is read or run again: the figures
come from `predictions_<split>.safetensors`. Choose on validation (a run made without `--final_fit`); test figures
report, they choose nothing.
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from bench_paired_test import mcnemar, sign_test
from common import write_results
from safetensors.torch import load_file

from hf_rnn.ratings import posterior_median_stars, stars_agreeing_with_sentiment
from hf_rnn.training.recipes import averaged_outputs, predictions_path

TWO_HEAD_MEMBERS = ("sentiment", "sentiment_backward")


def split_outputs(run: Path, split: str) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(sentiment probabilities, star probabilities, true stars) per classifier of the run on one split."""
    found = {name: load_file(predictions_path(run / name, split)) for name in TWO_HEAD_MEMBERS
             if predictions_path(run / name, split).is_file()}
    models = {name: (saved["logits"], saved["auxiliary_logits"], saved["labels"][:, 1])
              for name, saved in found.items() if "auxiliary_logits" in saved}
    if len(models) == 2:
        logits, stars = averaged_outputs(list(found.values()))
        models["ensemble"] = (logits, stars, found["sentiment"]["labels"][:, 1])
    if not models and predictions_path(run / "rating", split).is_file():  # separate sentiment and rating models
        sentiment, rating = (load_file(predictions_path(run / name, split)) for name in ("sentiment", "rating"))
        models["sentiment + rating"] = (sentiment["logits"], rating["logits"], rating["labels"])
    return {name: (logits.softmax(-1).numpy(), stars.softmax(-1).numpy(), stars_true.numpy() + 1.0)
            for name, (logits, stars, stars_true) in models.items()}


def rating_figures(stars: np.ndarray, truth: np.ndarray) -> dict:
    median, most_likely = posterior_median_stars(stars), stars.argmax(-1) + 1.0
    return {"MAE (median)": float(np.abs(median - truth).mean()), "exact (median)": float((median == truth).mean()),
            "exact (most likely)": float((most_likely == truth).mean()),
            "within one (median)": float((np.abs(median - truth) <= 1).mean()),
            "polarity (median)": float(((median > 5.5) == (truth > 5.5)).mean())}


def comparison(name: str, split: str, sentiment: np.ndarray, stars: np.ndarray, truth: np.ndarray):
    """Figure rows for the rating alone and agreeing with the sentiment head, and the two paired tests."""
    combined = stars_agreeing_with_sentiment(stars, sentiment)
    rows = [{"classifier": name, "split": split, "rating": way, **rating_figures(probs, truth)}
            for way, probs in (("its own", stars), ("polarity from the sentiment head", combined))]
    hits = [(probs.argmax(-1) + 1.0) == truth for probs in (combined, stars)]
    errors = [np.abs(posterior_median_stars(probs) - truth) for probs in (combined, stars)]
    tests = ({"classifier": name, "split": split, **mcnemar(*hits)},
             {"classifier": name, "split": split, **sign_test(*errors)})
    return rows, tests


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a finished `hf-rnn imdb` folder")
    parser.add_argument("--name", default=None, help="results name; default rating_coherence_<run folder>")
    args = parser.parse_args()
    run = Path(args.run)
    figure_rows, hit_tests, error_tests = [], [], []
    for split in ("validation", "test"):
        for name, outputs in split_outputs(run, split).items():
            rows, (hits, errors) = comparison(name, split, *outputs)
            figure_rows += rows
            hit_tests.append(hits)
            error_tests.append(errors)
    if not figure_rows:
        raise SystemExit(f"{run} holds no classifier outputs with a rating (predictions_<split>.safetensors in "
                         f"{', '.join(TWO_HEAD_MEMBERS)} or rating/): pass a finished `hf-rnn imdb` folder.")
    notes = (f"Run `{args.run}`. 'polarity from the sentiment head': the rating model's probabilities within each "
             "polarity (1-5 and 6-10 stars) times the sentiment head's probability of that polarity. Paired tests: "
             "'ours' is the rating with the sentiment head's polarity, 'theirs' the rating on its own.")
    sections = {"Rating figures": (figure_rows, list(figure_rows[0])),
                "Most likely rating's exact hits, paired (exact McNemar)": (hit_tests, list(hit_tests[0])),
                "Median's absolute error, paired (sign test)": (error_tests, list(error_tests[0]))}
    print(write_results(args.name or f"rating_coherence_{run.name}", sections, notes))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
