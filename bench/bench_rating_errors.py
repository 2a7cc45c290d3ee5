"""Where does the rating model lose exact hits to multinomial LR? Reviews that state their score vs the rest.

    python bench/bench_rating_errors.py --run runs/bench-imdb-full-9k --preset full --dataset ../shared/data/imdb

About 8% of IMDB reviews state their score in the text ("7/10", "3 out of 10"), mostly in the last few words.
A bag of words reads that directly; the LSTM has to carry it into its pooled summary. This bench scores the run's
rating model (`--stage`, default `rating`) and a multinomial LR on TF-IDF, refit here on the same 22,500 training
reviews the run used, on the validation split (the test split is for final figures only), and reports exact hits
of the most likely rating on reviews with and without such a score.
"""

import argparse
import re
from pathlib import Path

import numpy as np
from bench_baselines import clean, vectorize
from bench_paired_test import model_outputs
from common import write_results
from sklearn.linear_model import LogisticRegression

from hf_rnn.training import DataArguments, load_imdb
from hf_rnn.recipes.imdb import PRESETS, with_preset

# "7/10", "7 / 10", "8.5/10", "3 out of 10": a score on IMDB's own scale.
STATED_SCORE = re.compile(r"\b\d+(\.\d+)?\s*(/|out of)\s*10\b", re.IGNORECASE)


def exact_rows(groups: dict[str, np.ndarray], ratings: np.ndarray, ours: np.ndarray, theirs: np.ndarray) -> list:
    return [{"reviews": name, "count": int(mask.sum()), "share": mask.mean(),
             "ours exact (most likely)": (ours[mask] == ratings[mask]).mean(),
             "LR exact (most likely)": (theirs[mask] == ratings[mask]).mean(),
             "ours MAE (most likely)": np.abs(ours[mask] - ratings[mask]).mean(),
             "LR MAE (most likely)": np.abs(theirs[mask] - ratings[mask]).mean()}
            for name, mask in groups.items()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="finished main-job folder with a rating10 stage")
    parser.add_argument("--stage", default="rating", help="the stage folder of the rating model inside --run")
    parser.add_argument("--preset", default="full", choices=sorted(PRESETS))
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--seed", type=int, default=42, help="the run's seed: it cut the validation split")
    args = parser.parse_args()
    data = with_preset(DataArguments, PRESETS[args.preset]["data"], DataArguments(dataset=args.dataset))
    dsd = load_imdb(data, seed=args.seed)
    train, validation = dsd["train"], dsd["validation"]
    ratings = np.array(validation["rating"])
    ours = model_outputs(Path(args.run) / args.stage, validation, "rating10", data.max_length)[0].argmax(-1) + 1
    x_train, x_validation = vectorize(clean(train["text"]), clean(validation["text"]))
    theirs = LogisticRegression(C=3, max_iter=3000).fit(x_train, np.array(train["rating"])).predict(x_validation)
    stated = np.array([STATED_SCORE.search(text) is not None for text in validation["text"]])
    groups = {"all": np.ones_like(stated), "score stated (e.g. 7/10)": stated, "no score stated": ~stated}
    rows = exact_rows(groups, ratings, ours, theirs)
    notes = (f"Rating model `{args.run}/{args.stage}` vs multinomial LR on TF-IDF (C=3, as bench_baselines.py), "
             f"both trained on the run's {len(train):,} training reviews; {len(validation):,} validation reviews. "
             "Both predict the most likely rating (the one that maximises exact hits).")
    print(write_results(f"rating_errors_{Path(args.run).name}_{args.stage}", {"Validation": (rows, list(rows[0]))},
                        notes))


if __name__ == "__main__":
    main()
