"""Cached, batched tokenisation of a text column with `datasets.map`."""

from __future__ import annotations

import json

import datasets
from datasets.fingerprint import Hasher
from transformers import PreTrainedTokenizerBase


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """A stable hash of everything that decides the token ids.

    `datasets` hashes `map` functions by pickling their arguments, and a transformers tokenizer pickles
    differently from one process to the next, which would make every run a cache miss. tokenizer.json
    (without the padding/truncation state the last call left in it) plus the truncation settings is
    deterministic.
    """
    backend = json.loads(tokenizer.backend_tokenizer.to_str())
    # transformers leaves the last call's padding/truncation in the backend; `map` passes its own settings
    backend.pop("truncation", None)
    backend.pop("padding", None)
    return Hasher.hash([json.dumps(backend, sort_keys=True), tokenizer.model_max_length, tokenizer.truncation_side])


def tokenize_column(
    dataset: datasets.Dataset,
    tokenizer: PreTrainedTokenizerBase,
    text_column: str = "text",
    max_length: int | None = None,
    add_eos: bool = False,
    keep_columns: tuple[str, ...] = (),
    batch_size: int = 1_000,
    num_proc: int | None = None,
) -> datasets.Dataset:
    """Replace `text_column` by `input_ids` (and a `length` column), cached on disk by `datasets`.

    Args:
        dataset: A `datasets.Dataset` with a text column.
        tokenizer: A fast tokenizer (its normaliser does all text cleaning).
        text_column: Column to tokenise.
        max_length: Truncate to this many tokens (on the tokenizer's `truncation_side`); None: no truncation.
        add_eos: Append `eos_token_id` to every document (LM: marks where one review ends).
        keep_columns: Other columns to keep (e.g. `("label", "rating")`); the rest are removed.
        batch_size: Rows per `map` batch (the Rust tokenizer parallelises within a batch).
        num_proc: Processes for `map`; None is usually fastest, as the Rust tokenizer is multithreaded.

    Returns:
        The tokenised dataset with columns `input_ids`, `length` and `keep_columns`.
    """
    if text_column not in dataset.column_names:
        raise ValueError(f"No column {text_column!r} (columns: {dataset.column_names}); pass text_column=...")
    settings = dict(text_column=text_column, max_length=max_length, add_eos=add_eos)
    fingerprint = Hasher.hash([dataset._fingerprint, tokenizer_fingerprint(tokenizer), settings, keep_columns])
    remove = [c for c in dataset.column_names if c not in keep_columns]
    return dataset.map(
        _tokenize_batch,
        batched=True,
        batch_size=batch_size,
        num_proc=num_proc,
        fn_kwargs=dict(tokenizer=tokenizer, **settings),
        remove_columns=remove,
        new_fingerprint=fingerprint,
        features=_features(dataset, keep_columns),
        desc="tokenize",
    )


def _features(dataset: datasets.Dataset, keep_columns) -> datasets.Features:
    """int32 ids (half the disk of the default int64) plus the kept columns' own types."""
    features = datasets.Features({"input_ids": datasets.List(datasets.Value("int32")), "length": datasets.Value("int32")})
    for column in keep_columns:
        features[column] = dataset.features[column]
    return features


def _tokenize_batch(batch, tokenizer, text_column, max_length, add_eos) -> dict:
    """Token ids and lengths for one batch of texts."""
    ids = tokenizer(
        batch[text_column],
        truncation=max_length is not None,
        max_length=max_length,
        return_attention_mask=False,  # the collator makes masks when it pads
        verbose=False,
    )["input_ids"]
    if add_eos:
        ids = [row + [tokenizer.eos_token_id] for row in ids]
    return {"input_ids": ids, "length": [len(row) for row in ids]}
