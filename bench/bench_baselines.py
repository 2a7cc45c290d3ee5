"""Bag-of-words baselines on IMDB (train -> test), the figures the recurrent models must beat.

    python bench/bench_baselines.py [--dataset ../shared/data/imdb]

TF-IDF uni+bigram logistic regression, NB-weighted logistic regression (NBSVM-style, Wang & Manning 2012),
and the 1-10 rating as multinomial logistic regression (prediction: the posterior median). The hyperparameters
are fixed in advance (no tuning on test).
"""

import argparse
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from common import write_results
from hf_rnn.data import load_reviews

TOKEN_PATTERN = r"(?u)\b\w[\w']*\b|[!?]"  # words plus ! and ?, which carry sentiment


def clean(texts):
    return [t.replace("<br />", " ") for t in texts]


def tfidf_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_df=0.9, sublinear_tf=True, token_pattern=TOKEN_PATTERN,
                           lowercase=True)


def vectorize(train_texts, test_texts):
    vectorizer = tfidf_vectorizer()
    return vectorizer.fit_transform(train_texts), vectorizer.transform(test_texts)


def nb_ratio(x, y, alpha=1.0):
    """Log-count ratio r of Wang & Manning: features are scaled by it before the linear model."""
    positive = alpha + x[y == 1].sum(0)
    negative = alpha + x[y == 0].sum(0)
    return np.asarray(np.log((positive / positive.sum()) / (negative / negative.sum()))).ravel()


def fit_bag_of_words(texts, labels, nb_weighted: bool = False, C: float = 10):
    """TF-IDF uni+bigram logistic regression (NB-weighted with `nb_weighted`) fitted on raw review texts, as in
    `main`; returns `predict(texts) -> labels`, which cleans and vectorises new texts itself."""
    vectorizer = tfidf_vectorizer()
    x, y = vectorizer.fit_transform(clean(texts)), np.asarray(labels)
    scale = nb_ratio(x, y) if nb_weighted else None
    features = lambda matrix: matrix.multiply(scale).tocsr() if nb_weighted else matrix
    model = LogisticRegression(C=C, max_iter=2000).fit(features(x), y)
    return lambda new_texts: model.predict(features(vectorizer.transform(clean(new_texts))))


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def rating_posterior_median(model, x):
    probs = model.predict_proba(x)  # [N, classes] over the ratings seen in train
    median_index = (np.cumsum(probs, axis=1) >= 0.5).argmax(axis=1)
    return model.classes_[median_index]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=None, help="IMDB source (default: local copy or the Hub)")
    args = parser.parse_args()
    dsd = load_reviews(args.dataset)
    train, test = dsd["train"], dsd["test"]
    (x_train, x_test), vec_s = timed(lambda: vectorize(clean(train["text"]), clean(test["text"])))
    y_train, y_test = np.array(train["label"]), np.array(test["label"])
    rows = []

    lr, fit_s = timed(lambda: LogisticRegression(C=10, max_iter=2000).fit(x_train, y_train))
    rows.append({"model": "TF-IDF uni+bigram + logistic regression", "test accuracy": (lr.predict(x_test) == y_test).mean(),
                 "seconds": vec_s + fit_s})
    r = nb_ratio(x_train, y_train)
    nb, fit_s = timed(lambda: LogisticRegression(C=10, max_iter=2000).fit(x_train.multiply(r).tocsr(), y_train))
    rows.append({"model": "NB-weighted logistic regression (NBSVM-style)",
                 "test accuracy": (nb.predict(x_test.multiply(r).tocsr()) == y_test).mean(), "seconds": vec_s + fit_s})
    ratings_train, ratings_test = np.array(train["rating"]), np.array(test["rating"])
    multi, fit_s = timed(lambda: LogisticRegression(C=3, max_iter=3000).fit(x_train, ratings_train))
    predicted = rating_posterior_median(multi, x_test)
    rating_rows = [{"model": "multinomial LR on TF-IDF, posterior median", "exact": (predicted == ratings_test).mean(),
                    "within one": (np.abs(predicted - ratings_test) <= 1).mean(),
                    "MAE": np.abs(predicted - ratings_test).mean(), "seconds": vec_s + fit_s}]
    for row in rows + rating_rows:
        print(row, flush=True)
    print(write_results("baselines", {
        "Binary sentiment, IMDB test (25,000 reviews)": (rows, ["model", "test accuracy", "seconds"]),
        "Star rating 1-10, IMDB test": (rating_rows, ["model", "exact", "within one", "MAE", "seconds"]),
    }, notes="Trained on all 25,000 training reviews, evaluated once on the 25,000 test reviews."))


if __name__ == "__main__":
    main()
