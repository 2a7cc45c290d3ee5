"""Run the IMDB main job with a preset and record its figures (the ones README and the model card quote).

    python bench/bench_imdb.py --preset quick      # <= 10 min on 2 cores
    python bench/bench_imdb.py --preset full       # adversarial forward + backward: 109 min of stages (AVX-512 host)
    python bench/bench_imdb.py --preset full --final_fit --name imdb_full_final_fit   # classifiers on all labels
    python bench/bench_imdb.py --preset full --backward false --name imdb_full_forward  # the forward model alone

Writes bench/results/<name>.json|md (default name imdb_<preset>) and copies the model card and training curves
next to them.
"""

import argparse
import shutil
from pathlib import Path

from common import RESULTS_DIR, write_results
from hf_rnn.recipes.imdb import PRESETS, RATING_STARTS, JobArguments, run_imdb
from hf_rnn.recipes.imdb.model_card import BACKWARD_STAGES, ENSEMBLE_STAGES, FORWARD_STAGES, recorded_stage_seconds


def stage_minutes(results: dict) -> float | None:
    """Sum of each stage's own duration (recorded in its stage_done.json): the job's cost even when it was resumed
    across invocations. None when a stage lacks the record."""
    seconds = recorded_stage_seconds(results)
    return sum(seconds.values()) / 60 if seconds else None


# With --backward the job has a figure set per direction and for their ensemble: one row each, with the LM stage
# the direction started from (the job's stage names, as the model card reads them).
DIRECTIONS = (("forward", FORWARD_STAGES, "lm"), ("backward", BACKWARD_STAGES, "lm_backward"),
              ("ensemble", ENSEMBLE_STAGES, None))


def rows_for(results: dict) -> tuple[list[dict], list[dict]]:
    present = lambda head: [(model, results[stages[head]], lm) for model, stages, lm in DIRECTIONS
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick", choices=sorted(PRESETS))
    parser.add_argument("--output_dir", default=None, help="default: runs/bench-imdb-<preset>")
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--rating_init_from", default="lm", choices=RATING_STARTS)
    parser.add_argument("--final_fit", action="store_true", help="JobArguments.final_fit: classifiers on all labels")
    parser.add_argument("--backward", choices=("true", "false"), default=None,
                        help="JobArguments.backward: also a backward LM and classifier, and their ensemble; default: "
                             "the preset's (full: true)")
    parser.add_argument("--lm_init_from", default=None,
                        help="ModelArguments.lm_init_from: the LM stage fine-tunes this LM (e.g. a finished run's lm/, "
                             "for a second pass over the reviews) instead of training one from scratch")
    parser.add_argument("--adversarial_weight", type=float, default=None,
                        help="AdversarialArguments.adversarial_weight of the classifier stages (default: the preset's)")
    parser.add_argument("--adversarial_epsilon", type=float, default=None,
                        help="AdversarialArguments.adversarial_epsilon (default: the preset's)")
    parser.add_argument("--training_seed", type=int, default=None,
                        help="JobArguments.training_seed: another training seed on the same validation split")
    parser.add_argument("--name", default=None, help="results name; default imdb_<preset>")
    args = parser.parse_args()
    out = args.output_dir or f"runs/bench-imdb-{args.preset}"
    name = args.name or f"imdb_{args.preset}"
    from hf_rnn.training import DataArguments, ModelArguments
    from hf_rnn.training.adversarial import AdversarialArguments

    job = JobArguments(output_dir=out, preset=args.preset, rating_init_from=args.rating_init_from,
                       final_fit=args.final_fit, backward=args.backward == "true",
                       training_seed=args.training_seed)
    adversarial_flags = {name: getattr(args, name) for name in ("adversarial_weight", "adversarial_epsilon")
                         if getattr(args, name) is not None}
    named = {"backward"} if args.backward else set()
    results = run_imdb(job, data_args=DataArguments(dataset=args.dataset),
                       model_args=ModelArguments(lm_init_from=args.lm_init_from),
                       adversarial=AdversarialArguments(**adversarial_flags),
                       explicit_fields=frozenset(named | set(adversarial_flags)))
    main_rows, rating_rows = rows_for(results)
    sections = {"Sentiment (IMDB test)": (main_rows, list(main_rows[0]))}
    if rating_rows:
        sections[f"Rating 1-10 (IMDB test, {job.rating_target})"] = (rating_rows, list(rating_rows[0]))
    preset = PRESETS[args.preset]
    notes = (f"Preset `{args.preset}`: {preset}. Test size: "
             f"{preset['data'].get('max_test_samples') or 25_000} reviews (seeded random sample when < 25,000)."
             + (" Final fit: the classifiers trained on train + validation (all labelled reviews)."
                if job.final_fit else "")
             + (f" Resumed run: wall time covers the last invocation only ({results['resumed_stages']})."
                if results.get("resumed_stages") else ""))
    print(write_results(name, sections, notes, raw=results))
    # The model folder's card and curves, rendered from this run's metrics, kept beside the figures they quote.
    for produced, kept in (("training_curves.png", "training_curves.png"), ("README.md", "model_card.md")):
        if (Path(out) / "model" / produced).is_file():
            shutil.copyfile(Path(out) / "model" / produced, RESULTS_DIR / f"{name}_{kept}")


if __name__ == "__main__":
    main()
