"""Stochastic weight averaging measured inside one run: each classifier of a `--weight_averaging_start` job as trained
(its last checkpoint, written before training ends) and as averaged (the stage's saved model), alone and as the
published ensemble (the bag-of-words member taking the preset's share of the stars), paired on the same reviews.

    python bench/bench_weight_averaging.py --run runs/bench-imdb-full-fp32-val-swa --dataset ../shared/data/imdb \
        --name weight_averaging_full_fp32

Averaging only reads the weights the training steps make, so both weight sets come from the same steps: the
difference is the average's alone, with no seed between them. Each classifier reads reviews as the job evaluated
them; the trained weights must reproduce the Trainer's last evaluation, the averaged ones the job's recorded figure.
Choose on validation (a run made without `--final_fit`); test is for the chosen setting's final figures.
"""

import argparse
import json
from pathlib import Path

import numpy as np
from bench_eval_length import figures, probabilities
from bench_ngram_member import bag_probabilities, evaluated_reviews, mixed, run_members
from bench_paired_test import check_matches_job, evaluated_length, mcnemar
from common import write_results
from transformers import AutoConfig, AutoTokenizer
from transformers.trainer_utils import get_last_checkpoint

from hf_rnn.recipes.imdb import PRESETS
from hf_rnn.recipes.imdb.presets import preset_for
from hf_rnn.training.ngram_logistic import NgramLogisticArguments


def last_evaluation(stage_dir: Path, split: str) -> float | None:
    """The Trainer's last in-training accuracy on validation (the weights as trained, before the average replaced
    them), or None on another split or where it did not evaluate."""
    if split != "validation":
        return None
    history = json.loads((stage_dir / "trainer_state.json").read_text())["log_history"]
    evaluations = [entry["eval_accuracy"] for entry in history if "eval_accuracy" in entry]
    return evaluations[-1] if evaluations else None


def both_weights(run: Path, stage: str, reviews, preset: str, split: str, bf16: bool, job_rows: int) -> dict:
    """One classifier's (sentiment, stars, labels) probabilities with its weights as trained and as averaged, each
    checked against the figure its job recorded for them."""
    stage_dir = run / stage
    trained = Path(get_last_checkpoint(stage_dir)).relative_to(run)
    length = evaluated_length(stage_dir, preset)
    outputs = {"trained": probabilities(run, str(trained), reviews, length, bf16),
               "averaged": probabilities(run, stage, reviews, length, bf16)}
    done = json.loads((stage_dir / "stage_done.json").read_text())
    right = lambda weights: figures(*outputs[weights])[1][:job_rows].mean()
    check_matches_job(f"{stage} as averaged", right("averaged"), done.get(f"{split}_accuracy"))
    check_matches_job(f"{stage} as trained", right("trained"), last_evaluation(stage_dir, split))
    return outputs


def comparison(name: str, trained: tuple, averaged: tuple) -> tuple[list[dict], list[dict]]:
    """Figures of both weight sets, and the averaged against the trained on each review (McNemar)."""
    rows = [{"model": name, "weights": weights, **figures(*outputs)[0]}
            for weights, outputs in (("as trained", trained), ("averaged", averaged))]
    labels = trained[2]
    tests = [{"model": name, "figure": figure, **mcnemar(pick(averaged) == truth, pick(trained) == truth)}
             for figure, pick, truth in (("sentiment", lambda o: o[0].argmax(-1), labels[:, 0]),
                                         ("exact (most likely)", lambda o: o[1].argmax(-1), labels[:, 1]))]
    return rows, tests


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a finished `hf-rnn imdb --heads shared --weight_averaging_start "
                        "S` folder (with or without --backward)")
    parser.add_argument("--preset", default="full", choices=sorted(PRESETS))
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--split", default="validation", choices=("validation", "test"))
    parser.add_argument("--seed", type=int, default=42, help="the job's seed, which drew its validation split")
    parser.add_argument("--name", default=None, help="results name; default weight_averaging_<run folder>")
    args = parser.parse_args()
    run = Path(args.run)
    job = json.loads((run / "results.json").read_text())
    if not job.get("weight_averaging_start"):
        raise SystemExit(f"{run} was trained without --weight_averaging_start: its classifiers have no average.")
    bf16 = job.get("bf16", False)
    train, reviews, job_rows = evaluated_reviews(run, args.dataset, args.preset, args.split, args.seed)
    members = {direction: both_weights(run, stage, reviews, args.preset, args.split, bf16, job_rows)
               for direction, stage in run_members(run).items()}
    bag = NgramLogisticArguments(**preset_for(args.preset, bf16).get("ngram_logistic", {}))
    forward = run / run_members(run)["forward"]
    bag_sentiment, bag_stars, _ = bag_probabilities(AutoConfig.from_pretrained(forward),
                                                    AutoTokenizer.from_pretrained(forward), train, reviews, bag)

    def published(weights: str) -> tuple:
        """The ensemble as the job publishes it: members' probabilities averaged, the bag's share mixed in."""
        sentiment = np.mean([outputs[weights][0] for outputs in members.values()], 0)
        stars = np.mean([outputs[weights][1] for outputs in members.values()], 0)
        return (mixed(sentiment, bag_sentiment, bag.ngram_logistic_weight),
                mixed(stars, bag_stars, bag.ngram_logistic_rating_weight), members["forward"][weights][2])

    rows, tests = [], []
    models = {direction: (outputs["trained"], outputs["averaged"]) for direction, outputs in members.items()}
    models["ensemble, with the bag"] = (published("trained"), published("averaged"))
    for name, (trained, averaged) in models.items():
        model_rows, model_tests = comparison(name, trained, averaged)
        rows += model_rows
        tests += model_tests
    final_fit = ", final fit" if job.get("final_fit") else ""
    notes = (f"The classifiers of `{args.run}` (preset `{args.preset}`{final_fit}; weights averaged from "
             f"{job['weight_averaging_start']} of each classifier's steps on) on {len(reviews):,} {args.split} "
             f"reviews, each weight set read as the job evaluated it; the bag fitted on {len(train):,} training "
             f"reviews at shares {bag.ngram_logistic_weight} of the sentiment and {bag.ngram_logistic_rating_weight} "
             "of the stars. 'As trained': the last checkpoint; 'averaged': the saved model.")
    print(write_results(args.name or f"weight_averaging_{run.name}", {
        f"Figures on the {args.split} split": (rows, list(rows[0])),
        "Averaged against as trained, review by review (McNemar; 'ours' averaged)": (tests, list(tests[0])),
    }, notes))


if __name__ == "__main__":
    main()
