"""Training throughput of candidate model sizes for the `full` preset (2 threads, batch 32, sampled softmax).

    flock /tmp/hf_rnn_bench.lock python bench/bench_preset_sizing.py

LM: blocks of 70 tokens; classifier: rows of 400 tokens, mean pooling; ULMFiT dropouts x 0.5 as in the presets.
Random token ids: speed does not depend on the text. Writes bench/results/preset_sizing.{json,md}.
"""

import time

import torch
from common import write_results

from hf_rnn import RNNConfig, RNNForCausalLM, RNNForSequenceClassification
from hf_rnn.recipes.imdb.presets import HALF_ULMFIT_DROPOUTS

CANDIDATES = [(128, 256, 1, 10_000, 512), (256, 512, 1, 20_000, 1024), (300, 512, 2, 30_000, 1024),
              (200, 384, 2, 20_000, 1024), (256, 768, 1, 20_000, 1024)]  # emb, hidden, layers, vocab, sampled
BATCH, LM_BLOCK, CLS_LENGTH = 32, 70, 400


def seconds_per_step(model, make_batch, steps: int) -> float:
    """Mean time of a training step (forward, backward, AdamW) after two warm-up steps."""
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    model.train()
    for step in range(steps + 2):
        if step == 2:
            start = time.perf_counter()
        model(**make_batch()).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return (time.perf_counter() - start) / steps


def measure(emb, hidden, layers, vocab, sampled) -> dict:
    torch.manual_seed(0)
    config = dict(cell_type="lstm", vocab_size=vocab, embedding_size=emb, hidden_size=hidden, num_hidden_layers=layers,
                  lm_loss="sampled", num_sampled=sampled, **HALF_ULMFIT_DROPOUTS)
    ids = lambda length: torch.randint(4, vocab, (BATCH, length))  # noqa: E731
    lm = RNNForCausalLM(RNNConfig(**config))
    lm_step = seconds_per_step(lm, lambda: {"input_ids": ids(LM_BLOCK), "labels": ids(LM_BLOCK)}, steps=6)
    classifier = RNNForSequenceClassification(RNNConfig(**config, num_labels=2, classifier_pooling="mean"))
    cls_step = seconds_per_step(classifier, lambda: {"input_ids": ids(CLS_LENGTH),
                                                     "labels": torch.randint(0, 2, (BATCH,))}, steps=3)
    return {"embedding": emb, "hidden": hidden, "layers": layers, "vocab": vocab, "sampled": sampled,
            "LM tok/s": BATCH * LM_BLOCK / lm_step, "classifier tok/s": BATCH * CLS_LENGTH / cls_step}


def main():
    torch.set_num_threads(2)
    rows = []
    for candidate in CANDIDATES:
        rows.append(measure(*candidate))
        print(rows[-1], flush=True)
    notes = (f"LSTM, batch {BATCH}; LM blocks of {LM_BLOCK} tokens with sampled softmax, classifier rows of {CLS_LENGTH} "
             "tokens with mean pooling; training steps (forward, backward, AdamW) on random ids.")
    print(write_results("preset_sizing", {"Training throughput": (rows, list(rows[0]))}, notes))


if __name__ == "__main__":
    main()
