"""Classifier settings on the validation split, fine-tuning one pretrained LM (the test split is never touched).

    python bench/bench_classifier_tuning.py --run runs/bench-imdb-full --preset full \
        --variant baseline '{}' --variant epochs3 '{"num_train_epochs": 3}' \
        --variant unfreeze '{"gradual_unfreezing_steps": 300}' --reference runs/bench-imdb-full/results.json

`--run` is a finished main-job folder (its `tokenizer/` and `lm/` are reused). Each variant is a JSON object of
field overrides on top of the preset: RNNConfig, ModelArguments, ULMFiTArguments, DataArguments or TrainingArguments
fields (`init_from` too: e.g. the run's `sentiment/` classifier instead of its LM).
A variant may set `seed` (training seed; the validation split stays the one of `--seed`). Every finished variant
is written to bench/results/<--name, default classifier_tuning_<preset>>.{json,md} at once (a crash keeps
the finished ones); a variant already in that file is skipped, so a killed sweep resumes. `--reference` puts the
main job's own stages (the preset as run, same LM, split and seed) at the head of the table.
"""

import argparse
import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path

from bench_paired_test import model_outputs
from common import RESULTS_DIR, write_results
from transformers import AutoConfig, AutoTokenizer, TrainingArguments

from hf_rnn import RNNConfig
from hf_rnn.recipes.imdb import COMMON, PRESETS, with_config_preset, with_preset
from hf_rnn.training import (DataArguments, ModelArguments, ULMFiTArguments, compute_metrics_for, load_imdb,
                             train_classifier)
from hf_rnn.training.adversarial import AdversarialArguments
from hf_rnn.training.overrides import config_defaults, format_config_overrides


REPORTED_METRICS = (("validation accuracy", "accuracy"), ("validation F1", "f1"), ("rating MAE", "mae"),
                    ("rating exact", "exact"), ("rating exact (most likely)", "exact_most_likely"),
                    ("rating within one", "within_one"),
                    ("sentiment from rating", "sentiment_accuracy"))


def split_overrides(overrides: dict) -> dict[type, dict]:
    """Route each field to the dataclass that has it; an unknown field is an error, not silently ignored."""
    fields = {cls: {f.name for f in dataclasses.fields(cls)}
              for cls in (ModelArguments, ULMFiTArguments, DataArguments, AdversarialArguments, TrainingArguments)}
    fields[RNNConfig] = set(config_defaults())
    routed = {cls: {} for cls in fields}
    for name, value in overrides.items():
        owner = next((cls for cls, names in fields.items() if name in names), None)
        if owner is None:
            raise SystemExit(f"Unknown field {name!r}: use an RNNConfig, Model, ULMFiT, Data, Adversarial or "
                             "TrainingArguments field.")
        routed[owner][name] = value
    return routed


SPLIT_FIELDS = ("max_train_samples", "max_eval_samples", "max_test_samples", "max_lm_documents", "validation_size")


def refuse_split_sizes(todo):
    """The splits are cut once, by the preset, for every variant: a variant cannot change their sizes."""
    for variant, overrides in todo:
        fields = sorted(set(overrides) & set(SPLIT_FIELDS))
        if fields:
            raise SystemExit(f"Variant {variant} sets {fields}: every variant shares the preset's splits; change the "
                             "preset or run another --name.")


def run_variant(run_dir: str, preset: dict, overrides: dict, dsd, tokenizer, seed: int) -> dict:
    routed = split_overrides(overrides)
    data = dataclasses.replace(with_preset(DataArguments, preset["data"]), **routed[DataArguments])
    variant_config = ModelArguments(config_overrides=format_config_overrides(routed[RNNConfig]))
    model = dataclasses.replace(with_config_preset(variant_config, preset["model"]),
                                **{"init_from": f"{run_dir}/lm", **routed[ModelArguments]})
    ulmfit = dataclasses.replace(with_preset(ULMFiTArguments, preset["ulmfit"]), **routed[ULMFiTArguments])
    adversarial = dataclasses.replace(with_preset(AdversarialArguments, preset.get("adversarial", {})),
                                      **routed[AdversarialArguments])
    output_dir = tempfile.mkdtemp(prefix="hf_rnn_tuning_")
    settings = {**COMMON["classifier"], **preset["classifier_training"], "save_strategy": "no",
                "disable_tqdm": True, **routed[TrainingArguments]}
    args = TrainingArguments(output_dir=output_dir, **{"seed": seed, **settings})
    start = time.time()
    try:
        metrics = train_classifier(tokenizer, dsd, data, model, ulmfit, args, adversarial)
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)
    return {**reported_metrics(metrics), "minutes": (time.time() - start) / 60}


def reported_metrics(metrics: dict) -> dict:
    """One fixed set of columns for every target, so sentiment and rating variants share a table ("-" = n/a)."""
    # A two-head model (target binary+rating10) reports its rating head's figures as validation_rating_*.
    value = lambda key: metrics.get(f"validation_{key}", metrics.get(f"validation_rating_{key}"))
    return {**{name: value(key) for name, key in REPORTED_METRICS},
            "train loss": metrics.get("train_loss")}


def reference_rows(results_path: str, label: str = "", validation=None, max_length: int | None = None) -> list[dict]:
    """The validation figures a finished main job recorded for its own stages: what each variant is compared with
    (same LM, split and seed). A metric the job did not record yet (added to hf_rnn later) is measured by
    re-evaluating the stage's saved model on `validation`, once the re-evaluation reproduces a recorded figure."""
    results = json.loads(Path(results_path).read_text())
    rows = []
    for stage in ("sentiment", "rating"):
        if stage not in results:
            continue
        recorded = reported_metrics(results[stage])
        stage_dir = Path(results_path).parent / stage
        missing = [name for name, value in recorded.items() if value is None]
        note = ""
        if validation is not None and missing and (stage_dir / "config.json").is_file():
            measured = reevaluated_metrics(stage_dir, validation, max_length, recorded)
            filled = [name for name in missing if measured.get(name) is not None]
            recorded.update({name: measured[name] for name in filled})
            note = f"; {', '.join(filled)} re-evaluated from the saved model" if filled else ""
        rows.append({"variant": f"{stage} stage of {results_path}{label}{note}", "overrides": "{} (the preset as run)",
                     **recorded, "minutes": results[stage].get("train_runtime", 0) / 60})
    return rows


def target_of(config) -> str:
    """The classification target a saved classifier was trained for, read from its config."""
    if config.problem_type == "regression":
        return "regression"
    return "rating10" if config.num_labels == 10 else "binary"


def reevaluated_metrics(stage_dir: Path, validation, max_length: int | None, recorded: dict) -> dict:
    """A saved stage model's validation metrics, computed now; stops if a figure the job recorded is not reproduced
    (then the model or split differs, and the filled-in figures would describe another model)."""
    target = target_of(AutoConfig.from_pretrained(stage_dir))
    logits, labels = model_outputs(stage_dir, validation, target, max_length)
    measured = reported_metrics({f"validation_{key}": value
                                 for key, value in compute_metrics_for(target)((logits, labels)).items()})
    for name, value in recorded.items():
        if name != "train loss" and None not in (value, measured.get(name)) and abs(value - measured[name]) > 1e-4:
            raise SystemExit(f"{stage_dir}: re-evaluated {name} {measured[name]:.5f} differs from the recorded "
                             f"{value:.5f}.")
    return measured


def seed_summary(rows: list[dict]) -> list[dict]:
    """Variants that differ only in their training seed, pooled: mean, spread and count of each metric. One
    seed's figure on 2,500 validation reviews moves by ~0.5 pt, so settings are compared on these means."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        overrides = {k: v for k, v in json.loads(row["overrides"]).items() if k != "seed"}
        groups.setdefault(json.dumps(overrides), []).append(row)
    summary = []
    for overrides, members in groups.items():
        entry = {"setting": members[0]["variant"].split("_seed")[0], "overrides": overrides, "seeds": len(members)}
        for name, _ in REPORTED_METRICS:
            values = [m[name] for m in members if m.get(name) is not None]
            if values:
                entry[f"{name} mean"] = sum(values) / len(values)
                entry[f"{name} min-max"] = f"{min(values):.4f}-{max(values):.4f}"
        summary.append(entry)
    return summary


def summary_columns(summary: list[dict]) -> list[str]:
    """Every key any entry has, in first-seen order (sentiment and rating settings have different metrics)."""
    columns = []
    for entry in summary:
        columns += [key for key in entry if key not in columns]
    return columns


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="finished main-job folder with tokenizer/ and lm/")
    parser.add_argument("--preset", default="full", choices=sorted(PRESETS))
    parser.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "JSON"), required=True)
    parser.add_argument("--reference", default=None,
                        help="a main job's results.json: its stages' validation figures head the table")
    parser.add_argument("--reference_label", default="", help="said of the reference run, e.g. what it trained")
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--seed", type=int, default=42, help="validation split and default training seed")
    parser.add_argument("--name", default=None, help="results file name (default classifier_tuning_<preset>)")
    parser.add_argument("--time_budget_minutes", type=float, default=None,
                        help="start no new variant after this long (a rented GPU's lease, say)")
    args = parser.parse_args()
    preset = PRESETS[args.preset]
    name = args.name or f"classifier_tuning_{args.preset}"
    started = time.time()
    previous_path = RESULTS_DIR / f"{name}.json"
    previous = json.loads(previous_path.read_text()) if previous_path.is_file() else {}
    rows = previous.get("Validation", [])
    rows = [row for row in rows if not row["overrides"].endswith("(the preset as run)")]
    notes = (f"Fine-tuning the LM of `{args.run}` (preset `{args.preset}`) with the preset's classifier settings "
             "plus each variant's overrides; validation split only (cut from train, seeded). Minutes: training "
             "and per-epoch validation (reference rows: training only). Rows accumulate over runs of this command (a "
             "variant already in the file is skipped); the command above is the last run that trained one.")
    todo = [(variant, json.loads(spec)) for variant, spec in args.variant
            if not any(row["variant"] == variant for row in rows)]
    refuse_split_sizes(todo)
    if todo or args.reference:
        data = with_preset(DataArguments, preset["data"], DataArguments(dataset=args.dataset))
        dsd = load_imdb(data, seed=args.seed)
        dsd.pop("test", None)  # tuning never looks at the test split
        tokenizer = AutoTokenizer.from_pretrained(f"{args.run}/tokenizer")
        notes += (f" Splits as the preset cuts them: {len(dsd['train']):,} training and {len(dsd['validation']):,} "
                  "validation reviews (a variant's own split sizes, if an earlier version of this bench recorded "
                  "any, were not applied).")
    reference = (reference_rows(args.reference, args.reference_label, dsd["validation"], data.max_length)
                 if args.reference else [])

    def write(meta=None):
        summary = seed_summary(rows)
        sections = {"Validation": (reference + rows, list(rows[0])),
                    "By setting (variants that differ only in the training seed, pooled)":
                        (summary, summary_columns(summary))}
        write_results(name, sections, notes, meta=meta)

    for variant, overrides in todo:
        if args.time_budget_minutes and (time.time() - started) / 60 > args.time_budget_minutes:
            print(f"time budget spent: {variant} and later variants not run", flush=True)
            break
        result = run_variant(args.run, preset, overrides, dsd, tokenizer, args.seed)
        rows.append({"variant": variant, "overrides": json.dumps(overrides), **result})
        print(variant, result, flush=True)
        write()  # each variant kept at once
    if rows:  # also when nothing was left to run: the tables are re-laid out, the rows' own run metadata kept
        ran_here = any(row["variant"] == variant for variant, _ in todo for row in rows)
        write(None if ran_here else previous.get("meta"))


if __name__ == "__main__":
    main()
