"""Do the unlabelled reviews help the classifier itself? IMDB test accuracy at few labels with self-training and
consistency training (hf_rnn.training.semi_supervised) beside the LM alone, the label curve's other rows.

    python -m bench --size full --only semi_supervised --run RUN_FOLDER     # RUN_FOLDER: tokenizer/ and lm/ of a job

For each label count and seed: the classifier fine-tuned from the LM on the labels alone (self-training's round 0,
"LM alone"), then with self-training (its last round), then with consistency training. Unlabelled text: the rest of
train (labels hidden; kept aside only to score the pseudo-labels) and the 50k unsupervised reviews. Settings are
fixed in advance (the pieces' defaults, chosen from the papers, not on this data): nothing is chosen on validation,
which is as small as the label count (a user with 100 labels has no 1,000 labelled reviews to validate on) and
only reported. The test sample is read once per configuration. Every finished run is written at once; a rerun
skips the runs already in the result file.
"""

import dataclasses
import functools
import json
import math
import statistics
import time
from pathlib import Path

from common import results_dir, run_metadata, save_plot, write_results
from exp_label_curve import model_arguments, nb_lr_one

NAME = "semi_supervised"
LM_ALONE = "LM alone"
SELF_TRAINING = "LM + self-training"
CURRICULUM = "LM + curriculum self-training"
CONSISTENCY = "LM + consistency"
CONSISTENCY_TFIDF = "LM + consistency (TF-IDF replacement)"
NB_LR = "NB-weighted LR"
CONDITIONS = (LM_ALONE, SELF_TRAINING, CURRICULUM, CONSISTENCY, CONSISTENCY_TFIDF, NB_LR)


@dataclasses.dataclass(frozen=True)
class Settings:
    seeds: dict[int, int]  # label count -> seeds run there
    test_reviews: int
    min_steps: int
    max_steps: int | None  # a cap for smoke runs only
    self_training_rounds: int
    pseudo_label_share: float
    pseudo_label_pool: int
    consistency_weight: float
    # Curriculum labelling (Cascante-Bonilla et al. 2021): a new model each round, the pseudo-labelled share of the
    # pool growing in equal steps to all of it, so the last rounds also learn from the reviews the teacher finds hard.
    curriculum_rounds: int
    curriculum_share: float
    curriculum_pool: int
    consistency_labels: tuple[int, ...]  # label counts consistency training with word dropout runs at (it lost at 100)
    tfidf_labels: tuple[int, ...]  # and with TF-IDF word replacement (it gained at 100)
    tfidf_replacement_rate: float = 0.2  # UDA's released scripts' tf_idf-0.2
    preset: str = "full"


SIZES = {
    "smoke": Settings(seeds={8: 1}, test_reviews=12, min_steps=2, max_steps=2, self_training_rounds=1,
                      pseudo_label_share=0.25, pseudo_label_pool=16, consistency_weight=1.0, curriculum_rounds=2,
                      curriculum_share=0.5, curriculum_pool=8, consistency_labels=(8,), tfidf_labels=(8,)),
    # Label counts run in this order: three seeds up to 1,000 labels before the single 3,000-label run.
    "full": Settings(seeds={100: 3, 300: 3, 1000: 3, 3000: 1}, test_reviews=5000, min_steps=100, max_steps=None,
                     self_training_rounds=3, pseudo_label_share=0.1, pseudo_label_pool=20_000,
                     consistency_weight=1.0, curriculum_rounds=5, curriculum_share=0.2, curriculum_pool=10_000,
                     consistency_labels=(100,), tfidf_labels=(100, 300)),
}


def labelled_and_unlabelled(ctx, s: Settings, count: int, seed: int):
    """`count` training labels, as many validation reviews, the test sample, and the unlabelled texts: the rest of
    train and the unsupervised reviews (test text never)."""
    return splits_for(ctx.dataset, s.test_reviews, count, seed)


@functools.lru_cache(maxsize=1)  # each condition of one label count and seed reads the same splits
def splits_for(dataset: str | None, test_reviews: int, count: int, seed: int):
    import datasets

    from hf_rnn.training import DataArguments, load_imdb

    data = load_imdb(DataArguments(dataset=dataset, max_eval_samples=count, max_test_samples=test_reviews))
    shuffled = data["train"].shuffle(seed=seed)
    train, rest = shuffled.select(range(count)), shuffled.select(range(count, len(shuffled)))
    unlabeled = datasets.concatenate_datasets([rest.select_columns(["text", "label"]),
                                               data["unsupervised"].select_columns(["text", "label"])])
    return datasets.DatasetDict(train=train, validation=data["validation"], test=data["test"], unsupervised=unlabeled)


def round_trainer(ctx, s: Settings, consistency=None):
    """`train_round(dsd, folder)`: the label curve's classifier recipe (the preset's settings, at least
    `min_steps` steps), optionally with consistency training on the unsupervised split."""
    from transformers import AutoTokenizer, TrainingArguments

    from hf_rnn.recipes.imdb import COMMON, PRESETS, with_preset
    from hf_rnn.training import DataArguments, ULMFiTArguments, train_classifier

    preset, run = PRESETS[s.preset], ctx.trained_run()
    tokenizer = AutoTokenizer.from_pretrained(run / "tokenizer")
    settings = {**COMMON["classifier"], **preset["classifier_training"], "save_strategy": "no", "disable_tqdm": True,
                "eval_strategy": "no"}
    data_args = with_preset(DataArguments, preset["data"])

    def train_round(dsd, folder):
        planned = math.ceil(settings["num_train_epochs"] * len(dsd["train"]) / settings["per_device_train_batch_size"])
        steps = min(max(planned, s.min_steps), s.max_steps or math.inf)
        args = TrainingArguments(output_dir=str(folder), seed=0, **{**settings, "max_steps": steps})
        metrics = train_classifier(tokenizer, dsd, data_args, model_arguments(run, run / "lm", preset),
                                   with_preset(ULMFiTArguments, preset["ulmfit"]), args, report_test=False,
                                   **({"consistency": consistency} if consistency else {}))
        return {**metrics, "steps": steps}

    return tokenizer, data_args, train_round


def figures(metrics: dict) -> dict:
    return {"test accuracy": metrics.get("test_accuracy"), "validation accuracy": metrics.get("validation_accuracy"),
            "steps": metrics.get("steps")}


def self_training_runs(ctx, s: Settings, count: int, seed: int) -> list[dict]:
    """LM alone (round 0) and LM + self-training (the last round), from one self-training run."""
    first, final = self_training_run(ctx, s, count, seed, SELF_TRAINING)
    return [{"condition": LM_ALONE, "labels": count, "seed": seed, **figures(first)}, final]


def curriculum_run(ctx, s: Settings, count: int, seed: int) -> dict:
    """LM + curriculum self-training: its round 0 is the LM-alone run again, so only the last round is kept."""
    return self_training_run(ctx, s, count, seed, CURRICULUM)[1]


def self_training_run(ctx, s: Settings, count: int, seed: int, condition: str) -> tuple[dict, dict]:
    """Round 0's metrics and the last round's row of one self-training run at `condition`'s schedule."""
    from hf_rnn.training.semi_supervised import SelfTrainingArguments, self_train, unlabeled_pool

    dsd = labelled_and_unlabelled(ctx, s, count, seed)
    tokenizer, data_args, train_round = round_trainer(ctx, s)
    curriculum = condition == CURRICULUM
    settings = (SelfTrainingArguments(self_training_rounds=s.curriculum_rounds, pseudo_label_share=s.curriculum_share,
                                      pseudo_label_pool=s.curriculum_pool) if curriculum else
                SelfTrainingArguments(self_training_rounds=s.self_training_rounds,
                                      pseudo_label_share=s.pseudo_label_share, pseudo_label_pool=s.pseudo_label_pool))
    kept = {}

    def train_and_keep_test(round_dsd, folder):  # round 0 is the LM-alone configuration: its test is read too
        metrics = train_round(round_dsd if kept else datasets_with(round_dsd, test=dsd["test"]), folder)
        kept.setdefault("first", metrics)
        return metrics

    start = time.time()
    folder = Path(ctx.scratch) / f"{'curriculum' if curriculum else 'self_training'}_{count}_{seed}"
    final = self_train(train_and_keep_test, dsd, unlabeled_pool(dsd, settings.pseudo_label_pool, seed), tokenizer,
                       folder, settings, max_length=data_args.max_length)
    minutes = (time.time() - start) / 60
    return kept["first"], {"condition": condition, "labels": count, "seed": seed, **figures(final),
                                   "minutes": minutes, "rounds": final["self_training"]}


def datasets_with(dsd, **splits):
    import datasets

    return datasets.DatasetDict({**dsd, **splits})


def consistency_run(ctx, s: Settings, count: int, seed: int, perturbation: str = "word_dropout") -> dict:
    from hf_rnn.training.semi_supervised import ConsistencyArguments

    dsd = labelled_and_unlabelled(ctx, s, count, seed)
    tfidf = perturbation == "tfidf_replacement"
    settings = ConsistencyArguments(consistency_weight=s.consistency_weight, consistency_perturbation=perturbation,
                                    **({"consistency_word_dropout": s.tfidf_replacement_rate} if tfidf else {}))
    _, _, train_round = round_trainer(ctx, s, settings)
    start = time.time()
    metrics = train_round(dsd, Path(ctx.scratch) / f"consistency_{perturbation}_{count}_{seed}")
    return {"condition": CONSISTENCY_TFIDF if tfidf else CONSISTENCY, "labels": count, "seed": seed,
            **figures(metrics), "minutes": (time.time() - start) / 60}


def nb_lr_run(ctx, s: Settings, count: int, seed: int) -> dict:
    dsd = labelled_and_unlabelled(ctx, s, count, seed)
    nb = nb_lr_one({**dsd, "train": dsd["train"]}, None, seed)
    return {"condition": NB_LR, "labels": count, "seed": seed, **nb}


def previous_rows(ctx) -> list[dict]:
    path = results_dir() / f"{NAME}.json"
    if ctx.smoke or not path.is_file():
        return []
    saved = json.loads(path.read_text())  # the raw runs keep each self-training run's rounds and its commit
    return [{**row, "commit": row.get("commit", saved["meta"]["commit"])} for row in saved["raw"]["runs"]
            if isinstance(row.get("test accuracy"), float)]


def short_commit(commit: str) -> str:
    return commit[:7] + ("+uncommitted" if commit.endswith("+uncommitted") else "")


def stamped(rows: list[dict]) -> list[dict]:
    """New rows with the commit that measured them: a resumed result file holds runs of several commits."""
    commit = run_metadata()["commit"]
    return [{**row, "commit": commit} for row in rows]


def summary(rows: list[dict]) -> list[dict]:
    groups = {}
    for row in rows:
        groups.setdefault((row["condition"], row["labels"]), []).append(row["test accuracy"])
    return [{"condition": condition, "labels": labels, "seeds": len(scores),
             "mean test accuracy": statistics.mean(scores),
             "std": statistics.stdev(scores) if len(scores) > 1 else None}
            for (condition, labels), scores in sorted(groups.items(), key=lambda item: (item[0][1], item[0][0]))]


def round_rows(rows: list[dict]) -> list[dict]:
    return [{"condition": row["condition"], "labels": row["labels"], "seed": row["seed"], **step}
            for row in rows if row.get("rounds") for step in row["rounds"]]


def label_curve_context(axis):
    """The label curve's rows (another LM, the same test sample), faint, so the new points sit on the curve they
    are read against; the from-scratch figure at 10,000 labels as the claim's line."""
    path = results_dir() / "label_curve.json"
    if not path.is_file():
        return
    curve = json.loads(path.read_text()).get("Summary", [])
    for condition, style in (("from scratch", ":"), ("LM pretrained on train + unlabelled (main job)", "--")):
        points = [r for r in curve if r["condition"] == condition and isinstance(r["mean test accuracy"], float)]
        axis.plot([r["labels"] for r in points], [100 * (1 - r["mean test accuracy"]) for r in points], style,
                  color="grey", alpha=0.7, label=f"label curve: {condition}")
    scratch = [r for r in curve if r["condition"] == "from scratch" and r["labels"] == 10_000]
    if scratch:
        axis.axhline(100 * (1 - scratch[0]["mean test accuracy"]), color="black", linewidth=0.8,
                     label="from scratch, 10,000 labels (the claim)")


def plot(summarised: list[dict]):
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    label_curve_context(axis)
    for condition in CONDITIONS:
        points = [row for row in summarised if row["condition"] == condition]
        if points:
            axis.errorbar([row["labels"] for row in points], [100 * (1 - row["mean test accuracy"]) for row in points],
                          yerr=[100 * (row["std"] or 0) for row in points], marker="o", capsize=3, label=condition)
    axis.set(xscale="log", xlabel="labelled training reviews", ylabel="test error (%)",
             title="IMDB: what the unlabelled reviews add to the classifier")
    axis.legend(fontsize=8)
    return save_plot(figure, NAME)


def write(rows: list[dict], s: Settings, lm_folder: str, complete: bool):
    notes = (f"LM: `{lm_folder}`. Per label count and seed: that many training labels and as many validation "
             f"reviews (reported, never used to choose), a seeded sample of {s.test_reviews:,} test reviews. "
             f"Classifier: the {s.preset} preset's classifier settings, max(its epochs, {s.min_steps} steps). "
             f"Self-training: {s.self_training_rounds} rounds, round r adds r x {s.pseudo_label_share:g} of a "
             f"{s.pseudo_label_pool:,}-review sample of the unlabelled text (the rest of train, labels hidden, and "
             f"the unsupervised reviews), the most confident per class in the labels' class proportions; a new "
             f"classifier from the LM each round. Curriculum self-training (Cascante-Bonilla et al. 2021): "
             f"{s.curriculum_rounds} rounds, round r adds r x {s.curriculum_share:g} of a {s.curriculum_pool:,}-review "
             f"sample, so the last round labels all of it. Consistency (at {', '.join(map(str, s.consistency_labels))} "
             f"labels): weight {s.consistency_weight:g}, UDA's settings "
             f"(10% word dropout, confidence 0.8, temperature 0.4); with TF-IDF replacement, "
             f"{s.tfidf_replacement_rate:g} of the words replaced on average, as UDA's scripts do (at "
             f"{', '.join(map(str, s.tfidf_labels))} labels). All settings "
             f"fixed before any run. NB-LR: C chosen on the validation reviews. Plot: {NAME}.png.")
    summarised = summary(rows)
    columns = ["condition", "labels", "seed", "test accuracy", "validation accuracy", "steps", "C", "minutes", "commit"]
    write_results(NAME, {
        "Summary": (summarised, ["condition", "labels", "seeds", "mean test accuracy", "std"]),
        "Self-training rounds": (round_rows(rows), ["condition", "labels", "seed", "round", "pseudo_labels",
                                                    "pseudo_label_accuracy", "validation_accuracy", "attempts"]),
        "Runs": ([{**{k: v for k, v in row.items() if k != "rounds"}, "commit": short_commit(row.get("commit", ""))}
                  for row in rows], columns),
    }, notes, raw={"complete": complete, "settings": dataclasses.asdict(s), "runs": rows})
    plot(summarised)


def run(ctx):
    s = ctx.pick(SIZES)
    lm_folder = str(ctx.trained_run() / "lm")
    rows = previous_rows(ctx)
    done = run_keys(rows)
    for count, seeds in s.seeds.items():
        for seed in range(seeds):
            if (SELF_TRAINING, count, seed) not in done:
                rows += stamped(self_training_runs(ctx, s, count, seed))
                print(rows[-2:], flush=True)
                write(rows, s, lm_folder, complete=False)
            for condition, measure in conditions_at(s, count):
                if (condition, count, seed) not in done:
                    rows += stamped([measure(ctx, s, count, seed)])
                    print(rows[-1], flush=True)
                    write(rows, s, lm_folder, complete=False)
    write(rows, s, lm_folder, complete=True)


def planned_runs(s: Settings) -> set[tuple[str, int, int]]:
    return {(condition, count, seed) for count, seeds in s.seeds.items() for seed in range(seeds)
            for condition in (LM_ALONE, SELF_TRAINING, *(name for name, _ in conditions_at(s, count)))}


def run_keys(rows: list[dict]) -> set[tuple[str, int, int]]:
    return {(row["condition"], row["labels"], row["seed"]) for row in rows}


def is_complete(saved: dict) -> bool:
    """Whether a full result file holds every run the full size plans: raising a seed count reopens a finished one."""
    return planned_runs(SIZES["full"]) <= run_keys(saved.get("raw", {}).get("runs", []))


def conditions_at(s: Settings, count: int):
    """The conditions besides LM alone and self-training, cheapest first."""
    yield NB_LR, nb_lr_run
    if count in s.consistency_labels:
        yield CONSISTENCY, consistency_run
    if count in s.tfidf_labels:
        yield CONSISTENCY_TFIDF, functools.partial(consistency_run, perturbation="tfidf_replacement")
    yield CURRICULUM, curriculum_run
