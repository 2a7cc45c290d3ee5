"""Generation the way transformers 5.25 drives it, held for hf_rnn: extra forward arguments arrive, generation from
`inputs_embeds` (left-padded, continued from a cache), continuing with the new tokens only, and assisted decoding.
Every path must write exactly what greedy search from the token ids writes."""

import pytest
import torch

from hf_rnn import RNNCache, RNNForCausalLM
from conftest import tiny_config

CELLS = ["rnn", "lstm", "gru"]


def ids_batch(rows=2, length=6, seed=0):
    return torch.randint(4, 20, (rows, length), generator=torch.Generator().manual_seed(seed))


def greedy(lm, ids, new_tokens, **kwargs):
    return lm.generate(ids, max_new_tokens=new_tokens, do_sample=False, min_new_tokens=new_tokens, **kwargs)


# Item 6: prepare_inputs_for_generation passes every extra keyword on to forward.

def test_an_argument_of_a_wrapped_forward_arrives_at_every_step():
    lm = RNNForCausalLM(tiny_config()).eval()
    received = []
    original = lm.forward

    def forward(*args, marker=None, **kwargs):  # e.g. an adapter or a tracing wrapper with an argument of its own
        received.append(marker)
        return original(*args, **kwargs)

    lm.forward = forward
    lm.generate(ids_batch(), max_new_tokens=3, do_sample=False, marker="seen")
    assert received == ["seen"] * 3


LEFT_PADDED = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1]])


def left_padded_prompt(lm):
    return ids_batch(rows=3).masked_fill(LEFT_PADDED == 0, lm.config.pad_token_id), LEFT_PADDED


def columns_fed(lm):
    """Records how many columns each forward of the backbone reads (ids or embeddings)."""
    fed = []

    def record(module, args, kwargs):
        inputs = kwargs.get("input_ids") if kwargs.get("input_ids") is not None else kwargs.get("inputs_embeds")
        fed.append(inputs.shape[1])

    return fed, lm.model.register_forward_pre_hook(record, with_kwargs=True)


# Item 2: generation from inputs_embeds, padded and continued from a cache.

@pytest.mark.parametrize("cell", CELLS)
def test_a_left_padded_batch_given_as_embeddings_writes_what_its_ids_write(cell):
    lm = RNNForCausalLM(tiny_config(cell_type=cell)).eval()
    prompt, mask = left_padded_prompt(lm)
    from_ids = greedy(lm, prompt, 4, attention_mask=mask)[:, prompt.size(1):]
    embeds = lm.get_input_embeddings()(prompt)  # [B, P, E]
    from_embeds = greedy(lm, None, 4, inputs_embeds=embeds, attention_mask=mask)
    assert torch.equal(from_embeds[:, -4:], from_ids)


@pytest.mark.parametrize("cell", CELLS)
def test_generation_from_embeddings_continues_from_the_cache(cell):
    lm = RNNForCausalLM(tiny_config(cell_type=cell)).eval()
    prompt, mask = left_padded_prompt(lm)
    embed = lm.get_input_embeddings()
    first = greedy(lm, None, 3, inputs_embeds=embed(prompt), attention_mask=mask, return_dict_in_generate=True)
    written = first.sequences[:, -3:]  # [B, 3]
    longer = torch.cat([prompt, written], dim=1)
    longer_mask = torch.cat([mask, torch.ones_like(written)], dim=1)
    fed, hook = columns_fed(lm)
    continued = greedy(lm, None, 2, inputs_embeds=embed(longer), attention_mask=longer_mask, cache=first.cache)
    hook.remove()
    in_one_go = greedy(lm, prompt, 5, attention_mask=mask)
    assert torch.equal(continued[:, -2:], in_one_go[:, -2:])
    assert fed == [1, 1]  # only the column the cache had not read, then one per step


# Item 3: continuing with only the new tokens, the attention mask covering the whole conversation.

@pytest.mark.parametrize("cell", CELLS)
def test_generation_continues_from_the_new_tokens_only(cell):
    lm = RNNForCausalLM(tiny_config(cell_type=cell)).eval()
    prompt, mask = left_padded_prompt(lm)
    first = greedy(lm, prompt, 3, attention_mask=mask, return_dict_in_generate=True)
    reply = ids_batch(rows=3, length=2, seed=4)  # the user's next turn
    conversation = torch.cat([first.sequences, reply], dim=1)
    conversation_mask = torch.cat([mask, torch.ones(3, 5, dtype=torch.long)], dim=1)
    new_tokens = torch.cat([first.sequences[:, -1:], reply], dim=1)  # the last written token was not read yet
    fed, hook = columns_fed(lm)
    continued = greedy(lm, new_tokens, 2, attention_mask=conversation_mask, cache=first.cache)
    hook.remove()
    expected = greedy(lm, conversation, 2, attention_mask=conversation_mask)
    assert torch.equal(continued[:, -2:], expected[:, -2:])
    assert fed == [3, 1]


def test_new_tokens_that_do_not_add_up_with_the_cache_are_refused():
    lm = RNNForCausalLM(tiny_config()).eval()
    first = greedy(lm, ids_batch(), 3, return_dict_in_generate=True)  # the cache has read 8 columns
    with pytest.raises(ValueError, match="has read 8 columns"):
        greedy(lm, ids_batch(length=2), 2, attention_mask=torch.ones(2, 5, dtype=torch.long), cache=first.cache)


# Item 4: assisted decoding and prompt lookup roll the recurrent state back to the last accepted token.

def draft_of(lm, cell, same_weights):
    config = tiny_config(cell_type=cell, hidden_size=6, num_hidden_layers=1)
    if same_weights:  # every candidate is accepted: the draft's state runs ahead without a rollback
        config = lm.config
    draft = RNNForCausalLM(config).eval()
    if same_weights:
        draft.load_state_dict(lm.state_dict())
    return draft


@pytest.mark.parametrize("same_weights", [False, True])
@pytest.mark.parametrize("cell", CELLS)
def test_assisted_decoding_writes_what_greedy_search_writes(cell, same_weights):
    lm = RNNForCausalLM(tiny_config(cell_type=cell)).eval()
    prompt = ids_batch(rows=1, length=7, seed=2)
    expected = greedy(lm, prompt, 12)
    draft = draft_of(lm, {"rnn": "gru", "lstm": "rnn", "gru": "lstm"}[cell], same_weights)
    assisted = greedy(lm, prompt, 12, assistant_model=draft)
    assert torch.equal(assisted, expected)


@pytest.mark.parametrize("cell", CELLS)
def test_prompt_lookup_decoding_writes_what_greedy_search_writes(cell):
    lm = RNNForCausalLM(tiny_config(cell_type=cell)).eval()
    prompt = torch.tensor([[5, 6, 7, 8, 5, 6, 7, 8, 5, 6]])  # repeats, so the lookup finds candidates
    expected = greedy(lm, prompt, 10)
    assert torch.equal(greedy(lm, prompt, 10, prompt_lookup_num_tokens=3), expected)


def test_assisted_decoding_returns_a_cache_that_continues():
    lm = RNNForCausalLM(tiny_config(cell_type="lstm")).eval()
    prompt = ids_batch(rows=1, length=5)
    first = greedy(lm, prompt, 4, assistant_model=draft_of(lm, "gru", False), return_dict_in_generate=True)
    assert not first.cache.record_past and not first.cache.history  # recording was for the rollbacks only
    fed, hook = columns_fed(lm)
    continued = greedy(lm, first.sequences, 3, cache=first.cache)
    hook.remove()
    assert torch.equal(continued, greedy(lm, prompt, 7))
    assert fed == [1, 1, 1]


def test_a_cache_rolls_back_only_to_recorded_columns():
    model = RNNForCausalLM(tiny_config()).eval().model
    cache = RNNCache()
    assert not cache.is_croppable
    cache.activate_past_recording(recurrent_states_to_keep=2)
    assert cache.is_croppable
    after_six = model(ids_batch(), cache=cache, use_cache=True).cache
    after_four = model(ids_batch()[:, :4], use_cache=True).cache
    after_six.crop(-2)
    assert after_six.get_seq_length() == 4
    assert all(torch.allclose(a, b, atol=1e-6) for layer_a, layer_b in zip(after_six, after_four)
               for a, b in zip(layer_a, layer_b))
    again = model(ids_batch(), cache=cache, use_cache=True).cache
    with pytest.raises(RuntimeError, match="recorded only after"):
        again.crop(-4)  # the prompt was read whole up to its last 3 columns


def test_a_backward_model_with_a_backward_draft_writes_what_its_greedy_search_writes():
    lm = RNNForCausalLM(tiny_config(reverse_text=True)).eval()
    draft = RNNForCausalLM(tiny_config(reverse_text=True, hidden_size=6, num_hidden_layers=1)).eval()
    prompt = ids_batch(rows=1, length=6, seed=3)
    assert torch.equal(greedy(lm, prompt, 8, assistant_model=draft), greedy(lm, prompt, 8))
