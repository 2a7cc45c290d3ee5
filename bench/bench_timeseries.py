#!/usr/bin/env python
"""Measure hf_rnn's recurrent models on real time series (aeon's bundled archives), CPU only.

Sections (each writes bench/results/timeseries_<section>.json; the markdown table is rebuilt from all of them):
    classify  GunPoint, ItalyPowerDemand (against the published accuracies aeon ships: 30 resamples of
              InceptionTime, HC2, WEASEL-2.0, FreshPRINCE; column 0 is the default train/test split),
              JapaneseVowels (variable length, 12 channels; 1-NN DTW from aeon as a reference).
    forecast  Airline: one-step and 12-step forecast error on the last 24 months against seasonal naive (12).
    denoise   A real blood-pressure series (UCR anomaly archive InternalBleeding16) with Gaussian noise:
              SNR gain on the held-out tail, against a moving average tuned on the training part.

Usage:
    flock /tmp/hf_rnn_bench.lock python bench/bench_timeseries.py [--sections classify forecast denoise]
"""

import argparse
import csv
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from transformers import Trainer, TrainingArguments

from hf_rnn.timeseries import TimeSeriesCollator, accuracy_metrics, aeon_data_dir, build_config, build_model
from hf_rnn.timeseries import load_csv_series, load_raw, prepare_splits, series_to_dataset, split_series
from hf_rnn.timeseries.training import forecast_errors, one_step_predictions, seasonal_naive_scale, snr_db

RESULTS = Path(__file__).parent / "results"
PUBLISHED = ("InceptionTime", "HC2", "WEASEL-2.0", "FreshPRINCE")
CLASSIFY = {  # dataset -> (epochs, model kwargs); chosen before looking at test accuracy, fixed for all runs
    "GunPoint": (80, {"bidirectional": True}),
    "ItalyPowerDemand": (80, {"bidirectional": True}),
    "JapaneseVowels": (40, {"bidirectional": True}),
}


def train(task, splits, config, epochs, batch_size=16, learning_rate=3e-3, seed=0, metrics=None):
    """Train with transformers' Trainer (the path scripts/train_timeseries.py takes); returns (trainer, seconds)."""
    args = TrainingArguments(
        output_dir="/tmp/hf_rnn_bench_ts", num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=256, learning_rate=learning_rate, lr_scheduler_type="cosine", warmup_steps=10,
        weight_decay=0.0, use_cpu=True, report_to=[], save_strategy="no", logging_strategy="no",
        eval_strategy="no", seed=seed, disable_tqdm=True, dataloader_num_workers=0)
    trainer = Trainer(model=build_model(config, seed), args=args, train_dataset=splits["train"],
                      eval_dataset=splits.get("test"), data_collator=TimeSeriesCollator(), compute_metrics=metrics)
    start = time.perf_counter()
    trainer.train()
    return trainer, time.perf_counter() - start


def published_accuracy(dataset):
    """Mean (30 resamples) and default-split accuracy of the reference classifiers shipped in aeon's wheel."""
    folder = aeon_data_dir().parent.parent / "testing" / "example_results_files" / "classification" / "accuracy"
    table = {}
    for name in PUBLISHED:
        with open(folder / f"{name}_accuracy.csv") as handle:
            rows = {row[0]: [float(v) for v in row[1:]] for row in csv.reader(handle) if row and row[1:]}
        if dataset in rows:
            table[name] = {"mean_30_resamples": float(np.mean(rows[dataset])), "default_split": rows[dataset][0],
                           "resamples": len(rows[dataset])}
    return table


def dtw_1nn_accuracy(raw):
    """1-NN DTW (aeon) on the same split: a classic reference where no published figure ships."""
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

    def to_aeon(split):  # aeon wants [channels, time] per case
        return [np.asarray(s, np.float32).T for s in raw[split]["input_values"]], np.array(raw[split]["label"])
    (x_train, y_train), (x_test, y_test) = to_aeon("train"), to_aeon("test")
    threads, start = torch.get_num_threads(), time.perf_counter()
    classifier = KNeighborsTimeSeriesClassifier(distance="dtw", n_neighbors=1).fit(x_train, y_train)
    accuracy = float((classifier.predict(x_test) == y_test).mean())
    seconds = time.perf_counter() - start
    torch.set_num_threads(threads)  # aeon's parallel backend resets torch's thread pool to the core count
    return {"accuracy": accuracy, "seconds": seconds}


def bench_classify(seeds=(0, 1, 2)):
    """Each dataset's default train/test split, one run per initialisation seed (the published figures average
    30 train/test resamples instead)."""
    results = {}
    for dataset, (epochs, model_kwargs) in CLASSIFY.items():
        raw = load_raw(dataset)
        splits, normalizer = prepare_splits(raw, "classify")
        names = raw["train"].features["label"].names
        config = build_config("classify", raw["train"].features["input_values"].shape[1], normalizer, names,
                              **model_kwargs)
        accuracies, seconds = [], []
        for seed in seeds:
            trainer, elapsed = train("classify", splits, config, epochs, seed=seed, metrics=accuracy_metrics)
            accuracies.append(trainer.evaluate()["eval_accuracy"])
            seconds.append(elapsed)
        results[dataset] = {
            "test_accuracy": float(np.mean(accuracies)), "test_accuracy_std": float(np.std(accuracies)),
            "test_accuracy_per_seed": dict(zip(map(str, seeds), accuracies)),
            "train_seconds": float(np.mean(seconds)), "epochs": epochs,
            "train_size": len(raw["train"]), "test_size": len(raw["test"]),
            "lengths": [min(raw["train"]["length"]), max(raw["train"]["length"])],
            "channels": config.input_size, "parameters": trainer.model.num_parameters(),
            "config": {k: getattr(config, k) for k in ("cell_type", "embedding_size", "hidden_size",
                                                        "num_hidden_layers", "bidirectional", "classifier_pooling")},
            "published": published_accuracy(dataset),
        }
        if not results[dataset]["published"]:
            results[dataset]["dtw_1nn"] = dtw_1nn_accuracy(raw)
        print(dataset, json.dumps(results[dataset]), flush=True)
    return results


def seasonal_naive(history, horizon, season=12):
    """Repeat the last observed season: y_hat[t + h] = y[t + h - season * ceil((h + 1) / season)]."""
    return np.array([history[len(history) - season + (h % season)] for h in range(horizon)])


def bench_forecast(transforms=("none", "log", "logdiff")):
    """Airline with each input transform; every one is reported (the plot shows `logdiff` and `none`)."""
    results, curves = {}, {}
    for transform in transforms:
        results[transform], curves[transform] = forecast_airline(transform=transform)
    plot_forecast(curves)
    return results


def forecast_airline(test_size=24, horizon=12, window=36, epochs=100, transform="logdiff"):
    """Airline: train on the first 120 months, score the last 24 (one-step and 12-step from 13 origins).

    `transform` is what the model reads: `"none"` (passengers), `"log"` (the Box-Jenkins airline-model
    transform: the seasonal swing grows with the level), or `"logdiff"` (monthly log growth, which is
    stationary, so the test tail's record levels are not out of the training range). Forecasts are mapped back
    to passengers; every error is in passengers (thousands).
    """
    raw = load_raw("Airline", test_size=test_size)
    series = np.asarray(raw["test"][0]["input_values"], np.float64)[:, 0]  # [144] passengers (thousands)
    offset = 1 if transform == "logdiff" else 0  # modelled[k] describes series[k + offset]
    modelled = _encode(series, transform)
    start = len(series) - test_size
    raw = split_series(series_to_dataset([modelled]), test_size)
    splits, normalizer = prepare_splits(raw, "forecast", window=window, stride=1)
    config = build_config("forecast", 1, normalizer, hidden_size=64, embedding_size=32)
    trainer, seconds = train("forecast", splits, config, epochs, learning_rate=3e-3)
    model = trainer.model.eval()
    z = torch.from_numpy(normalizer.transform(modelled[:, None]))  # [T, 1]
    rows = normalizer.inverse(one_step_predictions(model, z).numpy())[:, 0]  # row k predicts modelled[k + 1]
    one_step = np.array([_decode(rows[t - offset - 1 : t - offset], series, t, transform)[0]
                         for t in range(start, len(series))])
    origins = range(start, len(series) - horizon + 1)
    model_multi = np.stack([_decode(normalizer.inverse(model.forecast(z[None, : o - offset], horizon)[0].numpy())
                                    [:, 0], series, o, transform) for o in origins])  # [origins, horizon]
    naive_multi = np.stack([seasonal_naive(series[:o], horizon) for o in origins])
    actual_multi = np.stack([series[o : o + horizon] for o in origins])
    scale = seasonal_naive_scale(series[:start], 12)
    result = {
        "train_months": start, "test_months": test_size, "transform": transform, "window": window,
        "epochs": epochs, "train_seconds": seconds,
        "one_step": {"model": forecast_errors(series[start:], one_step, scale),
                     "seasonal_naive": forecast_errors(series[start:], series[start - 12 : -12], scale)},
        f"{horizon}_step": {"origins": len(origins),
                            "model": forecast_errors(actual_multi, model_multi, scale),
                            "seasonal_naive": forecast_errors(actual_multi, naive_multi, scale)},
        "mase_scale": scale,
    }
    print("Airline", json.dumps(result), flush=True)
    return result, {"series": series, "start": start, "one_step": one_step, "multi": model_multi[0],
                    "naive": naive_multi[0]}


def _encode(series, transform):
    if transform not in ("none", "log", "logdiff"):
        raise ValueError(f"transform={transform!r}; use 'none', 'log' or 'logdiff'.")
    return {"none": series, "log": np.log(series), "logdiff": np.diff(np.log(series))}[transform]


def _decode(values, series, origin, transform):
    """Model outputs for steps origin, origin+1, ... -> passengers, given the true history series[:origin]."""
    if transform == "none":
        return values
    if transform == "log":
        return np.exp(values)
    return series[origin - 1] * np.exp(np.cumsum(values))  # growth rates compound from the last known month


def plot_forecast(curves):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    first = next(iter(curves.values()))
    series, start, horizon = first["series"], first["start"], len(first["multi"])
    months = np.arange(len(series))
    ax.plot(months, series, color="black", label="Airline passengers (thousands)")
    ax.plot(months[start : start + horizon], first["naive"], "--", color="grey", label="seasonal naive (12)")
    for transform in ("logdiff", "none"):
        if transform in curves:
            c = curves[transform]
            ax.plot(months[start:], c["one_step"], "o-", ms=3, lw=0.8, label=f"GRU one-step ({transform})")
            ax.plot(months[start : start + horizon], c["multi"], "s-", ms=3, label=f"GRU {horizon}-step ({transform})")
    ax.axvline(start - 0.5, color="grey", lw=0.8)
    ax.set_xlabel("month since Jan 1949")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Airline: last 24 months held out (12-step forecast from the first held-out month)")
    fig.tight_layout()
    fig.savefig(RESULTS / "timeseries_forecast.png", dpi=110)
    plt.close(fig)


def moving_average(values, width):
    """Centred moving average with edge padding (the classical smoother baseline)."""
    padded = np.pad(values, (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(padded, np.ones(width) / width, mode="valid")


def bench_denoise(noise_std=0.5, window=128, epochs=12, test_size=2500):
    """InternalBleeding16 (arterial blood pressure): train on windows of the first part, score the held-out tail."""
    path = aeon_data_dir() / "KDD-TSAD_135" / "135_UCR_Anomaly_InternalBleeding16_TEST.csv"
    raw = split_series(load_csv_series(path, value_columns=["value"]), test_size)
    splits, normalizer = prepare_splits(raw, "denoise", window=window, stride=16, noise_std=noise_std,
                                        noise_copies=4)
    config = build_config("denoise", 1, normalizer, hidden_size=64, embedding_size=32, num_hidden_layers=2,
                          bidirectional=True, classifier_dropout=0.0)
    trainer, seconds = train("denoise", {"train": splits["train"]}, config, epochs, batch_size=32)
    series = np.asarray(raw["test"][0]["input_values"], np.float64)[:, 0]
    clean_tail, train_part = series[-test_size:], series[:-test_size]
    rng = np.random.default_rng(1234)
    noisy_tail = clean_tail + rng.normal(0, noise_std * normalizer.std[0], test_size)
    z = torch.from_numpy(normalizer.transform(noisy_tail[:, None]))[None]  # [1, T, 1]: the held-out tail alone
    with torch.no_grad():
        denoised = normalizer.inverse(trainer.model.eval()(input_values=z).logits[0].numpy())[:, 0]
    width = _best_moving_average(train_part, noise_std * normalizer.std[0])
    smoothed = moving_average(noisy_tail, width)
    result = {
        "series": "InternalBleeding16 (UCR anomaly archive, arterial blood pressure)", "noise_std_in_channel_stds":
        noise_std, "train_steps": len(train_part), "test_steps": test_size, "window": window, "epochs": epochs,
        "train_seconds": seconds, "snr_before_db": snr_db(clean_tail, noisy_tail),
        "snr_after_db": snr_db(clean_tail, denoised), "moving_average": {"width": width,
                                                                         "snr_db": snr_db(clean_tail, smoothed)},
    }
    result["gain_db"] = result["snr_after_db"] - result["snr_before_db"]
    result["moving_average"]["gain_db"] = result["moving_average"]["snr_db"] - result["snr_before_db"]
    plot_denoise(clean_tail, noisy_tail, denoised, smoothed, width)
    print("denoise", json.dumps(result), flush=True)
    return result


def _best_moving_average(train_part, noise_scale, seed=99):
    rng = np.random.default_rng(seed)
    noisy = train_part + rng.normal(0, noise_scale, len(train_part))
    return max(range(1, 40), key=lambda w: snr_db(train_part, moving_average(noisy, w)))


def plot_denoise(clean, noisy, denoised, smoothed, width, span=400):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    steps = np.arange(span)
    ax.plot(steps, noisy[:span], color="lightgrey", label="noisy input")
    ax.plot(steps, clean[:span], color="black", lw=1.2, label="clean")
    ax.plot(steps, smoothed[:span], color="tab:orange", lw=1, label=f"moving average ({width})")
    ax.plot(steps, denoised[:span], color="tab:blue", lw=1, label="bidirectional GRU")
    ax.set_xlabel("step of the held-out tail")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("Denoising a real blood-pressure series (held out)")
    fig.tight_layout()
    fig.savefig(RESULTS / "timeseries_denoise.png", dpi=110)
    plt.close(fig)


def machine_info():
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {"commit": commit, "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
            "command": "flock /tmp/hf_rnn_bench.lock python " + " ".join(sys.argv)}


def write_markdown():
    """Rebuild bench/results/timeseries_results.md from every section's JSON."""
    sections = {p.stem.removeprefix("timeseries_"): json.loads(p.read_text()) for p in
                sorted(RESULTS.glob("timeseries_*.json"))}
    lines = ["# hf_rnn on time series", ""]
    if "classify" in sections:
        lines += _classify_table(sections["classify"])
    if "forecast" in sections:
        lines += _forecast_table(sections["forecast"])
    if "denoise" in sections:
        lines += _denoise_table(sections["denoise"])
    (RESULTS / "timeseries_results.md").write_text("\n".join(lines) + "\n")


def _run_line(section):
    info = section["machine"]
    return [f"`{info['command']}` at `{info['commit']}`; torch {info['torch']}, {info['torch_threads']} thread(s), "
            f"{info['cpu']}, python {info['python']}.", ""]


def _classify_table(section):
    lines = ["## Classification: test accuracy", "",
             "| dataset | hf_rnn GRU (ours): mean ± std over seeds | " +
             " | ".join(f"{n} mean of 30 (split 0)" for n in PUBLISHED) + " | train time per run |",
             "|---" * (3 + len(PUBLISHED)) + "|"]
    for dataset, r in section["results"].items():
        cells = [f"{r['published'][n]['mean_30_resamples']:.4f} ({r['published'][n]['default_split']:.4f})"
                 if n in r["published"] else "not shipped" for n in PUBLISHED]
        ours = f"{r['test_accuracy']:.4f}"
        if "test_accuracy_per_seed" in r:
            ours += f" ± {r['test_accuracy_std']:.4f} ({len(r['test_accuracy_per_seed'])} seeds)"
        lines.append(f"| {dataset} | {ours} | " + " | ".join(cells) +
                     f" | {r['train_seconds']:.0f} s |")
    for dataset, r in section["results"].items():
        if "dtw_1nn" in r:
            lines += ["", f"{dataset}: no published figure ships with aeon; 1-NN DTW (aeon) on the same split: "
                          f"{r['dtw_1nn']['accuracy']:.4f}."]
    return lines + ["", "Ours: the archive's default train/test split, last epoch (no model selection on test), "
                        "seeds vary the initialisation and batch order. Published: mean over 30 "
                        "train/test resamples, in brackets resample 0 = the default split."] + [""] + \
        _run_line(section)


def _forecast_table(section):
    runs = section["results"]
    first = next(iter(runs.values()))
    lines = [f"## Forecasting: Airline, last {first['test_months']} months held out", "",
             "| horizon | model (input transform) | MAE | RMSE | MASE |", "|---|---|---|---|---|"]
    for horizon in ("one_step", "12_step"):
        naive = first[horizon]["seasonal_naive"]
        lines.append(f"| {horizon.replace('_', '-')} | seasonal naive (12) | {naive['mae']:.2f} | "
                     f"{naive['rmse']:.2f} | {naive['mase']:.3f} |")
        for transform, r in runs.items():
            e = r[horizon]["model"]
            lines.append(f"| {horizon.replace('_', '-')} | hf_rnn GRU ({transform}) | {e['mae']:.2f} | "
                         f"{e['rmse']:.2f} | {e['mase']:.3f} |")
    return lines + ["", f"Errors in thousands of passengers. 12-step: {first['12_step']['origins']} forecast origins "
                        f"over the tail, predictions fed back with the state carried. MASE scale = in-sample "
                        f"seasonal naive MAE ({first['mase_scale']:.2f}). Each model: {first['epochs']} epochs on "
                        f"windows of {first['window']} months, ~{first['train_seconds']:.0f} s.",
                    "", "![forecast](timeseries_forecast.png)", ""] + _run_line(section)


def _denoise_table(section):
    r = section["results"]
    return ["## Denoising: " + r["series"], "",
            "| method | SNR (dB) | gain (dB) |", "|---|---|---|",
            f"| noisy input (noise std {r['noise_std_in_channel_stds']} x channel std) | {r['snr_before_db']:.2f} | 0 |",
            f"| moving average, width {r['moving_average']['width']} (tuned on train) | "
            f"{r['moving_average']['snr_db']:.2f} | {r['moving_average']['gain_db']:.2f} |",
            f"| hf_rnn bidirectional GRU | {r['snr_after_db']:.2f} | {r['gain_db']:.2f} |", "",
            f"Held-out tail of {r['test_steps']} steps (trained on windows of the first {r['train_steps']}). "
            "![denoise](timeseries_denoise.png)", ""] + _run_line(section)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", nargs="+", default=["classify", "forecast", "denoise"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    RESULTS.mkdir(parents=True, exist_ok=True)
    runners = {"classify": bench_classify, "forecast": bench_forecast, "denoise": bench_denoise}
    machine = machine_info()  # before any run: the commit that produced the numbers, the thread count used
    for name in args.sections:
        result = runners[name]()
        payload = {"results": result, "machine": machine}
        (RESULTS / f"timeseries_{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
        write_markdown()


if __name__ == "__main__":
    main()
