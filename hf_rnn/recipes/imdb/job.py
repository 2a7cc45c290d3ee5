"""The main job: tokenizer -> language model -> sentiment classifier and 1-10 rating model on IMDB.

    hf-rnn imdb --preset quick --output_dir runs/imdb-quick [--dataset path/to/imdb]  # or $HF_RNN_IMDB_PATH, or the Hub
    hf-rnn imdb --lm_init_from runs/wiki-lm ...  # the LM stage fine-tunes this pretrained LM (run_lm.py) on the reviews
    hf-rnn imdb --backward ...  # also a backward LM and classifier; output_dir/model is the ensemble of both directions

Every stage writes into its own folder under `output_dir` and records `stage_done.json` when finished, so a
killed run started again with the same command skips finished stages and resumes the current one from its
last Trainer checkpoint. The sentiment classifier (with `--backward`, `RNNEnsembleForSequenceClassification`: the
forward and backward classifiers, probabilities averaged) is saved as `output_dir/model` with its tokenizer, a config
whose `auto_map` names every head, the model code and a model card: `pipeline("text-classification",
model=output_dir/model)` loads it, with or without hf_rnn installed (`trust_remote_code=True`); `--push_to_hub`
puts that folder, card included, on the Hub. Every argument can also come from one .json/.yaml file:
`hf-rnn imdb job.yaml`.
"""

import dataclasses
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import datasets
from huggingface_hub import HfApi
from transformers import HfArgumentParser, TrainingArguments

from ...data.classification import TWO_HEAD_TARGET, problem_type_of
from ...machine import bfloat16_is_fast, cpu_bfloat16_settings
from ...training.adversarial import AdversarialArguments
from ...training.ngram_logistic import NgramLogisticArguments
from ...training.args import DataArguments, ModelArguments, TokenizerArguments, ULMFiTArguments
from ...training.ensemble import ensemble_classifiers
from ...training.resume import recorded_seconds, started_stages, timed_stage
from ...training.stage_data import load_imdb
from ...training.stages import prepare_tokenizer, pretrain_language_model, train_classifier
from ...training.thresholds import CONFIG_FIELD, choose_threshold
from ...training.script_args import arguments_file, leave_process_group, read_arguments_file
from ...training.semi_supervised import SemiSupervisedArguments, self_train, unlabeled_pool
from .model_card import published_stages, resumed_note, write_model_card
from .presets import COMMON, PRESETS, preset_for

logger = logging.getLogger(__name__)
# Each in its own folder under output_dir; the backward ones only with --backward, the ensemble only with more
# than one classifier (--backward or --classifier_seeds above 1), whose further members are `member_stage`s.
STAGES = ("tokenizer", "lm", "sentiment", "rating", "lm_backward", "sentiment_backward", "ensemble")
RATING_TARGETS = ("rating10", "regression")
RATING_STARTS = ("lm", "sentiment")
HEADS = ("separate", "shared")
PRECISIONS = ("fp32", "bf16", "auto")
# The classifier targets the semi-supervised pieces serve: one single-label head read from the `label` column.
SEMI_SUPERVISED_TARGETS = ("binary", "label")


@dataclass
class JobArguments:
    output_dir: str = field(default="runs/imdb", metadata={"help": "Folder for every stage and the final model."})
    preset: str = field(default="quick", metadata={"help": f"one of {sorted(PRESETS)}"})
    seed: int = field(default=42, metadata={"help": "Seed of the split, the subsets and training."})
    # Separate from `seed` so a second training seed is measured on the same validation reviews.
    training_seed: int | None = field(default=None, metadata={
        "help": "Seed of training alone (initial weights, batch order, dropout); unset: --seed. The split and "
                "subsets stay those of --seed."})
    rating: bool = field(default=True, metadata={"help": "Also train a 1-10 rating model (needs ratings)."})
    # rating10: a lower error and more exact hits than regression on validation (docs/results.md, "Rating target").
    rating_target: str = field(default="rating10", metadata={
        "help": "rating10 (ten classes; the posterior median is the rating) | regression (one real output)"})
    # lm: from the sentiment classifier it overfits, worse on all test figures (docs/results.md, "Rating model's start")
    rating_init_from: str = field(default="lm", metadata={
        "help": "What the rating model starts from: lm (the pretrained LM, like the sentiment model) | sentiment "
                "(the finished sentiment classifier: its encoder already tuned to polarity; its output layer is new)"})
    heads: str = field(default="shared", metadata={
        "help": "shared (one model, a sentiment head and a rating head on one encoder, trained in one fine-tune: "
                "about half the classifier time; docs/results.md, section 'Two heads') | separate (a sentiment "
                "model, then a rating model)"})
    # The bag-of-words baselines fit on all 25,000 labelled reviews; a job tuned on the validation split can do the
    # same for its final model, so both sides of the comparison have seen the same labels.
    final_fit: bool = field(default=False, metadata={
        "help": "Train the classifiers on every labelled review (train + the validation split), with settings chosen "
                "on validation before; no validation figures then. The LM is unchanged: it never trains on the "
                "validation reviews and measures its perplexity on them."})
    # Choices are made on validation; test is read once, for a final configuration (docs/results.md).
    report_test: bool = field(default=False, metadata={
        "help": "Print the test figures (the summary line at the end, each stage's test metrics): a final reading of "
                "a configuration chosen on validation. --final_fit implies it. Without either, the run prints "
                "validation figures; results.json and the model card hold every figure either way."})
    # ULMFiT's forward + backward ensemble (docs/results.md, "Both directions").
    backward: bool = field(default=False, metadata={
        "help": "Also train a backward LM and classifier (ULMFiT's second direction: the same tokenizer and reviews, "
                "read from the end; folders lm_backward/ and sentiment_backward/) and publish the ensemble of both "
                "classifiers, which averages their probabilities, as output_dir/model. About doubles the LM and "
                "sentiment time. On in the full and gpu presets (`--backward false` turns it off)."})
    # Validation called it a tie on sentiment and a loss on the stars (docs/results.md, "Both classifiers adversarial").
    adversarial_backward: bool = field(default=False, metadata={
        "help": "With adversarial training on (--adversarial_weight), the backward classifier trains adversarially "
                "too (about 14 minutes more in the full preset: an adversarial step costs about twice a plain one); "
                "false: the forward one alone."})
    classifier_seeds: int = field(default=1, metadata={
        "help": "Classifiers fine-tuned per direction, each from the same LM with its own training seed (the job's, "
                "then +1, +2 ...; folders sentiment_seed2/, sentiment_backward_seed2/ ...); above 1 the published "
                "model is the ensemble of all of them. Each adds a fine-tune per direction."})
    precision: str = field(default="fp32", metadata={
        "help": "fp32 | bf16 (bfloat16 autocast in every stage; the weights stay float32) | auto (bf16 where it is "
                "fast: a CPU with AMX or a GPU that supports it; fp32 elsewhere). The full preset sets auto, and in "
                "fp32 trains a shorter LM to keep its time (presets.py). TrainingArguments' own --bf16 flag, when "
                "given, wins."})
    pretrain_lm: bool = field(default=True, metadata={
        "help": "Train (or fine-tune) a language model first and start the classifiers from it, as ULMFiT does; "
                "false: the classifiers train from scratch (the comparison that shows what the LM is worth)."})
    lm_steps: int | None = field(default=None, metadata={
        "help": "Training steps of each LM stage, over the preset's (TrainingArguments' --max_steps sizes every "
                "stage at once)."})
    classifier_epochs: float | None = field(default=None, metadata={
        "help": "Epochs of each classifier stage, over the preset's."})
    push_to_hub: bool = field(default=False, metadata={
        "help": "Push the finished model folder (weights, tokenizer, code and its model card) to the Hub; the token "
                "comes from `hf auth login` or $HF_TOKEN."})
    hub_model_id: str | None = field(default=None, metadata={
        "help": "The Hub repo to push to (`name` or `owner/name`); default: the name of output_dir, as Trainer."})

    def __post_init__(self):
        # Checked on every construction, so on the values a job runs with: `with_preset` builds them anew.
        check_choice("rating_target", self.rating_target, RATING_TARGETS)
        check_choice("rating_init_from", self.rating_init_from, RATING_STARTS)
        check_choice("heads", self.heads, HEADS)
        if self.classifier_seeds < 1:
            raise ValueError(f"classifier_seeds is {self.classifier_seeds}: use 1 (one classifier per direction) or "
                             "more.")
        self._bfloat16 = uses_bfloat16(self.precision)  # once: "auto" asks this machine

    @property
    def bfloat16(self) -> bool:
        """Whether the stages train under bfloat16 autocast: `precision` resolved on this machine (TrainingArguments'
        own --bf16, when the user gives it, wins: `stage_training_args`)."""
        return self._bfloat16


def check_choice(name: str, value: str, allowed: tuple[str, ...]):
    """Refuse a value outside `allowed`, naming the field and the values it takes."""
    if value not in allowed:
        raise ValueError(f"Unknown {name} {value!r}; use one of {allowed}.")


def uses_bfloat16(precision: str) -> bool:
    """Whether `precision` (fp32, bf16, auto) trains under bfloat16 autocast here; auto: where bfloat16 is fast."""
    check_choice("precision", precision, PRECISIONS)
    return precision == "bf16" or (precision == "auto" and bfloat16_is_fast())


def with_preset(cls, preset_values: dict, user=None, explicit: frozenset[str] = frozenset()):
    """Defaults, then the preset's values, then every field the user set: to something other than its default, or
    named in `explicit` (the fields given on the command line or in the arguments file), so that a user can set a
    field back to its default over a preset (`--preset full --backward false`)."""
    default = cls()
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(preset_values) - names
    if unknown:
        raise ValueError(f"Preset sets unknown fields {sorted(unknown)} on {cls.__name__}.")
    user_set = {n: getattr(user, n) for n in names
                if user is not None and (n in explicit or getattr(user, n) != getattr(default, n))}
    return dataclasses.replace(default, **{**preset_values, **user_set})


def with_config_preset(model_args: ModelArguments, preset_overrides: dict) -> ModelArguments:
    """RNNConfig's defaults, then the preset's overrides, then the user's `--config_overrides`."""
    return dataclasses.replace(model_args, config_overrides={**preset_overrides, **model_args.config_kwargs()})


def member_stage(name: str, member: int) -> str:
    """The folder of a direction's `member`-th classifier (from 1): the first keeps the direction's own name."""
    return name if member == 1 else f"{name}_seed{member}"


def member_stages(job: JobArguments, name: str) -> list[str]:
    """The folders of a direction's classifiers, one per seed (`classifier_seeds`): `name`, `name_seed2` ..."""
    return [member_stage(name, member) for member in range(1, job.classifier_seeds + 1)]


def job_stages(job: JobArguments) -> tuple[str, ...]:
    """Every stage folder this job may write, in order (STAGES, and each further classifier member's)."""
    extra = [stage for name in ("sentiment", "sentiment_backward") for stage in member_stages(job, name)[1:]]
    return (*STAGES, *extra)


def stage_training_args(job: JobArguments, stage: str, kind: str, overrides: dict, user: dict,
                        member: int = 1) -> TrainingArguments:
    """TrainingArguments for one stage: common settings, then the preset's, then the user's command line; the
    `member`-th classifier of a direction trains with the job's training seed + member - 1."""
    settings = {**COMMON[kind], **overrides, **stage_size(job, kind), "bf16": job.bfloat16, **user}
    settings.update(cpu_bfloat16_settings(settings["bf16"]))
    if job.final_fit and kind == "classifier":
        settings["eval_strategy"] = "no"  # the validation reviews are training data now
    seed = (job.seed if job.training_seed is None else job.training_seed) + member - 1
    return TrainingArguments(output_dir=str(Path(job.output_dir) / stage), seed=seed, **settings)


def stage_size(job: JobArguments, kind: str) -> dict:
    """The job's own sizing of a kind of stage (`lm_steps`, `classifier_epochs`), when set."""
    if kind == "lm" and job.lm_steps:
        return {"max_steps": job.lm_steps}
    if kind == "classifier" and job.classifier_epochs:
        return {"num_train_epochs": job.classifier_epochs, "max_steps": -1}
    return {}


def all_labelled_for_training(dsd: datasets.DatasetDict) -> datasets.DatasetDict:
    """The classifiers' data for a final fit: the validation split joins train; test and the rest are unchanged."""
    merged = datasets.concatenate_datasets([dsd[split] for split in ("train", "validation") if split in dsd])
    return datasets.DatasetDict({"train": merged, **{s: dsd[s] for s in dsd if s not in ("train", "validation")}})


def reports_test(job: JobArguments) -> bool:
    """Whether the run prints test figures: only for a final reading (`--final_fit` or `--report_test`)."""
    return job.final_fit or job.report_test


@dataclass
class StageRunner:
    """The stages of one job, each resumable and timed in its folder under `job.output_dir`. What every stage shares
    is held here, so that a call names only what differs: the stage, its data, where it starts from."""

    job: JobArguments
    tokenizer: object
    dsd: datasets.DatasetDict  # every split as loaded: the language models read them
    labelled: datasets.DatasetDict  # the classifiers' splits (`all_labelled_for_training` for a final fit)
    data_args: DataArguments
    ulmfit: ULMFiTArguments
    preset: dict  # the preset's sections as this job runs them (`preset_for`)
    user: dict  # the TrainingArguments fields the user set, over every stage's
    semi_supervised: SemiSupervisedArguments = field(default_factory=SemiSupervisedArguments)

    @property
    def output_dir(self) -> Path:
        return Path(self.job.output_dir)

    @property
    def classifier_ulmfit(self) -> ULMFiTArguments:
        """ULMFiT's settings for the classifiers: without an LM stage they train from scratch, and discriminative
        rates and gradual unfreezing are for fine-tuning a pretrained model."""
        if self.job.pretrain_lm:
            return self.ulmfit
        return dataclasses.replace(self.ulmfit, discriminative_decay=1.0, gradual_unfreezing_steps=0)

    def language_model(self, name: str, start_from: ModelArguments) -> dict:
        """The LM stage `name` (`lm`, `lm_backward`), a new LM or `start_from.init_from` fine-tuned on the task's
        text; returns its recorded metrics."""
        return timed_stage(self.output_dir / name, lambda: pretrain_language_model(
            self.tokenizer, self.dsd, self.data_args, start_from, self.ulmfit,
            stage_training_args(self.job, name, "lm", self.preset["lm_training"], self.user)))[1]

    def classifier(self, name: str, data_args: DataArguments, start: ModelArguments,
                   adversarial: AdversarialArguments, member: int = 1) -> dict:
        """A direction's `member`-th classifier (folder `member_stage(name, member)`) for `data_args.target`, from
        `start`, with the `adversarial` terms; returns its recorded metrics."""
        stage = member_stage(name, member)
        args = stage_training_args(self.job, stage, "classifier", self.preset["classifier_training"], self.user,
                                   member)
        semi = self.semi_supervised if data_args.target in SEMI_SUPERVISED_TARGETS else SemiSupervisedArguments()

        def train(dsd: datasets.DatasetDict, folder: Path) -> dict:
            return train_classifier(self.tokenizer, dsd, data_args, start, self.classifier_ulmfit,
                                    dataclasses.replace(args, output_dir=str(folder)), adversarial,
                                    report_test=reports_test(self.job), consistency=semi.consistency())

        folder = self.output_dir / stage
        if not semi.self_training_rounds:
            return timed_stage(folder, lambda: train(self.labelled, folder))[1]
        pool = unlabeled_pool(self.labelled, semi.pseudo_label_pool, seed=args.seed)
        return timed_stage(folder, lambda: self_train(train, self.labelled, pool, self.tokenizer, folder, semi,
                                                      max_length=data_args.max_length))[1]

    def classifier_members(self, name: str, data_args: DataArguments, start: ModelArguments,
                           adversarial: AdversarialArguments, two_heads: bool, rating_name: str) -> dict:
        """A direction's classifiers, one per seed (`classifier_seeds`), each in its `member_stage` folder; their
        figures under those names (the first's under `name` and `rating_name`)."""
        results = {}
        for member in range(1, self.job.classifier_seeds + 1):
            metrics = self.classifier(name, data_args, start, adversarial, member)
            results.update(named_figures(metrics, two_heads, member_stage(name, member),
                                         member_stage(rating_name, member)))
        return results

    def ensemble(self, members: list, data_args: DataArguments, ngram: NgramLogisticArguments) -> dict:
        """The ensemble of the finished classifiers in `members` (and the bag-of-words member, when `ngram` enables
        it); returns its recorded figures."""
        args = stage_training_args(self.job, "ensemble", "classifier", self.preset["classifier_training"], self.user)
        return timed_stage(self.output_dir / "ensemble", lambda: ensemble_classifiers(
            self.tokenizer, self.labelled, data_args, members, args, ngram, report_test=reports_test(self.job)))[1]


def tokenizer_stage(tok_args: TokenizerArguments, dsd: datasets.DatasetDict, output_dir: Path):
    """The job's tokenizer, trained (or loaded) in `output_dir/tokenizer`, resumable and timed."""
    folder = output_dir / "tokenizer"
    return timed_stage(folder, lambda: prepare_tokenizer(tok_args, dsd, folder))[0]


def forward_direction(runner: StageRunner, model_args: ModelArguments, sentiment_data: DataArguments,
                      two_heads: bool, has_ratings: bool, adversarial: AdversarialArguments) -> dict:
    """The forward classifiers: sentiment (with a rating head when `two_heads`), one per seed, from the LM (or from
    scratch without one); then, with separate heads, a rating model from `rating_init_from`."""
    job, out = runner.job, runner.output_dir
    from_lm = dataclasses.replace(model_args, init_from=str(out / "lm") if job.pretrain_lm else None)
    results = runner.classifier_members("sentiment", sentiment_data, from_lm, adversarial, two_heads, "rating")
    if not two_heads and job.rating and has_ratings:
        rating_data = dataclasses.replace(runner.data_args, target=job.rating_target)
        rating_from = dataclasses.replace(model_args, init_from=str(out / job.rating_init_from))
        results["rating"] = runner.classifier("rating", rating_data, rating_from, adversarial)
    return results


def backward_direction(runner: StageRunner, model_args: ModelArguments, sentiment_data: DataArguments,
                       two_heads: bool, adversarial: AdversarialArguments) -> dict:
    """ULMFiT's second direction: a backward LM (`reverse_text=True`) on the same tokenizer and reviews, then
    backward classifiers from it for the same target as the forward ones; each stage resumable in its own folder."""
    if model_args.lm_init_from:  # a pretrained LM reads forward: it cannot start a backward one
        logger.warning("--lm_init_from is a forward LM: the backward LM trains from scratch on the reviews.")
    overrides = {**model_args.config_kwargs(), "reverse_text": True}
    backward = dataclasses.replace(model_args, init_from=None, lm_init_from=None, config_overrides=overrides)
    if not runner.job.pretrain_lm:
        return runner.classifier_members("sentiment_backward", sentiment_data, backward, adversarial, two_heads,
                                         "rating_backward")
    results = {"lm_backward": runner.language_model("lm_backward", backward)}
    from_lm = dataclasses.replace(model_args, init_from=str(runner.output_dir / "lm_backward"))
    return {**results, **runner.classifier_members("sentiment_backward", sentiment_data, from_lm, adversarial,
                                                   two_heads, "rating_backward")}


def named_figures(metrics: dict, two_heads: bool, sentiment: str, rating: str) -> dict:
    """A classifier stage's figures under its name in the results; a two-head stage's split into its sentiment and
    its rating figures."""
    return dict(zip((sentiment, rating), split_two_head_metrics(metrics))) if two_heads else {sentiment: metrics}


def split_two_head_metrics(metrics: dict) -> tuple[dict, dict]:
    """A two-head stage's metrics as a sentiment stage's and a rating stage's (`validation_rating_mae` ->
    `validation_mae`); the training figures (time, loss) belong to both."""
    is_rating = lambda key: "_rating_" in key
    evaluated = lambda key: key.startswith(("validation_", "test_"))
    sentiment = {k: v for k, v in metrics.items() if not is_rating(k)}
    rating = {k.replace("_rating_", "_"): v for k, v in metrics.items() if is_rating(k)}
    rating.update({k: v for k, v in metrics.items() if not evaluated(k)})
    return sentiment, rating


def ngram_for_heads(ngram: NgramLogisticArguments, two_heads: bool) -> NgramLogisticArguments:
    """The bag-of-words member's settings for the published model's heads: without a rating head in it (separate
    sentiment and rating models, or data without ratings) the bag's share of the stars has nothing to join."""
    if two_heads or ngram.ngram_logistic_rating_weight == 0:
        return ngram
    logger.warning("--ngram_logistic_rating_weight %s ignored: the published model has no rating head (use --heads "
                   "shared, with ratings in the data, to give the bag its share of the stars).",
                   ngram.ngram_logistic_rating_weight)
    return dataclasses.replace(ngram, ngram_logistic_rating_weight=0.0)


def run_imdb(job: JobArguments, data_args=None, tok_args=None, model_args=None, ulmfit=None, adversarial=None,
             ngram=None, semi_supervised=None, user_training_overrides: dict | None = None,
             explicit_fields: frozenset[str] = frozenset()) -> dict:
    """Run every stage of the main job on IMDB and return the final metrics (also written to `results.json`).

    `explicit_fields`: names of the fields the user set, which win over the preset even where they equal the
    field's default (`hf-rnn imdb` passes those of its command line or arguments file)."""
    return run_job(job, data_args, tok_args, model_args, ulmfit, adversarial, ngram, user_training_overrides,
                   explicit_fields, task=IMDB_TASK, semi_supervised=semi_supervised)


@dataclass(frozen=True)
class Task:
    """What a job runs on: how it loads its labelled and unlabelled text (`load(data_args, seed)` -> DatasetDict), the
    presets it sizes itself by, and how its model card names the data."""

    load: object
    presets: dict
    card: dict


IMDB_TASK = Task(load=load_imdb, presets=PRESETS, card={})


def run_job(job: JobArguments, data_args=None, tok_args=None, model_args=None, ulmfit=None, adversarial=None,
            ngram=None, user_training_overrides: dict | None = None, explicit_fields: frozenset[str] = frozenset(),
            task: Task = IMDB_TASK, semi_supervised: SemiSupervisedArguments | None = None) -> dict:
    """Every stage of the job (tokenizer, LM, classifiers, ensemble, publication) on `task`'s data."""
    presets = task.presets
    if job.preset not in presets:
        raise ValueError(f"Unknown preset {job.preset!r}; use one of {sorted(presets)}.")
    user = user_training_overrides or {}
    job = with_preset(JobArguments, presets[job.preset].get("job", {}), job, explicit_fields)  # checked as built
    bf16 = user.get("bf16", job.bfloat16)
    preset = preset_for(job.preset, bf16, presets)
    if preset is not presets[job.preset]:  # preset_for changed it: its float32 section applies
        logger.warning("Training in float32 here (precision %r), so the %r preset's float32 sizes apply: %s.",
                       job.precision, job.preset, presets[job.preset]["float32"])
    data_args = with_preset(DataArguments, preset["data"], data_args, explicit_fields)
    tok_args = with_preset(TokenizerArguments, preset["tokenizer"], tok_args, explicit_fields)
    model_args = with_config_preset(model_args or ModelArguments(), preset["model"])
    ulmfit = with_preset(ULMFiTArguments, preset["ulmfit"], ulmfit, explicit_fields)
    adversarial = with_preset(AdversarialArguments, preset.get("adversarial", {}), adversarial, explicit_fields)
    ngram = with_preset(NgramLogisticArguments, preset.get("ngram_logistic", {}), ngram, explicit_fields)
    start, out = time.time(), Path(job.output_dir)
    resumed = started_stages(out, job_stages(job))
    dsd = task.load(data_args, seed=job.seed)
    has_ratings = "rating" in dsd["train"].column_names
    if job.rating and not has_ratings and task is IMDB_TASK:
        logger.warning("This data source has no ratings (the Hub's stanfordnlp/imdb drops them): rating skipped.")
    two_heads = job.heads == "shared" and job.rating and has_ratings
    sentiment_data = dataclasses.replace(data_args, target=TWO_HEAD_TARGET) if two_heads else data_args
    semi_supervised = semi_supervised or SemiSupervisedArguments()
    check_semi_supervised(semi_supervised, sentiment_data, dsd)
    tokenizer = tokenizer_stage(tok_args, dsd, out)
    labelled = all_labelled_for_training(dsd) if job.final_fit else dsd
    runner = StageRunner(job, tokenizer, dsd, labelled, data_args, ulmfit, preset, user, semi_supervised)
    # ULMFiT's hand-off: with --lm_init_from the LM stage fine-tunes a pretrained (general-domain) LM on the reviews
    lm_start = dataclasses.replace(model_args, init_from=model_args.lm_init_from or model_args.init_from)
    results = run_settings(job, data_args, dsd, lm_start, ulmfit, adversarial, bf16)
    results["semi_supervised"] = dataclasses.asdict(semi_supervised) if semi_supervised.enabled else None
    results["lm"] = runner.language_model("lm", lm_start) if job.pretrain_lm else {}
    results.update(forward_direction(runner, model_args, sentiment_data, two_heads, has_ratings, adversarial))
    if job.backward:
        backward_terms = adversarial if job.adversarial_backward else AdversarialArguments()
        results.update(backward_direction(runner, model_args, sentiment_data, two_heads, backward_terms))
    members = [out / stage for name in ("sentiment", "sentiment_backward") if name in results
               for stage in member_stages(job, name)]
    ngram = ngram_for_task(ngram_for_heads(ngram, two_heads), dsd, data_args)
    results["ngram_logistic"] = dataclasses.asdict(ngram) if ngram.enabled else None
    if len(members) > 1 or ngram.enabled:  # a single classifier with a bag-of-words member is an ensemble too
        ensemble = runner.ensemble(members, sentiment_data, ngram)
        results.update(named_figures(ensemble, two_heads, "ensemble", "ensemble_rating"))
    results["stage_seconds"] = recorded_seconds(out, job_stages(job))
    results["wall_time_s"] = time.time() - start
    results["resumed_stages"] = resumed
    if multi_label(dsd, data_args):
        results["multi_label_threshold"] = choose_threshold(members or [out / "sentiment"])
    finish(job, results, data_args, task.card)
    return results


def check_semi_supervised(semi: SemiSupervisedArguments, sentiment_data: DataArguments, dsd):
    """The semi-supervised pieces serve one single-label head: a clear error, before any classifier trains, for a
    job whose main classifier is anything else."""
    if not semi.enabled:
        return
    if sentiment_data.target not in SEMI_SUPERVISED_TARGETS:
        raise ValueError(f"Self-training and consistency training serve one single-label head, not target "
                         f"{sentiment_data.target!r}: add --heads separate (or --rating false), or set "
                         "--self_training_rounds 0 --consistency_weight 0.")
    feature = dsd["train"].features.get("label")
    if sentiment_data.target == "label" and problem_type_of(feature) != "single_label_classification":
        raise ValueError(f"Self-training and consistency training serve single-label classification; this task is "
                         f"{problem_type_of(feature)}: set --self_training_rounds 0 --consistency_weight 0.")


def run_settings(job: JobArguments, data_args: DataArguments, dsd, lm_start: ModelArguments,
                 ulmfit: ULMFiTArguments, adversarial: AdversarialArguments, bf16: bool) -> dict:
    """The settings a run's results open with (results.json, the model card)."""
    return {"preset": job.preset, "final_fit": job.final_fit, "lm_init_from": lm_start.init_from,
            "lm_unlabeled": data_args.lm_unlabeled, "unlabeled_texts": len(dsd["unsupervised"])
            if "unsupervised" in dsd else 0, "seed": job.seed, "training_seed": job.training_seed,
            "adversarial": dataclasses.asdict(adversarial) if adversarial.enabled else None,
            "adversarial_backward": job.backward and adversarial.enabled and job.adversarial_backward,
            "bf16": bf16, "classifier_seeds": job.classifier_seeds,
            "weight_averaging_start": ulmfit.weight_averaging_start}


def multi_label(dsd, data_args: DataArguments) -> bool:
    return data_args.target == "label" and problem_type_of(dsd["train"].features["label"]) == \
        "multi_label_classification"


def ngram_for_task(ngram: NgramLogisticArguments, dsd, data_args: DataArguments) -> NgramLogisticArguments:
    """The bag-of-words member is a single-label classifier (softmax over classes): off, said in the log, for a
    multi-label or regression task."""
    feature = dsd["train"].features.get("label")
    if not ngram.enabled or data_args.target != "label" or problem_type_of(feature) == "single_label_classification":
        return ngram
    logger.warning("The bag-of-words member (--ngram_logistic_weight) serves single-label classification only: off "
                   "for this %s task.", problem_type_of(feature))
    return NgramLogisticArguments()


# What a stage folder holds beside the model and is not published: the job's bookkeeping, the saved outputs on the
# evaluated reviews (the ensemble stage's inputs), Trainer's pickled arguments (safetensors and JSON only), and the
# earlier self-training rounds' classifiers.
NOT_PUBLISHED = ("checkpoint-*", "stage_done.json", "predictions_*.safetensors", "training_args.bin",
                 "self_training")


def finish(job: JobArguments, results: dict, data_args: DataArguments, card: dict | None = None):
    """Publish the sentiment model (with more than one classifier, their ensemble: both directions, every seed) as
    `output_dir/model` with a model card (and, with `push_to_hub`, on the Hub), and write results.json."""
    out = Path(job.output_dir)
    split = "test" if reports_test(job) else "validation"
    model_dir = out / "model"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    published = out / ("ensemble" if "ensemble" in results else "sentiment")
    shutil.copytree(published, model_dir, ignore=shutil.ignore_patterns(*NOT_PUBLISHED))
    if "multi_label_threshold" in results:  # served by `hf-rnn predict`: every label at or above it
        set_config_field(model_dir, CONFIG_FIELD, results["multi_label_threshold"][CONFIG_FIELD])
    repo_id = hub_repo(job) if job.push_to_hub else None  # first: the card names the repo its readers load from
    write_model_card(model_dir, results, job, data_args, repo_id, **(card or {}))
    (out / "results.json").write_text(json.dumps(results, indent=2, default=float))
    if repo_id:
        HfApi().upload_folder(repo_id=repo_id, folder_path=model_dir,
                              commit_message=f"hf_rnn job, preset {job.preset}: {summary_line(results, split)}")
        logger.info("Pushed %s to https://huggingface.co/%s", model_dir, repo_id)
    print(summary_line(results, split))


def set_config_field(model_dir: Path, name: str, value):
    """Write one field into a saved model's config.json (atomically)."""
    path = model_dir / "config.json"
    config = json.loads(path.read_text())
    config[name] = value
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def hub_repo(job: JobArguments) -> str:
    """Create (or reuse) the Hub repo the model goes to and return its full id (`owner/name`)."""
    name = job.hub_model_id or Path(job.output_dir).resolve().name
    return HfApi().create_repo(name, exist_ok=True).repo_id


HEADLINE_METRICS = ("accuracy", "f1_micro", "mae")  # single-label, multi-label, regression


def headline_metric(figures: dict) -> str:
    """The figure a task is summed up by: accuracy, micro F1 for multi-label, MAE for regression."""
    return next((name for name in HEADLINE_METRICS if any(key.endswith(f"_{name}") for key in figures)), "accuracy")


def summary_line(results: dict, split: str = "validation") -> str:
    """One line a person reads at the end: the task's headline figure on `split` (each direction and the ensemble),
    rating error, wall time. Test figures only for a final reading (`reports_test`); validation ones otherwise."""
    metric = headline_metric(results["sentiment"])
    accuracy = lambda stage: results[stage].get(f"{split}_{metric}", float("nan"))
    line = f"[{results['preset']}] {split} {metric.replace('_', ' ')} {accuracy('sentiment'):.4f}"
    if "sentiment_backward" in results:
        line += f" (backward {accuracy('sentiment_backward'):.4f})"
    if "ensemble" in results:
        line += f" (ensemble {accuracy('ensemble'):.4f})"
    rating_stage = published_stages(results)[1]  # the served model's rating: with --backward, the ensemble's
    if rating_stage in results:
        rating = results[rating_stage]
        mae, exact = rating.get(f"{split}_mae", float("nan")), rating.get(f"{split}_exact", 0)
        line += f", rating MAE {mae:.3f}, exact {exact:.3f}"
    return line + f", LM perplexity {results['lm'].get('eval_perplexity', float('nan')):.1f}, " \
                  f"wall time {results['wall_time_s'] / 60:.1f} min" + resumed_note(results)



TRAINING_FIELDS = {f.name for f in dataclasses.fields(TrainingArguments)}


JOB_DATACLASSES = (JobArguments, DataArguments, TokenizerArguments, ModelArguments, ULMFiTArguments,
                   AdversarialArguments, NgramLogisticArguments, SemiSupervisedArguments)


def main(argv=None):
    """`hf-rnn imdb`: the job, stage and (a subset of) training arguments, from the command line or from one
    .json/.yaml file that holds them all (`hf-rnn imdb job.yaml`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parsed, user_training = parse_job_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    results = run_imdb(*parsed, user_training_overrides=user_training, explicit_fields=explicit_fields(argv))
    leave_process_group()  # under torchrun: a clean exit once every stage is saved
    return results


def explicit_fields(argv: list[str]) -> frozenset[str]:
    """The fields the user set: every key of an arguments file, or every `--name` (`--name=value`, and `--no_name`
    for a flag) on the command line."""
    path = arguments_file(argv)
    if path is not None:
        return frozenset(read_arguments_file(path))
    names = {arg[2:].split("=", 1)[0] for arg in argv if arg.startswith("--")}
    return frozenset(names | {name[3:] for name in names if name.startswith("no_")})


def parse_job_arguments(argv: list[str], dataclass_types: tuple = JOB_DATACLASSES) -> tuple[list, dict]:
    """The job's dataclasses and the TrainingArguments fields the user set, from a file or the command line."""
    parser = HfArgumentParser(dataclass_types)
    path = arguments_file(argv)
    if path is None:
        *parsed, rest = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
        return parsed, parse_training_overrides(rest)
    values = read_arguments_file(path)
    job_fields = {f.name for cls in dataclass_types for f in dataclasses.fields(cls)}
    parsed = parser.parse_dict({name: value for name, value in values.items() if name in job_fields})
    training = {name: value for name, value in values.items() if name not in job_fields}
    return list(parsed), checked_training_overrides(training, where=str(path))


def checked_training_overrides(values: dict, where: str) -> dict:
    """TrainingArguments fields, or an error naming the ones that are no field of any of the job's classes."""
    unknown = sorted(set(values) - TRAINING_FIELDS)
    if unknown:
        raise SystemExit(f"Unrecognised arguments {unknown} in {where}: use fields of the job, data, model, "
                         "tokenizer, ULMFiT or TrainingArguments classes.")
    return values


def parse_training_overrides(rest: list[str]) -> dict:
    """`--name value` pairs for TrainingArguments fields (e.g. `--learning_rate 1e-3`), typed by that class."""
    if not rest:
        return {}
    if len(rest) % 2 or not all(arg.startswith("--") for arg in rest[::2]):
        raise SystemExit(f"Unrecognised arguments {rest}: pass `--field value` pairs of the job, data, model, "
                         "tokenizer, ULMFiT or TrainingArguments fields.")
    names = checked_training_overrides(dict.fromkeys(arg[2:] for arg in rest[::2]), where="the command line")
    (typed,) = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(args=["--output_dir", "x", *rest])
    return {name: getattr(typed, name) for name in names}
