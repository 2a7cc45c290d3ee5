"""Gradient checkpointing per recurrent layer: training memory saved against time paid.

    python bench/bench_checkpointing.py [--layers 3] [--batch 16] [--length 512] [--steps 3]

Each setting trains a classifier for a few steps in its own child process, which reports the peak resident
memory the steps added (ru_maxrss after the steps minus before them) and the median step time; with
checkpointing each layer's activations are recomputed in the backward pass instead of kept.
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

from common import run_metadata, write_results


def child(args) -> dict:
    import torch

    from hf_rnn import RNNConfig, RNNForSequenceClassification

    torch.set_num_threads(2)
    torch.manual_seed(0)
    config = RNNConfig(vocab_size=20_000, embedding_size=256, hidden_size=512, num_hidden_layers=args.layers,
                       num_labels=2, classifier_pooling="mean")
    model = RNNForSequenceClassification(config).train()
    if args.checkpointing:
        model.gradient_checkpointing_enable()
    ids = torch.randint(4, 20_000, (args.batch, args.length))
    labels = torch.randint(0, 2, (args.batch,))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        model(input_ids=ids, labels=labels).loss.backward()
        times.append(time.perf_counter() - start)
        model.zero_grad(set_to_none=True)
    peak_added_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024  # Linux: KiB
    return {"peak_added_mb": peak_added_mb, "step_s": statistics.median(times)}


def measure(args, checkpointing: bool) -> dict:
    command = [sys.executable, __file__, "--child", "--layers", str(args.layers), "--batch", str(args.batch),
               "--length", str(args.length), "--steps", str(args.steps)] + (["--checkpointing"] if checkpointing else [])
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--checkpointing", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    meta = run_metadata()
    load_before = open("/proc/loadavg").read().split()[0]
    rows = []
    for checkpointing in (False, True):
        rows.append({"checkpointing": "per layer" if checkpointing else "off", **measure(args, checkpointing)})
    load_after = open("/proc/loadavg").read().split()[0]
    plain, saved = rows
    saved["memory vs off"] = saved["peak_added_mb"] / plain["peak_added_mb"]
    saved["time vs off"] = saved["step_s"] / plain["step_s"]
    notes = (f"Classifier: embedding 256, {args.layers} LSTM layers of 512, batch {args.batch} x {args.length} "
             f"tokens, {args.steps} training steps (forward + backward) per setting, each in its own process. "
             f"Load average before: {load_before}, after: {load_after} (times are only comparable on a quiet "
             "machine; the memory is not affected by load).")
    path = write_results("gradient_checkpointing", {
        "training step": (rows, ["checkpointing", "peak_added_mb", "step_s", "memory vs off", "time vs off"])},
        notes=notes, meta=meta)
    print(path.read_text())


if __name__ == "__main__":
    main()
