"""Any labelled text -> `datasets.DatasetDict` in one schema, for the general text-classification job.

Every split gets `text` (string: the chosen text columns joined) and `label`, typed so that the label feature alone
says the task, as transformers' `problem_type` names it:

* `ClassLabel(names)`: single-label classification (ints, strings or booleans in the source; names from the source's
  `ClassLabel`, else the sorted distinct values);
* `Sequence(ClassLabel(names))`: multi-label classification (a list of labels per row, or a delimited string with
  `label_delimiter`);
* `Value("float32")`: regression (a float column).

Unlabelled text, for the language model, becomes an `unsupervised` split with `text` only: a split of that name in
the source (IMDB has one), `unlabeled_files` and/or `unlabeled_dataset`. A missing `validation` split is cut from
`train` (seeded, stratified for single-label tasks). Every problem a user can make in the data is an error naming
it and the fix, before any training.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from pathlib import Path

import datasets

from .sources import _load_raw, add_validation_split, load_review_files

logger = logging.getLogger(__name__)

PROBLEM_TYPES = ("auto", "single_label_classification", "multi_label_classification", "regression")
UNLABELED_SPLIT = "unsupervised"
_TEXT_SUFFIXES = (".txt", ".text")


def load_labelled_texts(
    dataset: str | None = None,
    train_file: str | None = None,
    validation_file: str | None = None,
    test_file: str | None = None,
    text_columns: Sequence[str] = ("text",),
    label_column: str = "label",
    problem_type: str = "auto",
    label_delimiter: str | None = None,
    unlabeled_files: Sequence[str] = (),
    unlabeled_dataset: str | None = None,
    auxiliary_column: str | None = None,
    label_names: Sequence[str] | None = None,
    empty_texts: str = "error",
    validation_size: float = 0.1,
    seed: int = 42,
) -> datasets.DatasetDict:
    """Load labelled text from a Hub id, a local folder or files, typed for its task (see the module doc).

    Args:
        dataset: A Hub dataset id or a local folder of parquet/CSV/JSON split files (or one such file: `train`).
        train_file, validation_file, test_file: Local CSV/JSON/parquet files, instead of (or over) `dataset`'s splits.
        text_columns: The text columns; several are joined with a space (`title, body`).
        label_column: The label column.
        problem_type: `auto` (from the column: lists -> multi-label, floats -> regression, else single-label) or one
            of transformers' problem types.
        label_delimiter: Multi-label labels given as one string (`"sports;politics"`): the delimiter.
        unlabeled_files: Text for the LM only: .txt (one text a line) or CSV/JSON/parquet with the text columns.
        unlabeled_dataset: The same from a Hub id or folder (its `unsupervised` split, else `train`).
        auxiliary_column: Kept as `rating` (integer 1-10 stars) for a second head (IMDB's star rating).
        label_names: Names of integer labels 0..K-1 (a source without a `ClassLabel`, such as a CSV of ids).
        empty_texts: `error` (a row whose text is empty stops the load, naming it) or `drop` (such rows leave
            every split, counted in the log; 20 Newsgroups without headers has some).
        validation_size: Fraction of `train` cut for validation when the source has no validation split.
        seed: Seed of the validation cut.
    """
    if problem_type not in PROBLEM_TYPES:
        raise ValueError(f"problem_type={problem_type!r}: use one of {PROBLEM_TYPES}.")
    if empty_texts not in ("error", "drop"):
        raise ValueError(f"empty_texts={empty_texts!r}: use 'error' or 'drop'.")
    raw = _raw_splits(dataset, train_file, validation_file, test_file)
    unlabeled = raw.pop(UNLABELED_SPLIT, None)
    columns = _checked_columns(raw, list(text_columns), label_column, auxiliary_column)
    if empty_texts == "drop":
        raw = {split: _without_empty_texts(ds, list(text_columns), split) for split, ds in raw.items()}
    label_feature = _label_feature(raw["train"], label_column, problem_type, label_delimiter)
    if label_names:
        label_feature, raw = _named_indices(label_feature, list(label_names), raw, label_column)
    dsd = datasets.DatasetDict({split: _typed_split(ds, split, columns, label_column, label_feature, label_delimiter,
                                                    auxiliary_column)
                                for split, ds in raw.items()})
    if "validation" not in dsd:
        dsd = _cut_validation(dsd, validation_size, seed)
    texts = _unlabeled_texts(unlabeled, unlabeled_files, unlabeled_dataset, list(text_columns))
    if texts is not None:
        dsd[UNLABELED_SPLIT] = texts
    return dsd


def _raw_splits(dataset, train_file, validation_file, test_file) -> dict[str, datasets.Dataset]:
    """The source's splits: `dataset`'s, with any given file replacing (or adding) its split."""
    files = {split: path for split, path in
             (("train", train_file), ("validation", validation_file), ("test", test_file)) if path}
    if dataset is None and not files:
        raise ValueError("No data: pass --dataset (a Hub id or a folder of split files) or --train_file.")
    raw = dict(_load_raw(dataset)) if dataset is not None else {}
    raw.update({split: load_review_files({split: path})[split] for split, path in files.items()})
    if "train" not in raw:
        raise ValueError(f"The data has no 'train' split (splits: {sorted(raw)}): name the training file "
                         "train.csv/train.parquet/..., or pass --train_file.")
    return raw


def _checked_columns(raw: dict, text_columns: list[str], label_column: str, auxiliary_column: str | None) -> list:
    """Every labelled split has the text and label columns, else an error listing its columns and the nearest name."""
    for split, ds in raw.items():
        wanted = [*text_columns, label_column, *([auxiliary_column] if auxiliary_column else [])]
        for column in wanted:
            if column not in ds.column_names:
                near = difflib.get_close_matches(column, ds.column_names, n=1)
                hint = f" Did you mean {near[0]!r}?" if near else ""
                flag = "--label_column" if column == label_column else (
                    "--auxiliary_column" if column == auxiliary_column else "--text_column")
                raise ValueError(f"Split {split!r} has no column {column!r} (columns: {ds.column_names}).{hint} "
                                 f"Pass {flag} with one of them.")
    return text_columns


def _without_empty_texts(ds: datasets.Dataset, text_columns: list[str], split: str) -> datasets.Dataset:
    """The rows whose text columns hold some text (the dropped ones counted in the log)."""
    kept = ds.filter(lambda row: any(isinstance(row[c], str) and row[c].strip() for c in text_columns),
                     desc=f"non-empty texts ({split})")
    if len(kept) < len(ds):
        logger.warning("Split %r: dropped %d of %d rows with an empty text.", split, len(ds) - len(kept), len(ds))
    return kept


def _label_feature(train: datasets.Dataset, column: str, problem_type: str, delimiter: str | None):
    """The typed label feature the training split's column implies (names sorted as run_classification.py sorts)."""
    feature = train.features[column]
    values = list(train[column])
    if delimiter is not None:
        values = [_split_labels(v, delimiter) for v in values]
    is_list = delimiter is not None or isinstance(feature, (datasets.Sequence, datasets.LargeList, list))
    if problem_type == "auto":
        problem_type = ("multi_label_classification" if is_list else
                        "regression" if _is_float_feature(feature) else "single_label_classification")
    if problem_type == "regression":
        if is_list or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise ValueError(f"Regression needs one number per row in {column!r}; found {_example_type(values)}.")
        return datasets.Value("float32")
    if problem_type == "multi_label_classification":
        if not is_list:
            raise ValueError(f"Multi-label needs a list of labels per row in {column!r} (or a delimited string with "
                             f"--label_delimiter); found {_example_type(values)}.")
        inner = getattr(feature, "feature", None)
        names = inner.names if isinstance(inner, datasets.ClassLabel) else _sorted_names(
            [v for row in values for v in row], column)
        return datasets.Sequence(datasets.ClassLabel(names=names))
    if is_list:
        raise ValueError(f"{column!r} holds a list of labels per row: that is multi-label; pass --problem_type "
                         "multi_label_classification (or leave it auto).")
    if isinstance(feature, datasets.ClassLabel):
        names = feature.names
    elif _is_float_feature(feature) and any(v is not None and float(v) != int(v) for v in values):
        raise ValueError(f"{column!r} holds fractional numbers such as {next(v for v in values if float(v) != int(v))}"
                         ": a classification task needs class labels (ints or strings). For a numeric target pass "
                         "--problem_type regression.")
    else:
        names = _sorted_names([_integral(v) for v in values], column)
    if len(names) < 2:
        raise ValueError(f"{column!r} has one class only ({names}) in train: a classifier needs two or more.")
    return datasets.ClassLabel(names=names)


def _named_indices(feature, names: list[str], raw: dict, column: str):
    """The label feature with the given names for integer labels 0..K-1, and the splits with the column typed so."""
    found = feature.feature.names if isinstance(feature, datasets.Sequence) else getattr(feature, "names", None)
    if found is None or not all(name.lstrip("-").isdigit() for name in found):
        raise ValueError(f"--label_names names integer labels 0..K-1, but {column!r} holds {found or feature}.")
    if any(not 0 <= int(name) < len(names) for name in found):
        raise ValueError(f"--label_names gives {len(names)} names but {column!r} has labels {found}: give one name "
                         "per class id 0..K-1.")
    named = datasets.ClassLabel(names=names)
    typed = datasets.Sequence(named) if isinstance(feature, datasets.Sequence) else named
    for split, ds in raw.items():
        if not _holds_indices(ds.features[column]):
            raw[split] = ds.cast_column(column, typed)
    return typed, raw


def _split_labels(value, delimiter: str) -> list[str]:
    return [] if value is None else [part.strip() for part in str(value).split(delimiter) if part.strip()]


def _is_float_feature(feature) -> bool:
    return isinstance(feature, datasets.Value) and feature.dtype.startswith("float")


def _integral(value):
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _example_type(values: list) -> str:
    kinds = sorted({type(v).__name__ for v in values})
    return f"values of type {', '.join(kinds)} (e.g. {values[0]!r})"


def _sorted_names(values: list, column: str) -> list[str]:
    """Class names: the distinct values, sorted (numbers as numbers), as strings; mixed types are an error."""
    present = [v for v in values if v is not None]
    kinds = {type(v) for v in present}
    if bool in kinds and len(kinds) == 1:
        return ["False", "True"]
    if len(kinds) > 1 and not kinds <= {int, float}:
        raise ValueError(f"{column!r} mixes label types {sorted(k.__name__ for k in kinds)}: use one type for every "
                         "label (e.g. all strings).")
    return [str(v) for v in sorted(set(present))]


def _typed_split(ds, split, text_columns, label_column, feature, delimiter, auxiliary_column) -> datasets.Dataset:
    """One split as `text` + typed `label` (+ `rating`); unknown labels, empty texts and non-strings are errors."""
    keep = list(dict.fromkeys([*text_columns, label_column, *([auxiliary_column] if auxiliary_column else [])]))
    ds = ds.select_columns(keep)
    features = datasets.Features({"text": datasets.Value("string"), "label": feature})
    if auxiliary_column:
        features["rating"] = datasets.Value("int8")
    encode = _label_encoder(feature, label_column, split, delimiter, _holds_indices(ds.features[label_column]))
    return ds.map(_typed_batch, batched=True, with_indices=True, features=features, remove_columns=keep,
                  fn_kwargs=dict(split=split, text_columns=text_columns, label_column=label_column, encode=encode,
                                 auxiliary_column=auxiliary_column), desc=f"typing {split}")


def _holds_indices(feature) -> bool:
    """Whether a source column's values are already class indices (a `ClassLabel`, or a list of them)."""
    return isinstance(feature, datasets.ClassLabel) or isinstance(getattr(feature, "feature", None), datasets.ClassLabel)


def _label_encoder(feature, column: str, split: str, delimiter: str | None, indices: bool = False):
    """A function from one source label to its typed value (class index, list of indices or float); `indices`: the
    source holds class indices already (a `ClassLabel` column), checked against the number of classes."""
    if isinstance(feature, datasets.Value):
        return float
    names = feature.feature.names if isinstance(feature, datasets.Sequence) else feature.names
    index = {name: i for i, name in enumerate(names)}

    def one(value):
        if indices and isinstance(value, int) and 0 <= value < len(names):
            return value
        key = str(_integral(value)) if not isinstance(value, str) else value
        if key not in index:
            raise ValueError(f"Split {split!r} has label {value!r} in {column!r}, which train never has (train's "
                             f"labels: {names}); drop those rows or add examples of it to train.")
        return index[key]

    if isinstance(feature, datasets.Sequence):
        return lambda row: [one(v) for v in (_split_labels(row, delimiter) if delimiter is not None else row or [])]
    return one


def _typed_batch(batch: dict, indices: list[int], split: str, text_columns: list[str], label_column: str, encode,
                 auxiliary_column: str | None) -> dict:
    texts = []
    for position, row in enumerate(indices):
        parts = [batch[column][position] for column in text_columns]
        for column, part in zip(text_columns, parts):
            if part is not None and not isinstance(part, str):
                raise ValueError(f"Split {split!r}, row {row + 1}: text column {column!r} holds "
                                 f"{type(part).__name__} {part!r}, not a string; pass --text_column with the "
                                 "column that holds the text.")
        text = " ".join(part for part in parts if part)
        if not text.strip():
            raise ValueError(f"Split {split!r}, row {row + 1}: the text is empty (columns {text_columns}); drop or "
                             "fill that row, or pass --empty_texts drop.")
        if batch[label_column][position] is None:
            raise ValueError(f"Split {split!r}, row {row + 1}: the label cell of {label_column!r} is empty; fill it "
                             "or drop the row (put unlabelled text in --unlabeled_file).")
        texts.append(text)
    typed = {"text": texts, "label": [encode(value) for value in batch[label_column]]}
    if auxiliary_column:
        typed["rating"] = batch[auxiliary_column]
    return typed


def _cut_validation(dsd: datasets.DatasetDict, validation_size: float, seed: int) -> datasets.DatasetDict:
    """A seeded validation split from train, stratified by class for single-label tasks when every class can be."""
    if not validation_size:
        raise ValueError("The data has no validation split and --validation_size is 0: give one of them.")
    feature = dsd["train"].features["label"]
    stratify = "label" if isinstance(feature, datasets.ClassLabel) else None
    if stratify:
        counts = _class_counts(dsd["train"], feature)
        if min(counts) < 2:
            logger.warning("Class %r has %d training row(s): the validation cut is not stratified.",
                           feature.names[counts.index(min(counts))], min(counts))
            stratify = None
    return add_validation_split(dsd, validation_size, seed=seed, stratify_by_column=stratify)


def _class_counts(ds: datasets.Dataset, feature: datasets.ClassLabel) -> list[int]:
    counts = [0] * feature.num_classes
    for value in ds["label"]:
        counts[value] += 1
    return counts


def _unlabeled_texts(source_split, files: Sequence[str], dataset: str | None,
                     text_columns: list[str]) -> datasets.Dataset | None:
    """Text for the LM only, as one `text` column: the source's own unlabelled split, files and a dataset."""
    parts = [] if source_split is None else [_text_only(source_split, text_columns, UNLABELED_SPLIT)]
    for path in files:
        parts.append(_text_file(path, text_columns))
    if dataset is not None:
        loaded = _load_raw(dataset)
        split = UNLABELED_SPLIT if UNLABELED_SPLIT in loaded else "train"
        parts.append(_text_only(loaded[split], text_columns, f"{dataset}:{split}"))
    return datasets.concatenate_datasets(parts) if parts else None


def _text_file(path: str, text_columns: list[str]) -> datasets.Dataset:
    if not Path(path).is_file():
        raise FileNotFoundError(f"--unlabeled_file {path!r}: no such file.")
    if Path(path).suffix in _TEXT_SUFFIXES:  # one text a line
        return datasets.load_dataset("text", data_files={"train": path})["train"].filter(
            lambda row: bool(row["text"].strip()), desc="non-empty lines")
    return _text_only(load_review_files({"train": path})["train"], text_columns, path)


def _text_only(ds: datasets.Dataset, text_columns: list[str], where: str) -> datasets.Dataset:
    """`text` alone (the text columns joined), from any table with those columns."""
    missing = [c for c in text_columns if c not in ds.column_names]
    if missing:
        raise ValueError(f"Unlabelled text {where!r} has no column {missing[0]!r} (columns: {ds.column_names}).")
    joined = ds.map(lambda batch: {"text": [" ".join(p for p in parts if p) for parts in
                                            zip(*(batch[c] for c in text_columns))]},
                    batched=True, remove_columns=ds.column_names, desc=f"unlabelled text ({where})")
    return joined.cast(datasets.Features({"text": datasets.Value("string")}))


def hide_labels(dsd: datasets.DatasetDict, keep: float, seed: int = 42) -> datasets.DatasetDict:
    """The lecture's situation: keep the labels of `keep` of the training rows (a share below 1, or a count),
    seeded and stratified for single-label tasks; the other rows' text joins the unlabelled text, for the LM.
    Validation and test are untouched."""
    train = dsd["train"]
    count = int(keep) if keep >= 1 else max(1, round(keep * len(train)))
    if not 0 < count < len(train):
        raise ValueError(f"--labelled_fraction {keep}: keep between 1 row and fewer than all {len(train)} training "
                         "rows (a share such as 0.01, or a count such as 100).")
    feature = train.features["label"]
    stratify = "label" if isinstance(feature, datasets.ClassLabel) and count >= feature.num_classes and min(
        _class_counts(train, feature)) >= 2 else None
    parts = train.train_test_split(train_size=count, seed=seed, stratify_by_column=stratify)
    hidden = parts["test"].select_columns(["text"])
    unlabelled = [dsd[UNLABELED_SPLIT]] if UNLABELED_SPLIT in dsd else []
    logger.info("Kept the labels of %d of %d training rows; the other %d rows' text is unlabelled text now.",
                count, len(train), len(hidden))
    return datasets.DatasetDict({**dsd, "train": parts["train"],
                                 UNLABELED_SPLIT: datasets.concatenate_datasets([*unlabelled, hidden])})
