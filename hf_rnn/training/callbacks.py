"""TrainerCallbacks for ULMFiT's fine-tuning: gradual unfreezing."""

from transformers import TrainerCallback

from .optim import layer_groups


class GradualUnfreezingCallback(TrainerCallback):
    """Train the top layer group first, then unfreeze one more group every `steps_per_stage` steps.

    ULMFiT unfreezes one group per epoch; counting steps lets short CPU runs use the same idea. The stage is
    computed from `state.global_step`, so a run resumed from a checkpoint continues at the right depth.

    Args:
        model: the hf_rnn model the Trainer trains.
        steps_per_stage: optimizer steps before the next lower group is unfrozen.
    """

    def __init__(self, model, steps_per_stage: int):
        if steps_per_stage < 1:
            raise ValueError(f"steps_per_stage must be >= 1 (got {steps_per_stage}).")
        self.groups = layer_groups(model)
        self.steps_per_stage = steps_per_stage
        self.trainable_groups = None

    def on_train_begin(self, args, state, control, **kwargs):
        self._apply(state.global_step)

    def on_step_begin(self, args, state, control, **kwargs):
        self._apply(state.global_step)

    def _apply(self, step: int):
        count = min(len(self.groups), 1 + step // self.steps_per_stage)
        if count == self.trainable_groups:
            return
        for depth, params in enumerate(reversed(self.groups)):
            for p in params:
                p.requires_grad_(depth < count)
        self.trainable_groups = count
