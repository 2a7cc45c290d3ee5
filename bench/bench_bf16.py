"""Bfloat16 autocast against float32: training speed of the full preset's LM and classifier steps (issue 15, lever 5).

    flock /tmp/hf_rnn_bench.lock python bench/bench_bf16.py [--name bf16_speed_avx512]

The job's `--precision bf16` sets TrainingArguments' `bf16`, so Trainer (through accelerate) runs each forward
under `torch.autocast(bfloat16)` while the weights and the optimizer stay float32. This times the same thing
outside Trainer: the forward wrapped in autocast as accelerate wraps it, on random ids, after two warm-up steps.
On a CPU with AMX the matrix products run on its bfloat16 tiles; without AMX, even with AVX-512's bfloat16
instructions, autocast trained slower than float32 (bf16_speed_avx512.md), so `--precision auto` (the full
preset's) uses it only on AMX CPUs and GPUs. Writes bench/results/<--name, default bf16_speed>.{json,md}.
"""

import argparse
import tempfile
import time

import torch
from bench_adversarial_step import MODES, full_preset_classifier, make_trainer
from bench_adversarial_step import seconds_per_step as classifier_seconds_per_step
from bench_lm_throughput import measure as lm_measure
from common import write_results

from hf_rnn import RNNConfig, RNNForCausalLM
from hf_rnn.machine import bfloat16_is_fast
from hf_rnn.recipes.imdb.presets import PRESETS

LM_BATCHES, CLASSIFIER_LENGTH = (32, 64), 512
PRECISIONS = ("fp32", "bf16")


def with_precision(model: torch.nn.Module, precision: str) -> torch.nn.Module:
    """The model itself for fp32; for bf16 its forward under autocast, as accelerate wraps it for `bf16=True`."""
    if precision == "bf16":
        model.forward = torch.autocast("cpu", dtype=torch.bfloat16)(model.forward)
    return model


def full_preset_lm() -> RNNForCausalLM:
    full = PRESETS["full"]
    torch.manual_seed(0)
    lm_fields = {k: v for k, v in full["model"].items() if not k.startswith(("classifier", "ngram"))}
    return RNNForCausalLM(RNNConfig(vocab_size=full["tokenizer"]["vocab_size"], **lm_fields))


def lm_rows() -> list[dict]:
    rows = []
    for batch in LM_BATCHES:
        for precision in PRECISIONS:
            row = lm_measure(with_precision(full_preset_lm(), precision), batch, 70, 2)
            rows.append({"precision": precision, **row})
            print(rows[-1], flush=True)
    base = rows[0]["tok/s"]
    return [{**row, "vs fp32 batch 32": row["tok/s"] / base} for row in rows]


def classifier_rows() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as output_dir:
        for mode in (MODES[0], MODES[2]):  # plain, and the adversarial step the job uses
            for precision in PRECISIONS:
                trainer = make_trainer(with_precision(full_preset_classifier(), precision), mode, output_dir)
                step = classifier_seconds_per_step(trainer, CLASSIFIER_LENGTH, separate_pass=False)
                rows.append({"step": mode, "precision": precision, "s/step": step})
                print(rows[-1], flush=True)
    fp32 = {row["step"]: row["s/step"] for row in rows if row["precision"] == "fp32"}
    return [{**row, "speed-up": fp32[row["step"]] / row["s/step"]} for row in rows]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="bf16_speed", help="results name (one per host kind: the speed-up is the "
                        "host's, AMX or not)")
    name = parser.parse_args().name
    torch.set_num_threads(2)
    start = time.perf_counter()
    sections = {"LM training (blocks of 70 tokens)": lm_rows(),
                f"Classifier training step (batch 32, {CLASSIFIER_LENGTH} tokens)": classifier_rows()}
    notes = (f"The full preset's LM and classifier (LSTM 256/512, 20k words; sampled softmax over 1,024 for the "
             f"LM), random ids; one training step: forward (under bfloat16 autocast for bf16), backward, AdamW "
             f"(float32 weights either way). `bfloat16_is_fast()` on this host: {bfloat16_is_fast()}. "
             f"{time.perf_counter() - start:.0f} s in all.")
    print(write_results(name, {title: (rows, list(rows[0])) for title, rows in sections.items()}, notes))


if __name__ == "__main__":
    main()
