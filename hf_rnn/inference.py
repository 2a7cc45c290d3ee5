"""Inference on saved classifiers through transformers' pipeline(): labels for sentiment, stars for ratings."""

from transformers import pipeline

from .data.classification import id2label
from .locations import model_config_dict
from .ratings import served_stars

EXAMPLE_FOLDER = "runs/imdb-quick/model"


def load_classifier(model_dir: str, device=None):
    """A text-classification pipeline for an hf_rnn classifier folder (sentiment or rating).

    Raises:
        FileNotFoundError: `model_dir` is no folder (nor a Hub id), or holds no config.json.
        ValueError: it holds another kind of model (a language model, a time-series model), for which the
            pipeline would attach an untrained classifier head and return a different score on every run.
    """
    import hf_rnn  # noqa: F401  (registers the Auto classes, so no remote code is needed)

    check_text_classifier(model_dir)
    return pipeline("text-classification", model=model_dir, device=device)


def check_text_classifier(model_dir: str) -> None:
    """Raise a one-line error unless `model_dir` holds a trained text classifier (see `load_classifier`)."""
    config = model_config_dict(model_dir, EXAMPLE_FOLDER)
    if config.get("timeseries_task"):
        raise ValueError(f"{model_dir} holds a time-series model ({config['timeseries_task']}); run it with "
                         f"`hf-rnn timeseries {model_dir} SERIES_FILE`.")
    architectures = config.get("architectures") or []
    if not any(name.endswith("ForSequenceClassification") for name in architectures):
        raise ValueError(f"{model_dir} holds {' / '.join(architectures) or 'no named architecture'}, not a text "
                         f"classifier (*ForSequenceClassification), so its classifier head would be untrained. "
                         f"Pass a classifier folder (e.g. {EXAMPLE_FOLDER}); a language model generates text "
                         f"with pipeline('text-generation', model=...).")


def predict_reviews(classifier, texts: list[str], batch_size: int = 32) -> list[dict]:
    """Classify texts in batches. Sentiment: label and score. Ratings: a star rating on the 1-10 scale, from a
    regression model's output or, for a 10-class rating model, the median of its predicted distribution (the
    prediction with the least expected absolute error; `served_stars`, the rule the rating metrics score) with
    that rating's label."""
    config = classifier.model.config
    if getattr(config, "auxiliary_label_names", None):
        return [result for start in range(0, len(texts), batch_size)
                for result in two_head_predictions(classifier, texts[start : start + batch_size])]
    if config.problem_type == "multi_label_classification":
        outputs = classifier(texts, batch_size=batch_size, truncation=False, top_k=None, function_to_apply="sigmoid")
        return [labels_above_threshold(scores, getattr(config, "multi_label_threshold", 0.5)) for scores in outputs]
    if config.problem_type == "regression" and config.id2label.get(0) == "value":  # the general job's regression
        outputs = classifier(texts, batch_size=batch_size, truncation=False, function_to_apply="none")
        return [{"value": o["score"]} for o in outputs]
    if config.problem_type == "regression":
        outputs = classifier(texts, batch_size=batch_size, truncation=False, function_to_apply="none")
        return [{"rating": min(10.0, max(1.0, o["score"]))} for o in outputs]
    if config.id2label != id2label("rating10"):
        outputs = classifier(texts, batch_size=batch_size, truncation=False)
        return [{"label": o["label"], "score": o["score"]} for o in outputs]
    outputs = classifier(texts, batch_size=batch_size, truncation=False, top_k=None)
    return [star_rating_from_scores(scores, config.label2id) for scores in outputs]


def two_head_predictions(classifier, texts: list[str]) -> list[dict]:
    """Sentiment label and score from the first head, and the star rating by `served_stars`, the rule the rating
    metrics score: the posterior median of the second head's distribution with its polarity taken from the first
    head, so that a "pos" review never gets 3 stars; `rating_label` names that rating. The pipeline itself returns
    only the first head's labels."""
    import torch

    model, config = classifier.model, classifier.model.config
    batch = classifier.tokenizer(texts, padding=True, truncation=False, return_tensors="pt").to(model.device)
    with torch.no_grad():
        out = model(**batch)
    sentiment = out.logits.float().softmax(-1).cpu().numpy()  # [B, 2]
    ratings, _ = served_stars(out.auxiliary_logits.float().softmax(-1).cpu().numpy(), sentiment)  # [B]
    results = []
    for row_sentiment, rating in zip(sentiment, ratings):
        best = int(row_sentiment.argmax())
        results.append({"label": config.id2label[best], "score": float(row_sentiment[best]),
                        "rating": float(rating), "rating_label": config.auxiliary_label_names[int(rating) - 1]})
    return results


def star_rating_from_scores(scores: list[dict], label2id: dict) -> dict:
    """Every class's probability (pipeline top_k=None) -> the rating by `served_stars` (the posterior median, as the
    rating metrics score it), its label and that label's probability."""
    ordered = sorted(scores, key=lambda entry: label2id[entry["label"]])
    ratings, _ = served_stars([entry["score"] for entry in ordered])
    served = ordered[int(ratings) - 1]
    return {"rating": float(ratings), "label": served["label"], "score": served["score"]}


def labels_above_threshold(scores: list[dict], threshold: float) -> dict:
    """A multi-label prediction: every label whose probability reaches the threshold chosen on validation, and
    every label's probability."""
    return {"labels": [entry["label"] for entry in scores if entry["score"] >= threshold],
            "scores": {entry["label"]: entry["score"] for entry in scores}, "threshold": threshold}
