"""Language model: tied output layer, shifted loss, and generation that carries the recurrent state."""

import pytest
import torch
import torch.nn.functional as F

from hf_rnn import RNNForCausalLM
from conftest import tiny_config


@pytest.mark.parametrize("hidden_size", [8, 12])  # 12 != embedding 8: the head projects first
def test_tied_output_layer_shares_the_embedding(hidden_size):
    model = RNNForCausalLM(tiny_config(hidden_size=hidden_size))
    assert model.lm_head.weight is model.model.embeddings.weight
    assert (model.projection is None) == (hidden_size == 8)


def test_untied_output_layer_is_separate():
    model = RNNForCausalLM(tiny_config(tie_word_embeddings=False))
    assert model.lm_head.weight is not model.model.embeddings.weight


def test_tying_survives_save_and_load(tmp_path):
    model = RNNForCausalLM(tiny_config())
    model.save_pretrained(tmp_path)
    loaded = RNNForCausalLM.from_pretrained(tmp_path)
    assert loaded.lm_head.weight is loaded.model.embeddings.weight
    torch.testing.assert_close(loaded.lm_head.weight, model.lm_head.weight)


def test_loss_is_shifted_inside_and_ignores_minus_100():
    model = RNNForCausalLM(tiny_config()).eval()
    ids = torch.randint(4, 20, (2, 6))
    labels = ids.clone()
    labels[0, 3:] = -100
    out = model(input_ids=ids, labels=labels)
    logits = out.logits[:, :-1].reshape(-1, out.logits.size(-1))
    expected = F.cross_entropy(logits, labels[:, 1:].reshape(-1), ignore_index=-100)
    torch.testing.assert_close(out.loss, expected)


def test_bidirectional_language_model_is_rejected():
    with pytest.raises(ValueError, match="bidirectional"):
        RNNForCausalLM(tiny_config(bidirectional=True))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_cached_and_uncached_greedy_generation_agree(cell):
    model = RNNForCausalLM(tiny_config(cell_type=cell)).eval()
    prompt = torch.randint(4, 20, (2, 4))
    cached = model.generate(prompt, max_new_tokens=12, do_sample=False, use_cache=True)
    uncached = model.generate(prompt, max_new_tokens=12, do_sample=False, use_cache=False)
    assert torch.equal(cached, uncached)


def test_cached_generation_feeds_one_token_per_step():
    model = RNNForCausalLM(tiny_config()).eval()
    widths = []
    hook = model.model.register_forward_pre_hook(
        lambda module, args, kwargs: widths.append(kwargs["input_ids"].shape[1]), with_kwargs=True)
    model.generate(torch.randint(4, 20, (1, 5)), max_new_tokens=6, do_sample=False, min_new_tokens=6)
    hook.remove()
    assert widths == [5] + [1] * 5  # the prompt once, then one token per new token


def test_left_padded_batch_generates_like_one_at_a_time(tokenizer):
    model = RNNForCausalLM(tiny_config()).eval()
    tokenizer.padding_side = "left"
    prompts = ["the movie was", "i loved it and the acting", "bad"]
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    together = model.generate(**batch, max_new_tokens=8, do_sample=False, pad_token_id=0)
    for row, prompt in enumerate(prompts):
        single = tokenizer(prompt, return_tensors="pt")
        alone = model.generate(**single, max_new_tokens=8, do_sample=False)[0, single.input_ids.shape[1]:]
        new = together[row, batch.input_ids.shape[1]:]
        assert torch.equal(new[: len(alone)], alone), prompt  # after an early eos the batch row holds padding
        assert (new[len(alone):] == 0).all()


def test_sampling_top_p_and_beam_search_run():
    model = RNNForCausalLM(tiny_config()).eval()
    prompt = torch.randint(4, 20, (2, 3))
    sampled = model.generate(prompt, max_new_tokens=5, do_sample=True, temperature=0.7, top_p=0.9, top_k=0)
    beams = model.generate(prompt, max_new_tokens=5, num_beams=3, do_sample=False)
    beams_uncached = model.generate(prompt, max_new_tokens=5, num_beams=3, do_sample=False, use_cache=False)
    assert sampled.shape[0] == 2 and beams.shape[0] == 2
    assert torch.equal(beams, beams_uncached)  # beam reordering of the cached state is exact


def test_generated_text_reads_naturally(tokenizer):
    model = RNNForCausalLM(tiny_config()).eval()
    out = model.generate(**tokenizer("the movie", return_tensors="pt"), max_new_tokens=5, do_sample=False)
    text = tokenizer.decode(out[0], skip_special_tokens=True)
    assert text.startswith("the movie ") and "  " not in text


def test_log_uniform_sampler_matches_its_distribution():
    from hf_rnn.models.rnn.modeling_rnn import log_uniform_probability, sample_log_uniform

    vocab = 50
    probs = log_uniform_probability(torch.arange(vocab), vocab)
    assert abs(probs.sum().item() - 1) < 1e-5 and (probs[:-1] > probs[1:]).all()
    counts = torch.bincount(sample_log_uniform(200_000, vocab, "cpu"), minlength=vocab).float() / 200_000
    torch.testing.assert_close(counts, probs, atol=4e-3, rtol=0)


def exact_loss_after_training(lm_loss, steps=40):
    torch.manual_seed(0)
    model = RNNForCausalLM(tiny_config(lm_loss=lm_loss, num_sampled=8))
    ids = torch.tensor([[4, 5, 6, 7, 8, 9, 10, 11] * 3] * 4)
    before = model.eval()(input_ids=ids, labels=ids).loss.item()
    optimizer = torch.optim.Adam(model.train().parameters(), lr=0.03)
    for _ in range(steps):
        out = model(input_ids=ids, labels=ids)
        optimizer.zero_grad(), out.loss.backward(), optimizer.step()
    after = model.eval()(input_ids=ids, labels=ids)
    assert after.logits.shape == (4, 24, model.config.vocab_size)  # evaluation is the exact full softmax
    return before, after.loss.item(), out.logits


def test_sampled_softmax_trains_the_exact_model():
    """Training on the sampled loss lowers the exact loss nearly as much as training on the exact loss."""
    before, sampled_after, training_logits = exact_loss_after_training("sampled")
    _, full_after, _ = exact_loss_after_training("full")
    assert training_logits is None  # no [B, T, V] logits while training on sampled softmax
    assert before - sampled_after >= 0.8 * (before - full_after), (before, sampled_after, full_after)


def test_sampled_softmax_gradient_is_the_same_on_every_run_with_two_threads():
    """The same seed must give the same LM: with repeated ids and 2 CPU threads, the output layer's gradient is
    added up in a fixed order (indexing's backward added it atomically, in an order that varied from run to run)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model = RNNForCausalLM(tiny_config(vocab_size=2000, embedding_size=64, hidden_size=64, num_sampled=512))
        model.train()
        hidden = torch.randn(32, 65, 64, generator=torch.Generator().manual_seed(0))
        labels = torch.randint(0, 50, (32, 65), generator=torch.Generator().manual_seed(1))  # many repeated ids
        grads = []
        for _ in range(4):
            model.zero_grad()
            torch.manual_seed(3)  # the same negatives each time
            model._sampled_softmax_loss(hidden, labels).backward()
            grads.append(model.lm_head.weight.grad.clone())
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(grads[0], grad) for grad in grads[1:])
