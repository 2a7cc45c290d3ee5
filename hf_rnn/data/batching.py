"""Batching: dynamic-padding collators, length-grouped training batches, in-order evaluation.

Collators are transformers' own: `DataCollatorWithPadding` pads classification rows to the longest row
of each batch; `DataCollatorForLanguageModeling(mlm=False)` pads LM rows and copies `input_ids` to
`labels` (pad positions -> -100). Nothing here pads by hand.

Two things the stock `Trainer` (transformers 5) gets wrong for us, fixed by `LengthGroupedTrainer`:

1. With `train_sampling_strategy="group_by_length"` it builds the sampler *after* removing the columns
   the model's `forward` does not take, so the `length` column is gone and it re-measures every row of
   `input_ids` in Python. We read `length` from the dataset as given.
2. The same option also length-groups the eval/predict sampler, so `trainer.predict()` returns rows in
   a permuted order. We keep dataset order for eval and predict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import SequentialSampler
from transformers import DataCollatorForLanguageModeling, DataCollatorWithPadding, PreTrainedTokenizerBase, Trainer
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices
from transformers.trainer_utils import has_length


@dataclass
class DataCollatorWithPaddingNoLength(DataCollatorWithPadding):
    """`DataCollatorWithPadding` that drops the `length` column and pads on its own `padding_side`.

    `length` only serves the sampler. `Trainer` removes it before collating (the model's forward does
    not take it), but a plain `DataLoader` would pass it on to the model; the stock collator keeps it.
    `padding_side` defaults to `"right"` whatever the tokenizer's side (ours pad left, for generation):
    right-padded rows go straight into the fused recurrent kernel, left-padded ones are rolled first.
    """

    padding_side: str = "right"

    def __call__(self, features: list[dict]) -> dict:
        rows = [{k: v for k, v in f.items() if k != "length"} for f in features]
        batch = self.tokenizer.pad(rows, padding=self.padding, max_length=self.max_length,
                                   pad_to_multiple_of=self.pad_to_multiple_of, padding_side=self.padding_side,
                                   return_tensors=self.return_tensors)
        for name in ("label", "label_ids"):  # the names the stock collator renames to `labels`
            if name in batch:
                batch["labels"] = batch.pop(name)
        return batch


def classification_collator(tokenizer: PreTrainedTokenizerBase, pad_to_multiple_of: int | None = None):
    """Pad each batch to its longest row, on the right, and build `attention_mask`."""
    return DataCollatorWithPaddingNoLength(tokenizer, pad_to_multiple_of=pad_to_multiple_of)


def lm_collator(tokenizer: PreTrainedTokenizerBase):
    """Causal-LM collator: `labels` = `input_ids` (the model shifts them), pads ignored with -100."""
    return DataCollatorForLanguageModeling(tokenizer, mlm=False)


class LengthGroupedTrainer(Trainer):
    """`Trainer` whose training batches are grouped by the `length` column and whose eval/predict keep order.

    Use with `TrainingArguments(train_sampling_strategy="group_by_length")` and a dataset from
    `classification_features` (which has `length`). Other strategies behave exactly as in `Trainer`.
    """

    def _get_train_sampler(self, train_dataset=None):
        """Length-grouped sampler from the `length` column of the dataset as given to the Trainer."""
        lengths = self._length_column()
        if self.args.train_sampling_strategy != "group_by_length" or lengths is None:
            return super()._get_train_sampler(train_dataset)
        batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
        return LengthGroupedSampler(batch, lengths=lengths)

    def _get_eval_sampler(self, eval_dataset):
        """Dataset order for evaluation and prediction, whatever the training sampling strategy."""
        if eval_dataset is None or not has_length(eval_dataset):
            return None
        return SequentialSampler(eval_dataset) if self.args.world_size <= 1 else None

    def _length_column(self) -> list[int] | None:
        """The training set's `length_column_name` column, if it has one."""
        columns = getattr(self.train_dataset, "column_names", None) or []
        name = self.args.length_column_name
        return list(self.train_dataset[name]) if name in columns else None


def length_grouped_batches(lengths: Sequence[int], batch_size: int, seed: int = 0) -> list[list[int]]:
    """The batches (lists of row indices) that `LengthGroupedSampler` would draw for one epoch."""
    generator = torch.Generator().manual_seed(seed)
    order = get_length_grouped_indices(list(lengths), batch_size, generator=generator)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def padded_fraction(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Share of positions that are padding when each batch is padded to its longest row."""
    padded = sum(max(lengths[i] for i in batch) * len(batch) for batch in batches)
    real = sum(lengths[i] for batch in batches for i in batch)
    return 1.0 - real / padded if padded else 0.0
