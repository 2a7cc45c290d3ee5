"""`compute_metrics` functions for Trainer, built on hf_rnn's offline evaluate modules."""

import math

import numpy as np

from ..metrics import load_metric
from ..ratings import posterior_median_stars


def sentiment_compute_metrics():
    """Accuracy and F1 from class logits."""
    metric = load_metric("sentiment_metrics")

    def compute(eval_pred):
        logits, labels = eval_pred
        return metric.compute(predictions=np.argmax(logits, axis=-1), references=labels)

    return compute


def rating_compute_metrics(target: str):
    """MAE, RMSE, exact and within-one accuracy of star ratings, plus the sentiment accuracy they imply; for 10
    classes also `exact_most_likely`, the exact hits of the most likely rating (the other figures use the median).

    Args:
        target: `"regression"` (one real output: the rating) or `"rating10"` (ten classes: rating - 1).
    """
    rating = load_metric("rating_metrics")
    sentiment = load_metric("sentiment_metrics")

    def compute(eval_pred):
        logits, labels = eval_pred
        predicted, actual = ratings_from_outputs(logits, labels, target)
        result = rating.compute(predictions=predicted, references=actual)
        # IMDB's sentiment labels: rating >= 7 positive, <= 4 negative; the midpoint splits predictions.
        polarity = sentiment.compute(predictions=(predicted > 5.5).astype(int), references=(actual > 5.5).astype(int))
        result["sentiment_accuracy"] = polarity["accuracy"]
        if target == "rating10":  # the median minimises absolute error; exact hits are maximised by the mode
            most_likely = np.asarray(logits).argmax(axis=-1) + 1.0
            result["exact_most_likely"] = rating.compute(predictions=most_likely, references=actual)["exact"]
        return result

    return compute


def ratings_from_outputs(logits, labels, target: str):
    """Model outputs and labels -> predicted and true ratings on the 1-10 scale."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    if target == "regression":
        return logits.reshape(-1), labels.reshape(-1)
    return posterior_median_stars(_softmax(logits)), labels + 1.0


def _softmax(logits):
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def perplexity(eval_loss: float) -> float:
    """Perplexity from a mean token cross-entropy in nats (inf on overflow rather than an error)."""
    try:
        return math.exp(eval_loss)
    except OverflowError:
        return float("inf")


def two_head_compute_metrics():
    """Sentiment metrics from the first head and `rating_`-prefixed rating metrics from the second (`labels` are
    (sentiment, rating - 1) pairs, outputs are (logits, auxiliary_logits))."""
    sentiment, rating = sentiment_compute_metrics(), rating_compute_metrics("rating10")

    def compute(eval_pred):
        (logits, auxiliary_logits), labels = eval_pred.predictions[:2], np.asarray(eval_pred.label_ids)
        result = sentiment((logits, labels[:, 0]))
        result.update({f"rating_{k}": v for k, v in rating((auxiliary_logits, labels[:, 1])).items()})
        return result

    return compute


def multi_label_compute_metrics(threshold: float | np.ndarray = 0.5):
    """Multi-label figures at a probability threshold (one, or one per label): micro and macro F1 over the labels,
    and `subset_accuracy`, the share of texts whose every label is right."""

    def compute(eval_pred):
        logits, labels = eval_pred
        return multi_label_figures(_sigmoid(np.asarray(logits)) >= threshold, np.asarray(labels) > 0.5)

    return compute


def multi_label_figures(predicted: np.ndarray, actual: np.ndarray) -> dict:
    """F1 (micro: every decision pooled; macro: the mean of each label's) and subset accuracy of boolean matrices."""
    hits = (predicted & actual).sum(0)
    guessed, real = predicted.sum(0), actual.sum(0)
    f1 = lambda tp, p, r: float(2 * tp / (p + r)) if p + r else 1.0
    return {"f1_micro": f1(hits.sum(), guessed.sum(), real.sum()),
            "f1_macro": float(np.mean([f1(*counts) for counts in zip(hits, guessed, real)])),
            "subset_accuracy": float((predicted == actual).all(1).mean())}


def regression_compute_metrics():
    """Mean absolute and root mean squared error of a one-output regression."""

    def compute(eval_pred):
        predictions, labels = (np.asarray(a, dtype=np.float64).reshape(-1) for a in eval_pred)
        error = predictions - labels
        return {"mae": float(np.abs(error).mean()), "rmse": float(np.sqrt((error ** 2).mean()))}

    return compute


def _sigmoid(logits):
    return 1.0 / (1.0 + np.exp(-logits))


def compute_metrics_for(target: str, label_feature=None):
    """The compute_metrics function that suits a classification target (binary, rating10, regression,
    binary+rating10; `label`: the task of the typed `label_feature`)."""
    if target == "label":
        from ..data import problem_type_of

        problem = problem_type_of(label_feature)
        if problem == "multi_label_classification":
            return multi_label_compute_metrics()
        return regression_compute_metrics() if problem == "regression" else sentiment_compute_metrics()
    if target == "binary+rating10":
        return two_head_compute_metrics()
    return sentiment_compute_metrics() if target == "binary" else rating_compute_metrics(target)
