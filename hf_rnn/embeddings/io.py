"""Recognise and read word-vector files: word2vec text/binary, GloVe text, Facebook FastText ``.bin``.

Pickle-based gensim files (``.model``, ``.kv``, anything ``KeyedVectors.load`` reads) are refused unless
the caller opts in with ``allow_pickle=True``: unpickling a file runs whatever code its author put in it.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

FORMATS = ("word2vec-text", "word2vec-binary", "glove-text", "fasttext-bin", "pickle")
_PICKLE_SUFFIXES = (".model", ".kv", ".pkl", ".pickle", ".wv")
_FASTTEXT_MAGIC = (793712314).to_bytes(4, "little")  # gensim.models._fasttext_bin._FASTTEXT_FILEFORMAT_MAGIC
_HEADER = re.compile(rb"^\s*(\d+)\s+(\d+)\s*$")
_COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")
_FIX_ROW = "fix the row, or delete the line and lower a word2vec header's row count by one."


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
        # any count of numbers: a row of the wrong length is reported by the text reader, with its line
        return "word2vec-text" if _is_text_row(rest.partition(b"\n")[0], None) else "word2vec-binary"
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

    Raises:
        ValueError: naming the file and line, for a row with fewer numbers than the vector size (a silently
            re-initialised word otherwise), a NaN or infinite value, or a word2vec header whose row count
            differs from the rows that follow (a truncated or concatenated file).
    """
    dim = text_vector_dim(path, fmt)
    rows = 0
    with _open(path, "rt", encoding="utf-8", errors=unicode_errors) as f:
        header = next(f).split() if fmt == "word2vec-text" else None
        for number, line in enumerate(f, start=2 if header else 1):
            if line.strip():
                rows += 1
                yield _split_row(line, dim, f"{path} line {number}")
    if header and rows != int(header[0]):
        raise ValueError(f"{path} line 1: the header says {header[0]} rows but {rows} follow; the file is truncated "
                         f"or edited: restore it, or write '{rows} {dim}' as its first line.")


def iter_binary_vectors(path: str | Path, unicode_errors: str = "strict") -> Iterator[tuple[str, bytes]]:
    """Stream ``(word, raw float32 bytes)`` from a word2vec binary file, one row at a time.

    gensim's reader loads every row (GoogleNews: 3M x 300 floats, 3.6 GB) to import the ~30k a model needs;
    this keeps memory at one row. Layout: a ``count dim`` header line, then per row the word, a space and
    ``dim`` little-endian float32 values, optionally followed by a newline.

    Raises:
        ValueError: naming the file and row, for a file cut short, a NaN or infinite value, or more rows than
            the header's count.
    """
    with _open(path, "rb") as f:
        count, dim = (int(v) for v in f.readline().split())
        width = 4 * dim
        for index in range(1, count + 1):
            where = f"{path} row {index} of the {count} its header promises"
            word = _read_binary_word(f, where).decode("utf-8", errors=unicode_errors)
            payload = f.read(width)
            if len(payload) != width:
                raise ValueError(f"{where} ({word!r}) is cut short: the file is truncated; download or save it again.")
            if not np.isfinite(np.frombuffer(payload, dtype="<f4")).all():
                raise ValueError(f"{where} ({word!r}) holds NaN or inf; word vectors must be finite: re-save the file.")
            yield word, payload
        if f.read(64).strip():
            raise ValueError(f"{path} line 1: the header says {count} rows but more follow; write the true count.")


def _read_binary_word(f, where: str) -> bytes:
    """Bytes up to the next space, skipping the newline that some writers put after each vector."""
    word = bytearray()
    while (char := f.read(1)) != b" ":
        if not char:
            raise ValueError(f"{where} ends inside its word: the file is truncated; download or save it again.")
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


def _split_row(line: str, dim: int, where: str) -> tuple[str, str]:
    """Split ``word v1 ... vD`` into (word, numbers); fast path when the word has no space."""
    word, _, numbers = line.rstrip().partition(" ")
    if numbers.count(" ") != dim - 1:  # a word with spaces, irregular spacing, or a short row
        parts = line.split()
        too_long = len(parts) > dim + 1 and all(_is_finite_number(p) for p in parts[1:-dim])  # not a word's spaces
        if len(parts) < dim + 1 or too_long:
            raise ValueError(f"{where}: {parts[0]!r} has {len(parts) - 1} numbers, but the vectors have {dim} (the "
                             f"header's size, or the first row's): {_FIX_ROW}")
        word, numbers = " ".join(parts[:-dim]), " ".join(parts[-dim:])
    if "n" in numbers or "N" in numbers:  # nan, inf, Infinity: a cheap test that parses nothing
        bad = next(v for v in numbers.split() if not _is_finite_number(v))
        raise ValueError(f"{where}: {word!r} has the value {bad!r}, and word vectors must be finite: {_FIX_ROW}")
    return word, numbers


def _is_finite_number(text: str) -> bool:
    try:
        return bool(np.isfinite(float(text)))
    except ValueError:
        return False


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
        ValueError: for a pickle file without ``allow_pickle=True``, an unrecognised format, or a truncated
            FastText ``.bin`` (gensim itself would fail an assertion, or loop forever on one cut in its vocabulary).
    """
    from gensim.models import KeyedVectors

    fmt = fmt or detect_vector_format(path)
    if fmt == "pickle":
        return _load_pickle(path, allow_pickle)
    if fmt == "fasttext-bin":
        return _load_facebook_vectors(path)
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format {fmt!r}; choose one of {FORMATS}.")
    return KeyedVectors.load_word2vec_format(str(path), binary=fmt == "word2vec-binary", no_header=fmt == "glove-text")


def _load_facebook_vectors(path) -> object:
    """gensim's FastText reader, with a truncated file turned into a ValueError that says so."""
    from gensim.models.fasttext import load_facebook_vectors

    if Path(path).suffix not in _COMPRESSED_SUFFIXES:  # a cut compressed stream raises EOFError by itself
        _require_fasttext_size(path)
    try:
        return load_facebook_vectors(str(path))
    except (AssertionError, EOFError, struct.error) as error:  # gensim's bare assert on a short matrix, ...
        raise ValueError(f"{path} is not a complete FastText .bin file ({type(error).__name__}: {error}): it is "
                         "truncated; download it again, or re-save it with gensim's save_facebook_model.") from error


def _require_fasttext_size(path) -> None:
    """Compare a FastText .bin's size with the least its header implies.

    gensim reads each vocabulary word byte by byte until a NUL and never checks for the end of the file,
    so a file cut inside its vocabulary makes it loop forever. The header gives the vocabulary size and the
    input matrix's shape, so a lower bound on the size needs no walk through the words.
    """
    with open(path, "rb") as f:
        head = f.read(128)
    try:
        magic, version = struct.unpack_from("=2i", head)
        new_format = magic == int.from_bytes(_FASTTEXT_MAGIC, "little")
        arguments = "=12id" if new_format else "=10id"  # training arguments; the old format starts with dim
        dim = struct.unpack_from(arguments, head, 8)[0] if new_format else magic
        offset = 8 + struct.calcsize(arguments)
        vocab_size, nwords, _ = struct.unpack_from("=3i", head, offset)
    except struct.error:
        raise ValueError(f"{path} ends inside its FastText header: it is truncated; download it again.") from None
    offset += 12 + 8 + 8 * new_format  # vocabulary sizes, token count, pruned-index size (new format)
    # per word at least a NUL, an int64 count and an int8 type; then the quantisation flag (new format), the
    # matrix shape (two int64) and at least one float32 row per word
    smallest = offset + 10 * vocab_size + new_format + 16 + 4 * nwords * dim
    size = Path(path).stat().st_size
    if size < smallest:
        raise ValueError(f"{path} has {size:,} bytes, but its header ({vocab_size:,} words, {dim} dimensions) needs at "
                         f"least {smallest:,}: the file is truncated; download it again.")


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
