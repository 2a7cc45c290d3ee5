"""The backbone's contract: padding never changes a real token's result, and state carries exactly."""

import pytest
import torch

from hf_rnn import RNNModel
from conftest import tiny_config

CELLS = ["rnn", "lstm", "gru"]
LENGTHS = [7, 3, 5, 1]


def pad_batch(sequences, side):
    """Stack 1-D id tensors into [B, T] ids and mask, padded on `side`."""
    width = max(len(s) for s in sequences)
    ids = torch.zeros(len(sequences), width, dtype=torch.long)
    mask = torch.zeros(len(sequences), width, dtype=torch.long)
    for row, seq in enumerate(sequences):
        span = slice(0, len(seq)) if side == "right" else slice(width - len(seq), width)
        ids[row, span], mask[row, span] = seq, 1
    return ids, mask


def real_span(mask_row):
    return mask_row.nonzero().flatten()


def assert_states_close(a, b):
    for layer_a, layer_b in zip(a, b):
        for ta, tb in zip(layer_a, layer_b):
            torch.testing.assert_close(ta, tb, atol=1e-5, rtol=1e-5)


def row_state(cache, row):
    return tuple(tuple(t[:, row : row + 1] for t in layer) for layer in cache)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("cell", CELLS)
def test_padded_batch_equals_each_sequence_alone(cell, side, bidirectional):
    model = RNNModel(tiny_config(cell_type=cell, bidirectional=bidirectional)).eval()
    sequences = [torch.randint(4, 20, (n,)) for n in LENGTHS]
    ids, mask = pad_batch(sequences, side)
    batch = model(input_ids=ids, attention_mask=mask, use_cache=True)
    for row, seq in enumerate(sequences):
        alone = model(input_ids=seq[None], use_cache=True)
        real = real_span(mask[row])
        torch.testing.assert_close(batch.last_hidden_state[row, real], alone.last_hidden_state[0], atol=1e-5, rtol=1e-5)
        assert_states_close(row_state(batch.cache, row), alone.cache)
        assert batch.last_hidden_state[row, mask[row] == 0].abs().sum() == 0  # padding outputs are zeros


@pytest.mark.parametrize("cell", CELLS)
def test_padded_batch_without_cache_matches_too(cell):
    """The fast path (no final state requested) gives the same real-position outputs as packing."""
    model = RNNModel(tiny_config(cell_type=cell)).eval()
    sequences = [torch.randint(4, 20, (n,)) for n in LENGTHS]
    ids, mask = pad_batch(sequences, "left")
    fast = model(input_ids=ids, attention_mask=mask, use_cache=False)
    exact = model(input_ids=ids, attention_mask=mask, use_cache=True)
    assert fast.cache is None
    torch.testing.assert_close(fast.last_hidden_state, exact.last_hidden_state, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
def test_whole_sequence_equals_two_chunks_with_carried_state(cell):
    model = RNNModel(tiny_config(cell_type=cell)).eval()
    ids = torch.randint(4, 20, (3, 10))
    whole = model(input_ids=ids, use_cache=True)
    first = model(input_ids=ids[:, :6], use_cache=True)
    second = model(input_ids=ids[:, 6:], cache=first.cache, use_cache=True)
    chunked = torch.cat([first.last_hidden_state, second.last_hidden_state], dim=1)
    torch.testing.assert_close(chunked, whole.last_hidden_state, atol=1e-5, rtol=1e-5)
    assert_states_close(second.cache, whole.cache)


def test_padded_second_chunk_continues_from_carried_state():
    """Streams end at different points: a padded last chunk still continues each row exactly."""
    model = RNNModel(tiny_config(cell_type="lstm")).eval()
    a, b = torch.randint(4, 20, (9,)), torch.randint(4, 20, (6,))
    first = model(input_ids=torch.stack([a[:4], b[:4]]), use_cache=True)
    ids, mask = pad_batch([a[4:], b[4:]], "right")
    second = model(input_ids=ids, attention_mask=mask, cache=first.cache, use_cache=True)
    assert_states_close(row_state(second.cache, 1), model(input_ids=b[None], use_cache=True).cache)


@pytest.mark.parametrize("cell", CELLS)
def test_all_padding_row_is_an_empty_sequence(cell):
    model = RNNModel(tiny_config(cell_type=cell)).eval()
    ids = torch.randint(4, 20, (2, 5))
    mask = torch.tensor([[1, 1, 1, 0, 0], [0, 0, 0, 0, 0]])
    start = model(input_ids=ids, use_cache=True).cache
    out = model(input_ids=ids, attention_mask=mask, cache=start, use_cache=True)
    assert out.last_hidden_state[1].abs().sum() == 0
    assert_states_close(row_state(out.cache, 1), row_state(start, 1))  # the state passes through unchanged


def test_mask_with_a_hole_is_rejected():
    model = RNNModel(tiny_config()).eval()
    with pytest.raises(ValueError, match="contiguous"):
        model(input_ids=torch.ones(1, 4, dtype=torch.long), attention_mask=torch.tensor([[1, 0, 1, 1]]))


def test_exactly_one_input_kind():
    model = RNNModel(tiny_config()).eval()
    ids = torch.ones(1, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="exactly one"):
        model(input_ids=ids, inputs_embeds=torch.zeros(1, 3, 8))
    with pytest.raises(ValueError, match="exactly one"):
        model()


def test_inputs_embeds_equal_input_ids():
    model = RNNModel(tiny_config()).eval()
    ids = torch.randint(4, 20, (2, 5))
    by_ids = model(input_ids=ids).last_hidden_state
    by_embeds = model(inputs_embeds=model.get_input_embeddings()(ids)).last_hidden_state
    torch.testing.assert_close(by_ids, by_embeds)


def test_hidden_states_hold_embeddings_and_every_layer():
    model = RNNModel(tiny_config(num_hidden_layers=3, bidirectional=True)).eval()
    out = model(input_ids=torch.randint(4, 20, (2, 5)), output_hidden_states=True)
    assert [tuple(h.shape) for h in out.hidden_states] == [(2, 5, 8)] + [(2, 5, 24)] * 3
    torch.testing.assert_close(out.hidden_states[-1], out.last_hidden_state)


def test_dropouts_are_active_in_training_and_off_in_eval():
    config = tiny_config(embedding_dropout=0.3, input_dropout=0.3, hidden_dropout=0.3, weight_dropout=0.5)
    model = RNNModel(config)
    ids = torch.randint(4, 20, (2, 6))
    model.train()
    assert not torch.allclose(model(input_ids=ids).last_hidden_state, model(input_ids=ids).last_hidden_state)
    model.eval()
    torch.testing.assert_close(model(input_ids=ids).last_hidden_state, model(input_ids=ids).last_hidden_state)


def test_weight_dropout_reaches_the_recurrent_matrix_and_keeps_gradients():
    model = RNNModel(tiny_config(weight_dropout=0.5, num_hidden_layers=1)).train()
    model(input_ids=torch.randint(4, 20, (2, 6))).last_hidden_state.sum().backward()
    grad = model.layers[0].rnn.weight_hh_l0.grad
    assert grad is not None and (grad == 0).any() and (grad != 0).any()  # dropped entries get no gradient


def test_wrong_cache_batch_is_rejected():
    model = RNNModel(tiny_config()).eval()
    cache = model(input_ids=torch.ones(2, 3, dtype=torch.long), use_cache=True).cache
    with pytest.raises(ValueError, match="batch"):
        model(input_ids=torch.ones(3, 3, dtype=torch.long), cache=cache)
