"""Adversarial and virtual adversarial training on the word embeddings: the losses as specified, padding never
perturbed, and a Trainer that trains with them (labelled and unlabeled batches)."""

import pytest
import torch
from datasets import Dataset
from transformers import Trainer, TrainingArguments

from hf_rnn import RNNForSequenceClassification
from hf_rnn.data import classification_collator
from hf_rnn.training import adversarial as adv
from conftest import tiny_config

NO_DROPOUT = dict(classifier_dropout=0.0)


def batch(side="right"):
    ids = torch.randint(4, 20, (3, 6), generator=torch.Generator().manual_seed(1))
    mask = torch.tensor([[1] * 6, [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]])
    if side == "left":
        mask = mask.flip(1)
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([0, 1, 1])}


def classifier(**overrides):
    return RNNForSequenceClassification(tiny_config(num_labels=2, **NO_DROPOUT, **overrides)).train()


def test_adversarial_loss_is_the_loss_at_embeddings_moved_along_the_normalised_gradient():
    model, inputs = classifier(), batch()
    with adv.embeddings_hook(model) as record:
        clean = model(**inputs).loss
    produced = adv.adversarial_loss(model, inputs, clean, record["embedded"], epsilon=0.1)
    # The same by hand, through inputs_embeds: g = dL/de, r = 0.1 * |e_row| * g / |g_row| over real positions.
    embedded = model.get_input_embeddings()(inputs["input_ids"]).detach().requires_grad_()
    plain = {k: v for k, v in inputs.items() if k != "input_ids"}
    (gradient,) = torch.autograd.grad(model(inputs_embeds=embedded, **plain).loss, embedded)
    mask = inputs["attention_mask"][:, :, None].float()
    rows = lambda t: (t * mask).flatten(1).norm(dim=1)[:, None, None]
    step = 0.1 * rows(embedded) * gradient * mask / rows(gradient)
    expected = model(inputs_embeds=embedded + step, **plain).loss
    torch.testing.assert_close(produced, expected)
    assert produced > clean  # moving along the gradient raises the loss


@pytest.mark.parametrize("side", ["left", "right"])
def test_no_perturbation_ever_touches_padding(side, monkeypatch):
    model, inputs = classifier(), batch(side)
    steps = []
    real_hook = adv.embeddings_hook

    def spying_hook(model, perturbation=None):
        def record(embedded):
            step = perturbation(embedded) if callable(perturbation) else perturbation
            steps.append(step)
            return step
        return real_hook(model, None if perturbation is None else record)

    monkeypatch.setattr(adv, "embeddings_hook", spying_hook)
    with adv.embeddings_hook(model) as record:
        out = model(**inputs)
    adv.adversarial_loss(model, inputs, out.loss, record["embedded"], epsilon=0.1)
    adv.virtual_adversarial_loss(model, inputs, out.logits, epsilon=0.1, xi=1e-3)
    padding = inputs["attention_mask"] == 0
    assert len(steps) == 3  # adversarial, VAT probe, VAT step
    for step in steps:
        assert step[padding].abs().sum() == 0 and step[~padding].abs().sum() > 0


def test_virtual_adversarial_loss_needs_no_labels_and_vanishes_without_a_perturbation():
    model, inputs = classifier(), batch()
    unlabeled = {k: v for k, v in inputs.items() if k != "labels"}
    logits = model(**unlabeled).logits
    assert adv.virtual_adversarial_loss(model, unlabeled, logits, epsilon=0.0, xi=1e-3) < 1e-10
    vat = adv.virtual_adversarial_loss(model, unlabeled, logits, epsilon=0.5, xi=1e-3)
    assert vat > 0
    vat.backward()
    assert model.classifier.out_proj.weight.grad.abs().sum() > 0


class AdversarialTrainer(adv.AdversarialTrainerMixin, Trainer):
    pass


def test_trainer_mixin_trains_with_every_term_and_logs_them(tmp_path, tokenizer):
    texts = ["a great movie", "awful plot", "good fun", "boring film"] * 2
    labelled = Dataset.from_dict(dict(tokenizer(texts), labels=[1, 0, 1, 0] * 2))
    unlabeled = Dataset.from_dict(dict(tokenizer(["i loved it", "i hated the acting"] * 2)))
    model = classifier(vocab_size=len(tokenizer))
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=4,
                             per_device_eval_batch_size=2, logging_steps=1, report_to=[], save_strategy="no",
                             use_cpu=True)
    settings = adv.AdversarialArguments(adversarial_weight=1.0, virtual_adversarial_weight=1.0, entropy_weight=0.1)
    trainer = AdversarialTrainer(model=model, args=args, train_dataset=labelled, unlabeled_dataset=unlabeled,
                                 data_collator=classification_collator(tokenizer), adversarial=settings)
    trainer.train()
    logged = trainer.state.log_history[0]
    assert {"adv_loss", "vat_loss", "vat_unlabeled_loss", "entropy"} <= set(logged)


def test_mixin_with_every_weight_zero_is_the_plain_loss(tmp_path):
    model, inputs = classifier(), batch()
    args = TrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True)
    trainer = AdversarialTrainer(model=model, args=args, adversarial=adv.AdversarialArguments())
    torch.manual_seed(0)
    plain = model(**inputs).loss
    torch.manual_seed(0)
    torch.testing.assert_close(trainer.compute_loss(model, inputs), plain)


@pytest.mark.parametrize("accumulation", [1, 2])
def test_trainer_step_gives_the_gradient_of_clean_plus_adversarial_loss(tmp_path, accumulation):
    """The Trainer back-propagates the clean loss inside `compute_loss` (one pass gives the embeddings' gradient
    too): its parameter gradients must equal those of (clean + adversarial loss), scaled for accumulation."""
    model, inputs = classifier(), batch()
    with adv.embeddings_hook(model) as record:
        clean = model(**inputs).loss
    expected_loss = clean + 0.5 * adv.adversarial_loss(model, inputs, clean, record["embedded"], epsilon=0.1)
    (expected_loss / accumulation).backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)

    args = TrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True,
                             gradient_accumulation_steps=accumulation)
    trainer = AdversarialTrainer(model=model, args=args,
                                 adversarial=adv.AdversarialArguments(adversarial_weight=0.5, adversarial_epsilon=0.1))
    trainer.current_gradient_accumulation_steps = accumulation  # set by Trainer.train's loop
    reported = trainer.training_step(model, dict(inputs))
    torch.testing.assert_close(reported, expected_loss.detach() / accumulation)
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(parameter.grad, expected[name], msg=name)


def test_main_head_only_leaves_the_second_head_to_the_clean_loss(tmp_path):
    model = classifier(auxiliary_label_names=[str(stars) for stars in range(1, 11)])
    inputs = {**batch(), "labels": torch.tensor([[0, 2], [1, 9], [1, 7]])}
    clean = model(**inputs).loss
    clean.backward()
    clean_only = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    args = TrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True)
    settings = adv.AdversarialArguments(adversarial_weight=1.0, adversarial_epsilon=0.5,
                                        adversarial_main_head_only=True)
    trainer = AdversarialTrainer(model=model, args=args, adversarial=settings)
    trainer.current_gradient_accumulation_steps = 1
    trainer.training_step(model, dict(inputs))
    for name, parameter in model.named_parameters():
        same = torch.allclose(parameter.grad, clean_only[name])
        assert same == name.startswith("auxiliary_classifier"), name  # every other weight feels the adversarial term
