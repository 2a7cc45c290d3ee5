"""Run a saved time-series model on raw series: normalise with the saved statistics, predict, de-normalise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoModelForTimeSeriesPrediction,
    AutoModelForTokenClassification,
)

from ..locations import model_config_dict
from .data import (
    ChannelNormalizer,
    TimeSeriesCollator,
    _as_time_by_channel,
    load_csv_series,
    load_ts_file,
    require_finite,
)

AUTO_CLASSES = {
    "classify": AutoModelForSequenceClassification,
    "regress": AutoModelForSequenceClassification,
    "forecast": AutoModelForTimeSeriesPrediction,
    "denoise": AutoModelForTokenClassification,
}


def load_timeseries_model(model_dir: str | Path, trust_remote_code: bool = False):
    """Load a saved time-series model through the Auto class of the task recorded in its config.

    Args:
        model_dir: folder written by `save_pretrained` / `Trainer.save_model` (or a Hub id).
        trust_remote_code: load with the model code saved beside the weights (no hf_rnn import needed).
    """
    task = model_config_dict(model_dir, "runs/gunpoint/model").get("timeseries_task")  # one-line errors first
    if task not in AUTO_CLASSES:
        raise ValueError(f"{model_dir} has no timeseries_task in its config ({task!r}); was it trained with "
                         f"hf_rnn.timeseries (scripts/train_timeseries.py)? Expected one of {sorted(AUTO_CLASSES)}.")
    model = AUTO_CLASSES[task].from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    return model.eval()


@torch.no_grad()
def predict(model_dir, series, horizon: int = 1, batch_size: int = 64) -> dict:
    """Predict with a saved time-series model on raw (un-normalised) series.

    Args:
        model_dir: a saved folder, or an already loaded model.
        series: one series (a list of floats, or a numpy array / tensor `[time]` or `[time, channels]`), a
            `[N, time, channels]` array, or a list of series whose lengths may differ.
        horizon: steps to forecast (forecasters only).
        batch_size: series per forward pass.

    Returns:
        A dict, by the task stored in the config:
        classify: `labels` (names, from `id2label`), `label_ids` `[N]`, `probabilities` `[N, classes]`;
        regress: `values` `[N]`;
        forecast: `forecast` `[N, horizon, channels]` in the original units;
        denoise: `denoised`, a list of `[time_i, channels]` arrays in the original units.
    """
    model = load_timeseries_model(model_dir) if isinstance(model_dir, (str, Path)) else model_dir.eval()
    normalizer = ChannelNormalizer.from_config(model.config)
    arrays = _as_list(series, model.config.input_size)
    outputs = [_predict_batch(model, normalizer, arrays[i : i + batch_size], horizon)
               for i in range(0, len(arrays), batch_size)]
    return _require_finite_outputs(_merge(outputs, model.config))


def _as_list(series, channels):
    if isinstance(series, (np.ndarray, torch.Tensor)):
        one = series.ndim <= 2  # [T] or [T, C]; [N, T, C] is a batch
    else:
        one = np.ndim(series[0]) == 0  # a list of floats is one univariate series
    arrays = [_as_time_by_channel(s) for s in ([series] if one else series)]
    require_finite(arrays)
    wrong = {a.shape[1] for a in arrays} - {channels}
    if wrong:
        raise ValueError(f"The model reads {channels} channel(s); got series with {sorted(wrong)} channels.")
    return arrays


def _predict_batch(model, normalizer, arrays, horizon):
    # Left padding puts every row's last real step at the end; the models are exact for either side.
    batch = TimeSeriesCollator(padding_side="left")([{"input_values": normalizer.transform(a)} for a in arrays])
    task = model.config.timeseries_task
    if task == "forecast":
        steps = model.forecast(batch["input_values"], horizon, attention_mask=batch["attention_mask"])
        return {"forecast": normalizer.inverse(steps.numpy())}  # [B, horizon, C]
    logits = model(input_values=batch["input_values"], attention_mask=batch["attention_mask"]).logits
    if task == "denoise":
        denoised = normalizer.inverse(logits.numpy())  # [B, T, C]
        return {"denoised": [d[len(d) - len(a) :] for d, a in zip(denoised, arrays)]}
    if task == "regress":
        return {"values": logits[:, 0].numpy()}
    return {"probabilities": logits.softmax(-1).numpy(), "label_ids": logits.argmax(-1).numpy()}


def _merge(outputs, config):
    merged = {}
    for key in outputs[0]:
        parts = [o[key] for o in outputs]
        merged[key] = sum(parts, []) if isinstance(parts[0], list) else np.concatenate(parts)
    if "label_ids" in merged:
        merged["labels"] = [config.id2label[int(i)] for i in merged["label_ids"]]
    return merged


def _require_finite_outputs(merged: dict) -> dict:
    # Finite inputs give NaN outputs only when the weights are NaN (e.g. trained on series with gaps).
    for key, value in merged.items():
        parts = value if isinstance(value, list) else [value]  # `denoised` is a list of arrays
        if key != "labels" and not all(np.isfinite(part).all() for part in parts):
            raise ValueError(f"The model produced non-finite {key!r} for finite inputs: its weights hold NaN or "
                             "inf (was it trained on series with missing values?). Retrain it on finite data.")
    return merged


def predict_file(model_dir, path: str | Path, horizon: int = 1, value_columns: list[str] | None = None) -> dict:
    """`predict` on the series of a file: every case of a UCR/UEA `.ts` file, or the one series of a `.csv`.

    Args:
        model_dir: a saved folder, or an already loaded model.
        path: a `.ts` file (labels in it are ignored) or a `.csv` file with one row per step.
        horizon: steps to forecast (forecasters only).
        value_columns: for a `.csv`, the channels to read (default: every numeric column).
    """
    path = Path(path)
    if path.suffix == ".ts":
        series = load_ts_file(path)["input_values"]
    elif path.suffix == ".csv":
        series = load_csv_series(path, value_columns)["input_values"]
    else:
        raise ValueError(f"{path} is neither a .ts nor a .csv file; convert it, or call predict() on arrays.")
    return predict(model_dir, [np.asarray(s, np.float32) for s in series], horizon=horizon)
