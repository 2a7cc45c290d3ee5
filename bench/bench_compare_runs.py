"""Two finished jobs' models paired on the same test reviews: which one is right more often on the sentiment and on the
most likely rating (McNemar's exact test), and which one's rating is closer (sign test).

    python bench/bench_compare_runs.py --run runs/bench-imdb-full-ff-fp32-both-ngram \
        --against runs/bench-imdb-full-e2e-fp32-ngram --stage ensemble --dataset ../shared/data/imdb \
        --name compare_full_final_fit_fp32_adversarial_both

Both models are re-evaluated the way their jobs evaluated them (each stage's recorded evaluation length), so their
figures must equal the jobs' recorded ones. For an option measured after the preset was chosen, a final-figure
comparison only: choose on validation.
"""

import argparse
import json
from pathlib import Path

import numpy as np
from bench_paired_test import check_matches_job, evaluated_length, mcnemar, our_outputs, sign_test
from common import write_results

from hf_rnn.data import load_reviews
from hf_rnn.recipes.imdb import PRESETS
from hf_rnn.training.metrics import ratings_from_outputs


def published_predictions(run: Path, stage: str, test, preset: str) -> dict:
    """The run's `stage` model's sentiment labels and (with a 10-way rating) its posterior-median and most likely
    ratings on every test review, each checked against the job's recorded test figure."""
    done = json.loads((run / stage / "stage_done.json").read_text())
    bf16 = json.loads((run / "results.json").read_text()).get("bf16", False)
    sentiment, rating = our_outputs(run, stage, test, evaluated_length(run / stage, preset), done, bf16)
    predictions = {"sentiment": sentiment.argmax(-1)}
    check_matches_job(f"{run} sentiment", (predictions["sentiment"] == np.array(test["label"])).mean(),
                      done.get("test_accuracy"))
    if rating is not None:
        logits, labels, recorded_mae = rating
        predictions["median"], _ = ratings_from_outputs(logits, labels, "rating10")
        predictions["most likely"] = logits.argmax(-1) + 1
        check_matches_job(f"{run} rating", np.abs(predictions["median"] - np.array(test["rating"])).mean(),
                          recorded_mae)
    return predictions


def comparison_sections(ours: dict, theirs: dict, test) -> dict:
    """Results sections: sentiment and exact ratings by McNemar, the closer rating by a sign test."""
    labels, ratings = np.array(test["label"]), np.array(test["rating"])
    right = [{"figure": "sentiment", **mcnemar(ours["sentiment"] == labels, theirs["sentiment"] == labels)}]
    sections = {}
    if "median" in ours and "median" in theirs:
        right += [{"figure": f"exact rating ({kind})", **mcnemar(ours[kind] == ratings, theirs[kind] == ratings)}
                  for kind in ("most likely", "median")]
        closer = {"figure": "closer to the true rating (posterior medians)",
                  **sign_test(np.abs(ours["median"] - ratings), np.abs(theirs["median"] - ratings))}
        sections["Rating: which is closer (sign test)"] = ([closer], list(closer))
    return {"Right more often (McNemar)": (right, list(right[0])), **sections}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="finished main-job folder ('ours')")
    parser.add_argument("--against", required=True, help="finished main-job folder to compare with ('theirs')")
    parser.add_argument("--stage", default="ensemble", choices=("sentiment", "sentiment_backward", "ensemble"))
    parser.add_argument("--preset", default="full", choices=sorted(PRESETS))
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--name", required=True, help="results name")
    args = parser.parse_args()
    test = load_reviews(args.dataset)["test"]
    ours, theirs = (published_predictions(Path(run), args.stage, test, args.preset) for run in (args.run, args.against))
    notes = (f"`{args.run}` ('ours') against `{args.against}` ('theirs'), each run's `{args.stage}/` model, on all "
             f"{len(test):,} test reviews.")
    print(write_results(args.name, comparison_sections(ours, theirs, test), notes))


if __name__ == "__main__":
    main()
