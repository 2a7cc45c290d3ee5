"""The decision threshold of a multi-label classifier, chosen on validation.

A label is predicted when its probability reaches the threshold. 0.5 suits labels as frequent as not; rare labels
(most of a multi-label set's) want a lower one. One threshold for every label is chosen, maximising micro F1 on the
validation outputs the classifiers saved: per-label thresholds would be fitted on a handful of positives each.
"""

import numpy as np
import torch

from ..models.rnn.modeling_rnn_ensemble import average_probabilities
from .metrics import multi_label_figures
from .evaluation import predictions_path

CANDIDATES = np.round(np.arange(0.05, 0.951, 0.05), 2)
CONFIG_FIELD = "multi_label_threshold"


def best_threshold(probabilities: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The candidate threshold with the highest micro F1 (ties: the one nearest 0.5) and that F1."""
    actual = labels > 0.5
    scores = [(multi_label_figures(probabilities >= t, actual)["f1_micro"], -abs(t - 0.5), t) for t in CANDIDATES]
    f1, _, threshold = max(scores)
    return float(threshold), float(f1)


def saved_probabilities(member_dirs: list, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The members' saved outputs on `split` as the ensemble averages them (sigmoid probabilities) and the labels;
    None when a member kept none."""
    from safetensors.torch import load_file

    paths = [predictions_path(folder, split) for folder in member_dirs]
    if not all(path.is_file() for path in paths):
        return None
    saved = [load_file(path) for path in paths]
    logits = average_probabilities([member["logits"] for member in saved], multi_label=True)
    return torch.sigmoid(logits.float()).numpy(), saved[0]["labels"].numpy()


def choose_threshold(member_dirs: list) -> dict:
    """The threshold chosen on validation and the figures it gives on validation and, where saved, test; 0.5 when
    there are no validation outputs (a final fit)."""
    validation = saved_probabilities(member_dirs, "validation")
    if validation is None:
        return {CONFIG_FIELD: 0.5, "chosen_on": None}
    threshold, _ = best_threshold(*validation)
    figures = {CONFIG_FIELD: threshold, "chosen_on": "validation"}
    for split in ("validation", "test"):
        outputs = validation if split == "validation" else saved_probabilities(member_dirs, split)
        if outputs is not None:
            tuned = multi_label_figures(outputs[0] >= threshold, outputs[1] > 0.5)
            figures.update({f"{split}_{name}": value for name, value in tuned.items()})
    return figures
