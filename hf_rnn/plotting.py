"""Plots, with matplotlib as an optional dependency: imported only when a plot is drawn, with an ImportError that
says how to install it."""

import json
from pathlib import Path

INSTALL_HINT = 'pip install "hf_rnn[plot]"'


def new_figure(**kwargs):
    """A matplotlib `Figure` (no pyplot: no global state, no display backend needed).

    Raises:
        ImportError: matplotlib is not installed; the message says how to install it.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError(f"Plotting needs matplotlib, an optional dependency: {INSTALL_HINT}") from err
    return Figure(**kwargs)


def plot_training_curves(run_dir, path, skip=()) -> Path | None:
    """Draw the training loss of every stage of a run (one panel per Trainer folder with a `trainer_state.json`),
    with the validation loss where the stage evaluated, into one PNG.

    Args:
        run_dir: Folder whose sub-folders are Trainer output folders.
        path: PNG file to write.
        skip: Names of sub-folders to leave out (e.g. a published copy of a stage).

    Returns:
        `path`, or None when no stage has a `trainer_state.json`.

    Raises:
        ImportError: matplotlib is not installed.
    """
    states = sorted(Path(run_dir).glob("*/trainer_state.json"))
    stages = {state.parent.name: state for state in states if state.parent.name not in skip}
    if not stages:
        return None
    fig = new_figure(figsize=(4.5 * len(stages), 3.5))
    for ax, (stage, state_file) in zip(fig.subplots(1, len(stages), squeeze=False)[0], stages.items()):
        _draw_losses(ax, stage, json.loads(state_file.read_text())["log_history"])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return Path(path)


def _draw_losses(ax, stage: str, log: list[dict]) -> None:
    """One panel: training loss by step, and validation loss where the stage evaluated."""
    history = [entry for entry in log if "loss" in entry]
    ax.plot([entry["step"] for entry in history], [entry["loss"] for entry in history], label="training")
    evaluations = [entry for entry in log if "eval_loss" in entry]
    if evaluations:
        ax.plot([e["step"] for e in evaluations], [e["eval_loss"] for e in evaluations], "o-", label="validation")
        ax.legend()
    ax.set(title=stage, xlabel="step", ylabel="loss")
