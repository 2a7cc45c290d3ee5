"""Adversarial and virtual adversarial training on the word embeddings (Miyato, Dai & Goodfellow 2017), with
entropy minimisation on unlabeled text (Sachan, Zaheer & Salakhutdinov 2019), as a Trainer mixin.

The perturbation is added to the output of the model's input-embedding module by a forward hook, so any hf_rnn
classifier trains this way unchanged (its n-gram bag, which reads token ids, is not perturbed). Every
perturbation is zero at padding positions and L2-normalised per row over the real positions. Miyato et al.
normalise the embeddings so that the model cannot dodge a fixed-size perturbation by growing its embeddings;
here the perturbation is scaled by the norm of the row's own embeddings instead, which gives the same invariance
without changing the model that ships.

    class MyTrainer(AdversarialTrainerMixin, LengthGroupedTrainer): ...
    trainer = MyTrainer(..., adversarial=AdversarialArguments(adversarial_weight=1.0, virtual_adversarial_weight=1.0),
                        unlabeled_dataset=unlabeled_features)
"""

from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from accelerate.utils import DistributedType

from ..data.batching import LengthGroupedTrainer


@dataclass
class AdversarialArguments:
    """Switches and sizes of the embedding-perturbation losses (all off by default)."""

    adversarial_weight: float = field(default=0.0, metadata={
        "help": "Weight of the adversarial loss: the labelled batch again, its embeddings moved along the loss "
                "gradient (0 = off)."})
    virtual_adversarial_weight: float = field(default=0.0, metadata={
        "help": "Weight of the virtual adversarial loss: KL between the predictions with clean and with perturbed "
                "embeddings, on labelled and (if given) unlabeled batches (0 = off)."})
    entropy_weight: float = field(default=0.0, metadata={
        "help": "Weight of entropy minimisation of the predictions on unlabeled batches (0 = off)."})
    adversarial_epsilon: float = field(default=0.02, metadata={
        "help": "Size of a perturbation relative to the L2 norm of the row's embeddings (measured in "
                "docs/results.md, section 'Adversarial training')."})
    vat_xi: float = field(default=1e-3, metadata={
        "help": "Relative size of VAT's finite-difference step (its one power iteration)."})
    adversarial_main_head_only: bool = field(default=False, metadata={
        "help": "For a classifier with a second head (labels (batch, 2), e.g. sentiment + rating): the adversarial "
                "loss is the main head's alone; the second head trains on clean embeddings only."})

    @property
    def enabled(self) -> bool:
        return bool(self.adversarial_weight or self.virtual_adversarial_weight or self.entropy_weight)


def real_positions(inputs: dict, like: torch.Tensor) -> torch.Tensor:
    """[B, T, 1] mask of real tokens (1) and padding (0), in the dtype of `like`."""
    mask = inputs.get("attention_mask")
    if mask is None:
        return torch.ones(like.shape[:2] + (1,), dtype=like.dtype, device=like.device)
    return mask[:, :, None].to(like.dtype)


def normalise_per_row(direction: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero at padding, unit L2 norm over each row's real positions: [B, T, E]."""
    direction = direction * mask
    norm = direction.flatten(1).norm(dim=1).clamp(min=1e-12)  # [B]
    return direction / norm[:, None, None]


def row_norm(embedded: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B, 1, 1] L2 norm of each row's real embeddings: the scale perturbations are measured in."""
    return (embedded * mask).flatten(1).norm(dim=1)[:, None, None].detach()


@contextmanager
def embeddings_hook(model, perturbation=None):
    """Within the block, the input embedding module's output is recorded (`record["embedded"]`) and, if
    `perturbation` is given (a tensor, or a function of the clean output), moved by it."""
    record = {}

    def hook(module, args, output):
        if perturbation is None and torch.is_grad_enabled() and not output.requires_grad:
            output = output.requires_grad_()  # frozen embedding (gradual unfreezing): the gradient at its output
        record["embedded"] = output
        if perturbation is None:
            return output
        return output + (perturbation(output) if callable(perturbation) else perturbation)

    handle = model.get_input_embeddings().register_forward_hook(hook)
    try:
        yield record
    finally:
        handle.remove()


def model_inputs(inputs: dict) -> dict:
    return {k: v for k, v in inputs.items() if k != "labels"}


def adversarial_loss(model, inputs: dict, clean_loss, embedded, epsilon: float):
    """The labelled batch's loss with its embeddings moved by `epsilon * |e| * g / |g|`, g = d clean_loss / d e.

    `embedded` is the clean forward's embedding output (still in the graph of `clean_loss`)."""
    (gradient,) = torch.autograd.grad(clean_loss, embedded, retain_graph=True)
    return loss_along_gradient(model, inputs, embedded, gradient, epsilon)


def loss_along_gradient(model, inputs: dict, embedded, gradient, epsilon: float):
    """The labelled batch's loss with its embeddings moved by `epsilon * |e| * g / |g|`, for a given `gradient` g
    of the clean loss at the embeddings (any positive multiple of it: only its direction counts)."""
    mask = real_positions(inputs, embedded)
    step = (epsilon * row_norm(embedded, mask) * normalise_per_row(gradient, mask)).detach()
    with embeddings_hook(model, step):
        return model(**inputs).loss


def kl_to_clean(clean_logits, logits):
    """KL(p_clean || p) averaged over rows; the clean distribution is a constant."""
    clean = F.log_softmax(clean_logits.detach().float(), dim=-1)
    return F.kl_div(F.log_softmax(logits.float(), dim=-1), clean, log_target=True, reduction="batchmean")


def virtual_adversarial_loss(model, inputs: dict, clean_logits, epsilon: float, xi: float):
    """KL between clean predictions and predictions at the most sensitive direction found by one power iteration
    from a random start (Miyato et al.): no labels needed."""
    inputs = model_inputs(inputs)
    noise = {}

    def random_step(embedded):  # created inside the hook: it needs the clean embeddings' shape and scale
        mask = real_positions(inputs, embedded)
        noise["d"] = normalise_per_row(torch.randn_like(embedded), mask).requires_grad_()
        noise["scale"], noise["mask"] = row_norm(embedded, mask), mask
        return xi * noise["scale"] * noise["d"]

    with embeddings_hook(model, random_step):
        probe = kl_to_clean(clean_logits, model(**inputs).logits)
    (gradient,) = torch.autograd.grad(probe, noise["d"])
    step = (epsilon * noise["scale"] * normalise_per_row(gradient, noise["mask"])).detach()
    with embeddings_hook(model, step):
        return kl_to_clean(clean_logits, model(**inputs).logits)


def entropy(logits):
    """Mean entropy of the predicted distributions."""
    log_p = F.log_softmax(logits.float(), dim=-1)
    return -(log_p.exp() * log_p).sum(-1).mean()


def _forever(loader):
    """Batches of `loader`, pass after pass (itertools.cycle would keep every batch of the first pass in memory)."""
    while True:
        yield from loader


class AdversarialTrainerMixin:
    """Adds the losses of `AdversarialArguments` to a Trainer's `compute_loss` (training steps only).

    Put it before the Trainer class: `class T(AdversarialTrainerMixin, LengthGroupedTrainer)`. With
    `unlabeled_dataset` (features without labels, same collator), one unlabeled batch per step feeds the virtual
    adversarial and entropy terms too. The losses are logged as `adv_loss`, `vat_loss`, `entropy`.
    """

    def __init__(self, *args, adversarial: AdversarialArguments | None = None, unlabeled_dataset=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.adversarial = adversarial or AdversarialArguments()
        self.unlabeled_dataset = unlabeled_dataset
        self._unlabeled_batches = None
        self._adversarial_logged = {}  # term name -> values since the last log

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not (model.training and self.adversarial.enabled):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        settings = self.adversarial
        with embeddings_hook(model) as record:
            loss, outputs = super().compute_loss(model, inputs, True, num_items_in_batch)
        extra = {}
        if settings.adversarial_weight:
            gradient, loss = self._embeddings_gradient(loss, record["embedded"], num_items_in_batch)
            extra["adv_loss"] = settings.adversarial_weight * loss_along_gradient(
                model, self._adversarial_inputs(inputs), record["embedded"].detach(), gradient,
                settings.adversarial_epsilon)
        if settings.virtual_adversarial_weight:
            extra["vat_loss"] = settings.virtual_adversarial_weight * virtual_adversarial_loss(
                model, inputs, outputs.logits, settings.adversarial_epsilon, settings.vat_xi)
        unlabeled = self._next_unlabeled_batch(model) if (settings.virtual_adversarial_weight or
                                                          settings.entropy_weight) else None
        if unlabeled is not None:
            extra.update(self._unlabeled_terms(model, unlabeled))
        self._remember_for_logging(extra)
        total = loss + sum(extra.values())
        return (total, outputs) if return_outputs else total

    def _embeddings_gradient(self, loss, embedded, num_items_in_batch):
        """The clean loss's gradient at the embeddings, and the loss for the Trainer to back-propagate.

        On one device without DeepSpeed, one backward of the clean loss (scaled as `training_step` would scale it)
        gives both its parameter gradients and the embeddings' gradient, and the loss comes back detached: the
        Trainer's own backward then runs through the adversarial terms only. Same gradients as asking autograd for
        the embeddings' gradient first, without that extra pass through the LSTM (a quarter of an adversarial step
        on CPU: docs/results.md, "Adversarial training")."""
        if not self._can_backward_clean_loss_now():
            (gradient,) = torch.autograd.grad(loss, embedded, retain_graph=True)
            return gradient, loss
        embedded.retain_grad()
        self.accelerator.backward(self._scaled_as_training_step_does(loss, num_items_in_batch))
        return embedded.grad, loss.detach()

    def _adversarial_inputs(self, inputs: dict) -> dict:
        """The batch the adversarial loss is taken on: with `adversarial_main_head_only` and (main, second head)
        labels, the main labels alone, which the model scores with its main head only."""
        labels = inputs.get("labels")
        if self.adversarial.adversarial_main_head_only and labels is not None and labels.dim() == 2:
            return {**inputs, "labels": labels[:, 0]}
        return inputs

    def _can_backward_clean_loss_now(self) -> bool:
        """The clean loss may be back-propagated inside `compute_loss` (scaled as `training_step` would scale it)
        on one device without DeepSpeed, whose engine owns the backward; elsewhere the embeddings' gradient comes
        from a separate autograd pass."""
        return self.args.n_gpu <= 1 and self.accelerator.distributed_type != DistributedType.DEEPSPEED

    def _scaled_as_training_step_does(self, loss, num_items_in_batch):
        """`loss` divided for gradient accumulation by Trainer.training_step's documented rule
        (`loss_is_scaled_for_ga`), so the clean loss's gradients equal those of the usual single backward."""
        already_scaled = self.loss_is_scaled_for_ga
        if already_scaled is None:
            already_scaled = ((self.model_accepts_loss_kwargs and num_items_in_batch is not None)
                              or self.compute_loss_func is not None)
        return loss if already_scaled else loss / self.current_gradient_accumulation_steps

    def _unlabeled_terms(self, model, batch) -> dict:
        settings, terms = self.adversarial, {}
        logits = model(**batch).logits
        if settings.entropy_weight:
            terms["entropy"] = settings.entropy_weight * entropy(logits)
        if settings.virtual_adversarial_weight:
            terms["vat_unlabeled_loss"] = settings.virtual_adversarial_weight * virtual_adversarial_loss(
                model, batch, logits, settings.adversarial_epsilon, settings.vat_xi)
        return terms

    def _next_unlabeled_batch(self, model):
        if self.unlabeled_dataset is None:
            return None
        if self._unlabeled_batches is None:  # Trainer's own loader: same collator, batch size and workers
            self._unlabeled_batches = _forever(self.get_eval_dataloader(self.unlabeled_dataset))
        batch = next(self._unlabeled_batches)
        return {k: v.to(model.device) for k, v in model_inputs(batch).items()}

    def _remember_for_logging(self, terms: dict):
        for name, value in terms.items():
            self._adversarial_logged.setdefault(name, []).append(float(value.detach()))

    def log(self, logs: dict, *args, **kwargs):
        if "loss" in logs and self._adversarial_logged:
            logs.update({name: sum(values) / len(values) for name, values in self._adversarial_logged.items()})
            self._adversarial_logged = {}
        super().log(logs, *args, **kwargs)


class AdversarialLengthGroupedTrainer(AdversarialTrainerMixin, LengthGroupedTrainer):
    """hf_rnn's classifier Trainer (length-grouped batches) with the adversarial terms."""
