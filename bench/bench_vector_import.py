#!/usr/bin/env python
"""How fast, and in how much memory, a GloVe-6B-300d-sized file imports into a model's embedding.

    flock /tmp/hf_rnn_bench.lock python bench/bench_vector_import.py --compare_gensim

Generates (once, in /tmp, never committed) a 400,000 x 300 GloVe-layout text file and the same vectors
in word2vec binary, then imports each into an RNNForCausalLM with a 30,000-word vocabulary (28,000 words
in the file, 1,000 only in another casing, 1,000 absent), each in a fresh process so peak memory
(``ru_maxrss``) is that run's alone. With ``--compare_gensim`` also times gensim's own full text load
(what ``import_word_vectors`` avoids by streaming). Writes bench/results/word_vectors_import.{json,md}.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

N_ROWS, DIM, VOCAB, POOL = 400_000, 300, 30_000, 2_000


def generate(text_path: Path, bin_path: Path, seed: int = 0):
    """GloVe-layout text and word2vec binary files; rows cycle through a pool of random vectors (the
    parsing cost per row is what matters, not the values)."""
    rng = np.random.default_rng(seed)
    pool = rng.normal(0.0, 0.4, size=(POOL, DIM)).astype(np.float32)
    text_rows = [" ".join(f"{x:.5f}" for x in row) for row in pool]
    with open(text_path, "w", encoding="utf-8") as text, open(bin_path, "wb") as binary:
        binary.write(f"{N_ROWS} {DIM}\n".encode())
        for i in range(N_ROWS):
            text.write(f"w{i} {text_rows[i % POOL]}\n")
            binary.write(f"w{i} ".encode() + pool[i % POOL].tobytes())


def vocabulary(seed: int = 0) -> dict[str, int]:
    """Special tokens, 28k file words, 1k words the file has only lowercased, 1k absent words."""
    rng = np.random.default_rng(seed)
    picked = rng.choice(N_ROWS, size=29_000, replace=False)
    words = ["<pad>", "<unk>"] + [f"w{i}" for i in picked[:28_000]] + [f"W{i}" for i in picked[28_000:]]
    words += [f"absent{i}" for i in range(VOCAB - len(words))]
    return {w: i for i, w in enumerate(words)}


def run_import(path: str) -> dict:
    """One import into a fresh LM (worker process)."""
    import torch

    from hf_rnn import RNNConfig, RNNForCausalLM
    from hf_rnn.embeddings import import_word_vectors

    torch.set_num_threads(2)
    lm = RNNForCausalLM(RNNConfig(cell_type="lstm", vocab_size=VOCAB, embedding_size=DIM, hidden_size=32,
                                  num_hidden_layers=1, pad_token_id=0, tie_word_embeddings=True))
    before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    coverage = import_word_vectors(lm, path, vocabulary())
    seconds = time.perf_counter() - start
    tied = lm.get_output_embeddings().weight.data_ptr() == lm.get_input_embeddings().weight.data_ptr()
    return {"seconds": seconds, "rss_before_mb": before_mb, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "coverage": coverage.to_dict(), "tied": tied}


def run_gensim_load(path: str) -> dict:
    """gensim's full load of the text file, for comparison (worker process)."""
    from gensim.models import KeyedVectors

    before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    kv = KeyedVectors.load_word2vec_format(path, no_header=True)
    return {"seconds": time.perf_counter() - start, "rss_before_mb": before_mb, "rows": len(kv),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def in_subprocess(kind: str, path: Path) -> dict:
    """Run a worker in a fresh interpreter; return its JSON line."""
    out = subprocess.run([sys.executable, __file__, "--worker", kind, str(path)], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    return json.loads(out.stdout.strip().splitlines()[-1])


def markdown(result) -> str:
    """Results table."""
    rows = ["| what | file | seconds | peak RSS MB (before) | coverage |", "|---|---|---|---|---|"]
    for name, r in result["runs"].items():
        cov = r.get("coverage")
        cov_text = (f"exact {cov['exact']}, lowercase {cov['lowercase']}, initialised {cov['initialised']}"
                    if cov else f"{r['rows']:,} rows loaded")
        rows.append(f"| {name} | {r['file']} | {r['seconds']:.1f} | {r['peak_rss_mb']:.0f} ({r['rss_before_mb']:.0f}) | {cov_text} |")
    m = result["machine"]
    head = [f"# Importing a {N_ROWS:,} x {DIM} vector file into a {VOCAB:,}-word RNNForCausalLM", "",
            f"Command: `{m['command']}` at commit `{m['commit'][:10]}`, {m['cpu_count']} CPUs, Python {m['python']}. "
            f"Text file {result['text_file_mb']:.0f} MB, binary {result['bin_file_mb']:.0f} MB "
            f"(generated in {result['generate_s']:.0f} s). Each run in a fresh process.", ""]
    return "\n".join(head + rows) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--compare_gensim", action="store_true")
    parser.add_argument("--tmp", default="/tmp")
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps((run_import if args.worker[0] == "import" else run_gensim_load)(args.worker[1])))
        return
    text_path, bin_path = Path(args.tmp) / "hf_rnn_glove_400k_300d.txt", Path(args.tmp) / "hf_rnn_w2v_400k_300d.bin"
    start = time.perf_counter()
    if not (text_path.exists() and bin_path.exists()):
        generate(text_path, bin_path)
    result = {"generate_s": time.perf_counter() - start, "text_file_mb": text_path.stat().st_size / 2**20,
              "bin_file_mb": bin_path.stat().st_size / 2**20, "runs": {}, "machine": machine()}
    result["runs"]["import_word_vectors (streamed text)"] = {"file": "GloVe text", **in_subprocess("import", text_path)}
    result["runs"]["import_word_vectors (streamed word2vec binary)"] = {"file": "word2vec binary", **in_subprocess("import", bin_path)}
    if args.compare_gensim:
        result["runs"]["gensim load_word2vec_format, full text load"] = {"file": "GloVe text", **in_subprocess("gensim", text_path)}
    out = Path(args.out)
    (out / "word_vectors_import.json").write_text(json.dumps(result, indent=2))
    (out / "word_vectors_import.md").write_text(markdown(result))
    print(markdown(result))


def machine():
    """Commit and machine description."""
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {"commit": commit, "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "command": "flock /tmp/hf_rnn_bench.lock python " + " ".join(sys.argv)}


if __name__ == "__main__":
    main()
