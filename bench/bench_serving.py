"""Serving speed of the published model: the folder the main job writes (`<output_dir>/model`, an
`RNNEnsembleForSequenceClassification`: forward [+ backward] classifier and its bag-of-words member), served as a user
serves it, on whole IMDB test reviews, beside a DistilBERT-sized transformer.

    python bench/bench_serving.py --model runs/imdb-quick/model --dataset ../shared/data/imdb
    python bench/bench_serving.py --model runs/imdb-quick/model --model runs/imdb-full/model --dataset ...
    python bench/bench_serving.py --size smoke --model FOLDER --dataset ...   # seconds, into runs/bench-smoke

Systems per folder: `pipeline("text-classification", model=folder)` (hf_rnn.inference.load_classifier, what
`hf-rnn predict` serves) in float32; the same pipeline after int8 dynamic quantisation of its LSTM/GRU and Linear
layers; the folder's model exported by `hf_rnn.export.export_classifier_onnx` in ONNX Runtime, fed by the folder's
tokenizer. Beside them once: a DistilBERT-base-sized classifier (random weights, `exp_speed.transformer_classifier`)
through the same pipeline with the first folder's tokenizer, on the same reviews cut to its 512 positions.

Each system runs in a fresh Python process, so its peak memory is its own: the process's resident-set high-water
mark (Linux's VmHWM), in all and less the mark after the system's imports. Each process is started on a quiet machine
(`suite.BenchContext.timed`: 1-minute load average below `--max_load`; timed again if a neighbour started meanwhile).
"""

import argparse
import dataclasses
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench modules import each other as top-level modules
from common import RESULTS_DIR, RESULTS_ENV, save_plot, write_results  # noqa: E402

NAME = "serving_speed"
SYSTEMS = ("float32", "int8", "onnx")  # per model folder
REFERENCE = "reference"  # once, beside them
SYSTEM_NAMES = {"float32": "pipeline, float32", "int8": "pipeline, int8 dynamic quantisation",
                "onnx": "ONNX Runtime (tokenizer + exported graph)",
                REFERENCE: "DistilBERT-base-sized transformer, random weights (pipeline)"}
# What each system's process imports before loading anything, so that the memory its model and inference take can be
# told from the libraries'.
SYSTEM_MODULES = {"float32": ("hf_rnn.inference",), "int8": ("hf_rnn.inference", "torch.ao.quantization"),
                  "onnx": ("onnxruntime", "transformers.models.auto.tokenization_auto"),
                  REFERENCE: ("transformers.pipelines", "transformers.models.distilbert.modeling_distilbert",
                              "exp_speed")}


@dataclasses.dataclass(frozen=True)
class Settings:
    reviews: int  # throughput sample (seeded), the same for every system
    latency_reviews: int  # single-review calls, the first of the sample
    batch: int
    reference_max_length: int  # DistilBERT's position table: it reads no more


SIZES = {"smoke": Settings(reviews=12, latency_reviews=4, batch=32, reference_max_length=512),
         "full": Settings(reviews=1000, latency_reviews=200, batch=32, reference_max_length=512)}


# ---- in the measuring process: one system, fresh ----

@dataclasses.dataclass(frozen=True)
class Served:
    """One system as a server runs it: label ids for a list of texts at a batch size, and for one request."""

    labels: Callable[[list[str], int], np.ndarray]
    label_one: Callable[[str], int]
    parameters: int | None = None  # the reference's size, for its row


def pipeline_served(classify, parameters: int | None = None, **tokenizer_kwargs) -> Served:
    """A text-classification pipeline called as a user calls it: a list with `batch_size`, or one text."""
    label2id = classify.model.config.label2id

    def label_id(out) -> int:
        return label2id[(out[0] if isinstance(out, list) else out)["label"]]

    def labels(texts, batch):
        return np.array([label_id(out) for out in classify(texts, batch_size=batch, **tokenizer_kwargs)])

    return Served(labels, lambda text: label_id(classify(text, **tokenizer_kwargs)), parameters)


def hf_rnn_pipeline(folder: str, int8: bool) -> Served:
    """The folder as `pipeline("text-classification", model=folder)` serves it: whole reviews (no truncation)."""
    from hf_rnn.inference import load_classifier

    classify = load_classifier(folder, device="cpu")
    if int8:
        quantise_in_place(classify.model)
    return pipeline_served(classify, truncation=False)


def quantise_in_place(model):
    """int8 weights for the recurrent and linear layers (as exp_speed.quantized), in place: a server keeps one copy,
    and a float copy beside it would count in the peak memory."""
    import warnings

    import torch
    from torch import nn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's notice that eager quantisation moves to torchao
        torch.ao.quantization.quantize_dynamic(model, {nn.LSTM, nn.GRU, nn.Linear}, dtype=torch.qint8, inplace=True)


def onnx_served(folder: str, onnx_path: str, threads: int) -> Served:
    """The exported graph in ONNX Runtime; the folder's tokenizer pads each batch (on its own side), no truncation."""
    import onnxruntime
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1  # the same cores as torch
    options.log_severity_level = 3  # the graph optimiser's notices about the bag's subgraphs are not errors
    session = onnxruntime.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])

    def labels(texts, batch):
        pieces = []
        for start in range(0, len(texts), batch):
            encoded = tokenizer(texts[start : start + batch], padding=True, truncation=False, return_tensors="np")
            feed = {name: encoded[name].astype(np.int64) for name in ("input_ids", "attention_mask")}
            pieces.append(session.run(["logits"], feed)[0].argmax(-1))
        return np.concatenate(pieces)

    return Served(labels, lambda text: int(labels([text], 1)[0]))


def reference_served(folder: str, size: str, max_length: int) -> Served:
    """DistilBERT-base's shapes with random weights (exp_speed builds it), reading the folder's tokenizer's ids."""
    from transformers import AutoTokenizer, pipeline

    from exp_speed import SIZES as SPEED_SIZES, transformer_classifier

    tokenizer = AutoTokenizer.from_pretrained(folder)
    labels = {int(index): name for index, name in
              json.loads((Path(folder) / "config.json").read_text())["id2label"].items()}
    model = transformer_classifier(tokenizer, labels, SPEED_SIZES[size])
    classify = pipeline("text-classification", model=model, tokenizer=tokenizer, device="cpu")
    parameters = sum(parameter.numel() for parameter in model.parameters())
    return pipeline_served(classify, parameters, truncation=True, max_length=max_length)


def import_modules(system: str) -> None:
    import importlib

    for module in SYSTEM_MODULES[system]:
        importlib.import_module(module)


def build_served(spec: dict) -> Served:
    system = spec["system"]
    if system == REFERENCE:
        return reference_served(spec["folder"], spec["size"], spec["reference_max_length"])
    if system == "onnx":
        return onnx_served(spec["folder"], spec["onnx_path"], spec["threads"])
    return hf_rnn_pipeline(spec["folder"], int8=system == "int8")


def peak_rss_mib() -> float:
    """This process's resident-set high-water mark, MiB: Linux's VmHWM, which starts afresh at exec. Not getrusage's
    ru_maxrss: Linux carries the parent's mark across fork and exec into it, so every child would report at least
    the driving process's size. Elsewhere ru_maxrss (bytes on macOS)."""
    status = Path("/proc/self/status")
    if status.is_file():
        line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 2**10  # kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def measure_served(served: Served, texts: list[str], latency_texts: list[str], batch: int) -> dict:
    """Throughput over the sample at `batch` and at 1, then one call per review for the latency; a warm-up first
    (the first call builds kernels and caches)."""
    served.labels(texts[:batch], batch)
    served.label_one(texts[0])
    start = time.perf_counter()
    labels = served.labels(texts, batch)
    batched_s = time.perf_counter() - start
    start = time.perf_counter()
    served.labels(texts, 1)
    single_s = time.perf_counter() - start
    latencies = []
    for text in latency_texts:
        start = time.perf_counter()
        served.label_one(text)
        latencies.append(time.perf_counter() - start)
    return {"labels": labels.tolist(), "reviews/s batch": len(texts) / batched_s, "reviews/s 1": len(texts) / single_s,
            "p50 ms": 1e3 * float(np.percentile(latencies, 50)), "p95 ms": 1e3 * float(np.percentile(latencies, 95))}


def measure_one_system(spec_path: str) -> None:
    """The measuring process: build one system, time it, write its figures and labels to `spec["out"]`."""
    import torch

    spec = json.loads(Path(spec_path).read_text())
    torch.set_num_threads(spec["threads"])
    texts = json.loads(Path(spec["texts"]).read_text())
    import_modules(spec["system"])
    imports_mib = peak_rss_mib()
    served = build_served(spec)
    loaded_mib = peak_rss_mib()
    figures = measure_served(served, texts, texts[: spec["latency_reviews"]], spec["batch"])
    Path(spec["out"]).write_text(json.dumps({**figures, "imports MiB": imports_mib, "loaded MiB": loaded_mib,
                                             "peak MiB": peak_rss_mib(), "parameters": served.parameters}))


# ---- in the driving process ----

def child_environment(threads: int) -> dict:
    """The tokenizers' Rust thread pool sizes itself to every core: held to `threads`, like torch and ONNX Runtime."""
    return {**os.environ, "RAYON_NUM_THREADS": str(threads)}


def run_system(spec: dict, scratch: Path) -> dict:
    """Measure one system in a fresh process; its figures."""
    tag = f"{spec['system']}_{spec.get('index', 0)}"
    spec = {**spec, "out": str(scratch / f"{tag}.json")}
    spec_path = scratch / f"{tag}.spec.json"
    spec_path.write_text(json.dumps(spec))
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--measure", str(spec_path)],
                          capture_output=True, text=True, env=child_environment(spec["threads"]))
    if done.returncode != 0:
        raise RuntimeError(f"measuring {tag} failed:\n{done.stderr[-3000:]}")
    return json.loads(Path(spec["out"]).read_text())


def export_onnx(folder: str, path: Path) -> tuple[str | None, str, str | None]:
    """(the exported graph's path or None, the folder's shapes, why the export failed or None)."""
    from transformers import AutoModelForSequenceClassification

    import hf_rnn  # noqa: F401  (registers the Auto classes)
    from exp_speed import model_shapes
    from hf_rnn.export import export_classifier_onnx

    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    shapes = model_shapes(model)
    try:
        return str(export_classifier_onnx(model, path)), shapes, None
    except Exception as error:  # a model the exporter cannot trace gets a row saying so, not a faked figure
        return None, shapes, f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:200]}"


def measure_all(ctx, folders: list[str], s: Settings, texts_path: Path) -> list[dict]:
    """Every system's figures (one dict each, with the load around it), the reference last."""
    base = dict(texts=str(texts_path), batch=s.batch, latency_reviews=s.latency_reviews, threads=ctx.threads,
                size=ctx.size, reference_max_length=s.reference_max_length)
    measured = []
    for index, folder in enumerate(folders):
        onnx_path, shapes, export_error = export_onnx(folder, ctx.scratch / f"model_{index}" / "classifier.onnx")
        for system in SYSTEMS:
            entry = dict(model=folder, system=system, shapes=shapes)
            if system == "onnx" and export_error:
                measured.append({**entry, "unsupported": export_error})
                continue
            spec = dict(base, system=system, folder=folder, onnx_path=onnx_path, index=index)
            measured.append({**entry, **timed_system(ctx, spec)})
    spec = dict(base, system=REFERENCE, folder=folders[0])
    measured.append({"model": "-", "system": REFERENCE, "shapes": "", **timed_system(ctx, spec)})
    return measured


def timed_system(ctx, spec: dict) -> dict:
    print(f"measuring {spec['system']} ({spec['folder']})", flush=True)
    figures, before, after = ctx.timed(lambda: run_system(spec, ctx.scratch))
    print(f"  {figures['reviews/s batch']:.1f} reviews/s at batch {spec['batch']}, "
          f"{figures['reviews/s 1']:.1f} at batch 1", flush=True)
    return {**figures, "load before": before, "load after": after}


def table_rows(measured: list[dict], true_labels: np.ndarray, batch: int) -> list[dict]:
    reference = next(entry for entry in measured if entry["system"] == REFERENCE)
    float32 = {entry["model"]: np.array(entry["labels"]) for entry in measured if entry["system"] == "float32"}
    return [row_for(entry, reference, float32.get(entry["model"]), true_labels, batch) for entry in measured]


def row_for(entry: dict, reference: dict, float32_labels, true_labels: np.ndarray, batch: int) -> dict:
    row = {"model": entry["model"], "system": SYSTEM_NAMES[entry["system"]]}
    if "unsupported" in entry:
        return {**row, "detail": f"not supported for this model: {entry['unsupported']}"}
    labels = np.array(entry["labels"])
    is_reference = entry["system"] == REFERENCE
    return {**row, f"reviews/s (batch {batch})": entry["reviews/s batch"], "reviews/s (batch 1)": entry["reviews/s 1"],
            "p50 ms (1 review)": entry["p50 ms"], "p95 ms (1 review)": entry["p95 ms"],
            "peak RSS MiB": entry["peak MiB"], "model + inference MiB": entry["peak MiB"] - entry["imports MiB"],
            "loaded model MiB": entry["loaded MiB"] - entry["imports MiB"],
            f"x reference (batch {batch})": entry["reviews/s batch"] / reference["reviews/s batch"],
            "same label as float32": (None if is_reference or entry["system"] == "float32"
                                      else float((labels == float32_labels).mean())),
            "accuracy (sample)": "random weights" if is_reference else float((labels == true_labels).mean()),
            "load before/after": f"{entry['load before']:.2f} / {entry['load after']:.2f}",
            "detail": detail_of(entry)}


def detail_of(entry: dict) -> str:
    if entry["system"] == REFERENCE:
        return (f"{entry['parameters'] / 1e6:.1f}M parameters (DistilBertConfig defaults; toy shapes at the smoke "
                f"size); the first folder's tokenizer, reviews cut to 512 tokens")
    return {"float32": entry["shapes"],
            "int8": "torch.ao.quantization.quantize_dynamic (LSTM/GRU, Linear); the bag of words stays float32",
            "onnx": "hf_rnn.export.export_classifier_onnx of the whole model, CPUExecutionProvider; no pipeline"}[
        entry["system"]]


def plot(rows: list[dict], batch: int):
    import matplotlib.pyplot as plt

    timed = [row for row in rows if f"reviews/s (batch {batch})" in row]
    figure, axis = plt.subplots(figsize=(8, 0.5 + 0.45 * len(timed)))
    names = [row["system"] if row["model"] == "-" else f"{Path(row['model']).parent.name}: {row['system']}"
             for row in timed]
    axis.barh(names, [row[f"reviews/s (batch {batch})"] for row in timed])
    axis.set(xscale="log", xlabel=f"whole IMDB test reviews per second at batch {batch} (2 CPU threads, log scale)")
    axis.invert_yaxis()
    return save_plot(figure, NAME)


def token_counts(folder: str, texts: list[str], reference_max_length: int) -> tuple[float, float, int]:
    """Mean tokens per review, whole and as the reference reads them, and the longest review."""
    from transformers import AutoTokenizer

    lengths = np.array([len(ids) for ids in AutoTokenizer.from_pretrained(folder)(texts)["input_ids"]])
    return float(lengths.mean()), float(np.minimum(lengths, reference_max_length).mean()), int(lengths.max())


def describe(s: Settings, threads: int, tokens: tuple) -> str:
    whole, cut, longest = tokens
    return (f"{s.reviews:,} IMDB test reviews (seeded sample), whole: {whole:.0f} tokens per review on average with "
            f"the first folder's tokenizer, the longest {longest:,}; the reference reads them cut to "
            f"{s.reference_max_length} ({cut:.0f} on average). Throughput: the whole sample in one call at batch "
            f"{s.batch} and at batch 1, after a warm-up; latency: {s.latency_reviews} single-review calls (the first "
            f"of the sample), p50 and p95. Each system runs alone in a fresh process with {threads} threads (torch, "
            f"ONNX Runtime, the tokenizers' pool). Memory, from that process's resident-set high-water mark (VmHWM "
            f"in /proc/self/status): 'peak RSS' all of it (libraries, model, inference); 'model + inference' the peak "
            f"less the mark after the system's imports; 'loaded model' the mark before the first review, less the "
            f"imports. ONNX Runtime: the "
            f"whole published model (every member, the bag of words, both heads) as one graph reading a review in "
            f"one pass, fed by the folder's tokenizer in Python; no pipeline around it, and no int8 variant. "
            f"'same label as float32': share of the sample where the system's label equals the float32 pipeline's. "
            f"Load: 1-minute load average before and after each process (ours: {threads}). Plot: {NAME}.png.")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", dest="models", action="append", metavar="FOLDER",
                        help="a published model folder (e.g. runs/imdb-quick/model); repeatable")
    parser.add_argument("--dataset", help="IMDB source (default: $HF_RNN_IMDB_PATH, else the Hub)")
    parser.add_argument("--size", choices=list(SIZES), default="full", help="smoke: a few reviews, seconds")
    parser.add_argument("--results", help="results folder (default: bench/results; smoke: runs/bench-smoke)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max_load", type=float, default=2.5, help="time only below this 1-minute load average")
    parser.add_argument("--load_wait_s", type=float, default=1800, help="how long to wait for a quiet machine")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: the measuring process's spec file
    args = parser.parse_args(argv)
    if not args.measure and not args.models:
        parser.error("name at least one published model folder with --model")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.measure:
        measure_one_system(args.measure)
        return 0
    import torch

    from suite import SMOKE_RESULTS, BenchContext

    results = Path(args.results) if args.results else (RESULTS_DIR if args.size == "full" else SMOKE_RESULTS)
    os.environ[RESULTS_ENV] = str(results.resolve())
    torch.set_num_threads(args.threads)
    s = SIZES[args.size]
    ctx = BenchContext(size=args.size, dataset=args.dataset, threads=args.threads, max_load=args.max_load,
                       load_wait_s=args.load_wait_s)
    try:
        sample = ctx.test_sample(s.reviews)
        texts = list(sample["text"])
        texts_path = ctx.scratch / "reviews.json"
        texts_path.write_text(json.dumps(texts))
        measured = measure_all(ctx, args.models, s, texts_path)
    finally:
        shutil.rmtree(ctx.scratch, ignore_errors=True)
    rows = table_rows(measured, np.array(sample["label"]), s.batch)
    columns = ["model", "system", f"reviews/s (batch {s.batch})", "reviews/s (batch 1)", "p50 ms (1 review)",
               "p95 ms (1 review)", "peak RSS MiB", "model + inference MiB", "loaded model MiB",
               f"x reference (batch {s.batch})", "same label as float32", "accuracy (sample)", "load before/after",
               "detail"]
    notes = describe(s, args.threads, token_counts(args.models[0], texts, s.reference_max_length))
    raw = {"settings": dataclasses.asdict(s), "size": args.size,
           "measured": [{k: v for k, v in entry.items() if k != "labels"} for entry in measured]}
    print(write_results(NAME, {"Serving the published model, whole IMDB test reviews": (rows, columns)}, notes, raw))
    plot(rows, s.batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
