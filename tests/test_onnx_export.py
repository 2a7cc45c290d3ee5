"""ONNX export: the classifier and the LM run in ONNX Runtime with PyTorch's outputs, at any batch and length,
padded on either side; the LM streams chunk by chunk with its state as explicit inputs and outputs."""

import numpy as np
import pytest
import torch

from hf_rnn import RNNForCausalLM, RNNForSequenceClassification
from hf_rnn.export import OnnxLanguageModel, export_classifier_onnx, export_lm_onnx
from conftest import tiny_config

ort = pytest.importorskip("onnxruntime")
CELLS = ["rnn", "lstm", "gru"]


@pytest.mark.parametrize("cell", CELLS)
def test_exported_classifier_matches_pytorch_on_other_shapes_and_padding(cell, tmp_path):
    model = RNNForSequenceClassification(tiny_config(cell_type=cell, num_labels=2, ngram_buckets=31,
                                                     classifier_chunk_size=4)).eval()
    torch.nn.init.normal_(model.ngrams.bag.weight)
    path = export_classifier_onnx(model, tmp_path / "classifier.onnx")
    assert model.config.classifier_chunk_size == 4  # restored after export
    session = ort.InferenceSession(str(path))
    ids = torch.randint(4, 20, (3, 11))
    right = torch.tensor([[1] * 11, [1] * 7 + [0] * 4, [1] * 2 + [0] * 9])
    for mask in (right, right.flip(1)):
        (logits,) = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
        expected = model(input_ids=ids, attention_mask=mask).logits.detach().numpy()
        np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=1e-4)


def test_exported_two_head_classifier_gives_both_outputs(tmp_path):
    model = RNNForSequenceClassification(tiny_config(num_labels=2, auxiliary_label_names=["a", "b", "c"])).eval()
    session = ort.InferenceSession(str(export_classifier_onnx(model, tmp_path / "two.onnx")))
    ids = torch.randint(4, 20, (2, 5))
    logits, auxiliary = session.run(None, {"input_ids": ids.numpy(), "attention_mask": np.ones((2, 5), np.int64)})
    np.testing.assert_allclose(auxiliary, model(ids).auxiliary_logits.detach().numpy(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("cell", CELLS)
def test_exported_lm_streams_chunk_by_chunk_like_the_whole_sequence(cell, tmp_path):
    model = RNNForCausalLM(tiny_config(cell_type=cell)).eval()
    stream = OnnxLanguageModel(export_lm_onnx(model, tmp_path / "lm.onnx"), model.config)
    ids = torch.randint(4, 20, (3, 13))
    state, pieces = stream.zero_state(3), []
    for chunk in (ids[:, :5], ids[:, 5:6], ids[:, 6:]):
        logits, state = stream(chunk.numpy(), state)
        pieces.append(logits)
    whole = model(ids, use_cache=True)
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), whole.logits.detach().numpy(), atol=1e-4, rtol=1e-4)
    expected_state = [t.detach().numpy() for layer in whole.cache for t in layer]
    for got, want in zip(state, expected_state):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)
