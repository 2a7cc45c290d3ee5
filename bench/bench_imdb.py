"""Run the IMDB main job with a preset and record its figures (the ones README and the model card quote).

    python bench/bench_imdb.py --preset quick      # <= 10 min on 2 cores
    python bench/bench_imdb.py --preset full       # adversarial forward + backward: 74 min in one command (AMX, bf16)
    python bench/bench_imdb.py --preset full --final_fit --name imdb_full_final_fit   # classifiers on all labels
    python bench/bench_imdb.py --preset full --backward false --name imdb_full_forward  # the forward model alone

Writes bench/results/<name>.json|md (default name imdb_<preset>) and copies the model card and training curves
next to them.
"""

import argparse
import shutil
from pathlib import Path

from common import results_dir, write_results
from hf_rnn.recipes.imdb import PRESETS, preset_for, run_imdb
from hf_rnn.recipes.imdb.job import explicit_fields, parse_job_arguments
from hf_rnn.recipes.imdb.model_card import (BACKWARD_STAGES, ENSEMBLE_STAGES, FORWARD_STAGES, member_seeds,
                                            recorded_stage_seconds)


def stage_minutes(results: dict) -> float | None:
    """Sum of each stage's own duration (recorded in its stage_done.json): the job's cost even when it was resumed
    across invocations. None when a stage lacks the record."""
    seconds = recorded_stage_seconds(results)
    return sum(seconds.values()) / 60 if seconds else None


# With --backward the job has a figure set per direction and for their ensemble: one row each, with the LM stage
# the direction started from (the job's stage names, as the model card reads them).
DIRECTIONS = (("forward", FORWARD_STAGES, "lm"), ("backward", BACKWARD_STAGES, "lm_backward"),
              ("ensemble", ENSEMBLE_STAGES, None))


def directions(results: dict) -> tuple:
    """DIRECTIONS, with a row for each further seed's classifiers (--classifier_seeds) before the ensemble's."""
    seeds = [(f"{model} seed{k}", tuple(f"{stage}_seed{k}" for stage in stages), lm)
             for k in member_seeds(results) for model, stages, lm in DIRECTIONS[:2]]
    return (*DIRECTIONS[:2], *seeds, DIRECTIONS[2])


def rows_for(results: dict) -> tuple[list[dict], list[dict]]:
    present = lambda head: [(model, results[stages[head]], lm) for model, stages, lm in directions(results)
                            if stages[head] in results]
    main = [{"preset": results["preset"], "model": model, "training reviews": stage.get("train_reviews"),
             "test accuracy": stage.get("test_accuracy"),
             "test F1": stage.get("test_f1"), "validation accuracy": stage.get("validation_accuracy"),
             "LM perplexity (validation)": results[lm_name].get("eval_perplexity") if lm_name in results else None,
             "wall time min": results["wall_time_s"] / 60, "sum of stage times min": stage_minutes(results)}
            for model, stage, lm_name in present(0)]
    rating_rows = [{"preset": results["preset"], "model": model, "MAE": rating.get("test_mae"),
                    "RMSE": rating.get("test_rmse"), "exact": rating.get("test_exact"),
                    "exact (most likely rating)": rating.get("test_exact_most_likely"),
                    "within one": rating.get("test_within_one"),
                    "validation MAE": rating.get("validation_mae"),
                    "validation exact (most likely rating)": rating.get("validation_exact_most_likely"),
                    "sentiment accuracy from rating": rating.get("test_sentiment_accuracy")}
                   for model, rating, _ in present(1)]
    return main, rating_rows


def main():
    """Its own options (`--name`, and the defaults of `--preset` and `--output_dir`); every other option is the job's,
    parsed as `hf-rnn imdb` parses them (any JobArguments, DataArguments, ModelArguments, AdversarialArguments ...
    field, e.g. `--final_fit`, `--backward false`, `--adversarial_weight 0`, `--training_seed 7`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick", choices=sorted(PRESETS))
    parser.add_argument("--output_dir", default=None, help="default: runs/bench-imdb-<preset>")
    parser.add_argument("--name", default=None, help="results name; default imdb_<preset>")
    args, job_options = parser.parse_known_args()
    job_argv = ["--preset", args.preset, "--output_dir", args.output_dir or f"runs/bench-imdb-{args.preset}",
                *job_options]
    parsed, user_training = parse_job_arguments(job_argv)
    name = args.name or f"imdb_{args.preset}"
    job = parsed[0]
    results = run_imdb(*parsed, user_training_overrides=user_training, explicit_fields=explicit_fields(job_argv))
    out = job.output_dir
    main_rows, rating_rows = rows_for(results)
    sections = {"Sentiment (IMDB test)": (main_rows, list(main_rows[0]))}
    if rating_rows:
        sections[f"Rating 1-10 (IMDB test, {job.rating_target})"] = (rating_rows, list(rating_rows[0]))
    preset = preset_for(args.preset, results["bf16"])
    notes = (f"Preset `{args.preset}` ({'bfloat16' if results['bf16'] else 'float32'}): {preset}. Test size: "
             f"{preset['data'].get('max_test_samples') or 25_000} reviews (seeded random sample when < 25,000)."
             + (" Final fit: the classifiers trained on train + validation (all labelled reviews)."
                if job.final_fit else "")
             + (f" Resumed run: wall time covers the last invocation only ({results['resumed_stages']})."
                if results.get("resumed_stages") else ""))
    print(write_results(name, sections, notes, raw=results))
    # The model folder's card and curves, rendered from this run's metrics, kept beside the figures they quote.
    for produced, kept in (("training_curves.png", "training_curves.png"), ("README.md", "model_card.md")):
        if (Path(out) / "model" / produced).is_file():
            shutil.copyfile(Path(out) / "model" / produced, results_dir() / f"{name}_{kept}")


if __name__ == "__main__":
    main()
