"""The IMDB job's model card says what the run made: its tokenizer as trained, its name in the model-index."""

import pytest
import yaml

from hf_rnn import RNNForSequenceClassification
from hf_rnn.recipes.imdb import JobArguments
from hf_rnn.recipes.imdb.model_card import write_model_card
from hf_rnn.tokenization import train_word_level_tokenizer
from hf_rnn.training import DataArguments

from conftest import tiny_config

TEXTS = ["A Great film , GREAT acting .", "The plot was Dull and boring .", "I loved it ."] * 3
RESULTS = {"preset": "quick", "sentiment": {"test_accuracy": 0.875, "test_f1": 0.87, "train_reviews": 8000},
           "lm": {"eval_perplexity": 55.0}, "wall_time_s": 90.0}


def model_folder(run_dir, case_markers: bool):
    """A finished run's model folder: a classifier and the word-level tokenizer the job trains."""
    model_dir = run_dir / "model"
    RNNForSequenceClassification(tiny_config(num_labels=2)).save_pretrained(model_dir)
    train_word_level_tokenizer(TEXTS, min_frequency=1, case_markers=case_markers).save_pretrained(model_dir)
    return model_dir


def card_of(model_dir, job, repo_id=None, data_args=None) -> tuple[str, dict]:
    text = write_model_card(model_dir, RESULTS, job, data_args or DataArguments(), repo_id).read_text()
    return text, yaml.safe_load(text.split("---")[1])


@pytest.mark.parametrize("case_markers", [False, True])
def test_card_describes_the_tokenizer_the_run_trained(tmp_path, case_markers):
    model_dir = model_folder(tmp_path / "imdb-run", case_markers)
    text, _ = card_of(model_dir, JobArguments(output_dir=str(tmp_path / "imdb-run")))
    assert ("with case markers (xxmaj, xxup)" in text) == case_markers
    assert "word-level tokenizer, lowercased" in text


def test_model_index_names_the_run_or_the_hub_repo_it_is_pushed_to(tmp_path):
    model_dir = model_folder(tmp_path / "imdb-run", case_markers=False)
    job = JobArguments(output_dir=str(tmp_path / "imdb-run"))
    _, metadata = card_of(model_dir, job)
    assert metadata["model-index"][0]["name"] == "imdb-run"
    _, metadata = card_of(model_dir, job, repo_id="someone/imdb-rnn")
    assert metadata["model-index"][0]["name"] == "imdb-rnn"
    accuracy = metadata["model-index"][0]["results"][0]["metrics"][0]
    assert accuracy["type"] == "accuracy" and accuracy["value"] == 0.875


def test_card_counts_the_reviews_the_run_trained_on(tmp_path):
    model_dir = model_folder(tmp_path / "imdb-run", case_markers=False)
    text, _ = card_of(model_dir, JobArguments(output_dir=str(tmp_path / "imdb-run")),
                      data_args=DataArguments(max_lm_documents=20_000))
    assert "trained on 8,000 labelled IMDB training reviews (10% held out for validation)" in text
    assert "the language model on 20,000 of the training and unlabelled reviews" in text
    assert "25,000 labelled" not in text


def test_an_ensemble_card_leads_with_the_ensemble_and_names_each_direction(tmp_path):
    model_dir = model_folder(tmp_path / "imdb-run", case_markers=False)
    figures = lambda accuracy, mae: ({"test_accuracy": accuracy, "test_f1": accuracy}, {"test_mae": mae})
    results = {**RESULTS, "lm_backward": {"eval_perplexity": 56.0}}
    for (sentiment, rating), (accuracy, mae) in zip(
            (("sentiment", "rating"), ("sentiment_backward", "rating_backward"), ("ensemble", "ensemble_rating")),
            ((0.91, 1.08), (0.92, 1.05), (0.93, 1.01))):
        results[sentiment], results[rating] = figures(accuracy, mae)
    text = write_model_card(model_dir, results, JobArguments(output_dir=str(tmp_path / "imdb-run")),
                            DataArguments()).read_text()
    metrics = yaml.safe_load(text.split("---")[1])["model-index"][0]["results"][0]["metrics"]
    assert [(m["type"], m["value"]) for m in metrics] == [("accuracy", 0.93), ("f1", 0.93), ("mae", 1.01)]
    table = text[text.index("| split |"):]
    assert table.index("ensemble test") < table.index("sentiment_forward test") < table.index("sentiment_backward")
    assert "| sentiment test |" not in table


@pytest.mark.parametrize("backward, both, main_only, says", [
    (False, False, False, "(adversarial_weight 1.0; epsilon 0.02 of a review's embedding norm)"),
    (True, False, False, "epsilon 0.02 of a review's embedding norm, the forward classifier only)"),
    (True, True, False, "epsilon 0.02 of a review's embedding norm, both directions)"),
    (True, True, True, "embedding norm, on the sentiment head's loss only, both directions)"),
])
def test_card_says_which_classifiers_trained_adversarially(tmp_path, backward, both, main_only, says):
    from hf_rnn.training.adversarial import AdversarialArguments

    model_dir = model_folder(tmp_path / "imdb-run", case_markers=False)
    terms = AdversarialArguments(adversarial_weight=1.0, adversarial_epsilon=0.02,
                                 adversarial_main_head_only=main_only)
    results = {**RESULTS, "adversarial": vars(terms), "adversarial_backward": both,
               **({"lm_backward": {"eval_perplexity": 56.0}} if backward else {})}
    job = JobArguments(output_dir=str(tmp_path / "imdb-run"))
    text = write_model_card(model_dir, results, job, DataArguments()).read_text()
    assert "adversarial training on the word embeddings (adversarial_weight 1.0; epsilon" in text and says in text
    assert "adversarial" not in write_model_card(model_dir, RESULTS, job, DataArguments()).read_text()


def test_card_says_when_the_stages_trained_under_bfloat16(tmp_path):
    model_dir = model_folder(tmp_path / "imdb-run", case_markers=False)
    job = JobArguments(output_dir=str(tmp_path / "imdb-run"))
    text = write_model_card(model_dir, {**RESULTS, "bf16": True}, job, DataArguments()).read_text()
    assert "every stage trained under bfloat16 autocast (float32 weights)" in text
    assert "bfloat16" not in write_model_card(model_dir, {**RESULTS, "bf16": False}, job, DataArguments()).read_text()


@pytest.mark.parametrize("members, says", [
    ([False, True], "a forward classifier and a backward one (from a backward language model"),
    ([False, False, True, True], "2 forward classifiers and 2 backward ones (from a backward language model, reading "
                                 "each text from its end), one per training seed and direction,"),
    ([False, False], "an ensemble of 2 forward classifiers, one per training seed"),
])
def test_an_ensemble_card_counts_its_members_in_each_direction(members, says):
    from hf_rnn.recipes.imdb.model_card import ensemble_note

    assert says in ensemble_note({"members": [{"reverse_text": reverse} for reverse in members]})
