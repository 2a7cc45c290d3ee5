#!/usr/bin/env python
"""IMDB sentiment LSTM trained from scratch: random vs word2vec (CBOW, skip-gram) vs FastText embeddings.

    flock /tmp/hf_rnn_bench.lock python bench/bench_word_vectors_classifier.py

Needs the tokenizer and vectors that bench/bench_word_vectors.py leaves in /tmp/hf_rnn_word_vectors.
Same data, seed, model and schedule for every initialisation; only the embedding's starting point differs
(100-d, trainable). A short, CPU-sized run (a subset, 1 epoch by default): it shows what the
initialisation buys early in training, not the best accuracy reachable. A plain torch loop with
length-bucketed batches (right padding) keeps it independent of the Trainer setup.
Writes bench/results/word_vectors_classifier.{json,md}.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hf_rnn import RNNConfig, RNNForSequenceClassification
from hf_rnn.embeddings import import_word_vectors


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=os.environ.get("HF_RNN_IMDB_PATH", "stanfordnlp/imdb"),
                        help="IMDB folder or Hub id (default: $HF_RNN_IMDB_PATH, else the Hub's stanfordnlp/imdb)")
    parser.add_argument("--vectors_dir", default="/tmp/hf_rnn_word_vectors")
    parser.add_argument("--inits", nargs="+", default=["random", "cbow", "skipgram", "fasttext"])
    parser.add_argument("--train_examples", type=int, default=8_000)
    parser.add_argument("--test_examples", type=int, default=4_000)
    parser.add_argument("--max_length", type=int, default=256)
    parser.add_argument("--hidden_size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench/results")
    return parser.parse_args()


def encode(args, tokenizer):
    """Token ids and labels of a seeded train / test subset (reviews keep their end: left truncation)."""
    import datasets

    data = datasets.load_dataset(args.dataset)
    out = {}
    for split, n in (("train", args.train_examples), ("test", args.test_examples)):
        rows = data[split].shuffle(seed=args.seed).select(range(n))
        ids = tokenizer(list(rows["text"]), truncation=True, max_length=args.max_length)["input_ids"]
        out[split] = (ids, list(rows["label"]))
    return out


def batches(ids, labels, batch_size, seed):
    """Length-bucketed, right-padded batches in a seeded random order -> (input_ids, attention_mask, labels)."""
    rng = np.random.default_rng(seed)
    order = np.argsort([len(x) + rng.random() for x in ids])  # similar lengths together: little padding
    groups = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    for k in rng.permutation(len(groups)):
        rows = [ids[i] for i in groups[k]]
        width = max(map(len, rows))
        input_ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])  # [B, T], pad id 0
        yield input_ids, _mask(rows, width), torch.tensor([labels[i] for i in groups[k]])


def _mask(rows, width):
    """[B, T] attention mask for right-padded rows."""
    return torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])


def build_model(args, tokenizer, init):
    """Same seed and architecture for every run; only the embedding rows differ."""
    torch.manual_seed(args.seed)
    config = RNNConfig(cell_type="lstm", vocab_size=len(tokenizer), embedding_size=100, hidden_size=args.hidden_size,
                       num_hidden_layers=1, pad_token_id=tokenizer.pad_token_id, num_labels=2, tie_word_embeddings=False)
    model = RNNForSequenceClassification(config)
    coverage = None
    if init != "random":
        coverage = import_word_vectors(model, Path(args.vectors_dir) / f"imdb_{init}100.bin", tokenizer).to_dict()
    return model, coverage


def train_and_test(args, model, data):
    """Adam, linear decay; returns (train seconds, tokens/s, test accuracy)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * -(-len(data["train"][0]) // args.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1 - s / steps)
    model.train()
    start, tokens = time.perf_counter(), 0
    for epoch in range(args.epochs):
        for input_ids, mask, labels in batches(*data["train"], args.batch_size, args.seed + epoch):
            loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step(), schedule.step(), optimizer.zero_grad()
            tokens += int(mask.sum())
    seconds = time.perf_counter() - start
    return seconds, tokens / seconds, accuracy(model, data["test"], args.batch_size * 2)


@torch.no_grad()
def accuracy(model, split, batch_size):
    """Test accuracy."""
    model.eval()
    correct = total = 0
    for input_ids, mask, labels in batches(*split, batch_size, 0):
        correct += int((model(input_ids=input_ids, attention_mask=mask).logits.argmax(-1) == labels).sum())
        total += len(labels)
    return correct / total


def main():
    args = parse_args()
    torch.set_num_threads(2)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(Path(args.vectors_dir) / "tokenizer")
    data = encode(args, tokenizer)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    result = {"args": vars(args), "commit": commit, "python": platform.python_version(), "cpu_count": os.cpu_count(),
              "torch": torch.__version__, "command": "flock /tmp/hf_rnn_bench.lock python " + " ".join(sys.argv), "runs": []}
    for init in args.inits:
        model, coverage = build_model(args, tokenizer, init)
        seconds, tok_s, acc = train_and_test(args, model, data)
        result["runs"].append({"init": init, "train_s": seconds, "train_tokens_per_s": tok_s, "test_accuracy": acc,
                               "coverage": coverage})
        print(init, f"{acc:.4f}", f"{seconds:.0f}s", flush=True)
        Path(args.out, f"{stem(args)}.json").write_text(json.dumps(result, indent=2))
    Path(args.out, f"{stem(args)}.md").write_text(markdown(result))


def stem(args) -> str:
    """Result file name; seeds other than 0 get their own files."""
    return "word_vectors_classifier" + (f"_seed{args.seed}" if args.seed else "")


def markdown(result) -> str:
    """Results table."""
    a = result["args"]
    lines = ["# IMDB LSTM classifier from scratch: embedding initialisation", "",
             f"Command: `{result['command']}` at commit `{result['commit'][:10]}`, {result['cpu_count']} CPUs, torch "
             f"{result['torch']}. LSTM {a['hidden_size']} hidden, 100-d trainable embedding, {a['train_examples']:,} "
             f"train reviews x {a['epochs']} epoch(s), {a['test_examples']:,} test reviews, max {a['max_length']} tokens "
             f"(review end kept), batch {a['batch_size']}, Adam lr {a['lr']} linear decay, seed {a['seed']}.", "",
             "| init | test accuracy | train s | train tokens/s | vocab covered |", "|---|---|---|---|---|"]
    for r in result["runs"]:
        covered = "-" if r["coverage"] is None else f"{r['coverage']['coverage']:.1%}"
        lines.append(f"| {r['init']} | {r['test_accuracy']:.2%} | {r['train_s']:.0f} | {r['train_tokens_per_s']:,.0f} | {covered} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
