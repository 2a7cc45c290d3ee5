"""Star ratings from a 10-class rating model, shared by the rating metrics (training) and prediction (inference),
so that inference needs no part of the training stack."""

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
