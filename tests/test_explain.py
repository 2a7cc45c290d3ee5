"""Explanations: the running opinion from one pass equals the classifier on every prefix (each pooling, the n-gram
bag, an ensemble's forward members and bag of words); attributions are captum's integrated gradients in the text's
order (backward members too); bad input is one clear message in the library and the CLI."""

import json
import math

import pytest
import torch
from conftest import needs_imdb, tiny_config

from hf_rnn import RNNEnsembleForSequenceClassification, RNNForCausalLM, RNNForSequenceClassification
from hf_rnn.cli import main
from hf_rnn.explain import (Explanation, explain, explanation_html, load_explainer, log_odds, plot_running,
                            prefix_logits, running_logits, save_html)
from hf_rnn.models.rnn.modeling_rnn_ensemble import NgramLogisticRegression

pytest.importorskip("captum", reason='explanations need captum: pip install "hf_rnn[explain]"')

LABELS = {0: "neg", 1: "pos"}
# Repeated words and pairs: the bag of words counts each once, at its earliest occurrence, in every prefix.
IDS = torch.tensor([[4, 9, 10, 8, 4, 9, 10, 14, 25, 4, 9, 13, 27]])
REVIEW = "The movie was great , but the plot was boring !"


def classifier(**overrides) -> RNNForSequenceClassification:
    settings = dict(num_labels=2, id2label=LABELS, label2id={v: k for k, v in LABELS.items()}, classifier_dropout=0.0)
    settings.update(overrides)
    return RNNForSequenceClassification(tiny_config(**settings)).eval()


def each_prefix(model, ids, head="logits") -> torch.Tensor:
    """The reference: the model's forward on every prefix separately `[T, C]`."""
    with torch.no_grad():
        return torch.cat([getattr(model(input_ids=ids[:, : t + 1]), head) for t in range(ids.size(1))])


@pytest.mark.parametrize("overrides", [
    dict(classifier_pooling="concat"), dict(classifier_pooling="mean"), dict(classifier_pooling="max"),
    dict(classifier_pooling="last", cell_type="gru"), dict(ngram_buckets=7, cell_type="rnn"),
    dict(classifier_chunk_size=4), dict(problem_type="regression", num_labels=1, regression_target_mean=5.5,
                                        regression_target_std=3.0, id2label=None, label2id=None),
])
def test_running_opinion_in_one_pass_equals_the_classifier_on_every_prefix(overrides):
    model = classifier(**{k: v for k, v in overrides.items() if v is not None})
    with torch.no_grad():
        running = prefix_logits(model, IDS)
    torch.testing.assert_close(running, each_prefix(model, IDS), atol=1e-5, rtol=1e-4)


def test_ensemble_running_opinion_is_its_forward_members_and_bag_on_every_prefix():
    first, second = classifier(), classifier(classifier_pooling="max")
    bag = NgramLogisticRegression(vocab_size=first.config.vocab_size, buckets=11, num_labels=2)
    torch.nn.init.normal_(bag.scores.weight)
    ensemble = RNNEnsembleForSequenceClassification.from_members(first, second, ngram_logistic=bag,
                                                                 ngram_logistic_weight=0.4).eval()
    running, note = running_logits(ensemble, IDS)
    assert note == ""
    torch.testing.assert_close(running, each_prefix(ensemble, IDS), atol=1e-5, rtol=1e-4)


def test_a_backward_member_is_left_out_of_the_running_opinion_and_said_so():
    forward, backward = classifier(), classifier(reverse_text=True)
    ensemble = RNNEnsembleForSequenceClassification.from_members(forward, backward).eval()
    running, note = running_logits(ensemble, IDS)
    assert "1 member(s) reading backward" in note
    torch.testing.assert_close(running, each_prefix(forward, IDS).log_softmax(-1), atol=1e-5, rtol=1e-4)
    assert running_logits(backward, IDS)[0] is None and "from its end" in running_logits(backward, IDS)[1]
    assert "both ways" in running_logits(classifier(bidirectional=True), IDS)[1]


@pytest.mark.parametrize("reverse_text", [False, True])
def test_occlusion_rebuilds_the_classifier_from_its_pooling_and_bag(reverse_text):
    from hf_rnn.explain import head_logits, recurrent_features

    model = classifier(reverse_text=reverse_text, ngram_buckets=7)
    with torch.no_grad():
        rebuilt = head_logits(model, recurrent_features(model, IDS), IDS, torch.ones_like(IDS))
        torch.testing.assert_close(rebuilt, model(input_ids=IDS).logits)


def reference_integrated_gradients(model, ids, label, steps) -> torch.Tensor:
    """captum's plain IntegratedGradients on the embedded text in its natural order (a backward model reverses
    `inputs_embeds` itself): per-token sums `[T]`."""
    from captum.attr import IntegratedGradients

    embeddings = model.model.embeddings
    forward = lambda embedded: log_odds(model(inputs_embeds=embedded).logits, label)  # noqa: E731
    attributions = IntegratedGradients(forward).attribute(
        embeddings(ids), baselines=embeddings(torch.zeros_like(ids)), n_steps=steps)
    return attributions.sum(-1)[0].detach()


@pytest.fixture
def saved(tmp_path, tokenizer):
    def save(model, name="classifier"):
        model.save_pretrained(tmp_path / name)
        tokenizer.save_pretrained(tmp_path / name)
        return str(tmp_path / name)
    return save


@pytest.mark.parametrize("reverse_text", [False, True])
def test_attributions_are_integrated_gradients_in_the_order_of_the_text(saved, reverse_text):
    model = classifier(reverse_text=reverse_text)
    explanation = explain(load_explainer(saved(model)), REVIEW, n_steps=8)
    ids = load_explainer(saved(model)).tokenizer(REVIEW, return_tensors="pt")["input_ids"]
    label = list(LABELS.values()).index(explanation.label)
    expected = reference_integrated_gradients(model, ids, label, steps=8)
    torch.testing.assert_close(torch.tensor(explanation.attributions), expected, atol=1e-5, rtol=1e-3)
    assert explanation.words == REVIEW.split() and abs(explanation.delta) < 0.01
    assert (explanation.running is None) == reverse_text


def test_an_ensemble_with_a_bag_of_words_is_explained_word_by_word(saved):
    bag = NgramLogisticRegression(vocab_size=classifier().config.vocab_size, buckets=11, num_labels=2)
    torch.nn.init.normal_(bag.scores.weight)
    ensemble = RNNEnsembleForSequenceClassification.from_members(
        classifier(), classifier(reverse_text=True), ngram_logistic=bag, ngram_logistic_weight=0.5).eval()
    explanation = explain(load_explainer(saved(ensemble)), REVIEW, n_steps=4)
    assert "occlusion" in explanation.method and len(explanation.attributions) == len(explanation.words)
    assert abs(explanation.delta) < 0.01  # the bags read the text at both ends of the path
    assert explanation.prediction["label"] == explanation.label
    assert explanation.running is not None and "backward" in explanation.running_note


def test_a_batch_with_labels_stars_and_a_cut_long_text(saved):
    model = classifier(auxiliary_label_names=[str(i) for i in range(1, 11)])
    explainer = load_explainer(saved(model))
    long_text = " ".join(["great", "boring", "plot"] * 20_000)  # 60,000 words: read up to max_length
    short, long = explain(explainer, ["a GREAT film !", long_text], max_length=50, n_steps=4)
    assert 1 <= short.rating <= 10 and short.label in ("neg", "pos") and len(short.running) == 4
    assert set(short.scores) == {"neg", "pos"} and abs(sum(short.scores.values()) - 1) < 1e-5
    assert (long.tokens_read, long.tokens_total, len(long.words)) == (50, 60_000, 50)
    assert "60000 tokens; the first 50 were read" in long.notes[0] and long_text.startswith(long.text)


@pytest.mark.parametrize("text, message", [
    ("", "the text is empty"), ("   \n", "the text is empty"),
    ("zyx qwerty blorp", "every word of the text is unknown"),
])
def test_bad_texts_are_one_clear_message(saved, text, message):
    explainer = load_explainer(saved(classifier()))
    with pytest.raises(ValueError, match=message):
        explain(explainer, text)
    with pytest.raises(ValueError, match=f"text 1: {message}"):
        explain(explainer, ["great", text])


def test_a_language_model_folder_is_refused(saved):
    with pytest.raises(ValueError, match="holds RNNForCausalLM, not a text classifier"):
        load_explainer(saved(RNNForCausalLM(tiny_config())))


def test_html_colours_every_word_and_escapes_the_text(saved, tmp_path):
    explanation = explain(load_explainer(saved(classifier())), "great <b>plot</b> & boring", n_steps=4)
    fragment = explanation_html(explanation)
    assert fragment.count('class="hf-rnn-word"') == len(explanation.words) and "&lt;" in fragment
    assert "<b>plot" not in fragment and "rgba(" in fragment
    page = save_html([explanation, explanation], tmp_path / "words.html").read_text()
    assert page.startswith("<!doctype html>") and page.count('class="hf-rnn-text"') == 2


def test_running_opinion_plot_is_a_png(saved, tmp_path):
    pytest.importorskip("matplotlib")
    explanation = explain(load_explainer(saved(classifier())), REVIEW, n_steps=4)
    plot_running(explanation, tmp_path / "running.png")
    assert (tmp_path / "running.png").read_bytes()[:4] == b"\x89PNG"
    explanation.running, explanation.running_note = None, "no running opinion: reasons"
    with pytest.raises(ValueError, match="reasons"):
        plot_running(explanation)


def test_log_odds_keep_a_slope_where_the_log_probability_is_flat():
    logits = torch.tensor([[0.0, 40.0, 1.0]], requires_grad=True)  # p = 1.0 in float32
    assert logits.log_softmax(-1)[0, 1].item() == 0.0
    odds = log_odds(logits, 1)
    odds.sum().backward()
    assert odds.item() == pytest.approx(40 - math.log(math.exp(0) + math.exp(1)), rel=1e-5)
    assert logits.grad.abs().sum() > 0.5


def test_top_words_and_turns_read_the_numbers():
    explanation = Explanation(text="a b c", words=["a", "b", "c"], spans=[(0, 1), (2, 3), (4, 5)], label="pos",
                              scores={"neg": 0.3, "pos": 0.7}, attributions=[0.5, -0.2, 0.1],
                              running=[{"neg": 0.6, "pos": 0.4}, {"neg": 0.2, "pos": 0.8}, {"neg": 0.25, "pos": 0.75}],
                              prediction={"label": "pos", "score": 0.7}, method="test")
    assert explanation.top_words(2) == {"for": [("a", 0.5), ("c", 0.1)], "against": [("b", -0.2)]}
    assert explanation.turning_points() == [1]
    moves = explanation.top_moves(1)
    assert moves["up"][0][0] == "b" and moves["down"][0][0] == "a"


def test_cli_prints_the_top_words_both_ways_and_writes_pictures(saved, tmp_path, capsys):
    folder = saved(classifier())
    assert main(["explain", folder, REVIEW, "--steps", "4", "--html", str(tmp_path / "w.html"),
                 "--plot", str(tmp_path / "r.png")]) == 0
    out = capsys.readouterr().out
    assert "words for" in out and "words against" in out and "running opinion rose most after" in out
    assert (tmp_path / "w.html").exists() and (tmp_path / "r.png").exists()
    assert main(["explain", folder, "great", "--json", "--steps", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["words"] == ["great"]


@pytest.mark.parametrize("argv, message", [
    (["", "great"], None), (["x", ""], "the text is empty"), (["x", "blorp"], "every word of the text is unknown"),
])
def test_cli_bad_input_is_one_line(saved, argv, message):
    folder = saved(classifier()) if message else saved(RNNForCausalLM(tiny_config()), "lm")
    with pytest.raises(SystemExit) as exit_info:
        main(["explain", folder, argv[1]])
    error = exit_info.value.code
    assert isinstance(error, str) and error.startswith("hf-rnn: error: ") and "\n" not in error
    assert (message or "not a text classifier") in error


def test_a_rating_regressor_is_explained_in_stars(saved, capsys):
    model = classifier(problem_type="regression", num_labels=1, regression_target_mean=5.5, regression_target_std=3.0)
    folder = saved(model)
    explanation = explain(load_explainer(folder), REVIEW, n_steps=4)
    assert explanation.label == "rating" and set(explanation.scores) == {"rating"}
    assert explanation.rating == pytest.approx(min(10, max(1, explanation.scores["rating"])), abs=1e-4)
    assert len(explanation.running) == len(explanation.words) and explanation.turning_points() == []
    assert "stars" in explanation_html(explanation)
    assert main(["explain", folder, REVIEW, "--steps", "2"]) == 0 and "rating" in capsys.readouterr().out


def test_a_word_of_several_subword_tokens_is_one_word_with_their_summed_share(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<unk>": 1, "great": 2, "##ly": 3, "film": 4, "bor": 5, "##ing": 6}
    backend = Tokenizer(models.WordPiece(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    subwords = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>")
    classifier().save_pretrained(tmp_path / "m")
    subwords.save_pretrained(tmp_path / "m")
    explanation = explain(load_explainer(str(tmp_path / "m")), "greatly boring film", n_steps=4)
    assert explanation.words == ["greatly", "boring", "film"] and len(explanation.running) == 3
    assert explanation.spans == [(0, 7), (8, 14), (15, 19)]


@needs_imdb
def test_the_quick_jobs_published_folder_is_explained_and_gets_a_space(tmp_path, capsys):
    """The newcomer's path on a tiny run of the main job (the quick preset's published ensemble: a two-head
    classifier with its n-gram bag, and the bag-of-words member), its real tokenizer (<s> first, case markers)."""
    from test_imdb_job import TINY

    from hf_rnn.recipes.imdb import JobArguments, run_imdb

    out = tmp_path / "job"
    run_imdb(JobArguments(output_dir=str(out), preset="quick"), user_training_overrides={"max_steps": 2}, **TINY)
    text = "A Wonderful film, but the ending was dull."
    explanation = explain(load_explainer(str(out / "model")), text, n_steps=4)
    assert "occlusion" in explanation.method and 1 <= explanation.rating <= 10
    assert [text[start:end] for start, end in explanation.spans] == explanation.words
    assert explanation.words[:2] == ["A", "Wonderful"] and len(explanation.running) == len(explanation.words)
    assert main(["space", str(out / "model"), str(tmp_path / "demo")]) == 0
    assert (tmp_path / "demo" / "model" / "model.safetensors").exists() and "stars" in capsys.readouterr().out + \
        (tmp_path / "demo" / "README.md").read_text()


def test_a_model_deaf_to_its_words_is_said_to_be(saved):
    model = classifier()
    with torch.no_grad():
        model.model.embeddings.weight.zero_()  # every word reads as the padding baseline
    explanation = explain(load_explainer(saved(model)), REVIEW, n_steps=2)
    assert not any(explanation.attributions) and "every word's share is 0" in explanation.notes[-1]
