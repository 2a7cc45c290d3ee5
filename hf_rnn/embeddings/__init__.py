"""Word vectors through gensim: train word2vec/FastText, import them into a model, export, evaluate."""

from .text import TokenizedCorpus, simple_split, word_splitter, write_line_sentence_file
from .train import METHODS, save_word_vectors, train_word_vectors

__all__ = [
    "METHODS",
    "TokenizedCorpus",
    "save_word_vectors",
    "simple_split",
    "train_word_vectors",
    "word_splitter",
    "write_line_sentence_file",
]
