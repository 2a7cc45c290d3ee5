"""Star ratings from a 10-class rating model, shared by the rating metrics (training) and prediction (inference),
so that inference needs no part of the training stack. `served_stars` is the one rule both use: the stars the
metrics score are the stars `predict_reviews` serves."""

import numpy as np


def posterior_median_stars(probs):
    """The median star rating of each predicted distribution: the prediction that minimises the expected absolute
    error (the most likely rating maximises exact hits instead).

    Args:
        probs: Class probabilities over 1..10 stars on the last axis (class `i` is `i + 1` stars).

    Returns:
        The median rating(s) as floats, with the leading axes of `probs`.
    """
    return (np.cumsum(np.asarray(probs), axis=-1) >= 0.5).argmax(axis=-1) + 1.0


def stars_agreeing_with_sentiment(star_probs, sentiment_probs, lowest_positive_star: int = 6):
    """A star distribution whose polarity is the sentiment model's: each star's probability within its polarity
    (the rating model's), times the sentiment model's probability of that polarity.

    IMDB's sentiment label is the rating's polarity (<= 4 stars negative, >= 7 positive), and a sentiment model
    predicts it more accurately than a 10-way rating model does, so the rating keeps its shape within each polarity
    and takes the polarity from the sentiment model. The most likely star then never contradicts the sentiment label.

    Args:
        star_probs: probabilities over 1..10 stars on the last axis (class `i` is `i + 1` stars).
        sentiment_probs: probabilities of (negative, positive) on the last axis, the same leading axes.
        lowest_positive_star: the first star counted positive (6: the midpoint 5.5 splits, as in the metrics).

    Returns:
        The combined probabilities, the shape of `star_probs`; each row sums to 1.
    """
    stars, sentiment = np.asarray(star_probs, dtype=np.float64), np.asarray(sentiment_probs, dtype=np.float64)
    if stars.shape[-1] != 10 or sentiment.shape[-1] != 2 or stars.shape[:-1] != sentiment.shape[:-1]:
        raise ValueError(f"Expected star probabilities [..., 10] and sentiment probabilities [..., 2] for the same "
                         f"rows, got {stars.shape} and {sentiment.shape}.")
    positive = np.arange(1, 11) >= lowest_positive_star
    # A polarity with no mass at all (softmax underflow) stays at zero, rather than dividing 0 by 0.
    tiny = np.finfo(np.float64).tiny
    within = np.where(positive, stars / np.maximum(stars[..., positive].sum(-1, keepdims=True), tiny),
                      stars / np.maximum(stars[..., ~positive].sum(-1, keepdims=True), tiny))
    combined = within * np.where(positive, sentiment[..., 1:2], sentiment[..., 0:1])
    return combined / combined.sum(-1, keepdims=True)


def served_stars(star_probs, sentiment_probs=None):
    """The one rule for stars, used by the rating metrics and by `predict_reviews` alike: the star distribution
    (with a sentiment head beside the rating head, `stars_agreeing_with_sentiment`: its polarity is the sentiment
    head's) and its posterior median, the rating.

    Args:
        star_probs: probabilities over 1..10 stars on the last axis (class `i` is `i + 1` stars).
        sentiment_probs: probabilities of (negative, positive) for the same rows, from the same model's sentiment
            head; None for a rating model alone.

    Returns:
        `(ratings, probs)`: the ratings as floats 1.0-10.0 with the leading axes of `star_probs`, and the star
        distribution they are the medians of. The class of a rating is `int(rating) - 1`: name it from there,
        not from the distribution's most likely class, which can differ from its median.
    """
    probs = np.asarray(star_probs, dtype=np.float64)
    if sentiment_probs is not None:
        probs = stars_agreeing_with_sentiment(probs, sentiment_probs)
    return posterior_median_stars(probs), probs
