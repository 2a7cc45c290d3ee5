"""Every ensemble a `--classifier_seeds` run's members can make, from the outputs each member saved on a split: what
a second classifier per direction adds against the one-per-direction ensembles of the same members.

    python bench/bench_ensemble_members.py --run runs/bench-imdb-full-bf16-seeds2 --name ensemble_members_full_bf16

Each subset's figures come from its members' saved outputs (`predictions_<split>.safetensors`, averaged as the
published ensemble averages them), so nothing is read again. A row per subset holding as many forward members as
backward ones, and the mean of the one-per-direction pairs: the ensemble a job with one seed would publish. On
validation the run must not be a final fit (its classifiers trained on the validation reviews).
"""

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch
from common import write_results
from safetensors.torch import load_file
from transformers import EvalPrediction

from hf_rnn.data.classification import TWO_HEAD_TARGET
from hf_rnn.training.metrics import compute_metrics_for
from hf_rnn.training.recipes import averaged_outputs, predictions_path

FIGURES = {"sentiment": "accuracy", "rating MAE": "rating_mae", "rating exact (most likely)": "rating_exact_most_likely"}


def run_members(run: Path) -> dict[str, list[str]]:
    """The run's classifier folders per direction, in seed order, as its ensemble stage recorded them."""
    done = run / "ensemble" / "stage_done.json"
    if not done.is_file():
        raise SystemExit(f"{run} has no finished ensemble stage: pass the folder of a job run with "
                         "--classifier_seeds 2 or more (and --backward for both directions).")
    members = json.loads(done.read_text())["members"]
    backward = lambda folder: json.loads((Path(folder) / "config.json").read_text()).get("reverse_text", False)
    names = [Path(folder).name for folder in members]
    return {"forward": [n for n, f in zip(names, members) if not backward(f)],
            "backward": [n for n, f in zip(names, members) if backward(f)]}


def saved_outputs(run: Path, names: list[str], split: str) -> dict[str, dict]:
    """Each member's saved outputs on the split; they must be of the same reviews (the same labels)."""
    missing = [name for name in names if not predictions_path(run / name, split).is_file()]
    if missing:
        raise SystemExit(f"{missing} of {run} saved no {split} outputs" + (
            ": a final-fit run trained on the validation reviews; pass --split test or a run made without "
            "--final_fit." if split == "validation" else "."))
    outputs = {name: load_file(predictions_path(run / name, split)) for name in names}
    first = outputs[names[0]]["labels"]
    if not all(torch.equal(saved["labels"], first) for saved in outputs.values()):
        raise SystemExit(f"The members of {run} saved {split} outputs of different reviews.")
    return outputs


def ensemble_figures(outputs: dict, subset: tuple[str, ...]) -> dict:
    """The figures of the ensemble of `subset` (two-head members: sentiment and rating)."""
    logits, rating = averaged_outputs([outputs[name] for name in subset])
    labels = outputs[subset[0]]["labels"]
    figures = compute_metrics_for(TWO_HEAD_TARGET)(EvalPrediction(predictions=(logits.numpy(), rating.numpy()),
                                                                  label_ids=labels.numpy()))
    return {column: figures[key] for column, key in FIGURES.items()}


def balanced_subsets(directions: dict[str, list[str]]):
    """Every subset with k forward and k backward members, k = 1 .. the run's seeds."""
    forward, backward = directions["forward"], directions["backward"]
    for k in range(1, min(len(forward), len(backward)) + 1):
        for pair in itertools.product(itertools.combinations(forward, k), itertools.combinations(backward, k)):
            yield k, pair[0] + pair[1]


def mean_row(members_per_direction: int, rows: list[dict]) -> dict:
    """The mean of each figure over the ensembles with this many members per direction."""
    return {"members per direction": members_per_direction, "ensembles": len(rows),
            **{column: float(np.mean([row[column] for row in rows])) for column in FIGURES}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a finished `hf-rnn imdb --classifier_seeds N` folder")
    parser.add_argument("--split", default="validation", choices=("validation", "test"))
    parser.add_argument("--name", default=None, help="results name; default ensemble_members_<run folder>")
    args = parser.parse_args()
    run = Path(args.run)
    directions = run_members(run)
    outputs = saved_outputs(run, [*directions["forward"], *directions["backward"]], args.split)
    rows = [{"members per direction": k, "ensemble": " + ".join(subset), **ensemble_figures(outputs, subset)}
            for k, subset in balanced_subsets(directions)]
    means = [mean_row(k, [row for row in rows if row["members per direction"] == k])
             for k in sorted({row["members per direction"] for row in rows})]
    notes = (f"Members of `{args.run}`: forward {directions['forward']}, backward {directions['backward']}; "
             f"{args.split} reviews, each member's saved outputs averaged as the published ensemble averages them.")
    sections = {f"Mean by members per direction ({args.split})": (means, list(means[0])),
                f"Every balanced ensemble ({args.split})": (rows, list(rows[0]))}
    print(write_results(args.name or f"ensemble_members_{run.name}", sections, notes))


if __name__ == "__main__":
    main()
