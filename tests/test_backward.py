"""Backward models (`RNNConfig(reverse_text=True)`, ULMFiT's second direction): each one equals a forward model with the
same weights fed the text reversed, at every entry point (classifier, LM loss, carried-state LM blocks, generation)."""

import datasets
import numpy as np
import pytest
import torch
from transformers import TrainingArguments, pipeline

from hf_rnn import RNNConfig, RNNForCausalLM, RNNForSequenceClassification, RNNForTokenClassification, RNNModel
from hf_rnn.data import lm_blocks
from hf_rnn.models.rnn.modeling_rnn import PaddingLayout
from hf_rnn.tokenization import train_word_level_tokenizer
from hf_rnn.training import DataArguments, ModelArguments, ULMFiTArguments
from hf_rnn.training import corpus_lm_blocks
from hf_rnn.training.stages import train_language_model
from conftest import tiny_config
from test_backbone import pad_batch

ROWS = [[5, 6, 7, 8, 9, 10, 11], [12, 13, 5], [6]]


def forward_and_backward(model_class, **overrides):
    """Two models with the same weights, one reading forward and one backward."""
    forward = model_class(tiny_config(**overrides)).eval()
    backward = model_class(tiny_config(reverse_text=True, **overrides)).eval()
    backward.load_state_dict(forward.state_dict())
    return forward, backward


def classifiers(**overrides):
    forward, backward = forward_and_backward(RNNForSequenceClassification, num_labels=3, **overrides)
    if forward.ngrams is not None:  # trained-looking n-gram vectors (they start at zero)
        torch.nn.init.normal_(forward.ngrams.bag.weight)
        backward.load_state_dict(forward.state_dict())
    return forward, backward


@pytest.mark.parametrize("side", ["left", "right"])
def test_reversed_rows_mirror_each_row_between_its_pads(side):
    ids, mask = pad_batch([torch.tensor(r) for r in ROWS], side)
    expected, _ = pad_batch([torch.tensor(r[::-1]) for r in ROWS], side)
    layout = PaddingLayout(mask, *ids.shape)
    assert torch.equal(layout.reversed_rows(ids), expected)
    assert torch.equal(layout.reversed_rows(layout.reversed_rows(ids)), ids)  # its own inverse
    features = torch.randn(*ids.shape, 4)
    torch.testing.assert_close(layout.reversed_rows(features)[0], features[0].flip(0) if side == "left" else
                               features[0, :7].flip(0))


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("extras", [{}, {"ngram_buckets": 31, "classifier_pooling": "concat"},
                                    {"classifier_chunk_size": 3, "classifier_pooling": "concat"}],
                         ids=["plain", "ngrams", "chunked"])
def test_backward_classifier_is_the_forward_one_fed_reversed_rows(side, extras):
    forward, backward = classifiers(**extras)
    ids, mask = pad_batch([torch.tensor(r) for r in ROWS], side)
    with torch.no_grad():
        batch = backward(ids, attention_mask=mask).logits
        for row, tokens in enumerate(ROWS):
            alone = backward(torch.tensor([tokens])).logits
            reversed_forward = forward(torch.tensor([tokens[::-1]])).logits
            torch.testing.assert_close(alone, reversed_forward, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(batch[row : row + 1], alone, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(batch, forward(ids, attention_mask=mask).logits)  # it does read another order


def test_chunked_backward_classifier_reverses_the_whole_review_before_chunking():
    (_, whole), (_, chunked) = classifiers(), classifiers(classifier_chunk_size=3)
    chunked.load_state_dict(whole.state_dict())
    ids = torch.tensor([ROWS[0]])
    with torch.no_grad():
        torch.testing.assert_close(chunked(ids).logits, whole(ids).logits, atol=1e-5, rtol=1e-5)


def test_backward_classifier_trains_and_its_backbone_reads_backward():
    forward, backward = forward_and_backward(RNNModel)
    ids, mask = pad_batch([torch.tensor(r) for r in ROWS], "left")
    reversed_ids, _ = pad_batch([torch.tensor(r[::-1]) for r in ROWS], "left")
    with torch.no_grad():
        torch.testing.assert_close(backward(ids, attention_mask=mask).last_hidden_state,
                                   forward(reversed_ids, attention_mask=mask).last_hidden_state)
    model = RNNForSequenceClassification(tiny_config(num_labels=2, reverse_text=True))
    model(ids, attention_mask=mask, labels=torch.tensor([0, 1, 1])).loss.backward()
    assert model.model.embeddings.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("loss", ["full", "sampled"])
def test_backward_lm_loss_is_the_forward_loss_on_the_reversed_text(loss):
    forward, backward = forward_and_backward(RNNForCausalLM, lm_loss=loss, num_sampled=8)
    ids, mask = pad_batch([torch.tensor(r) for r in ROWS], "right")
    labels = ids.masked_fill(mask == 0, -100)  # as the LM collator pads them
    reversed_ids, _ = pad_batch([torch.tensor(r[::-1]) for r in ROWS], "right")
    reversed_labels = reversed_ids.masked_fill(mask == 0, -100)
    for model in (forward, backward):
        model.train(loss == "sampled")  # the sampled loss is a training loss: same seed, same negatives
    torch.manual_seed(1)
    ours = backward(ids, attention_mask=mask, labels=labels).loss
    torch.manual_seed(1)
    theirs = forward(reversed_ids, attention_mask=mask, labels=reversed_labels).loss
    torch.testing.assert_close(ours, theirs)
    assert not torch.allclose(ours, forward(ids, attention_mask=mask, labels=labels).loss)


DOCS = [" ".join(f"w{i}" for i in range(start, start + 10)) for start in range(0, 100, 10)]


@pytest.fixture(scope="module")
def word_tokenizer():
    return train_word_level_tokenizer(DOCS, min_frequency=1)


def streams(rows, n_streams, block):
    ids = np.array(rows["input_ids"]).reshape(-1, n_streams, block)  # [batch, row, block]
    return [ids[:, r] for r in range(n_streams)]  # each [batch, block]


def test_backward_lm_blocks_step_back_through_each_stream(word_tokenizer):
    text = datasets.Dataset.from_dict({"text": DOCS})
    forward = streams(lm_blocks(text, word_tokenizer, block_size=5, num_streams=3), 3, 5)
    backward = streams(lm_blocks(text, word_tokenizer, block_size=5, num_streams=3, reverse_text=True), 3, 5)
    for fwd, bwd in zip(forward, backward):
        # Each block read backward, one batch after another, is the stream read backward without a break.
        read = bwd[:, ::-1].ravel()
        assert read.tolist() == fwd.ravel()[::-1].tolist()
        assert bwd[0].tolist() == fwd[-1].tolist()  # blocks keep natural order inside: the model reverses them


def test_backward_lm_carries_its_state_over_backward_blocks(word_tokenizer):
    """The RWKV-style test, backward: consecutive backward blocks with the state carried equal one pass over the
    whole stream reversed."""
    text = datasets.Dataset.from_dict({"text": DOCS})
    forward, backward = forward_and_backward(RNNForCausalLM, vocab_size=len(word_tokenizer))
    (stream,) = streams(lm_blocks(text, word_tokenizer, block_size=6, num_streams=1, reverse_text=True), 1, 6)
    cache, pieces = None, []
    with torch.no_grad():
        for block in stream:
            out = backward(torch.tensor([block.tolist()]), cache=cache, use_cache=True)
            cache, pieces = out.cache, pieces + [out.logits]
        whole = forward(torch.tensor([stream[:, ::-1].ravel().tolist()])).logits
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole, atol=1e-5, rtol=1e-5)


def test_corpus_blocks_for_a_backward_lm_step_back_too(word_tokenizer, tmp_path):
    text = datasets.Dataset.from_dict({"text": DOCS})
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=3,
                             train_sampling_strategy="sequential", report_to=[])
    train, _ = corpus_lm_blocks(word_tokenizer, datasets.DatasetDict(train=text, validation=text),
                                DataArguments(lm_streams=3, block_size=5), args, reverse_text=True)
    assert train["input_ids"] == lm_blocks(text, word_tokenizer, 5, num_streams=3, reverse_text=True)["input_ids"]


def test_a_backward_lm_refuses_to_carry_its_state_over_a_forward_stream(word_tokenizer, tmp_path):
    stream = datasets.IterableDataset.from_generator(lambda: iter([{"input_ids": [4, 5, 6, 7]}] * 4))
    with pytest.raises(ValueError, match="streamed corpus comes forward"):
        train_language_model(word_tokenizer, stream, None, DataArguments(lm_streams=2),
                             ModelArguments(config_overrides="reverse_text=true"), ULMFiTArguments(),
                             TrainingArguments(output_dir=str(tmp_path), max_steps=1, report_to=[]))


def backward_lm(**overrides):
    forward, backward = forward_and_backward(RNNForCausalLM, **overrides)
    torch.nn.init.normal_(forward.lm_head.bias, std=0.5)  # sharper next-token choices than a fresh model's
    backward.load_state_dict(forward.state_dict())
    return forward, backward


def test_backward_generation_writes_the_text_before_the_prompt():
    forward, backward = backward_lm()
    prompt = torch.tensor([[7, 8, 9, 10]])
    settings = dict(max_new_tokens=6, min_new_tokens=6, do_sample=True, top_k=0)  # sampled: no repeated token
    torch.manual_seed(3)
    out = backward.generate(prompt, **settings)
    # The forward model fed the reversed prompt writes the same tokens, in the order generated (backward).
    torch.manual_seed(3)
    generated = forward.generate(prompt.flip(1), eos_token_id=backward.generation_config.eos_token_id,
                                 **settings)[:, 4:]
    assert not torch.equal(generated, generated.flip(1))  # so the order below is tested
    assert torch.equal(out[:, :4], prompt)  # the prompt as given
    assert torch.equal(out[:, 4:], generated.flip(1))  # then the text before it, in reading order


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_backward_cached_and_uncached_generation_agree(cell):
    _, backward = backward_lm(cell_type=cell)
    prompt = torch.randint(4, 20, (2, 4))
    cached = backward.generate(prompt, max_new_tokens=8, do_sample=False, use_cache=True)
    uncached = backward.generate(prompt, max_new_tokens=8, do_sample=False, use_cache=False)
    beams = backward.generate(prompt, max_new_tokens=5, num_beams=3, do_sample=False)
    beams_uncached = backward.generate(prompt, max_new_tokens=5, num_beams=3, do_sample=False, use_cache=False)
    assert torch.equal(cached, uncached) and torch.equal(beams, beams_uncached)


def test_backward_left_padded_batch_generates_like_one_at_a_time(tokenizer):
    _, backward = backward_lm()
    tokenizer.padding_side = "left"
    prompts = ["the movie was great", "i loved it", "bad plot"]
    encode = lambda texts, **kw: tokenizer(texts, return_tensors="pt", add_special_tokens=False, **kw)
    batch = encode(prompts, padding=True)
    together = backward.generate(**batch, max_new_tokens=8, do_sample=False)
    for row, prompt in enumerate(prompts):
        single = encode(prompt)
        alone = backward.generate(**single, max_new_tokens=8, do_sample=False)[0, single.input_ids.shape[1]:]
        new = together[row, batch.input_ids.shape[1]:]
        # A row that stopped early at <s> holds its padding before the text it wrote.
        assert torch.equal(new[len(new) - len(alone):], alone), prompt
        assert (new[: len(new) - len(alone)] == 0).all()


def test_backward_generation_stops_where_a_text_starts_and_refuses_a_prompt_with_bos(tokenizer):
    _, backward = backward_lm()
    assert backward.generation_config.eos_token_id == tokenizer.bos_token_id  # <s>, read backward, ends a text
    with torch.no_grad():
        backward.lm_head.bias.fill_(-10.0)
        backward.lm_head.bias[tokenizer.bos_token_id] = 10.0  # it can only say "here the text starts"
    prompt = tokenizer("bad plot", return_tensors="pt", add_special_tokens=False)
    out = backward.generate(**prompt, max_new_tokens=5, do_sample=False)
    assert out[0, prompt.input_ids.shape[1]:].tolist() == [tokenizer.bos_token_id]
    with pytest.raises(ValueError, match="add_special_tokens=False"):
        backward.generate(torch.tensor([[tokenizer.bos_token_id, 5, 6]]), max_new_tokens=2)
    with pytest.raises(ValueError, match="no cache"):
        backward.generate(prompt.input_ids, cache=backward(prompt.input_ids).cache, max_new_tokens=2)


def test_backward_text_generation_pipeline_returns_the_preceding_text(tokenizer, tmp_path):
    _, backward = backward_lm()
    backward.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    reloaded = RNNForCausalLM.from_pretrained(tmp_path)
    assert reloaded.config.reverse_text and reloaded.generation_config.eos_token_id == tokenizer.bos_token_id
    generate = pipeline("text-generation", model=str(tmp_path))
    (result,) = generate("bad plot", max_new_tokens=4, do_sample=False, return_full_text=False)
    prompt = tokenizer("bad plot", return_tensors="pt", add_special_tokens=False)
    ids = reloaded.generate(**prompt, max_new_tokens=4, do_sample=False)[0, prompt.input_ids.shape[1]:]
    assert result["generated_text"] == tokenizer.decode(ids, skip_special_tokens=True)


def test_classifier_from_a_backward_lm_reads_backward(tmp_path):
    _, backward = backward_lm()
    backward.save_pretrained(tmp_path)
    classifier = RNNForSequenceClassification.from_pretrained(tmp_path, num_labels=2)
    assert classifier.config.reverse_text


@pytest.mark.parametrize("settings, message", [
    ({"reverse_text": "yes"}, "must be True"),
    ({"reverse_text": True, "input_size": 3}, "continuous signals"),
    ({"reverse_text": True, "bidirectional": True}, "both ways"),
])
def test_reverse_text_is_validated(settings, message):
    with pytest.raises(ValueError, match=message):
        RNNConfig(**settings)


def test_token_classifier_refuses_a_backward_config():
    with pytest.raises(ValueError, match="bidirectional=True"):
        RNNForTokenClassification(tiny_config(num_labels=2, reverse_text=True))
