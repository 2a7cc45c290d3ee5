"""The recurrent models on continuous inputs: padding exactness, state chunking, forecasting, saving.

Every test uses tiny models on a few real GunPoint / JapaneseVowels series (aeon's bundled archives), so the
whole file runs in seconds on a CPU.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoModelForTimeSeriesPrediction,
    AutoModelForTokenClassification,
)

from hf_rnn import RNNConfig, RNNForecastOutput, RNNForForecasting, RNNForSequenceClassification
from hf_rnn import RNNForTokenClassification, RNNModel
from hf_rnn.timeseries import ChannelNormalizer, TimeSeriesCollator, build_config, build_model, load_ts_file
from hf_rnn.timeseries import aeon_data_dir

pytest.importorskip("aeon")
ATOL = 1e-5


@pytest.fixture(scope="module")
def vowels():
    """Eight real 12-channel series of different lengths (7-26 steps), normalised."""
    data = load_ts_file(aeon_data_dir() / "JapaneseVowels" / "JapaneseVowels_TRAIN.ts").select(range(0, 240, 30))
    normalizer = ChannelNormalizer.fit(data)
    return [torch.from_numpy(normalizer.transform(s)) for s in data["input_values"]]


def tiny_config(cell, channels=12, **kwargs):
    kwargs = {"cell_type": cell, "input_size": channels, "embedding_size": 8, "hidden_size": 8,
              "num_hidden_layers": 2, "classifier_hidden_size": 0, "classifier_dropout": 0.0, **kwargs}
    return RNNConfig(**kwargs)


def make(model_class, config, seed=0):
    torch.manual_seed(seed)
    return model_class(config).eval()


def padded(series, side):
    batch = TimeSeriesCollator(padding_side=side)([{"input_values": s.numpy()} for s in series])
    return batch["input_values"], batch["attention_mask"]


def real_part(row, mask_row):
    return row[mask_row.bool()]


HEADS = [
    (RNNForSequenceClassification, {"num_labels": 3, "classifier_pooling": "concat"}, False),
    (RNNForSequenceClassification, {"num_labels": 3, "classifier_pooling": "concat", "bidirectional": True}, False),
    (RNNForSequenceClassification, {"num_labels": 1, "problem_type": "regression", "classifier_pooling": "mean"},
     False),
    (RNNForTokenClassification, {"num_labels": 12, "bidirectional": True}, True),
    (RNNForForecasting, {}, True),
]


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("head_class, kwargs, per_step", HEADS)
def test_series_alone_equals_series_in_padded_batch(vowels, cell, side, head_class, kwargs, per_step):
    model = make(head_class, tiny_config(cell, **kwargs))
    values, mask = padded(vowels[:5], side)  # [5, T, 12], lengths differ
    batch_out = model(input_values=values, attention_mask=mask)
    batch_out = batch_out.predictions if head_class is RNNForForecasting else batch_out.logits
    for i, series in enumerate(vowels[:5]):
        alone = model(input_values=series[None])
        alone = (alone.predictions if head_class is RNNForForecasting else alone.logits)[0]
        in_batch = real_part(batch_out[i], mask[i]) if per_step else batch_out[i]
        torch.testing.assert_close(in_batch, alone, atol=ATOL, rtol=0)


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_whole_series_equals_two_chunks_with_carried_cache(vowels, cell):
    model = make(RNNModel, tiny_config(cell))
    series = vowels[1][None]  # [1, T, 12]
    whole = model(input_values=series, use_cache=True)
    cut = series.size(1) // 2
    first = model(input_values=series[:, :cut], use_cache=True)
    second = model(input_values=series[:, cut:], cache=first.cache, use_cache=True)
    torch.testing.assert_close(torch.cat([first.last_hidden_state, second.last_hidden_state], 1),
                               whole.last_hidden_state, atol=ATOL, rtol=0)
    for whole_layer, chunk_layer in zip(whole.cache, second.cache):
        for a, b in zip(whole_layer, chunk_layer):
            torch.testing.assert_close(b, a, atol=ATOL, rtol=0)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_left_padded_first_chunk_then_continuation_matches_each_series_alone(vowels, cell):
    # Streaming: a batch whose rows have different histories, continued together with the carried state.
    model = make(RNNForForecasting, tiny_config(cell))
    histories, tails = [vowels[0][:-4], vowels[3][:-4]], [vowels[0][-4:], vowels[3][-4:]]
    values, mask = padded(histories, "left")
    first = model(input_values=values, attention_mask=mask, use_cache=True)
    second = model(input_values=torch.stack(tails), cache=first.cache, use_cache=True)
    for i in range(2):
        alone = model(input_values=torch.cat([histories[i], tails[i]])[None]).predictions[0, -4:]
        torch.testing.assert_close(second.predictions[i], alone, atol=ATOL, rtol=0)


def test_forecast_feeds_predictions_back_and_equals_full_rerun(vowels):
    model = make(RNNForForecasting, tiny_config("lstm"))
    series = vowels[2][None]
    fast = model.forecast(series, horizon=5)  # [1, 5, 12]
    slow, context = [], series
    for _ in range(5):  # reference: rerun the whole, growing sequence each step (O(n^2))
        step = model(input_values=context, use_cache=False).predictions[:, -1:]
        slow.append(step)
        context = torch.cat([context, step], 1)
    torch.testing.assert_close(fast, torch.cat(slow, 1), atol=ATOL, rtol=0)


def test_forecast_costs_one_step_per_new_value(vowels):
    model = make(RNNForForecasting, tiny_config("gru"))
    seen = []
    model.model.input_projection.register_forward_hook(lambda mod, args, out: seen.append(args[0].shape[1]))
    model.forecast(vowels[2][None], horizon=6)
    assert seen == [len(vowels[2])] + [1] * 5  # the prefix once, then one step per forecast value


@pytest.mark.parametrize("side", ["left", "right"])
def test_forecast_of_padded_batch_equals_each_series_alone(vowels, side):
    model = make(RNNForForecasting, tiny_config("gru"))
    values, mask = padded(vowels[:3], side)
    batch = model.forecast(values, horizon=4, attention_mask=mask)
    for i in range(3):
        torch.testing.assert_close(batch[i], model.forecast(vowels[i][None], horizon=4)[0], atol=ATOL, rtol=0)


def test_forecaster_loss_ignores_padding_and_nan_targets(vowels):
    model = make(RNNForForecasting, tiny_config("gru"))
    series = vowels[0][None]
    labels = torch.roll(series, -1, 1)
    labels[:, -1] = float("nan")  # the step after the last one is unknown
    out: RNNForecastOutput = model(input_values=series, labels=labels)
    expected = ((out.predictions[:, :-1] - labels[:, :-1]) ** 2).mean()
    torch.testing.assert_close(out.loss, expected)
    values, mask = padded([series[0], vowels[1]], "left")
    padded_labels = torch.full_like(values, float("nan"))
    padded_labels[0, mask[0].bool()] = labels[0]
    padded_out = model(input_values=values, attention_mask=mask, labels=padded_labels)
    torch.testing.assert_close(padded_out.loss, out.loss, atol=ATOL, rtol=0)


@pytest.mark.parametrize("task, auto_class, field", [
    ("classify", AutoModelForSequenceClassification, "logits"),
    ("forecast", AutoModelForTimeSeriesPrediction, "predictions"),
    ("denoise", AutoModelForTokenClassification, "logits"),
])
def test_saved_model_loads_through_auto_class_with_normalisation_stats(vowels, tmp_path, task, auto_class, field):
    normalizer = ChannelNormalizer(np.arange(12, dtype=np.float32), np.full(12, 2.0, np.float32))
    config = build_config(task, 12, normalizer, class_names=list("abc"), embedding_size=8, hidden_size=8)
    model = build_model(config).eval()
    model.save_pretrained(tmp_path)
    loaded = auto_class.from_pretrained(tmp_path).eval()
    assert type(loaded) is type(model)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["channel_mean"] == list(range(12)) and saved["channel_std"] == [2.0] * 12
    assert saved["timeseries_task"] == task
    restored = ChannelNormalizer.from_config(loaded.config)
    np.testing.assert_array_equal(restored.mean, normalizer.mean)
    values, mask = padded(vowels[:2], "right")
    expected = getattr(model(input_values=values, attention_mask=mask), field)
    torch.testing.assert_close(getattr(loaded(input_values=values, attention_mask=mask), field), expected)


def test_saved_forecaster_loads_with_trust_remote_code_without_hf_rnn(tmp_path):
    normalizer = ChannelNormalizer(np.array([100.0], np.float32), np.array([10.0], np.float32))
    model = build_model(build_config("forecast", 1, normalizer, embedding_size=4, hidden_size=4)).eval()
    model.save_pretrained(tmp_path)
    series = torch.linspace(-1, 1, 12)[None, :, None]
    expected = model.forecast(series, horizon=3).flatten().tolist()
    code = textwrap.dedent(f"""
        import sys, json, torch
        sys.modules["hf_rnn"] = None  # the checkpoint must not need the package
        from transformers import AutoModelForTimeSeriesPrediction
        model = AutoModelForTimeSeriesPrediction.from_pretrained({str(tmp_path)!r}, trust_remote_code=True)
        out = model.forecast(torch.linspace(-1, 1, 12)[None, :, None], horizon=3).flatten().tolist()
        print(json.dumps({{"forecast": out, "mean": model.config.channel_mean, "module": type(model).__module__}}))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert not loaded["module"].startswith("hf_rnn")
    assert loaded["mean"] == [100.0]
    np.testing.assert_allclose(loaded["forecast"], expected, atol=1e-6)
