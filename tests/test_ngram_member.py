"""The ensemble's bag-of-words member: binary hashed word and word-pair features read from the ids inside the shipped
model, weights from scikit-learn's NB-weighted / multinomial logistic regression, its share of the ensemble's
probabilities, and a folder that still loads without hf_rnn."""

import json
import random

import datasets
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from transformers import AutoModelForSequenceClassification

from hf_rnn import RNNEnsembleConfig, RNNEnsembleForSequenceClassification
from hf_rnn.models.rnn import NgramLogisticRegression
from hf_rnn.models.rnn.modeling_rnn import NGRAM_HASH_MULTIPLIER
from hf_rnn.training import NgramLogisticArguments, fit_ngram_logistic, ngram_logistic_outputs
from hf_rnn.training.ngram_logistic import (UNSEEN_CLASS_SCORE, class_scores, fitted_class_scores, nb_log_count_ratio,
                                           ngram_presence)
from conftest import TINY_WORDS
from test_backbone import pad_batch
from test_ensemble import STARS, forward_backward_ensemble, mean_probabilities, served_without_hf_rnn

VOCAB, BUCKETS = len(TINY_WORDS), 64
GOOD, BAD = TINY_WORDS.index("great"), TINY_WORDS.index("awful")


def reviews(n=80, seed=0) -> datasets.Dataset:
    """Tokenised reviews whose label follows 'great' vs 'awful' and whose star rating (0-based) follows the label,
    with ratings 4 and 5 (IMDB's missing 5 and 6 stars) never used."""
    rng, rows = random.Random(seed), []
    for i in range(n):
        label = i % 2
        ids = [rng.randrange(4, VOCAB) for _ in range(rng.randrange(3, 12))]
        ids.insert(rng.randrange(len(ids)), GOOD if label else BAD)
        ids = [i for i in ids if i != (BAD if label else GOOD)]
        rows.append({"input_ids": ids, "labels": [label, rng.choice([6, 7, 8, 9] if label else [0, 1, 2, 3])]})
    return datasets.Dataset.from_list(rows)


def bag_outputs(bag, rows, side="right"):
    ids, mask = pad_batch([torch.tensor(r) for r in rows], side)
    with torch.no_grad():
        return bag(ids, attention_mask=mask)


@pytest.fixture(scope="module")
def fitted():
    settings = NgramLogisticArguments(ngram_logistic_weight=0.3, ngram_logistic_buckets=BUCKETS)
    return fit_ngram_logistic(reviews(), VOCAB, 2, 10, settings)


def test_features_are_words_and_hashed_word_pairs_each_counted_once():
    x = ngram_presence(datasets.Dataset.from_list([{"input_ids": [5, 6, 5, 6]}, {"input_ids": [7]}]), VOCAB, BUCKETS)
    pair = lambda a, b: (a * NGRAM_HASH_MULTIPLIER + b) % BUCKETS + VOCAB
    assert set(x[0].indices) == {5, 6, pair(5, 6), pair(6, 5)} and set(x[0].data) == {1.0}
    assert list(x[1].indices) == [7] and x.shape == (2, VOCAB + BUCKETS)


@pytest.mark.parametrize("side", ["left", "right"])
def test_a_text_scores_the_same_alone_or_padded_on_either_side(fitted, side):
    rows = [[5, 6, GOOD, 7, 5], [GOOD, 9], [BAD, 8, 8, 8]]
    together = bag_outputs(fitted, rows, side)
    for index, row in enumerate(rows):
        for batched, alone in zip(together, bag_outputs(fitted, [row])):
            torch.testing.assert_close(batched[index:index + 1], alone)


def test_a_repeated_word_counts_once_and_word_order_matters_only_through_pairs(fitted):
    # the same words {GOOD, 5} and pairs {(GOOD, 5), (5, GOOD)}, once or twice over
    once, twice = bag_outputs(fitted, [[GOOD, 5, GOOD]]), bag_outputs(fitted, [[GOOD, 5, GOOD, 5, GOOD]])
    pairs_differ = bag_outputs(fitted, [[GOOD, 5, 5, GOOD]])  # adds the pair (5, 5)
    torch.testing.assert_close(once, twice)
    assert not torch.allclose(once[0], pairs_differ[0])


def test_features_no_training_review_has_are_left_out_of_the_fit_at_no_cost():
    train = reviews()
    x = ngram_presence(train, VOCAB, 4096)  # far more buckets than pairs: most columns are empty
    stars = np.asarray(train["labels"])[:, 1]
    empty = np.asarray(x.sum(0)).ravel() == 0
    assert empty.sum() > x.shape[1] // 2
    weights, bias = fitted_class_scores(x, stars, 0.1, 10)
    full_weights, full_bias = class_scores(LogisticRegression(C=0.1, max_iter=3000).fit(x, stars), 10)
    assert not weights[empty].any()
    np.testing.assert_allclose(weights, full_weights, atol=1e-4)
    np.testing.assert_allclose(bias, full_bias, atol=1e-4)


def test_the_model_gives_scikit_learns_probabilities_with_the_nb_ratio_folded_in(fitted):
    train, held_out = reviews(), reviews(20, seed=1)
    x_train, x = ngram_presence(train, VOCAB, BUCKETS), ngram_presence(held_out, VOCAB, BUCKETS)
    labels = np.asarray(train["labels"])
    ratio = nb_log_count_ratio(x_train, labels[:, 0])
    sentiment = LogisticRegression(C=1.0, max_iter=3000).fit(x_train.multiply(ratio).tocsr(), labels[:, 0])
    stars = LogisticRegression(C=0.1, max_iter=3000).fit(x_train, labels[:, 1])
    logits, star_logits = ngram_logistic_outputs(fitted, held_out)
    np.testing.assert_allclose(logits.softmax(-1).numpy(), sentiment.predict_proba(x.multiply(ratio).tocsr()),
                               atol=1e-5)
    np.testing.assert_allclose(star_logits.softmax(-1)[:, stars.classes_].numpy(), stars.predict_proba(x), atol=1e-5)
    assert (star_logits[:, [4, 5]] <= UNSEEN_CLASS_SCORE / 2).all()  # never-seen ratings get no probability
    assert (logits.argmax(-1).numpy() == np.asarray(held_out["labels"])[:, 0]).mean() >= 0.9


def test_the_labels_must_match_the_heads_asked_for():
    with pytest.raises(ValueError, match="pass num_auxiliary_labels"):
        fit_ngram_logistic(reviews(), VOCAB, 2)
    single = reviews().map(lambda row: {"labels": row["labels"][0]})
    with pytest.raises(ValueError, match="two-head target"):
        fit_ngram_logistic(single, VOCAB, 2, 10)


@pytest.mark.parametrize("settings, message", [
    (dict(ngram_logistic_weight=1.0), r"ngram_logistic_weight=1.0 must be in \[0, 1\)"),
    (dict(ngram_logistic_rating_weight=-1), r"ngram_logistic_rating_weight=-1 must be in \[0, 1\)"),
    (dict(ngram_logistic_c=0), "must be positive"),
])
def test_settings_out_of_range_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        NgramLogisticArguments(**settings)


def ensemble_with_bag(fitted):
    forward, backward, _ = forward_backward_ensemble(auxiliary_label_names=STARS)
    ensemble = RNNEnsembleForSequenceClassification.from_members(forward, backward, ngram_logistic=fitted,
                                                                 ngram_logistic_weight=0.3,
                                                                 ngram_logistic_auxiliary_weight=0.2)
    return forward, backward, ensemble.eval()


@pytest.mark.parametrize("side", ["left", "right"])
def test_the_ensemble_mixes_the_bag_in_at_each_heads_weight(fitted, side):
    forward, backward, ensemble = ensemble_with_bag(fitted)
    rows = [[5, GOOD, 7, 8], [BAD, 9], [6, 6, 6]]
    ids, mask = pad_batch([torch.tensor(r) for r in rows], side)
    bag, bag_stars = bag_outputs(fitted, rows, side)
    with torch.no_grad():
        out = ensemble(ids, attention_mask=mask)
        members = mean_probabilities([forward, backward], ids, mask)
        member_stars = mean_probabilities([forward, backward], ids, mask, head="auxiliary_logits")
    torch.testing.assert_close(out.logits.softmax(-1), 0.7 * members + 0.3 * bag.softmax(-1))
    torch.testing.assert_close(out.auxiliary_logits.softmax(-1), 0.8 * member_stars + 0.2 * bag_stars.softmax(-1))
    with pytest.raises(ValueError, match="pass input_ids, not inputs_embeds"):
        ensemble(inputs_embeds=torch.zeros(1, 2, 8))


def test_an_ensemble_with_a_bag_saves_and_loads_without_hf_rnn(fitted, tmp_path, tokenizer):
    _, _, ensemble = ensemble_with_bag(fitted)
    remote = served_without_hf_rnn(ensemble, tokenizer, tmp_path)
    saved = json.loads((tmp_path / "model" / "config.json").read_text())
    assert saved["ngram_logistic"] == dict(vocab_size=VOCAB, buckets=BUCKETS, num_labels=2, num_auxiliary_labels=10)
    assert (saved["ngram_logistic_weight"], saved["ngram_logistic_auxiliary_weight"]) == (0.3, 0.2)
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "model").eval()
    batch = tokenizer(["a great movie", "boring plot"], padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = ensemble(**batch).logits
        torch.testing.assert_close(reloaded(**batch).logits, expected)
        expected = expected.softmax(-1)
    for row, scores in enumerate(remote["scores"]):
        assert {s["label"]: s["score"] for s in scores}["pos"] == pytest.approx(float(expected[row, 1]), abs=1e-5)


@pytest.mark.parametrize("bag, message", [
    (dict(vocab_size=VOCAB + 1, buckets=8, num_labels=2, num_auxiliary_labels=10), "members' vocabulary"),
    (dict(vocab_size=VOCAB, buckets=8, num_labels=2, num_auxiliary_labels=3), "members' vocabulary"),
    (dict(vocab_size=VOCAB, buckets=8), "must give exactly"),
])
def test_a_bag_that_does_not_fit_the_members_is_refused(bag, message):
    forward, backward, _ = forward_backward_ensemble(auxiliary_label_names=STARS)
    with pytest.raises(ValueError, match=message):
        RNNEnsembleConfig(members=[forward.config, backward.config], ngram_logistic=bag, ngram_logistic_weight=0.2)


def test_an_ensemble_weight_outside_zero_to_one_is_refused():
    forward, backward, _ = forward_backward_ensemble()
    with pytest.raises(ValueError, match=r"ngram_logistic_weight=1.5 must be in \[0, 1\)"):
        RNNEnsembleConfig(members=[forward.config], ngram_logistic_weight=1.5)
    with pytest.raises(ValueError, match=r"ngram_logistic_auxiliary_weight=-0.1 must be in \[0, 1\)"):
        RNNEnsembleConfig(members=[forward.config], ngram_logistic_auxiliary_weight=-0.1)


def test_a_bag_without_a_second_head_answers_none_for_it():
    logits, second = NgramLogisticRegression(VOCAB, BUCKETS, 2)(torch.tensor([[5, 6]]))
    assert logits.shape == (1, 2) and second is None


@pytest.mark.parametrize("side", ["left", "right"])
def test_an_ensemble_with_a_bag_exports_to_onnx_with_pytorchs_outputs(fitted, side, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from hf_rnn.export import export_classifier_onnx

    _, _, ensemble = ensemble_with_bag(fitted)
    session = ort.InferenceSession(str(export_classifier_onnx(ensemble, tmp_path / "ensemble.onnx")))
    # a repeated word and a repeated pair, so the bag's count-once step is in the graph's path
    ids, mask = pad_batch([torch.tensor(r) for r in ([5, GOOD, 7, GOOD, 7], [BAD, 9], [6, 6, 6, 8, 9, 10])], side)
    logits, stars = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
    with torch.no_grad():
        expected = ensemble(ids, attention_mask=mask)
    np.testing.assert_allclose(logits, expected.logits.numpy(), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(stars, expected.auxiliary_logits.numpy(), atol=1e-4, rtol=1e-4)
