"""Inference on saved classifiers through transformers' pipeline(): labels for sentiment, stars for ratings."""

from transformers import pipeline


def load_classifier(model_dir: str, device=None):
    """A text-classification pipeline for an hf_rnn classifier folder (sentiment or rating)."""
    import hf_rnn  # noqa: F401  (registers the Auto classes, so no remote code is needed)

    return pipeline("text-classification", model=model_dir, device=device)


def predict_reviews(classifier, texts: list[str], batch_size: int = 32) -> list[dict]:
    """Classify texts in batches; a regression model's score becomes a star rating on the 1-10 scale."""
    is_rating = classifier.model.config.problem_type == "regression"
    kwargs = {"function_to_apply": "none"} if is_rating else {}
    outputs = classifier(texts, batch_size=batch_size, truncation=False, **kwargs)
    if not is_rating:
        return [{"label": o["label"], "score": o["score"]} for o in outputs]
    return [{"rating": min(10.0, max(1.0, o["score"]))} for o in outputs]
