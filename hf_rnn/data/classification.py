"""Classification features: token ids, a `length` column and `labels` for one of three targets.

Long reviews: a review keeps at most `max_length` tokens (default: the tokenizer's `model_max_length`,
512), cut on the tokenizer's `truncation_side`, which our tokenizers set to "left": the *end* of a
review is kept, where reviewers usually sum up ("... 3/10, avoid"). `length` (tokens after truncation)
drives length-grouped batching.

Targets:
    * `"binary"`: `labels` = `label` (0 neg, 1 pos), int.
    * `"rating10"`: `labels` = `rating - 1` (0..9), int, for a 10-way classifier.
    * `"regression"`: `labels` = `float(rating)` (1..10), for `problem_type="regression"`.
    * `"binary+rating10"`: `labels` = `[label, rating - 1]`, for one classifier with a sentiment head and a
      10-way rating head (`RNNConfig.auxiliary_label_names`), trained in one fine-tune.
    * `"label"`: any task, read off the `label` feature (`hf_rnn.data.load_labelled_texts` types it): a `ClassLabel`
      gives class ids, a `Sequence(ClassLabel)` multi-hot float vectors, a float `Value` floats.
Rows without a target (label -1, rating 0: the `unsupervised` split) are an error, not dropped quietly.
"""

from __future__ import annotations

import datasets
from transformers import PreTrainedTokenizerBase

from .tokenize import tokenize_column

TARGETS = ("binary", "rating10", "regression", "binary+rating10", "label")
TWO_HEAD_TARGET = "binary+rating10"


def classification_features(
    dataset: datasets.Dataset | datasets.DatasetDict,
    tokenizer: PreTrainedTokenizerBase,
    target: str = "binary",
    max_length: int | None = None,
    text_column: str = "text",
) -> datasets.Dataset | datasets.DatasetDict:
    """Tokenise reviews (truncated) and add `length` and `labels` for `target`.

    Args:
        dataset: A `Dataset` or `DatasetDict` in the standard schema (`text`, `label`, maybe `rating`);
            a `DatasetDict`'s `unsupervised` split is left out.
        tokenizer: The tokenizer; its `truncation_side` decides which end of a long review is kept.
        target: `"binary"`, `"rating10"`, `"regression"` or `"binary+rating10"` (see module doc).
        max_length: Maximum tokens per review; None: `tokenizer.model_max_length`; 0: keep whole reviews
            (for a classifier that reads long reviews in chunks).
        text_column: The text column.

    Returns:
        The same kind of object with columns `input_ids`, `length`, `labels`.
    """
    if isinstance(dataset, datasets.DatasetDict):
        # `unsupervised` has no targets by definition (label -1, rating 0): it feeds the LM, not the classifier
        return datasets.DatasetDict(
            {name: classification_features(ds, tokenizer, target, max_length, text_column)
             for name, ds in dataset.items() if name != "unsupervised"}
        )
    sources = _target_sources(dataset, target)
    tokens = tokenize_column(
        dataset, tokenizer, text_column=text_column,
        max_length=tokenizer.model_max_length if max_length is None else (max_length or None), keep_columns=sources,
    )
    return make_targets(tokens, target)


def _target_sources(dataset: datasets.Dataset, target: str) -> tuple[str, ...]:
    """The columns a target is computed from, with an error naming the fix if one is missing."""
    if target not in TARGETS:
        raise ValueError(f"Unknown target {target!r}; use one of {TARGETS}.")
    sources = {"binary": ("label",), "label": ("label",), TWO_HEAD_TARGET: ("label", "rating")}.get(target, ("rating",))
    for source in sources:
        if source not in dataset.column_names:
            hint = (" (stanfordnlp/imdb on the Hub has no ratings: use the local parquet copy or aclImdb)"
                    if source == "rating" else "")
            raise ValueError(f"target={target!r} needs a {source!r} column, got {dataset.column_names}{hint}.")
    return sources


def make_targets(dataset: datasets.Dataset, target: str = "binary") -> datasets.Dataset:
    """Add `labels` for `target` from `label` or `rating`, dropping the source column."""
    sources = _target_sources(dataset, target)
    if target == "label":
        return _typed_label_targets(dataset)
    label_type = datasets.Value("float32") if target == "regression" else datasets.Value("int64")
    features = dataset.features.copy()
    for source in sources:
        del features[source]
    features["labels"] = datasets.Sequence(label_type, length=2) if target == TWO_HEAD_TARGET else label_type
    return dataset.map(
        _targets_batch, batched=True, fn_kwargs=dict(target=target), remove_columns=list(sources),
        features=features, desc=f"{target} labels",
    )


def _targets_batch(batch: dict, target: str) -> dict:
    """`labels` for one batch; raises on rows without a target."""
    if target == TWO_HEAD_TARGET:
        sentiment, rating = (_targets_batch(batch, t)["labels"] for t in ("binary", "rating10"))
        return {"labels": [list(pair) for pair in zip(sentiment, rating)]}
    values = batch["label"] if target == "binary" else batch["rating"]
    if target == "binary" and any(v not in (0, 1) for v in values):
        raise ValueError("Found label -1 (no sentiment, e.g. the unsupervised split); classify labelled splits only.")
    if target != "binary" and any(not 1 <= v <= 10 for v in values):
        raise ValueError("Found rating outside 1..10 (0 = unknown, e.g. the unsupervised split); use labelled splits.")
    if target == "binary":
        return {"labels": list(values)}
    return {"labels": [v - 1 for v in values] if target == "rating10" else [float(v) for v in values]}


def id2label(target: str = "binary") -> dict[int, str]:
    """`id2label` for the model config, so `pipeline()` prints readable labels (of the first head)."""
    if target in ("binary", TWO_HEAD_TARGET):
        return {0: "neg", 1: "pos"}
    if target == "rating10":
        return {i: f"{i + 1} stars" for i in range(10)}
    return {0: "rating"}


def auxiliary_label_names(target: str) -> list[str] | None:
    """Class names of the second head a target trains (`RNNConfig.auxiliary_label_names`), or None."""
    return list(id2label("rating10").values()) if target == TWO_HEAD_TARGET else None


def problem_type_of(feature) -> str:
    """transformers' `problem_type` for a typed `label` feature (see `hf_rnn.data.load_labelled_texts`)."""
    if isinstance(feature, datasets.ClassLabel):
        return "single_label_classification"
    if isinstance(feature, datasets.Sequence) and isinstance(feature.feature, datasets.ClassLabel):
        return "multi_label_classification"
    if isinstance(feature, datasets.Value) and feature.dtype.startswith("float"):
        return "regression"
    raise ValueError(f"A `label` of type {feature} names no task: type it with hf_rnn.data.load_labelled_texts "
                     "(ClassLabel, Sequence(ClassLabel) or a float Value).")


def label_names_of(feature) -> list[str]:
    """The class names of a typed `label` feature (a regression's one output is called `value`)."""
    if isinstance(feature, datasets.ClassLabel):
        return list(feature.names)
    if isinstance(feature, datasets.Sequence) and isinstance(feature.feature, datasets.ClassLabel):
        return list(feature.feature.names)
    problem_type_of(feature)  # raises for an untyped label
    return ["value"]


def _typed_label_targets(dataset: datasets.Dataset) -> datasets.Dataset:
    """`labels` from a typed `label`: class ids, multi-hot float vectors or floats, as its problem type needs."""
    feature = dataset.features["label"]
    problem_type, names = problem_type_of(feature), label_names_of(feature)
    labels = {"single_label_classification": datasets.Value("int64"), "regression": datasets.Value("float32"),
              "multi_label_classification": datasets.Sequence(datasets.Value("float32"), length=len(names))}
    features = dataset.features.copy()
    del features["label"]
    features["labels"] = labels[problem_type]
    multi_hot = lambda ids: [1.0 if i in set(ids) else 0.0 for i in range(len(names))]
    convert = multi_hot if problem_type == "multi_label_classification" else (lambda value: value)
    return dataset.map(lambda batch: {"labels": [convert(v) for v in batch["label"]]}, batched=True,
                       remove_columns=["label"], features=features, desc=f"{problem_type} labels")
