"""Truncated backpropagation through time across batches: the LM's state carries from one batch to the next.

AWD-LSTM and ULMFiT train this way: each batch row continues the same row of the previous batch, so the
model learns from context longer than one block. The data side is `hf_rnn.data.lm_blocks(num_streams=B)`, or,
streamed with streams of its own in each process, `hf_rnn.data.streamed_lm_blocks(num_streams=B, world_size=W)`;
this Trainer passes the previous batch's final state (detached: gradients stop at the block boundary) as `cache`.
The state lives on the Trainer, not on the model, and is reset at every epoch.
"""

import datasets
from transformers import Trainer


class StatefulLMTrainer(Trainer):
    """`Trainer` for stream-ordered LM blocks that carries the recurrent state across batches.

    Needs `per_device_train_batch_size == num_streams` of the blocks and, for blocks held in memory,
    `train_sampling_strategy="sequential"` and a single process; several processes need a stream with one shard per
    process (`streamed_lm_blocks(world_size=W)`). Evaluation runs blocks independently.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        streamed = isinstance(self.train_dataset, datasets.IterableDataset)  # no sampler: rows come in stream order
        if not streamed and self.args.train_sampling_strategy != "sequential":
            raise ValueError("StatefulLMTrainer needs train_sampling_strategy='sequential': shuffled blocks do not "
                             "continue each other.")
        if self.args.world_size > 1 and not (streamed and self.train_dataset.n_shards == self.args.world_size):
            raise ValueError("StatefulLMTrainer under several processes needs one stream per process: "
                             "streamed_lm_blocks(..., world_size=W) (run_lm.py --streaming); in-memory blocks would "
                             "be dealt out batch by batch across processes.")
        self.train_state = None
        self._state_epoch = None

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not model.training:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        if self._state_epoch != self.state.epoch // 1 or self._batch_changed(inputs):
            self.train_state, self._state_epoch = None, self.state.epoch // 1  # a new pass starts from zero
        outputs = model(**inputs, cache=self.train_state, use_cache=True)
        self.train_state = outputs.cache.detach()
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def _batch_changed(self, inputs) -> bool:
        """A short last batch cannot continue the previous state row for row."""
        return self.train_state is not None and self.train_state[0][0].size(1) != inputs["input_ids"].size(0)
