"""Import pretrained word vectors into a model's input embedding (and so its tied output layer).

gensim's ``intersect_word2vec_format`` semantics, made explicit: keep *the model's* vocabulary, take the
file's vector where the word is present (exact spelling first, then any casing), give FastText's
subword vector to the remaining words when the source has character n-grams, initialise the rest
deliberately, and report how many rows came from where.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from .io import (binary_vector_dim, detect_vector_format, iter_binary_vectors, iter_text_vectors, load_keyed_vectors,
                 parse_binary_row, parse_numbers, text_vector_dim)

logger = logging.getLogger(__name__)

INITS = ("normal", "zeros", "keep")
PROJECTIONS = (None, "pca", "random")


@dataclass
class VectorCoverage:
    """Where each row of the imported embedding came from.

    ``exact + lowercase + subword + initialised == vocab_size``. Special tokens are never looked up in
    the file (a file's ``<unk>`` has other semantics) and count as initialised (also in ``special``).
    ``coverage`` counts only words the file holds (exact or another casing); FastText's subword vectors are
    reported apart (``subword_share``): with hashed n-grams almost every word gets one, even from a 22-word
    file, and such a vector is only a guess from pieces of the word.
    """

    vocab_size: int
    exact: int = 0
    lowercase: int = 0
    subword: int = 0
    initialised: int = 0
    special: int = 0
    source: str = ""
    source_format: str = ""
    source_dim: int = 0
    embedding_size: int = 0
    projection: str | None = None
    seconds: float = 0.0
    missing_examples: list[str] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        """Fraction of the vocabulary whose word (in its own or another casing) is in the file."""
        return (self.exact + self.lowercase) / max(self.vocab_size, 1)

    @property
    def subword_share(self) -> float:
        """Fraction of the vocabulary that got only a FastText subword (character n-gram) vector."""
        return self.subword / max(self.vocab_size, 1)

    @property
    def missing(self) -> int:
        """Words (special tokens excluded) that got no vector from the file and were initialised."""
        return self.initialised - self.special

    def to_dict(self) -> dict:
        """Plain dict (JSON-ready), with ``coverage``, ``subword_share`` and ``missing`` included."""
        return {**asdict(self), "coverage": self.coverage, "subword_share": self.subword_share, "missing": self.missing}

    def __str__(self) -> str:
        return (f"{self.vocab_size} words from {self.source} ({self.source_format}, {self.source_dim}-d): "
                f"{self.coverage:.1%} in the file (exact {self.exact}, lowercase {self.lowercase}), "
                f"{self.subword_share:.1%} subword only ({self.subword}), {self.missing} missing and "
                f"{self.special} special tokens initialised, in {self.seconds:.1f} s")


@dataclass
class _Matches:
    """Rows found in a source: by token id (exact) and by lowercased word."""

    dim: int
    exact: dict = field(default_factory=dict)
    lower: dict = field(default_factory=dict)
    subwords: _Subwords | None = None  # FastText sources: vectors for words the file lacks


@dataclass
class _Subwords:
    """A FastText model's character n-gram vectors, limited to the n-gram buckets its training moved."""

    keyed_vectors: object
    trained: np.ndarray  # sorted ids of the buckets that some word of the file fills

    @classmethod
    def of(cls, kv) -> _Subwords | None:
        """The lookup for a ``FastTextKeyedVectors`` with n-grams; None for any other source."""
        from gensim.models.fasttext import FastTextKeyedVectors

        if not isinstance(kv, FastTextKeyedVectors) or kv.bucket == 0:
            return None
        if kv.buckets_word is None:
            kv.recalc_char_ngram_buckets()
        used = [np.asarray(buckets, dtype=np.int64) for buckets in kv.buckets_word]
        return cls(kv, np.unique(np.concatenate(used)) if used else np.empty(0, np.int64))

    def vector(self, word: str) -> np.ndarray | None:
        """The word's n-gram vector, or None when none of its n-grams was trained.

        Training moves only the buckets of the file's own words' n-grams; the others keep their random initial
        values, so a vector built from them alone is noise, not a guess from pieces of the word.
        """
        from gensim.models.fasttext import ft_ngram_hashes

        kv = self.keyed_vectors
        if not np.isin(ft_ngram_hashes(word, kv.min_n, kv.max_n, kv.bucket), self.trained).any():
            return None
        vector = kv.get_vector(word)
        return vector if np.any(vector) else None  # gensim returns zeros when no n-gram fits the word


def vocab_of(vocab) -> tuple[dict[str, int], set[str]]:
    """``(word -> id, special tokens)`` from a ``PreTrainedTokenizerFast``, ``tokenizers.Tokenizer`` or dict."""
    if isinstance(vocab, Mapping):
        return dict(vocab), set()
    if not hasattr(vocab, "get_vocab"):
        raise TypeError(f"Expected a tokenizer or a word->id dict, got {type(vocab).__name__}.")
    specials = set(getattr(vocab, "all_special_tokens", None) or [])
    if not specials and hasattr(vocab, "get_added_tokens_decoder"):  # a bare tokenizers.Tokenizer
        specials = {t.content for t in vocab.get_added_tokens_decoder().values() if t.special}
    return dict(vocab.get_vocab()), specials


def _match_rows(pairs, words: dict[str, int], lowercase: bool, parse, dim: int) -> _Matches:
    """Keep only the rows a vocabulary word needs, parsing nothing else (the speed of big text files)."""
    lower_keys = {w.lower() for w in words} if lowercase else set()
    found = _Matches(dim)
    for word, payload in pairs:
        i = words.get(word)
        key = word.lower() if lowercase else None
        need_lower = key in lower_keys and key not in found.lower
        if (i is None or i in found.exact) and not need_lower:
            continue
        row = parse(payload, word)
        if i is not None and i not in found.exact:
            found.exact[i] = row
        if need_lower:  # the first casing wins: files list frequent forms first
            found.lower[key] = row
    return found


def _match_source(vectors, words, lowercase, fmt, allow_pickle) -> tuple[_Matches, str, str]:
    """Match a path (text formats streamed, others via gensim) or an in-memory KeyedVectors."""
    if isinstance(vectors, (str, Path)):
        fmt = fmt or detect_vector_format(vectors)
        if fmt in ("word2vec-text", "glove-text"):
            # Streamed on purpose: gensim's load_word2vec_format(limit=...) keeps the *first* rows, not
            # the vocabulary's, and a full load holds all 400k GloVe rows to use ~30k of them.
            dim = text_vector_dim(vectors, fmt)
            pairs = iter_text_vectors(vectors, fmt)
            return _match_rows(pairs, words, lowercase, lambda s, w: parse_numbers(s, dim, w), dim), str(vectors), fmt
        if fmt == "word2vec-binary":  # streamed for the same reason: a full load holds every row in memory
            dim = binary_vector_dim(vectors)
            return _match_rows(iter_binary_vectors(vectors), words, lowercase, parse_binary_row, dim), str(vectors), fmt
        kv, source = load_keyed_vectors(vectors, fmt, allow_pickle), str(vectors)
    else:
        kv, fmt, source = vectors, type(vectors).__name__, type(vectors).__name__
    pairs = ((word, i) for i, word in enumerate(kv.index_to_key))
    found = _match_rows(pairs, words, lowercase, lambda i, w: kv.vectors[i], kv.vector_size)
    found.subwords = _Subwords.of(kv)
    return found, source, fmt


def _resolve(words, specials, found: _Matches, lowercase: bool, coverage: VectorCoverage):
    """Pick each word's row (exact > lowercase > subword); returns (ids, rows, missing ids)."""
    ids, rows, missing = [], [], []
    for word, i in sorted(words.items(), key=lambda item: item[1]):
        if word in specials:
            kind, row = "special", None
        elif i in found.exact:
            kind, row = "exact", found.exact[i]
        elif lowercase and word.lower() in found.lower:
            kind, row = "lowercase", found.lower[word.lower()]
        else:
            row = found.subwords.vector(word) if found.subwords is not None else None
            kind = "initialised" if row is None else "subword"
        if row is None:
            missing.append(i)
            coverage.initialised += 1
            coverage.special += kind == "special"
            if kind != "special" and len(coverage.missing_examples) < 20:
                coverage.missing_examples.append(word)
        else:
            ids.append(i)
            rows.append(_require_finite(row, word, coverage.source))
            setattr(coverage, kind, getattr(coverage, kind) + 1)
    return ids, rows, missing


def _require_finite(row: np.ndarray, word: str, source: str) -> np.ndarray:
    # Text and word2vec binary files are checked row by row as they are read; this covers KeyedVectors and .bin.
    if not np.isfinite(row).all():
        raise ValueError(f"{source}: the vector of {word!r} holds NaN or inf, and word vectors must be finite; "
                         "re-save or re-train the vectors.")
    return row


def project_vectors(rows: np.ndarray, size: int, projection: str | None, seed: int = 0) -> np.ndarray:
    """Map ``(n, D)`` vectors to ``(n, size)``.

    Args:
        rows: the vectors.
        size: the model's ``embedding_size``.
        projection: ``None`` (sizes must match), ``"pca"`` (top ``size`` principal components of these
            rows; needs ``size <= D``) or ``"random"`` (Gaussian matrix scaled by ``1/sqrt(size)``, which
            roughly preserves lengths and angles; any sizes).

    Raises:
        ValueError: on a size mismatch without a projection, or an impossible PCA.
    """
    dim = rows.shape[1]
    if dim == size:
        return rows
    if projection is None:
        raise ValueError(
            f"The vectors have {dim} dimensions but the model's input embedding has {size}. Build the model "
            f"with embedding_size={dim}, or pass projection='pca' (needs {size} <= {dim}) or projection='random'."
        )
    if projection == "pca":
        if size > min(dim, len(rows)):
            raise ValueError(f"PCA cannot give {size} dimensions from {len(rows)} vectors of size {dim}; use 'random'.")
        centred = rows - rows.mean(axis=0)
        _, _, components = np.linalg.svd(centred, full_matrices=False)  # (n, D) -> components (D, D)
        return centred @ components[:size].T  # (n, D) @ (D, size) -> (n, size)
    if projection == "random":
        matrix = np.random.default_rng(seed).standard_normal((dim, size)) / np.sqrt(size)
        return rows @ matrix  # (n, D) @ (D, size) -> (n, size)
    raise ValueError(f"Unknown projection {projection!r}; choose one of {PROJECTIONS}.")


def _initial_rows(n: int, rows: np.ndarray, init: str, seed: int) -> np.ndarray | None:
    """Rows for words without a vector: N(mean, std) of the imported vectors per dimension, or zeros."""
    if init == "keep":
        return None
    if init == "zeros":
        return np.zeros((n, rows.shape[1]), dtype=np.float32)
    if init == "normal":
        rng = np.random.default_rng(seed)
        return rng.normal(rows.mean(axis=0), rows.std(axis=0), size=(n, rows.shape[1])).astype(np.float32)
    raise ValueError(f"Unknown init {init!r}; choose one of {INITS}.")


def _input_embedding(model) -> torch.nn.Embedding:
    """The model's ``nn.Embedding`` (or the embedding itself)."""
    embedding = model if isinstance(model, torch.nn.Embedding) else model.get_input_embeddings()
    if not isinstance(embedding, torch.nn.Embedding):
        raise TypeError(f"get_input_embeddings() returned {type(embedding).__name__}, expected nn.Embedding.")
    return embedding


def _write_rows(embedding: torch.nn.Embedding, ids: list[int], rows: np.ndarray | None) -> None:
    """Write rows in place under no_grad, so a tied output layer (same Parameter) follows."""
    if rows is None or not len(ids):
        return
    weight = embedding.weight
    with torch.no_grad():
        index = torch.as_tensor(ids, dtype=torch.long, device=weight.device)
        weight[index] = torch.as_tensor(rows, dtype=weight.dtype, device=weight.device)


def set_embeddings_trainable(model, trainable: bool) -> None:
    """Freeze (``False``) or unfreeze (``True``) the input embedding.

    With tied weights the output layer shares the same Parameter, so it is frozen too.
    """
    _input_embedding(model).weight.requires_grad_(trainable)


def import_word_vectors(
    model,
    vectors,
    vocab,
    *,
    lowercase: bool = True,
    init: str = "normal",
    projection: str | None = None,
    freeze: bool | None = None,
    fmt: str | None = None,
    allow_pickle: bool = False,
    seed: int = 0,
) -> VectorCoverage:
    """Initialise a model's input embedding from pretrained word vectors, keeping the model's vocabulary.

    Each token id gets, in order of preference: the source's vector for the same word; for the same
    word in another casing (the first one in the file, usually the most frequent); FastText's subword
    vector (FastText ``.bin`` / ``FastTextKeyedVectors`` only); else ``init``. Rows are written in place
    under ``torch.no_grad()``, so an output layer tied to the input embedding follows.

    Args:
        model: a model with ``get_input_embeddings()`` returning ``nn.Embedding`` (any hf_rnn model), or
            the ``nn.Embedding`` itself.
        vectors: a gensim ``KeyedVectors`` or a path to a word2vec text/binary (``.vec``, ``.txt``,
            ``.bin``, optionally ``.gz``), GloVe text (no header) or Facebook FastText ``.bin`` file; the
            format is detected from the content. Text files are streamed, keeping only vocabulary rows.
        vocab: the model's tokenizer (``get_vocab()`` gives word -> id; its special tokens are not looked
            up) or a ``word -> id`` dict.
        lowercase: fall back to a differently cased form of the word.
        init: rows without a vector: ``"normal"`` (per-dimension mean and std of the imported vectors,
            so they are neither larger nor smaller than the rest), ``"zeros"`` or ``"keep"`` (the model's
            own initialisation). The embedding's ``padding_idx`` row is set to zero in all cases but keep.
        projection: what to do when the vector size differs from ``embedding_size``: ``None`` raises,
            ``"pca"`` / ``"random"`` project (see :func:`project_vectors`).
        freeze: ``True`` sets ``requires_grad=False`` on the embedding (and its tied output layer),
            ``False`` sets it back to ``True``, ``None`` leaves it.
        fmt: force a format (see :data:`hf_rnn.embeddings.io.FORMATS`) instead of detecting it.
        allow_pickle: accept gensim's pickle-based ``.model``/``.kv`` files. **Security risk**: unpickling
            runs code chosen by the file's author; only for files you made or fully trust.
        seed: seed for ``init="normal"`` and ``projection="random"``.

    Returns:
        :class:`VectorCoverage`, also logged at INFO.

    Raises:
        ValueError: size mismatch without projection, no word found, token ids outside the embedding,
            a pickle file without ``allow_pickle``, or an unknown format.
    """
    start = time.perf_counter()
    embedding = _input_embedding(model)
    words, specials = vocab_of(vocab)
    specials |= {w for w, i in words.items() if i == embedding.padding_idx}
    _check_ids(words, embedding.num_embeddings)
    found, source, fmt = _match_source(vectors, words, lowercase, fmt, allow_pickle)
    coverage = VectorCoverage(len(words), source=source, source_format=fmt, source_dim=found.dim,
                              embedding_size=embedding.embedding_dim, projection=projection)
    ids, rows, missing = _resolve(words, specials, found, lowercase, coverage)
    if not ids:
        raise ValueError(f"None of the {len(words)} vocabulary words is in {source}; do the tokenizer and the "
                         "vectors agree on normalisation (casing, accents, punctuation)?")
    rows = project_vectors(np.stack(rows).astype(np.float32), embedding.embedding_dim, projection, seed)
    _write_rows(embedding, missing, _initial_rows(len(missing), rows, init, seed))
    _write_rows(embedding, ids, rows)
    _zero_padding_row(embedding, init)
    if freeze is not None:
        set_embeddings_trainable(embedding, not freeze)
    coverage.seconds = time.perf_counter() - start
    logger.info("Imported word vectors: %s", coverage)
    return coverage


def _check_ids(words: dict[str, int], num_embeddings: int) -> None:
    """Every token id must have a row in the embedding."""
    too_big = [w for w, i in words.items() if i >= num_embeddings]
    if too_big:
        raise ValueError(f"{len(too_big)} tokens (e.g. {too_big[:3]}) have ids >= the embedding's "
                         f"{num_embeddings} rows; build the model with vocab_size=len(tokenizer).")


def _zero_padding_row(embedding: torch.nn.Embedding, init: str) -> None:
    """nn.Embedding keeps the padding row at zero (it gets no gradient); keep that contract."""
    if embedding.padding_idx is not None and init != "keep":
        with torch.no_grad():
            embedding.weight[embedding.padding_idx].zero_()
