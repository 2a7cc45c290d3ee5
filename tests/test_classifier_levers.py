"""The accuracy levers of the classifier: a bag of n-grams beside the recurrent pooling, and one model with a
sentiment head and a rating head trained together."""

import pytest
import torch
from datasets import Dataset
from transformers import pipeline

from hf_rnn import RNNForSequenceClassification
from hf_rnn.models.rnn.modeling_rnn import NGRAM_HASH_MULTIPLIER
from hf_rnn.data import auxiliary_label_names, classification_features, id2label
from hf_rnn.training import compute_metrics_for
from conftest import tiny_config
from test_backbone import pad_batch

STARS = auxiliary_label_names("binary+rating10")


def ngram_classifier(**overrides):
    model = RNNForSequenceClassification(tiny_config(num_labels=2, ngram_buckets=97, ngram_embedding_size=5,
                                                     **overrides)).eval()
    torch.nn.init.normal_(model.ngrams.bag.weight)  # trained-looking vectors (it starts at zero)
    return model


@pytest.mark.parametrize("side", ["left", "right"])
def test_ngram_bag_gives_the_same_output_alone_or_in_a_padded_batch(side):
    model = ngram_classifier()
    rows = [[5, 6, 7, 8, 9, 10], [11, 12, 5], [6]]
    ids, mask = pad_batch([torch.tensor(r) for r in rows], side)
    batch = model(ids, attention_mask=mask).logits
    for i, row in enumerate(rows):
        alone = model(torch.tensor([row])).logits
        torch.testing.assert_close(batch[i : i + 1], alone, atol=1e-5, rtol=1e-5)
    bag = model.ngrams(ids, mask)
    torch.testing.assert_close(bag[1], model.ngrams(torch.tensor([rows[1]]))[0], atol=1e-6, rtol=1e-6)


def test_ngram_bag_sees_word_order_only_through_pairs():
    model = ngram_classifier()
    words = model.ngrams.bag.weight[:, :]
    ids = torch.tensor([[5, 6, 7]])
    expected_pairs = (ids[:, :-1] * NGRAM_HASH_MULTIPLIER + ids[:, 1:]) % 97 + model.config.vocab_size
    expected = torch.cat([words[ids[0]], words[expected_pairs[0]]]).mean(0)
    torch.testing.assert_close(model.ngrams(ids)[0], expected)
    assert not torch.allclose(model.ngrams(ids), model.ngrams(ids.flip(1)))  # "5 6" is not "6 5"


def test_ngram_bag_starts_silent_and_learns():
    model = RNNForSequenceClassification(tiny_config(num_labels=2, ngram_buckets=97, ngram_embedding_size=5))
    assert model.ngrams.bag.weight.abs().sum() == 0  # a classifier from an LM starts as it would without the bag
    ids = torch.randint(4, 20, (4, 6))
    model(ids, labels=torch.tensor([0, 1, 0, 1])).loss.backward()
    assert model.ngrams.bag.weight.grad.abs().sum() > 0


def two_head_classifier():
    labels = id2label("binary+rating10")
    return RNNForSequenceClassification(tiny_config(
        num_labels=2, id2label=labels, label2id={v: k for k, v in labels.items()}, auxiliary_label_names=STARS))


def test_two_heads_train_together_on_paired_labels():
    model = two_head_classifier()
    ids, labels = torch.randint(4, 20, (4, 6)), torch.tensor([[0, 2], [1, 8], [1, 6], [0, 0]])
    out = model(ids, labels=labels)
    assert out.logits.shape == (4, 2) and out.auxiliary_logits.shape == (4, 10)
    sentiment_only = torch.nn.functional.cross_entropy(out.logits, labels[:, 0])
    rating_only = torch.nn.functional.cross_entropy(out.auxiliary_logits, labels[:, 1])
    torch.testing.assert_close(out.loss, sentiment_only + rating_only)
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        model(ids, labels=torch.zeros(4, 3, dtype=torch.long))


def test_two_head_model_saves_reloads_and_serves_both_outputs(tmp_path, tokenizer):
    model = two_head_classifier().eval()
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    reloaded = RNNForSequenceClassification.from_pretrained(tmp_path).eval()
    ids = tokenizer(["a great movie", "boring plot"], padding=True, return_tensors="pt")
    before, after = model(**ids), reloaded(**ids)
    torch.testing.assert_close(before.auxiliary_logits, after.auxiliary_logits)
    assert reloaded.config.auxiliary_label_names == STARS
    classify = pipeline("text-classification", model=str(tmp_path))
    assert classify("a great movie")[0]["label"] in ("neg", "pos")
    from hf_rnn.inference import load_classifier, predict_reviews

    (result,) = predict_reviews(load_classifier(str(tmp_path)), ["a great movie"])
    assert result["label"] in ("neg", "pos") and 1.0 <= result["rating"] <= 10.0


def test_two_head_predictions_give_stars_on_the_sentiment_labels_side(tokenizer):
    from hf_rnn.inference import predict_reviews

    model = two_head_classifier().eval()
    with torch.no_grad():  # heads sure of nothing but their biases: 80% "pos"; 3 stars most likely (60% negative)
        for head, probs in ((model.classifier, [.2, .8]), (model.auxiliary_classifier,
                                                           [.05, .05, .4, .1, 0, 0, .1, .2, .05, .05])):
            head.out_proj.weight.zero_()
            head.out_proj.bias.copy_(torch.log(torch.tensor(probs) + 1e-9))
    (result,) = predict_reviews(pipeline("text-classification", model=model, tokenizer=tokenizer), ["a film"])
    assert result["label"] == "pos" and result["score"] == pytest.approx(.8, abs=1e-4)
    # Within the positive side the rating head's shape (.1, .2, .05, .05 over 7-10 stars) with 80% of the mass:
    # .2, .4, .1, .1; the most likely star is 8, and so is the median (cumulative .2 up to 6 stars, .4, then .8).
    # On its own the rating head would say 3 stars, its mode and its median: against the "pos" label.
    assert result["rating_label"] == STARS[7] and result["rating"] == 8.0


def biased_two_head_classifier(sentiment, stars):
    """A two-head classifier sure of nothing but its heads' biases: these sentiment and star probabilities."""
    model = two_head_classifier().eval()
    with torch.no_grad():
        for head, probs in ((model.classifier, sentiment), (model.auxiliary_classifier, stars)):
            head.out_proj.weight.zero_()
            head.out_proj.bias.copy_(torch.log(torch.tensor(probs) + 1e-9))
    return model


def test_served_rating_and_its_label_name_the_same_star(tokenizer):
    from hf_rnn.inference import predict_reviews

    # On the positive side (80%) 7 stars .45 and 10 stars .55 of it: .36 and .44. The served distribution's most
    # likely star is 10, its median 7 (cumulative .2 + .36): the rating is 7, and its label says 7 stars too.
    model = biased_two_head_classifier([.2, .8], [.04, .04, .04, .04, .04, 0, .36, 0, 0, .44])
    (result,) = predict_reviews(pipeline("text-classification", model=model, tokenizer=tokenizer), ["a film"])
    assert result["rating"] == 7.0 and result["rating_label"] == STARS[6] == "7 stars"


def test_the_rating_metrics_score_the_stars_predict_reviews_serves(tokenizer):
    from hf_rnn.inference import predict_reviews

    # The rating head alone says 3 stars (its median and its mode); served with the sentiment head's 80% "pos", 8.
    model = biased_two_head_classifier([.2, .8], [.05, .05, .4, .1, 0, 0, .1, .2, .05, .05])
    texts = ["a film", "a great movie", "awful plot"]
    served = [row["rating"] for row in predict_reviews(pipeline("text-classification", model=model,
                                                                tokenizer=tokenizer), texts)]
    assert served == [8.0, 8.0, 8.0]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch)

    class Prediction:  # as Trainer hands them over: (logits, auxiliary_logits), (sentiment, rating - 1) labels
        predictions = (out.logits.numpy(), out.auxiliary_logits.numpy())
        label_ids = [[1, int(rating) - 1] for rating in served]

    metrics = compute_metrics_for("binary+rating10")(Prediction())
    assert metrics["rating_mae"] == 0.0 and metrics["rating_exact"] == 1.0  # the served stars, not the head's 3


def test_two_head_features_and_metrics(tokenizer):
    reviews = Dataset.from_dict({"text": ["a great movie", "awful plot", "good fun"], "label": [1, 0, 1],
                                 "rating": [9, 2, 7]})
    features = classification_features(reviews, tokenizer, target="binary+rating10")
    assert features["labels"] == [[1, 8], [0, 1], [1, 6]]
    logits = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]).numpy()
    auxiliary = torch.nn.functional.one_hot(torch.tensor([8, 1, 2]), 10).float().mul(20).numpy()

    class Prediction:
        predictions, label_ids = (logits, auxiliary), features["labels"]

    metrics = compute_metrics_for("binary+rating10")(Prediction())
    assert metrics["accuracy"] == pytest.approx(2 / 3) and metrics["rating_exact_most_likely"] == pytest.approx(2 / 3)
