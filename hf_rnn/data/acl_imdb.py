"""Read the original aclImdb release (folder or `aclImdb_v1.tar.gz`) without unpacking it to disk.

Layout: `{train,test}/{pos,neg}/ID_RATING.txt` and `train/unsup/ID_0.txt`. The rating (1-10) comes
from the file name; `label` is 1 for `pos`, 0 for `neg`, -1 for `unsup` (rating 0 = unknown).
Rows are sorted by (label, id) within each split, as in the Hub-layout parquet copy.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import datasets

_MEMBER = re.compile(r"(?:^|/)(train|test)/(pos|neg|unsup)/(\d+)_(\d+)\.txt$")
_LABELS = {"neg": 0, "pos": 1, "unsup": -1}
FEATURES = datasets.Features(
    {
        "text": datasets.Value("string"),
        "label": datasets.ClassLabel(names=["neg", "pos"]),
        "rating": datasets.Value("int8"),
        "id": datasets.Value("int32"),
    }
)


def is_acl_imdb_folder(path: Path) -> bool:
    """True if `path` looks like the unpacked `aclImdb` folder (has `train/pos` or `test/pos`)."""
    return any((path / split / "pos").is_dir() for split in ("train", "test"))


def load_acl_imdb(path: str | Path) -> datasets.DatasetDict:
    """Load aclImdb from its folder or its tarball into splits `train`, `test`, `unsupervised`.

    Args:
        path: The `aclImdb` folder, or `aclImdb_v1.tar.gz` (read as a stream, nothing is extracted).

    Returns:
        A `DatasetDict` with columns `text`, `label`, `rating`, `id`.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: No `ID_RATING.txt` review files were found where aclImdb keeps them.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"aclImdb not found at {path}; download aclImdb_v1.tar.gz or pass its folder.")
    rows = _tar_rows(path) if path.is_file() else _folder_rows(path)
    splits: dict[str, list[dict]] = {}
    for split, row in rows:
        splits.setdefault(split, []).append(row)
    if not splits:
        raise ValueError(
            f"No aclImdb review files ({{train,test}}/{{pos,neg,unsup}}/ID_RATING.txt) found in {path}."
        )
    return datasets.DatasetDict({name: _to_dataset(split_rows) for name, split_rows in splits.items()})


def _to_dataset(rows: list[dict]) -> datasets.Dataset:
    """Sort rows by (label, id) and build a typed Dataset."""
    rows.sort(key=lambda r: (r["label"], r["id"]))
    columns = {name: [r[name] for r in rows] for name in FEATURES}
    return datasets.Dataset.from_dict(columns, features=FEATURES)


def _parse(name: str, read_text) -> tuple[str, dict] | None:
    """(split, row) for a review file name, or None for any other member."""
    match = _MEMBER.search(name)
    if match is None:
        return None
    split, polarity, file_id, rating = match.groups()
    split = "unsupervised" if polarity == "unsup" else split
    row = {"text": read_text(), "label": _LABELS[polarity], "rating": int(rating), "id": int(file_id)}
    return split, row


def _folder_rows(root: Path) -> Iterator[tuple[str, dict]]:
    """Rows from an unpacked aclImdb folder."""
    for file in root.glob("*/*/*.txt"):
        parsed = _parse(file.relative_to(root).as_posix(), lambda f=file: f.read_text(encoding="utf-8"))
        if parsed:
            yield parsed


def _tar_rows(tarball: Path) -> Iterator[tuple[str, dict]]:
    """Rows streamed from the tarball (`r|*`: one sequential pass, no random access, no extraction)."""
    with tarfile.open(tarball, mode="r|*") as archive:
        for member in archive:
            if member.isfile():
                parsed = _parse(member.name, lambda m=member: archive.extractfile(m).read().decode("utf-8"))
                if parsed:
                    yield parsed
