"""Time-series data: archive / CSV loading, train-only normalisation, windows, noise, collator, predict, training."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset, DatasetDict
from transformers import Trainer, TrainingArguments

from hf_rnn.timeseries import (
    ChannelNormalizer,
    TimeSeriesCollator,
    add_noise,
    aeon_data_dir,
    build_config,
    build_model,
    load_csv_series,
    load_raw,
    load_ucr_uea,
    predict,
    predict_file,
    prepare_splits,
    series_features,
    series_to_dataset,
    sliding_windows,
    split_series,
)

pytest.importorskip("aeon")


def test_variable_length_multichannel_archive_loads_as_time_by_channel():
    data = load_ucr_uea("JapaneseVowels")
    assert (len(data["train"]), len(data["test"])) == (270, 370)
    lengths = set(data["train"]["length"])
    assert min(lengths) == 7 and max(lengths) == 26  # the archive's documented range
    first = np.asarray(data["train"][0]["input_values"])
    assert first.shape == (data["train"][0]["length"], 12)
    np.testing.assert_allclose(first[:3, 0], [1.860936, 1.891651, 1.939205], rtol=1e-6)  # the .ts file's first values
    assert data["train"].features["label"].names == [str(i) for i in range(1, 10)]
    assert data["test"].features["label"] == data["train"].features["label"]


def test_univariate_archive_labels_follow_the_class_header():
    data = load_ucr_uea("GunPoint")
    assert np.asarray(data["test"][0]["input_values"]).shape == (150, 1)
    assert data["train"].features["label"].names == ["1", "2"]
    assert sorted(set(data["train"]["label"])) == [0, 1]


def test_missing_aeon_gives_an_actionable_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "aeon", None)
    monkeypatch.setitem(sys.modules, "aeon.datasets", None)
    with pytest.raises(ImportError, match=r'pip install "hf_rnn\[timeseries\]"'):
        load_ucr_uea("GunPoint")


def test_csv_series_reads_numeric_columns_and_splits_in_time():
    series = load_csv_series(aeon_data_dir() / "Airline" / "Airline.csv")
    values = np.asarray(series[0]["input_values"])
    assert values.shape == (144, 1) and values[0, 0] == 112 and values[-1, 0] == 432  # Date column skipped
    splits = split_series(series, test_size=24, validation_size=12)
    assert [splits[s][0]["length"] for s in ("train", "validation", "test")] == [108, 120, 144]
    assert [splits[s][0]["start"] for s in ("train", "validation", "test")] == [0, 108, 120]
    two = split_series(series_to_dataset([np.arange(10.0), np.arange(6.0)]), test_size=2)
    assert two["train"]["length"] == [8, 4] and two["test"]["start"] == [8, 4]  # each series its own tail


def test_normaliser_is_fitted_on_train_only_and_travels_in_the_config():
    train = series_to_dataset([np.array([1.0, 2.0, 3.0]), np.array([5.0])], labels=["a", "b"])
    test = series_to_dataset([np.array([1000.0, 2000.0])], labels=["a"])
    prepared, normalizer = prepare_splits(DatasetDict(train=train, test=test), "classify")
    np.testing.assert_allclose(normalizer.mean, [2.75])  # (1+2+3+5)/4: test values never enter
    np.testing.assert_allclose(normalizer.std, [np.std([1, 2, 3, 5])], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(prepared["test"][0]["input_values"])[:, 0],
                               (np.array([1000.0, 2000.0]) - 2.75) / np.std([1, 2, 3, 5]), rtol=1e-5)
    config = build_config("classify", 1, normalizer, class_names=["a", "b"])
    restored = ChannelNormalizer.from_config(config)
    np.testing.assert_allclose(restored.inverse(restored.transform([[7.0]])), [[7.0]], rtol=1e-6)


def test_forecast_windows_shift_labels_and_score_only_the_new_tail():
    series = series_to_dataset([np.arange(10.0)])
    windows = sliding_windows(series, window=4, stride=2)
    assert len(windows) == 3  # starts 0, 2, 4 (a window needs 5 steps)
    np.testing.assert_array_equal(np.asarray(windows[1]["labels"])[:, 0], [3, 4, 5, 6])
    test = split_series(series, test_size=3)["test"]
    tail = sliding_windows(test, window=4, stride=1)
    labels = np.asarray(tail["labels"])[..., 0]  # [windows, 4]
    assert np.isfinite(labels).sum() == 3 + 2 + 1  # each of the 3 tail steps scored once per window reaching it
    assert set(labels[np.isfinite(labels)].astype(int)) == {7, 8, 9}


def test_denoising_pairs_add_seeded_noise_to_inputs_only():
    windows = sliding_windows(series_to_dataset([np.sin(np.arange(40.0))]), window=10, stride=10, target="same")
    noisy = add_noise(windows, noise_std=0.5, seed=3, copies=2)
    assert len(noisy) == 2 * len(windows)
    clean, inputs = np.asarray(noisy["labels"]), np.asarray(noisy["input_values"])
    np.testing.assert_array_equal(clean[0], np.asarray(windows[0]["input_values"]))
    assert 0.3 < (inputs - clean).std() < 0.7
    np.testing.assert_array_equal(np.asarray(add_noise(windows, 0.5, seed=3, copies=2)["input_values"]), inputs)


@pytest.mark.parametrize("side", ["left", "right"])
def test_collator_pads_values_masks_and_per_step_labels(side):
    features = [{"input_values": np.ones((2, 3)), "labels": np.ones((2, 3)), "length": 2},
                {"input_values": np.full((4, 3), 2.0), "labels": np.full((4, 3), 2.0), "length": 4}]
    batch = TimeSeriesCollator(padding_side=side)(features)
    assert batch["input_values"].shape == (2, 4, 3) and batch["labels"].shape == (2, 4, 3)
    expected_mask = [0, 0, 1, 1] if side == "left" else [1, 1, 0, 0]
    assert batch["attention_mask"][0].tolist() == expected_mask
    assert torch.isnan(batch["labels"][0][batch["attention_mask"][0] == 0]).all()
    assert (batch["input_values"][0][batch["attention_mask"][0] == 0] == 0).all()
    class_batch = TimeSeriesCollator()([{"input_values": [[1.0]], "label": 1}, {"input_values": [[2.0]], "label": 0}])
    assert class_batch["labels"].tolist() == [1, 0] and class_batch["labels"].dtype == torch.long


def _tiny_trainer(task, splits, config, tmp_path, steps):
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=steps, per_device_train_batch_size=16,
                             learning_rate=1e-2, use_cpu=True, report_to=[], save_strategy="no",
                             logging_strategy="no", seed=0, disable_tqdm=True)
    return Trainer(model=build_model(config), args=args, train_dataset=splits["train"],
                   eval_dataset=splits["test"].select(range(min(64, len(splits["test"])))),
                   data_collator=TimeSeriesCollator())


@pytest.fixture
def one_thread():
    """Tiny recurrent models train fastest on one thread (two threads on two busy cores thrash); restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("task", ["classify", "forecast", "denoise"])
def test_training_with_trainer_lowers_the_held_out_loss(task, tmp_path, one_thread):
    raw = load_raw("ItalyPowerDemand") if task != "forecast" else load_raw("Airline", test_size=24)
    splits, normalizer = prepare_splits(raw, task, window=24 if task == "forecast" else 0, stride=2)
    names = raw["train"].features["label"].names if task == "classify" else None
    config = build_config(task, 1, normalizer, names, embedding_size=8, hidden_size=16, classifier_dropout=0.0)
    trainer = _tiny_trainer(task, splits, config, tmp_path, steps=30)
    before = trainer.evaluate()["eval_loss"]
    trainer.train()
    assert trainer.evaluate()["eval_loss"] < 0.8 * before


def test_predict_uses_saved_statistics_and_returns_original_units(tmp_path):
    raw = load_raw("Airline", test_size=24)
    _, normalizer = prepare_splits(raw, "forecast", window=24)
    model = build_model(build_config("forecast", 1, normalizer, embedding_size=4, hidden_size=4))
    model.save_pretrained(tmp_path)
    history = np.asarray(raw["test"][0]["input_values"])[:, 0]  # passengers, in thousands
    out = predict(tmp_path, [history[:100], history[:120]], horizon=3)
    assert out["forecast"].shape == (2, 3, 1)
    z = torch.from_numpy(normalizer.transform(history[:120, None]))[None]
    expected = normalizer.inverse(model.eval().forecast(z, 3)[0].numpy())
    np.testing.assert_allclose(out["forecast"][1], expected, rtol=1e-5)


def test_predict_classifier_returns_label_names(tmp_path):
    data = load_ucr_uea("GunPoint")
    config = build_config("classify", 1, ChannelNormalizer.fit(data["train"]), ["1", "2"], hidden_size=4,
                          embedding_size=4)
    build_model(config).save_pretrained(tmp_path)
    series = [np.asarray(s)[:, 0] for s in data["test"][:3]["input_values"]]
    out = predict(str(tmp_path), [series[0][:100], series[1], series[2][:50]])
    assert out["labels"] and set(out["labels"]) <= {"1", "2"} and out["probabilities"].shape == (3, 2)
    np.testing.assert_allclose(out["probabilities"].sum(1), 1.0, rtol=1e-6)
    from_file = predict_file(tmp_path, aeon_data_dir() / "GunPoint" / "GunPoint_TEST.ts")
    assert from_file["probabilities"].shape == (150, 2)
    np.testing.assert_allclose(from_file["probabilities"][1], out["probabilities"][1], rtol=1e-5)


def test_script_trains_saves_and_predicts(tmp_path, monkeypatch, one_thread):
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "scripts"))
    import train_timeseries

    monkeypatch.setattr(sys, "argv", [
        "train_timeseries.py", "--dataset", "ItalyPowerDemand", "--task", "classify", "--output_dir", str(tmp_path),
        "--max_steps", "3", "--config_overrides", "hidden_size=8,embedding_size=4", "--use_cpu", "--report_to", "none",
        "--save_strategy", "no", "--disable_tqdm", "true"])
    train_timeseries.main()
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["timeseries_task"] == "classify" and len(config["channel_mean"]) == 1
    assert "test_accuracy" in json.loads((tmp_path / "test_results.json").read_text())
    assert predict(tmp_path, [0.0] * 24)["label_ids"].shape == (1,)  # one univariate series as a list


def test_float_labels_make_a_sequence_regression_dataset_and_loss():
    data = series_to_dataset([np.arange(5.0), np.arange(3.0)], labels=[0.5, 2.0])
    assert data.features["label"].dtype == "float32"
    batch = TimeSeriesCollator()([data[0], data[1]])
    assert batch["labels"].dtype == torch.float32
    model = build_model(build_config("regress", 1, embedding_size=4, hidden_size=4)).eval()
    out = model(**batch)
    torch.testing.assert_close(out.loss, ((out.logits[:, 0] - batch["labels"]) ** 2).mean())


def test_whole_series_denoising_scores_only_each_splits_new_steps():
    raw = split_series(series_to_dataset([np.arange(20.0)]), test_size=5)
    prepared, _ = prepare_splits(raw, "denoise", window=0, noise_std=0.1)
    assert [len(x) for x in prepared["train"]["labels"]] == [15]
    assert [len(x) for x in prepared["test"]["labels"]] == [5]  # the 15 training steps are not re-scored
    with pytest.raises(ValueError, match="window"):
        prepare_splits(raw, "forecast", window=0)


def test_non_finite_inputs_are_rejected_naming_the_series_and_step(tmp_path):
    gap = np.sin(np.arange(40.0))
    gap[30] = np.nan
    with pytest.raises(ValueError, match=r"series 1 has a non-finite value \(nan\) at step 30, channel 0.*interpolate"):
        series_to_dataset([np.arange(5.0), gap])
    built_directly = Dataset.from_dict({"input_values": [gap[:, None]], "length": [40]}, features=series_features(1))
    with pytest.raises(ValueError, match=r"split 'train': series 0 .* step 30"):
        prepare_splits(DatasetDict(train=built_directly), "forecast", window=8)  # training would log loss 0
    csv_file = tmp_path / "gap.csv"
    csv_file.write_text("date,v\n2020,1\n\n2021,\n2022,3\n")  # a blank line, then an empty cell on line 4
    with pytest.raises(ValueError, match=r"gap.csv line 4, column 'v'"):
        load_csv_series(csv_file)
    model = build_model(build_config("forecast", 1, embedding_size=4, hidden_size=4))
    with pytest.raises(ValueError, match=r"series 0 has a non-finite value \(inf\) at step 2"):
        predict(model, [1.0, 2.0, np.inf, 3.0], horizon=2)


def test_cli_timeseries_prints_strict_json_and_one_line_errors(tmp_path, capsys):
    from hf_rnn.cli import main

    model = build_model(build_config("forecast", 1, embedding_size=4, hidden_size=4))
    model.save_pretrained(tmp_path / "model")
    (tmp_path / "ok.csv").write_text("v\n1\n2\n3\n")
    (tmp_path / "gap.csv").write_text("v\n1\nnan\n3\n")
    assert main(["timeseries", str(tmp_path / "model"), str(tmp_path / "ok.csv"), "--horizon", "2"]) == 0
    forecast = json.loads(capsys.readouterr().out, parse_constant=lambda name: pytest.fail(f"non-JSON {name}"))
    assert np.asarray(forecast["forecast"]).shape == (1, 2, 1)
    with pytest.raises(SystemExit, match=r"^hf-rnn: error: .*gap.csv line 3, column 'v'"):
        main(["timeseries", str(tmp_path / "model"), str(tmp_path / "gap.csv")])
    with pytest.raises(SystemExit, match=r"^hf-rnn: error: No such model folder: .*nothing \(pass a folder"):
        main(["timeseries", str(tmp_path / "nothing"), str(tmp_path / "ok.csv")])  # was: Hub repo id rules
    with pytest.raises(SystemExit, match=r"has no config.json: pass the model folder .* not its parent"):
        main(["timeseries", str(tmp_path), str(tmp_path / "ok.csv")])
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))  # weights of a model trained on series with gaps
    model.save_pretrained(tmp_path / "broken")
    with pytest.raises(SystemExit, match=r"non-finite 'forecast'.*Retrain"):
        main(["timeseries", str(tmp_path / "broken"), str(tmp_path / "ok.csv")])
