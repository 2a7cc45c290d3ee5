"""Review sources -> `datasets.DatasetDict` with splits `train`, `test`, `unsupervised` (where present).

Every loader returns the same schema: `text` (string), `label` (`ClassLabel(["neg", "pos"])`, -1 where
unknown, e.g. `unsupervised`) and, where the source has it, `rating` (int8 star rating 1-10; 0 where
unknown, as in aclImdb's `unsup/ID_0.txt` file names). Sources:

* a Hub id (`stanfordnlp/imdb`): the Hub copy has **no ratings**, so no `rating` column is made up;
* a local folder in the Hub's parquet layout (a local IMDB copy, e.g. the one `HF_RNN_IMDB_PATH` names);
* the original `aclImdb` folder or `aclImdb_v1.tar.gz` (rating parsed from `ID_RATING.txt`; the tarball
  is streamed, never unpacked to disk);
* CSV / JSON / parquet files with a text column and a label and/or rating column (names mapped).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import datasets

from ..locations import looks_like_hub_id
from .acl_imdb import is_acl_imdb_folder, load_acl_imdb

logger = logging.getLogger(__name__)

IMDB_HUB_ID = "stanfordnlp/imdb"
IMDB_PATH_ENV = "HF_RNN_IMDB_PATH"
LABEL_NAMES = ["neg", "pos"]
_FILE_BUILDERS = {".csv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
_SOURCE_HINT = ("Pass an existing folder (Hub parquet layout or aclImdb), an aclImdb_v1.tar.gz, a CSV/JSON/parquet "
                f"file, a Hub dataset id, or set ${IMDB_PATH_ENV}.")


def default_imdb_path() -> Path | None:
    """The local IMDB copy named by `$HF_RNN_IMDB_PATH`, or None when the variable is unset (then: the Hub)."""
    if os.environ.get(IMDB_PATH_ENV):
        return Path(os.environ[IMDB_PATH_ENV]).expanduser()
    return None


def load_reviews(
    source: str | os.PathLike | None = None,
    text_column: str = "text",
    label_column: str | None = "label",
    rating_column: str | None = "rating",
    validation_size: float | int | None = None,
    seed: int = 42,
) -> datasets.DatasetDict:
    """Load reviews from any supported source into the standard schema.

    Args:
        source: A Hub id, a folder (Hub parquet layout or `aclImdb`), an `aclImdb_v1.tar.gz`, or a
            CSV/JSON/parquet file. `None`: the folder `$HF_RNN_IMDB_PATH` names when it is set, else the
            Hub id `stanfordnlp/imdb`.
        text_column: Name of the text column in the source.
        label_column: Name of the label column (0/1, or strings such as "negative"/"positive"), or None.
        rating_column: Name of the star-rating column, or None.
        validation_size: If set, cut a seeded validation split (fraction or row count) from `train`,
            stratified by `label`.
        seed: Seed for the validation split.

    Returns:
        A `DatasetDict` with columns `text`, `label` and, if known, `rating`.
    """
    raw = _load_raw(source)
    dsd = standardize_columns(raw, text_column, label_column, rating_column)
    if validation_size:
        dsd = add_validation_split(dsd, validation_size, seed=seed)
    return dsd


def _load_raw(source: str | os.PathLike | None) -> datasets.DatasetDict:
    """Dispatch on the kind of source; local paths win over Hub ids of the same spelling."""
    if source is None:
        source = default_imdb_path() or IMDB_HUB_ID  # a set but missing path fails below, naming it
    path = Path(source).expanduser()
    if path.is_dir():
        return _load_folder(path)
    if path.is_file():
        return _load_file(path)
    missing = f"No such file or folder: {str(source)!r}" + ("" if path.is_absolute() else f" (in {Path.cwd()})")
    if not looks_like_hub_id(source) or path.suffix in _FILE_BUILDERS:
        raise FileNotFoundError(f"{missing}. {_SOURCE_HINT}")
    try:
        return load_from_hub(str(source))
    except OSError as error:  # "data/imdb" may be a mistyped relative path as well as a Hub id: say both
        reason = str(error).splitlines()[0]
        raise FileNotFoundError(f"{missing}, and no Hub dataset of that name could be loaded ({reason}). "
                                f"{_SOURCE_HINT}") from None


def load_from_hub(hub_id: str = IMDB_HUB_ID, **kwargs) -> datasets.DatasetDict:
    """`datasets.load_dataset(hub_id)`; needs network access (or a warm HF cache).

    `stanfordnlp/imdb` has `text` and `label` only: no star ratings, so rating targets
    (10-class, regression) need the local parquet copy or the original aclImdb files.
    """
    dsd = datasets.load_dataset(hub_id, **kwargs)
    if hub_id == IMDB_HUB_ID:
        logger.warning("%s has no star ratings: only binary `label` targets are available.", hub_id)
    return dsd


def _load_folder(path: Path) -> datasets.DatasetDict:
    """A folder in aclImdb layout, or in a layout `datasets.load_dataset(folder)` understands."""
    if is_acl_imdb_folder(path):
        return load_acl_imdb(path)
    if is_acl_imdb_folder(path / "aclImdb"):
        return load_acl_imdb(path / "aclImdb")
    data_files = [p for p in path.rglob("*") if p.suffix in _FILE_BUILDERS]
    if not data_files:
        raise ValueError(
            f"Unknown layout in {path}: expected aclImdb ({{train,test}}/{{pos,neg}}/ID_RATING.txt) or data "
            f"files ({', '.join(_FILE_BUILDERS)}) named by split, e.g. plain_text/train-00000-of-00001.parquet."
        )
    return datasets.load_dataset(str(path))


def _load_file(path: Path) -> datasets.DatasetDict:
    """An aclImdb tarball, or one CSV/JSON/parquet file (becomes the `train` split)."""
    if path.name.endswith((".tar.gz", ".tgz", ".tar")):
        return load_acl_imdb(path)
    if path.suffix not in _FILE_BUILDERS:
        raise ValueError(
            f"Unsupported file type {path.suffix!r} for {path}: use .tar.gz (aclImdb), "
            f"{', '.join(_FILE_BUILDERS)}, or load_review_files() for several files."
        )
    return load_review_files({"train": str(path)})


def load_review_files(data_files: dict[str, str | list[str]]) -> datasets.DatasetDict:
    """Load CSV/JSON/parquet files, one entry per split, e.g. `{"train": "a.csv", "test": "b.csv"}`.

    Pass the result through `standardize_columns` (or use `load_reviews`) to map column names.
    """
    suffixes = {Path(f).suffix for files in data_files.values() for f in ([files] if isinstance(files, str) else files)}
    builders = {_FILE_BUILDERS.get(s) for s in suffixes}
    if len(builders) != 1 or None in builders:
        raise ValueError(f"All files must share one type among {list(_FILE_BUILDERS)}; got {sorted(suffixes)}.")
    return datasets.load_dataset(builders.pop(), data_files=data_files)


def standardize_columns(
    dsd: datasets.DatasetDict,
    text_column: str = "text",
    label_column: str | None = "label",
    rating_column: str | None = "rating",
) -> datasets.DatasetDict:
    """Rename to `text`/`label`/`rating`, drop other columns, and type them.

    A missing label is derived from the rating with IMDB's rule (<= 4 negative, >= 7 positive, else -1).
    String labels ("neg"/"negative"/"pos"/"positive", any case) become 0/1.

    Raises:
        ValueError: A split lacks the text column, or has neither a label nor a rating column.
    """
    return datasets.DatasetDict(
        {name: _standardize_split(ds, name, text_column, label_column, rating_column) for name, ds in dsd.items()}
    )


def _standardize_split(ds, split, text_column, label_column, rating_column) -> datasets.Dataset:
    """`standardize_columns` for one split."""
    columns = ds.column_names
    has_label, has_rating = label_column in columns, rating_column in columns
    if text_column not in columns:
        raise ValueError(f"Split {split!r} has no text column {text_column!r} (columns: {columns}); pass text_column=...")
    if not (has_label or has_rating):
        raise ValueError(
            f"Split {split!r} has neither label column {label_column!r} nor rating column {rating_column!r} "
            f"(columns: {columns}); pass label_column=... and/or rating_column=..."
        )
    renames = {text_column: "text", label_column: "label", rating_column: "rating"}
    keep = [c for c in (text_column, label_column, rating_column) if c in columns]
    ds = ds.select_columns(keep).rename_columns({c: renames[c] for c in keep if c != renames[c]})
    if ds.features.get("label") != datasets.ClassLabel(names=LABEL_NAMES):  # Hub/parquet IMDB: already typed
        ds = ds.map(_typed_labels, batched=True, with_indices=True, fn_kwargs={"split": split},
                    desc=f"labels ({split})")
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=LABEL_NAMES)})
    if has_rating:
        features["rating"] = datasets.Value("int8")
    return ds.select_columns(list(features)).cast(features)


def _typed_labels(batch: dict, indices: list[int], split: str) -> dict:
    """Map string labels to 0/1 and derive missing labels from ratings; an empty cell is an error naming its row."""
    _require_cells(batch, indices, split, ["text", "label" if "label" in batch else "rating"])
    if "label" not in batch:
        return {"label": [1 if r >= 7 else 0 if 1 <= r <= 4 else -1 for r in batch["rating"]]}
    labels = [_label_to_int(v) for v in batch["label"]]
    return {"label": labels}


def _require_cells(batch: dict, indices: list[int], split: str, columns: list[str]) -> None:
    """Raise naming the split and data row of the first empty cell (a CSV's empty cell arrives as None)."""
    for column in columns:
        for position, value in enumerate(batch[column]):
            if value is None or (column != "text" and not str(value).strip()):  # an empty review may be real
                text = str(batch["text"][position])[:40]
                raise ValueError(f"Split {split!r}, data row {indices[position] + 1} (text {text!r}): the {column} "
                                 f"cell is empty; fill it ({_CELL_HINTS[column]}) or drop the row.")


_CELL_HINTS = {"text": "the review", "label": "0/neg, 1/pos, -1 unknown", "rating": "stars 1-10"}
_LABEL_STRINGS = {"neg": 0, "negative": 0, "0": 0, "pos": 1, "positive": 1, "1": 1, "-1": -1, "unsup": -1}


def _label_to_int(value) -> int:
    """0/1/-1 from an int, bool or a neg/pos string."""
    label = _LABEL_STRINGS.get(value.strip().lower()) if isinstance(value, str) else int(value)
    if label not in (-1, 0, 1):
        raise ValueError(
            f"Label {value!r} is not binary sentiment (0/neg, 1/pos, -1 unknown). For star ratings pass "
            "them as rating_column=... and use hf_rnn.data.make_targets(..., target='rating10' or 'regression')."
        )
    return label


def add_validation_split(
    dsd: datasets.DatasetDict,
    validation_size: float | int = 0.1,
    seed: int = 42,
    stratify_by_column: str | None = "label",
) -> datasets.DatasetDict:
    """Cut a seeded, stratified `validation` split from `train` (the `test` split stays untouched).

    Args:
        dsd: A `DatasetDict` with a `train` split.
        validation_size: Fraction (float < 1) or number of rows (int) of `train`.
        seed: Seed of the split; the same seed gives the same rows.
        stratify_by_column: A `ClassLabel` column whose class proportions both parts keep, or None.

    Returns:
        A new `DatasetDict` with `train` (the rest) and `validation`.
    """
    if "train" not in dsd:
        raise ValueError(f"No 'train' split to cut validation from (splits: {list(dsd)}).")
    if "validation" in dsd:
        raise ValueError("The dataset already has a 'validation' split; remove it or skip add_validation_split.")
    train = dsd["train"]
    if stratify_by_column and not isinstance(train.features.get(stratify_by_column), datasets.ClassLabel):
        raise ValueError(
            f"stratify_by_column={stratify_by_column!r} must be a ClassLabel column of train "
            f"(features: {train.features}); use dataset.class_encode_column({stratify_by_column!r}) first."
        )
    parts = train.train_test_split(test_size=validation_size, seed=seed, stratify_by_column=stratify_by_column)
    return datasets.DatasetDict({**dsd, "train": parts["train"], "validation": parts["test"]})
