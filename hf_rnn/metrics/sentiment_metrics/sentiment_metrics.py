"""Accuracy and F1 for class predictions, as an `evaluate` module that loads from a local path."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = "Accuracy, macro F1 and (for two classes) F1 of the positive class."
_KWARGS = """
Args:
    predictions (`list[int]`): predicted class ids.
    references (`list[int]`): true class ids.
Returns:
    accuracy, f1_macro and, for binary labels, f1 (positive class 1).
"""


class SentimentMetrics(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references):
        pred, ref = np.asarray(predictions), np.asarray(references)
        classes = np.union1d(pred, ref)
        f1s = [_f1(pred == c, ref == c) for c in classes]
        result = {"accuracy": float((pred == ref).mean()), "f1_macro": float(np.mean(f1s))}
        if set(classes.tolist()) <= {0, 1}:
            result["f1"] = _f1(pred == 1, ref == 1)
        return result


def _f1(predicted, actual):
    true_pos = float((predicted & actual).sum())
    denominator = float(predicted.sum() + actual.sum())
    return 2 * true_pos / denominator if denominator else 0.0
