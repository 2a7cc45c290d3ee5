"""The ensemble's bag-of-words member: which words and word pairs a review contains, weighted by a convex fit.

NB-weighted logistic regression (Wang & Manning 2012) is the strongest bag-of-words baseline of this project, and its
errors are not the recurrent classifiers' (it reads "7/10" and rare word pairs the pooled state dilutes). Fitted
here with scikit-learn's `LogisticRegression` on the same hashed features the shipped
[`NgramLogisticRegression`] computes from token ids (its own code builds the matrix, so training and serving read
identical features), then copied into that module, which the ensemble averages with its recurrent members.
"""

from dataclasses import dataclass, field

import datasets
import numpy as np
import torch
from tqdm.auto import tqdm

from ..models.rnn.modeling_rnn import hashed_ngrams
from ..models.rnn.modeling_rnn_ensemble import NgramLogisticRegression, first_occurrences

UNSEEN_CLASS_SCORE = -1e4  # a class no training review has (IMDB has no 5 or 6 stars) gets no probability


@dataclass
class NgramLogisticArguments:
    """A bag-of-words member of the published ensemble (off by default)."""

    ngram_logistic_weight: float = field(default=0.0, metadata={
        "help": "Share of the ensemble's averaged class (sentiment) probabilities given to a logistic regression on "
                "the review's words and word pairs, fitted in the ensemble stage (0 = off; the recurrent members "
                "share the rest)."})
    ngram_logistic_rating_weight: float = field(default=0.0, metadata={
        "help": "The same bag's share of the second head's (the star rating's) averaged probabilities (0 = off)."})
    ngram_logistic_buckets: int = field(default=2**20, metadata={
        "help": "Hash buckets for word pairs of this bag-of-words member, a logistic regression fitted outside the "
                "network in the ensemble stage (rows of its table after the vocabulary's). Not RNNConfig's "
                "ngram_buckets, the n-gram bag inside a classifier, trained with it by gradient."})
    ngram_logistic_c: float = field(default=1.0, metadata={
        "help": "Inverse L2 strength of the sentiment's NB-weighted logistic regression (scikit-learn's C)."})
    ngram_logistic_rating_c: float = field(default=0.1, metadata={
        "help": "Inverse L2 strength of the second head's (star rating's) multinomial logistic regression."})

    def __post_init__(self):
        for name in ("ngram_logistic_weight", "ngram_logistic_rating_weight"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be in [0, 1) (0 = off).")
        if self.ngram_logistic_buckets < 1 or self.ngram_logistic_c <= 0 or self.ngram_logistic_rating_c <= 0:
            raise ValueError("ngram_logistic_buckets, ngram_logistic_c and ngram_logistic_rating_c must be positive.")

    @property
    def enabled(self) -> bool:
        return self.ngram_logistic_weight > 0 or self.ngram_logistic_rating_weight > 0


def padded(rows: list, pad_token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id lists as a right-padded `(input_ids, attention_mask)` batch."""
    ids = torch.nn.utils.rnn.pad_sequence([torch.as_tensor(row) for row in rows], batch_first=True,
                                          padding_value=pad_token_id)
    mask = torch.nn.utils.rnn.pad_sequence([torch.ones(len(row), dtype=torch.long) for row in rows], batch_first=True)
    return ids, mask


def ngram_presence(features: datasets.Dataset, vocab_size: int, buckets: int, pad_token_id: int = 0,
                   batch_size: int = 256):
    """`scipy.sparse` matrix `[reviews, vocab_size + buckets]`: 1 where a review contains that word or hashed word
    pair, computed by the shipped model's own functions on the tokenised reviews (`input_ids`)."""
    from scipy import sparse

    rows, columns = [], []
    for start in tqdm(range(0, len(features), batch_size), desc="n-gram features", unit="batch"):
        ids, mask = padded(features[start:start + batch_size]["input_ids"], pad_token_id)
        hashed, real = hashed_ngrams(ids, mask, vocab_size, buckets)
        row, position = first_occurrences(hashed, real).nonzero(as_tuple=True)
        rows.append(row.numpy() + start)
        columns.append(hashed[row, position].numpy())
    rows, columns = np.concatenate(rows), np.concatenate(columns)
    return sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, columns)),
                             shape=(len(features), vocab_size + buckets))


def nb_log_count_ratio(x, y: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Wang & Manning's r: log of each feature's smoothed share among positive reviews over its share among
    negative ones; the features are scaled by it before the linear model."""
    positive = alpha + np.asarray(x[y == 1].sum(0)).ravel()
    negative = alpha + np.asarray(x[y == 0].sum(0)).ravel()
    return np.log(positive / positive.sum()) - np.log(negative / negative.sum())


def class_scores(model, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """A fitted scikit-learn logistic regression as `(weights [features, num_classes], bias [num_classes])` of class
    scores whose softmax is its `predict_proba`; classes it never saw score `UNSEEN_CLASS_SCORE`."""
    coef, intercept = model.coef_, model.intercept_
    if len(model.classes_) == 2:  # binary: one score, for classes_[1]; classes_[0] scores 0
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
    weights = np.zeros((coef.shape[1], num_classes), np.float32)
    bias = np.full(num_classes, UNSEEN_CLASS_SCORE, np.float32)
    weights[:, model.classes_] = coef.T
    bias[model.classes_] = intercept
    return weights, bias


def fitted_class_scores(x, y: np.ndarray, c: float, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """`class_scores` of an L2-regularised logistic regression (inverse strength `c`) fitted on the features that
    occur in `x`: a feature no review has gets weight 0 at the optimum anyway, and leaving the empty hashed buckets
    out makes the fit several times faster (most of 2^20 buckets are empty for a few thousand reviews)."""
    from sklearn.linear_model import LogisticRegression

    x = x.tocsc()
    used = np.flatnonzero(np.diff(x.indptr))
    fitted = LogisticRegression(C=c, max_iter=3000).fit(x[:, used].tocsr(), y)
    used_weights, bias = class_scores(fitted, num_classes)
    weights = np.zeros((x.shape[1], num_classes), np.float32)
    weights[used] = used_weights
    return weights, bias


def fit_ngram_logistic(features: datasets.Dataset, vocab_size: int, num_labels: int, num_auxiliary_labels: int = 0,
                       args: NgramLogisticArguments | None = None, pad_token_id: int = 0) -> NgramLogisticRegression:
    """Fit the bag-of-words member on tokenised, labelled reviews (`input_ids`, `labels`: class ids, or
    `(batch, 2)` class and second-head ids as the two-head target gives them).

    Two classes: NB-weighted logistic regression (the NB ratio folded into the weights, so the model needs no
    scaling at inference); more: multinomial logistic regression. The second head: multinomial logistic regression
    on the unscaled features."""
    args = args or NgramLogisticArguments()
    labels = np.asarray(features["labels"])
    if labels.ndim == 2 and not num_auxiliary_labels:
        raise ValueError("These reviews have two labels each: pass num_auxiliary_labels (the second head's classes).")
    if num_auxiliary_labels and labels.ndim != 2:
        raise ValueError("num_auxiliary_labels needs (class, second-head class) labels: use the two-head target.")
    main = labels[:, 0] if labels.ndim == 2 else labels
    x = ngram_presence(features, vocab_size, args.ngram_logistic_buckets, pad_token_id)
    scale = nb_log_count_ratio(x, main) if num_labels == 2 else np.ones(x.shape[1])
    weights, bias = fitted_class_scores(x.multiply(scale).tocsr(), main, args.ngram_logistic_c, num_labels)
    weights *= scale[:, None].astype(np.float32)
    if num_auxiliary_labels:
        second_weights, second_bias = fitted_class_scores(x, labels[:, 1], args.ngram_logistic_rating_c,
                                                          num_auxiliary_labels)
        weights, bias = np.hstack([weights, second_weights]), np.concatenate([bias, second_bias])
    model = NgramLogisticRegression(vocab_size, args.ngram_logistic_buckets, num_labels, num_auxiliary_labels)
    with torch.no_grad():
        model.scores.weight.copy_(torch.from_numpy(weights))
        model.bias.copy_(torch.from_numpy(bias))
    return model.eval()


def ngram_logistic_outputs(model: NgramLogisticRegression, features: datasets.Dataset, pad_token_id: int = 0,
                           batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The bag member's `(logits, auxiliary_logits)` for every tokenised review (`input_ids`), in the rows' order:
    what it adds to the ensemble, without the recurrent members' forward passes."""
    logits, auxiliary = [], []
    with torch.no_grad():
        for start in range(0, len(features), batch_size):
            scores, second = model(*padded(features[start:start + batch_size]["input_ids"], pad_token_id))
            logits.append(scores)
            auxiliary.append(second)
    return torch.cat(logits), (torch.cat(auxiliary) if auxiliary[0] is not None else None)
