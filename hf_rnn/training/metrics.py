"""`compute_metrics` functions for Trainer, built on hf_rnn's offline evaluate modules."""

import math

import numpy as np

from ..metrics import load_metric
from ..ratings import served_stars


def sentiment_compute_metrics():
    """Accuracy and F1 from class logits."""
    metric = load_metric("sentiment_metrics")

    def compute(eval_pred):
        logits, labels = eval_pred
        return metric.compute(predictions=np.argmax(logits, axis=-1), references=labels)

    return compute


def rating_compute_metrics(target: str):
    """MAE, RMSE, exact and within-one accuracy of star ratings, plus the sentiment accuracy they imply; for 10
    classes the ratings are the stars `predict_reviews` serves (`hf_rnn.ratings.served_stars`: the posterior median),
    and `exact_most_likely` adds the exact hits of the distribution's most likely rating.

    Args:
        target: `"regression"` (one real output: the rating) or `"rating10"` (ten classes: rating - 1).
    """
    figures = rating_figures()

    def compute(eval_pred):
        logits, labels = eval_pred
        if target == "regression":
            return figures(*ratings_from_outputs(logits, labels, target))
        predicted, distribution = served_stars(_softmax(np.asarray(logits)))
        return figures(predicted, np.asarray(labels) + 1.0, distribution)

    return compute


def rating_figures():
    """`figures(predicted, actual, distribution=None)`: the rating metrics of the predicted ratings, and
    `exact_most_likely` when the star distribution they are the medians of is given."""
    rating = load_metric("rating_metrics")
    sentiment = load_metric("sentiment_metrics")

    def figures(predicted, actual, distribution=None):
        result = rating.compute(predictions=predicted, references=actual)
        # IMDB's sentiment labels: rating >= 7 positive, <= 4 negative; the midpoint splits predictions.
        polarity = sentiment.compute(predictions=(predicted > 5.5).astype(int), references=(actual > 5.5).astype(int))
        result["sentiment_accuracy"] = polarity["accuracy"]
        if distribution is not None:  # the median minimises absolute error; exact hits are maximised by the mode
            most_likely = distribution.argmax(axis=-1) + 1.0
            result["exact_most_likely"] = rating.compute(predictions=most_likely, references=actual)["exact"]
        return result

    return figures


def ratings_from_outputs(logits, labels, target: str, sentiment_logits=None):
    """Model outputs and labels -> predicted and true ratings on the 1-10 scale (for ten classes the stars
    `predict_reviews` serves: `served_stars`, with the sentiment head's polarity where its logits are given)."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    if target == "regression":
        return logits.reshape(-1), labels.reshape(-1)
    sentiment = None if sentiment_logits is None else _softmax(np.asarray(sentiment_logits))
    return served_stars(_softmax(logits), sentiment)[0], labels + 1.0


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
    """Sentiment metrics from the first head and `rating_`-prefixed rating metrics of the stars `predict_reviews`
    serves: the second head's, with the first head's polarity (`served_stars`). `labels` are (sentiment, rating - 1)
    pairs, outputs are (logits, auxiliary_logits)."""
    sentiment, rating = sentiment_compute_metrics(), rating_figures()

    def compute(eval_pred):
        (logits, auxiliary_logits), labels = eval_pred.predictions[:2], np.asarray(eval_pred.label_ids)
        result = sentiment((logits, labels[:, 0]))
        predicted, distribution = served_stars(_softmax(np.asarray(auxiliary_logits)), _softmax(np.asarray(logits)))
        stars = rating(predicted, labels[:, 1] + 1.0, distribution)
        result.update({f"rating_{k}": v for k, v in stars.items()})
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
