"""ULMFiT's first stage on any corpus: a language model pretrained on a Hub dataset, text files or reviews, held in
memory or streamed, in one process or several (torchrun, accelerate launch); and its second stage, that LM fine-tuned
on a task's text before a classifier starts from it."""

import dataclasses
import logging
from pathlib import Path

import datasets
from transformers import TrainingArguments

from ..data import check_stream_training_args, lm_blocks, load_text_corpus, materialize, streamed_lm_blocks
from .args import (CorpusArguments, DataArguments, LMFineTuningArguments, ModelArguments, TokenizerArguments,
                   ULMFiTArguments)
from .model_setup import reads_backward
from .resume import finished_stage
from .stage_data import lm_datasets
from .stages import prepare_tokenizer, pretrain_language_model, train_language_model

logger = logging.getLogger(__name__)


def load_corpus(corpus_args: CorpusArguments, data_args: DataArguments, seed: int = 42):
    """The corpus `corpus_args` names (or `data_args.dataset`'s reviews) as `train` / `validation` text."""
    return load_text_corpus(
        dataset_name=corpus_args.dataset_name, dataset_config_name=corpus_args.dataset_config_name,
        train_file=corpus_args.train_file, validation_file=corpus_args.validation_file, reviews=data_args.dataset,
        text_column=corpus_args.text_column, sample_by=corpus_args.sample_by,
        validation_size=data_args.validation_size, streaming=corpus_args.streaming, seed=seed)


def corpus_lm_blocks(tokenizer, corpus, data_args: DataArguments, training_args: TrainingArguments,
                     reverse_text: bool = False):
    """Training blocks (in memory, or a per-process stream) and in-memory held-out blocks of a corpus.

    A stream is always in stream order, with as many streams as the per-device batch size: rows of a batch then
    continue the previous batch's rows whether or not the model carries its state (`lm_streams`). `reverse_text`:
    in-memory training blocks for a backward model, whose streams step back through the text.
    """
    if not isinstance(corpus["train"], datasets.IterableDataset):
        if data_args.lm_streams:
            check_stream_training_args(training_args, data_args.lm_streams)
        return lm_datasets(tokenizer, corpus, data_args, reverse_text=reverse_text)
    streams = data_args.lm_streams or training_args.per_device_train_batch_size
    if streams != training_args.per_device_train_batch_size:
        raise ValueError(f"lm_streams={streams} must equal per_device_train_batch_size="
                         f"{training_args.per_device_train_batch_size}: each batch row is one stream.")
    limit = data_args.max_lm_documents
    train = streamed_lm_blocks(corpus["train"].take(limit) if limit else corpus["train"], tokenizer,
                               data_args.block_size, num_streams=streams, world_size=max(1, training_args.world_size))
    held_out = materialize(corpus["validation"], data_args.max_lm_eval_documents)
    return train, lm_blocks(held_out, tokenizer, block_size=data_args.block_size)


def pretrain_on_corpus(corpus_args: CorpusArguments, data_args: DataArguments, tok_args: TokenizerArguments,
                       model_args: ModelArguments, ulmfit: ULMFiTArguments, training_args: TrainingArguments) -> dict:
    """Train a language model on a corpus and report its perplexity on the held-out text.

    The tokenizer (trained on the training text unless `tok_args.tokenizer_name_or_path` is given) is saved in
    `output_dir/tokenizer` and with the model in `output_dir`. A finished run returns its recorded metrics; a killed
    one resumes from its last checkpoint (a stream is read again up to the step it had reached).

    Returns:
        Training metrics, `eval_loss` and `eval_perplexity` on the held-out blocks, `train_blocks` and `streaming`.
    """
    if (done := finished_stage(training_args.output_dir)) is not None:
        return done
    corpus = load_corpus(corpus_args, data_args, seed=training_args.seed)
    with training_args.main_process_first(desc="tokenizer"):  # one process trains it, the others load it
        tokenizer = prepare_tokenizer(tok_args, {"train": corpus["train"]},
                                      Path(training_args.output_dir) / "tokenizer")
    with training_args.main_process_first(desc="LM blocks"):  # in memory: one process writes the cache, others read
        train, valid = corpus_lm_blocks(tokenizer, corpus, data_args, training_args, reads_backward(model_args))
    return train_language_model(tokenizer, train, valid, data_args, model_args, ulmfit, training_args)


def fine_tune_pretrained_lm(tokenizer, dsd, data_args: DataArguments, model_args: ModelArguments,
                            ulmfit: ULMFiTArguments, lm_tuning: LMFineTuningArguments,
                            training_args: TrainingArguments) -> ModelArguments:
    """ULMFiT's second stage for a classifier script: `model_args.lm_init_from` fine-tuned on the task's text.

    The LM (its vocabulary matched to `tokenizer`) trains on the training + unlabeled reviews in
    `output_dir/lm`, with the classifier's settings except `lm_tuning`'s steps and learning rate, stream-ordered
    batches of `data_args.lm_streams` (or the classifier's batch size) rows, and no evaluation during training.

    Returns:
        `model_args` with `init_from` set to the fine-tuned LM's folder, for `train_classifier`.
    """
    if model_args.init_from:
        raise ValueError("Pass either --lm_init_from (a pretrained LM, fine-tuned on this task's text first) or "
                         "--init_from (a model to start the classifier from directly), not both.")
    lm_dir = Path(training_args.output_dir) / "lm"
    lm_args = dataclasses.replace(
        training_args, output_dir=str(lm_dir), max_steps=lm_tuning.lm_max_steps,
        learning_rate=lm_tuning.lm_learning_rate,
        per_device_train_batch_size=data_args.lm_streams or training_args.per_device_train_batch_size,
        train_sampling_strategy="sequential", eval_strategy="no", load_best_model_at_end=False)
    metrics = pretrain_language_model(tokenizer, dsd, data_args, dataclasses.replace(
        model_args, init_from=model_args.lm_init_from), ulmfit, lm_args)
    logger.info("LM fine-tuned on the task's text: perplexity %.1f", metrics["eval_perplexity"])
    return dataclasses.replace(model_args, init_from=str(lm_dir), lm_init_from=None)
