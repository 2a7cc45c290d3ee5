"""The model a stage trains: a new language model or classifier sized by the tokenizer and the config overrides, or a
classifier started from a saved model, with what it took from it said in the log."""

import logging

import torch
from transformers import AutoConfig

from .. import RNNConfig, RNNForSequenceClassification
from ..data import auxiliary_label_names, id2label, label_names_of, problem_type_of
from .args import DataArguments, ModelArguments

logger = logging.getLogger(__name__)


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
