"""Classifier, per-step head and the LM -> classifier transfer."""

import pytest
import torch

from hf_rnn import RNNForCausalLM, RNNForSequenceClassification, RNNForTokenClassification
from conftest import tiny_config
from test_backbone import pad_batch


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "mean", "max", "concat"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_pooling_uses_real_tokens_only(pooling, side, bidirectional):
    config = tiny_config(classifier_pooling=pooling, num_labels=3, bidirectional=bidirectional)
    model = RNNForSequenceClassification(config).eval()
    sequences = [torch.randint(4, 20, (n,)) for n in (6, 2, 4)]
    ids, mask = pad_batch(sequences, side)
    together = model(input_ids=ids, attention_mask=mask).logits
    for row, seq in enumerate(sequences):
        torch.testing.assert_close(together[row], model(input_ids=seq[None]).logits[0], atol=1e-5, rtol=1e-5)


def test_concat_pooling_is_last_max_mean():
    model = RNNForSequenceClassification(tiny_config(classifier_pooling="concat")).eval()
    hidden = torch.tensor([[[1.0], [5.0], [3.0], [0.0]]])  # [B=1, T=4, H=1], last position is padding
    mask = torch.tensor([[1, 1, 1, 0]])
    model.pooler.hidden_size = 1
    assert model.pooler(hidden, mask).tolist() == [[3.0, 5.0, 3.0]]


@pytest.mark.parametrize("length", [290, 300])
def test_pooling_in_bfloat16_finds_the_last_token_of_a_long_review(length):
    """bfloat16 holds integers exactly only up to 256: positions and counts must not be computed in it."""
    model = RNNForSequenceClassification(tiny_config(classifier_pooling="concat")).to(torch.bfloat16).eval()
    model.pooler.hidden_size = 1
    hidden = torch.ones(1, 300, 1, dtype=torch.bfloat16)
    hidden[0, length - 1] = 2.0  # the last real token's state
    mask = (torch.arange(300) < length).long()[None]
    last, maximum, mean = model.pooler(hidden, mask)[0].float().tolist()
    assert (last, maximum) == (2.0, 2.0)
    assert mean == pytest.approx((length + 1) / length, abs=1e-2)


@pytest.mark.parametrize(
    "problem_type, num_labels, labels",
    [
        ("single_label_classification", 2, torch.tensor([0, 1, 1])),
        ("multi_label_classification", 3, torch.tensor([[1.0, 0, 1], [0, 0, 0], [0, 1, 1]])),
        ("regression", 1, torch.tensor([8.0, 2.0, 10.0])),  # the IMDB 1-10 rating
    ],
)
def test_each_problem_type_trains(problem_type, num_labels, labels):
    model = RNNForSequenceClassification(tiny_config(num_labels=num_labels, problem_type=problem_type, classifier_dropout=0.0))
    ids = torch.randint(4, 20, (3, 5))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        loss = model(input_ids=ids, labels=labels).loss
        optimizer.zero_grad(), loss.backward(), optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses


def test_regression_head_learns_the_standardised_target_and_answers_in_target_units():
    torch.manual_seed(0)
    ids, stars = torch.randint(4, 20, (3, 5)), torch.tensor([8.0, 2.0, 10.0])
    plain = RNNForSequenceClassification(tiny_config(num_labels=1, problem_type="regression"))
    scaled = RNNForSequenceClassification(tiny_config(num_labels=1, problem_type="regression",
                                                      regression_target_mean=5.5, regression_target_std=3.0))
    scaled.load_state_dict(plain.state_dict())
    plain.eval(), scaled.eval()
    raw = plain(input_ids=ids, labels=stars)
    out = scaled(input_ids=ids, labels=stars)
    torch.testing.assert_close(out.logits, raw.logits * 3.0 + 5.5)  # outputs in stars
    expected = torch.nn.functional.mse_loss(raw.logits.squeeze(-1), (stars - 5.5) / 3.0)
    torch.testing.assert_close(out.loss, expected)  # the loss is on the standardised scale


@pytest.mark.parametrize("field, value", [("regression_target_std", 0.0), ("regression_target_std", -1.0),
                                          ("regression_target_mean", float("nan"))])
def test_bad_regression_statistics_are_clear_errors(field, value):
    with pytest.raises(ValueError, match=field):
        tiny_config(num_labels=1, **{field: value})


def test_problem_type_is_inferred_like_transformers():
    model = RNNForSequenceClassification(tiny_config(num_labels=1))
    model(input_ids=torch.randint(4, 20, (2, 3)), labels=torch.tensor([3.0, 7.0]))
    assert model.config.problem_type == "regression"


def test_language_model_weights_carry_into_the_classifier(tmp_path):
    lm = RNNForCausalLM(tiny_config())
    lm.save_pretrained(tmp_path)
    classifier, info = RNNForSequenceClassification.from_pretrained(tmp_path, num_labels=2, output_loading_info=True)
    for name, tensor in lm.model.state_dict().items():
        torch.testing.assert_close(classifier.model.state_dict()[name], tensor)
    assert info["missing_keys"] and all(key.startswith("classifier.") for key in info["missing_keys"])
    assert {key.split(".")[0] for key in info["unexpected_keys"]} <= {"lm_head", "projection"}


def test_token_classifier_ignores_padding_in_the_loss():
    model = RNNForTokenClassification(tiny_config(num_labels=4)).eval()
    ids, mask = pad_batch([torch.randint(4, 20, (5,)), torch.randint(4, 20, (2,))], "right")
    labels = torch.randint(0, 4, ids.shape)
    noisy = labels.clone()
    noisy[1, 2:] = (labels[1, 2:] + 1) % 4  # labels at padding positions must not matter
    out, out_noisy = model(input_ids=ids, attention_mask=mask, labels=labels), model(input_ids=ids, attention_mask=mask, labels=noisy)
    torch.testing.assert_close(out.loss, out_noisy.loss)
    assert out.logits.shape == (2, 5, 4)


def test_token_regression_uses_mse_over_real_steps():
    model = RNNForTokenClassification(tiny_config(num_labels=1)).eval()
    ids = torch.randint(4, 20, (1, 4))
    mask = torch.tensor([[1, 1, 1, 0]])
    out = model(input_ids=ids, attention_mask=mask, labels=torch.zeros(1, 4, 1))
    torch.testing.assert_close(out.loss, (out.logits[0, :3] ** 2).mean())


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_chunked_classification_equals_one_pass(cell, side):
    whole = RNNForSequenceClassification(tiny_config(cell_type=cell, num_labels=2)).eval()
    chunked = RNNForSequenceClassification(tiny_config(cell_type=cell, num_labels=2, classifier_chunk_size=3)).eval()
    chunked.load_state_dict(whole.state_dict())
    ids, mask = pad_batch([torch.randint(4, 20, (n,)) for n in (11, 4, 7, 1)], side)
    torch.testing.assert_close(chunked(input_ids=ids, attention_mask=mask).logits,
                               whole(input_ids=ids, attention_mask=mask).logits, atol=1e-5, rtol=1e-5)


def test_chunked_classification_backpropagates_through_last_chunks_only():
    config = tiny_config(num_labels=2, classifier_chunk_size=4, classifier_grad_chunks=1, classifier_dropout=0.0)
    model = RNNForSequenceClassification(config)
    ids = torch.arange(4, 16)[None]  # 12 distinct tokens: chunks [4..7], [8..11], [12..15]
    model(input_ids=ids, labels=torch.tensor([1])).loss.backward()
    rows_with_grad = model.model.embeddings.weight.grad.abs().sum(1).nonzero().flatten().tolist()
    assert rows_with_grad == list(range(12, 16))


def test_forecaster_validates_horizon_and_continues_from_a_cache():
    from hf_rnn import RNNForForecasting

    model = RNNForForecasting(tiny_config(input_size=2)).eval()
    assert model.main_input_name == "input_values"
    series = torch.randn(1, 9, 2)
    with pytest.raises(ValueError, match="horizon"):
        model.forecast(series, horizon=0)
    whole = model.forecast(series, horizon=3)
    state = model(input_values=series[:, :5], use_cache=True).cache
    torch.testing.assert_close(model.forecast(series[:, 5:], horizon=3, cache=state), whole, atol=1e-5, rtol=1e-5)
