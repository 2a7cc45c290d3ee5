"""Time signals: the hf_rnn recurrent models on variable-length numeric series.

Data (`.ts` archives via aeon, CSV series) becomes `datasets` objects with an `input_values` column of shape
`[time, channels]`; `TimeSeriesCollator` pads them with an `attention_mask`; `ChannelNormalizer` statistics
travel in the model config; `predict` runs a saved model on raw series. aeon is imported only when needed.
"""

from .data import (
    ChannelNormalizer,
    TimeSeriesCollator,
    add_noise,
    aeon_data_dir,
    load_csv_series,
    load_ts_file,
    load_ucr_uea,
    require_finite,
    series_features,
    series_to_dataset,
    sliding_windows,
    split_series,
)
from .predict import load_timeseries_model, predict, predict_file
from .training import TASKS, accuracy_metrics, build_config, build_model, load_raw, prepare_splits

__all__ = [
    "ChannelNormalizer",
    "TASKS",
    "TimeSeriesCollator",
    "accuracy_metrics",
    "add_noise",
    "aeon_data_dir",
    "build_config",
    "build_model",
    "load_csv_series",
    "load_raw",
    "load_timeseries_model",
    "load_ts_file",
    "load_ucr_uea",
    "predict",
    "predict_file",
    "prepare_splits",
    "require_finite",
    "series_features",
    "series_to_dataset",
    "sliding_windows",
    "split_series",
]
