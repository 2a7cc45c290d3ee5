"""The sentiment read partly off the stars: a two-head ensemble's probability of a positive review mixed with the
probability its star distribution gives to 6-10 stars (the stars mixed with the bag-of-words member at the run's
preset share, as the published model mixes them).

    python bench/bench_stars_polarity.py --run runs/bench-imdb-full-fp32-val-both --dataset ../shared/data/imdb \
        --shares 0 0.25 0.5 0.75 1 --name stars_polarity_full_fp32_adversarial_both

Why it might help: the rating head is a ten-way classifier trained on the same reviews, and on test its polarity
(the posterior median above 5.5) has run ahead of the sentiment head's once the bag joins the stars
(imdb_full_final_fit_fp32_adversarial_both_ngram.md: 93.37% against 93.21%). Per share: sentiment accuracy with
McNemar's exact test against the sentiment head alone (share 0). The recurrent members read whole reviews; the bag
is fitted on the run's own training reviews. Choose on validation (a run made without `--final_fit`).
"""

import argparse
import json
from pathlib import Path

import numpy as np
from bench_eval_length import MEMBERS
from bench_ngram_member import bag_probabilities, evaluated_reviews, members_alone, mixed
from bench_paired_test import mcnemar
from common import write_results
from transformers import AutoConfig, AutoTokenizer

from hf_rnn.recipes.imdb import PRESETS
from hf_rnn.recipes.imdb.presets import preset_for
from hf_rnn.training.ngram_logistic import NgramLogisticArguments


def sentiment_with_stars(sentiment: np.ndarray, stars: np.ndarray, share: float) -> np.ndarray:
    """(negative, positive) probabilities: the sentiment head's, with `share` of them the stars' polarity (1-5 stars
    for negative, 6-10 for positive: IMDB's labelled reviews have no 5 or 6, and the rating metrics split at 5.5)."""
    return mixed(sentiment, np.stack([stars[:, :5].sum(-1), stars[:, 5:].sum(-1)], -1), share)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a finished `hf-rnn imdb --heads shared` folder")
    parser.add_argument("--preset", default="full", choices=sorted(PRESETS))
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--split", default="validation", choices=("validation", "test"))
    parser.add_argument("--shares", type=float, nargs="+", default=[0, 0.25, 0.5, 0.75, 1])
    parser.add_argument("--seed", type=int, default=42, help="the job's seed, which drew its validation split")
    parser.add_argument("--name", default=None, help="results name; default stars_polarity_<run folder>")
    args = parser.parse_args()
    run = Path(args.run)
    job = json.loads((run / "results.json").read_text())
    bag = NgramLogisticArguments(**preset_for(args.preset, job.get("bf16", False)).get("ngram_logistic", {}))
    train, reviews, job_rows = evaluated_reviews(run, args.dataset, args.preset, args.split, args.seed)
    sentiment, stars, labels = members_alone(run, reviews, args.preset, args.split, job.get("bf16", False), 0,
                                              job_rows)
    forward = run / MEMBERS["forward"]
    bag_sentiment, bag_stars, _ = bag_probabilities(AutoConfig.from_pretrained(forward),
                                                    AutoTokenizer.from_pretrained(forward), train, reviews, bag)
    sentiment = mixed(sentiment, bag_sentiment, bag.ngram_logistic_weight)
    stars = mixed(stars, bag_stars, bag.ngram_logistic_rating_weight)
    head_right = sentiment.argmax(-1) == labels[:, 0]
    rows, tests = [], []
    for share in args.shares:
        right = sentiment_with_stars(sentiment, stars, share).argmax(-1) == labels[:, 0]
        rows.append({"stars' share": share, "sentiment": float(right.mean())})
        tests.append({"stars' share": share, **mcnemar(right, head_right)})
    final_fit = ", final fit" if job.get("final_fit") else ""
    notes = (f"The published ensemble of `{args.run}` (preset `{args.preset}`{final_fit};"
             f" recurrent members on whole reviews; the bag fitted on {len(train):,} training reviews at shares "
             f"{bag.ngram_logistic_weight} of the sentiment and {bag.ngram_logistic_rating_weight} of the stars), on "
             f"{len(reviews):,} {args.split} reviews. Share: the stars' polarity's part of the sentiment probabilities "
             "(0: the sentiment head's, as published; 1: the stars' alone).")
    print(write_results(args.name or f"stars_polarity_{run.name}", {
        f"Sentiment on the {args.split} split": (rows, list(rows[0])),
        "Against the sentiment head (McNemar)": (tests, list(tests[0])),
    }, notes))


if __name__ == "__main__":
    main()
