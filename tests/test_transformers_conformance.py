"""What transformers' own models guarantee, held for hf_rnn: hidden states, a real Cache, hooks and adapters,
export with padding, gradient checkpointing, legacy argument names and clear errors for bad input."""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from transformers import Cache, Trainer, TrainingArguments

from hf_rnn import RNNCache, RNNForCausalLM, RNNForSequenceClassification, RNNModel
from conftest import tiny_config

CELLS = ["rnn", "lstm", "gru"]


def ids_batch(rows=2, length=6, seed=0):
    return torch.randint(4, 20, (rows, length), generator=torch.Generator().manual_seed(seed))


# 1. Hidden states and return_dict follow the config, as in transformers.

def test_config_output_hidden_states_is_honoured_by_the_backbone_and_from_pretrained(tmp_path):
    model = RNNModel(tiny_config(output_hidden_states=True)).eval()
    out = model(ids_batch())
    assert out.hidden_states is not None and len(out.hidden_states) == model.config.num_hidden_layers + 1
    RNNForCausalLM(tiny_config()).save_pretrained(tmp_path)
    reloaded = RNNForCausalLM.from_pretrained(tmp_path, output_hidden_states=True).eval()
    assert reloaded(ids_batch()).hidden_states is not None
    assert model(ids_batch(), output_hidden_states=False).hidden_states is None  # an explicit argument wins


def test_config_return_dict_false_gives_tuples():
    model = RNNForSequenceClassification(tiny_config(num_labels=2, return_dict=False)).eval()
    out = model(ids_batch())
    assert isinstance(out, tuple) and out[0].shape == (2, 2)


def test_generate_returns_hidden_states_of_every_step():
    lm = RNNForCausalLM(tiny_config()).eval()
    out = lm.generate(ids_batch(), max_new_tokens=3, do_sample=False, output_hidden_states=True,
                      return_dict_in_generate=True)
    assert len(out.hidden_states) == 3
    assert all(step is not None and len(step) == lm.config.num_hidden_layers + 1 for step in out.hidden_states)
    assert out.hidden_states[0][-1].shape[1] == 6 and out.hidden_states[1][-1].shape[1] == 1  # prompt, then 1 token


# 2. The state is a transformers Cache: generation continues from it.

@pytest.mark.parametrize("cell", CELLS)
def test_generation_continues_from_the_cache_it_returned(cell):
    lm = RNNForCausalLM(tiny_config(cell_type=cell)).eval()
    prompt = ids_batch()
    first = lm.generate(prompt, max_new_tokens=3, do_sample=False, return_dict_in_generate=True)
    assert isinstance(first.cache, Cache) and isinstance(first.cache, RNNCache)
    fed = []
    hook = lm.get_input_embeddings().register_forward_hook(lambda m, args, out: fed.append(args[0].shape[1]))
    continued = lm.generate(first.sequences, cache=first.cache, max_new_tokens=2, do_sample=False)
    hook.remove()
    in_one_go = lm.generate(prompt, max_new_tokens=5, do_sample=False)
    assert torch.equal(continued, in_one_go)
    assert fed == [1, 1]  # only the token the cache had not read, then one per step: the past is not re-read


def test_a_forward_never_changes_the_cache_it_was_given():
    model = RNNModel(tiny_config()).eval()
    start = model(ids_batch(), use_cache=True).cache
    kept = [t.clone() for layer in start for t in layer]
    after = model(ids_batch(seed=1), cache=start, use_cache=True).cache
    assert after is not start and after.get_seq_length() == start.get_seq_length() + 6
    assert all(torch.equal(a, b) for a, b in zip(kept, (t for layer in start for t in layer)))


def test_cache_follows_beam_reordering_and_row_selection():
    model = RNNModel(tiny_config()).eval()
    cache = model(ids_batch(rows=3), use_cache=True).cache
    reordered = RNNCache(cache.states, cache.seen_tokens)
    reordered.reorder_cache(torch.tensor([2, 0, 0]))
    assert torch.equal(reordered[0][0][:, 0], cache[0][0][:, 2])
    assert torch.equal(reordered[1][-1][:, 2], cache[1][-1][:, 0])
    reordered.batch_repeat_interleave(2)
    assert reordered.batch_size == 6


def test_past_key_values_is_accepted_with_a_deprecation_warning():
    lm = RNNForCausalLM(tiny_config()).eval()
    state = lm(ids_batch(), use_cache=True).cache
    with pytest.warns(FutureWarning, match="cache"):
        legacy = lm(ids_batch(seed=1), past_key_values=state).logits
    torch.testing.assert_close(legacy, lm(ids_batch(seed=1), cache=state).logits)


# 3. The embedding module is called: hooks, input gradients and adapters apply.

def test_input_embedding_hooks_and_enable_input_require_grads_apply():
    lm = RNNForCausalLM(tiny_config())
    calls = []
    lm.get_input_embeddings().register_forward_hook(lambda *args: calls.append(1))
    lm.requires_grad_(False)
    lm.enable_input_require_grads()
    out = lm(ids_batch())
    assert calls and out.logits.requires_grad  # frozen weights, yet gradients can flow to the inputs


def test_lora_adapter_on_the_embedding_changes_the_output_and_trains():
    peft = pytest.importorskip("peft")
    lm = RNNForCausalLM(tiny_config(tie_word_embeddings=False)).eval()
    ids = ids_batch()
    before = lm(ids).logits.detach()
    adapted = peft.get_peft_model(lm, peft.LoraConfig(r=4, target_modules=["embeddings"], init_lora_weights=False))
    assert not torch.allclose(adapted(input_ids=ids).logits, before)
    trainable = [p for p in adapted.parameters() if p.requires_grad]
    assert trainable and all("lora" in n for n, p in adapted.named_parameters() if p.requires_grad)
    optimizer = torch.optim.SGD(trainable, lr=0.5)
    losses = []
    for _ in range(5):
        loss = adapted(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


# 4. Export with an attention mask (the base of ONNX deployment).

@pytest.mark.parametrize("cell", CELLS)
def test_padded_classifier_exports_and_matches_eager(cell):
    model = RNNForSequenceClassification(tiny_config(cell_type=cell, num_labels=2)).eval()
    ids = ids_batch(rows=3, length=7)
    left = torch.tensor([[0, 0, 1, 1, 1, 1, 1], [1] * 7, [0, 0, 0, 0, 0, 1, 1]])
    right = left.flip(1)
    exported = torch.export.export(model, (), {"input_ids": ids, "attention_mask": left})
    for mask in (left, right):
        torch.testing.assert_close(exported.module()(input_ids=ids, attention_mask=mask).logits,
                                   model(input_ids=ids, attention_mask=mask).logits, atol=1e-5, rtol=1e-5)


# 5. Gradient checkpointing per recurrent layer.

@pytest.mark.parametrize("cell", CELLS)
def test_gradient_checkpointing_gives_the_same_gradients(cell):
    config = tiny_config(cell_type=cell, weight_dropout=0.3, hidden_dropout=0.2)
    plain, checkpointed = RNNForCausalLM(config).train(), RNNForCausalLM(config).train()
    checkpointed.load_state_dict(plain.state_dict())
    checkpointed.gradient_checkpointing_enable()
    assert checkpointed.model.gradient_checkpointing
    ids = ids_batch()
    for model in (plain, checkpointed):
        torch.manual_seed(3)  # the same dropout masks; checkpointing replays them in the recomputation
        model(ids, labels=ids).loss.backward()
    for (name, a), b in zip(plain.named_parameters(), checkpointed.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-6, rtol=1e-5, msg=name)


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_checkpointed_layers_pass_the_gradient_to_the_state_they_were_given(use_reentrant):
    config = tiny_config(cell_type="lstm", weight_dropout=0.3)
    plain, checkpointed = RNNModel(config).train(), RNNModel(config).train()
    checkpointed.load_state_dict(plain.state_dict())
    checkpointed.activation_checkpointing_enable({"use_reentrant": use_reentrant})
    start = plain(ids_batch(seed=1), use_cache=True).cache.detach()  # e.g. the previous chunk's state (TBPTT)
    grads = []
    for model in (plain, checkpointed):
        state = RNNCache([tuple(t.clone().requires_grad_() for t in layer) for layer in start], start.seen_tokens)
        torch.manual_seed(3)
        out = model(ids_batch(), cache=state, use_cache=True)
        (out.last_hidden_state.sum() + sum(t.sum() for layer in out.cache for t in layer)).backward()
        grads.append([t.grad for layer in state for t in layer] + [p.grad for p in model.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_every_recurrent_layer_is_a_checkpointing_block_and_every_n_layers_counts_them():
    from transformers import GradientCheckpointingLayer

    lm = RNNForCausalLM(tiny_config(num_hidden_layers=4)).train()
    assert all(isinstance(layer, GradientCheckpointingLayer) for layer in lm.model.layers)
    lm.activation_checkpointing_enable(every_n_layers=2)
    assert [layer.gradient_checkpointing for layer in lm.model.layers] == [True, False, True, False]
    runs = []
    for idx, layer in enumerate(lm.model.layers):
        layer.rnn.register_forward_pre_hook(lambda *args, idx=idx: runs.append(idx))
    loss = lm(ids_batch(), labels=ids_batch()).loss
    assert runs == [0, 1, 2, 3]
    loss.backward()
    assert runs[4:] == [2, 0]  # the backward pass recomputes only the checkpointed layers, last first
    lm.activation_checkpointing_disable()
    assert not any(layer.gradient_checkpointing for layer in lm.model.layers)


def saved_bytes_after_forward(backbone, ids):
    """Bytes autograd holds for the backward pass once the forward is done (each storage counted once)."""
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        backbone(ids).last_hidden_state.sum().backward()
    return sum(storages.values())


@pytest.mark.parametrize("cell", CELLS)
def test_checkpointing_keeps_its_memory_saving(cell):
    config = tiny_config(cell_type=cell, num_hidden_layers=4, embedding_size=16, hidden_size=64, weight_dropout=0.2)
    ids = ids_batch(rows=4, length=64)
    plain = saved_bytes_after_forward(RNNModel(config).train(), ids)
    checkpointed = RNNModel(config).train()
    checkpointed.activation_checkpointing_enable()
    assert saved_bytes_after_forward(checkpointed, ids) < plain / 2  # measured: a third (rnn) to a 24th (lstm)


def test_trainer_with_gradient_checkpointing_trains(tmp_path):
    from datasets import Dataset

    data = Dataset.from_dict({"input_ids": ids_batch(rows=8).tolist(), "labels": [0, 1] * 4})
    model = RNNForSequenceClassification(tiny_config(num_labels=2))
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=4, report_to=[],
                             gradient_checkpointing=True, save_strategy="no", use_cpu=True)
    Trainer(model=model, args=args, train_dataset=data).train()
    assert model.model.gradient_checkpointing


# 6. Hidden states are the tensors the model computed with, padding or not.

@pytest.mark.parametrize("side", ["left", "right"])
def test_hidden_states_of_padded_rows_carry_gradient(side):
    model = RNNForSequenceClassification(tiny_config(num_labels=2)).train()
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]])
    mask = mask if side == "right" else mask.flip(1)
    out = model(ids_batch(), attention_mask=mask, output_hidden_states=True)
    for hidden in out.hidden_states:
        hidden.retain_grad()
    out.logits.sum().backward()
    assert all(h.grad is not None and h.grad.abs().sum() > 0 for h in out.hidden_states)


# 7-8. Bad input: one clear error, the fix in the message.

def test_out_of_range_ids_name_the_vocabulary_size():
    model = RNNModel(tiny_config())
    for bad in (model.config.vocab_size, -1):
        ids = ids_batch()
        ids[0, 2] = bad
        with pytest.raises(ValueError, match=f"vocab_size={model.config.vocab_size}"):
            model(ids)


def test_attention_mask_of_the_wrong_shape_or_values_is_rejected():
    model = RNNForSequenceClassification(tiny_config(num_labels=2))
    with pytest.raises(ValueError, match="shape"):
        model(ids_batch(), attention_mask=torch.ones(2, 5, dtype=torch.long))  # all ones, still the wrong shape
    with pytest.raises(ValueError, match="only 0"):
        model(ids_batch(), attention_mask=torch.full((2, 6), 2))


def test_generate_without_a_mask_on_a_prompt_holding_the_pad_id_explains_the_fix():
    lm = RNNForCausalLM(tiny_config()).eval()
    prompt = ids_batch()
    prompt[0, 2] = lm.config.pad_token_id
    with pytest.raises(ValueError, match="pass the attention_mask"):
        lm.generate(prompt, max_new_tokens=2, pad_token_id=lm.config.pad_token_id)
    mask = torch.ones_like(prompt)
    assert lm.generate(prompt, attention_mask=mask, max_new_tokens=2).shape == (2, 8)


class LargestTensor(TorchDispatchMode):
    """Records the largest tensor any operation creates: a proxy for peak memory that does not depend on the OS."""

    def __init__(self):
        super().__init__()
        self.numel = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.numel = max(self.numel, t.numel())
        return out


def largest_tensor_while_classifying(model, length):
    ids, mask = ids_batch(length=length), torch.ones(2, length, dtype=torch.long)
    mask[1, length // 2 :] = 0
    with torch.no_grad(), LargestTensor() as probe:
        model(ids, attention_mask=mask)
    return probe.numel


def test_chunked_classifier_memory_does_not_grow_with_the_length():
    config = tiny_config(num_labels=2, classifier_chunk_size=8, classifier_pooling="concat")
    model = RNNForSequenceClassification(config).eval()
    short, long = (largest_tensor_while_classifying(model, n) for n in (64, 640))
    assert long <= max(short, 2 * 640)  # nothing grows with the length but the [B, T] ids and mask themselves
    ids, mask = ids_batch(length=18), torch.ones(2, 18, dtype=torch.long)
    mask[1, 11:] = 0
    chunked = model(ids, attention_mask=mask).logits
    model.config.classifier_chunk_size = 0
    torch.testing.assert_close(chunked, model(ids, attention_mask=mask).logits, atol=1e-5, rtol=1e-5)


def test_non_finite_input_values_name_the_row_and_step():
    from hf_rnn import RNNForForecasting

    model = RNNForForecasting(tiny_config(input_size=2))
    series = torch.randn(2, 5, 2)
    series[1, 3, 0] = float("nan")
    with pytest.raises(ValueError, match="batch row 1, step 3, channel 0"):
        model(input_values=series, labels=series)


# 9. Pre-shifted targets (transformers' `shift_labels`, passed by the Trainer and sequence parallelism).

@pytest.mark.parametrize("lm_loss", ["full", "sampled"])
def test_shift_labels_give_the_same_loss_as_labels(lm_loss):
    lm = RNNForCausalLM(tiny_config(lm_loss=lm_loss, num_sampled=8)).train()
    ids = ids_batch()
    labels = ids.clone()
    labels[0, 4:] = -100
    shifted = torch.nn.functional.pad(labels[:, 1:], (0, 1), value=-100)  # [B, T]: position t predicts token t+1
    torch.manual_seed(1)  # the same dropout masks and sampled negatives for both
    from_labels = lm(ids, labels=labels).loss
    torch.manual_seed(1)
    from_shifted = lm(ids, labels=labels, shift_labels=shifted).loss
    torch.manual_seed(1)
    only_shifted = lm(ids, shift_labels=shifted).loss
    torch.testing.assert_close(from_shifted, from_labels)
    torch.testing.assert_close(only_shifted, from_labels)


def test_shift_labels_win_over_labels():
    lm = RNNForCausalLM(tiny_config()).eval()
    ids = ids_batch()
    other = ids_batch(seed=5)
    loss = lm(ids, labels=ids, shift_labels=other).loss
    logits = lm(ids).logits
    expected = torch.nn.functional.cross_entropy(logits.flatten(0, 1), other.flatten())
    torch.testing.assert_close(loss, expected)


def test_a_backward_model_takes_shift_labels_only_in_its_reading_order():
    lm = RNNForCausalLM(tiny_config(reverse_text=True)).eval()
    ids = ids_batch()
    with pytest.raises(ValueError, match="already_reversed"):
        lm(ids, shift_labels=ids)
    reversed_ids = ids.flip(1)
    shifted = torch.nn.functional.pad(reversed_ids[:, 1:], (0, 1), value=-100)
    torch.testing.assert_close(lm(reversed_ids, shift_labels=shifted, already_reversed=True).loss,
                               lm(ids, labels=ids).loss)


def test_the_trainer_finds_labels_alone_and_reports_an_evaluation_loss():
    """shift_labels is a keyword argument, as in transformers' models: a named parameter makes the Trainer wait for
    it in every batch and report no eval_loss (the LM stage's perplexity needs it)."""
    from transformers.utils import find_labels

    assert find_labels(RNNForCausalLM) == ["labels"]
