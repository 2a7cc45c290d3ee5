"""ULMFiT's optimisation pieces on top of torch: layer groups, discriminative learning rates, slanted triangles."""

import math

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR


def layer_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """Parameters of an hf_rnn model in ULMFiT's layer groups, bottom to top.

    Groups: the input (embedding or input projection), each recurrent layer, then everything else (the head).
    Tied parameters appear once, in the lowest group that holds them.
    """
    backbone = model.model if hasattr(model, "model") else model
    inputs = [m for m in (getattr(backbone, "embeddings", None), getattr(backbone, "input_projection", None)) if m]
    candidates = [[p for m in inputs for p in m.parameters()]]
    candidates += [list(layer.parameters()) for layer in backbone.layers]
    candidates.append(list(model.parameters()))  # the rest: whatever the groups above did not take
    seen, groups = set(), []
    for params in candidates:
        fresh = [p for p in params if id(p) not in seen]
        seen.update(id(p) for p in fresh)
        groups.append(fresh)
    return [g for g in groups if g]


def discriminative_param_groups(model: nn.Module, lr: float, decay: float = 2.6, weight_decay: float = 0.0):
    """Optimizer parameter groups whose learning rate falls by `decay` per group going down (ULMFiT: 2.6).

    The top group (the head) gets `lr`; `decay=1` gives every group the same rate.
    """
    groups = layer_groups(model)
    top = len(groups) - 1
    return [{"params": params, "lr": lr / decay ** (top - i), "weight_decay": weight_decay}
            for i, params in enumerate(groups)]


def slanted_triangular_schedule(optimizer, num_training_steps: int, cut_frac: float = 0.1, ratio: float = 32):
    """Howard & Ruder's slanted triangular learning rate: a short linear rise to each group's peak during the
    first `cut_frac` of training, then a long linear decay to peak / `ratio`."""
    cut = max(1, math.floor(num_training_steps * cut_frac))

    def multiplier(step: int) -> float:
        p = step / cut if step < cut else 1 - (step - cut) / max(1, cut * (1 / cut_frac - 1))
        return (1 + max(p, 0.0) * (ratio - 1)) / ratio

    return LambdaLR(optimizer, multiplier)


def build_optimizer(model, lr, num_training_steps, discriminative_decay=2.6, slanted_triangular=True,
                    weight_decay=0.01, betas=(0.7, 0.99)):
    """AdamW with (optionally) discriminative rates and a slanted triangular schedule, or a linear decay.

    Returns the `(optimizer, scheduler)` pair that `Trainer(optimizers=...)` takes.
    """
    groups = discriminative_param_groups(model, lr, discriminative_decay or 1.0, weight_decay)
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=betas)
    if slanted_triangular:
        return optimizer, slanted_triangular_schedule(optimizer, num_training_steps)
    linear = lambda step: max(0.0, 1 - step / max(1, num_training_steps))
    return optimizer, LambdaLR(optimizer, linear)
