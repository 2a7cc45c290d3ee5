"""Does the main job's model beat the bag-of-words baselines beyond chance? Paired tests on the IMDB test split.

    python bench/bench_paired_test.py --run runs/bench-imdb-full-9k --preset full --dataset ../shared/data/imdb
    python bench/bench_paired_test.py --run runs/bench-imdb-full-bwd-ff --stage ensemble   # a --backward run

Both systems score every test review. Sentiment: McNemar's exact test on the reviews exactly one of them gets right,
and a 95% interval for the accuracy difference. Rating: the same test on exact hits (by the posterior median, which
the job reports, and by the most likely rating, which maximises exact hits), and a sign test on which system
is closer to the true rating (ties dropped). The run's models are re-evaluated the way the main job evaluated them
(same tokenizer, truncation and metric), so their accuracy must equal the job's recorded test figure; the baselines
are refit exactly as `bench_baselines.py` fits them (hyperparameters fixed in advance).
"""

import argparse
import json
from pathlib import Path

import numpy as np
from bench_baselines import clean, nb_ratio, rating_posterior_median, vectorize
from common import write_results
from scipy.stats import binomtest
from sklearn.linear_model import LogisticRegression
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

from hf_rnn.data import TWO_HEAD_TARGET, classification_collator, classification_features, load_reviews
from hf_rnn.machine import cpu_bfloat16_settings
from hf_rnn.recipes.imdb import PRESETS
from hf_rnn.training import DataArguments, ratings_from_outputs


def model_outputs(stage_dir: Path, split, target: str, max_length: int,
                  bf16: bool = False) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Every head's logits (a two-head model gives the sentiment's, then the rating's) and the labels (as the job
    encodes them for `target`) for every review of `split`, in the split's own order (evaluated in length-sorted
    batches: less padding). `bf16`: under bfloat16 autocast, as a job run with it evaluated."""
    tokenizer = AutoTokenizer.from_pretrained(stage_dir)
    model = AutoModelForSequenceClassification.from_pretrained(stage_dir)
    features = classification_features(split, tokenizer, target=target, max_length=max_length)
    order = np.argsort(np.asarray(features["length"]), kind="stable")
    args = TrainingArguments(output_dir="/tmp/hf_rnn_paired_test", per_device_eval_batch_size=64, report_to=[],
                             bf16=bf16, **cpu_bfloat16_settings(bf16))
    trainer = Trainer(model=model, args=args, data_collator=classification_collator(tokenizer))
    predictions = trainer.predict(features.select(order)).predictions
    heads = predictions if isinstance(predictions, tuple) else (predictions,)
    return tuple(_unsort(head, order) for head in heads), np.asarray(features["labels"])


def evaluated_length(stage_dir: Path, preset: str) -> int:
    """Tokens per review the job evaluated a stage on (0: whole reviews): recorded in its stage_done.json since
    `--eval_max_length`, else the preset's training length, which evaluation used before."""
    done = json.loads((Path(stage_dir) / "stage_done.json").read_text())
    return done.get("eval_max_length", PRESETS[preset]["data"].get("max_length", DataArguments.max_length))


def _unsort(sorted_rows: np.ndarray, order: np.ndarray) -> np.ndarray:
    rows = np.empty_like(sorted_rows)
    rows[order] = sorted_rows
    return rows


def has_second_head(config: dict) -> bool:
    """A two-head classifier (`--heads shared`), or an ensemble of them (its members' configs hold the heads)."""
    return bool(config.get("auxiliary_label_names") or
                any(member.get("auxiliary_label_names") for member in config.get("members", [])))


def our_outputs(run: Path, stage: str, test, max_length: int, sentiment_done: dict, bf16: bool = False):
    """The sentiment logits of the run's `stage` folder, and (10-way rating logits, their labels, the job's recorded
    test MAE) from that model's second head (`--heads shared`) or the separate rating stage, or None for a run
    without a 10-way rating."""
    if has_second_head(json.loads((run / stage / "config.json").read_text())):  # one pass gives both heads
        (sentiment, rating), labels = model_outputs(run / stage, test, TWO_HEAD_TARGET, max_length, bf16)
        return sentiment, (rating, labels[:, 1], sentiment_done.get("test_rating_mae"))
    (sentiment, *_), _ = model_outputs(run / stage, test, "binary", max_length, bf16)
    done_path = run / "rating" / "stage_done.json"
    rating_config = json.loads((run / "rating" / "config.json").read_text()) if done_path.is_file() else {}
    if len(rating_config.get("id2label", {})) != 10:  # no rating stage, or a regression one (no posterior median)
        return sentiment, None
    (rating, *_), labels = model_outputs(run / "rating", test, "rating10", max_length, bf16)
    return sentiment, (rating, labels, json.loads(done_path.read_text()).get("test_mae"))


def mcnemar(ours_right: np.ndarray, theirs_right: np.ndarray) -> dict:
    """Exact McNemar test plus the paired 95% interval of the difference in accuracy (ours - theirs)."""
    only_ours = int((ours_right & ~theirs_right).sum())
    only_theirs = int((~ours_right & theirs_right).sum())
    n = len(ours_right)
    difference = (only_ours - only_theirs) / n
    spread = np.sqrt(only_ours + only_theirs - (only_ours - only_theirs) ** 2 / n) / n
    p_value = binomtest(only_ours, only_ours + only_theirs).pvalue if only_ours + only_theirs else 1.0
    return {"ours": ours_right.mean(), "theirs": theirs_right.mean(), "difference": difference,
            "95% interval": f"{difference - 1.96 * spread:+.4f} to {difference + 1.96 * spread:+.4f}",
            "only ours right": only_ours, "only theirs right": only_theirs, "p (two-sided)": p_value}


def sign_test(our_errors: np.ndarray, their_errors: np.ndarray) -> dict:
    closer, farther = int((our_errors < their_errors).sum()), int((our_errors > their_errors).sum())
    return {"ours closer": closer, "theirs closer": farther, "ties": len(our_errors) - closer - farther,
            "ours MAE": our_errors.mean(), "theirs MAE": their_errors.mean(),
            "p (two-sided)": binomtest(closer, closer + farther).pvalue if closer + farther else 1.0}


def check_matches_job(name: str, measured: float, recorded: float | None):
    """The re-evaluation must reproduce the job's own test figure, or the comparison is not about that model."""
    if recorded is not None and abs(measured - recorded) > 1e-4:
        raise SystemExit(f"{name}: re-evaluated test figure {measured:.5f} differs from the job's {recorded:.5f}.")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="finished main-job folder: sentiment/ (and rating/ unless the heads were shared)")
    parser.add_argument("--stage", default="sentiment", choices=("sentiment", "sentiment_backward", "ensemble"),
                        help="which of the run's classifiers to test: the forward one, the backward one or their "
                             "ensemble (the last two from a `--backward` run)")
    parser.add_argument("--preset", default="full", choices=sorted(PRESETS))
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--name", default=None, help="results name; default paired_test_<preset>")
    args = parser.parse_args()
    run = Path(args.run)
    max_length = evaluated_length(run / args.stage, args.preset)
    dsd = load_reviews(args.dataset)
    train, test = dsd["train"], dsd["test"]
    labels, ratings = np.array(test["label"]), np.array(test["rating"])
    x_train, x_test = vectorize(clean(train["text"]), clean(test["text"]))
    y_train = np.array(train["label"])

    sentiment_done = json.loads((run / args.stage / "stage_done.json").read_text())
    job_results = json.loads((run / "results.json").read_text()) if (run / "results.json").is_file() else {}
    sentiment_logits, rating = our_outputs(run, args.stage, test, max_length, sentiment_done,
                                           bf16=job_results.get("bf16", False))
    ours_right = sentiment_logits.argmax(-1) == labels
    check_matches_job("sentiment", ours_right.mean(), sentiment_done.get("test_accuracy"))
    tfidf = LogisticRegression(C=10, max_iter=2000).fit(x_train, y_train)
    r = nb_ratio(x_train, y_train)
    nblr = LogisticRegression(C=10, max_iter=2000).fit(x_train.multiply(r).tocsr(), y_train)
    sentiment_rows = [
        {"baseline": "TF-IDF uni+bigram + logistic regression", **mcnemar(ours_right, tfidf.predict(x_test) == labels)},
        {"baseline": "NB-weighted logistic regression",
         **mcnemar(ours_right, nblr.predict(x_test.multiply(r).tocsr()) == labels)},
    ]
    sections = {"Sentiment (accuracy; McNemar exact test)": (sentiment_rows, list(sentiment_rows[0]))}

    if rating is not None:
        logits, rating_labels, recorded_mae = rating
        our_stars, _ = ratings_from_outputs(logits, rating_labels, "rating10")  # the job's own prediction: the median
        check_matches_job("rating", np.abs(our_stars - ratings).mean(), recorded_mae)
        multi = LogisticRegression(C=3, max_iter=3000).fit(x_train, np.array(train["rating"]))
        their_stars = rating_posterior_median(multi, x_test)
        # The median minimises absolute error; exact hits are maximised by the most likely rating instead.
        our_mode, their_mode = logits.argmax(-1) + 1, multi.predict(x_test)
        exact = [{"comparison": "exact rating (posterior median), vs multinomial LR",
                  **mcnemar(our_stars == ratings, their_stars == ratings)},
                 {"comparison": "exact rating (most likely rating), vs multinomial LR",
                  **mcnemar(our_mode == ratings, their_mode == ratings)}]
        closer = {"comparison": "closer to the true rating (posterior medians), vs multinomial LR",
                  **sign_test(np.abs(our_stars - ratings), np.abs(their_stars - ratings))}
        sections["Rating: exact (McNemar)"] = (exact, list(exact[0]))
        sections["Rating: which is closer (sign test)"] = ([closer], list(closer))

    # An ensemble trains nothing itself: its members trained on the forward classifier's reviews.
    forward_done = json.loads((run / "sentiment" / "stage_done.json").read_text())
    notes = (f"Models of `{args.run}` (`{args.stage}/`; preset `{args.preset}`, trained on "
             f"{training_reviews(forward_done)}) against "
             "the baselines of bench_baselines.py (trained on all 25,000); all 25,000 test reviews, scored by both.")
    print(write_results(args.name or f"paired_test_{args.preset}", sections, notes))


def training_reviews(stage_done: dict) -> str:
    """How many labelled reviews the job's classifier trained on (recorded since the final-fit option; earlier runs
    trained on the job's default split, train less 10% for validation)."""
    count = stage_done.get("train_reviews")
    return f"{count:,} labelled reviews" if count else "train less its 10% validation split: 22,500 labelled reviews"


if __name__ == "__main__":
    main()
