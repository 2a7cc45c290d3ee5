"""Word vectors through gensim: train word2vec/FastText, import them into a model, export, evaluate.

Needs only gensim (a core dependency); plotting imports matplotlib lazily.
"""

from .evaluation import (
    DEFAULT_PLOT_PAIRS,
    analogy,
    evaluate_word_vectors,
    nearest_neighbours,
    pca_2d,
    plot_analogy_pairs,
)
from .export import export_word_vectors
from .importing import VectorCoverage, import_word_vectors, project_vectors, set_embeddings_trainable
from .io import FORMATS, detect_vector_format, iter_text_vectors, load_keyed_vectors
from .text import TokenizedCorpus, simple_split, word_splitter, write_line_sentence_file
from .train import METHODS, save_word_vectors, train_word_vectors

__all__ = [
    "DEFAULT_PLOT_PAIRS",
    "FORMATS",
    "METHODS",
    "TokenizedCorpus",
    "VectorCoverage",
    "analogy",
    "detect_vector_format",
    "evaluate_word_vectors",
    "export_word_vectors",
    "import_word_vectors",
    "iter_text_vectors",
    "load_keyed_vectors",
    "nearest_neighbours",
    "pca_2d",
    "plot_analogy_pairs",
    "project_vectors",
    "save_word_vectors",
    "set_embeddings_trainable",
    "simple_split",
    "train_word_vectors",
    "word_splitter",
    "write_line_sentence_file",
]
