"""What each stage reads: the job's labelled and unlabelled splits, the language model's blocks and the classifiers'
tokenised features."""

import datasets

from ..data import classification_features, lm_blocks, load_reviews
from .args import DataArguments


def load_imdb(data_args: DataArguments, seed: int = 42) -> datasets.DatasetDict:
    """Reviews with a seeded stratified validation split, trimmed to the requested sizes."""
    dsd = load_reviews(data_args.dataset, validation_size=data_args.validation_size, seed=seed)
    return trimmed_splits(dsd, data_args, seed)


def trimmed_splits(dsd: datasets.DatasetDict, data_args: DataArguments, seed: int = 42) -> datasets.DatasetDict:
    """Each split cut to the size `data_args` asks for (`max_train_samples` ...), a seeded random subset."""
    limits = {"train": data_args.max_train_samples, "validation": data_args.max_eval_samples,
              "test": data_args.max_test_samples, "unsupervised": data_args.max_lm_documents}
    for split, limit in limits.items():
        if split in dsd and limit is not None and limit < len(dsd[split]):
            # Shuffle before cutting: the source is sorted by label, so a head slice would be one class.
            dsd[split] = dsd[split].shuffle(seed=seed).select(range(limit))
    return dsd


def texts_only(split):
    """A split's `text` column alone: labelled and unlabelled splits join for the tokenizer and the LM whatever
    their other columns (a general task's unlabelled text has no labels at all)."""
    return split.select_columns(["text"])


def lm_datasets(tokenizer, dsd: datasets.DatasetDict, data_args: DataArguments, reverse_text: bool = False):
    """LM blocks: train on training + unlabeled reviews (the training reviews alone with `lm_unlabeled=False`),
    measure perplexity on the validation reviews.
    `reverse_text`: training blocks for a backward model, whose streams step back through the text."""
    sources = ("train", "unsupervised") if data_args.lm_unlabeled else ("train",)
    train_text = datasets.concatenate_datasets([texts_only(dsd[s]) for s in sources if s in dsd])
    if data_args.max_lm_documents and data_args.max_lm_documents < len(train_text):
        train_text = train_text.shuffle(seed=0).select(range(data_args.max_lm_documents))
    streams = data_args.lm_streams or None  # stream order lets the state carry from batch to batch
    train = lm_blocks(train_text, tokenizer, block_size=data_args.block_size, num_streams=streams,
                      reverse_text=reverse_text)
    valid_text = dsd["validation"].select(range(min(len(dsd["validation"]), data_args.max_lm_eval_documents)))
    valid = lm_blocks(valid_text, tokenizer, block_size=data_args.block_size)
    return train, valid


def classification_datasets(tokenizer, dsd, data_args: DataArguments):
    """Tokenised train / validation / test features with labels for the target: the training reviews cut to
    `max_length` tokens, the evaluated ones to `evaluation_length(data_args)`."""
    evaluated = evaluation_length(data_args)
    lengths = {"train": data_args.max_length, "validation": evaluated, "test": evaluated}
    return datasets.DatasetDict({split: classification_features(dsd[split], tokenizer, target=data_args.target,
                                                                max_length=length)
                                 for split, length in lengths.items() if split in dsd})


def evaluation_length(data_args: DataArguments) -> int:
    """Tokens kept per evaluated review: `eval_max_length`, else `max_length` (0: the whole review)."""
    return data_args.max_length if data_args.eval_max_length is None else data_args.eval_max_length


def by_length(split: datasets.Dataset | None) -> datasets.Dataset | None:
    """Rows sorted by length, for evaluation: metrics do not depend on row order, and sorted batches carry almost
    no padding (random order pads half of every batch)."""
    return split.sort("length") if split is not None else None
