"""Numeric series -> `datasets.Dataset`: UCR/UEA `.ts` archives, CSV series, normalisation, windows, padding.

Every example stores one series as `input_values` of shape `[time, channels]` (an `Array2D` whose first
dimension is free, so series of different lengths share one column), its `length`, and a `label` for
classification. aeon is optional: it is imported only when a `.ts` file is read.

Missing values are rejected, not masked: a NaN or infinite input would turn the recurrent state (and, in
training, every weight) into NaN. `series_to_dataset`, `load_csv_series`, `prepare_splits` and `predict` raise
a `ValueError` naming the series and step (the file line for a CSV); fill the gaps (e.g. interpolate) or cut
the series there first. NaN *labels* are allowed: a NaN target is context, never scored (see `sliding_windows`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from datasets import Array2D, ClassLabel, Dataset, DatasetDict, Features, Value

AEON_INSTALL_HINT = 'Reading .ts archives needs aeon: pip install "hf_rnn[timeseries]" (or pip install aeon).'
MISSING_VALUES_HINT = ("hf_rnn time-series models cannot read missing values (a NaN turns the recurrent state, and "
                       "in training every weight, into NaN): fill them (e.g. interpolate) or cut the series there.")


def _aeon():
    try:
        import aeon.datasets
    except ImportError as error:  # optional dependency: fail with the fix, not a bare ModuleNotFoundError
        raise ImportError(AEON_INSTALL_HINT) from error
    return aeon.datasets


def aeon_data_dir() -> Path:
    """The folder of example archives shipped inside aeon's wheel (GunPoint, JapaneseVowels, Airline, ...)."""
    return Path(_aeon().__file__).parent / "data"


def series_features(num_channels: int, class_names: list[str] | None = None, regression: bool = False) -> Features:
    """Features of a series dataset: `input_values` [time, channels] float32, `length`, optional `label`.

    Args:
        num_channels: number of channels (1 for a univariate series).
        class_names: names of the classes; gives a `ClassLabel` `label` column.
        regression: add a float `label` column instead (sequence regression).
    """
    features = {"input_values": Array2D(shape=(None, num_channels), dtype="float32"), "length": Value("int32")}
    if class_names is not None:
        features["label"] = ClassLabel(names=list(class_names))
    elif regression:
        features["label"] = Value("float32")
    return Features(features)


def series_to_dataset(series, labels=None, class_names: list[str] | None = None) -> Dataset:
    """Build a series dataset from a list of arrays `[time, channels]` (or `[time]`) and optional labels.

    Args:
        series: list of arrays, one per example; lengths may differ, channel counts may not.
        labels: class names (str, mapped through `class_names`), class ids, or floats (regression).
        class_names: the label vocabulary; inferred (sorted) from string labels when omitted.
    """
    arrays = [_as_time_by_channel(s) for s in series]
    require_finite(arrays)
    channels = {a.shape[1] for a in arrays}
    if len(channels) != 1:
        raise ValueError(f"All series must have the same number of channels; found {sorted(channels)}.")
    data = {"input_values": arrays, "length": [len(a) for a in arrays]}
    regression = labels is not None and class_names is None and np.asarray(labels).dtype.kind == "f"
    if labels is not None:
        if class_names is None and not regression:
            class_names = sorted({str(label) for label in labels})
        data["label"] = list(labels) if regression else [_class_id(label, class_names) for label in labels]
    return Dataset.from_dict(data, features=series_features(channels.pop(), class_names, regression))


def _as_time_by_channel(series) -> np.ndarray:
    array = np.asarray(series, dtype=np.float32)
    if array.ndim == 1:
        array = array[:, None]  # [T] -> [T, 1]
    if array.ndim != 2:
        raise ValueError(f"A series must be [time] or [time, channels]; got shape {array.shape}.")
    return array


def require_finite(arrays, where: str = "") -> None:
    """Raise a `ValueError` naming the first series, step and channel holding a NaN or infinite value.

    Args:
        arrays: series as `[time, channels]` arrays.
        where: prefix naming their source in the message, e.g. `"split 'train': "`.
    """
    for index, array in enumerate(arrays):
        bad = np.argwhere(~np.isfinite(array))
        if len(bad):
            step, channel = bad[0]
            raise ValueError(f"{where}series {index} has a non-finite value ({array[step, channel]}) at step "
                             f"{step}, channel {channel}. {MISSING_VALUES_HINT}")


def _class_id(label, class_names):
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
        return int(label)
    if str(label) not in class_names:
        raise ValueError(f"Label {label!r} is not one of the classes {class_names}.")
    return class_names.index(str(label))


def load_ts_file(path: str | Path, class_names: list[str] | None = None) -> Dataset:
    """Read one UCR/UEA `.ts` file with aeon's `load_from_ts_file` into a series dataset.

    aeon returns `[cases, channels, time]` (a list of such arrays for unequal lengths); each case becomes one
    row `[time, channels]`. Class names default to the file's `@classLabel` header.
    """
    X, y, meta = _aeon().load_from_ts_file(str(path), return_meta_data=True)
    class_names = class_names or [str(c) for c in meta.get("class_values") or sorted(set(y))]
    series = [np.asarray(case, dtype=np.float32).T for case in X]  # [C, T] -> [T, C]
    require_finite(series, f"{path}: ")  # aeon reads a '?' value as NaN
    return series_to_dataset(series, [str(label) for label in y], class_names)


def load_ucr_uea(name: str, extract_path: str | Path | None = None) -> DatasetDict:
    """Load a UCR/UEA classification archive as a `DatasetDict` with `train` and `test` splits.

    Args:
        name: archive name, e.g. `"GunPoint"`, `"ItalyPowerDemand"`, `"JapaneseVowels"` (variable length,
            12 channels), `"BasicMotions"`.
        extract_path: folder holding `<name>/<name>_TRAIN.ts`; defaults to the archives shipped with aeon.
            An archive missing there is fetched by `aeon.datasets.load_classification` (needs the internet).
    """
    folder = Path(extract_path) if extract_path is not None else aeon_data_dir()
    if not (folder / name / f"{name}_TRAIN.ts").exists():
        _aeon().load_classification(name, extract_path=str(folder))  # downloads <folder>/<name>/
    train = load_ts_file(folder / name / f"{name}_TRAIN.ts")
    class_names = train.features["label"].names  # the test split must use the same ids
    return DatasetDict(train=train, test=load_ts_file(folder / name / f"{name}_TEST.ts", class_names))


def load_csv_series(path: str | Path, value_columns: list[str] | None = None) -> Dataset:
    """Read one (possibly multichannel) series from a CSV file with a header: one row per time step.

    Args:
        path: CSV file, e.g. aeon's `Airline/Airline.csv` (`Date,Passengers`).
        value_columns: the channels to read; defaults to every column whose values all parse as numbers
            (so a date or label column is skipped).
    Returns:
        A one-row dataset; cut it with `split_series` and `sliding_windows`.
    """
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        numbered = [(row, reader.line_num) for row in reader]  # file line of each row, blank lines counted
    rows, line_numbers = [row for row, _ in numbered], [line for _, line in numbered]
    if not rows:
        raise ValueError(f"{path} has no data rows.")
    columns = value_columns or [c for c in rows[0] if _is_numeric_column([r[c] for r in rows])]
    if not columns:
        raise ValueError(f"{path} has no numeric column; pass value_columns=[...] naming the channels.")
    values = np.array([[_number_or_nan(r[c]) for c in columns] for r in rows], dtype=np.float32)
    _require_finite_cells(values, path, columns, line_numbers)
    return series_to_dataset([values])


def _is_numeric_column(cells: list) -> bool:
    # Empty cells do not disqualify a column: they are missing values, reported with their line below.
    filled = [cell for cell in cells if cell not in ("", None)]
    return bool(filled) and all(_is_number(cell) for cell in filled)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number_or_nan(cell) -> float:
    try:
        return float(cell)
    except (TypeError, ValueError):
        return np.nan


def _require_finite_cells(values: np.ndarray, path, columns: list[str], line_numbers) -> None:
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        row, channel = bad[0]
        raise ValueError(f"{path} line {line_numbers[row]}, column {columns[channel]!r}: not a finite number "
                         f"(empty, NaN, inf or text). {MISSING_VALUES_HINT}")


def split_series(dataset: Dataset, test_size: int, validation_size: int = 0) -> DatasetDict:
    """Split every series in time: its last `test_size` steps are the test tail, the `validation_size` before
    them the validation part, the rest the training part.

    Each split keeps the whole history before its new steps, so a forecaster can warm its state on it; its
    `start` column marks the first new step (the first one to score).
    """
    if min(dataset["length"]) <= test_size + validation_size:
        raise ValueError(f"A series of {min(dataset['length'])} steps cannot hold out {test_size} + "
                         f"{validation_size} steps; lower test_size / validation_size.")
    # split -> (steps dropped from the end, new steps at the end of what is kept; None = all of it)
    plan = {"train": (test_size + validation_size, None), "validation": (test_size, validation_size),
            "test": (0, test_size)}
    return DatasetDict({split: dataset.map(_cut, fn_kwargs={"drop": drop, "new": new})
                        for split, (drop, new) in plan.items() if split != "validation" or validation_size})


def _cut(row, drop, new):
    end = row["length"] - drop
    return {"input_values": np.asarray(row["input_values"])[:end], "length": end, "start": 0 if new is None else end - new}


@dataclass
class ChannelNormalizer:
    """Per-channel standardisation `(x - mean) / std`, fitted on the training split only.

    The statistics travel with the model as `config.channel_mean` / `config.channel_std` (see `to_config`).
    """

    mean: np.ndarray = field(default_factory=lambda: np.zeros(1, np.float32))
    std: np.ndarray = field(default_factory=lambda: np.ones(1, np.float32))

    @classmethod
    def fit(cls, dataset: Dataset, column: str = "input_values") -> "ChannelNormalizer":
        """Mean and std of every channel over all real (finite) steps of every series in `dataset`."""
        steps = np.concatenate([np.asarray(s, dtype=np.float64) for s in dataset[column]])  # [sum T, C]
        mean, std = np.nanmean(steps, axis=0), np.nanstd(steps, axis=0)
        std = np.where(std > 1e-8, std, 1.0)  # a constant channel is centred, not divided by zero
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def transform(self, values):
        return (np.asarray(values, dtype=np.float32) - self.mean) / self.std

    def inverse(self, values):
        return np.asarray(values, dtype=np.float32) * self.std + self.mean

    def apply(self, dataset, columns=("input_values",)):
        """Normalise `columns` of a `Dataset` or every split of a `DatasetDict` (labels of forecasts too)."""
        def normalise(row):
            return {c: self.transform(row[c]) for c in columns if c in row}
        return dataset.map(normalise)

    def to_config(self, config):
        """Store the statistics in a model config so they are saved and loaded with the weights."""
        config.channel_mean = [float(v) for v in self.mean]
        config.channel_std = [float(v) for v in self.std]
        return config

    @classmethod
    def from_config(cls, config) -> "ChannelNormalizer":
        """Statistics saved by `to_config`; the identity when the config has none (a model trained on raw values)."""
        mean, std = getattr(config, "channel_mean", None), getattr(config, "channel_std", None)
        if mean is None or std is None:
            channels = config.input_size or 1
            return cls(np.zeros(channels, np.float32), np.ones(channels, np.float32))
        return cls(np.asarray(mean, np.float32), np.asarray(std, np.float32))


def sliding_windows(dataset: Dataset, window: int, stride: int = 1, target: str = "next") -> Dataset:
    """Cut every series into windows of `window` steps; one row per window.

    Args:
        dataset: series dataset (`input_values` [time, channels]). A row with a `start` column (from
            `split_series`) is an evaluation split: only windows reaching past `start` are kept, and targets
            before `start` are NaN, so they serve as context and are never scored.
        window: steps per window (the model's input length).
        stride: steps between window starts.
        target: `"next"` for forecasting (`labels` = the window shifted one step ahead, so a window needs
            `window + 1` steps), `"same"` for denoising (`labels` = the clean window itself).
    """
    if target not in ("next", "same"):
        raise ValueError(f"target={target!r}; use 'next' (forecasting) or 'same' (denoising).")
    if window < 1 or stride < 1:
        raise ValueError(f"window={window} and stride={stride} must be >= 1 (forecasting needs --window).")
    shift = 1 if target == "next" else 0

    def cut(batch):
        inputs, labels = [], []
        starts = batch.get("start") or [0] * len(batch["input_values"])
        for series, scored_from in zip(batch["input_values"], starts):
            series = np.asarray(series, dtype=np.float32)
            targets = series.copy()
            targets[:scored_from] = np.nan  # context only: already seen in an earlier split
            for begin in range(0, len(series) - window - shift + 1, stride):
                if begin + shift + window > scored_from:
                    inputs.append(series[begin : begin + window])
                    labels.append(targets[begin + shift : begin + shift + window])
        return {"input_values": inputs, "labels": labels, "length": [window] * len(inputs)}

    windows = dataset.map(cut, batched=True, remove_columns=dataset.column_names, features=_pair_features(dataset))
    if len(windows) == 0:
        raise ValueError(f"No series is longer than window={window} (+{shift}); use a shorter window.")
    return windows


def _pair_features(dataset: Dataset) -> Features:
    channels = dataset.features["input_values"].shape[1]
    return Features({"input_values": Array2D(shape=(None, channels), dtype="float32"),
                     "labels": Array2D(shape=(None, channels), dtype="float32"), "length": Value("int32")})


def add_noise(dataset: Dataset, noise_std: float, seed: int = 0, copies: int = 1) -> Dataset:
    """Denoising pairs: `input_values` + Gaussian noise; `labels` = the clean values (or the existing `labels`).

    Args:
        dataset: series or windows (normalised, so `noise_std` is in units of the channel's std).
        noise_std: standard deviation of the added noise.
        seed: the noise is fixed by this seed (reproducible evaluation sets).
        copies: noisy copies per clean row (more training pairs from a short series).
    """
    rng = np.random.default_rng(seed)

    def noisy(batch):
        clean = [np.asarray(s, dtype=np.float32) for s in batch["input_values"] for _ in range(copies)]
        targets = batch.get("labels") or batch["input_values"]
        targets = [np.asarray(t, dtype=np.float32) for t in targets for _ in range(copies)]
        inputs = [c + rng.normal(0.0, noise_std, c.shape).astype(np.float32) for c in clean]
        return {"input_values": inputs, "labels": targets, "length": [len(c) for c in clean]}

    return dataset.map(noisy, batched=True, remove_columns=dataset.column_names, features=_pair_features(dataset))


@dataclass
class TimeSeriesCollator:
    """Pad a list of series examples into a batch with an attention mask.

    Returns `input_values` `[B, T, C]` float (0 at padding), `attention_mask` `[B, T]` (1 = real step), and
    `labels`: `[B]` class ids or floats from a `label`/`labels` scalar, or `[B, T, C]` per-step targets padded
    with NaN (the models' masked MSE skips NaN and padding).

    Args:
        padding_side: `"right"` or `"left"`; the models give the same result for either.
        pad_to_multiple_of: round the batch length up (fewer distinct shapes).
    """

    padding_side: str = "right"
    pad_to_multiple_of: int | None = None

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        if self.padding_side not in ("left", "right"):
            raise ValueError(f"padding_side={self.padding_side!r}; use 'left' or 'right'.")
        inputs = [_as_time_by_channel(f["input_values"]) for f in features]
        length = max(len(x) for x in inputs)
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        batch = {"input_values": torch.from_numpy(np.stack([self._pad(x, length, 0.0) for x in inputs])),
                 "attention_mask": torch.from_numpy(np.stack([self._mask(len(x), length) for x in inputs]))}
        labels = [f.get("labels", f.get("label")) for f in features]
        if labels[0] is not None:
            batch["labels"] = self._labels(labels, length)
        return batch

    def _labels(self, labels, length):
        if np.ndim(labels[0]) == 0:
            dtype = torch.float32 if isinstance(labels[0], (float, np.floating)) else torch.long
            return torch.tensor(labels, dtype=dtype)  # [B]
        padded = [self._pad(_as_time_by_channel(y), length, np.nan) for y in labels]
        return torch.from_numpy(np.stack(padded))  # [B, T, C]

    def _pad(self, x, length, value):
        pad = np.full((length - len(x), x.shape[1]), value, dtype=np.float32)
        return np.concatenate([x, pad] if self.padding_side == "right" else [pad, x])

    def _mask(self, real, length):
        mask = np.zeros(length, dtype=np.int64)
        mask[slice(0, real) if self.padding_side == "right" else slice(length - real, length)] = 1
        return mask
