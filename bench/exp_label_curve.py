"""How many labels does the pretrained LM save? Test accuracy against the number of labelled reviews (ULMFiT Fig. 3).

ULMFiT's claim (Howard & Ruder 2018): "with only 100 labeled examples (and access to about 50,000 unlabeled examples)
... the same performance as training from scratch with 10,000 labeled examples". For 100, 300, 1k, 3k, 10k and all
training labels (several seeds where the variance is large): the classifier trained from scratch (the LM's
architecture, random weights), fine-tuned from the main job's LM (pretrained on train + the 50k unlabelled reviews:
`--run RUN_FOLDER`, a finished `hf-rnn imdb` job, whose tokenizer/ and lm/ are used), fine-tuned from an LM
pretrained on the labelled reviews' text only (`--lm_train_only FOLDER`, same tokenizer), and NB-weighted logistic
regression on the same labels. Classifier settings: the preset's (chosen on validation with 8k-22.5k labels), with
at least `min_steps` optimiser steps however few the labels. Every finished run is written at once; a rerun skips
the runs already in the result file.
"""

import dataclasses
import json
import math
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_baselines import fit_bag_of_words
from common import results_dir, save_plot, write_results
from suite import not_measured

NAME = "label_curve"
SCRATCH = "from scratch"
MAIN_LM = "LM pretrained on train + unlabelled (main job)"
TRAIN_ONLY_LM = "LM pretrained on the labelled reviews' text only"
NB_LR = "NB-weighted LR"
CONDITIONS = (SCRATCH, TRAIN_ONLY_LM, MAIN_LM, NB_LR)
NB_LR_C = (1, 10, 100, 1000)  # chosen on validation per run
# From scratch, the rate is chosen on validation at `scratch_pilot_labels` (seed 0): the preset's 1e-2, chosen for a
# pretrained encoder, left a random one at chance from 300 labels on (an earlier label curve, kept in git history).
SCRATCH_LEARNING_RATES = (3e-4, 1e-3, 3e-3)
PILOT_TABLE = "From-scratch learning rate"
ARCHITECTURE_FIELDS = ("cell_type", "embedding_size", "hidden_size", "num_hidden_layers", "bidirectional",
                       "tie_word_embeddings")


@dataclasses.dataclass(frozen=True)
class Settings:
    label_counts: tuple[int | None, ...]  # None: every training label
    seeds_small: int  # seeds at label counts <= small_limit
    small_limit: int
    test_reviews: int
    validation_reviews: int
    min_steps: int
    max_steps: int | None  # a cap for smoke runs only
    scratch_pilot_labels: int  # where the from-scratch learning rate is chosen
    preset: str = "full"


SIZES = {
    "smoke": Settings(label_counts=(8, 16), seeds_small=2, small_limit=8, test_reviews=12, validation_reviews=4,
                      min_steps=2, max_steps=2, scratch_pilot_labels=8),
    "full": Settings(label_counts=(100, 300, 1000, 3000, 10000, None), seeds_small=3, small_limit=1000,
                     test_reviews=5000, validation_reviews=1000, min_steps=100, max_steps=None,
                     scratch_pilot_labels=1000),
}


def seeds_for(count: int | None, s: Settings) -> range:
    return range(s.seeds_small if count is not None and count <= s.small_limit else 1)


def run_key(row: dict) -> tuple:
    return row["condition"], row["labels"], row["seed"]


def previous_rows(ctx, table: str) -> list[dict]:
    """Rows of `table` a killed full sweep already finished (a smoke run always starts afresh)."""
    path = results_dir() / f"{NAME}.json"
    if ctx.smoke or not path.is_file():
        return []
    rows = json.loads(path.read_text()).get(table, [])
    return [row for row in rows if isinstance(row.get("test accuracy"), float)]


def runs_to_keep(previous: list[dict], scratch_rate: float | None) -> dict:
    """Finished runs to keep; from-scratch runs only at the rate chosen now (older ones used the preset's)."""
    return {run_key(row): row for row in previous
            if row["condition"] != SCRATCH or row.get("learning rate") == scratch_rate}


def labelled_data(ctx, s: Settings):
    """Train (every label, subsets cut per run), a seeded validation split and a seeded test sample."""
    from hf_rnn.training import DataArguments, load_imdb

    return load_imdb(DataArguments(dataset=ctx.dataset, max_eval_samples=s.validation_reviews,
                                   max_test_samples=s.test_reviews))


def subset(train, count: int | None, seed: int):
    return train if count is None or count >= len(train) else train.shuffle(seed=seed).select(range(count))


def lm_starts(ctx) -> dict:
    """Condition -> the LM folder a classifier starts from (None: from scratch), for the inputs given."""
    run = ctx.trained_run()
    starts = {SCRATCH: None, MAIN_LM: run / "lm"} if run else {}
    if ctx.lm_train_only:
        starts[TRAIN_ONLY_LM] = ctx.lm_train_only
    elif ctx.smoke and run:  # the tiny job's LM stands in, so a smoke run exercises this condition too
        starts[TRAIN_ONLY_LM] = run / "lm"
    return starts


def model_arguments(run, start, preset: dict):
    """The preset's model settings; from scratch, the LM's architecture too (the same network, random weights)."""
    from hf_rnn import RNNConfig
    from hf_rnn.recipes.imdb import with_config_preset
    from hf_rnn.training import ModelArguments

    lm_config = RNNConfig.from_pretrained(run / "lm")
    architecture = {name: getattr(lm_config, name) for name in ARCHITECTURE_FIELDS}
    overrides = architecture if start is None else {}
    return dataclasses.replace(with_config_preset(ModelArguments(config_overrides=overrides), preset["model"]),
                               init_from=str(start) if start else None)


def train_one(ctx, s: Settings, data, start, count, seed, learning_rate: float | None = None) -> dict:
    """One classifier on `count` labels (the recipe the main job uses), evaluated on validation and test. From
    scratch (`start` None) every layer trains at `learning_rate`: discriminative rates protect pretrained lower
    layers, and random ones have nothing to protect."""
    from transformers import AutoTokenizer, TrainingArguments

    from hf_rnn.recipes.imdb import COMMON, PRESETS, with_preset
    from hf_rnn.training import DataArguments, ULMFiTArguments, train_classifier

    preset, run = PRESETS[s.preset], ctx.trained_run()
    train = subset(data["train"], count, seed)
    settings = {**COMMON["classifier"], **preset["classifier_training"], "save_strategy": "no", "disable_tqdm": True,
                "eval_strategy": "no", **({"learning_rate": learning_rate} if learning_rate else {})}
    ulmfit = with_preset(ULMFiTArguments, preset["ulmfit"])
    if start is None:
        ulmfit = dataclasses.replace(ulmfit, discriminative_decay=1.0)
    planned = math.ceil(settings["num_train_epochs"] * len(train) / settings["per_device_train_batch_size"])
    steps = min(max(planned, s.min_steps), s.max_steps or math.inf)
    output_dir = tempfile.mkdtemp(prefix="hf_rnn_label_curve_", dir=ctx.scratch)
    args = TrainingArguments(output_dir=output_dir, seed=seed, **{**settings, "max_steps": steps})
    splits = {"train": train, "validation": data["validation"], "test": data["test"]}
    start_time = time.time()
    try:
        metrics = train_classifier(AutoTokenizer.from_pretrained(run / "tokenizer"), splits,
                                   with_preset(DataArguments, preset["data"]), model_arguments(run, start, preset),
                                   ulmfit, args)
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)
    return {"test accuracy": metrics["test_accuracy"], "validation accuracy": metrics["validation_accuracy"],
            "steps": steps, "learning rate": settings["learning_rate"], "minutes": (time.time() - start_time) / 60}


def choose_scratch_rate(ctx, s: Settings, data, report) -> tuple[float, list[dict]]:
    """The from-scratch learning rate with the best validation accuracy at `s.scratch_pilot_labels` labels (seed
    0); each finished pilot run is reported (written) at once and kept on a rerun."""
    done = {row["learning rate"]: row for row in previous_rows(ctx, PILOT_TABLE)}
    pilots = []
    for rate in SCRATCH_LEARNING_RATES:
        pilots.append(done.get(rate) or {"condition": SCRATCH, "labels": s.scratch_pilot_labels, "seed": 0,
                                         **train_one(ctx, s, data, None, s.scratch_pilot_labels, 0, rate)})
        print(pilots[-1], flush=True)
        report(pilots)
    return max(pilots, key=lambda row: row["validation accuracy"])["learning rate"], pilots


def read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def pretrained_lms(starts: dict) -> list[dict]:
    """Each LM a condition starts from: its held-out perplexity and how long it trained (its Trainer records)."""
    rows = []
    for condition, folder in starts.items():
        if folder is not None:
            state, evaluation = (read_json(Path(folder) / name) for name in ("trainer_state.json", "eval_results.json"))
            rows.append({"condition": condition, "folder": str(folder), "steps": state.get("max_steps"),
                         "passes over its text": state.get("epoch"),
                         "validation perplexity": evaluation.get("eval_perplexity")})
    return rows


def nb_lr_one(data, count, seed) -> dict:
    """NB-LR with its regularisation chosen on validation: C=10 suits 25k labels, but with 100 the intercept
    wins and every review gets the majority label."""
    train = subset(data["train"], count, seed)
    start = time.time()
    accuracy = lambda predict, split: float((predict(list(data[split]["text"])) == np.asarray(
        data[split]["label"])).mean())
    fitted = {C: fit_bag_of_words(list(train["text"]), train["label"], nb_weighted=True, C=C) for C in NB_LR_C}
    best = max(NB_LR_C, key=lambda C: accuracy(fitted[C], "validation"))
    return {"test accuracy": accuracy(fitted[best], "test"), "validation accuracy": accuracy(fitted[best], "validation"),
            "steps": None, "C": best, "minutes": (time.time() - start) / 60}


def summary(rows: list[dict]) -> list[dict]:
    """Mean and spread over seeds, per condition and label count."""
    groups = {}
    for row in rows:
        groups.setdefault((row["condition"], row["labels"]), []).append(row["test accuracy"])
    out = []
    for (condition, labels), scores in groups.items():
        measured = [score for score in scores if isinstance(score, float)]
        out.append({"condition": condition, "labels": labels, "seeds": len(measured),
                    "mean test accuracy": statistics.mean(measured) if measured else scores[0],
                    "std": statistics.stdev(measured) if len(measured) > 1 else None})
    return out


def plot(rows: list[dict]):
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for condition in CONDITIONS:
        points = [row for row in rows if row["condition"] == condition and isinstance(row["mean test accuracy"], float)]
        if points:
            axis.errorbar([row["labels"] for row in points], [100 * (1 - row["mean test accuracy"]) for row in points],
                          yerr=[100 * (row["std"] or 0) for row in points], marker="o", capsize=3, label=condition)
    axis.set(xscale="log", xlabel="labelled training reviews", ylabel="test error (%)",
             title="IMDB: test error vs number of labels (cf. ULMFiT Fig. 3)")
    axis.legend(fontsize=8)
    return save_plot(figure, NAME)


def pending_row(condition: str, labels: int, seed: int) -> dict:
    needs = ("--lm_train_only FOLDER", "an LM pretrained on the labelled reviews' text only") if (
        condition == TRAIN_ONLY_LM) else ("--run RUN_FOLDER", "a finished full `hf-rnn imdb` run")
    return {"condition": condition, "labels": labels, "seed": seed,
            "test accuracy": not_measured(needs[1], needs[0], NAME)}


def write(rows: list[dict], pilots: list[dict], lms: list[dict], s: Settings, complete: bool, train_size: int):
    notes = (f"IMDB train split minus a seeded validation split ({train_size:,} labels at most); subsets seeded per "
             f"seed; {s.validation_reviews:,} validation reviews and a seeded sample of {s.test_reviews:,} test "
             f"reviews. Classifier: the {s.preset} preset's settings, max(its epochs, {s.min_steps} steps); from "
             f"scratch, the same network with random weights, one learning rate for every layer, chosen from "
             f"{SCRATCH_LEARNING_RATES} on validation accuracy at {s.scratch_pilot_labels:,} labels (seed 0). "
             f"NB-LR: C from {NB_LR_C} chosen on validation accuracy. Seeds: "
             f"{s.seeds_small} at <= {s.small_limit} labels, 1 above. Plot: {NAME}.png.")
    summarised = summary(rows)
    trained = ["condition", "labels", "seed", "test accuracy", "validation accuracy", "steps", "learning rate"]
    write_results(NAME, {
        "Summary": (summarised, ["condition", "labels", "seeds", "mean test accuracy", "std"]),
        "Pretrained LMs": (lms, ["condition", "folder", "steps", "passes over its text", "validation perplexity"]),
        PILOT_TABLE: (pilots, trained + ["minutes"]),
        "Runs": (rows, trained + ["C", "minutes"]),
    }, notes, raw={"complete": complete, "settings": dataclasses.asdict(s)})
    plot(summarised)


def one_run(ctx, s: Settings, data, starts: dict, scratch: tuple, condition: str, count: int | None, seed: int):
    """One condition at one label count and seed: NB-LR, a classifier from its start, or a row saying what it
    needs. `scratch`: (chosen rate, pilot rows); the pilot run at the chosen rate is that count's seed-0 run."""
    labels = count or len(data["train"])
    if condition == NB_LR:
        return {"condition": condition, "labels": labels, "seed": seed, **nb_lr_one(data, count, seed)}
    if condition not in starts:
        return pending_row(condition, labels, seed)
    rate, pilots = scratch
    if condition == SCRATCH:
        chosen = [row for row in pilots if row["learning rate"] == rate and (row["labels"], seed) == (labels, 0)]
        if chosen:
            return chosen[0]
    return {"condition": condition, "labels": labels, "seed": seed,
            **train_one(ctx, s, data, starts[condition], count, seed, rate if condition == SCRATCH else None)}


def run(ctx):
    s = ctx.pick(SIZES)
    data, starts = labelled_data(ctx, s), lm_starts(ctx)
    train_size, previous, lms = len(data["train"]), previous_rows(ctx, "Runs"), pretrained_lms(starts)
    scratch = (choose_scratch_rate(ctx, s, data, lambda pilots: write(previous, pilots, lms, s, False, train_size))
               if SCRATCH in starts else (None, []))
    done, rows = runs_to_keep(previous, scratch[0]), []
    for count in s.label_counts:
        for seed in seeds_for(count, s):
            for condition in CONDITIONS:
                key = (condition, count or train_size, seed)
                rows.append(done[key] if key in done else one_run(ctx, s, data, starts, scratch, condition, count,
                                                                  seed))
                print(rows[-1], flush=True)
                write(rows, scratch[1], lms, s, complete=False, train_size=train_size)
    measured_all = all(isinstance(row["test accuracy"], float) for row in rows)
    write(rows, scratch[1], lms, s, complete=measured_all, train_size=train_size)
