"""LM training throughput at the full preset's shapes against batch size, block length and threads (issue 15, lever 5).

    flock /tmp/hf_rnn_bench.lock python bench/bench_lm_throughput.py

Does a bigger batch buy more tokens per second on this CPU, so more LM fits the same wall time? Training steps
(forward, backward, AdamW) of the full preset's LM (LSTM 256/512, one layer, 20k words, sampled softmax over 1,024)
on random ids, timed after two warm-up steps. Writes bench/results/lm_throughput.{json,md}.
"""

import torch
from bench_preset_sizing import seconds_per_step
from common import write_results

from hf_rnn import RNNConfig, RNNForCausalLM
from hf_rnn.recipes.imdb.presets import PRESETS

SETTINGS = [  # (batch, block, threads)
    (32, 70, 2), (64, 70, 2), (128, 70, 2), (256, 70, 2), (32, 140, 2), (64, 140, 2), (32, 70, 1), (128, 70, 1)]


def measure(model: RNNForCausalLM, batch: int, block: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    vocab = model.config.vocab_size
    ids = lambda: torch.randint(4, vocab, (batch, block))  # noqa: E731
    step = seconds_per_step(model, lambda: {"input_ids": ids(), "labels": ids()}, steps=max(3, 1024 // batch))
    return {"batch": batch, "block": block, "threads": threads, "s/step": step, "tok/s": batch * block / step}


def main():
    full = PRESETS["full"]
    torch.manual_seed(0)
    lm_fields = {k: v for k, v in full["model"].items() if not k.startswith(("classifier", "ngram"))}
    model = RNNForCausalLM(RNNConfig(vocab_size=full["tokenizer"]["vocab_size"], **lm_fields))
    rows = []
    for batch, block, threads in SETTINGS:
        rows.append(measure(model, batch, block, threads))
        print(rows[-1], flush=True)
    base = rows[0]["tok/s"]
    for row in rows:
        row["vs batch 32, 2 threads"] = row["tok/s"] / base
    notes = ("The full preset's LM (LSTM 256/512, one layer, 20k words, sampled softmax over 1,024, ULMFiT dropouts x "
             "0.5); training steps on random ids after two warm-up steps; the job trains at batch 32, blocks of 70.")
    print(write_results("lm_throughput", {"LM training throughput": (rows, list(rows[0]))}, notes))


if __name__ == "__main__":
    main()
