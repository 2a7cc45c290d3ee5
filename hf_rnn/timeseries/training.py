"""Build, prepare and evaluate the four time-series tasks on top of transformers' `Trainer`.

Tasks and heads:
    classify -> `RNNForSequenceClassification` (cross-entropy over classes)
    regress  -> `RNNForSequenceClassification` with `problem_type="regression"`
    forecast -> `RNNForForecasting` (next-value MSE; multi-step by feeding predictions back)
    denoise  -> `RNNForTokenClassification` with float per-step labels (masked MSE)
"""

from __future__ import annotations

import numpy as np
import torch
from datasets import DatasetDict

from ..models.rnn import (
    RNNConfig,
    RNNForecastOutput,
    RNNForForecasting,
    RNNForSequenceClassification,
    RNNForTokenClassification,
)
from .data import (
    ChannelNormalizer,
    _as_time_by_channel,
    add_noise,
    aeon_data_dir,
    load_csv_series,
    load_ucr_uea,
    require_finite,
    sliding_windows,
    split_series,
)

TASKS = ("classify", "regress", "forecast", "denoise")
HEADS = {
    "classify": RNNForSequenceClassification,
    "regress": RNNForSequenceClassification,
    "forecast": RNNForForecasting,
    "denoise": RNNForTokenClassification,
}


def load_raw(dataset: str, data_dir: str | None = None, test_size: int = 24, validation_size: int = 0,
             value_columns: list[str] | None = None) -> DatasetDict:
    """Raw splits for a dataset name or file.

    Args:
        dataset: a UCR/UEA archive name (`"GunPoint"`, read from `data_dir` or aeon's bundled archives), or a
            path to a `.csv` series (one row per step), or the name of a CSV series shipped with aeon
            (`"Airline"`, `"Lynx"`, `"PBS_dataset"`, ...).
        data_dir: folder of `<name>/<name>_TRAIN.ts` archives.
        test_size, validation_size: for a CSV series, the held-out tail lengths (see `split_series`).
        value_columns: for a CSV series, the channels to read.
    """
    if not dataset.endswith(".csv"):
        shipped = aeon_data_dir() / dataset / f"{dataset}.csv"
        if data_dir is None and shipped.exists():
            dataset = str(shipped)
        else:
            return load_ucr_uea(dataset, data_dir)
    return split_series(load_csv_series(dataset, value_columns), test_size, validation_size)


def build_config(task: str, num_channels: int, normalizer: ChannelNormalizer | None = None,
                 class_names: list[str] | None = None, **config_kwargs) -> RNNConfig:
    """An `RNNConfig` for continuous inputs, recording the task and the normalisation statistics.

    Args:
        task: one of `TASKS`.
        num_channels: channels per step (`input_size`).
        normalizer: fitted on the training split; its mean/std are stored as `channel_mean`/`channel_std`.
        class_names: for `classify`: gives `num_labels`, `id2label`, `label2id` (readable pipeline output).
        **config_kwargs: any `RNNConfig` field (`cell_type`, `hidden_size`, `bidirectional`, ...).
    """
    if task not in TASKS:
        raise ValueError(f"task={task!r} is not supported; use one of {TASKS}.")
    kwargs = {"cell_type": "gru", "embedding_size": 32, "hidden_size": 64, "num_hidden_layers": 1,
              "classifier_pooling": "concat", "classifier_hidden_size": 0, **config_kwargs}
    if task == "classify":
        if not class_names:
            raise ValueError("task='classify' needs class_names (the dataset's ClassLabel names).")
        kwargs.update(num_labels=len(class_names), problem_type="single_label_classification",
                      id2label=dict(enumerate(class_names)), label2id={n: i for i, n in enumerate(class_names)})
    elif task == "regress":
        kwargs.update(num_labels=1, problem_type="regression")
    elif task == "denoise":
        kwargs.update(num_labels=num_channels)
    elif task == "forecast":
        kwargs["bidirectional"] = False  # a forecaster may not read the future
    # Trainer's evaluation gathers every output field; the recurrent state is not a prediction.
    config = RNNConfig(input_size=num_channels, timeseries_task=task,
                       keys_to_ignore_at_inference=["cache", "hidden_states"], **kwargs)
    return (normalizer or ChannelNormalizer(np.zeros(num_channels, np.float32),
                                            np.ones(num_channels, np.float32))).to_config(config)


def build_model(config: RNNConfig, seed: int = 0):
    """The head for `config.timeseries_task`, freshly initialised under `seed`."""
    torch.manual_seed(seed)
    return HEADS[config.timeseries_task](config)


def prepare_splits(raw: DatasetDict, task: str, window: int = 0, stride: int = 1, noise_std: float = 0.3,
                   noise_copies: int = 1, seed: int = 0) -> tuple[DatasetDict, ChannelNormalizer]:
    """Fit the normaliser on `raw["train"]` only, normalise every split, and cut task-specific examples.

    `classify`/`regress` keep one example per series. `forecast` cuts windows with next-step labels;
    `denoise` cuts windows (or keeps whole series when `window=0`) and adds fixed Gaussian noise
    (`noise_std` in units of each channel's std; evaluation splits get a different seed than train).

    Returns:
        The prepared `DatasetDict` and the fitted `ChannelNormalizer` (store it with `build_config`).

    Raises:
        ValueError: an input value is NaN or infinite (the message names the split, series and step).
    """
    for split, dataset in raw.items():
        require_finite([_as_time_by_channel(s) for s in dataset["input_values"]], f"split {split!r}: ")
    normalizer = ChannelNormalizer.fit(raw["train"])
    normalised = normalizer.apply(raw)
    if task in ("classify", "regress"):
        return normalised, normalizer
    prepared = {}
    for offset, (split, dataset) in enumerate(normalised.items()):
        if task == "forecast":
            prepared[split] = sliding_windows(dataset, window, stride, target="next")
        else:
            clean = sliding_windows(dataset, window, stride, target="same") if window else _new_steps(dataset)
            prepared[split] = add_noise(clean, noise_std, seed + offset, noise_copies if split == "train" else 1)
    return DatasetDict(prepared), normalizer


def _new_steps(dataset):
    # Whole-series denoising scores only a split's own steps (those after `start`, see `split_series`).
    if "start" not in dataset.column_names:
        return dataset.select_columns(["input_values"])
    return dataset.map(lambda row: {"input_values": np.asarray(row["input_values"])[row["start"] :]},
                       remove_columns=[c for c in dataset.column_names if c != "input_values"])


def accuracy_metrics(eval_pred) -> dict[str, float]:
    """`compute_metrics` for classification: accuracy of the arg-max class."""
    logits = eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
    return {"accuracy": float((np.argmax(logits, axis=-1) == eval_pred.label_ids).mean())}


def forecast_errors(actual: np.ndarray, predicted: np.ndarray, scale: float) -> dict[str, float]:
    """MAE, RMSE and MASE (MAE over `scale`, the in-sample seasonal naive MAE) of a forecast."""
    error = np.asarray(predicted, np.float64) - np.asarray(actual, np.float64)
    mae = float(np.abs(error).mean())
    return {"mae": mae, "rmse": float(np.sqrt((error**2).mean())), "mase": mae / scale}


def seasonal_naive_scale(train_values: np.ndarray, season: int) -> float:
    """Mean absolute change over one season in the training part (the MASE denominator)."""
    values = np.asarray(train_values, np.float64)
    return float(np.abs(values[season:] - values[:-season]).mean())


def snr_db(clean: np.ndarray, estimate: np.ndarray) -> float:
    """Signal-to-noise ratio in dB of `estimate` against `clean`: 10 log10(var(clean) / mean squared error).

    The signal power is taken about the clean signal's mean, so a constant offset (a blood pressure's ~80 mmHg)
    does not inflate it; the gain (SNR after - SNR before) is the same either way.
    """
    clean, estimate = np.asarray(clean, np.float64), np.asarray(estimate, np.float64)
    return float(10 * np.log10(clean.var() / ((estimate - clean) ** 2).mean()))


@torch.no_grad()
def one_step_predictions(model: RNNForForecasting, series: torch.Tensor) -> torch.Tensor:
    """Teacher-forced next-step predictions over a whole series: `[T, C]` -> `[T, C]` (row t predicts t+1)."""
    model.eval()
    output: RNNForecastOutput = model(input_values=series[None], use_cache=False)  # [1, T, C]
    return output.predictions[0]
