"""The training recipes: tokenizer, language model, classifier. Scripts and the main job are thin layers on these.

Each recipe resumes from the last Trainer checkpoint in its output folder and, once finished, writes
`stage_done.json` there (atomically); calling it again returns the recorded metrics instead of retraining.
"""

import dataclasses
import json
import logging
import os
import time
from pathlib import Path

import datasets
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import AutoConfig, AutoTokenizer, EvalPrediction, Trainer, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from .. import RNNConfig, RNNEnsembleForSequenceClassification, RNNForCausalLM, RNNForSequenceClassification
from ..models.rnn.modeling_rnn import classifier_loss
from ..models.rnn.modeling_rnn_ensemble import NgramLogisticRegression, average_probabilities, with_ngram_model
from ..data import (
    auxiliary_label_names,
    classification_collator,
    classification_features,
    id2label,
    label_names_of,
    lm_blocks,
    lm_collator,
    load_reviews,
    problem_type_of,
    tokenize_column,
)
from ..tokenization import batch_iterator, train_word_level_tokenizer
from .adversarial import AdversarialArguments
from .args import DataArguments, ModelArguments, TokenizerArguments, ULMFiTArguments
from .callbacks import GradualUnfreezingCallback, TimeLimitCallback, WeightAveragingCallback
from .hub import publish
from .lm_transfer import load_pretrained_lm
from .metrics import compute_metrics_for, perplexity
from .ngram_logistic import NgramLogisticArguments, fit_ngram_logistic, ngram_logistic_outputs
from .optim import build_optimizer
from .semi_supervised import classifier_trainer_class, unlabeled_pool
from .stateful import StatefulLMTrainer

logger = logging.getLogger(__name__)
DONE_FILE = "stage_done.json"


def finished_stage(output_dir) -> dict | None:
    """The metrics a finished stage recorded, or None if it has not finished."""
    path = Path(output_dir) / DONE_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def mark_stage_done(output_dir, metrics: dict):
    """Record a finished stage; written to a temporary file and renamed, so a crash never leaves half a file."""
    path = Path(output_dir) / DONE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(metrics, indent=2, default=float))
    os.replace(tmp, path)


def load_imdb(data_args: DataArguments, seed: int = 42) -> datasets.DatasetDict:
    """Reviews with a seeded stratified validation split, trimmed to the requested sizes."""
    dsd = load_reviews(data_args.dataset, validation_size=data_args.validation_size, seed=seed)
    return trimmed_splits(dsd, data_args, seed)


def trimmed_splits(dsd: datasets.DatasetDict, data_args: DataArguments, seed: int = 42) -> datasets.DatasetDict:
    """Each split cut to the size `data_args` asks for (`max_train_samples` ...), a seeded random subset."""
    limits = {"train": data_args.max_train_samples, "validation": data_args.max_eval_samples,
              "test": data_args.max_test_samples, "unsupervised": data_args.max_lm_documents}
    for split, limit in limits.items():
        if split in dsd and limit is not None and limit < len(dsd[split]):
            # Shuffle before cutting: the source is sorted by label, so a head slice would be one class.
            dsd[split] = dsd[split].shuffle(seed=seed).select(range(limit))
    return dsd


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


def texts_only(split):
    """A split's `text` column alone: labelled and unlabelled splits join for the tokenizer and the LM whatever
    their other columns (a general task's unlabelled text has no labels at all)."""
    return split.select_columns(["text"])


def lm_datasets(tokenizer, dsd: datasets.DatasetDict, data_args: DataArguments, reverse_text: bool = False):
    """LM blocks: train on training + unlabeled reviews (the training reviews alone with `lm_unlabeled=False`),
    measure perplexity on the validation reviews.
    `reverse_text`: training blocks for a backward model, whose streams step back through the text."""
    sources = ("train", "unsupervised") if data_args.lm_unlabeled else ("train",)
    train_text = datasets.concatenate_datasets([texts_only(dsd[s]) for s in sources if s in dsd])
    if data_args.max_lm_documents and data_args.max_lm_documents < len(train_text):
        train_text = train_text.shuffle(seed=0).select(range(data_args.max_lm_documents))
    streams = data_args.lm_streams or None  # stream order lets the state carry from batch to batch
    train = lm_blocks(train_text, tokenizer, block_size=data_args.block_size, num_streams=streams,
                      reverse_text=reverse_text)
    valid_text = dsd["validation"].select(range(min(len(dsd["validation"]), data_args.max_lm_eval_documents)))
    valid = lm_blocks(valid_text, tokenizer, block_size=data_args.block_size)
    return train, valid


def reads_backward(model_args: ModelArguments) -> bool:
    """Whether the model these arguments make is a backward model (`reverse_text`): a saved model's own config says,
    else the config overrides of a new one."""
    if model_args.init_from:
        return bool(getattr(AutoConfig.from_pretrained(model_args.init_from), "reverse_text", False))
    return bool(model_args.config_kwargs().get("reverse_text", False))


def new_model_config(tokenizer, model_args: ModelArguments, **extra) -> RNNConfig:
    """A config for a model trained from scratch, with the tokenizer's vocabulary and special ids."""
    return RNNConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                     bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                     **model_args.config_kwargs(), **extra)


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
    checkpoint = get_last_checkpoint(output_dir) if Path(output_dir).is_dir() else None
    if checkpoint:
        logger.info("Resuming from %s", checkpoint)
    result = trainer.train(resume_from_checkpoint=checkpoint)
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


def classifier_head(target: str, label_feature=None) -> dict:
    """The config fields of a classifier's head for `target`: its labels' names and transformers' `problem_type`
    (for the general `label` target, read off the typed `label` feature)."""
    if target == "label":
        names, problem_type = label_names_of(label_feature), problem_type_of(label_feature)
        labels = dict(enumerate(names))
    else:
        labels = id2label(target)
        problem_type = "regression" if target == "regression" else "single_label_classification"
    return dict(num_labels=len(labels), id2label=labels, label2id={v: k for k, v in labels.items()},
                problem_type=problem_type, auxiliary_label_names=auxiliary_label_names(target))


def training_label_feature(dsd):
    """The `label` feature of the training split (the general target reads its task there), or None."""
    return dsd["train"].features.get("label") if "train" in dsd else None


def classifier_model(tokenizer, data_args: DataArguments, model_args: ModelArguments, train_labels=None,
                     label_feature=None):
    """A classifier for `data_args.target`: from a pretrained LM folder, from word vectors, or from scratch.

    `train_labels`: the training targets; for regression their mean and spread standardise the head's target.
    `label_feature`: the training split's typed `label` feature, for the general `label` target.
    """
    head = classifier_head(data_args.target, label_feature)
    if head["problem_type"] == "regression" and train_labels is not None:
        values = torch.as_tensor(list(train_labels), dtype=torch.float64)
        spread = float(values.std()) if len(values) > 1 else 1.0
        head.update(regression_target_mean=float(values.mean()), regression_target_std=spread if spread > 0 else 1.0)
    if model_args.init_from:
        overrides = {k: v for k, v in model_args.config_kwargs().items() if is_classifier_setting(k)}
        # A classifier for another target (sentiment -> rating) has an output layer of another size: that layer
        # starts anew and report_transfer says so; everything else is reused.
        model, info = RNNForSequenceClassification.from_pretrained(
            model_args.init_from, output_loading_info=True, ignore_mismatched_sizes=True, **overrides, **head)
        report_transfer(info)
        return model
    model = RNNForSequenceClassification(new_model_config(tokenizer, model_args, **head))
    if model_args.word_vectors:
        from ..embeddings import import_word_vectors

        coverage = import_word_vectors(model, model_args.word_vectors, tokenizer)
        logger.info("Word vectors: %s", coverage)
    return model


def is_classifier_setting(name: str) -> bool:
    """Config fields a classifier may set on top of the LM it starts from: dropouts and the classifier's own parts
    (head, pooling, chunking, n-gram bag); the architecture of the reused backbone is the LM's."""
    return name.endswith("dropout") or name.startswith(("classifier_", "ngram_", "auxiliary_"))


def report_transfer(info: dict):
    """Say plainly what a classifier took from the model it starts from (an LM or another classifier) and what is
    new."""
    new = sorted({key.split(".")[0] for key in info["missing_keys"]})
    dropped = sorted({key.split(".")[0] for key in info["unexpected_keys"]})
    resized = sorted(key for key, *_shapes in info.get("mismatched_keys", []))  # (key, saved shape, new shape)
    logger.warning("Classifier initialised from a saved model: embedding and backbone reused; new (trained from "
                   "scratch): %s; not used: %s; other shape, started anew: %s", new or "none", dropped or "none",
                   resized or "none")


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


def classification_datasets(tokenizer, dsd, data_args: DataArguments):
    """Tokenised train / validation / test features with labels for the target: the training reviews cut to
    `max_length` tokens, the evaluated ones to `evaluation_length(data_args)`."""
    evaluated = evaluation_length(data_args)
    lengths = {"train": data_args.max_length, "validation": evaluated, "test": evaluated}
    return datasets.DatasetDict({split: classification_features(dsd[split], tokenizer, target=data_args.target,
                                                                max_length=length)
                                 for split, length in lengths.items() if split in dsd})


def evaluation_length(data_args: DataArguments) -> int:
    """Tokens kept per evaluated review: `eval_max_length`, else `max_length` (0: the whole review)."""
    return data_args.max_length if data_args.eval_max_length is None else data_args.eval_max_length


def by_length(split: datasets.Dataset | None) -> datasets.Dataset | None:
    """Rows sorted by length, for evaluation: metrics do not depend on row order, and sorted batches carry almost
    no padding (random order pads half of every batch)."""
    return split.sort("length") if split is not None else None


def train_classifier(tokenizer, dsd, data_args: DataArguments, model_args: ModelArguments, ulmfit: ULMFiTArguments,
                     training_args: TrainingArguments, adversarial: AdversarialArguments | None = None,
                     report_test: bool = True, consistency=None) -> dict:
    """Train a sentiment or rating classifier, evaluate on validation, then on test (whose figures are printed only
    with `report_test`: a final reading; they are returned and saved either way).

    `adversarial` (optional) adds adversarial / virtual adversarial / entropy terms on the word embeddings; the
    unlabeled reviews (`dsd["unsupervised"]`, when present) feed the virtual adversarial and entropy terms.
    `consistency` (optional `ConsistencyArguments`) adds consistency training on those unlabeled reviews."""
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


def evaluate_splits(trainer, features, keep_predictions: bool = False, report_test: bool = True) -> dict:
    """The validation and test figures (those of the splits present), logged and saved as Trainer does (the test
    figures logged and printed only with `report_test`, see `show_figures`).

    `keep_predictions`: also save each split's outputs in the output folder (`predictions_<split>.safetensors`),
    from which an ensemble of finished classifiers computes its figures without running them again."""
    metrics = {}
    for split in ("validation", "test"):
        if split in features:
            rows = by_length(features[split])
            output = trainer.predict(rows, metric_key_prefix=split)
            if keep_predictions and trainer.is_world_process_zero():
                save_predictions(trainer.args.output_dir, split, rows, output)
            show_figures(trainer, split, output.metrics, report_test, history=True)
            metrics.update(output.metrics)
    return metrics


def show_figures(trainer, split: str, figures: dict, report_test: bool = True, history: bool = False):
    """Print a split's figures and save them (`<split>_results.json`) as Trainer does, `history`: into the log history
    too, as `evaluate` does. Test figures are saved but neither printed nor logged unless `report_test`: a run reads
    test once, for a final configuration chosen on validation."""
    if split != "test" or report_test:
        if history:
            trainer.log(figures)
        trainer.log_metrics(split, figures)
    trainer.save_metrics(split, figures)


def predictions_path(folder, split: str) -> Path:
    return Path(folder) / f"predictions_{split}.safetensors"


def save_predictions(folder, split: str, rows: datasets.Dataset, output):
    """A classifier's outputs on one split, with the fingerprint of the rows they belong to (written atomically)."""
    heads = output.predictions if isinstance(output.predictions, tuple) else (output.predictions,)
    tensors = {name: torch.as_tensor(values).contiguous() for name, values in
               zip(("logits", "auxiliary_logits"), heads)}
    tensors["labels"] = torch.as_tensor(output.label_ids).contiguous()
    path = predictions_path(folder, split)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, tmp, metadata={"fingerprint": rows._fingerprint})
    os.replace(tmp, path)


def saved_predictions(folder, split: str, rows: datasets.Dataset) -> dict | None:
    """The outputs `save_predictions` kept for exactly these rows (same fingerprint), or None."""
    path = predictions_path(folder, split)
    if not path.is_file():
        return None
    with safe_open(path, framework="pt") as saved:
        if (saved.metadata() or {}).get("fingerprint") != rows._fingerprint:
            return None
        return {name: saved.get_tensor(name) for name in saved.keys()}


def ensemble_figures_from_members(member_dirs: list, config, rows, split: str, compute_metrics,
                                  ngram_model=None, ngram_weights: tuple[float, float] = (0.0, 0.0)) -> dict | None:
    """An ensemble's figures on one split from its members' saved outputs: the same averaged probabilities and loss
    as its forward pass (`average_probabilities`, `with_ngram_model`, `classifier_loss`), without reading every
    review again (an n-gram member, cheap, is run on the rows). None when a member kept no outputs for these exact
    rows (the caller then evaluates the ensemble itself)."""
    saved = [saved_predictions(folder, split, rows) for folder in member_dirs]
    if any(member is None for member in saved) or any(
            not torch.equal(member["labels"], saved[0]["labels"]) for member in saved):
        return None
    logits, auxiliary = averaged_outputs(saved, config.problem_type == "multi_label_classification")
    if ngram_model is not None:
        bag_logits, bag_auxiliary = ngram_logistic_outputs(ngram_model, rows, config.pad_token_id)
        logits = with_ngram_model(logits, bag_logits, ngram_weights[0])
        auxiliary = None if auxiliary is None else with_ngram_model(auxiliary, bag_auxiliary, ngram_weights[1])
    labels = saved[0]["labels"]
    loss = classifier_loss(config, logits, auxiliary, labels)
    predictions = logits.numpy() if auxiliary is None else (logits.numpy(), auxiliary.numpy())
    figures = compute_metrics(EvalPrediction(predictions=predictions, label_ids=labels.numpy()))
    return {**{f"{split}_{name}": value for name, value in figures.items()}, f"{split}_loss": float(loss)}


def fit_ngram_member(tokenizer, train: datasets.Dataset, data_args: DataArguments, config,
                     ngram: NgramLogisticArguments) -> NgramLogisticRegression:
    """The ensemble's bag-of-words member fitted on the training reviews, whole (the bag costs nothing per token), for
    the members' heads."""
    features = classification_features(train, tokenizer, target=data_args.target, max_length=0)
    return fit_ngram_logistic(features, config.vocab_size, config.num_labels,
                              len(config.auxiliary_label_names or []), ngram, config.pad_token_id)


def averaged_outputs(saved: list[dict], multi_label: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Members' saved outputs averaged as the ensemble's forward averages them: its logits, and its second head's
    when every member has one (else None)."""
    logits = average_probabilities([member["logits"] for member in saved], multi_label)
    two_heads = all("auxiliary_logits" in member for member in saved)
    return logits, average_probabilities([member["auxiliary_logits"] for member in saved]) if two_heads else None


def ensemble_classifiers(tokenizer, dsd, data_args: DataArguments, member_dirs: list, training_args,
                         ngram: NgramLogisticArguments | None = None, report_test: bool = True) -> dict:
    """Serve finished classifiers (e.g. ULMFiT's forward and backward ones) as one model, which averages their
    probabilities: saved with the tokenizer in `training_args.output_dir`, evaluated on validation and test.

    `ngram` (optional, when enabled): a bag-of-words member is fitted here on the training reviews (whole) and
    takes its share of the averaged probabilities (`hf_rnn.training.ngram_logistic`). `report_test`: print the test
    figures (see `show_figures`).

    Returns:
        The ensemble's figures, also recorded in `output_dir/stage_done.json` (a second call returns them).
    """
    done, names = finished_stage(training_args.output_dir), [str(folder) for folder in member_dirs]
    bag_settings = dataclasses.asdict(ngram) if ngram is not None and ngram.enabled else None
    if done is not None and done.get("members") == names and done.get("ngram_logistic") == bag_settings:
        return done
    if done is not None:  # e.g. a job rerun with more seeds: the recorded ensemble is not this one
        logger.info("Rebuilding the ensemble in %s: its members were %s with n-gram member %s, now %s with %s",
                    training_args.output_dir, done.get("members"), done.get("ngram_logistic"), names, bag_settings)
    with training_args.main_process_first(desc="classification features"):
        features = classification_datasets(tokenizer, dsd, data_args)
    members = [RNNForSequenceClassification.from_pretrained(folder) for folder in member_dirs]
    started = time.perf_counter()
    bag = fit_ngram_member(tokenizer, dsd["train"], data_args, members[0].config, ngram) if bag_settings else None
    weights = (ngram.ngram_logistic_weight, ngram.ngram_logistic_rating_weight) if bag_settings else (0.0, 0.0)
    ensemble = RNNEnsembleForSequenceClassification.from_members(*members, ngram_logistic=bag,
                                                                 ngram_logistic_weight=weights[0],
                                                                 ngram_logistic_auxiliary_weight=weights[1])
    # Evaluation only: the eval_dataset is there for TrainingArguments that name an eval strategy.
    trainer = Trainer(model=ensemble, args=training_args, processing_class=tokenizer,
                      eval_dataset=by_length(features.get("validation", features.get("test"))),
                      data_collator=classification_collator(tokenizer),
                      compute_metrics=compute_metrics_for(data_args.target, training_label_feature(dsd)))
    trainer.save_model(training_args.output_dir)
    metrics = {"members": names, "eval_max_length": evaluation_length(data_args), "ngram_logistic": bag_settings,
               **({"ngram_logistic_fit_seconds": time.perf_counter() - started} if bag else {})}
    for split in ("validation", "test"):
        if split not in features:
            continue
        # The members kept their outputs on these reviews: averaging them saves reading every review twice more
        # (3 minutes of the full preset's 25,000 test reviews on 2 cores).
        figures = ensemble_figures_from_members(member_dirs, members[0].config, by_length(features[split]), split,
                                                trainer.compute_metrics, bag, weights)
        if figures is None:
            figures = evaluate_splits(trainer, {split: features[split]}, report_test=report_test)
        else:
            show_figures(trainer, split, figures, report_test)
            metrics.setdefault("from_member_predictions", []).append(split)
        metrics.update(figures)
    if trainer.is_world_process_zero():
        mark_stage_done(training_args.output_dir, metrics)
    return metrics
