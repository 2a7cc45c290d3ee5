#!/usr/bin/env python
"""Train word2vec (CBOW / skip-gram) or FastText vectors on a text dataset, split like a model's tokenizer.

Example (IMDB train+unsupervised, the lecture's CBOW 100-d, 5 epochs):

    python scripts/train_word_vectors.py --dataset_name $HF_RNN_IMDB_PATH \
        --tokenizer_name_or_path out/tokenizer --method cbow --output_file out/imdb_cbow100.bin
    python scripts/train_word_vectors.py vectors.yaml     # every argument from one .json/.yaml file

Saves word2vec text/binary (or Facebook ``.bin`` for FastText, keeping subwords), never a pickle, and
writes ``<output_file>.eval.json`` with analogy / similarity scores.
"""

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser

from hf_rnn.embeddings import evaluate_word_vectors, plot_analogy_pairs, save_word_vectors, train_word_vectors
from hf_rnn.embeddings.train import dataset_texts
from hf_rnn.training.hub import push_files
from hf_rnn.training.script_args import parse_script_arguments


@dataclass
class WordVectorArguments:
    output_file: str = field(metadata={"help": "Vector file: .txt/.vec (word2vec text), .bin (binary; Facebook "
                                               "format for FastText), optionally .gz."})
    dataset_name: str = field(default="stanfordnlp/imdb", metadata={"help": "Hub name, local folder, or builder (text/json)."})
    dataset_config_name: str = field(default=None, metadata={"help": "Dataset configuration."})
    data_files: str = field(default=None, metadata={"help": "Files for a builder such as 'text'."})
    split: str = field(default="train+unsupervised", metadata={"help": "Split(s), datasets syntax."})
    text_column: str = field(default="text", metadata={"help": "Column with the raw text."})
    max_texts: int = field(default=None, metadata={"help": "Use only the first N texts."})
    tokenizer_name_or_path: str = field(default=None, metadata={
        "help": "Tokenizer folder or tokenizer.json whose normalizer + pre-tokenizer define words (default: "
                "lowercase + regex split)."})
    method: str = field(default="cbow", metadata={"help": "cbow, skipgram, fasttext or fasttext-skipgram."})
    vector_size: int = field(default=100, metadata={"help": "Vector dimensions."})
    window: int = field(default=5, metadata={"help": "Context window."})
    min_count: int = field(default=5, metadata={"help": "Ignore rarer words."})
    negative: int = field(default=5, metadata={"help": "Negative samples."})
    epochs: int = field(default=5, metadata={"help": "Passes over the corpus."})
    workers: int = field(default=2, metadata={"help": "Training threads."})
    seed: int = field(default=42, metadata={"help": "Random seed."})
    evaluate: bool = field(default=True, metadata={"help": "Score analogies and word-pair similarity."})
    plot_file: str = field(default=None, metadata={"help": "PNG for the PCA pair plot (needs matplotlib)."})
    push_to_hub: bool = field(default=False, metadata={
        "help": "Upload the vector file (with its scores and plot) to the Hub repo --hub_model_id."})
    hub_model_id: str = field(default=None, metadata={
        "help": "The Hub repo (`name` or `owner/name`); default: the name of the output file's folder."})


def load_tokenizer(name_or_path):
    """A tokenizer.json file, a tokenizer folder / Hub name, or None."""
    if name_or_path is None:
        return None
    if name_or_path.endswith(".json"):
        from tokenizers import Tokenizer

        return Tokenizer.from_file(name_or_path)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name_or_path)


def main(argv=None):
    logging.basicConfig(format="%(asctime)s %(name)s %(message)s", level=logging.INFO)
    (args,) = parse_script_arguments(HfArgumentParser(WordVectorArguments), argv)
    check_pushable(args)
    texts = dataset_texts(args.dataset_name, args.split, args.text_column, args.dataset_config_name,
                          args.data_files, args.max_texts)
    model = train_word_vectors(texts, args.method, load_tokenizer(args.tokenizer_name_or_path), args.vector_size,
                               args.window, args.min_count, args.negative, args.epochs, args.workers, args.seed)
    save_word_vectors(model, args.output_file)
    if args.evaluate:
        scores = evaluate_word_vectors(model.wv)
        with open(args.output_file + ".eval.json", "w") as f:
            json.dump(scores, f, indent=2)
        logging.info("analogy accuracy %.1f%% over %d questions", 100 * scores["analogy_accuracy"],
                     scores["analogy_questions"])
    if args.plot_file:
        plot_analogy_pairs(model.wv, args.plot_file, title=f"{args.method} {args.vector_size}-d")
    if args.push_to_hub:
        push_vectors(args)
    return model


def check_pushable(args):
    """--push_to_hub uploads the output file's folder: refuse, before training, a plot written elsewhere."""
    if args.push_to_hub and args.plot_file and \
            Path(args.plot_file).resolve().parent != Path(args.output_file).resolve().parent:
        raise ValueError(f"--push_to_hub uploads one folder: write --plot_file beside {args.output_file}.")


def push_vectors(args):
    """The vector file, its scores and plot (what this run wrote, nothing else in their folder) to the Hub."""
    written = [Path(args.output_file), Path(args.output_file + ".eval.json")] + (
        [Path(args.plot_file)] if args.plot_file else [])
    names = [path.name for path in written if path.is_file()]
    repo_id = push_files(Path(args.output_file).resolve().parent, args.hub_model_id,
                         f"hf_rnn {args.method} word vectors, {args.vector_size}-d", allow_patterns=names)
    logging.info("Pushed %s to https://huggingface.co/%s", ", ".join(names), repo_id)


if __name__ == "__main__":
    main(sys.argv[1:])
