"""hf_rnn's recurrent models: backbone, language model, sequence / token classifiers, forecaster.

This file ships to the Hub next to every checkpoint (``trust_remote_code=True``): it imports only torch,
transformers' public API and its sibling ``configuration_rnn.py``.

Recurrent state is passed in and returned (the ``cache``), never stored on a module. Padded batches run the
fused cuDNN/oneDNN kernel on right-padded inputs (left padding is rolled to the right first), which is exact
for unidirectional layers at real positions; packing is used only where it is the sole exact way
(bidirectional layers over padded rows, or an LSTM's final cell state for rows of different lengths).
"""

import math
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from transformers import Cache, GenerationMixin, GradientCheckpointingLayer, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import ModelOutput, SequenceClassifierOutput, TokenClassifierOutput

from .configuration_rnn import RNNConfig

RNN_CLASSES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

# Written into every saved config so one folder loads as any head through the Auto classes.
AUTO_MAP = {
    "AutoConfig": "configuration_rnn.RNNConfig",
    "AutoModel": "modeling_rnn.RNNModel",
    "AutoModelForCausalLM": "modeling_rnn.RNNForCausalLM",
    "AutoModelForSequenceClassification": "modeling_rnn.RNNForSequenceClassification",
    "AutoModelForTokenClassification": "modeling_rnn.RNNForTokenClassification",
    "AutoModelForTimeSeriesPrediction": "modeling_rnn.RNNForForecasting",
}
SHIPPED_FILES = ("configuration_rnn.py", "modeling_rnn.py")


class RNNCache(Cache):
    """The recurrent state of every layer: all a recurrent model needs to continue a sequence, O(1) in its length.

    A transformers `Cache`, so `generate(..., cache=out.cache)` continues a conversation or a stream where an earlier
    call stopped. Unlike a key/value cache it never grows and a forward never changes it in place: every forward
    returns a new `RNNCache`, so a state kept aside (truncated backpropagation, branching a stream) stays valid.

    Assisted decoding and prompt lookup verify several candidate tokens in one forward and then roll back the rejected
    ones, which a recurrent state cannot undo. After `activate_past_recording()` the model therefore reads the columns
    a rollback may return to one at a time and keeps the state after each (in `history`, carried from cache to cache);
    `crop(-n)` then puts back the state from before the last `n` columns and forgets the history.

    Args:
        states (`list` of per-layer tuples, *optional*): `(h, c)` for an LSTM layer, `(h,)` otherwise, each
            `(directions, batch, hidden)`.
        seen_tokens (`int`, *optional*, defaults to 0): how many input columns (padding included) the state has
            read; `generate` feeds only the columns after them.
    """

    is_compileable = False

    def __init__(self, states=None, seen_tokens: int = 0):
        super().__init__(layers=[])
        self.states = [tuple(layer) for layer in states] if states else []
        self.seen_tokens = seen_tokens
        self.record_past = False
        self.recurrent_states_to_keep = None
        self.history = []  # (seen_tokens, states) after each column read since recording started or the last crop

    @classmethod
    def from_legacy(cls, cache):
        """Accept an `RNNCache`, None, or the tuple of per-layer state tuples that hf_rnn returned before."""
        if cache is None or isinstance(cache, RNNCache):
            return cache
        if isinstance(cache, (tuple, list)):
            return cls(cache)
        raise TypeError(f"cache must be an RNNCache (the `cache` a forward returned), got {type(cache).__name__}.")

    def __len__(self):
        return len(self.states)

    def __getitem__(self, layer_idx):
        return self.states[layer_idx]

    def __iter__(self):
        return iter(self.states)

    def __repr__(self):
        return f"RNNCache(layers={len(self.states)}, seen_tokens={self.seen_tokens})"

    @property
    def batch_size(self):
        return self.states[0][0].size(1) if self.states else None

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.seen_tokens

    def get_max_cache_shape(self, layer_idx: int = 0) -> int:
        return -1  # a recurrent state has no length limit

    def continued(self, states, new_columns: int) -> "RNNCache":
        """The cache after reading `new_columns` more columns into `states`; a recording cache records that state."""
        cache = RNNCache(states, self.seen_tokens + new_columns)
        if self.record_past:
            cache.record_past, cache.recurrent_states_to_keep = True, self.recurrent_states_to_keep
            cache.history = [*self.history, (cache.seen_tokens, cache.states)]
        return cache

    def activate_past_recording(self, recurrent_states_to_keep: int | None = None):
        """Keep the state after each column from now on, so that `crop` can roll back up to the columns read since.

        Args:
            recurrent_states_to_keep (`int`, *optional*): how many tokens the first rollback may remove at most
                (the candidates of one round); a long prompt is then read whole up to its last that-many columns.
        """
        self.record_past = True
        self.recurrent_states_to_keep = recurrent_states_to_keep
        self.history = []

    def deactivate_past_recording(self):
        """Stop recording and forget the recorded states: the next columns are read at once again."""
        self.record_past, self.recurrent_states_to_keep, self.history = False, None, []

    @property
    def is_croppable(self) -> bool:
        """Whether `crop` can roll back: only while past recording is on."""
        return self.record_past

    def get_recurrent_states_to_keep(self, layer_idx: int | None = None) -> int:
        return (self.recurrent_states_to_keep or 0) if self.record_past else 0

    def columns_to_record(self, new_columns: int) -> int:
        """How many of the next `new_columns` columns must be read one at a time, keeping the state after each."""
        if not self.record_past:
            return 0
        if self.seen_tokens == 0 and self.recurrent_states_to_keep is not None:
            # The prefill: the first rollback removes at most the candidates appended to the prompt.
            return min(new_columns, self.recurrent_states_to_keep + 1)
        return new_columns  # verifying candidates (their number may grow between rounds): any of them may go

    def crop(self, tokens_to_remove: int) -> None:
        """Roll the state back to before the last `-tokens_to_remove` columns (0 or negative, as transformers' caches
        take it), as assisted decoding does after rejecting candidates. The recorded history is dropped."""
        if tokens_to_remove > 0:
            raise ValueError(f"crop({tokens_to_remove}): pass a negative number, the columns to remove.")
        if not self.record_past:
            raise RuntimeError("crop() needs the states of earlier columns: call activate_past_recording() before the "
                               "forward whose columns may be rolled back.")
        target = self.seen_tokens + tokens_to_remove
        if target != self.seen_tokens:
            recorded = dict(self.history)
            if target not in recorded:
                raise RuntimeError(f"Cannot roll the state back to {target} columns: states were recorded only after "
                                   f"{sorted(recorded)} (the cache has read {self.seen_tokens}).")
            self.states, self.seen_tokens = list(recorded[target]), target
        self.history = []

    def _map(self, fn):
        mapped = RNNCache([tuple(fn(t) for t in layer) for layer in self.states], self.seen_tokens)
        mapped.record_past, mapped.recurrent_states_to_keep = self.record_past, self.recurrent_states_to_keep
        mapped.history = [(seen, [tuple(fn(t) for t in layer) for layer in states]) for seen, states in self.history]
        return mapped

    def _map_in_place(self, fn):
        mapped = self._map(fn)
        self.states, self.history = mapped.states, mapped.history

    def detach(self) -> "RNNCache":
        """The same state without its graph: gradients stop here (truncated backpropagation through time)."""
        return self._map(torch.Tensor.detach)

    # Beam search and num_return_sequences rearrange batch rows; generate calls these in place on its own cache.
    def reorder_cache(self, beam_idx: torch.LongTensor):
        self._map_in_place(lambda t: t.index_select(1, beam_idx.to(t.device)))

    def batch_repeat_interleave(self, repeats: int):
        self._map_in_place(lambda t: t.repeat_interleave(repeats, dim=1))

    def batch_select_indices(self, indices: torch.Tensor):
        self._map_in_place(lambda t: t[:, indices])


@dataclass
class RNNModelOutput(ModelOutput):
    """Output of [`RNNModel`].

    Args:
        last_hidden_state (`torch.FloatTensor` of shape `(batch, time, output_size)`): last layer's outputs;
            zeros at padding positions.
        cache ([`RNNCache`], *optional*): the final recurrent state of every layer at each row's last real token,
            `(h, c)` for an LSTM and `(h,)` otherwise, each `(directions, batch, hidden)`. Pass it back as `cache`
            (to a forward or to `generate`) to continue the sequence.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*): the embedded input and every layer's outputs.
    """

    last_hidden_state: torch.FloatTensor | None = None
    cache: tuple | None = None
    hidden_states: tuple | None = None


@dataclass
class RNNCausalLMOutput(ModelOutput):
    """Output of [`RNNForCausalLM`]: `loss`, `logits` `(batch, time, vocab)`, `cache`, `hidden_states`."""

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    cache: tuple | None = None
    hidden_states: tuple | None = None


@dataclass
class RNNForecastOutput(ModelOutput):
    """Output of [`RNNForForecasting`]: `loss`, `predictions` `(batch, time, channels)`, `cache`, `hidden_states`."""

    loss: torch.FloatTensor | None = None
    predictions: torch.FloatTensor | None = None
    cache: tuple | None = None
    hidden_states: tuple | None = None


def _is_tracing() -> bool:
    """Under torch.export / torch.compile / jit tracing no Python branch may depend on tensor values."""
    return torch.compiler.is_compiling() or torch.jit.is_tracing()


@dataclass
class RNNSequenceClassifierOutput(SequenceClassifierOutput):
    """[`SequenceClassifierOutput`] plus `auxiliary_logits` `(batch, len(config.auxiliary_label_names))`: the second
    head's scores when the config has one (e.g. star ratings beside the sentiment in `logits`)."""

    auxiliary_logits: torch.FloatTensor | None = None


class PaddingLayout:
    """Where the real tokens of each row are, and how to move them to the left edge and back.

    Rows may be left- or right-padded (or both, as long as the real tokens form one contiguous run). Running
    the recurrence on right-aligned rows keeps every real output exact without packing. Under tracing (export)
    the checks and shortcuts that read tensor values are skipped and every mask takes the general path.
    """

    def __init__(self, attention_mask: torch.Tensor | None, batch_size: int, seq_len: int):
        self.seq_len = seq_len
        self.mask = self.lengths = self.starts = None  # no mask, or every row full: the fastest path
        if attention_mask is None:
            return
        if tuple(attention_mask.shape) != (batch_size, seq_len):
            raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)} but the inputs are "
                             f"{(batch_size, seq_len)} (batch, time); pass the mask the tokenizer returned with them.")
        tracing = _is_tracing()
        if not tracing:
            _check_mask_values(attention_mask)
            if bool(attention_mask.all()):
                return
        self.mask = attention_mask.bool()
        self.lengths = self.mask.sum(1)  # [B]
        self.starts = (self.mask.long().cumsum(1) == 0).sum(1)  # [B] leading pads per row
        # Under tracing every row is rolled: a roll by zero leaves a right-padded row as it is.
        self.left_padded = True if tracing else bool(self.starts.any())
        if not tracing:
            self._check_contiguous()

    def _check_contiguous(self):
        positions = torch.arange(self.seq_len, device=self.mask.device)[None, :]  # [1, T]
        contiguous = (positions >= self.starts[:, None]) & (positions < (self.starts + self.lengths)[:, None])
        if not torch.equal(contiguous, self.mask):
            raise ValueError(
                "attention_mask must mark one contiguous run of real tokens per row (left or right padding); "
                "found a row with padding between real tokens. Split such rows into separate sequences. If you "
                "called generate() without attention_mask, transformers built one from pad_token_id, so a prompt "
                "that contains the pad token looks like padding: pass the attention_mask the tokenizer returned."
            )

    def in_caller_layout(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T, D] already in the caller's layout, with padding positions zeroed."""
        return x if self.mask is None else x * self.mask[:, :, None].to(x.dtype)

    def _roll(self, x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(self.seq_len, device=x.device)[None, :]  # [1, T]
        index = (positions + shift[:, None]) % self.seq_len  # [B, T]
        return x.gather(1, index[:, :, None].expand(-1, -1, x.size(-1)))

    def to_right_padding(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T, D] in the caller's layout -> real tokens first in every row."""
        return self._roll(x, self.starts) if self.mask is not None and self.left_padded else x

    def to_caller_layout(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of `to_right_padding`, with padding positions zeroed."""
        if self.mask is None:
            return x
        return self.in_caller_layout(self._roll(x, -self.starts) if self.left_padded else x)

    def reversed_rows(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T] or [B, T, D] -> each row's real tokens in reverse order, padding where it was (its own inverse):
        `[pad, a, b, c]` -> `[pad, c, b, a]`. How a backward model (`config.reverse_text`) reads its rows."""
        if self.mask is None:
            return x.flip(1)
        positions = torch.arange(self.seq_len, device=x.device)[None, :]  # [1, T]
        mirrored = (2 * self.starts + self.lengths - 1)[:, None] - positions  # [B, T]: first real <-> last real
        index = torch.where(self.mask, mirrored, positions)  # [B, T]
        if x.dim() == 3:
            index = index[:, :, None].expand(-1, -1, x.size(-1))  # [B, T, D]
        return x.gather(1, index)


def in_reading_order(config, already_reversed: bool, attention_mask, *tensors):
    """The per-position tensors (None passes through) in the order the model reads them: for a backward model
    (`config.reverse_text`) each row's real tokens reversed, unless the caller already did (`already_reversed`)."""
    present = next((t for t in tensors if t is not None), None)
    if not config.reverse_text or already_reversed or present is None:
        return tensors
    layout = PaddingLayout(attention_mask, present.size(0), present.size(1))
    return tuple(None if t is None else layout.reversed_rows(t) for t in tensors)


def _check_mask_values(attention_mask):
    if attention_mask.dtype != torch.bool and bool(((attention_mask != 0) & (attention_mask != 1)).any()):
        raise ValueError("attention_mask may hold only 0 (padding) and 1 (real token); found other values. Pass the "
                         "mask the tokenizer returned, or (mask > 0).long().")


class LockedDropout(nn.Module):
    """Dropout with one mask per sequence, shared by every time step (AWD-LSTM's variational dropout)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        mask = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1 - self.p) / (1 - self.p)  # [B, 1, D]
        return x * mask


class RNNLayer(GradientCheckpointingLayer):
    """One recurrent layer (optionally bidirectional) with DropConnect on its hidden-to-hidden weights.

    A transformers checkpointing block: `activation_checkpointing_enable(every_n_layers=n)` makes every n-th layer
    keep only its inputs and recompute the rest in the backward pass. The state goes in and comes out as positional
    tensors, so either checkpoint flavour carries its gradient, and the recomputation replays the saved RNG state,
    so DropConnect draws the same mask again.
    """

    def __init__(self, config: RNNConfig, layer_idx: int):
        super().__init__()
        input_dim = config.embedding_size if layer_idx == 0 else config.output_size
        self.rnn = RNN_CLASSES[config.cell_type](
            input_dim, config.hidden_size, batch_first=True, bidirectional=config.bidirectional
        )
        self.is_lstm = config.cell_type == "lstm"
        self.bidirectional = config.bidirectional
        self.weight_dropout = config.weight_dropout
        self.hh_names = [name for name in self.rnn._flat_weights_names if name.startswith("weight_hh")]

    def forward(self, x, *state, lengths=None, need_state=True):
        """x: [B, T, In] with real tokens first; state: the incoming `(h, c)` or `(h,)` tensors, each [D, B, H], or
        none to start from zeros; lengths: [B] or None when no row is padded.

        Returns `(outputs, *final_state)`: outputs [B, T, D*H] (garbage at padding positions), then the final state
        tensors (none when `need_state` is False).
        """
        outputs, final = self._forward(x, state or None, lengths, need_state)
        return (outputs, *(final or ()))

    def _forward(self, x, state, lengths, need_state):
        rnn_state = self._to_rnn_state(state)
        if lengths is None:
            outputs, final = self._run(x, rnn_state)
        elif self.bidirectional or (need_state and self.is_lstm):
            if _is_tracing():
                raise NotImplementedError(
                    "Exporting with an attention_mask needs use_cache=False for an LSTM or a bidirectional layer "
                    "(their exact state at each row's end needs packing, which does not trace). Export without the "
                    "mask, or with use_cache=False.")
            outputs, final = self._run_packed(x, lengths, rnn_state)
        else:
            outputs, final = self._run(x, rnn_state)
            final = self._h_at_last_real_token(outputs, lengths) if need_state else None
        if not need_state or final is None:
            return outputs, None
        final = final if isinstance(final, tuple) else (final,)
        if lengths is not None:
            final = self._keep_incoming_state_for_empty_rows(final, state, lengths)
        return outputs, final

    def _run(self, inputs, rnn_state):
        if self.training and self.weight_dropout > 0:
            # DropConnect: a fresh mask on the recurrent matrices for this batch, the fused kernel still runs.
            dropped = {n: F.dropout(getattr(self.rnn, n), self.weight_dropout, True) for n in self.hh_names}
            return torch.func.functional_call(self.rnn, dropped, (inputs, rnn_state))
        return self.rnn(inputs, rnn_state)

    def _run_packed(self, x, lengths, rnn_state):
        # Empty rows are packed as length 1 and their results replaced afterwards (packing rejects length 0).
        packed = pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        packed_out, final = self._run(packed, rnn_state)
        outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=x.size(1))
        return outputs, final

    def _h_at_last_real_token(self, outputs, lengths):
        # A unidirectional GRU/RNN's state is its output: read it at each row's last real position.
        index = (lengths - 1).clamp(min=0)[:, None, None].expand(-1, 1, outputs.size(-1))  # [B, 1, H]
        return outputs.gather(1, index).transpose(0, 1).contiguous()  # [1, B, H]

    def _keep_incoming_state_for_empty_rows(self, final, state, lengths):
        empty = (lengths == 0)[None, :, None]  # [1, B, 1]
        if not _is_tracing() and not bool(empty.any()):
            return final
        incoming = state if state is not None else tuple(torch.zeros_like(t) for t in final)
        return tuple(torch.where(empty, old, new) for old, new in zip(incoming, final))

    def _to_rnn_state(self, state):
        if state is None:
            return None
        return tuple(t.contiguous() for t in state) if self.is_lstm else state[0].contiguous()


class RNNPreTrainedModel(PreTrainedModel):
    """Weight init, Auto-class metadata and self-contained saving shared by every hf_rnn model."""

    config_class = RNNConfig
    config: RNNConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    _no_split_modules = ["RNNLayer"]
    _is_stateful = True
    supports_gradient_checkpointing = True  # per recurrent layer: each RNNLayer is a checkpointing block
    # Losses are plain means: Trainer itself scales them for gradient accumulation.
    accepts_loss_kwargs = False

    def __init__(self, config: RNNConfig, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        if config.input_size is not None:  # Trainer reads it for length grouping and FLOP counts
            self.main_input_name = "input_values"

    def _init_weights(self, module):
        """AWD-LSTM style: uniform embeddings, PyTorch's uniform(+-1/sqrt(H)) recurrent weights, zero biases."""
        if isinstance(module, nn.Embedding):
            init.uniform_(module.weight, -self.config.initializer_range, self.config.initializer_range)
        elif isinstance(module, nn.EmbeddingBag):
            init.zeros_(module.weight)  # the n-gram bag starts silent: a classifier from an LM starts as without it
        elif isinstance(module, nn.RNNBase):
            bound = 1.0 / math.sqrt(module.hidden_size)
            for name, param in module.named_parameters():
                init.uniform_(param, -bound, bound) if "weight" in name else init.zeros_(param)
        else:
            super()._init_weights(module)

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Save weights and a config whose `auto_map` names every head, plus the model code for `trust_remote_code`."""
        save_with_code(super().save_pretrained, self.config, AUTO_MAP, SHIPPED_FILES, save_directory, *args, **kwargs)


def save_with_code(save, config, auto_map: dict, code_files, save_directory, *args, **kwargs):
    """`save` (a `PreTrainedModel.save_pretrained`) with `auto_map` in the config, then the model code beside it."""
    config.auto_map = dict(auto_map)
    save(save_directory, *args, **kwargs)
    if not Path(save_directory).is_dir():  # e.g. a non-main process under DDP saved nothing
        return
    for name in code_files:
        shutil.copyfile(Path(__file__).parent / name, Path(save_directory) / name)


class RNNModel(RNNPreTrainedModel):
    """The recurrent backbone: token embedding (or input projection) and a stack of RNN/LSTM/GRU layers."""

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        if config.input_size is None:
            self.embeddings = nn.Embedding(config.vocab_size, config.embedding_size)
        else:
            self.input_projection = nn.Linear(config.input_size, config.embedding_size)
        self.input_dropout = LockedDropout(config.input_dropout)
        self.hidden_dropout = LockedDropout(config.hidden_dropout)
        self.layers = nn.ModuleList(RNNLayer(config, i) for i in range(config.num_hidden_layers))
        # Reports whether checkpointing is on; the layers (GradientCheckpointingLayer blocks) do the work.
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self):
        return getattr(self, "embeddings", None)

    def set_input_embeddings(self, value):
        self.embeddings = value

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        inputs_embeds=None,
        input_values=None,
        cache=None,
        use_cache=None,
        output_hidden_states=None,
        return_dict=None,
        already_reversed=False,
        **kwargs,
    ) -> RNNModelOutput:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch, time)`): token ids.
            attention_mask (`torch.Tensor` of shape `(batch, time)`, *optional*): 1 for real tokens, 0 for padding;
                left or right padding both give exact results.
            inputs_embeds (`torch.FloatTensor` of shape `(batch, time, embedding_size)`, *optional*): instead of ids.
            input_values (`torch.FloatTensor` of shape `(batch, time, input_size)`, *optional*): continuous inputs
                for a model configured with `input_size`.
            cache ([`RNNCache`], *optional*): the state returned by a previous call; the sequence continues from it.
                It is not modified: the continued state is returned as a new `RNNCache`.
            use_cache (`bool`, *optional*): return the final state (defaults to `config.use_cache`).
            output_hidden_states (`bool`, *optional*): also return the embedded input and every layer's outputs
                (defaults to `config.output_hidden_states`); each is the tensor the next layer reads.
            already_reversed (`bool`, *optional*, defaults to `False`): for a backward model (`config.reverse_text`),
                the rows are already in its reading order (each row's real tokens reversed), so they are read as
                given; without it the model reverses them. Forward models ignore it.

        A backward model's outputs are in its reading order: each row's real positions reversed, padding in place.
        A row with no real token (an all-zero mask row) is an empty sequence: its outputs are zeros and its final
        state is the incoming state (zeros without one).
        """
        cache = _take_legacy_cache_name(cache, kwargs)
        _reject_unknown_kwargs(kwargs)
        use_cache = self.config.use_cache if use_cache is None else use_cache
        output_hidden_states = _config_default(output_hidden_states, self.config.output_hidden_states)
        cache = RNNCache.from_legacy(cache)
        input_ids, inputs_embeds = in_reading_order(self.config, already_reversed, attention_mask, input_ids,
                                                    inputs_embeds)
        x = self._embed(input_ids, inputs_embeds, input_values)  # [B, T, E] in the caller's layout
        self._check_cache(cache, x.size(0))
        recorded = cache.columns_to_record(x.size(1)) if use_cache and cache is not None else 0
        if recorded:  # assisted decoding may roll back some of these columns
            hidden, new_cache, all_hidden = self._read_recording(x, attention_mask, cache, recorded,
                                                                 output_hidden_states)
        else:
            hidden, states, all_hidden = self._read(x, attention_mask, cache, use_cache, output_hidden_states)
            new_cache = (cache if cache is not None else RNNCache()).continued(states, x.size(1)) if use_cache else None
        output = RNNModelOutput(
            last_hidden_state=hidden,
            cache=new_cache,
            hidden_states=tuple(all_hidden) if all_hidden is not None else None,
        )
        return output if _config_default(return_dict, self.config.return_dict) else output.to_tuple()

    def _read(self, x, attention_mask, cache, use_cache, output_hidden_states):
        """Run the layers over x [B, T, E]; returns the last layer's outputs [B, T, D*H] in the caller's layout, each
        layer's final state and (when asked) every hidden state."""
        layout = PaddingLayout(attention_mask, x.size(0), x.size(1))
        # Each recorded hidden state is the very tensor the next layer reads, so it is in the graph (retain_grad).
        hidden = layout.in_caller_layout(self.input_dropout(x))
        all_hidden = [hidden] if output_hidden_states else None
        x = layout.to_right_padding(hidden)
        final_states = []
        for idx, layer in enumerate(self.layers):
            state = cache[idx] if cache else None
            x, *final = layer(x, *(state or ()), lengths=layout.lengths, need_state=use_cache)  # [B, T, D*H]
            final_states.append(tuple(final) or None)
            is_last = idx == len(self.layers) - 1
            if is_last or all_hidden is not None:
                hidden = layout.to_caller_layout(x)
                x = hidden if is_last else layout.to_right_padding(hidden)
                if all_hidden is not None:
                    all_hidden.append(hidden)
            if not is_last:
                x = self.hidden_dropout(x)
        return hidden, final_states, all_hidden

    def _read_recording(self, x, attention_mask, cache, recorded, output_hidden_states):
        """`_read` with the last `recorded` columns read one at a time, so that the returned cache holds the state
        after each of them (an LSTM's kernel returns only its last cell state). Decoding reads one column per call
        anyway, so the verified logits are those greedy search computes."""
        total = x.size(1)
        pieces = [slice(0, total - recorded)] if recorded < total else []
        pieces += [slice(t, t + 1) for t in range(total - recorded, total)]
        outputs, levels = [], []
        for piece in pieces:
            mask = None if attention_mask is None else attention_mask[:, piece]
            hidden, states, all_hidden = self._read(x[:, piece], mask, cache, True, output_hidden_states)
            cache = cache.continued(states, piece.stop - piece.start)
            outputs.append(hidden)
            levels.append(all_hidden)
        hidden = torch.cat(outputs, dim=1)  # [B, T, D*H]
        all_hidden = [torch.cat(level, dim=1) for level in zip(*levels)] if output_hidden_states else None
        return hidden, cache, all_hidden

    def _embed(self, input_ids, inputs_embeds, input_values):
        given = [name for name, v in (("input_ids", input_ids), ("inputs_embeds", inputs_embeds),
                                      ("input_values", input_values)) if v is not None]
        if len(given) != 1:
            raise ValueError(f"Pass exactly one of input_ids, inputs_embeds, input_values; got {given or 'none'}.")
        if input_values is not None:
            if self.config.input_size is None:
                raise ValueError("input_values needs a model configured with input_size (number of channels).")
            if not _is_tracing():
                _check_finite_values(input_values)
            return self.input_projection(input_values.to(self.input_projection.weight.dtype))
        if inputs_embeds is not None:
            return inputs_embeds
        if self.config.input_size is not None:
            raise ValueError("This model reads continuous signals: pass input_values, not input_ids.")
        return self._embed_tokens(input_ids)

    def _embed_tokens(self, input_ids):
        if not _is_tracing():
            _check_token_ids(input_ids, self.config.vocab_size)
        # The module is called (not its weight read), so hooks, enable_input_require_grads and adapters apply.
        embedded = self.embeddings(input_ids)  # [B, T, E]
        p = self.config.embedding_dropout
        if self.training and p > 0:
            # Word dropout: drop whole vocabulary rows, so a dropped word vanishes at all its positions.
            keep = embedded.new_empty(self.config.vocab_size, 1).bernoulli_(1 - p) / (1 - p)  # [V, 1]
            embedded = embedded * F.embedding(input_ids, keep)  # [B, T, 1] each position's row's fate
        return embedded

    def _check_cache(self, cache, batch_size):
        if not cache:  # None, or an empty RNNCache: start from zeros
            return
        if len(cache) != len(self.layers):
            raise ValueError(f"cache has {len(cache)} layers, the model has {len(self.layers)}.")
        if cache[0] is None or cache.batch_size != batch_size:
            raise ValueError(f"cache does not match a batch of {batch_size} rows; pass the cache of this batch "
                             "(it holds no state: was it returned with use_cache=False?).")


class RNNForCausalLM(RNNPreTrainedModel, GenerationMixin):
    """Language model: backbone, locked output dropout and a (tied) output layer over the vocabulary.

    When the last layer's width differs from `embedding_size`, a linear projection maps it to `embedding_size`
    so the output layer can share the embedding matrix.
    """

    _tied_weights_keys = {"lm_head.weight": "model.embeddings.weight"}

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        if config.bidirectional:
            raise ValueError("bidirectional=True lets a language model see the next token; use bidirectional=False.")
        if config.input_size is not None:
            raise ValueError("RNNForCausalLM predicts tokens; for continuous signals use RNNForForecasting.")
        self.model = RNNModel(config)
        self.output_dropout = LockedDropout(config.output_dropout)
        needs_projection = config.output_size != config.embedding_size
        self.projection = nn.Linear(config.output_size, config.embedding_size, bias=False) if needs_projection else None
        self.lm_head = nn.Linear(config.embedding_size, config.vocab_size)
        self.post_init()
        if config.reverse_text and config.bos_token_id is not None and self.generation_config is not None:
            # Read backward, a text ends at its <s>: that is where writing the text before a prompt stops.
            self.generation_config.eos_token_id = config.bos_token_id

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, new_embeddings):
        self.lm_head = new_embeddings

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        return False  # the state lives in an RNNCache, not in transformers' DynamicCache

    def _prepare_cache_for_generation(self, generation_config, model_kwargs, *args, **kwargs):
        """Start `generate` with an empty [`RNNCache`] (transformers starts its own models with an empty cache):
        assisted decoding needs one before the first forward, to switch on the recording that lets it roll back."""
        super()._prepare_cache_for_generation(generation_config, model_kwargs, *args, **kwargs)
        if model_kwargs.get("cache") is not None or generation_config.use_cache is False:
            return
        model_kwargs["cache"] = RNNCache()
        if generation_config.is_assistant:  # a draft model: the main model may reject some of its tokens
            model_kwargs["cache"].activate_past_recording(
                recurrent_states_to_keep=generation_config.num_assistant_tokens)

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        inputs_embeds=None,
        labels=None,
        cache=None,
        use_cache=None,
        output_hidden_states=None,
        logits_to_keep=0,
        return_dict=None,
        already_reversed=False,
        **kwargs,
    ) -> RNNCausalLMOutput:
        r"""
        labels (`torch.LongTensor` of shape `(batch, time)`, *optional*): usually `input_ids`; shifted inside,
            positions set to -100 are ignored.
        shift_labels (`torch.LongTensor` of shape `(batch, time)`, *optional*): the targets already shifted, position
            `t` holding the token that follows it (transformers' loss keyword, which the Trainer and sequence
            parallelism pass). When given they are the targets and `labels` is not read for the loss; with
            `labels=shift_labels[t-1]` both give the same loss. A backward model takes them only in its reading
            order (`already_reversed=True`): the token that follows a position depends on the direction read.
            `num_items_in_batch` is ignored: the loss is a plain mean and the Trainer scales it
            (`accepts_loss_kwargs=False`). A keyword argument, as in transformers' own models: a named
            `shift_labels` parameter would make the Trainer wait for it in every evaluation batch
            (`transformers.utils.find_labels`) and report no loss without it.
        logits_to_keep (`int`, *optional*): compute logits only for the last this-many positions (0 = all).
        already_reversed (`bool`, *optional*): see [`RNNModel.forward`]. A backward model reverses `labels` with
            the inputs, so its loss is that of reading the text backward and its logits are in its reading order.
        """
        shift_labels = kwargs.pop("shift_labels", None)
        cache = _take_legacy_cache_name(cache, kwargs)
        _reject_unknown_kwargs(kwargs)
        if shift_labels is not None and self.config.reverse_text and not already_reversed:
            raise ValueError("A backward model (reverse_text=True) takes shift_labels only in its reading order: pass "
                             "the rows reversed with already_reversed=True, or pass labels (reversed and shifted "
                             "inside).")
        output_hidden_states = _config_default(output_hidden_states, self.config.output_hidden_states)
        input_ids, inputs_embeds, labels = in_reading_order(self.config, already_reversed, attention_mask,
                                                            input_ids, inputs_embeds, labels)
        outputs = self.model(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                             cache=cache, use_cache=use_cache, output_hidden_states=output_hidden_states,
                             return_dict=True, already_reversed=True)
        hidden = self.output_dropout(outputs.last_hidden_state)  # [B, T, D*H]
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]
        hidden = self.projection(hidden) if self.projection is not None else hidden  # [B, T, E]
        targets = next_token_targets(labels, shift_labels)  # [B, T] or None
        if self.training and targets is not None and self.config.lm_loss == "sampled":
            # The full [B, T, V] logits are the CPU bottleneck; training never needs them.
            loss, logits = self._sampled_softmax_loss(hidden, targets), None
        else:
            logits = self.lm_head(hidden)  # [B, T, V]
            # transformers' causal LM loss, so a model-level `loss_function` override applies too.
            loss = None if targets is None else self.loss_function(
                logits=logits, labels=labels, vocab_size=self.config.vocab_size, shift_labels=targets)
        output = RNNCausalLMOutput(loss=loss, logits=logits, cache=outputs.cache, hidden_states=outputs.hidden_states)
        return output if _config_default(return_dict, self.config.return_dict) else output.to_tuple()

    def _sampled_softmax_loss(self, hidden, targets):
        """Sampled softmax (Jean et al. 2015): the target against shared log-uniform negatives, logits corrected by
        the log expected count of each candidate so the loss estimates the full softmax's gradient. `targets` are
        the shifted labels: position t's is token t+1."""
        features = hidden.flatten(0, 1)  # [N, E]
        targets = targets.flatten()  # [N]
        keep = targets != -100
        features, targets = features[keep], targets[keep]
        negatives = sample_log_uniform(self.config.num_sampled, self.config.vocab_size, hidden.device)  # [K]
        weight, bias = self.lm_head.weight, self.lm_head.bias  # [V, E], [V]
        log_expected = lambda ids: torch.log(self.config.num_sampled * log_uniform_probability(ids, weight.size(0)))
        # Rows are looked up with F.embedding, not weight[ids]: on a multi-threaded CPU the backward of indexing
        # adds repeated ids' gradients atomically in a varying order, so the same seed gave different models.
        rows = lambda ids: F.embedding(ids, weight)  # [n, E]
        offsets = lambda ids: F.embedding(ids, bias[:, None])[:, 0]  # [n]
        true_logits = (features * rows(targets)).sum(-1) + offsets(targets) - log_expected(targets)  # [N]
        sampled_logits = features @ rows(negatives).T + offsets(negatives) - log_expected(negatives)  # [N, K]
        accidental_hit = negatives[None, :] == targets[:, None]  # a negative that is the target is no negative
        sampled_logits = sampled_logits.masked_fill(accidental_hit, torch.finfo(sampled_logits.dtype).min)
        logits = torch.cat([true_logits[:, None], sampled_logits], dim=1).float()  # [N, 1 + K]
        return F.cross_entropy(logits, torch.zeros_like(targets))

    @torch.no_grad()
    def generate(self, inputs=None, generation_config=None, **kwargs):
        """[`GenerationMixin.generate`]; a backward model (`config.reverse_text`) writes the text before the prompt.

        Besides `input_ids`, the prompt may come as `inputs_embeds`, and a `cache` continues from the whole sequence
        or from only its new tokens (with the attention mask of the whole sequence). Assisted decoding
        (`assistant_model=`, `prompt_lookup_num_tokens=`) rolls the state back over rejected candidates (see
        [`RNNCache`]) and writes what greedy search writes. On purpose, a prompt whose unmasked part holds the pad id
        is refused with the fix in the message: pass the tokenizer's `attention_mask`, since the mask transformers
        builds from `pad_token_id` would make that token padding in the middle of the text.

        A backward model reads each prompt from its last token back to its first and goes on in that direction,
        cached or not (both read the same tokens in the same order). The returned rows hold the prompt as given, then
        the new tokens in natural reading order: the text that precedes the prompt (a row that stopped early has its
        padding at the start of that part). So `tokenizer.decode(sequences[i, prompt_width:])` reads naturally and
        `pipeline("text-generation", return_full_text=False)` returns the preceding text (with
        `return_full_text=True` the pipeline writes it after the prompt). With `return_dict_in_generate=True`,
        `scores` and `logits` stay in the order generated. Generation stops at `<s>` (`bos_token_id`: where a text
        starts) unless `eos_token_id` says otherwise. A prompt may not start with `<s>` (tokenize it with
        `add_special_tokens=False`, as the pipeline does), nor continue a `cache`, nor come as `inputs_embeds`.
        """
        if getattr(generation_config, "is_assistant", False):
            # A draft model, called by the main model's generate with rows already in reading order; the main model
            # still rolls its cache back.
            return super().generate(inputs, generation_config, **kwargs)
        if not self.config.reverse_text:
            return _stop_recording(super().generate(inputs, generation_config, **kwargs), kwargs.get("cache"))
        input_ids = inputs if inputs is not None else kwargs.pop("input_ids", None)
        self._check_backward_generation(input_ids, kwargs)
        layout = PaddingLayout(kwargs.get("attention_mask"), *input_ids.shape)
        self._reject_leading_bos(input_ids, layout)
        output = super().generate(layout.reversed_rows(input_ids), generation_config, already_reversed=True,
                                  **kwargs)
        sequences = output.sequences if isinstance(output, ModelOutput) else output  # [B * copies, P + new]
        prompt = input_ids.repeat_interleave(sequences.size(0) // input_ids.size(0), dim=0)  # [B * copies, P]
        written = torch.cat([prompt, sequences[:, input_ids.size(1) :].flip(1)], dim=1)  # new text in reading order
        if isinstance(output, ModelOutput):
            output.sequences = written
            return _stop_recording(output)
        return written

    @staticmethod
    def _check_backward_generation(input_ids, kwargs):
        if input_ids is None or kwargs.get("inputs_embeds") is not None:
            raise ValueError("A backward model (reverse_text=True) generates from input_ids: it reverses the prompt's "
                             "tokens before reading them. Pass input_ids (and attention_mask), not inputs_embeds.")
        if kwargs.get("cache") is not None or kwargs.get("past_key_values") is not None:
            raise ValueError("A backward model (reverse_text=True) starts generate() from the prompt alone: a cache "
                             "from an earlier call read another stretch of text. Pass the whole prompt, no cache.")

    def _reject_leading_bos(self, input_ids, layout):
        bos = self.config.bos_token_id
        if bos is None:
            return
        first_real = input_ids[:, 0] if layout.mask is None else input_ids.gather(1, layout.starts[:, None])[:, 0]
        if bool((first_real == bos).any()):
            raise ValueError(f"A backward model (reverse_text=True) writes the text before the prompt, but a prompt "
                             f"starts with <s> (id {bos}), which marks where a text starts: there is nothing before "
                             "it. Tokenize the prompt with add_special_tokens=False (pipeline('text-generation') "
                             "does).")

    def prepare_inputs_for_generation(
        self, input_ids, cache=None, attention_mask=None, inputs_embeds=None, use_cache=None,
        is_first_iteration=False, next_sequence_length=None, **kwargs,
    ):
        """Feed only the columns the state has not read yet (one per step while decoding): O(1) per token.

        The inputs (`input_ids`, or `inputs_embeds` at the first step) and `attention_mask` are cut to their last
        unread columns: the mask is aligned with the inputs at the right, so it may also cover columns that were
        given as embeddings or read into the `cache` earlier. A cache passed to `generate` (e.g. a previous call's
        `cache`) continues after the columns it has read, from either the whole sequence (ids or embeddings) or
        only the new tokens with the attention mask of the whole sequence. Every other keyword is passed on to
        `forward` unchanged, as transformers does (except `labels`).

        On purpose, unlike transformers: a prompt whose unmasked part holds the pad id is refused with the fix in
        the message (pass the tokenizer's `attention_mask`), as the mask transformers builds from `pad_token_id`
        would mark that token as padding in the middle of the text.
        """
        cache = RNNCache.from_legacy(cache)
        from_embeds = inputs_embeds is not None and is_first_iteration
        inputs = inputs_embeds if from_embeds else input_ids  # [B, T] or [B, T, E]
        width = self._unread_width(inputs.size(1), cache, attention_mask, next_sequence_length)
        model_inputs = {key: value for key, value in kwargs.items() if key != "labels"}
        model_inputs.update(
            {"inputs_embeds" if from_embeds else "input_ids": inputs[:, inputs.size(1) - width :]},
            attention_mask=None if attention_mask is None else attention_mask[:, attention_mask.size(1) - width :],
            cache=cache, use_cache=use_cache, logits_to_keep=1,
        )
        return model_inputs

    @staticmethod
    def _unread_width(total, cache, attention_mask, next_sequence_length) -> int:
        """How many of the last `total` input columns the state has not read."""
        if next_sequence_length is not None and next_sequence_length > 0:  # generate worked it out
            return next_sequence_length
        if not cache:
            return total
        seen = cache.seen_tokens
        if attention_mask is not None and attention_mask.size(1) == seen + total:
            return total  # only the new tokens, with the mask of the whole sequence
        if total > seen and (attention_mask is None or attention_mask.size(1) == total):
            return total - seen  # the whole sequence again: skip what the cache has read
        mask = "no attention_mask" if attention_mask is None else f"an attention_mask of {attention_mask.size(1)}"
        raise ValueError(f"The cache has read {seen} columns but the inputs have {total} and {mask}: pass the "
                         "sequences the cache came from plus the new tokens, or only the new tokens with the "
                         f"attention_mask of the whole sequence ({seen} + new columns).")


def _stop_recording(output, given_cache=None):
    """`generate`'s output, its cache (and the one it was given) no longer recording: recording was for rolling back
    assisted decoding's candidates, and a cache handed back for continuing should read its next columns at once."""
    for cache in (given_cache, output.get("cache") if isinstance(output, ModelOutput) else None):
        if isinstance(cache, RNNCache):
            cache.deactivate_past_recording()
    return output


def next_token_targets(labels, shift_labels):
    """[B, T] target of each position: `shift_labels` as given, else `labels` moved one step left (the last
    position, which has no next token, ignored with -100); None without either."""
    if shift_labels is not None:
        return shift_labels
    if labels is None:
        return None
    return F.pad(labels[:, 1:], (0, 1), value=-100)  # [B, T]


def log_uniform_probability(ids, vocab_size):
    """Zipf-like P(id) = log((id + 2) / (id + 1)) / log(vocab_size + 1), for vocabularies sorted by frequency."""
    ids = ids.double()
    return (torch.log1p(1.0 / (ids + 1)) / math.log(vocab_size + 1)).float()


def sample_log_uniform(num_samples, vocab_size, device):
    """Draw ids from `log_uniform_probability` by inverting its CDF (with replacement)."""
    uniform = torch.rand(num_samples, device=device, dtype=torch.float64)
    ids = torch.exp(uniform * math.log(vocab_size + 1)).floor().long() - 1
    return ids.clamp(0, vocab_size - 1)


class SequencePooler(nn.Module):
    """Pool per-token outputs into one vector per row over real tokens only: last, mean, max or concat."""

    def __init__(self, config: RNNConfig):
        super().__init__()
        self.pooling = config.classifier_pooling
        self.hidden_size = config.hidden_size
        self.bidirectional = config.bidirectional

    @property
    def width_factor(self) -> int:
        return 3 if self.pooling == "concat" else 1

    def forward(self, hidden, attention_mask=None):
        """hidden: [B, T, D*H] with zeros at padding; attention_mask: [B, T] -> [B, width_factor * D*H]."""
        return self.finish(self.summarise(hidden, attention_mask))

    # A long sequence is pooled chunk by chunk: `summarise` each chunk, `combine` the summaries, `finish` once.
    # The summaries are [B, D*H] each, so pooling memory does not grow with the sequence.
    def summarise(self, hidden, attention_mask=None) -> dict:
        mask = torch.ones(hidden.shape[:2], device=hidden.device) if attention_mask is None else attention_mask
        # Counts and positions stay out of the hidden dtype: bfloat16 holds integers exactly only up to 256.
        mask = mask[:, :, None] > 0  # [B, T, 1]
        count = mask.sum(1, dtype=torch.float32)  # [B, 1]
        maximum = hidden.masked_fill(~mask, torch.finfo(hidden.dtype).min).amax(1)  # [B, D*H]
        return {"sum": (hidden * mask.to(hidden.dtype)).sum(1), "count": count, "max": maximum,
                "last": self._last(hidden, mask)}

    @staticmethod
    def combine(earlier: dict | None, later: dict) -> dict:
        """Summary of two consecutive chunks of the same rows."""
        if earlier is None:
            return later
        later_has_tokens = later["count"] > 0  # [B, 1]
        return {"sum": earlier["sum"] + later["sum"], "count": earlier["count"] + later["count"],
                "max": torch.maximum(earlier["max"], later["max"]),
                "last": torch.where(later_has_tokens, later["last"], earlier["last"])}

    def finish(self, summary: dict) -> torch.Tensor:
        has_tokens = summary["count"] > 0  # an empty row pools to zeros
        mean = (summary["sum"] / summary["count"].clamp(min=1)).to(summary["sum"].dtype)  # the count is float32
        pooled = {"last": summary["last"], "mean": mean,
                  "max": torch.where(has_tokens, summary["max"], torch.zeros_like(summary["max"]))}
        if self.pooling == "concat":
            return torch.cat([pooled["last"], pooled["max"], pooled["mean"]], dim=-1)  # [B, 3*D*H]
        return pooled[self.pooling]

    def _last(self, hidden, mask):
        positions = torch.arange(hidden.size(1), device=hidden.device)[None, :, None]  # [1, T, 1]
        last = torch.where(mask, positions, 0).amax(1)  # [B, 1] index of the last real token
        first = torch.where(mask, positions, hidden.size(1)).amin(1).clamp(max=hidden.size(1) - 1)
        forward_last = hidden.gather(1, last[:, :, None].expand(-1, 1, hidden.size(-1)))[:, 0]  # [B, D*H]
        if not self.bidirectional:
            return forward_last
        # The backward direction has read the whole row when it reaches the first real token.
        backward_first = hidden.gather(1, first[:, :, None].expand(-1, 1, hidden.size(-1)))[:, 0]
        return torch.cat([forward_last[:, : self.hidden_size], backward_first[:, self.hidden_size :]], dim=-1)


NGRAM_HASH_MULTIPLIER = 1_000_003  # a prime, so (a, b) word pairs spread over the buckets


def hashed_ngrams(input_ids, attention_mask, vocab_size: int, buckets: int):
    """A row's words and word pairs as rows of one table: word ids as they are, pairs hashed into `buckets` rows after
    the `vocab_size` word rows. Returns `(ids, real)`, both `[B, 2T-1]`: words, then pairs; `real` marks entries
    made of real tokens only (a pair counts only when both its tokens are), so padding on either side adds nothing.

    Written by hand because no library hashes n-grams from token ids inside a model (fastText hashes strings
    outside it); inside the model it ships with the checkpoint and reads exactly the ids the recurrent part reads."""
    real = torch.ones_like(input_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
    pairs = (input_ids[:, :-1] * NGRAM_HASH_MULTIPLIER + input_ids[:, 1:]) % buckets + vocab_size
    return torch.cat([input_ids, pairs], dim=1), torch.cat([real, real[:, :-1] & real[:, 1:]], dim=1)


class NgramBag(nn.Module):
    """fastText's bag of n-grams, beside the recurrent pooling: the mean vector of a row's words and word pairs
    ([`hashed_ngrams`]), so a text gives the same vector alone or padded on either side."""

    def __init__(self, config: RNNConfig):
        super().__init__()
        self.vocab_size, self.buckets = config.vocab_size, config.ngram_buckets
        self.bag = nn.EmbeddingBag(config.vocab_size + config.ngram_buckets, config.ngram_embedding_size, mode="sum")

    def forward(self, input_ids, attention_mask=None):
        ids, real = hashed_ngrams(input_ids, attention_mask, self.vocab_size, self.buckets)  # [B, 2T-1]
        weights = real.to(self.bag.weight.dtype)
        return self.bag(ids, per_sample_weights=weights) / weights.sum(1, keepdim=True).clamp(min=1)  # [B, D]


class ClassificationHead(nn.Module):
    """ULMFiT's head: normalised pooled features, dropout, an optional ReLU hidden layer, dropout, output."""

    def __init__(self, config: RNNConfig, in_features: int, num_labels: int | None = None):
        super().__init__()
        hidden = config.classifier_hidden_size
        self.norm = nn.LayerNorm(in_features)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.dense = nn.Linear(in_features, hidden) if hidden else None
        self.out_proj = nn.Linear(hidden or in_features, num_labels or config.num_labels)

    def forward(self, features):
        x = self.dropout(self.norm(features))
        if self.dense is not None:
            x = self.dropout(torch.relu(self.dense(x)))
        return self.out_proj(x)


class RNNForSequenceClassification(RNNPreTrainedModel):
    """Sequence classifier / regressor: backbone, pooling over real tokens, classification head.

    `config.problem_type` selects the loss as in transformers: `"single_label_classification"` (cross-entropy),
    `"multi_label_classification"` (BCE with logits) or `"regression"` (MSE; e.g. a 1-10 star rating with
    `num_labels=1`). Loading a language-model checkpoint reuses its embedding and backbone and creates the head.
    """

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        self.model = RNNModel(config)
        self.pooler = SequencePooler(config)
        self.ngrams = NgramBag(config) if config.ngram_buckets else None
        width = config.output_size * self.pooler.width_factor + (config.ngram_embedding_size if self.ngrams else 0)
        self.classifier = ClassificationHead(config, width)
        names = config.auxiliary_label_names
        self.auxiliary_classifier = ClassificationHead(config, width, len(names)) if names else None
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        inputs_embeds=None,
        input_values=None,
        labels=None,
        cache=None,
        output_hidden_states=None,
        return_dict=None,
        already_reversed=False,
        **kwargs,
    ) -> RNNSequenceClassifierOutput:
        r"""labels: `(batch,)` class ids, `(batch, num_labels)` multi-hot, or `(batch,)`/`(batch, 1)` floats; with an
        auxiliary head, `(batch, 2)`: (main class, auxiliary class) ids (`(batch,)` trains the main head alone).
        already_reversed: see [`RNNModel.forward`]; a backward model reverses each whole review before chunking it,
        and its n-gram bag reads the reversed ids."""
        cache = _take_legacy_cache_name(cache, kwargs)
        _reject_unknown_kwargs(kwargs)
        output_hidden_states = _config_default(output_hidden_states, self.config.output_hidden_states)
        input_ids, inputs_embeds = in_reading_order(self.config, already_reversed, attention_mask, input_ids,
                                                    inputs_embeds)
        inputs = {"input_ids": input_ids, "inputs_embeds": inputs_embeds, "input_values": input_values}
        chunk = self.config.classifier_chunk_size
        seq_len = next(t for t in inputs.values() if t is not None).size(1)
        hidden_states = None
        if chunk and seq_len > chunk and not output_hidden_states:
            features = self._encode_in_chunks(inputs, attention_mask, cache, chunk)
        else:
            outputs = self.model(**inputs, attention_mask=attention_mask, cache=cache, use_cache=False,
                                 output_hidden_states=output_hidden_states, return_dict=True, already_reversed=True)
            features, hidden_states = self.pooler(outputs.last_hidden_state, attention_mask), outputs.hidden_states
        if self.ngrams is not None:
            if input_ids is None:
                raise ValueError("This classifier's n-gram bag reads input_ids: pass input_ids, not embeddings.")
            features = torch.cat([features, self.ngrams(input_ids, attention_mask)], dim=-1)  # [B, F + D]
        logits = self.classifier(features)  # [B, num_labels]
        auxiliary_logits = self.auxiliary_classifier(features) if self.auxiliary_classifier is not None else None
        loss = None if labels is None else classifier_loss(self.config, logits, auxiliary_logits, labels)
        if self.config.problem_type == "regression":  # the head predicts the standardised target
            logits = logits * self.config.regression_target_std + self.config.regression_target_mean
        output = RNNSequenceClassifierOutput(loss=loss, logits=logits, hidden_states=hidden_states,
                                             auxiliary_logits=auxiliary_logits)
        return output if _config_default(return_dict, self.config.return_dict) else output.to_tuple()

    def _encode_in_chunks(self, inputs, attention_mask, cache, chunk):
        """Run the backbone chunk by chunk with the state carried (ULMFiT's MultiBatchEncoder, without hidden
        module state) and pool as it goes. Early chunks build no graph and only the state and the pooled summary
        outlive a chunk, so memory is bounded for a review of any length."""
        seq_len = next(t for t in inputs.values() if t is not None).size(1)
        starts = list(range(0, seq_len, chunk))
        grad_chunks = self.config.classifier_grad_chunks or len(starts)
        summary = None
        for idx, start in enumerate(starts):
            piece = {k: (v[:, start : start + chunk] if v is not None else None) for k, v in inputs.items()}
            mask = attention_mask[:, start : start + chunk] if attention_mask is not None else None
            with torch.set_grad_enabled(torch.is_grad_enabled() and idx >= len(starts) - grad_chunks):
                out = self.model(**piece, attention_mask=mask, cache=cache, use_cache=True, return_dict=True,
                                 already_reversed=True)
                summary = self.pooler.combine(summary, self.pooler.summarise(out.last_hidden_state, mask))
            cache = out.cache
        return self.pooler.finish(summary)  # [B, width_factor * D*H]


class RNNForTokenClassification(RNNPreTrainedModel):
    """A prediction at every step: token tags, or per-step regression such as denoising a signal."""

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        if config.reverse_text:
            raise ValueError("RNNForTokenClassification reads tokens in their order; reverse_text=True (a backward "
                             "model) is for language models and sequence classifiers. For context from both sides "
                             "use bidirectional=True with reverse_text=False.")
        self.model = RNNModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.output_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        inputs_embeds=None,
        input_values=None,
        labels=None,
        cache=None,
        output_hidden_states=None,
        return_dict=None,
        **kwargs,
    ) -> TokenClassifierOutput:
        r"""labels: `(batch, time)` class ids (-100 ignored), or floats `(batch, time[, num_labels])` for regression;
        padding positions never count."""
        cache = _take_legacy_cache_name(cache, kwargs)
        _reject_unknown_kwargs(kwargs)
        output_hidden_states = _config_default(output_hidden_states, self.config.output_hidden_states)
        outputs = self.model(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                             input_values=input_values, cache=cache, use_cache=False,
                             output_hidden_states=output_hidden_states, return_dict=True)
        logits = self.classifier(self.dropout(outputs.last_hidden_state))  # [B, T, num_labels]
        loss = None if labels is None else token_loss(self.config, logits, labels, attention_mask)
        output = TokenClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)
        return output if _config_default(return_dict, self.config.return_dict) else output.to_tuple()


class RNNForForecasting(RNNPreTrainedModel):
    """Next-value prediction for continuous signals (`config.input_size` channels).

    At every step the model predicts the next value of every channel. `forecast()` extends a series by feeding
    each prediction back in with the state carried, so each new step costs one recurrent step.
    """

    main_input_name = "input_values"

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        if config.input_size is None:
            raise ValueError("RNNForForecasting needs input_size (number of channels) in the config.")
        if config.bidirectional:
            raise ValueError("bidirectional=True lets a forecaster see the future; use bidirectional=False.")
        self.model = RNNModel(config)
        self.head = nn.Linear(config.output_size, config.input_size)
        self.post_init()

    def forward(self, input_values, attention_mask=None, labels=None, cache=None, use_cache=None,
                output_hidden_states=None, return_dict=None, **kwargs) -> RNNForecastOutput:
        r"""labels: `(batch, time, channels)` targets for each step (usually the series shifted by one);
        the loss is the MSE over real positions and finite targets."""
        cache = _take_legacy_cache_name(cache, kwargs)
        _reject_unknown_kwargs(kwargs)
        output_hidden_states = _config_default(output_hidden_states, self.config.output_hidden_states)
        outputs = self.model(input_values=input_values, attention_mask=attention_mask, cache=cache,
                             use_cache=use_cache, output_hidden_states=output_hidden_states, return_dict=True)
        predictions = self.head(outputs.last_hidden_state)  # [B, T, C]
        loss = None if labels is None else masked_mse(predictions, labels, attention_mask)
        output = RNNForecastOutput(loss=loss, predictions=predictions, cache=outputs.cache,
                                   hidden_states=outputs.hidden_states)
        return output if _config_default(return_dict, self.config.return_dict) else output.to_tuple()

    @torch.no_grad()
    def forecast(self, input_values, horizon: int, attention_mask=None, cache=None) -> torch.Tensor:
        """Predict `horizon` future steps `(batch, horizon, channels)` after each row's last real step.

        `cache` continues a series whose earlier part was already run (streaming)."""
        if not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"horizon={horizon!r} must be a positive integer (steps to predict).")
        out = self(input_values=input_values, attention_mask=attention_mask, cache=cache, use_cache=True)
        step = _last_real(out.predictions, attention_mask)[:, None, :]  # [B, 1, C]
        predictions, cache = [step], out.cache
        for _ in range(horizon - 1):
            out = self(input_values=step, cache=cache, use_cache=True)
            step, cache = out.predictions, out.cache
            predictions.append(step)
        return torch.cat(predictions, dim=1)


def _last_real(values, attention_mask):
    """`values[b, last real position of row b]`, `(batch, channels)`; the last column when there is no mask."""
    if attention_mask is None:
        return values[:, -1]
    positions = torch.arange(values.size(1), device=values.device)[None, :]  # [1, T]
    last = (positions * attention_mask.bool()).amax(1)  # [B]
    return values[torch.arange(values.size(0), device=values.device), last]


def sequence_loss(config, logits, labels):
    """transformers' convention: the problem type follows num_labels and the labels' dtype when unset."""
    if config.problem_type is None:
        if config.num_labels == 1:
            config.problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            config.problem_type = "single_label_classification"
        else:
            config.problem_type = "multi_label_classification"
    if config.problem_type == "regression":  # on the standardised scale (see RNNConfig.regression_target_std)
        target = (labels.float() - config.regression_target_mean) / config.regression_target_std
        return F.mse_loss(logits.squeeze(-1).float(), target.view_as(logits.squeeze(-1)))
    if config.problem_type == "single_label_classification":
        return F.cross_entropy(logits.float(), labels.view(-1).long())
    return F.binary_cross_entropy_with_logits(logits.float(), labels.float())


def classifier_loss(config, logits, auxiliary_logits, labels):
    """A sequence classifier's loss: the main head's, plus the weighted auxiliary head's for `(batch, 2)` labels."""
    if auxiliary_logits is None or labels.dim() == 1:
        return sequence_loss(config, logits, labels)
    if labels.dim() != 2 or labels.size(1) != 2:
        raise ValueError("With an auxiliary head, labels are (batch, 2): (main, auxiliary) class ids; got shape "
                         f"{tuple(labels.shape)}.")
    auxiliary = F.cross_entropy(auxiliary_logits.float(), labels[:, 1].long())
    return sequence_loss(config, logits, labels[:, 0]) + config.auxiliary_loss_weight * auxiliary


def token_loss(config, logits, labels, attention_mask):
    """Per-step loss over real positions: cross-entropy for ids, MSE for float labels."""
    if labels.dtype.is_floating_point:
        return masked_mse(logits, labels.view_as(logits), attention_mask)
    if attention_mask is not None:
        labels = labels.masked_fill(attention_mask == 0, -100)
    return F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten().long(), ignore_index=-100)


def masked_mse(predictions, targets, attention_mask=None):
    """Mean squared error over real positions with finite targets (NaN targets mark missing values)."""
    valid = torch.isfinite(targets)
    if attention_mask is not None:
        valid = valid & attention_mask.bool()[:, :, None].expand_as(targets)
    if not bool(valid.any()):
        return predictions.sum() * 0.0
    diff = predictions.float()[valid] - targets.float()[valid]
    return (diff * diff).mean()


def _check_token_ids(input_ids, vocab_size):
    low, high = torch.aminmax(input_ids)
    if low < 0 or high >= vocab_size:
        raise ValueError(f"input_ids hold ids from {int(low)} to {int(high)}, but the embedding has vocab_size="
                         f"{vocab_size} rows (ids 0..{vocab_size - 1}). Use the tokenizer saved with this model, or "
                         "model.resize_token_embeddings(len(tokenizer)) after adding tokens.")


def _check_finite_values(input_values):
    finite = torch.isfinite(input_values)
    if not bool(finite.all()):
        row, step, channel = (int(i) for i in (~finite).nonzero()[0])
        raise ValueError(f"input_values hold NaN or inf (first at batch row {row}, step {step}, channel {channel}): "
                         "a model cannot learn from them. Fill or drop missing values first; missing targets may "
                         "be NaN in `labels`, where the loss skips them.")


def _config_default(value, config_value):
    """An explicit argument wins; None falls back to the config (transformers' output_hidden_states/return_dict)."""
    return config_value if value is None else value


def _take_legacy_cache_name(cache, kwargs):
    """transformers 4.x called the state `past_key_values`: accept it with a deprecation warning, as its models do."""
    legacy = kwargs.pop("past_key_values", None)
    if legacy is None:
        return cache
    warnings.warn("`past_key_values` is deprecated for hf_rnn models; pass the state as `cache`.", FutureWarning,
                  stacklevel=3)
    if cache is not None:
        raise ValueError("Pass the state once, as `cache` (not also as `past_key_values`).")
    return legacy


# Arguments the tokenizer or Trainer may pass that recurrent models have no use for.
_IGNORED_KWARGS = {"token_type_ids", "position_ids", "output_attentions", "num_items_in_batch"}


def _reject_unknown_kwargs(kwargs):
    unknown = set(kwargs) - _IGNORED_KWARGS
    if unknown:
        raise TypeError(f"Unexpected arguments {sorted(unknown)} for an hf_rnn model.")
