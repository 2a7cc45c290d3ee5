"""The general job: ULMFiT for any labelled text (`hf-rnn train`).

    hf-rnn train --dataset path/or/hub-id --text_column text --label_column label --output_dir runs/x
    hf-rnn train --train_file train.csv --test_file test.csv --text_column title,body --label_column tags ...
    hf-rnn train ... --unlabeled_file more.txt      # unlabelled text for the language model
    hf-rnn train ... --lm_init_from runs/imdb/lm     # start from a language model trained elsewhere
    hf-rnn train ... --time_budget 15m               # size the stages to this machine's measured speed

The same stages as `hf-rnn imdb` (tokenizer, LM, forward and backward classifiers, adversarial training, the
bag-of-words member, ensemble, resume, final fit, model card, `--push_to_hub`), switched by the same flags; the data
is read by `hf_rnn.data.load_labelled_texts`, which types the labels so the task (single-label with any number of
classes, multi-label, regression) follows from the label column.
"""

import dataclasses
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ...data import load_labelled_texts
from ...data.labelled import hide_labels
from ...training.args import DataArguments
from ...training.stage_data import trimmed_splits
from ..imdb.job import (JOB_DATACLASSES, Task, explicit_fields, leave_process_group, parse_job_arguments,
                        run_job)
from .budget import apply_time_budget, parse_duration
from .presets import PRESETS

logger = logging.getLogger(__name__)


@dataclass
class TextDataArguments:
    """Which columns of the data hold the text and the labels, and where unlabelled text comes from."""

    text_column: str = field(default="text", metadata={
        "help": "The text column; several, comma-separated, are joined with a space (`title,body`)."})
    label_column: str = field(default="label", metadata={
        "help": "The label column: ints or strings (single-label), lists (multi-label) or floats (regression)."})
    train_file: str | None = field(default=None, metadata={"help": "A CSV/JSON/parquet training file."})
    validation_file: str | None = field(default=None, metadata={
        "help": "A validation file; unset and absent from --dataset: a stratified --validation_size cut of train."})
    test_file: str | None = field(default=None, metadata={"help": "A test file (optional: no test figures without)."})
    problem_type: str = field(default="auto", metadata={
        "help": "auto (from the label column) | single_label_classification | multi_label_classification | "
                "regression"})
    label_delimiter: str | None = field(default=None, metadata={
        "help": "Multi-label labels written as one string (`sports;politics`): the delimiter."})
    unlabeled_file: list[str] | None = field(default=None, metadata={
        "help": "Unlabelled text for the language model: .txt (one text a line) or CSV/JSON/parquet files with the "
                "text columns."})
    unlabeled_dataset: str | None = field(default=None, metadata={
        "help": "Unlabelled text for the language model from a Hub id or folder (its `unsupervised` split, else "
                "`train`)."})
    label_names: str | None = field(default=None, metadata={
        "help": "Comma-separated names of integer labels 0..K-1, when the data has ids without a ClassLabel."})
    auxiliary_column: str | None = field(default=None, metadata={
        "help": "A 1-10 star column for a second (rating) head beside two-class labels, as IMDB's `rating`."})
    empty_texts: str = field(default="error", metadata={
        "help": "error (a row with an empty text stops the job before training, naming it) | drop (such rows leave "
                "every split; the log counts them)."})
    labelled_fraction: float | None = field(default=None, metadata={
        "help": "Keep the labels of this share (below 1) or number of training rows, seeded and stratified; the "
                "other rows' text joins the unlabelled text (the lecture's 'only one review in a hundred has a rating')."})
    time_budget: str | None = field(default=None, metadata={
        "help": "Wall-time budget of the whole job (`15m`, `1h`, `900s`): the LM's steps and the classifiers' epochs "
                "are sized to it from this machine's measured speed, the plan printed first and planned vs actual "
                "at the end. Unset: the preset's sizes."})

    def __post_init__(self):
        if self.time_budget is not None:
            parse_duration(self.time_budget)  # a bad value fails now, not after the tokenizer


GENERAL_DATACLASSES = (*JOB_DATACLASSES, TextDataArguments)


def text_columns(text_args: TextDataArguments) -> list[str]:
    return [name.strip() for name in text_args.text_column.split(",") if name.strip()]


def load_task_data(text_args: TextDataArguments, data_args: DataArguments, seed: int):
    """The labelled splits (typed), the unlabelled text, cut to the sizes `data_args` asks for."""
    dsd = load_labelled_texts(
        dataset=data_args.dataset, train_file=text_args.train_file, validation_file=text_args.validation_file,
        test_file=text_args.test_file, text_columns=text_columns(text_args), label_column=text_args.label_column,
        problem_type=text_args.problem_type, label_delimiter=text_args.label_delimiter,
        unlabeled_files=text_args.unlabeled_file or (), unlabeled_dataset=text_args.unlabeled_dataset,
        auxiliary_column=text_args.auxiliary_column, validation_size=data_args.validation_size, seed=seed,
        label_names=text_args.label_names.split(",") if text_args.label_names else None,
        empty_texts=text_args.empty_texts)
    if text_args.labelled_fraction:
        dsd = hide_labels(dsd, text_args.labelled_fraction, seed)
    return trimmed_splits(dsd, data_args, seed)


def data_name(text_args: TextDataArguments, data_args: DataArguments) -> str:
    """How the card names the data: the Hub id or folder name, else the training file's name."""
    source = data_args.dataset or text_args.train_file
    return Path(source).name if Path(source).exists() else source


def general_task(text_args: TextDataArguments, data_args: DataArguments) -> Task:
    name = data_name(text_args, data_args)
    hub_id = [data_args.dataset] if data_args.dataset and not Path(data_args.dataset).exists() else []
    card = dict(template="text_classifier.md", title=f"hf_rnn text classifier ({name})", datasets=hub_id,
                data_name=name, metrics=["accuracy", "f1"])
    return Task(load=lambda data, seed: load_task_data(text_args, data, seed), presets=PRESETS, card=card)


def run_text_classification(job, data_args, tok_args, model_args, ulmfit, adversarial, ngram, semi_supervised,
                            text_args: TextDataArguments, user_training_overrides: dict | None = None,
                            explicit: frozenset[str] = frozenset()) -> dict:
    """Every stage of the job on any labelled text; returns the metrics (also in `output_dir/results.json`)."""
    data_args = dataclasses.replace(data_args, target="label") if "target" not in explicit else data_args
    task = general_task(text_args, data_args)
    user = dict(user_training_overrides or {})
    if text_args.time_budget is not None:
        if semi_supervised is not None and semi_supervised.self_training_rounds:
            raise ValueError("--time_budget plans one classifier per direction, not self-training's rounds: drop "
                             "--time_budget (and size the stages by the preset or --num_train_epochs), or set "
                             "--self_training_rounds 0.")
        budget = parse_duration(text_args.time_budget)
        task, job, ulmfit, adversarial, explicit = apply_time_budget(
            budget, task, job, data_args, tok_args, model_args, ulmfit, adversarial, user, explicit)
    results = run_job(job, data_args, tok_args, model_args, ulmfit, adversarial, ngram, user,
                      explicit | {"target"}, task=task, semi_supervised=semi_supervised)
    if text_args.time_budget is not None:
        from .budget import report_budget

        report_budget(Path(job.output_dir), results)
    return results


def main(argv=None):
    """`hf-rnn train`: the job, data, model and training arguments from the command line or one .json/.yaml file."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parsed, user_training = parse_job_arguments(argv, GENERAL_DATACLASSES)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    *stage_args, text_args = parsed
    results = run_text_classification(*stage_args, text_args, user_training_overrides=user_training,
                                      explicit=explicit_fields(argv))
    leave_process_group()
    return results
