"""Export hf_rnn models to ONNX for deployment (ONNX Runtime), with the recurrent state as explicit inputs and
outputs so a stream can be fed chunk by chunk.

    from hf_rnn.export import export_classifier_onnx, export_lm_onnx, OnnxLanguageModel
    export_classifier_onnx(classifier, "classifier.onnx")          # input_ids, attention_mask -> logits
    export_lm_onnx(lm, "lm.onnx")                                   # input_ids, state_* -> logits, next_state_*
    stream = OnnxLanguageModel("lm.onnx"); state = stream.zero_state(batch_size=1)
    logits, state = stream(chunk_ids, state)                        # the next chunk continues from `state`

Why the TorchScript exporter (`dynamo=False`): `torch.export` decomposes nn.RNN/LSTM/GRU into a loop over time
steps, which fixes the sequence length of the exported graph; the TorchScript exporter maps them to ONNX's own
RNN/LSTM/GRU operators, whose batch and sequence length stay dynamic. Needs `pip install "hf_rnn[onnx]"`.
"""

import warnings
from pathlib import Path

import torch
from torch import nn

from .models.rnn import RNNCache


class _ClassifierForExport(nn.Module):
    """Tensors in, tensors out: ONNX graphs take no dataclasses."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return out.logits if out.auxiliary_logits is None else (out.logits, out.auxiliary_logits)


class _LanguageModelForExport(nn.Module):
    """input_ids and one state tensor per layer and kind (h, and c for an LSTM) -> logits and the next state."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.per_layer = 2 if model.config.cell_type == "lstm" else 1

    def forward(self, input_ids, *state):
        layers = [tuple(state[i : i + self.per_layer]) for i in range(0, len(state), self.per_layer)]
        out = self.model(input_ids=input_ids, cache=RNNCache(layers), use_cache=True)
        return (out.logits, *(t for layer in out.cache for t in layer))


def state_names(config, prefix: str = "state") -> list[str]:
    """Names of the state inputs (`state_*`) or outputs (`next_state_*`) of an exported LM, layer by layer."""
    kinds = ("h", "c") if config.cell_type == "lstm" else ("h",)
    return [f"{prefix}_{kind}{layer}" for layer in range(config.num_hidden_layers) for kind in kinds]


def zero_state(config, batch_size: int) -> list[torch.Tensor]:
    """The state a stream starts from: zeros, `(directions, batch, hidden)` per layer and kind."""
    shape = (config.num_directions, batch_size, config.hidden_size)
    return [torch.zeros(shape) for _ in state_names(config)]


def _export(wrapper, inputs: tuple, path, input_names, output_names, dynamic_axes, opset: int):
    wrapper.eval()  # the exporter applies the wrapper's mode to every submodule: eval, or dropout is exported
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice (see the module docstring)
        torch.onnx.export(wrapper, inputs, str(path), dynamo=False, input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic_axes, opset_version=opset)
    return path


def export_classifier_onnx(model, path, opset: int = 17) -> Path:
    """Write `model` (an `RNNForSequenceClassification`, or an `RNNEnsembleForSequenceClassification` with its
    bag-of-words member, as the IMDB job publishes it) as ONNX: `input_ids`, `attention_mask` (batch, time; any
    sizes, left or right padding) -> `logits` (and `auxiliary_logits` for a two-head model)."""
    example = torch.full((2, 8), 5, dtype=torch.long)
    mask = torch.ones_like(example)
    mask[1, 6:] = 0  # a padded row, so the exported graph is the general (padded) path
    outputs = ["logits"] + (["auxiliary_logits"] if model.config.auxiliary_label_names else [])
    axes = {name: {0: "batch", 1: "time"} for name in ("input_ids", "attention_mask")}
    axes.update({name: {0: "batch"} for name in outputs})
    # A traced loop over chunks would fix the number of chunks: the graph reads a review in one pass (same result).
    classifiers = list(getattr(model, "members", [model]))  # an ensemble: each member's config
    chunk_sizes = [classifier.config.classifier_chunk_size for classifier in classifiers]
    for classifier in classifiers:
        classifier.config.classifier_chunk_size = 0
    try:
        return _export(_ClassifierForExport(model), (example, mask), path, ["input_ids", "attention_mask"],
                       outputs, axes, opset)
    finally:
        for classifier, chunk_size in zip(classifiers, chunk_sizes):
            classifier.config.classifier_chunk_size = chunk_size


def export_lm_onnx(model, path, opset: int = 17) -> Path:
    """Write `model` (an `RNNForCausalLM`) as ONNX: `input_ids` (batch, time) and the state (`state_h0`,
    `state_c0`, ...) -> `logits` (batch, time, vocab) and the next state (`next_state_h0`, ...). Chunks fed one
    after another with the state carried give the logits of the whole sequence; rows are full (no padding)."""
    example = torch.full((2, 8), 5, dtype=torch.long)
    inputs, outputs = state_names(model.config), state_names(model.config, "next_state")
    axes = {"input_ids": {0: "batch", 1: "time"}, "logits": {0: "batch", 1: "time"}}
    axes.update({name: {1: "batch"} for name in inputs + outputs})
    return _export(_LanguageModelForExport(model), (example, *zero_state(model.config, 2)), path,
                   ["input_ids", *inputs], ["logits", *outputs], axes, opset)


class OnnxLanguageModel:
    """An exported LM in ONNX Runtime, fed chunk by chunk: `logits, state = lm(ids, state)`."""

    def __init__(self, path, config):
        try:
            import onnxruntime
        except ImportError as error:
            raise ImportError('Running ONNX models needs onnxruntime: pip install "hf_rnn[onnx]"') from error
        self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.config = config
        self.input_names = state_names(config)

    def zero_state(self, batch_size: int) -> list:
        return [t.numpy() for t in zero_state(self.config, batch_size)]

    def __call__(self, input_ids, state):
        feed = {"input_ids": input_ids, **dict(zip(self.input_names, state))}
        logits, *next_state = self.session.run(None, feed)
        return logits, next_state
