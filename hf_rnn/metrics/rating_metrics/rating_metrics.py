"""Errors of star-rating predictions (IMDB's 1-10 scale), as an `evaluate` module loadable from a local path."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = "MAE and RMSE of predicted ratings, exact and within-one accuracy of the rounded prediction."
_KWARGS = """
Args:
    predictions (`list[float]`): predicted ratings (real-valued from a regressor, or class-derived).
    references (`list[float]`): true ratings.
    min_rating / max_rating (`int`, defaults 1 / 10): predictions are clipped to this range first.
Returns:
    mae, rmse, exact (rounded prediction equals the rating), within_one (off by at most one star).
"""


class RatingMetrics(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("float32"),
                                        "references": datasets.Value("float32")}),
        )

    def _compute(self, predictions, references, min_rating=1, max_rating=10):
        pred = np.clip(np.asarray(predictions, dtype=np.float64), min_rating, max_rating)
        ref = np.asarray(references, dtype=np.float64)
        error = np.abs(pred - ref)
        rounded = np.abs(np.rint(pred) - ref)
        return {
            "mae": float(error.mean()),
            "rmse": float(np.sqrt((error**2).mean())),
            "exact": float((rounded == 0).mean()),
            "within_one": float((rounded <= 1).mean()),
        }
