"""The IMDB job's model card, rendered with huggingface_hub.ModelCard from a run's real metrics; training curves."""

import json
import logging
import os
import platform
from importlib import resources
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from tokenizers import Tokenizer

from ...machine import cpu_name_and_vector_unit
from ...plotting import plot_training_curves
from ...tokenization import CASE_MARKERS
from ...training.stage_data import evaluation_length

logger = logging.getLogger(__name__)
TEMPLATE = "imdb_classifier.md"  # in model_cards/, installed as the package hf_rnn.model_cards
CURVES = "training_curves.png"


# The result stages, in the order the card lists them: the published model's first (with a backward direction,
# the ensemble's), then each direction's.
FORWARD_STAGES = ("sentiment", "rating")
BACKWARD_STAGES = ("sentiment_backward", "rating_backward")
ENSEMBLE_STAGES = ("ensemble", "ensemble_rating")


def published_stages(results: dict) -> tuple[str, str]:
    """Where the figures of the model the folder serves are: the forward + backward ensemble's when the run has
    one, else the forward classifier's; the rating's from the ensemble's second heads, else the forward rating
    (its second head, or the separate rating model, which has no backward twin)."""
    sentiment = "ensemble" if "ensemble" in results else "sentiment"
    return sentiment, "ensemble_rating" if "ensemble_rating" in results else "rating"


def eval_results(results: dict, dataset_type: str = "stanfordnlp/imdb", dataset_name: str = "IMDB") -> list[EvalResult]:
    """model-index entries (Hub-valid metadata) for the test metrics of the published model."""
    entries = []
    sentiment, rating = published_stages(results)
    named = [(sentiment, metric, f"test_{metric}") for metric in ("accuracy", "f1", "f1_macro", "f1_micro")]
    for stage, metric, name in (*named, (rating, "mae", "test_mae")):
        value = results.get(stage, {}).get(name)
        if value is not None:
            entries.append(EvalResult(task_type="text-classification", dataset_type=dataset_type,
                                      dataset_name=dataset_name, dataset_split="test", metric_type=metric,
                                      metric_value=round(float(value), 4),
                                      metric_name=f"{stage} {metric}"))
    return entries


def member_seeds(results: dict) -> range:
    """The further classifier members' numbers (2, 3 ... of `sentiment_seed2` ...) a job with --classifier_seeds has."""
    return range(2, results.get("classifier_seeds", 1) + 1)


def seed_member_stages(results: dict, stages: tuple[str, ...]) -> list[str]:
    """The further seeds' figures of these stages (`sentiment_seed2`, ...), in seed order."""
    return [f"{stage}_seed{k}" for k in member_seeds(results) for stage in stages if f"{stage}_seed{k}" in results]


def direction_named(stage: str) -> str:
    """A forward stage's name beside an ensemble, where "sentiment" alone would read as the served model's figure:
    `sentiment_forward`, `rating_forward_seed2`."""
    name, _, seed = stage.partition("_seed")
    return f"{name}_forward" + (f"_seed{seed}" if seed else "")


def result_rows(results: dict) -> list[dict]:
    rows, ensemble = [], "ensemble" in results
    forward = (*FORWARD_STAGES, *seed_member_stages(results, FORWARD_STAGES))
    backward = (*BACKWARD_STAGES, *seed_member_stages(results, BACKWARD_STAGES))
    order = (*ENSEMBLE_STAGES, *forward, *backward) if ensemble else FORWARD_STAGES
    for stage in order:
        shown = direction_named(stage) if ensemble and stage in forward else stage
        for key, value in sorted(results.get(stage, {}).items()):
            split, _, metric = key.partition("_")
            if split in ("validation", "test") and metric not in ("runtime", "samples_per_second", "steps_per_second",
                                                                   "loss", "model_preparation_time"):
                rows.append({"split": f"{shown} {split}", "metric": metric, "value": f"{value:.4f}"})
    return rows


def recorded_stage_seconds(results: dict) -> dict | None:
    """Each stage's own duration, when every stage recorded one (a job resumed across invocations adds them up)."""
    seconds = results.get("stage_seconds") or {}
    return seconds if seconds and all(value is not None for value in seconds.values()) else None


def resumed_note(results: dict) -> str:
    """Says when the wall time covers only the last invocation of a resumed job, and then what the stages took in
    all, where every stage recorded its own duration."""
    stages = results.get("resumed_stages")
    if not stages:
        return ""
    seconds = recorded_stage_seconds(results)
    total = (f"; stages took {', '.join(f'{stage} {value / 60:.1f}' for stage, value in seconds.items())} min, "
             f"{sum(seconds.values()) / 60:.1f} in all" if seconds else "")
    return f" (this invocation only; resumed {', '.join(stages)}{total})"


def review_lengths(data_args) -> str:
    """How much of each review the classifiers trained on and were evaluated on."""
    evaluated = evaluation_length(data_args)
    if evaluated == data_args.max_length:
        return f"max {data_args.max_length} tokens per review"
    return (f"max {data_args.max_length} tokens per review in training, "
            f"{f'max {evaluated}' if evaluated else 'whole reviews'} in evaluation")


def rating_note(results: dict, job, config: dict) -> str:
    """What the job's rating model (beside this one, or this model's second head) was and where it started from,
    when the job trained one."""
    if "rating" not in results:
        return ""
    if config.get("auxiliary_label_names"):
        return ("; one model, two heads: the sentiment head and a 1-10 rating head (ten classes), fine-tuned together "
                "once from the language model")
    start = "the sentiment classifier" if job.rating_init_from == "sentiment" else "the language model"
    return f"; the 1-10 rating model (`{job.rating_target}`) was fine-tuned from {start}"


def adversarial_note(results: dict) -> str:
    """The embedding-perturbation terms the classifiers trained with, and which direction, when any were on."""
    terms = results.get("adversarial")
    if not terms:
        return ""
    weights = ", ".join(f"{name} {terms[name]}" for name in ("adversarial_weight", "virtual_adversarial_weight",
                                                            "entropy_weight") if terms.get(name))
    which = "" if "lm_backward" not in results else (
        ", both directions" if results.get("adversarial_backward") else ", the forward classifier only")
    heads = ", on the sentiment head's loss only" if terms.get("adversarial_main_head_only") else ""
    return (f"; adversarial training on the word embeddings ({weights}; epsilon {terms['adversarial_epsilon']} of a "
            f"review's embedding norm{heads}{which})")


def semi_supervised_note(results: dict) -> str:
    """The semi-supervised pieces the sentiment classifiers trained with, when any were on."""
    settings = results.get("semi_supervised")
    if not settings:
        return ""
    parts = []
    if settings["self_training_rounds"]:
        parts.append(f"{settings['self_training_rounds']} rounds of self-training (round r adds r x "
                     f"{settings['pseudo_label_share']:g} of {settings['pseudo_label_pool']:,} unlabelled texts, the "
                     f"most confident per class)")
    if settings["consistency_weight"]:
        perturbation = PERTURBATION_NAMES[settings.get("consistency_perturbation", "word_dropout")]
        parts.append(f"consistency training on unlabelled texts (weight {settings['consistency_weight']:g}, "
                     f"{perturbation} {settings['consistency_word_dropout']:g}, confidence "
                     f"{settings['consistency_confidence']:g}, temperature {settings['consistency_temperature']:g})")
    return "; " + " and ".join(parts)


PERTURBATION_NAMES = {"word_dropout": "word dropout", "tfidf_replacement": "TF-IDF word replacement"}


def precision_note(results: dict) -> str:
    """Bfloat16 autocast changes the arithmetic of every stage (not the saved float32 weights): say so."""
    return "; every stage trained under bfloat16 autocast (float32 weights)" if results.get("bf16") else ""


def wall_time_note(results: dict) -> str:
    """The job's time: of this invocation, or for a resumed job the stages' own times added up where recorded."""
    minutes = f"{results['wall_time_s'] / 60:.1f} minutes"
    stages = results.get("resumed_stages")
    if not stages:
        return f"Wall time of the whole job: {minutes}"
    seconds = recorded_stage_seconds(results)
    if not seconds:
        return f"Wall time: {minutes} for this invocation only ({', '.join(stages)} resumed from an earlier one)"
    each = ", ".join(f"{stage} {value / 60:.1f}" for stage, value in seconds.items())
    return (f"Wall time of the whole job: {sum(seconds.values()) / 60:.1f} minutes, its stages' own times added up "
            f"({each} min; {', '.join(stages)} finished in an earlier invocation, this one took {minutes})")


def machine_description() -> str:
    """Cores and CPU, with its widest vector unit: timings differ about 2x between an AVX2 and an AVX-512 host."""
    unit = cpu_name_and_vector_unit()[1]
    return f"{os.cpu_count()} CPU cores ({platform.machine()}{', ' + unit if unit else ''})"


def validation_note(job, data_args) -> str:
    """How the labelled reviews were used: part held out for validation, or all trained on (final fit)."""
    held_out = f"{int(data_args.validation_size * 100)}%"
    if job.final_fit:
        return (f"final fit: the classifiers trained on all of them, with settings chosen before on {held_out} held "
                "out for validation (the choices that also saw test figures are listed in hf_rnn's "
                "docs/results.md#where-a-choice-saw-the-test-split); the language model never trained on those and "
                "measures its perplexity on them")
    return f"{held_out} held out for validation"


def training_data(results: dict, job, data_args) -> str:
    """What the run trained on: the labelled reviews the classifier saw, and the LM's share of the text."""
    labelled = results.get("sentiment", {}).get("train_reviews")
    reviews = f"{labelled:,} labelled IMDB training reviews" if labelled else "the labelled IMDB training reviews"
    lm_text = (f"{data_args.max_lm_documents:,} of the training and unlabelled reviews" if data_args.max_lm_documents
               else "the training and unlabelled (IMDB unsupervised) reviews")
    return f"The classifier trained on {reviews} ({validation_note(job, data_args)}); the language model on {lm_text}."


def lm_perplexity(results: dict) -> str:
    """The language model's validation perplexity, and the backward one's when the run has one."""
    if not results.get("lm"):
        return "no language model (the classifiers trained from scratch)"
    figure = lambda stage: f"{results[stage].get('eval_perplexity', float('nan')):.1f}"
    return figure("lm") + (f" (backward language model: {figure('lm_backward')})" if "lm_backward" in results else "")


def ensemble_note(config: dict) -> str:
    """What an ensemble folder serves (empty for a single classifier): how many classifiers read each direction."""
    if "members" not in config:
        return ""
    backward = sum(bool(member.get("reverse_text")) for member in config["members"])
    forward = len(config["members"]) - backward
    several = max(forward, backward) > 1
    seeds = ", one per training seed and direction," if several else ""
    if len(config["members"]) == 1:  # one classifier beside a bag-of-words member (ngram_member_note says which)
        return "This folder serves an ensemble of one forward classifier and a bag-of-words model."
    if not backward:
        return (f"This folder serves an ensemble of {forward} forward classifiers, one per training seed from the "
                "same language model, their class probabilities averaged. The figures below are the ensemble's and "
                "each member's.")
    members = (f"{forward} forward classifiers and {backward} backward ones" if several
               else "a forward classifier and a backward one")
    return (f"This folder serves an ensemble, as ULMFiT: {members} (from a backward language model, reading each "
            f"text from its end){seeds or ','} their class probabilities averaged. The figures below are the "
            "ensemble's and each member's.")


def ngram_member_note(config: dict) -> str:
    """The ensemble's bag-of-words member and its share, when it has one (empty otherwise)."""
    bag = config.get("ngram_logistic")
    if not bag:
        return ""
    classes, stars = config["ngram_logistic_weight"], config.get("ngram_logistic_auxiliary_weight", 0)
    alone = len(config["members"]) == 1
    averaged = "" if alone else "averaged "
    shares = " and ".join(part for weight, part in (
        (classes, f"{classes:.0%} of the {averaged}class probabilities"),
        (stars, f"{stars:.0%} of the {averaged}star probabilities")) if weight)
    joins = "The bag-of-words member takes" if alone else "A bag-of-words member joins them with"
    second = " and multinomial for the stars" if stars else ""
    return (f" {joins} {shares}: logistic regression on which words and hashed word "
            f"pairs ({bag['buckets']:,} buckets) a text contains, NB-weighted for two classes (Wang & Manning "
            f"2012), multinomial for more{second}, computed from the same token ids inside the model.")


def write_model_card(model_dir, results: dict, job, data_args, repo_id: str | None = None, template: str = TEMPLATE,
                     title: str | None = None, datasets: list[str] | None = None, data_name: str | None = None,
                     metrics: list[str] | None = None) -> Path:
    """Render README.md (and training_curves.png) into model_dir from the run's results; `repo_id`: the Hub repo the
    folder is pushed to, which the card's example then loads from. The general job names its own data: `template`
    (a file in model_cards/), `title`, `datasets` (Hub ids for the card's metadata), `data_name` (in prose) and
    `metrics`; their defaults describe IMDB."""
    model_dir = Path(model_dir)
    saved = json.loads((model_dir / "config.json").read_text())
    config = saved["members"][0] if "members" in saved else saved  # an ensemble: its members share the architecture
    # The model-index names the model as readers find it: its Hub repo, else the run's folder (not "model").
    name = repo_id.split("/")[-1] if repo_id else Path(job.output_dir).resolve().name
    card_data = ModelCardData(language="en", license="apache-2.0", library_name="transformers",
                              tags=["hf_rnn", "lstm", "ulmfit", "text-classification"],
                              datasets=["stanfordnlp/imdb"] if datasets is None else datasets,
                              metrics=metrics or ["accuracy", "f1", "mae"], model_name=name,
                              eval_results=eval_results(results, *([(datasets or ["local"])[0], data_name]
                                                                    if data_name else [])) or None)
    test_size = data_args.max_test_samples
    curves = draw_curves(model_dir)
    card = ModelCard.from_template(
        card_data, template_str=template_text(template), curves=curves,
        model_name=title or f"hf_rnn IMDB sentiment ({job.preset})", data_name=data_name,
        labels=", ".join(f"`{label}`" for label in config.get("id2label", {}).values()),
        problem_type=config.get("problem_type"),
        preset=job.preset, result_rows=result_rows(results),
        ensemble_note=ensemble_note(saved) + ngram_member_note(saved),
        wall_time=wall_time_note(results), machine=machine_description(),
        rating_head=bool(config.get("auxiliary_label_names")),
        test_note=test_note(results, test_size, data_name),
        cell_type=config["cell_type"], num_hidden_layers=config["num_hidden_layers"],
        hidden_size=config["hidden_size"], embedding_size=config["embedding_size"], vocab_size=config["vocab_size"],
        tokenizer=tokenizer_description(model_dir / "tokenizer.json"),
        pooling=config["classifier_pooling"], classifier_dropout=config["classifier_dropout"],
        perplexity=lm_perplexity(results), model_path=repo_id or str(model_dir),
        training_data=training_data(results, job, data_args) if data_name is None else
        general_training_data(results, job, data_args, data_name),
        hyperparameters=f"{review_lengths(data_args)}, LM blocks of {data_args.block_size}, "
                        f"LM loss `{config['lm_loss']}`{rating_note(results, job, config)}{adversarial_note(results)}"
                        f"{semi_supervised_note(results)}"
                        f"{precision_note(results)}",
    )
    card.save(model_dir / "README.md")
    return model_dir / "README.md"


def tokenizer_description(path: Path) -> str:
    """What the run's tokenizer does, read from its tokenizer.json: its model, casing and case markers."""
    if not path.is_file():
        return "tokenizer"
    saved = json.loads(path.read_text(encoding="utf-8"))
    kind = {"WordLevel": "word-level", "BPE": "BPE subword", "Unigram": "Unigram subword"}.get(
        saved["model"]["type"], saved["model"]["type"])
    casing = "lowercased" if '"Lowercase"' in json.dumps(saved.get("normalizer")) else "cased"
    markers = [marker for marker in CASE_MARKERS if Tokenizer.from_file(str(path)).token_to_id(marker) is not None]
    return f"{kind} tokenizer, {casing}, " + (f"with case markers ({', '.join(markers)})" if markers
                                             else "no case markers")


def template_text(name: str = TEMPLATE) -> str:
    """The card template, read from the installed package (a wheel carries it as it carries the code)."""
    return resources.files("hf_rnn.model_cards").joinpath(name).read_text(encoding="utf-8")


def test_note(results: dict, test_size: int | None, data_name: str | None) -> str:
    """Which test rows the figures come from; without a test split, that there are no test figures."""
    if not any(key.startswith("test_") for key in results.get("sentiment", {})):
        return "No test split was read: the figures are validation figures."
    if data_name is not None:
        return (f"Test figures use a seeded random sample of {test_size:,} test rows of {data_name}." if test_size
                else f"Test figures use every test row of {data_name}.")
    return (f"Test figures use a seeded random sample of {test_size} of the 25,000 test reviews."
            if test_size else "Test figures use all 25,000 test reviews.")


def general_training_data(results: dict, job, data_args, data_name: str) -> str:
    """What a general job trained on: its labelled rows and the LM's text."""
    labelled = results.get("sentiment", {}).get("train_reviews")
    rows = f"{labelled:,} labelled rows of {data_name}" if labelled else f"the labelled rows of {data_name}"
    unlabelled = results.get("unlabeled_texts")
    lm_text = (f"their text and {unlabelled:,} unlabelled texts" if unlabelled and data_args.lm_unlabeled
               else "their text")
    start = f", starting from the language model in `{results['lm_init_from']}`" if results.get("lm_init_from") else ""
    return (f"The classifier trained on {rows} ({validation_note(job, data_args)}); the language model on "
            f"{lm_text}{start}.")


def draw_curves(model_dir: Path) -> str | None:
    """Plot every stage's losses beside the card; without matplotlib (optional) the card goes without them, said in
    the log rather than failing a finished job."""
    try:
        drawn = plot_training_curves(model_dir.parent, model_dir / CURVES, skip=(model_dir.name,))
    except ImportError as err:
        logger.warning("Model card without training curves: %s", err)
        return None
    return CURVES if drawn else None

