"""Presets of the general job: IMDB's model and training sizes, without IMDB's data sizes.

A preset is a starting point for any labelled text; `--time_budget` resizes the LM steps and classifier epochs to
this machine's measured speed instead.
"""

from ..imdb.presets import PRESETS as IMDB_PRESETS

# IMDB's presets cut its splits to fixed row counts; a user's data is used whole (override with --max_train_samples).
IMDB_ONLY_DATA = ("max_train_samples", "max_eval_samples", "max_test_samples")


def without_imdb_sizes(preset: dict) -> dict:
    """A preset without IMDB's row counts, and without the bag's share of a star-rating head (a task with a second
    head sets it: --ngram_logistic_rating_weight)."""
    data = {k: v for k, v in preset.get("data", {}).items() if k not in IMDB_ONLY_DATA}
    bag = {k: v for k, v in preset.get("ngram_logistic", {}).items() if k != "ngram_logistic_rating_weight"}
    return {**preset, "data": data, "ngram_logistic": bag}


PRESETS = {name: without_imdb_sizes(preset) for name, preset in IMDB_PRESETS.items()}
