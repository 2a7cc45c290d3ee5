"""Any text corpus -> `train` / `validation` text for language-model pretraining, in memory or streamed.

Sources (`load_text_corpus`):

* a Hub dataset, `datasets.load_dataset(name, config)` (e.g. `wikitext`, `wikitext-103-raw-v1`), or a local
  dataset folder, which `load_dataset` reads the same way;
* plain-text files (one document per line, per blank-line paragraph or per file: the `text` builder's
  `sample_by`), or CSV/JSON/parquet files with a text column, as `run_clm.py` reads them;
* the review sources of `load_reviews` (labels are dropped: an LM needs none).

Held-out text: the source's own `validation` split (or `validation_file`); otherwise a seeded split of `train`
by a hash of each document's text (`is_held_out`). The test split of a source never enters either.

With `streaming=True` every split is a `datasets.IterableDataset`: nothing is read until training iterates it.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import datasets

from .sources import load_reviews

logger = logging.getLogger(__name__)

SAMPLE_BY = ("line", "paragraph", "document")
_FILE_BUILDERS = {".txt": "text", ".text": "text", ".csv": "csv", ".json": "json", ".jsonl": "json",
                  ".parquet": "parquet"}
_HASH_RANGE = 2**64


def load_text_corpus(
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    train_file: list[str] | None = None,
    validation_file: list[str] | None = None,
    reviews: str | None = None,
    text_column: str = "text",
    sample_by: str = "line",
    validation_size: float = 0.1,
    streaming: bool = False,
    seed: int = 42,
) -> datasets.DatasetDict | datasets.IterableDatasetDict:
    """Load a corpus as `train` and `validation` splits with one column, `text`, and no blank documents.

    Args:
        dataset_name: A Hub dataset id or a local dataset folder (read by `datasets.load_dataset`).
        dataset_config_name: The Hub dataset's configuration, e.g. `wikitext-103-raw-v1`.
        train_file: Local training files (`.txt`, or `.csv`/`.json`/`.jsonl`/`.parquet` with `text_column`).
        validation_file: Local held-out files of the same type; if unset, a seeded split of `train` is held out.
        reviews: Used when neither `dataset_name` nor `train_file` is given: a review source of `load_reviews`
            (`None`: the local IMDB copy or the Hub's). Training text is `train` + `unsupervised`, held-out text
            the seeded `validation` reviews; `test` is never used.
        text_column: The column holding the text (plain-text files always have `text`).
        sample_by: Plain-text files: one document per `line`, per blank-line `paragraph`, or per file (`document`).
        validation_size: Fraction of `train` documents held out when the source has no validation split.
        streaming: Return `IterableDataset`s that read (and download) only as they are iterated.
        seed: Seed of the held-out split.

    Returns:
        A `DatasetDict` (or `IterableDatasetDict` when streaming) with `train` and `validation`.
    """
    if dataset_name and train_file:
        raise ValueError("Pass either dataset_name (a Hub dataset or dataset folder) or train_file, not both.")
    if validation_file and not train_file:
        raise ValueError("validation_file needs train_file; a Hub dataset brings its own validation split.")
    if dataset_name or train_file:
        raw = _load_source(dataset_name, dataset_config_name, train_file, validation_file, sample_by, streaming)
        splits = {name: _text_only(raw[name], text_column, name) for name in ("train", "validation") if name in raw}
        if "train" not in splits:
            raise ValueError(f"{dataset_name or train_file} has no 'train' split (splits: {list(raw)}).")
    else:
        splits = _review_splits(reviews, validation_size, streaming, seed)
    if "validation" not in splits:
        splits = held_out_split(splits["train"], validation_size, seed)
    kind = datasets.IterableDatasetDict if streaming else datasets.DatasetDict
    return kind({name: split.filter(_has_text, batched=True) for name, split in splits.items()})


def _load_source(dataset_name, dataset_config_name, train_file, validation_file, sample_by, streaming):
    """`datasets.load_dataset` over a Hub id / dataset folder, or over local files with the builder their type needs."""
    if dataset_name:
        return datasets.load_dataset(dataset_name, dataset_config_name, streaming=streaming)
    if sample_by not in SAMPLE_BY:
        raise ValueError(f"sample_by must be one of {SAMPLE_BY} (got {sample_by!r}).")
    data_files = {"train": list(train_file), **({"validation": list(validation_file)} if validation_file else {})}
    builder = _builder_for([f for files in data_files.values() for f in files])
    options = {"sample_by": sample_by} if builder == "text" else {}
    return datasets.load_dataset(builder, data_files=data_files, streaming=streaming, **options)


def _builder_for(files: list[str]) -> str:
    """The one `datasets` builder that reads every file, from their suffixes."""
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise FileNotFoundError(f"No such file: {missing}. Pass existing text files (--train_file a.txt b.txt).")
    builders = {_FILE_BUILDERS.get(Path(f).suffix.lower()) for f in files}
    if len(builders) != 1 or None in builders:
        raise ValueError(f"All files must share one type among {sorted(_FILE_BUILDERS)}; got {sorted(files)}.")
    return builders.pop()


def _text_only(split, text_column: str, name: str):
    """Keep only the text column, named `text`."""
    columns = split.column_names
    if columns is not None and text_column not in columns:  # a stream may not know its columns before reading
        raise ValueError(f"Split {name!r} has no column {text_column!r} (columns: {columns}); pass --text_column.")
    split = split.select_columns([text_column])
    return split.rename_column(text_column, "text") if text_column != "text" else split


def _review_splits(source, validation_size, streaming, seed) -> dict:
    """Training text from `train` + `unsupervised` reviews, held-out text from the seeded validation reviews."""
    dsd = load_reviews(source, validation_size=validation_size or 0.1, seed=seed)
    train = datasets.concatenate_datasets([dsd[s] for s in ("train", "unsupervised") if s in dsd])
    splits = {"train": train.select_columns(["text"]), "validation": dsd["validation"].select_columns(["text"])}
    # In memory already; as a stream it is read (and tokenised) only as training goes, like any other corpus.
    return {name: split.to_iterable_dataset(num_shards=_shards(split)) for name, split in splits.items()} \
        if streaming else splits


def _shards(split: datasets.Dataset) -> int:
    """Enough shards for `split_dataset_by_node` to give each of up to 64 processes whole shards."""
    return max(1, min(64, len(split)))


def held_out_split(train, validation_size: float, seed: int = 42) -> dict:
    """Split documents into `train` and `validation` by a seeded hash of their text.

    `Dataset.train_test_split` needs the row count and random access, which a stream has not; a hash of the text
    gives the same split in memory and streamed, whatever the order, sharding or number of processes, and puts
    duplicate documents on the same side.
    """
    if not 0 < validation_size < 1:
        raise ValueError(f"validation_size must be a fraction in (0, 1) without a validation split; "
                         f"got {validation_size}. Pass --validation_file or a fraction such as 0.01.")
    options = dict(batched=True, fn_kwargs=dict(fraction=validation_size, seed=seed))
    return {"train": train.filter(_is_kept_for_training, **options), "validation": train.filter(is_held_out, **options)}


def is_held_out(batch: dict, fraction: float, seed: int) -> list[bool]:
    """For each text of a batch: whether its seeded hash falls in the held-out `fraction`."""
    return [_unit_hash(text, seed) < fraction for text in batch["text"]]


def _is_kept_for_training(batch: dict, fraction: float, seed: int) -> list[bool]:
    """The complement of `is_held_out`."""
    return [not held_out for held_out in is_held_out(batch, fraction, seed)]


def _unit_hash(text: str, seed: int) -> float:
    """A stable number in [0, 1) for a text (Python's `hash` differs between processes)."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8, key=str(seed).encode()).digest()
    return int.from_bytes(digest, "little") / _HASH_RANGE


def _has_text(batch: dict) -> list[bool]:
    """Blank documents (wikitext's empty lines) carry no tokens but `<s> </s>`."""
    return [bool(text and text.strip()) for text in batch["text"]]


def materialize(split, max_documents: int | None = None) -> datasets.Dataset:
    """The first `max_documents` documents of a split as an in-memory `Dataset` (a stream is read that far only)."""
    if isinstance(split, datasets.IterableDataset):
        stream = split.take(max_documents) if max_documents else split
        return datasets.Dataset.from_list(list(stream), features=datasets.Features({"text": datasets.Value("string")}))
    return split.select(range(min(len(split), max_documents))) if max_documents else split
