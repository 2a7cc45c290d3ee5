"""The IMDB main job: tokenizer -> language model -> sentiment classifier and 1-10 rating model (`hf-rnn imdb`).

The job and its stages (`job`), the presets sized for a 2-core CPU (`presets`) and the model card rendered from a
run's metrics (`model_card`).
"""

from .job import (RATING_STARTS, RATING_TARGETS, STAGES, JobArguments, main, run_imdb, with_config_preset,
                  with_preset)
from .presets import COMMON, PRESETS, preset_for

__all__ = ["COMMON", "PRESETS", "RATING_STARTS", "RATING_TARGETS", "STAGES", "JobArguments", "main", "preset_for",
           "run_imdb", "with_config_preset", "with_preset"]
