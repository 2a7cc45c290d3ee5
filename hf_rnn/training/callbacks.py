"""TrainerCallbacks for fine-tuning: ULMFiT's gradual unfreezing, weight averaging over the end of training, and a
stage's time limit."""

import logging
import time
from pathlib import Path

import torch
from safetensors.torch import load_model, save_model
from torch.optim.swa_utils import AveragedModel
from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from .optim import layer_groups

logger = logging.getLogger(__name__)


class TimeLimitCallback(TrainerCallback):
    """Stop training once `seconds` have passed since it began (in this process), saving as at the end.

    The safety net of a time-budgeted job (`--time_budget`): its plan sizes each stage from measured speed, and a
    machine that slows down mid-run (another process on the cores) must not overrun the budget. Stopping early leaves
    the schedule unfinished, so the log says at which step it stopped.
    """

    def __init__(self, seconds: float):
        if seconds <= 0:
            raise ValueError(f"A time limit must be positive seconds (got {seconds}).")
        self.seconds, self.started = seconds, None

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        if self.started is not None and time.monotonic() - self.started > self.seconds:
            logger.warning("Time limit of %.0f s reached at step %d of %d: training stops here.", self.seconds,
                           state.global_step, state.max_steps)
            control.should_training_stop = True
        return control


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


class WeightAveragingCallback(TrainerCallback):
    """Stochastic weight averaging (Izmailov et al. 2018) over the end of training: from `start_fraction` of the steps
    on, the weights after every step join a running mean (torch's `AveragedModel`), which replaces the trained
    weights when training ends, so the saved model is the average.

    The last checkpoint keeps the weights as trained (it is written before training ends) and, beside them, the
    average so far (`weight_average.safetensors`), so a resumed run averages on from where it stopped.

    Args:
        start_fraction: where in training (0-1 of the steps) the average starts; 0.5 averages the second half.
    """

    FILE = "weight_average.safetensors"

    def __init__(self, start_fraction: float):
        if not 0.0 <= start_fraction < 1.0:
            raise ValueError(f"start_fraction must be in [0, 1) (got {start_fraction}): the share of training "
                             "before the weights start being averaged.")
        self.start_fraction = start_fraction
        self.average = None

    def first_averaged_step(self, state) -> int:
        return int(state.max_steps * self.start_fraction) + 1

    def saved_average(self, args, state) -> Path:
        """Where the checkpoint of the current step keeps the mean (the Trainer's checkpoint folder naming)."""
        return Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}" / self.FILE

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.average = AveragedModel(model, use_buffers=False)
        saved = self.saved_average(args, state)
        if state.global_step and saved.is_file():  # resumed: the mean so far, as the checkpoint saved it
            load_model(self.average, saved)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step >= self.first_averaged_step(state):
            self.average.update_parameters(model)

    def on_save(self, args, state, control, **kwargs):
        if args.should_save:  # the process that writes the checkpoint
            save_model(self.average, str(self.saved_average(args, state)))

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if not int(self.average.n_averaged):
            return  # no step reached the averaged part of training (e.g. a run stopped early): nothing to use
        with torch.no_grad():
            for trained, averaged in zip(model.parameters(), self.average.module.parameters()):
                trained.copy_(averaged)
