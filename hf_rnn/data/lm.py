"""Language-model data: documents joined with `</s>` and cut into fixed blocks.

Two orders of the same blocks:

* `lm_blocks(..., num_streams=None)`: blocks in stream order, as run_clm's `group_texts`; shuffle them
  freely (each block is an independent sample, the state starts from zero in every block).
* `lm_blocks(..., num_streams=B)`: truncated BPTT. The token stream is split into `B` contiguous
  streams, and the rows are ordered so that row `r` of batch `i` (rows `i*B .. i*B+B-1`) continues
  row `r` of batch `i-1`: the model can carry its recurrent state from one batch to the next. The
  dataloader must then NOT shuffle (Trainer: `train_sampling_strategy="sequential"`; checked by
  `check_stream_training_args`), its batch size
  must equal `B` (`per_device_train_batch_size=B`, one process), and the state must be reset (or
  detached) only where the caller decides. The row count is a multiple of `B`, so no batch is short.

For a backward model (`RNNConfig(reverse_text=True)`, which reverses every row it reads), `reverse_text=True`
steps through each stream from its end: row `r` of batch `i` is the block that PRECEDES row `r` of batch `i-1`
in the text, so, each block read backward, the carried state follows the text backward without a break.
Reversing the tokens inside each block instead would make every block start where the previous one did not end.

Both concatenate the whole split in one `map` call over Arrow data (`batch_size=None`), so only the
final partial block is dropped (run_clm drops one per 1,000 documents), and both are cached on disk.
"""

from __future__ import annotations

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets.fingerprint import Hasher
from transformers import PreTrainedTokenizerBase

from .tokenize import tokenize_column


def lm_blocks(
    dataset: datasets.Dataset,
    tokenizer: PreTrainedTokenizerBase,
    block_size: int = 128,
    num_streams: int | None = None,
    text_column: str = "text",
    reverse_text: bool = False,
) -> datasets.Dataset:
    """Tokenise documents (each `<s> ... </s>`), join them and cut fixed-length blocks.

    Args:
        dataset: A `datasets.Dataset` with a text column (e.g. train + unsupervised reviews).
        tokenizer: The tokenizer (adds `<s>` through its post-processor; `</s>` is appended here).
        block_size: Tokens per block (the BPTT length).
        num_streams: None for shuffleable blocks; the training batch size for stateful stream order.
        text_column: The text column.
        reverse_text: Blocks for a backward model (`RNNConfig(reverse_text=True)`): each block keeps its tokens in
            natural order (the model reverses them as it reads) and each stream's blocks come last first, so row `r`
            of every batch continues row `r` of the previous one in backward reading.

    Returns:
        A dataset with one column `input_ids` of `block_size` ids per row. Use it with
        `DataCollatorForLanguageModeling(tokenizer, mlm=False)`, which copies `input_ids` to `labels`.
    """
    if tokenizer.eos_token_id is None:
        raise ValueError("The tokenizer has no eos_token; documents could not be separated. Set tokenizer.eos_token.")
    tokens = tokenize_column(dataset, tokenizer, text_column=text_column, add_eos=True)
    return group_blocks(tokens, block_size=block_size, num_streams=num_streams, reverse_text=reverse_text)


def group_blocks(tokens: datasets.Dataset, block_size: int, num_streams: int | None = None,
                 reverse_text: bool = False) -> datasets.Dataset:
    """Concatenate the `input_ids` column and cut it into blocks, optionally in stream order, backward for a
    backward model (see module doc)."""
    if block_size < 2:
        raise ValueError(f"block_size must be >= 2 (got {block_size}).")
    streams = num_streams or 1
    if len(tokens) and sum(tokens["length"]) < streams * block_size:
        raise ValueError(
            f"Only {sum(tokens['length'])} tokens: fewer than num_streams x block_size = {streams * block_size}. "
            "Use more text, a smaller block_size or fewer streams."
        )
    key = [tokens._fingerprint, "group_blocks", block_size, streams]
    if reverse_text:  # appended only here, so forward blocks keep the fingerprint (and the disk cache) they had
        key.append("backward")
    fingerprint = Hasher.hash(key)
    return tokens.with_format("arrow").map(
        _blocks_table,
        batched=True,
        batch_size=None,  # the whole split at once: ids only, ~80 MB for IMDB's 20M tokens
        fn_kwargs=dict(block_size=block_size, num_streams=streams, reverse_text=reverse_text),
        remove_columns=tokens.column_names,
        new_fingerprint=fingerprint,
        desc="group blocks",
    ).with_format(None)


def _blocks_table(table: pa.Table, block_size: int, num_streams: int, reverse_text: bool = False) -> pa.Table:
    """All ids of `table` as blocks; block `(stream r, step i)` goes to row `i * num_streams + r` (backward: step i
    counts from the stream's end)."""
    flat = pc.list_flatten(table.column("input_ids")).to_numpy()  # [total_tokens]
    steps = len(flat) // (num_streams * block_size)
    used = flat[: steps * num_streams * block_size]
    blocks = used.reshape(num_streams, steps, block_size)  # [stream, step, block]: streams are contiguous
    if reverse_text:
        blocks = blocks[:, ::-1]  # each stream's last block first; tokens inside a block stay in natural order
    blocks = blocks.transpose(1, 0, 2).reshape(-1, block_size)  # [step * stream, block]: batch i = step i
    values = pa.array(np.ascontiguousarray(blocks).ravel(), type=pa.int32())
    offsets = pa.array(np.arange(0, len(values) + 1, block_size, dtype=np.int32))
    return pa.table({"input_ids": pa.ListArray.from_arrays(offsets, values)})


def check_stream_training_args(training_args, num_streams: int) -> None:
    """Raise if `TrainingArguments` would break the stream order of `lm_blocks(..., num_streams=...)`.

    Args:
        training_args: `transformers.TrainingArguments` for the LM run.
        num_streams: The `num_streams` the blocks were built with.

    Raises:
        ValueError: Shuffled sampling, a different batch size, or several processes (each would get
            every other batch, breaking the row-to-row continuation).
    """
    if training_args.train_sampling_strategy != "sequential":
        raise ValueError(
            f"Stream-ordered LM blocks need train_sampling_strategy='sequential' "
            f"(got {training_args.train_sampling_strategy!r}): shuffling breaks the carried state."
        )
    if training_args.per_device_train_batch_size != num_streams:
        raise ValueError(
            f"per_device_train_batch_size={training_args.per_device_train_batch_size} must equal num_streams="
            f"{num_streams}: row r of each batch must continue row r of the previous batch."
        )
    if training_args.world_size > 1:
        raise ValueError("Stream-ordered LM blocks need a single process (world_size 1); build streams per process.")
