"""No tax on the raw layer: hf_rnn models against plain torch modules of the same shapes, on the same inputs.

Measures forward+backward tokens/s (classifier and LM, LSTM and GRU, dropouts off), the cost of weight
dropout, padded vs packed-equivalent batches of mixed lengths, and per-token generation time with and
without the carried state.

    python bench/bench_models.py            # ~10 min on 2 cores
    python bench/bench_models.py --quick    # smaller shapes, ~2 min
"""

import argparse
import statistics
import time

import torch
from torch import nn

from common import write_results
from hf_rnn import RNNConfig, RNNForCausalLM, RNNForSequenceClassification


class PlainClassifier(nn.Module):
    """The reference: nn.Embedding -> nn.LSTM/GRU -> last output -> nn.Linear, nothing else."""

    def __init__(self, cell, vocab, emb, hidden, labels=2):
        super().__init__()
        self.embeddings = nn.Embedding(vocab, emb)
        self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](emb, hidden, batch_first=True)
        self.head = nn.Linear(hidden, labels)

    def forward(self, input_ids, labels):
        out, _ = self.rnn(self.embeddings(input_ids))  # [B, T, H]
        return nn.functional.cross_entropy(self.head(out[:, -1]), labels)


class PlainLM(nn.Module):
    """The reference LM: embedding -> RNN -> tied linear over the vocabulary -> shifted cross-entropy."""

    def __init__(self, cell, vocab, emb, hidden):
        super().__init__()
        self.embeddings = nn.Embedding(vocab, emb)
        self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](emb, hidden, batch_first=True)
        self.projection = nn.Linear(hidden, emb, bias=False)
        self.decoder = nn.Linear(emb, vocab)
        self.decoder.weight = self.embeddings.weight

    def forward(self, input_ids, labels):
        logits = self.decoder(self.projection(self.rnn(self.embeddings(input_ids))[0]))  # [B, T, V]
        return nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten())


def train_step_seconds(model, batch, repeats):
    """Median wall time of one forward+backward+SGD step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    model.train()
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        out = model(**batch)
        loss = out if isinstance(out, torch.Tensor) else out.loss  # plain modules return the loss itself
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i:  # the first step warms allocator and kernels
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def hf_config(cell, vocab, emb, hidden, **extra):
    return RNNConfig(cell_type=cell, vocab_size=vocab, embedding_size=emb, hidden_size=hidden, num_hidden_layers=1,
                     classifier_pooling="last", classifier_hidden_size=0, classifier_dropout=0.0, **extra)


def compare_training(shape, repeats):
    """Interleave hf_rnn and plain models so machine noise hits both alike."""
    rows = []
    B, T, vocab_cls, vocab_lm, emb, hidden = shape
    labels = torch.randint(0, 2, (B,))
    for cell in ("lstm", "gru"):
        for task in ("classifier", "lm"):
            vocab = vocab_cls if task == "classifier" else vocab_lm
            batch_ids = torch.randint(4, vocab, (B, T))
            if task == "classifier":
                ours = RNNForSequenceClassification(hf_config(cell, vocab, emb, hidden, num_labels=2))
                plain = PlainClassifier(cell, vocab, emb, hidden)
                batch = {"input_ids": batch_ids, "labels": labels}
            else:
                ours = RNNForCausalLM(hf_config(cell, vocab, emb, hidden))
                plain = PlainLM(cell, vocab, emb, hidden)
                batch = {"input_ids": batch_ids, "labels": batch_ids}
            t_ours, t_plain = [], []
            for _ in range(2):
                t_plain.append(train_step_seconds(plain, batch, repeats))
                t_ours.append(train_step_seconds(ours, batch, repeats))
            ours_s, plain_s = min(t_ours), min(t_plain)
            rows.append({"cell": cell, "model": task, "vocab": vocab, "plain tok/s": B * T / plain_s,
                         "hf_rnn tok/s": B * T / ours_s, "overhead %": 100 * (ours_s / plain_s - 1)})
            print(rows[-1], flush=True)
    return rows


def regularisation_and_padding(shape, repeats):
    """Cost of weight dropout, and of a padded batch of mixed lengths, for the LSTM classifier."""
    B, T, vocab, _, emb, hidden = shape
    ids = torch.randint(4, vocab, (B, T))
    labels = torch.randint(0, 2, (B,))
    lengths = torch.linspace(T // 4, T, B).long()
    mask = (torch.arange(T)[None, :] < lengths[:, None]).long()
    real_tokens = int(mask.sum())
    rows = []
    cases = [
        ("no dropout, full rows", {}, None, B * T),
        ("weight_dropout=0.5", {"weight_dropout": 0.5}, None, B * T),
        ("all AWD dropouts", {"weight_dropout": 0.5, "embedding_dropout": 0.1, "input_dropout": 0.25}, None, B * T),
        ("mixed lengths, right-padded (fused kernel)", {}, mask, real_tokens),
        ("mixed lengths, left-padded (rolled, fused)", {}, mask.flip(1), real_tokens),
    ]
    for name, extra, case_mask, tokens in cases:
        model = RNNForSequenceClassification(hf_config("lstm", vocab, emb, hidden, num_labels=2, **extra))
        batch = {"input_ids": ids, "labels": labels}
        if case_mask is not None:
            batch["attention_mask"] = case_mask
        seconds = train_step_seconds(model, batch, repeats)
        rows.append({"case": name, "real tokens": tokens, "step s": seconds, "real tok/s": tokens / seconds})
        print(rows[-1], flush=True)
    packed = packed_training_seconds(emb, hidden, vocab, ids, lengths, labels, repeats)
    rows.append({"case": "mixed lengths, PackedSequence (plain nn.LSTM)", "real tokens": real_tokens,
                 "step s": packed, "real tok/s": real_tokens / packed})
    print(rows[-1], flush=True)
    return rows


def packed_training_seconds(emb, hidden, vocab, ids, lengths, labels, repeats):
    """The packing alternative the backbone avoids in training: same shapes, plain modules."""
    embed, rnn, head = nn.Embedding(vocab, emb), nn.LSTM(emb, hidden, batch_first=True), nn.Linear(hidden, 2)
    params = [*embed.parameters(), *rnn.parameters(), *head.parameters()]
    optimizer = torch.optim.SGD(params, lr=1e-3)
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        packed = nn.utils.rnn.pack_padded_sequence(embed(ids), lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = rnn(packed)
        loss = nn.functional.cross_entropy(head(h[-1]), labels)
        optimizer.zero_grad(), loss.backward(), optimizer.step()
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.no_grad()
def generation_cost(emb, hidden, vocab, lengths):
    """Per-token generation time, cached (state carried) vs uncached (prefix re-run every step)."""
    model = RNNForCausalLM(hf_config("lstm", vocab, emb, hidden, eos_token_id=None)).eval()
    prompt = torch.randint(4, vocab, (1, 16))
    rows = []
    for new_tokens in lengths:
        row = {"new tokens": new_tokens}
        for use_cache in (True, False):
            start = time.perf_counter()
            out = model.generate(prompt, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                                 use_cache=use_cache, pad_token_id=0)
            assert out.shape[1] == 16 + new_tokens
            row[f"{'cached' if use_cache else 'uncached'} ms/token"] = 1000 * (time.perf_counter() - start) / new_tokens
        rows.append(row)
        print(row, flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller shapes for a fast check")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    # (batch, time, classifier vocab, LM vocab, embedding, hidden): the shapes the presets were sized by
    shape = (8, 64, 5000, 2000, 64, 128) if args.quick else (32, 256, 30000, 10000, 300, 512)
    repeats = 2 if args.quick else 3
    gen_lengths = (16, 64) if args.quick else (64, 256, 1024)
    sections = {
        "Training throughput, dropouts off (forward + backward + SGD step)": (
            compare_training(shape, repeats), ["cell", "model", "vocab", "plain tok/s", "hf_rnn tok/s", "overhead %"]),
        "LSTM classifier: regularisation and padding": (
            regularisation_and_padding(shape, repeats), ["case", "real tokens", "step s", "real tok/s"]),
        "Generation (LSTM LM, batch 1, 16-token prompt)": (
            generation_cost(shape[4], shape[5], shape[3], gen_lengths),
            ["new tokens", "cached ms/token", "uncached ms/token"]),
    }
    B, T, vc, vl, e, h = shape
    notes = (f"Shapes: batch {B} x {T} tokens, embedding {e}, hidden {h}, 1 layer; classifier vocab {vc}, "
             f"LM vocab {vl} (full softmax, tied, projection {h}->{e}). Each figure is the best of two "
             f"interleaved rounds of the median of {repeats} steps.")
    print(write_results("models_quick" if args.quick else "models", sections, notes))


if __name__ == "__main__":
    main()
