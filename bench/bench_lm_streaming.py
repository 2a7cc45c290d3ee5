"""Streamed vs in-memory LM pretraining on the same text: training tokens/s, wall time and peak memory (RSS).

    flock /tmp/hf_rnn_bench.lock python bench/bench_lm_streaming.py --imdb /path/to/imdb [--max_steps 200]

The text: IMDB's training reviews (minus the seeded validation reviews) and unlabelled reviews, one review per line,
written into 8 plain-text files in a temporary folder outside the repository (deleted at the end); the validation
reviews go to a held-out file. The test split is never read. Each mode runs `pretrain_on_corpus` (scripts/run_lm.py's
recipe) in a fresh process with a fresh `datasets` cache, so its peak RSS (the kernel's VmHWM) and its data
preparation are its own; both modes use one word-level tokenizer trained beforehand on the same files. Writes
bench/results/lm_streaming.{json,md}.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import write_results

REPO = Path(__file__).resolve().parents[1]
FILES = 8
# Evaluation's full-softmax logits ([batch, 64, 10k] floats and their log-softmax) would otherwise set the peak RSS.
EVAL_BATCH = 8
MODEL = "embedding_size=128,hidden_size=256,num_hidden_layers=1,lm_loss=sampled,num_sampled=512"


def write_review_files(imdb: str, folder: Path, seed: int = 42) -> dict:
    """Training text in FILES files and the validation reviews in one, one review per line; counts."""
    from hf_rnn.data import load_reviews

    reviews = load_reviews(imdb, validation_size=0.1, seed=seed)  # the job's split: validation never trains
    texts = list(reviews["train"]["text"]) + list(reviews["unsupervised"]["text"])
    for part in range(FILES):
        (folder / f"train-{part}.txt").write_text("\n".join(_one_line(t) for t in texts[part::FILES]) + "\n")
    (folder / "validation.txt").write_text("\n".join(_one_line(t) for t in reviews["validation"]["text"]) + "\n")
    return {"train_reviews": len(texts), "validation_reviews": len(reviews["validation"]),
            "train_megabytes": sum(p.stat().st_size for p in folder.glob("train-*.txt")) / 1e6}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def train_tokenizer(folder: Path, out: Path):
    """One tokenizer for both modes (10k words, as the quick preset), trained on 20k training reviews."""
    from hf_rnn.tokenization import train_word_level_tokenizer

    lines = [line for path in sorted(folder.glob("train-*.txt")) for line in path.read_text().splitlines()[:2_500]]
    train_word_level_tokenizer(lines, vocab_size=10_000, min_frequency=3).save_pretrained(out)


def child(args):
    """One mode, in this process: pretrain, then report timings and the process's peak and final RSS."""
    from transformers import TrainingArguments

    from hf_rnn.training import (CorpusArguments, DataArguments, ModelArguments, TokenizerArguments, ULMFiTArguments,
                                 pretrain_on_corpus)

    folder = Path(args.folder)
    corpus = CorpusArguments(train_file=[str(p) for p in sorted(folder.glob("train-*.txt"))],
                             validation_file=[str(folder / "validation.txt")], streaming=args.child == "streamed")
    data = DataArguments(block_size=64, lm_streams=32, max_lm_eval_documents=200)
    training = TrainingArguments(output_dir=str(folder / f"run-{args.child}"), per_device_train_batch_size=32,
                                 per_device_eval_batch_size=EVAL_BATCH, max_steps=args.max_steps, learning_rate=3e-3,
                                 train_sampling_strategy="sequential", save_strategy="no", report_to=[],
                                 logging_steps=50, use_cpu=True, seed=42, disable_tqdm=True)
    start = time.perf_counter()
    metrics = pretrain_on_corpus(corpus, data, TokenizerArguments(tokenizer_name_or_path=str(folder / "tokenizer")),
                                 ModelArguments(config_overrides=MODEL), ULMFiTArguments(), training)
    wall = time.perf_counter() - start
    tokens = args.max_steps * 32 * 64
    print(json.dumps({"mode": args.child, "steps": args.max_steps, "train_tokens": tokens,
                      "train tok/s": tokens / metrics["train_runtime"], "training s": metrics["train_runtime"],
                      "wall s (data + training + eval)": wall,
                      "data preparation s": wall - metrics["train_runtime"] - metrics["eval_runtime"],
                      "peak RSS MB": _status_mb("VmHWM"), "final RSS MB": _status_mb("VmRSS"),
                      "eval perplexity": metrics["eval_perplexity"]}))


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"No {field} in /proc/self/status (Linux only).")


def streamed_pipeline_tokens_per_second(folder: Path, steps: int) -> float:
    """Tokens/s the streamed data side alone delivers (read, tokenise, deal into 32 streams of 64-token blocks)."""
    from transformers import AutoTokenizer

    from hf_rnn.data import load_text_corpus, streamed_lm_blocks

    corpus = load_text_corpus(train_file=[str(p) for p in sorted(folder.glob("train-*.txt"))],
                              validation_file=[str(folder / "validation.txt")], streaming=True)
    blocks = streamed_lm_blocks(corpus["train"], AutoTokenizer.from_pretrained(folder / "tokenizer"), 64, 32)
    start = time.perf_counter()
    rows = sum(1 for _ in blocks.take(steps * 32))
    return rows * 64 / (time.perf_counter() - start)


def run_mode(mode: str, folder: Path, max_steps: int) -> dict:
    """A mode in a fresh process with its own datasets cache (cold: nothing tokenised before)."""
    env = {**os.environ, "HF_DATASETS_CACHE": str(folder / f"cache-{mode}"), "OMP_NUM_THREADS": "2"}
    command = [sys.executable, __file__, "--child", mode, "--folder", str(folder), "--max_steps", str(max_steps)]
    load_before = os.getloadavg()[0]
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO)
    if result.returncode:
        raise RuntimeError(f"{mode} run failed:\n{result.stderr[-3000:]}")
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "load before/after": f"{load_before:.1f} / "
            f"{os.getloadavg()[0]:.1f}"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imdb", default=os.environ.get("HF_RNN_IMDB_PATH"),
                        help="local IMDB copy (default: $HF_RNN_IMDB_PATH)")
    parser.add_argument("--max_steps", type=int, default=200)
    parser.add_argument("--child", choices=["in_memory", "streamed"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if not args.imdb:
        parser.error("pass --imdb PATH or set HF_RNN_IMDB_PATH")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="hf_rnn_lm_streaming_") as tmp:  # outside the repository
        folder = Path(tmp)
        corpus = write_review_files(args.imdb, folder)
        train_tokenizer(folder, folder / "tokenizer")
        rows = [run_mode(mode, folder, args.max_steps) for mode in ("in_memory", "streamed")]
        pipeline = streamed_pipeline_tokens_per_second(folder, args.max_steps)
    for row in rows:
        print(row)
    notes = (f"Text: {corpus['train_reviews']:,} IMDB train + unsupervised reviews ({corpus['train_megabytes']:.0f} MB "
             f"in {FILES} text files, one review per line), {corpus['validation_reviews']:,} validation reviews "
             f"held out (200 for perplexity, batches of {EVAL_BATCH}); test never read. LSTM LM " + MODEL.replace(",", ", ") + ", 10k-word "
             "tokenizer, 32 streams x 64 tokens per step, state carried. In memory, the whole corpus is tokenised "
             "and cut into blocks before training (Arrow files, memory-mapped); streamed, documents are read and "
             "tokenised as training goes. Data preparation = wall - training - evaluation. Peak RSS: the process's "
             "high-water mark (VmHWM), final RSS: at the end. The 2 cores were shared with other engineers' jobs "
             f"(1-minute load average {load_before[0]:.1f} at the start, per mode in the table), so the speeds are "
             "indicative; the memory figures do not depend on the load. The streamed data side alone (read, "
             f"tokenise, deal into streams; no model) delivered {pipeline:,.0f} tokens/s over the same "
             f"{args.max_steps} steps: at the streamed run's training speed it takes "
             f"{100 * rows[1]['train tok/s'] / pipeline:.1f}% of a step's time.")
    columns = ["mode", "steps", "train tok/s", "training s", "data preparation s", "wall s (data + training + eval)",
               "peak RSS MB", "final RSS MB", "eval perplexity", "load before/after"]
    print(write_results("lm_streaming", {"Streamed vs in memory": (rows, columns)}, notes, raw={"corpus": corpus, "streamed_pipeline_tokens_per_s": pipeline}))


if __name__ == "__main__":
    main()
