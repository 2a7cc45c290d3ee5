"""Train word2vec (CBOW / skip-gram, negative sampling) and FastText with gensim, and save them safely.

The corpus is tokenised once into a temporary LineSentence file and gensim trains from it with
``corpus_file``, rather than an iterable that gensim would re-tokenise in Python on every pass under the GIL
(docs/results.md, "Word vectors from a corpus file"); ``corpus_file`` mode reads the file in gensim's C code in
every worker. The file is streamed (written text by text), so the corpus is never one big list in memory.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from .text import TokenizedCorpus, write_line_sentence_file

logger = logging.getLogger(__name__)

METHODS = ("cbow", "skipgram", "fasttext", "fasttext-skipgram")


def _model_class_and_sg(method: str):
    """Map a method name to (gensim class, sg flag)."""
    from gensim.models import FastText, Word2Vec

    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; choose one of {METHODS}.")
    cls = FastText if method.startswith("fasttext") else Word2Vec
    return cls, int(method.endswith("skipgram"))


def train_word_vectors(
    texts: Iterable[str],
    method: str = "cbow",
    tokenizer=None,
    vector_size: int = 100,
    window: int = 5,
    min_count: int = 5,
    negative: int = 5,
    epochs: int = 5,
    workers: int = 2,
    seed: int = 42,
    corpus_path: str | Path | None = None,
    **gensim_kwargs,
):
    """Train word vectors on raw texts, split the way ``tokenizer`` splits them.

    Args:
        texts: raw strings, iterated once (a list, a generator, a ``datasets.Dataset`` column...).
        method: ``"cbow"``, ``"skipgram"`` (word2vec with negative sampling), ``"fasttext"`` (CBOW with
            character n-grams) or ``"fasttext-skipgram"``.
        tokenizer: a ``PreTrainedTokenizerFast`` / ``tokenizers.Tokenizer`` whose normalizer and
            pre-tokenizer define the words, so the vectors line up with the model's vocabulary;
            ``None`` uses :func:`hf_rnn.embeddings.simple_split`.
        vector_size, window, min_count, negative, epochs, workers, seed: as in gensim.
        corpus_path: where to keep the tokenised LineSentence file (reused by later calls if it exists,
            e.g. to train several methods on one tokenisation); default a temporary file, deleted after.
        **gensim_kwargs: passed to ``gensim.models.Word2Vec`` / ``FastText`` (``sample``, ``alpha``,
            ``min_n``, ``max_n``...).

    Returns:
        The trained ``gensim.models.Word2Vec`` or ``gensim.models.FastText``; its vectors are ``.wv``.
        Progress is logged through gensim's ``logging`` (enable INFO to see it).
    """
    _model_class_and_sg(method)  # fail on a bad method before the (long) tokenisation pass
    if corpus_path is not None:
        if not Path(corpus_path).exists():
            write_line_sentence_file(TokenizedCorpus(texts, tokenizer), corpus_path)
        return _train_from_file(corpus_path, method, vector_size, window, min_count, negative, epochs,
                                workers, seed, **gensim_kwargs)
    with tempfile.TemporaryDirectory(prefix="hf_rnn_w2v_") as tmp:
        path = Path(tmp) / "corpus.txt"
        write_line_sentence_file(TokenizedCorpus(texts, tokenizer), path)
        return _train_from_file(path, method, vector_size, window, min_count, negative, epochs,
                                workers, seed, **gensim_kwargs)


def _train_from_file(path, method, vector_size, window, min_count, negative, epochs, workers, seed, **kwargs):
    """Run gensim on a LineSentence file (the fast, GIL-free ``corpus_file`` path)."""
    cls, sg = _model_class_and_sg(method)
    start = time.perf_counter()
    model = cls(corpus_file=str(path), sg=sg, hs=0, negative=negative, vector_size=vector_size,
                window=window, min_count=min_count, epochs=epochs, workers=workers, seed=seed, **kwargs)
    logger.info("%s: %d words x %d dims in %.1f s", method, len(model.wv), vector_size, time.perf_counter() - start)
    return model


def save_word_vectors(model, path: str | Path, binary: bool | None = None) -> Path:
    """Save vectors in a non-pickle format: word2vec text/binary, or Facebook's FastText ``.bin``.

    Args:
        model: a gensim ``Word2Vec``/``FastText`` model or ``KeyedVectors``.
        path: target file. A FastText *model* saved to ``*.bin`` is written in Facebook's format with
            its character n-grams (so out-of-vocabulary words keep subword vectors on import); all
            else in word2vec format (``.gz`` compresses), binary for ``.bin``/``.bin.gz``.
        binary: force word2vec binary (True) or text (False) instead of guessing from the suffix.

    Returns:
        ``path`` as a ``Path``. gensim's pickle ``.save()`` is deliberately not offered: loading a
        pickle runs arbitrary code.
    """
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    path = Path(path)
    is_bin = path.name.endswith((".bin", ".bin.gz"))
    if isinstance(model, FastText) and path.suffix == ".bin" and binary is None:
        save_facebook_model(model, str(path))
        return path
    kv = getattr(model, "wv", model)
    kv.save_word2vec_format(str(path), binary=is_bin if binary is None else binary)
    return path


def dataset_texts(dataset_name: str, split: str = "train+unsupervised", text_column: str = "text",
                  dataset_config_name: str | None = None, data_files: str | None = None,
                  max_texts: int | None = None, batch_size: int = 1_000):
    """Yield the texts of a ``datasets`` split batch by batch (Arrow-backed: never one big list).

    Args:
        dataset_name: a Hub name (``stanfordnlp/imdb``) or a local folder, or a builder such as
            ``"text"``/``"json"`` with ``data_files``.
        split: datasets split syntax; ``"train+unsupervised"`` concatenates IMDB's two text-only splits.
        text_column: the column holding the text.
        max_texts: stop after this many texts (quick runs).
    """
    import datasets

    dataset = datasets.load_dataset(dataset_name, dataset_config_name, data_files=data_files, split=split)
    if max_texts is not None:
        dataset = dataset.select(range(min(max_texts, len(dataset))))
    for batch in dataset.select_columns([text_column]).iter(batch_size=batch_size):
        yield from batch[text_column]
