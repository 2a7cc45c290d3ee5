"""What the backward direction adds: a `--backward` run's forward classifier, backward classifier and their ensemble
(the folder the job publishes), paired on the same reviews of the validation split (for choosing) or of the test
split (for the final figures).

    python bench/bench_ensemble_gain.py --run runs/bench-imdb-full-bwd --preset full --dataset ../shared/data/imdb
    python bench/bench_ensemble_gain.py --run runs/bench-imdb-full-bwd-ff --split test --name ensemble_gain_full_test

On validation the run must not be a final fit (its classifiers trained on the validation reviews). Each model is
re-evaluated the way the job evaluated it, so its figures must equal the job's recorded ones. Sentiment: McNemar's
exact test of the ensemble against each direction; rating (two-head runs): exact hits of the most likely rating,
the same test, and the mean absolute error of the posterior median.
"""

import argparse
import json
from pathlib import Path

import numpy as np
from bench_paired_test import check_matches_job, evaluated_length, has_second_head, mcnemar, model_outputs
from common import write_results

from hf_rnn.data.classification import TWO_HEAD_TARGET
from hf_rnn.recipes.imdb import PRESETS
from hf_rnn.recipes.imdb.model_card import BACKWARD_STAGES, ENSEMBLE_STAGES, FORWARD_STAGES
from hf_rnn.training import DataArguments
from hf_rnn.training.metrics import ratings_from_outputs
from hf_rnn.training.recipes import load_imdb

# Each model's folder in the run: the sentiment stage of each direction (the job's stage names).
STAGES = {"forward": FORWARD_STAGES[0], "backward": BACKWARD_STAGES[0], "ensemble": ENSEMBLE_STAGES[0]}


def split_outputs(run: Path, split_name: str, reviews, preset: str) -> dict[str, dict]:
    """Per model: its sentiment predictions, and its rating predictions when it has the rating head."""
    outputs = {}
    for model, stage in STAGES.items():
        done = json.loads((run / stage / "stage_done.json").read_text())
        if f"{split_name}_accuracy" not in done:
            raise SystemExit(f"{run / stage} has no {split_name} figures" + (
                ": a final-fit run trained on the validation reviews; pass a run made without --final_fit."
                if split_name == "validation" else "."))
        two_heads = has_second_head(json.loads((run / stage / "config.json").read_text()))
        heads, labels = model_outputs(run / stage, reviews, TWO_HEAD_TARGET if two_heads else "binary",
                                      evaluated_length(run / stage, preset))
        sentiment_right = heads[0].argmax(-1) == (labels[:, 0] if two_heads else labels)
        check_matches_job(f"{model} {split_name} accuracy", sentiment_right.mean(), done[f"{split_name}_accuracy"])
        outputs[model] = {"sentiment_right": sentiment_right}
        if two_heads:
            medians, stars = ratings_from_outputs(heads[1], labels[:, 1], "rating10")
            outputs[model].update(rating_right=heads[1].argmax(-1) + 1 == stars, rating_error=np.abs(medians - stars))
            check_matches_job(f"{model} {split_name} rating MAE", outputs[model]["rating_error"].mean(),
                              done.get(f"{split_name}_rating_mae"))
    return outputs


def comparison_rows(outputs: dict, key: str) -> list[dict]:
    """The ensemble against each direction on one yes/no outcome per review (`sentiment_right`, `rating_right`)."""
    return [{"ensemble vs": model, **mcnemar(outputs["ensemble"][key], outputs[model][key])}
            for model in ("forward", "backward")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a finished `hf-rnn imdb --backward` folder, not a final fit")
    parser.add_argument("--preset", default="full", choices=sorted(PRESETS))
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--split", default="validation", choices=("validation", "test"))
    parser.add_argument("--seed", type=int, default=42, help="the job's seed, which drew its validation split")
    parser.add_argument("--name", default=None, help="results name; default ensemble_gain_<preset>")
    args = parser.parse_args()
    run = Path(args.run)
    reviews = load_imdb(DataArguments(dataset=args.dataset), seed=args.seed)[args.split]
    outputs = split_outputs(run, args.split, reviews, args.preset)
    sections = {f"Sentiment ({args.split} accuracy; McNemar exact test)": comparison_rows(outputs, "sentiment_right")}
    if all("rating_right" in figures for figures in outputs.values()):
        sections[f"Rating ({args.split} exact hits of the most likely rating; McNemar)"] = comparison_rows(
            outputs, "rating_right")
        sections[f"Rating ({args.split} MAE of the posterior median)"] = [
            {"model": model, "MAE": figures["rating_error"].mean()} for model, figures in outputs.items()]
    notes = (f"Models of `{args.run}` (preset `{args.preset}`): the forward classifier, the backward one and their "
             f"ensemble, on the {len(reviews):,} {args.split} reviews"
             + (f" (seed {args.seed})." if args.split == "validation" else "."))
    print(write_results(args.name or f"ensemble_gain_{args.preset}",
                        {title: (rows, list(rows[0])) for title, rows in sections.items()}, notes))


if __name__ == "__main__":
    main()
