"""A bag-of-words member beside the recurrent ones: the published ensemble with an NB-weighted logistic regression on
the review's words and word pairs (and a multinomial one for the stars), at several shares of the averaged
probabilities.

    python bench/bench_ngram_member.py --run runs/bench-imdb-full-fp32-val --dataset ../shared/data/imdb \
        --eval_max_length 0 --weights 0 0.1 0.2 0.3 0.4 --fits 1:0.1 --name ngram_member_full_fp32

`--fits c:rating_c` are the bag's inverse regularisation strengths (`--ngram_logistic_c`,
`--ngram_logistic_rating_c`), one fit each, on the run's own training reviews (with the validation split too for a
`--final_fit` run, as its classifiers), whole. The recurrent members read `--eval_max_length` tokens per review
(default: the job's recorded evaluation length, and then their figures must equal the job's); per weight: sentiment
and the rating's figures, with McNemar's exact test of the sentiment against the members alone. Choose on
validation (a run made without `--final_fit`); test is for the chosen setting's final figures.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from bench_eval_length import MEMBERS, figures, probabilities
from bench_paired_test import check_matches_job, evaluated_length, mcnemar
from common import write_results
from transformers import AutoConfig, AutoTokenizer

from hf_rnn.data.classification import TWO_HEAD_TARGET, classification_features
from hf_rnn.recipes.imdb import PRESETS
from hf_rnn.recipes.imdb.presets import preset_for
from hf_rnn.recipes.imdb.job import all_labelled_for_training
from hf_rnn.training import DataArguments
from hf_rnn.training.ngram_logistic import NgramLogisticArguments, ngram_logistic_outputs
from hf_rnn.training.recipes import fit_ngram_member, load_imdb


def members_alone(run: Path, reviews, preset: str, split: str, bf16: bool, max_length: int | None, job_rows: int):
    """(sentiment, stars, labels) of the recurrent members' average on `max_length` tokens per review (0: whole;
    None: as the job evaluated them, whose figures they must then reproduce on its `job_rows` first reviews)."""
    outputs = []
    for member, stage in run_members(run).items():
        job_length = evaluated_length(run / stage, preset)
        outputs.append(probabilities(run, stage, reviews, job_length if max_length is None else max_length, bf16))
        if max_length in (None, job_length):
            done = json.loads((run / stage / "stage_done.json").read_text())
            check_matches_job(f"{member} {split} accuracy", figures(*outputs[-1])[1][:job_rows].mean(),
                              done.get(f"{split}_accuracy"))
    return np.mean([o[0] for o in outputs], 0), np.mean([o[1] for o in outputs], 0), outputs[0][2]


def run_members(run: Path) -> dict:
    """The run's classifiers by direction: forward and backward, or the forward one alone."""
    return {member: stage for member, stage in MEMBERS.items() if (run / stage / "stage_done.json").is_file()}


def evaluated_reviews(run: Path, dataset: str | None, preset: str, split: str, seed: int,
                      max_train_samples: int | None = None):
    """The job's training reviews (as many as its classifiers trained on, or `max_train_samples`; with the validation
    split for a final fit) and every review of `split`, ordered so that the ones the job evaluated (its preset's
    subset) come first; and their number."""
    job = json.loads((run / "results.json").read_text())
    data = preset_for(preset, job.get("bf16", False))["data"]
    trained_on = json.loads((run / MEMBERS["forward"] / "stage_done.json").read_text()).get("train_reviews")
    # The run's own record, not the preset's size, which may have changed since the run.
    recorded = None if job.get("final_fit") else trained_on
    limits = dict(max_train_samples=max_train_samples or recorded or data.get("max_train_samples"),
                  max_test_samples=data.get("max_test_samples"))
    dsd = load_imdb(DataArguments(dataset=dataset, **limits), seed=seed)
    train = (all_labelled_for_training(dsd) if job.get("final_fit") else dsd)["train"]
    job_rows = data.get("max_eval_samples") if split == "validation" else data.get("max_test_samples")
    # load_imdb cuts a split to its first rows after this shuffle: the job's validation reviews lead it.
    reviews = dsd[split].shuffle(seed=seed) if split == "validation" and job_rows else dsd[split]
    return train, reviews, min(job_rows or len(reviews), len(reviews))


def mixed(first: np.ndarray, second: np.ndarray, share: float) -> np.ndarray:
    """Probabilities with `share` of them the second distribution's, as the published ensemble mixes its members."""
    return (1 - share) * first + share * second


def bag_probabilities(config, tokenizer, train, evaluated, settings: NgramLogisticArguments):
    """The bag's (sentiment, stars) probabilities on the evaluated reviews, fitted as the job's ensemble stage fits it
    on the training reviews for the members of `config`, and the fit's seconds."""
    started = time.perf_counter()
    bag = fit_ngram_member(tokenizer, train, DataArguments(target=TWO_HEAD_TARGET), config, settings)
    seconds = time.perf_counter() - started
    features = classification_features(evaluated, tokenizer, target=TWO_HEAD_TARGET, max_length=0)
    logits, stars = ngram_logistic_outputs(bag, features, config.pad_token_id)
    return logits.softmax(-1).numpy(), stars.softmax(-1).numpy(), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a finished `hf-rnn imdb --heads shared` folder (with or "
                        "without --backward)")
    parser.add_argument("--preset", default="full", choices=sorted(PRESETS))
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--split", default="validation", choices=("validation", "test"))
    parser.add_argument("--weights", type=float, nargs="+", default=[0, 0.1, 0.2, 0.3, 0.4])
    parser.add_argument("--fits", nargs="+", default=["1:0.1"], help="c:rating_c pairs, one bag fitted per pair")
    parser.add_argument("--buckets", type=int, default=NgramLogisticArguments.ngram_logistic_buckets,
                        help="the bag's hashed word-pair buckets (--ngram_logistic_buckets)")
    parser.add_argument("--eval_max_length", type=int, default=None,
                        help="tokens per review the recurrent members read (0: whole); default: as the job evaluated")
    parser.add_argument("--max_train_samples", type=int, default=None,
                        help="training reviews for the bag; default: as many as the run's classifiers trained on")
    parser.add_argument("--seed", type=int, default=42, help="the job's seed, which drew its validation split")
    parser.add_argument("--name", default=None, help="results name; default ngram_member_<run folder>")
    args = parser.parse_args()
    run = Path(args.run)
    job = json.loads((run / "results.json").read_text())
    train, reviews, job_rows = evaluated_reviews(run, args.dataset, args.preset, args.split, args.seed,
                                                 args.max_train_samples)
    sentiment, stars, labels = members_alone(run, reviews, args.preset, args.split, job.get("bf16", False),
                                              args.eval_max_length, job_rows)
    alone, alone_right = figures(sentiment, stars, labels)
    exact_alone = stars.argmax(-1) == labels[:, 1]
    rows, tests, exact_tests = [{"bag fit (c:rating_c)": "none", "weight": 0.0, **alone, "fit seconds": 0.0}], [], []
    tokenizer = AutoTokenizer.from_pretrained(run / MEMBERS["forward"])
    config = AutoConfig.from_pretrained(run / MEMBERS["forward"])
    for fit in args.fits:
        c, rating_c = (float(value) for value in fit.split(":"))
        settings = NgramLogisticArguments(ngram_logistic_c=c, ngram_logistic_rating_c=rating_c,
                                          ngram_logistic_buckets=args.buckets)
        bag_sentiment, bag_stars, seconds = bag_probabilities(config, tokenizer, train, reviews, settings)
        for weight in [w for w in args.weights if w > 0] + [1.0]:  # 1.0: the bag alone
            mixed_stars = mixed(stars, bag_stars, weight)
            row, right = figures(mixed(sentiment, bag_sentiment, weight), mixed_stars, labels)
            rows.append({"bag fit (c:rating_c)": fit, "weight": weight, **row, "fit seconds": seconds})
            tests.append({"bag fit (c:rating_c)": fit, "weight": weight, **mcnemar(right, alone_right)})
            exact_tests.append({"bag fit (c:rating_c)": fit, "weight": weight,
                                **mcnemar(mixed_stars.argmax(-1) == labels[:, 1], exact_alone)})
    length = "as the job evaluated them" if args.eval_max_length is None else (
        f"{args.eval_max_length} tokens per review" if args.eval_max_length else "whole reviews")
    final_fit = ", final fit" if job.get("final_fit") else ""
    notes = (f"The recurrent members ({', '.join(run_members(run))}) of `{args.run}` (preset `{args.preset}`"
             f"{final_fit}; evaluated on {length}) and a bag fitted on its {len(train):,} training reviews, on "
             f"{len(reviews):,} {args.split} reviews ({args.buckets:,} word-pair buckets). Weight: the bag's share of "
             "the averaged probabilities (both heads); 1.0 is the bag alone.")
    print(write_results(args.name or f"ngram_member_{run.name}", {
        f"Figures on the {args.split} split": (rows, list(rows[0])),
        "Sentiment against the members alone (McNemar; 'ours' with the bag)": (tests, list(tests[0])),
        "Most-likely rating exact hits against the members alone (McNemar)": (exact_tests, list(exact_tests[0])),
    }, notes))


if __name__ == "__main__":
    main()
