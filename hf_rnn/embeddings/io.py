"""Recognise and read word-vector files: word2vec text/binary, GloVe text, Facebook FastText ``.bin``.

Pickle-based gensim files (``.model``, ``.kv``, anything ``KeyedVectors.load`` reads) are refused unless
the caller opts in with ``allow_pickle=True``: unpickling a file runs whatever code its author put in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

FORMATS = ("word2vec-text", "word2vec-binary", "glove-text", "fasttext-bin", "pickle")
_PICKLE_SUFFIXES = (".model", ".kv", ".pkl", ".pickle", ".wv")
_FASTTEXT_MAGIC = (793712314).to_bytes(4, "little")  # gensim.models._fasttext_bin._FASTTEXT_FILEFORMAT_MAGIC
_HEADER = re.compile(rb"^\s*(\d+)\s+(\d+)\s*$")


def _open(path, mode="rb", **kwargs):
    """Open plain or compressed (.gz, .bz2) files, as gensim does."""
    from gensim import utils

    return utils.open(str(path), mode, **kwargs)


def detect_vector_format(path: str | Path) -> str:
    """Guess a vector file's format from its first bytes (the suffix alone is ambiguous: ``.bin``
    is either word2vec binary or FastText, ``.gz`` anything).

    Returns:
        One of ``"word2vec-text"``, ``"word2vec-binary"``, ``"glove-text"``, ``"fasttext-bin"``,
        ``"pickle"``.

    Raises:
        ValueError: if the file matches none of them.
    """
    with _open(path) as f:
        head = f.read(1 << 16)
    pickled = head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")  # PROTO opcode
    if pickled or Path(path).name.endswith(_PICKLE_SUFFIXES):
        return "pickle"
    if head[:4] == _FASTTEXT_MAGIC:
        return "fasttext-bin"
    first, _, rest = head.partition(b"\n")
    if _HEADER.match(first):
        return "word2vec-text" if _is_text_row(rest.partition(b"\n")[0], int(_HEADER.match(first)[2])) else "word2vec-binary"
    if _is_text_row(first, None):
        return "glove-text"
    if Path(path).name.endswith((".bin", ".bin.gz")):
        return "fasttext-bin"  # fastText files older than v0.9 have no magic number; gensim reads them
    raise ValueError(f"{path}: not a word2vec text/binary, GloVe text or FastText .bin file.")


def _is_text_row(line: bytes, dim: int | None) -> bool:
    """True if ``line`` is ``word v1 ... vD`` in UTF-8 text (D = ``dim`` when known)."""
    try:
        fields = line.decode("utf-8").split()
        np.asarray(fields[1:], dtype=np.float32)
    except (UnicodeDecodeError, ValueError):
        return False
    return len(fields) >= 2 and (dim is None or len(fields) == dim + 1)


def text_vector_dim(path: str | Path, fmt: str) -> int:
    """Vector size of a word2vec (header) or GloVe (count the first row) text file."""
    with _open(path, "rt", encoding="utf-8") as f:
        first = f.readline().split()
    return int(first[1]) if fmt == "word2vec-text" else len(first) - 1


def iter_text_vectors(path: str | Path, fmt: str, unicode_errors: str = "strict") -> Iterator[tuple[str, str]]:
    """Stream ``(word, unparsed numbers)`` from a word2vec or GloVe text file, one row at a time.

    The numbers are left as text so callers parse only the rows they keep: parsing is the slow part,
    and most rows of a big file (GloVe: 400k words) are not in a model's vocabulary.
    Words may contain spaces (GloVe 840B has some): the row is split from the right.
    """
    dim = text_vector_dim(path, fmt)
    with _open(path, "rt", encoding="utf-8", errors=unicode_errors) as f:
        if fmt == "word2vec-text":
            next(f)
        for line in f:
            if line.strip():
                yield _split_row(line, dim)


def iter_binary_vectors(path: str | Path, unicode_errors: str = "strict") -> Iterator[tuple[str, bytes]]:
    """Stream ``(word, raw float32 bytes)`` from a word2vec binary file, one row at a time.

    gensim's reader loads every row (GoogleNews: 3M x 300 floats, 3.6 GB) to import the ~30k a model needs;
    this keeps memory at one row. Layout: a ``count dim`` header line, then per row the word, a space and
    ``dim`` little-endian float32 values, optionally followed by a newline.
    """
    with _open(path, "rb") as f:
        count, dim = (int(v) for v in f.readline().split())
        width = 4 * dim
        for _ in range(count):
            word = _read_binary_word(f).decode("utf-8", errors=unicode_errors)
            payload = f.read(width)
            if len(payload) != width:
                raise ValueError(f"{path}: row for {word!r} is cut short; is the file truncated?")
            yield word, payload


def _read_binary_word(f) -> bytes:
    """Bytes up to the next space, skipping the newline that some writers put after each vector."""
    word = bytearray()
    while (char := f.read(1)) != b" ":
        if not char:
            raise ValueError("word2vec binary file ends inside a word; is the file truncated?")
        if char != b"\n":
            word += char
    return bytes(word)


def binary_vector_dim(path: str | Path) -> int:
    """Vector size from a word2vec binary file's header."""
    with _open(path, "rb") as f:
        return int(f.readline().split()[1])


def parse_binary_row(payload: bytes, word: str) -> np.ndarray:
    """One row's float32 values (little-endian, as word2vec writes them)."""
    return np.frombuffer(payload, dtype="<f4").astype(np.float32)


def _split_row(line: str, dim: int) -> tuple[str, str]:
    """Split ``word v1 ... vD`` into (word, numbers); fast path when the word has no space."""
    word, _, numbers = line.rstrip().partition(" ")
    if numbers.count(" ") != dim - 1:  # a word with spaces, or irregular spacing
        parts = line.split()
        word, numbers = " ".join(parts[:-dim]), " ".join(parts[-dim:])
    return word, numbers


def parse_numbers(numbers: str, dim: int, word: str) -> np.ndarray:
    """Parse one row's numbers into a float32 vector, checking its length."""
    row = np.asarray(numbers.split(), dtype=np.float32)
    if row.shape != (dim,):
        raise ValueError(f"Row for {word!r} has {row.size} numbers, expected {dim}; is the file truncated?")
    return row


def load_keyed_vectors(path: str | Path, fmt: str | None = None, allow_pickle: bool = False):
    """Load a whole vector file into a gensim ``KeyedVectors`` with gensim's own readers.

    Args:
        path: a word2vec text/binary, GloVe text, FastText ``.bin`` file (optionally compressed).
        fmt: one of :data:`FORMATS`; detected from the content when ``None``.
        allow_pickle: also accept gensim's pickle-based ``.model``/``.kv`` files (``gensim`` ``load()``).
            **Security risk**: unpickling executes code chosen by the file's author; only enable it for
            files you created yourself or fully trust.

    Returns:
        ``KeyedVectors`` (``FastTextKeyedVectors`` for FastText files, which also give vectors for
        out-of-vocabulary words from character n-grams).

    Raises:
        ValueError: for a pickle file without ``allow_pickle=True``, or an unrecognised format.
    """
    from gensim.models import KeyedVectors
    from gensim.models.fasttext import load_facebook_vectors

    fmt = fmt or detect_vector_format(path)
    if fmt == "pickle":
        return _load_pickle(path, allow_pickle)
    if fmt == "fasttext-bin":
        return load_facebook_vectors(str(path))
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format {fmt!r}; choose one of {FORMATS}.")
    return KeyedVectors.load_word2vec_format(str(path), binary=fmt == "word2vec-binary", no_header=fmt == "glove-text")


def _load_pickle(path, allow_pickle: bool):
    """gensim ``SaveLoad.load`` behind the explicit opt-in; returns the model's ``.wv`` if it has one."""
    if not allow_pickle:
        raise ValueError(
            f"{path} is a pickle-based gensim file (.model/.kv); loading it can execute arbitrary code. "
            "Convert it where it was made with `model.wv.save_word2vec_format(path, binary=True)` (or "
            "`gensim.models.fasttext.save_facebook_model`), or pass allow_pickle=True if you trust its source."
        )
    from gensim.utils import SaveLoad

    obj = SaveLoad.load(str(path))
    return getattr(obj, "wv", obj)
