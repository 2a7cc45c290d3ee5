#!/usr/bin/env python
"""Train CBOW, skip-gram and FastText on IMDB train+unsupervised and measure time and quality.

    flock /tmp/hf_rnn_bench.lock python bench/bench_word_vectors.py

Words are split by hf_rnn's IMDB word-level tokenizer (trained here on IMDB train, 30k words), as a
model's would be; the corpus is tokenised once and shared by the three runs. Per method: training time,
analogy accuracy (gensim's questions-words.txt), WordSim-353 / SimLex-999 Spearman, king - man + woman,
nearest neighbours, and coverage of the tokenizer's vocabulary when imported into an RNNForCausalLM.
Writes bench/results/word_vectors_imdb.{json,md} and word_vectors_pairs_<method>.png.
"""

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from hf_rnn import RNNConfig, RNNForCausalLM
from hf_rnn.embeddings import (TokenizedCorpus, analogy, evaluate_word_vectors, import_word_vectors,
                               nearest_neighbours, plot_analogy_pairs, save_word_vectors, train_word_vectors,
                               write_line_sentence_file)
from hf_rnn.embeddings.train import dataset_texts
from hf_rnn.tokenization import batch_iterator, train_word_level_tokenizer

PROBE_WORDS = ["good", "bad", "movie", "actor", "boring", "hitchcock"]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=os.environ.get("HF_RNN_IMDB_PATH", "stanfordnlp/imdb"),
                        help="IMDB folder or Hub id (default: $HF_RNN_IMDB_PATH, else the Hub's stanfordnlp/imdb)")
    parser.add_argument("--split", default="train+unsupervised")
    parser.add_argument("--methods", nargs="+", default=["cbow", "skipgram", "fasttext"])
    parser.add_argument("--vector_size", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--min_count", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max_texts", type=int, default=None)
    parser.add_argument("--corpus_file", default="/tmp/hf_rnn_imdb_corpus.txt")
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--save_dir", default="/tmp/hf_rnn_word_vectors",
                        help="Keep the tokenizer and word2vec-format vectors here (for bench_init_classifier.py).")
    return parser.parse_args()


def prepare(args):
    """Train the word-level tokenizer on IMDB train and tokenise the corpus once with it."""
    import datasets

    start = time.perf_counter()
    tokenizer = train_word_level_tokenizer(batch_iterator(datasets.load_dataset(args.dataset, split="train")))
    tokenizer_s = time.perf_counter() - start
    tokenizer.save_pretrained(Path(args.save_dir) / "tokenizer")
    start = time.perf_counter()
    texts = dataset_texts(args.dataset, args.split, max_texts=args.max_texts)
    n_words = write_line_sentence_file(TokenizedCorpus(texts, tokenizer), args.corpus_file)
    return tokenizer, {"tokenizer_train_s": tokenizer_s, "tokenise_s": time.perf_counter() - start,
                       "corpus_words": n_words, "tokenizer_vocab": len(tokenizer)}


def run_method(method, args, tokenizer, out):
    """Train one method from the shared corpus file; score it; import it into a model for coverage."""
    start = time.perf_counter()
    model = train_word_vectors([], method, vector_size=args.vector_size, epochs=args.epochs, min_count=args.min_count,
                               workers=args.workers, corpus_path=args.corpus_file)
    seconds = time.perf_counter() - start
    kv = model.wv
    save_word_vectors(model.wv, Path(args.save_dir) / f"imdb_{method}{args.vector_size}.bin")
    scores = evaluate_word_vectors(kv)
    lm = RNNForCausalLM(RNNConfig(cell_type="lstm", vocab_size=len(tokenizer), embedding_size=args.vector_size,
                                  hidden_size=32, num_hidden_layers=1, pad_token_id=0, tie_word_embeddings=True))
    coverage = import_word_vectors(lm, kv, tokenizer)
    plot = out / f"word_vectors_pairs_{method}.png"
    plot_analogy_pairs(kv, plot, title=f"IMDB {method} {args.vector_size}-d: 2-D PCA of word pairs")
    return {"method": method, "train_s": seconds, "vocab": len(kv), **scores,
            "king_man_woman": analogy(kv, "man", "king", "woman"),
            "neighbours": nearest_neighbours(kv, PROBE_WORDS, topn=8),
            "coverage": coverage.to_dict(), "plot": str(plot)}


def machine():
    """Commit and machine description for the results file."""
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    import gensim

    return {"commit": commit, "python": platform.python_version(), "gensim": gensim.__version__,
            "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "command": "flock /tmp/hf_rnn_bench.lock python " + " ".join(sys.argv)}


def markdown(result) -> str:
    """Results table."""
    prep = result["prepare"]
    lines = [f"# Word vectors on IMDB {result['args']['split']} ({prep['corpus_words']:,} words)", "",
             f"Command: `{result['machine']['command']}` at commit `{result['machine']['commit'][:10]}`, "
             f"{result['machine']['cpu_count']} CPUs, gensim {result['machine']['gensim']}, workers "
             f"{result['args']['workers']}, {result['args']['vector_size']}-d, {result['args']['epochs']} epochs, "
             f"min_count {result['args']['min_count']}.", "",
             f"Tokenizer (hf_rnn word-level, {prep['tokenizer_vocab']} words) trained in {prep['tokenizer_train_s']:.0f} s; "
             f"corpus tokenised once in {prep['tokenise_s']:.0f} s.", "",
             "| method | train s | vocab | analogy acc | questions | WordSim-353 rho | SimLex-999 rho | "
             "tokenizer vocab covered (exact/subword) | king - man + woman |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in result["runs"]:
        c = r["coverage"]
        lines.append(f"| {r['method']} | {r['train_s']:.0f} | {r['vocab']:,} | {r['analogy_accuracy']:.1%} | "
                     f"{r['analogy_questions']:,} | {r['wordsim353']['spearman']:.3f} | {r['simlex999']['spearman']:.3f} | "
                     f"{c['coverage']:.1%} ({c['exact']}/{c['subword']}) | "
                     f"{', '.join(w for w, _ in r['king_man_woman'][:3])} |")
    return "\n".join(lines) + "\n"


def main():
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer, prep = prepare(args)
    result = {"args": vars(args), "machine": machine(), "prepare": prep, "runs": []}
    for method in args.methods:
        result["runs"].append(run_method(method, args, tokenizer, out))
        (out / "word_vectors_imdb.json").write_text(json.dumps(result, indent=2))  # keep partial results
    (out / "word_vectors_imdb.md").write_text(markdown(result))
    os.remove(args.corpus_file)


if __name__ == "__main__":
    main()
