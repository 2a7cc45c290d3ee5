"""Same seed, same result, at full scale: compare two runs of the main job that used the same settings and seed.

    python bench/bench_reproducibility.py --runs runs/bench-imdb-full-9k-ff runs/bench-imdb-full-ff-e2e \
        --name reproducibility_full_final_fit

For every stage both runs finished (lm, sentiment, rating): the training loss at each logged step (largest
difference), the saved weights (mean and largest difference over all parameters, and how many tensors are
bit-identical), and every test or validation figure in the runs' results.json side by side. A tiny-data test proves the seeding
(tests/test_distributed.py); this shows what it is worth on a 2-hour CPU run, where float rounding in the threaded
kernels can still make two runs drift apart.
"""

import argparse
import json
from pathlib import Path

import numpy as np
from common import write_results
from safetensors.numpy import load_file

STAGES = ("lm", "sentiment", "rating")
FIGURES = ("eval_perplexity", "test_accuracy", "test_f1", "test_mae", "test_exact", "test_exact_most_likely",
           "test_within_one", "test_loss", "train_loss", "train_reviews")


def logged_losses(stage_dir: Path) -> dict[int, float]:
    """Training loss by step, as Trainer logged it (the stage's final trainer_state.json)."""
    history = json.loads((stage_dir / "trainer_state.json").read_text())["log_history"]
    return {entry["step"]: entry["loss"] for entry in history if "loss" in entry}


def loss_drift(first: Path, second: Path) -> dict:
    a, b = logged_losses(first), logged_losses(second)
    steps = sorted(set(a) & set(b))
    if not steps:
        return {"logged steps compared": 0}
    gaps = np.array([abs(a[s] - b[s]) for s in steps])
    first_apart = next((s for s, gap in zip(steps, gaps) if gap > 1e-3), None)
    return {"logged steps compared": len(steps), "largest loss difference": float(gaps.max()),
            "loss difference at the last step": float(gaps[-1]),
            "first step more than 0.001 apart": first_apart if first_apart is not None else "none"}


def weight_drift(first: Path, second: Path) -> dict:
    a, b = load_file(str(first / "model.safetensors")), load_file(str(second / "model.safetensors"))
    if a.keys() != b.keys():
        raise ValueError(f"{first} and {second} hold different parameters: not runs of the same settings.")
    differences = {name: np.abs(a[name].astype(np.float64) - b[name]).ravel() for name in a}
    gaps = {name: float(d.max()) if d.size else 0.0 for name, d in differences.items()}
    worst = max(gaps, key=gaps.get)
    return {"tensors": len(gaps), "bit-identical tensors": sum(gap == 0 for gap in gaps.values()),
            "mean weight difference": float(np.concatenate(list(differences.values())).mean()),
            "largest weight difference": gaps[worst], "in tensor": worst,
            "that tensor's largest weight": float(np.abs(a[worst]).max())}


def figure_rows(results: list[dict], stage: str, labels: list[str]) -> list[dict]:
    rows = []
    for figure in FIGURES:
        values = [run.get(stage, {}).get(figure) for run in results]
        if all(value is None for value in values):
            continue
        row = {"stage": stage, "figure": figure, **dict(zip(labels, values))}
        if None not in values:
            row["difference"] = values[1] - values[0]
        rows.append(row)
    return rows


def check_same_settings(results: list[dict], labels: list[str]):
    for setting in ("preset", "final_fit"):
        if results[0].get(setting) != results[1].get(setting):
            raise SystemExit(f"{labels[0]} ran {setting}={results[0].get(setting)!r} but {labels[1]} "
                             f"{setting}={results[1].get(setting)!r}: compare two runs of the same command.")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs=2, type=Path, required=True, metavar="RUN_DIR",
                        help="two output folders of the main job, same settings and seed")
    parser.add_argument("--name", default="reproducibility")
    parser.add_argument("--note", default="", help="what else differed between the runs (code, machine), in words")
    args = parser.parse_args()
    results = [json.loads((run / "results.json").read_text()) for run in args.runs]
    labels = [str(run) for run in args.runs]
    check_same_settings(results, labels)
    stages = [s for s in STAGES if all((run / s / "stage_done.json").exists() for run in args.runs)]
    if not stages:
        raise SystemExit(f"No stage finished in both {labels[0]} and {labels[1]}: nothing to compare.")
    drift = []
    for stage in stages:
        first, second = (run / stage for run in args.runs)
        drift.append({"stage": stage, **loss_drift(first, second), **weight_drift(first, second)})
    figures = [row for s in stages for row in figure_rows(results, s, labels)]
    drift_columns = ["stage", "logged steps compared", "largest loss difference", "loss difference at the last step",
                     "first step more than 0.001 apart", "tensors", "bit-identical tensors",
                     "mean weight difference", "largest weight difference", "in tensor", "that tensor's largest weight"]
    notes = (f"Runs compared: `{labels[0]}` and `{labels[1]}` (same preset, flags and seed). A stage copied from "
             "another run counts as that run's. Loss: Trainer's logged training loss at the steps both logged."
             + (f" {args.note}" if args.note else ""))
    path = write_results(args.name, {"Training drift": (drift, drift_columns),
                                     "Figures": (figures, ["stage", "figure", *labels, "difference"])}, notes)
    print(path.read_text())


if __name__ == "__main__":
    main()
