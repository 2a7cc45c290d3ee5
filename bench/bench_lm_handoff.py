"""ULMFiT's hand-off measured: an LM pretrained on plain-text files, handed to the main job, vs the job's own LM.

    flock /tmp/hf_rnn_bench.lock python bench/bench_lm_handoff.py --imdb /path/to/imdb [--seeds 42 7]

Two arms at the quick preset's shapes and the same number of LM steps in all:
- in-job: `hf-rnn imdb --preset quick` with its LM trained from scratch for `--lm_steps` steps;
- hand-off: `scripts/run_lm.py`'s recipe (`pretrain_on_corpus`) on IMDB's unlabelled reviews written out as plain
  text, one review per line, with its own tokenizer, for half the steps; then the same job with
  `--lm_init_from` that LM, whose LM stage fine-tunes it on the reviews for the other half (the job's tokenizer
  differs: shared words keep their rows, the others start from the mean embedding).
The classifiers are the quick preset's; the figure compared is the validation accuracy (the job's seeded split of
`train`), with the 5,000-review test sample beside it. The rating stage is off in both arms (it does not change the
sentiment figure). The text files live in a temporary folder outside the repository and are deleted at the end; the
test split is never read for training. Writes bench/results/lm_handoff.{json,md}.
"""

import argparse
import copy
import dataclasses
import tempfile
import time
from pathlib import Path

from common import write_results

# The smoke size (a test, a first look): a few hundred reviews and steps.
SMOKE_DATA = dict(max_lm_documents=400, max_train_samples=200, max_eval_samples=100, max_test_samples=100)


def write_unlabelled_text(imdb: str, folder: Path, limit: int | None) -> Path:
    """The unlabelled reviews as one plain-text file, one review per line (what a user's own corpus looks like)."""
    from hf_rnn.data import load_reviews

    unlabelled = load_reviews(imdb)["unsupervised"]  # any source the job takes: Hub id, parquet folder, aclImdb
    if limit:
        unlabelled = unlabelled.select(range(min(limit, len(unlabelled))))
    path = folder / "unlabelled.txt"
    path.write_text("\n".join(" ".join(text.split()) for text in unlabelled["text"]) + "\n")
    return path


def pretrain_general_lm(text_file: Path, out: Path, steps: int, seed: int) -> dict:
    """scripts/run_lm.py's recipe at the quick preset's model shapes; returns its metrics (perplexity included)."""
    from transformers import TrainingArguments

    from hf_rnn.recipes.imdb import COMMON, PRESETS
    from hf_rnn.training import (CorpusArguments, DataArguments, ModelArguments, TokenizerArguments, ULMFiTArguments,
                                 pretrain_on_corpus)
    from hf_rnn.training.overrides import format_config_overrides

    quick = PRESETS["quick"]
    data = DataArguments(block_size=quick["data"]["block_size"], lm_streams=quick["data"]["lm_streams"],
                         max_lm_eval_documents=200)
    training = TrainingArguments(output_dir=str(out), seed=seed, disable_tqdm=True, save_strategy="no",
                                 **{**COMMON["lm"], **quick["lm_training"], "max_steps": steps,
                                    "per_device_eval_batch_size": 8})
    tokenizer = TokenizerArguments(**{k: v for k, v in quick["tokenizer"].items() if k != "max_tokenizer_documents"})
    model = ModelArguments(config_overrides=format_config_overrides(quick["model"]))
    return pretrain_on_corpus(CorpusArguments(train_file=[str(text_file)]), data, tokenizer, model,
                              ULMFiTArguments(**quick["ulmfit"]), training)


def run_job(imdb: str, out: Path, lm_steps: int, seed: int, smoke: bool, lm_init_from: str | None) -> dict:
    """The quick job with `lm_steps` LM steps (an in-process preset copy), no rating stage; its results."""
    from hf_rnn.recipes.imdb import PRESETS, JobArguments, run_imdb
    from hf_rnn.training import DataArguments, ModelArguments

    name = f"quick-lm{lm_steps}" + ("-smoke" if smoke else "")
    preset = copy.deepcopy(PRESETS["quick"])
    preset["lm_training"]["max_steps"] = lm_steps
    if smoke:
        preset["data"].update(SMOKE_DATA)
        preset["classifier_training"]["num_train_epochs"] = 1
    PRESETS[name] = preset  # run_imdb reads presets by name; this one lives only in this process
    job = JobArguments(output_dir=str(out), preset=name, seed=seed, rating=False)
    return run_imdb(job, data_args=DataArguments(dataset=imdb), model_args=ModelArguments(lm_init_from=lm_init_from))


def arm_row(arm: str, seed: int, results: dict, general: dict | None, seconds: float, steps: tuple) -> dict:
    sentiment, lm = results["sentiment"], results["lm"]
    return {"arm": arm, "seed": seed, "general LM steps": steps[0], "job LM steps": steps[1],
            "general LM perplexity": general.get("eval_perplexity") if general else None,
            "LM perplexity (validation)": lm.get("eval_perplexity"),
            "LM words kept from the general LM": (lm.get("vocabulary_transfer") or {}).get("coverage"),
            "validation accuracy": sentiment.get("validation_accuracy"),
            "test accuracy": sentiment.get("test_accuracy"), "minutes": seconds / 60}


def run_seed(imdb: str, folder: Path, text_file: Path, seed: int, lm_steps: int, smoke: bool) -> list[dict]:
    half = lm_steps // 2
    start = time.time()
    in_job = run_job(imdb, folder / f"in-job-{seed}", lm_steps, seed, smoke, None)
    rows = [arm_row("in-job LM", seed, in_job, None, time.time() - start, (0, lm_steps))]
    start = time.time()
    general = pretrain_general_lm(text_file, folder / f"general-lm-{seed}", half, seed)
    handed = run_job(imdb, folder / f"hand-off-{seed}", lm_steps - half, seed, smoke, str(folder / f"general-lm-{seed}"))
    rows.append(arm_row("hand-off (--lm_init_from)", seed, handed, general, time.time() - start,
                        (half, lm_steps - half)))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imdb", required=True, help="IMDB folder or Hub id (the parquet layout with unsupervised)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--lm_steps", type=int, default=2000, help="LM steps of each arm in all (quick: 2,000)")
    parser.add_argument("--smoke", action="store_true", help="tiny data and steps: checks the code, not the claim")
    parser.add_argument("--name", default="lm_handoff")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hf_rnn_handoff_") as tmp:
        folder = Path(tmp)
        text_file = write_unlabelled_text(args.imdb, folder, 2_000 if args.smoke else None)
        rows = [row for seed in args.seeds for row in run_seed(args.imdb, folder, text_file, seed, args.lm_steps,
                                                                 args.smoke)]
    notes = (f"Quick preset shapes; each arm has {args.lm_steps} LM steps in all (hand-off: half on the unlabelled "
             "reviews as plain text with its own tokenizer, half fine-tuning in the job). Validation: the job's seeded "
             "split of train; test: the quick preset's 5,000-review sample. Rating stage off."
             + (" SMOKE size: not a measurement." if args.smoke else ""))
    print(write_results(args.name, {"Hand-off vs in-job LM": (rows, list(rows[0]))}, notes))


if __name__ == "__main__":
    main()
