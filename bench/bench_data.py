"""Data pipeline benchmarks on the local IMDB copy; writes bench/results/data_<part>.json and .md.

Parts:
    tokenize  train the word-level tokenizer on train+unsupervised; tokenise all 100k reviews (cold,
              in a fresh cache folder), then again (cache hit), also with the tokenizer reloaded from disk.
    padding   padded share of positions on IMDB train (max_length 512) with length-grouped vs random batches.
    case      cased vs lowercase vs lowercase + xxmaj/xxup markers: vocabulary coverage, OOV rate on
              test, and a bag-of-words logistic regression on the token ids (is case a sentiment signal?).

Run (serialised with other engineers' timing runs):
    flock /tmp/hf_rnn_bench.lock python bench/bench_data.py --parts tokenize padding case
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import datasets
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hf_rnn.data import classification_features, length_grouped_batches, load_reviews, padded_fraction, tokenize_column  # noqa: E402
from hf_rnn.tokenization import batch_iterator, train_word_level_tokenizer  # noqa: E402

RESULTS = REPO / "bench/results"


def machine_info() -> dict:
    """Where and how the numbers were taken."""
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    return {
        "command": " ".join(shlex.quote(a) for a in ["python", *sys.argv]),
        "git_commit": commit,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "tokenizers_parallelism": os.environ.get("TOKENIZERS_PARALLELISM", "unset (on)"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "datasets": datasets.__version__,
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }


def timed(fn, *args, **kwargs):
    """(result, seconds)."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def bench_tokenize(dsd, workdir: Path) -> dict:
    """Tokenizer training, cold tokenisation of all reviews, and cache hits."""
    corpus = [dsd["train"], dsd["unsupervised"]]
    tok, train_s = timed(train_word_level_tokenizer, batch_iterator(corpus), vocab_size=30_000, min_frequency=3)
    tok.save_pretrained(workdir / "tokenizer")
    # A file-backed copy in a fresh folder, so the cold run cannot hit an earlier run's cache.
    everything = datasets.concatenate_datasets([dsd["train"], dsd["test"], dsd["unsupervised"]])
    everything.save_to_disk(workdir / "reviews")
    reviews = datasets.load_from_disk(workdir / "reviews")
    tokens, cold_s = timed(tokenize_column, reviews, tok, keep_columns=("label",))
    _, hit_s = timed(tokenize_column, reviews, tok, keep_columns=("label",))
    from transformers import AutoTokenizer

    reloaded = AutoTokenizer.from_pretrained(workdir / "tokenizer")
    again, hit_reloaded_s = timed(tokenize_column, datasets.load_from_disk(workdir / "reviews"), reloaded, keep_columns=("label",))
    assert again.cache_files == tokens.cache_files, "reloaded tokenizer missed the cache"
    return {
        "reviews": len(reviews),
        "tokens": int(sum(tokens["length"])),
        "vocab_size": len(tok),
        "train_tokenizer_s (train+unsup, 75k reviews)": round(train_s, 2),
        "tokenize_all_cold_s": round(cold_s, 2),
        "cache_hit_s": round(hit_s, 3),
        "cache_hit_reloaded_tokenizer_s": round(hit_reloaded_s, 3),
        "goal": "cold <= 60 s, cache hit <= 1 s",
    }


def bench_padding(dsd, tokenizer_dir: Path | None) -> dict:
    """Padded share with length-grouped vs random batches on IMDB train (max_length 512)."""
    tok = _tokenizer(dsd, tokenizer_dir)
    full = np.asarray(classification_features(dsd["train"], tok, max_length=0)["length"])  # untruncated
    lengths = np.minimum(full, 512).tolist()  # what max_length=512 keeps (left truncation keeps the end)
    rng = np.random.default_rng(0)
    out = {"rows": len(lengths), "max_length": 512, "mean_length": round(float(np.mean(lengths)), 1),
           "untruncated_tokens_p50_p90_p95": [int(np.percentile(full, q)) for q in (50, 90, 95)],
           "share_truncated_at_512": round(float((full > 512).mean()), 4)}
    for batch_size in (32, 64):
        order = rng.permutation(len(lengths)).tolist()
        random_batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        out[f"padded_fraction_grouped_bs{batch_size}"] = round(padded_fraction(lengths, length_grouped_batches(lengths, batch_size)), 4)
        out[f"padded_fraction_random_bs{batch_size}"] = round(padded_fraction(lengths, random_batches), 4)
    out["goal"] = "grouped <= 0.10"
    return out


def _tokenizer(dsd, tokenizer_dir: Path | None):
    """The saved tokenizer from the tokenize part, or a fresh one."""
    if tokenizer_dir and (tokenizer_dir / "tokenizer.json").exists():
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(tokenizer_dir)
    return train_word_level_tokenizer(batch_iterator([dsd["train"], dsd["unsupervised"]]), vocab_size=30_000)


CASE_VARIANTS = {"cased": dict(lowercase=False, case_markers=False), "lowercase": dict(lowercase=True, case_markers=False),
                 "lowercase+markers": dict(lowercase=True, case_markers=True)}


def bench_case(dsd) -> dict:
    """Cased vs lowercase (with/without markers) at a 30k vocabulary trained on train+unsupervised."""
    out = {}
    corpus = [dsd["train"], dsd["unsupervised"]]
    test = dsd["test"].shuffle(seed=0).select(range(min(5_000, len(dsd["test"]))))
    for name, options in CASE_VARIANTS.items():
        tok, train_s = timed(train_word_level_tokenizer, batch_iterator(corpus), vocab_size=30_000, min_frequency=3, **options)
        ids = tokenize_column(test, tok)["input_ids"]
        flat = np.concatenate([np.asarray(row[1:]) for row in ids])  # drop <s>
        markers = np.isin(flat, [tok.convert_tokens_to_ids(m) for m in ("xxmaj", "xxup") if m in tok.get_vocab()])
        out[name] = {
            "vocab_size": len(tok),
            # OOV among word tokens: the markers (never unknown) would otherwise dilute it
            "test_oov_rate_words": round(float((flat[~markers] == tok.unk_token_id).mean()), 5),
            "test_tokens_per_review": round(len(flat) / len(ids), 1),
            "marker_share_of_tokens": round(float(markers.mean()), 4),
            "train_tokenizer_s": round(train_s, 1),
            "bow_logreg_acc": _bow_accuracy(dsd, tok),
        }
    return out


def _bow_accuracy(dsd, tok) -> float:
    """Binary bag-of-token-ids logistic regression, 10k train -> 5k test reviews (a case-signal probe)."""
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    def matrix(split, n):
        ds = tokenize_column(dsd[split].shuffle(seed=1).select(range(min(n, len(dsd[split])))), tok, keep_columns=("label",))
        rows = [np.unique(r) for r in ds["input_ids"]]
        indptr = np.cumsum([0] + [len(r) for r in rows])
        x = csr_matrix((np.ones(indptr[-1]), np.concatenate(rows), indptr), shape=(len(rows), len(tok)))
        return x, np.asarray(ds["label"])

    (x_train, y_train), (x_test, y_test) = matrix("train", 10_000), matrix("test", 5_000)
    model = LogisticRegression(C=0.5, max_iter=1_000).fit(x_train, y_train)
    return round(float(model.score(x_test, y_test)), 4)


def write(part: str, result: dict, info: dict) -> None:
    """JSON + a markdown table for one part."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"data_{part}.json").write_text(json.dumps({"machine": info, "result": result}, indent=2) + "\n")
    lines = [f"# data benchmark: {part}", "", f"`{info['command']}` at commit `{info['git_commit'][:10]}`, "
             f"{info['cpu_count']} CPUs, torch threads {info['torch_threads']}, {info['date_utc']} UTC", ""]
    if part == "case":  # one row per variant
        metrics = list(next(iter(result.values())))
        lines += ["| variant | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
        lines += [f"| {name} | " + " | ".join(str(v[m]) for m in metrics) + " |" for name, v in result.items()]
    else:
        lines += ["| metric | value |", "|---|---|", *[f"| {k} | {v} |" for k, v in result.items()]]
    (RESULTS / f"data_{part}.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(result, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=["tokenize", "padding", "case"], choices=["tokenize", "padding", "case"])
    parser.add_argument("--imdb", default=None, help="IMDB folder (default: $HF_RNN_IMDB_PATH, else the Hub)")
    args = parser.parse_args()
    info = machine_info()
    dsd = load_reviews(args.imdb)
    with tempfile.TemporaryDirectory(prefix="hf_rnn_bench_data_") as tmp:
        workdir = Path(tmp)
        if "tokenize" in args.parts:
            write("tokenize", bench_tokenize(dsd, workdir), info)
        if "padding" in args.parts:
            write("padding", bench_padding(dsd, workdir / "tokenizer"), info)
        if "case" in args.parts:
            write("case", bench_case(dsd), info)


if __name__ == "__main__":
    main()
