"""Inference on saved classifiers through transformers' pipeline(): labels for sentiment, stars for ratings."""

from transformers import pipeline

from .data.classification import id2label
from .ratings import posterior_median_stars


def load_classifier(model_dir: str, device=None):
    """A text-classification pipeline for an hf_rnn classifier folder (sentiment or rating)."""
    import hf_rnn  # noqa: F401  (registers the Auto classes, so no remote code is needed)

    return pipeline("text-classification", model=model_dir, device=device)


def predict_reviews(classifier, texts: list[str], batch_size: int = 32) -> list[dict]:
    """Classify texts in batches. Sentiment: label and score. Ratings: a star rating on the 1-10 scale, from a
    regression model's output or, for a 10-class rating model, the median of its predicted distribution (the
    prediction with the least expected absolute error, as in the rating metrics) beside its most likely label."""
    config = classifier.model.config
    if config.problem_type == "regression":
        outputs = classifier(texts, batch_size=batch_size, truncation=False, function_to_apply="none")
        return [{"rating": min(10.0, max(1.0, o["score"]))} for o in outputs]
    if config.id2label != id2label("rating10"):
        outputs = classifier(texts, batch_size=batch_size, truncation=False)
        return [{"label": o["label"], "score": o["score"]} for o in outputs]
    outputs = classifier(texts, batch_size=batch_size, truncation=False, top_k=None)
    return [star_rating_from_scores(scores, config.label2id) for scores in outputs]


def star_rating_from_scores(scores: list[dict], label2id: dict) -> dict:
    """Every class's probability (pipeline top_k=None) -> posterior median in stars, and the most likely label."""
    probs = [entry["score"] for entry in sorted(scores, key=lambda entry: label2id[entry["label"]])]
    best = max(scores, key=lambda entry: entry["score"])
    return {"rating": float(posterior_median_stars(probs)), "label": best["label"], "score": best["score"]}
