"""The training stages: tokenizer, language model, classifier. Scripts and the jobs are thin layers on these.

Each stage resumes from the last Trainer checkpoint in its output folder and, once finished, records its metrics there
(`resume.mark_stage_done`); calling it again returns the recorded metrics instead of retraining.
"""

import dataclasses
from pathlib import Path

import datasets
from transformers import AutoTokenizer, Trainer, TrainingArguments, set_seed

from .. import RNNForCausalLM
from ..data import classification_collator, lm_collator, tokenize_column
from ..tokenization import batch_iterator, train_word_level_tokenizer
from .adversarial import AdversarialArguments
from .args import DataArguments, ModelArguments, TokenizerArguments, ULMFiTArguments
from .callbacks import GradualUnfreezingCallback, TimeLimitCallback, WeightAveragingCallback
from .evaluation import evaluate_splits
from .hub import publish
from .lm_transfer import load_pretrained_lm
from .metrics import compute_metrics_for, perplexity
from .model_setup import classifier_model, new_model_config, reads_backward, training_label_feature
from .optim import build_optimizer
from .resume import finished_stage, last_checkpoint, mark_stage_done
from .stage_data import by_length, classification_datasets, evaluation_length, lm_datasets, texts_only
from .semi_supervised import ConsistencyArguments, classifier_trainer_class, unlabeled_pool
from .stateful import StatefulLMTrainer


def prepare_tokenizer(tok_args: TokenizerArguments, dsd: datasets.DatasetDict, output_dir):
    """Load the given tokenizer, or train a word-level one on training + unlabeled text (in memory or streamed) and
    save it."""
    if tok_args.tokenizer_name_or_path:
        return AutoTokenizer.from_pretrained(tok_args.tokenizer_name_or_path)
    output_dir = Path(output_dir)
    if finished_stage(output_dir) is not None:
        return AutoTokenizer.from_pretrained(output_dir)
    texts = datasets.concatenate_datasets([texts_only(dsd[s]) for s in ("train", "unsupervised") if s in dsd])
    limit = tok_args.max_tokenizer_documents
    if isinstance(texts, datasets.IterableDataset):  # a stream: its first documents, read as they come
        texts = texts.take(limit) if limit else texts
        batches, documents = (batch["text"] for batch in texts.iter(batch_size=1_000)), limit or "all (stream)"
    else:
        if limit and limit < len(texts):
            texts = texts.shuffle(seed=0).select(range(limit))
        batches, documents = batch_iterator(texts), len(texts)
    tokenizer = train_word_level_tokenizer(batches, vocab_size=tok_args.vocab_size,
                                           min_frequency=tok_args.min_frequency)
    tokenizer.save_pretrained(output_dir)
    mark_stage_done(output_dir, {"vocab_size": len(tokenizer), "documents": documents})
    return tokenizer


def make_trainer(model, training_args, ulmfit: ULMFiTArguments, num_steps: int, trainer_class=Trainer,
                 average_weights: bool = False, time_limit: float = 0.0, **kwargs):
    """A Trainer with ULMFiT's optimizer, schedule and (optionally) gradual unfreezing; `average_weights`: and the
    weight averaging of `ulmfit.weight_averaging_start`, when set (classifiers)."""
    optimizers = build_optimizer(model, training_args.learning_rate, num_steps, ulmfit.discriminative_decay,
                                 ulmfit.slanted_triangular, training_args.weight_decay,
                                 (training_args.adam_beta1, training_args.adam_beta2))
    callbacks = []
    if ulmfit.gradual_unfreezing_steps:
        callbacks.append(GradualUnfreezingCallback(model, ulmfit.gradual_unfreezing_steps))
    if average_weights and ulmfit.weight_averaging_start:
        callbacks.append(WeightAveragingCallback(ulmfit.weight_averaging_start))
    if time_limit:
        callbacks.append(TimeLimitCallback(time_limit))
    return trainer_class(model=model, args=training_args, optimizers=optimizers, callbacks=callbacks, **kwargs)


def planned_steps(training_args: TrainingArguments, num_rows: int | None) -> int:
    """Optimizer steps the run will take (for the schedule), from max_steps or epochs (`num_rows` None: a stream)."""
    if training_args.max_steps and training_args.max_steps > 0:
        return training_args.max_steps
    if num_rows is None:
        raise ValueError("A streamed corpus has no length to count epochs in: pass --max_steps to bound the run.")
    per_step = training_args.per_device_train_batch_size * training_args.gradient_accumulation_steps
    per_step *= max(1, training_args.world_size)
    return max(1, int(training_args.num_train_epochs * -(-num_rows // per_step)))


def train_and_save(trainer, output_dir) -> dict:
    """Train (resuming from the last checkpoint in output_dir), save the final model and tokenizer."""
    result = trainer.train(resume_from_checkpoint=last_checkpoint(output_dir))
    trainer.save_model(output_dir)
    trainer.log_metrics("train", result.metrics)
    trainer.save_metrics("train", result.metrics)
    trainer.save_state()
    return result.metrics


def finish_stage(trainer, metrics: dict, model_args: ModelArguments, data_args: DataArguments, tasks: str) -> dict:
    """Record a finished stage (process 0), then end as transformers' example scripts do: a model card and, with
    `--push_to_hub`, the folder pushed to the Hub (after the record, so a failed push costs no retraining)."""
    if trainer.is_world_process_zero():
        mark_stage_done(trainer.args.output_dir, metrics)
    publish(trainer, tasks, dataset=data_args.dataset, finetuned_from=model_args.init_from)
    return metrics


def pretrain_language_model(tokenizer, dsd, data_args: DataArguments, model_args: ModelArguments,
                            ulmfit: ULMFiTArguments, training_args: TrainingArguments) -> dict:
    """Train (or fine-tune, with `model_args.init_from`) the LSTM language model on review splits; report validation
    perplexity."""
    if (done := finished_stage(training_args.output_dir)) is not None:
        return done
    with training_args.main_process_first(desc="LM blocks"):
        train, valid = lm_datasets(tokenizer, dsd, data_args, reverse_text=reads_backward(model_args))
    return train_language_model(tokenizer, train, valid, data_args, model_args, ulmfit, training_args)


def train_language_model(tokenizer, train, valid, data_args: DataArguments, model_args: ModelArguments,
                         ulmfit: ULMFiTArguments, training_args: TrainingArguments) -> dict:
    """Train (or fine-tune, with `model_args.init_from`) the LSTM language model on LM blocks; report perplexity.

    Args:
        tokenizer: The tokenizer the blocks were made with (saved with the model).
        train: Training blocks: a `datasets.Dataset` (`lm_blocks`) or a stream (`streamed_lm_blocks`, which needs
            `max_steps`).
        valid: Held-out blocks (a `datasets.Dataset`): perplexity is measured on them at the end. A backward model
            (`reverse_text`) reverses every block it reads; with `lm_streams` its training blocks must come from
            `lm_blocks(..., reverse_text=True)`, whose streams step back through the text (a stream read forward
            cannot: refused).
        data_args: `lm_streams` (carry the state across batches) and `block_size`.
        model_args: The architecture of a new model, or `init_from`, a saved LM (folder or Hub id) to fine-tune;
            a vocabulary other than the tokenizer's is matched to it (`load_pretrained_lm`) and reported.
        ulmfit: ULMFiT's fine-tuning techniques (off for a model trained from scratch).
        training_args: The run; resumed from the last checkpoint in `output_dir`.

    Returns:
        The training and evaluation metrics (`eval_perplexity`), also recorded in `output_dir/stage_done.json`.
    """
    if (done := finished_stage(training_args.output_dir)) is not None:
        return done
    streamed = isinstance(train, datasets.IterableDataset)
    if streamed and data_args.lm_streams and reads_backward(model_args):
        raise ValueError("A backward LM (reverse_text) carries its state backward through the text, but a streamed "
                         "corpus comes forward: load it in memory (lm_blocks(..., reverse_text=True)) or set "
                         "lm_streams=0.")
    if streamed:
        read_own_stream_per_process(training_args)
    set_seed(training_args.seed)  # before the model exists: its initial weights are part of "same seed, same result"
    transfer = None
    if model_args.init_from:  # ULMFiT's hand-off: the pretrained LM's rows follow this tokenizer's vocabulary
        model, transfer = load_pretrained_lm(model_args.init_from, tokenizer)
    else:
        model = RNNForCausalLM(new_model_config(tokenizer, model_args))
    if not model_args.init_from:  # discriminative rates are for fine-tuning; from scratch every layer learns alike
        ulmfit = dataclasses.replace(ulmfit, discriminative_decay=1.0, gradual_unfreezing_steps=0)
    trainer = make_trainer(model, training_args, ulmfit, planned_steps(training_args, None if streamed else len(train)),
                           trainer_class=StatefulLMTrainer if data_args.lm_streams else Trainer,
                           time_limit=ulmfit.lm_time_limit,
                           train_dataset=train, eval_dataset=valid, processing_class=tokenizer,
                           data_collator=lm_collator(tokenizer))
    metrics = train_and_save(trainer, training_args.output_dir)
    evaluation = trainer.evaluate()
    evaluation["eval_perplexity"] = perplexity(evaluation["eval_loss"])
    trainer.log_metrics("eval", evaluation)
    trainer.save_metrics("eval", evaluation)
    trained_blocks = trainer.state.global_step * training_args.train_batch_size * max(1, training_args.world_size) \
        * training_args.gradient_accumulation_steps if streamed else len(train)
    metrics = {**metrics, **evaluation, "train_blocks": trained_blocks, "block_size": data_args.block_size,
               "streaming": streamed, **({"vocabulary_transfer": transfer} if transfer else {})}
    return finish_stage(trainer, metrics, model_args, data_args, tasks="text-generation")


def read_own_stream_per_process(training_args: TrainingArguments):
    """Let each process read its own shard of a stream (`streamed_lm_blocks` has one per process).

    accelerate's default for an `IterableDataset` (`dispatch_batches=True`) reads every batch in process 0 and
    sends each process every W-th one, which would break the rows' continuation from batch to batch.
    """
    training_args.accelerator_config.dispatch_batches = False


def adversarial_trainer_kwargs(adversarial, tokenizer, dsd, data_args: DataArguments) -> dict:
    """Trainer arguments for the adversarial terms ({} when they are off): the settings and, for the terms that
    need no labels, the unlabeled reviews tokenised as the labelled ones (shuffled, so every pass mixes them)."""
    if adversarial is None or not adversarial.enabled:
        return {}
    kwargs = {"adversarial": adversarial}
    unlabeled_terms = adversarial.virtual_adversarial_weight or adversarial.entropy_weight
    if unlabeled_terms and "unsupervised" in dsd:
        reviews = dsd["unsupervised"].shuffle(seed=0)
        kwargs["unlabeled_dataset"] = tokenize_column(reviews, tokenizer, max_length=data_args.max_length or None)
    return kwargs


def consistency_trainer_kwargs(consistency, tokenizer, dsd, data_args: DataArguments) -> dict:
    """Trainer arguments for consistency training ({} when off): the settings and the unlabeled texts, tokenised as
    the labelled ones."""
    if consistency is None or not consistency.enabled:
        return {}
    texts = unlabeled_pool(dsd, size=0)  # a clear error when there is no unlabelled text
    return {"consistency": consistency, "consistency_dataset": tokenize_column(
        texts.shuffle(seed=1), tokenizer, max_length=data_args.max_length or None)}


def train_classifier(tokenizer, dsd, data_args: DataArguments, model_args: ModelArguments, ulmfit: ULMFiTArguments,
                     training_args: TrainingArguments, adversarial: AdversarialArguments | None = None,
                     report_test: bool = True, consistency: ConsistencyArguments | None = None) -> dict:
    """Train a sentiment or rating classifier, evaluate on validation, then on test (whose figures are printed only
    with `report_test`: a final reading; they are returned and saved either way).

    `adversarial` (optional) adds adversarial / virtual adversarial / entropy terms on the word embeddings; the
    unlabeled reviews (`dsd["unsupervised"]`, when present) feed the virtual adversarial and entropy terms.
    `consistency` (optional) adds consistency training on those unlabeled reviews."""
    if (done := finished_stage(training_args.output_dir)) is not None:
        return done
    with training_args.main_process_first(desc="classification features"):
        features = classification_datasets(tokenizer, dsd, data_args)
        extra = adversarial_trainer_kwargs(adversarial, tokenizer, dsd, data_args)
        extra.update(consistency_trainer_kwargs(consistency, tokenizer, dsd, data_args))
    set_seed(training_args.seed)  # before the model exists: the new head's initial weights depend on it
    model = classifier_model(tokenizer, data_args, model_args, train_labels=features["train"]["labels"],
                             label_feature=training_label_feature(dsd))
    trainer = make_trainer(model, training_args, ulmfit, planned_steps(training_args, len(features["train"])),
                           trainer_class=classifier_trainer_class("adversarial" in extra, "consistency" in extra),
                           average_weights=True, time_limit=ulmfit.classifier_time_limit,
                           train_dataset=features["train"],
                           eval_dataset=by_length(features.get("validation")), processing_class=tokenizer,
                           data_collator=classification_collator(tokenizer),
                           compute_metrics=compute_metrics_for(data_args.target, training_label_feature(dsd)), **extra)
    metrics = {**train_and_save(trainer, training_args.output_dir), "train_reviews": len(features["train"]),
               "eval_max_length": evaluation_length(data_args)}
    metrics.update(evaluate_splits(trainer, features, keep_predictions=True, report_test=report_test))
    return finish_stage(trainer, metrics, model_args, data_args, tasks="text-classification")
