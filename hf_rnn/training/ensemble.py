"""Finished classifiers served as one model that averages their probabilities, with an optional bag-of-words member;
its figures computed from the members' saved outputs where they kept them."""

import dataclasses
import logging
import time

import datasets
import torch
from transformers import EvalPrediction, Trainer

from .. import RNNEnsembleForSequenceClassification, RNNForSequenceClassification
from ..data import classification_collator, classification_features
from ..models.rnn.modeling_rnn import classifier_loss
from ..models.rnn.modeling_rnn_ensemble import NgramLogisticRegression, average_probabilities, with_ngram_model
from .args import DataArguments
from .evaluation import evaluate_splits, saved_predictions, show_figures
from .metrics import compute_metrics_for
from .model_setup import training_label_feature
from .ngram_logistic import NgramLogisticArguments, fit_ngram_logistic, ngram_logistic_outputs
from .resume import finished_stage, mark_stage_done
from .stage_data import by_length, classification_datasets, evaluation_length

logger = logging.getLogger(__name__)


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
