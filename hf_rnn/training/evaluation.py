"""A classifier's figures on validation and test, shown and saved as Trainer does, and its outputs on each split kept
beside them (`predictions_<split>.safetensors`) for an ensemble to average without running it again."""

import os
from pathlib import Path

import datasets
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .stage_data import by_length


def evaluate_splits(trainer, features, keep_predictions: bool = False, report_test: bool = True) -> dict:
    """The validation and test figures (those of the splits present), logged and saved as Trainer does (the test
    figures logged and printed only with `report_test`, see `show_figures`).

    `keep_predictions`: also save each split's outputs in the output folder (`predictions_<split>.safetensors`),
    from which an ensemble of finished classifiers computes its figures without running them again."""
    metrics = {}
    for split in ("validation", "test"):
        if split in features:
            rows = by_length(features[split])
            output = trainer.predict(rows, metric_key_prefix=split)
            if keep_predictions and trainer.is_world_process_zero():
                save_predictions(trainer.args.output_dir, split, rows, output)
            show_figures(trainer, split, output.metrics, report_test, history=True)
            metrics.update(output.metrics)
    return metrics


def show_figures(trainer, split: str, figures: dict, report_test: bool = True, history: bool = False):
    """Print a split's figures and save them (`<split>_results.json`) as Trainer does, `history`: into the log history
    too, as `evaluate` does. Test figures are saved but neither printed nor logged unless `report_test`: a run reads
    test once, for a final configuration chosen on validation."""
    if split != "test" or report_test:
        if history:
            trainer.log(figures)
        trainer.log_metrics(split, figures)
    trainer.save_metrics(split, figures)


def predictions_path(folder, split: str) -> Path:
    return Path(folder) / f"predictions_{split}.safetensors"


def save_predictions(folder, split: str, rows: datasets.Dataset, output):
    """A classifier's outputs on one split, with the fingerprint of the rows they belong to (written atomically)."""
    heads = output.predictions if isinstance(output.predictions, tuple) else (output.predictions,)
    tensors = {name: torch.as_tensor(values).contiguous() for name, values in
               zip(("logits", "auxiliary_logits"), heads)}
    tensors["labels"] = torch.as_tensor(output.label_ids).contiguous()
    path = predictions_path(folder, split)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, tmp, metadata={"fingerprint": rows._fingerprint})
    os.replace(tmp, path)


def saved_predictions(folder, split: str, rows: datasets.Dataset) -> dict | None:
    """The outputs `save_predictions` kept for exactly these rows (same fingerprint), or None."""
    path = predictions_path(folder, split)
    if not path.is_file():
        return None
    with safe_open(path, framework="pt") as saved:
        if (saved.metadata() or {}).get("fingerprint") != rows._fingerprint:
            return None
        return {name: saved.get_tensor(name) for name in saved.keys()}
