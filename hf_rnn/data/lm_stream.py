"""Streamed LM blocks in stream order: a corpus of any size, tokenised on the fly, read by each process in its part.

`lm_blocks(num_streams=B)` splits a tokenised corpus held on disk into `B` contiguous streams, which needs its
length. A stream has none, so here documents are dealt out as they arrive: each goes to the stream that has the
fewest buffered tokens, and as soon as every stream holds a block, one block of each is emitted, stream 0 first.
Row `r` of batch `i` therefore continues row `r` of batch `i-1` (as in `lm_blocks`), and memory stays flat: no
stream buffers more than a block plus one document.

Several processes (torchrun, accelerate): process `k` of `W` reads only its part of the corpus
(`datasets.distributed.split_dataset_by_node`) and builds its own `B` streams. The result is a
`datasets.IterableDataset` with one shard per process, so the Trainer's accelerate dataloader (with
`dispatch_batches=False`) hands process `k` exactly shard `k`; iterated whole, it yields every process's rows.

No library builds stream-ordered rows: run_clm's streamed `group_texts` cuts blocks inside each `map` batch,
dropping the tail of every batch, and its rows do not continue each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import datasets
import torch.distributed as dist
from datasets.distributed import split_dataset_by_node
from transformers import PreTrainedTokenizerBase

from .tokenize import _tokenize_batch

_FEATURES = datasets.Features({"input_ids": datasets.List(datasets.Value("int32"))})


def streamed_lm_blocks(
    corpus: datasets.IterableDataset,
    tokenizer: PreTrainedTokenizerBase,
    block_size: int,
    num_streams: int,
    world_size: int = 1,
    text_column: str = "text",
) -> datasets.IterableDataset:
    """Stream-ordered LM blocks from a streamed corpus, tokenised as they are read, one shard per process.

    Args:
        corpus: A `datasets.IterableDataset` of documents (e.g. `load_text_corpus(..., streaming=True)["train"]`).
        tokenizer: Adds `<s>` through its post-processor; `</s>` is appended to every document here.
        block_size: Tokens per block (the BPTT length).
        num_streams: Parallel streams per process: the per-device training batch size.
        world_size: Number of training processes; process `k` reads `split_dataset_by_node(corpus, k, world_size)`.
        text_column: The text column.

    Returns:
        A `datasets.IterableDataset` with one column `input_ids` (`block_size` ids per row) and `world_size` shards:
        shard `k` is process `k`'s rows, `num_streams` per step (use `DataCollatorForLanguageModeling(mlm=False)`).
    """
    if block_size < 2 or num_streams < 1:
        raise ValueError(f"block_size must be >= 2 and num_streams >= 1 (got {block_size}, {num_streams}).")
    if tokenizer.eos_token_id is None:
        raise ValueError("The tokenizer has no eos_token; documents could not be separated. Set tokenizer.eos_token.")
    return datasets.IterableDataset.from_generator(
        _process_rows,
        features=_FEATURES,
        # A list in gen_kwargs makes one shard per element: one per process.
        gen_kwargs=dict(ranks=list(range(world_size)), corpus=corpus, tokenizer=tokenizer, block_size=block_size,
                        num_streams=num_streams, world_size=world_size, text_column=text_column),
    )


def _process_rows(ranks, corpus, tokenizer, block_size, num_streams, world_size, text_column) -> Iterator[dict]:
    """The rows of the given processes' parts of the corpus, one process after the other."""
    _check_one_part_per_process(ranks, world_size)
    for rank in ranks:
        part = split_dataset_by_node(corpus, rank=rank, world_size=world_size) if world_size > 1 else corpus
        for block in stream_ordered_blocks(document_ids(part, tokenizer, text_column), block_size, num_streams):
            yield {"input_ids": block}


def _check_one_part_per_process(ranks: list[int], world_size: int):
    """Under torch.distributed each process must read its own part only, or streams would repeat across ranks."""
    if world_size > 1 and dist.is_available() and dist.is_initialized() and ranks != [dist.get_rank()]:
        raise RuntimeError(
            f"Process {dist.get_rank()} would read the corpus parts of processes {ranks}: the dataloader did not give "
            "each process its own shard. Pass the dataset to Trainer with accelerator_config dispatch_batches=False "
            "(hf_rnn's LM recipe sets it), or split it yourself with split_dataset_by_node."
        )


def document_ids(corpus: datasets.IterableDataset, tokenizer, text_column: str = "text") -> Iterator[list[int]]:
    """Token ids of each document, `<s> ... </s>`, tokenised on the fly in batches by `IterableDataset.map`."""
    tokens = corpus.map(_tokenize_batch, batched=True, batch_size=1_000, remove_columns=[text_column],
                        fn_kwargs=dict(tokenizer=tokenizer, text_column=text_column, max_length=None, add_eos=True))
    for batch in tokens.iter(batch_size=1_000):  # batches: far fewer Python dicts than row by row
        yield from batch["input_ids"]


def stream_ordered_blocks(documents: Iterable[list[int]], block_size: int, num_streams: int) -> Iterator[list[int]]:
    """Deal documents into `num_streams` streams and yield one block of each stream per step, stream 0 first.

    Each document goes to the stream with the fewest buffered tokens, so the streams grow evenly. The tokens left
    in the streams when the documents run out (less than a block in at least one stream) are dropped.
    """
    streams = [_TokenQueue() for _ in range(num_streams)]
    for ids in documents:
        min(streams, key=len).extend(ids)
        while all(len(stream) >= block_size for stream in streams):
            for stream in streams:
                yield stream.pop(block_size)


class _TokenQueue:
    """A FIFO of token ids; popping from the front is amortised O(block) (`del ids[:n]` would copy the rest)."""

    def __init__(self):
        self.ids: list[int] = []
        self.start = 0

    def __len__(self) -> int:
        return len(self.ids) - self.start

    def extend(self, ids: list[int]):
        self.ids.extend(ids)

    def pop(self, n: int) -> list[int]:
        block = self.ids[self.start : self.start + n]
        self.start += n
        if self.start * 2 > len(self.ids):  # compact once half is consumed: each id is copied O(1) times
            del self.ids[: self.start]
            self.start = 0
        return block
