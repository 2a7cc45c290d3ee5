"""Training stages (`stages`), their resume bookkeeping (`resume`), evaluation and ensemble, and ULMFiT's pieces:
optimizers, schedules, callbacks, metrics."""

from .args import (CorpusArguments, DataArguments, LMFineTuningArguments, ModelArguments, TokenizerArguments,
                   ULMFiTArguments)
from .callbacks import GradualUnfreezingCallback, WeightAveragingCallback
from .ngram_logistic import NgramLogisticArguments, fit_ngram_logistic, ngram_logistic_outputs
from .metrics import (compute_metrics_for, perplexity, rating_compute_metrics, ratings_from_outputs,
                      sentiment_compute_metrics)
from .optim import build_optimizer, discriminative_param_groups, layer_groups, slanted_triangular_schedule
from .pretraining import corpus_lm_blocks, fine_tune_pretrained_lm, load_corpus, pretrain_on_corpus
from .resume import finished_stage, mark_stage_done
from .stage_data import load_imdb
from .stages import prepare_tokenizer, pretrain_language_model, train_classifier, train_language_model
