"""How much of each review the classifiers read when they predict: the job evaluates the first `max_length` tokens
(512 in the presets; the end of a long review is kept), while an RNN has no positional limit and `predict_reviews`
reads every token. The same trained classifiers evaluated at several lengths.

    python bench/bench_eval_length.py --run runs/bench-imdb-full-fp32-val --dataset ../shared/data/imdb \
        --max_lengths 512 1024 0 --name eval_length_full_fp32

0 keeps whole reviews. Per length: the forward classifier, the backward one and their ensemble (probabilities
averaged, as the published model averages them), sentiment accuracy and the rating's figures, with McNemar's
exact test of each length's sentiment against the length the job evaluated at. At that length the figures must
equal the job's recorded ones (checked). Choose on validation (a run made without `--final_fit`).
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from bench_paired_test import check_matches_job, evaluated_length, mcnemar, model_outputs
from common import write_results

from hf_rnn.data.classification import TWO_HEAD_TARGET
from hf_rnn.ratings import posterior_median_stars, stars_agreeing_with_sentiment
from hf_rnn.recipes.imdb import PRESETS
from hf_rnn.training import DataArguments
from hf_rnn.training.recipes import load_imdb

MEMBERS = {"forward": "sentiment", "backward": "sentiment_backward"}


def probabilities(run: Path, stage: str, reviews, max_length: int, bf16: bool):
    """(sentiment probabilities, star probabilities, labels) of one two-head classifier on every review."""
    (sentiment, stars), labels = model_outputs(run / stage, reviews, TWO_HEAD_TARGET, max_length, bf16)
    softmax = lambda logits: torch.as_tensor(logits).float().softmax(-1).numpy()
    return softmax(sentiment), softmax(stars), labels


def figures(sentiment: np.ndarray, stars: np.ndarray, labels: np.ndarray) -> tuple[dict, np.ndarray]:
    """Sentiment accuracy and the rating's figures, the rating's own and with the sentiment head's polarity."""
    truth, right = labels[:, 1] + 1.0, sentiment.argmax(-1) == labels[:, 0]
    served = stars_agreeing_with_sentiment(stars, sentiment)
    row = {"sentiment": float(right.mean()),
           "rating MAE": float(np.abs(posterior_median_stars(stars) - truth).mean()),
           "exact (most likely)": float((stars.argmax(-1) + 1.0 == truth).mean()),
           "rating MAE, sentiment's polarity": float(np.abs(posterior_median_stars(served) - truth).mean()),
           "exact (most likely), sentiment's polarity": float((served.argmax(-1) + 1.0 == truth).mean())}
    return row, right


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a finished `hf-rnn imdb --backward` folder, two heads")
    parser.add_argument("--preset", default="full", choices=sorted(PRESETS))
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--split", default="validation", choices=("validation", "test"))
    parser.add_argument("--max_lengths", type=int, nargs="+", default=[512, 0], help="tokens per review; 0: all")
    parser.add_argument("--seed", type=int, default=42, help="the job's seed, which drew its validation split")
    parser.add_argument("--name", default=None, help="results name; default eval_length_<run folder>")
    args = parser.parse_args()
    run = Path(args.run)
    job_length = evaluated_length(run / MEMBERS["forward"], args.preset)  # the reference of the paired tests
    bf16 = json.loads((run / "results.json").read_text()).get("bf16", False)
    reviews = load_imdb(DataArguments(dataset=args.dataset), seed=args.seed)[args.split]
    rows, tests, right_at = [], [], {}
    for max_length in args.max_lengths:
        started, outputs = time.perf_counter(), {}
        for member, stage in MEMBERS.items():
            outputs[member] = probabilities(run, stage, reviews, max_length, bf16)
            if max_length == evaluated_length(run / stage, args.preset):  # a member copied from another run may differ
                done = json.loads((run / stage / "stage_done.json").read_text())
                check_matches_job(f"{member} {args.split} accuracy", figures(*outputs[member])[1].mean(),
                                  done.get(f"{args.split}_accuracy"))
        minutes = (time.perf_counter() - started) / 60
        labels = outputs["forward"][2]
        outputs["ensemble"] = (np.mean([outputs[m][0] for m in MEMBERS], 0),
                               np.mean([outputs[m][1] for m in MEMBERS], 0), labels)
        for model, (sentiment, stars, model_labels) in outputs.items():
            row, right = figures(sentiment, stars, model_labels)
            rows.append({"max_length": max_length or "whole review", "model": model, **row,
                         "minutes (both members)": minutes})
            right_at[max_length, model] = right
    for (max_length, model), right in right_at.items():
        if max_length != job_length and (job_length, model) in right_at:
            tests.append({"model": model, "max_length": max_length or "whole review",
                          **mcnemar(right, right_at[job_length, model])})
    sections = {f"Figures on the {args.split} split": (rows, list(rows[0]))}
    if tests:
        sections[f"Sentiment against {job_length} tokens (McNemar; 'ours' the other length)"] = (tests,
                                                                                                    list(tests[0]))
    evaluated = f"{job_length} tokens per review" if job_length else "whole reviews"
    where = f" (seed {args.seed})" if args.split == "validation" else ""
    notes = (f"Classifiers of `{args.run}` (preset `{args.preset}`; the job evaluated them on {evaluated}), "
             f"{len(reviews):,} {args.split} reviews{where}" + (", under bfloat16 autocast." if bf16 else "."))
    print(write_results(args.name or f"eval_length_{run.name}", sections, notes))


if __name__ == "__main__":
    main()
