"""The general job: ULMFiT for any labelled text (`hf-rnn train`); IMDB's job (`hf-rnn imdb`) is one use of its
stages."""

from .job import TextDataArguments, main, run_text_classification
from .presets import PRESETS

__all__ = ["PRESETS", "TextDataArguments", "main", "run_text_classification"]
