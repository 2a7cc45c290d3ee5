"""`hf-rnn train`: one command trains, evaluates and publishes a classifier for any labelled text.

Tiny synthetic sets whose classes a word gives away, so a job that stops learning fails (accuracy >= 0.9), run once
per module and shared by the tests.
"""

import json
import random

import pandas as pd
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

from hf_rnn.cli import main as cli_main
from hf_rnn.inference import load_classifier, predict_reviews
from hf_rnn.recipes.text_classification import main as train_main
from hf_rnn.recipes.text_classification.budget import make_plan, parse_duration

CUES = {"billing": "invoice", "login": "password", "shipping": "parcel"}
FILLER = "please help me with this problem today thanks the a my it is was".split()

TINY = ["--preset", "quick", "--config_overrides", "embedding_size=16,hidden_size=32,num_sampled=64",
        "--vocab_size", "200", "--min_frequency", "1", "--max_lm_documents", "300", "--block_size", "16",
        "--lm_streams", "0", "--ngram_logistic_weight", "0", "--ngram_logistic_rating_weight", "0",
        "--logging_steps", "5", "--save_steps", "1000", "--lm_steps", "60"]


def ticket(rng, cue_words):
    words = rng.choices(FILLER, k=rng.randint(4, 10))
    for cue in cue_words:
        words.insert(rng.randrange(len(words) + 1), cue)
    return " ".join(words)


def write_tickets(folder, n_train=240, n_test=60, seed=0):
    rng = random.Random(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        rows = [{"subject": "ticket", "body": ticket(rng, [CUES[label]]), "queue": label}
                for label in (rng.choice(sorted(CUES)) for _ in range(n))]
        pd.DataFrame(rows).to_csv(folder / f"{split}.csv", index=False)


def write_tagged(folder, n_train=240, n_test=60, seed=1):
    rng = random.Random(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        rows = []
        for _ in range(n):
            tags = sorted(rng.sample(sorted(CUES), rng.randint(1, 2)))
            rows.append({"text": ticket(rng, [CUES[tag] for tag in tags]), "tags": tags})
        (folder / f"{split}.jsonl").write_text("\n".join(json.dumps(row) for row in rows))


@pytest.fixture(scope="module")
def string_label_job(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tickets")
    write_tickets(folder)
    rng = random.Random(5)
    (folder / "more.txt").write_text("\n".join(ticket(rng, [rng.choice(list(CUES.values()))]) for _ in range(100)))
    out = folder / "run"
    results = train_main(["--train_file", str(folder / "train.csv"), "--test_file", str(folder / "test.csv"),
                          "--unlabeled_file", str(folder / "more.txt"),
                          "--text_column", "subject,body", "--label_column", "queue", "--output_dir", str(out),
                          "--classifier_epochs", "6"] + TINY)
    return out, results


@pytest.fixture(scope="module")
def multi_label_job(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tagged")
    write_tagged(folder)
    out = folder / "run"
    results = train_main(["--train_file", str(folder / "train.jsonl"), "--test_file", str(folder / "test.jsonl"),
                          "--label_column", "tags", "--output_dir", str(out), "--classifier_epochs", "6",
                          "--backward", "true"] + TINY)
    return out, results


def test_string_labels_learn_and_publish_with_their_names(string_label_job):
    out, results = string_label_job
    assert results["sentiment"]["test_accuracy"] >= 0.9
    assert results["lm"]["train_blocks"] > 0 and results["unlabeled_texts"] == 100
    config = json.loads((out / "model" / "config.json").read_text())
    assert set(config["id2label"].values()) == set(CUES)
    assert config["problem_type"] == "single_label_classification"
    assert json.loads((out / "results.json").read_text())["sentiment"]["test_accuracy"] == \
        results["sentiment"]["test_accuracy"]


def test_pipeline_scores_equal_the_stage_models_softmax(string_label_job):
    out, _ = string_label_job
    text = "ticket my parcel is late please help"
    served = pipeline("text-classification", model=str(out / "model"), top_k=None)([text])[0]
    stage = AutoModelForSequenceClassification.from_pretrained(out / "sentiment")
    tokenizer = AutoTokenizer.from_pretrained(out / "sentiment")
    with torch.no_grad():
        probs = stage(**tokenizer(text, return_tensors="pt")).logits.softmax(-1)[0]
    expected = {stage.config.id2label[i]: float(p) for i, p in enumerate(probs)}
    assert {entry["label"]: entry["score"] for entry in served} == pytest.approx(expected, abs=1e-5)
    assert max(served, key=lambda entry: entry["score"])["label"] == "shipping"


def test_cli_predict_json_equals_the_library_call(string_label_job, capsys):
    out, _ = string_label_job
    texts = ["I forgot my password", "where is the invoice"]
    cli_main(["predict", str(out / "model"), *texts])
    printed = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    library = predict_reviews(load_classifier(str(out / "model")), texts)
    assert [{k: v for k, v in row.items() if k != "text"} for row in printed] == library
    assert [row["label"] for row in library] == ["login", "billing"]


def test_a_rerun_resumes_every_finished_stage_and_reports_the_same(string_label_job, tmp_path):
    out, results = string_label_job
    again = train_main(["--train_file", str(out.parent / "train.csv"), "--test_file", str(out.parent / "test.csv"),
                        "--unlabeled_file", str(out.parent / "more.txt"),
                        "--text_column", "subject,body", "--label_column", "queue", "--output_dir", str(out),
                        "--classifier_epochs", "6"] + TINY)
    assert again["sentiment"] == results["sentiment"]
    assert set(again["resumed_stages"]) >= {"tokenizer", "lm", "sentiment"}


def test_multi_label_learns_thresholds_and_predicts_label_sets(multi_label_job):
    out, results = multi_label_job
    assert results["ensemble"]["test_f1_micro"] >= 0.9
    chosen = results["multi_label_threshold"]
    assert 0.05 <= chosen["multi_label_threshold"] <= 0.95 and chosen["chosen_on"] == "validation"
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert config["multi_label_threshold"] == chosen["multi_label_threshold"]
    [both, one] = predict_reviews(load_classifier(str(out / "model")),
                                  ["my invoice and my password please", "the parcel is here"])
    assert both["labels"] == ["billing", "login"] and one["labels"] == ["shipping"]


def test_bad_label_column_is_one_line_on_the_command_line(tmp_path, capsys):
    write_tickets(tmp_path, 20, 5)
    with pytest.raises(SystemExit, match=r"no column 'queu'.*Did you mean 'queue'"):
        cli_main(["train", "--train_file", str(tmp_path / "train.csv"), "--text_column", "subject,body",
                  "--label_column", "queu",
                  "--output_dir", str(tmp_path / "run")])


def test_parse_duration():
    assert parse_duration("15m") == 900 and parse_duration("1.5h") == 5400 and parse_duration("90") == 90
    with pytest.raises(ValueError, match="--time_budget 'soon'"):
        parse_duration("soon")


def test_plan_fits_its_time_and_drops_the_backward_direction_first():
    counts = {"lm_tokens": 1_000_000, "train_rows": 5_000, "train_tokens": 60_000, "evaluated_tokens": 10_000,
              "mean_train_length": 12}
    speed = {"lm_step_s": 0.1, "classifier_tokens_per_s": 10_000}
    roomy = make_plan(3_000, counts, speed, 64, 32, 32)
    assert roomy["backward"] and roomy["adversarial"] and sum(roomy["planned_s"].values()) <= 3_000
    tight = make_plan(60, counts, speed, 64, 32, 32)
    assert not tight["backward"] and not tight["adversarial"] and sum(tight["planned_s"].values()) <= 60 * 1.05
    assert not make_plan(3_000, counts, speed, 64, 32, 32, backward=False, adversarial=False)["backward"]
    assert roomy["lm_steps"] <= 10 * roomy["lm_steps_per_epoch"]  # at most ten passes over the LM's text


def test_time_limit_stops_training_once_its_seconds_have_passed():
    from types import SimpleNamespace

    from transformers import TrainerControl

    from hf_rnn.training.callbacks import TimeLimitCallback

    callback, control = TimeLimitCallback(0.05), TrainerControl()
    state = SimpleNamespace(global_step=3, max_steps=10)
    callback.on_train_begin(None, state, control)
    assert not callback.on_step_end(None, state, control).should_training_stop
    import time

    time.sleep(0.06)
    assert callback.on_step_end(None, state, control).should_training_stop
    with pytest.raises(ValueError, match="positive"):
        TimeLimitCallback(0)


def test_help_prints(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["train", "--help"])
    assert exit_.value.code == 0 and "--label_column" in capsys.readouterr().out


def test_imdb_through_the_general_job_gives_hf_rnn_imdbs_figures(tmp_path):
    from conftest import write_tiny_acl_imdb

    from hf_rnn.recipes.imdb import main as imdb_main

    data = write_tiny_acl_imdb(tmp_path)
    sizes = ["--dataset", str(data), "--preset", "quick", "--config_overrides",
             "embedding_size=16,hidden_size=24,num_sampled=64", "--vocab_size", "200", "--min_frequency", "1",
             "--block_size", "16", "--lm_streams", "0", "--lm_steps", "12", "--classifier_epochs", "2",
             "--logging_steps", "5", "--save_steps", "1000", "--ngram_logistic_buckets", "1024"]
    imdb = imdb_main(sizes + ["--output_dir", str(tmp_path / "imdb")])
    general = train_main(sizes + ["--output_dir", str(tmp_path / "general"), "--auxiliary_column", "rating",
                                  "--ngram_logistic_rating_weight", "0.5"])
    for stage in ("lm", "sentiment", "rating", "ensemble", "ensemble_rating"):
        figures = lambda results: {k: v for k, v in results[stage].items()
                                   if k.startswith(("validation_", "test_", "eval_perplexity"))
                                   and not k.endswith(("runtime", "_per_second"))}
        assert figures(general) == figures(imdb), stage
        assert figures(imdb)


def test_without_a_language_model_the_classifiers_train_from_scratch(tmp_path):
    write_tickets(tmp_path, 120, 30)
    results = train_main(["--train_file", str(tmp_path / "train.csv"), "--test_file", str(tmp_path / "test.csv"),
                          "--text_column", "subject,body", "--label_column", "queue", "--output_dir",
                          str(tmp_path / "run"), "--classifier_epochs", "6", "--pretrain_lm", "false",
                          "--backward", "true"] + TINY)
    assert results["lm"] == {} and not (tmp_path / "run" / "lm").exists()
    assert not (tmp_path / "run" / "lm_backward").exists()
    assert results["ensemble"]["test_accuracy"] >= 0.9
    assert "trained from scratch" in (tmp_path / "run" / "model" / "README.md").read_text()


def test_few_labels_self_training_and_consistency_run_through_the_job(tmp_path):
    """With a quarter of the labels, the rest of train is unlabelled text: self-training labels it round by round (the
    pseudo-labels of hidden training rows, never test rows) and consistency training reads it; the stage folder
    holds the final classifier and the rounds' history."""
    write_tickets(tmp_path)
    out = tmp_path / "run"
    results = train_main(["--train_file", str(tmp_path / "train.csv"), "--test_file", str(tmp_path / "test.csv"),
                          "--text_column", "subject,body", "--label_column", "queue", "--output_dir", str(out),
                          "--labelled_fraction", "0.25", "--classifier_epochs", "12", "--self_training_rounds", "1",
                          "--pseudo_label_share", "0.5", "--consistency_weight", "1",
                          "--consistency_perturbation", "tfidf_replacement"] + TINY)
    history = json.loads((out / "sentiment" / "stage_done.json").read_text())["self_training"]
    assert [row["round"] for row in history] == [0, 1] and history[1]["pseudo_labels"] > 0
    assert (out / "sentiment" / "self_training" / "round_0" / "model.safetensors").is_file()
    assert results["semi_supervised"]["self_training_rounds"] == 1
    assert not (out / "model" / "self_training").exists()  # the published folder holds the final model only
    card = (out / "model" / "README.md").read_text()
    assert "self-training" in card and "TF-IDF word replacement" in card
    assert results["sentiment"]["test_accuracy"] >= 0.6  # three classes; 60 labels teach this tiny model less than all


def test_self_training_refuses_what_it_cannot_serve(tmp_path):
    write_tagged(tmp_path)
    with pytest.raises(ValueError, match="single-label classification"):
        train_main(["--train_file", str(tmp_path / "train.jsonl"), "--label_column", "tags", "--output_dir",
                    str(tmp_path / "run"), "--self_training_rounds", "1"] + TINY)
    with pytest.raises(ValueError, match="time_budget"):
        train_main(["--train_file", str(tmp_path / "train.jsonl"), "--label_column", "tags", "--output_dir",
                    str(tmp_path / "run"), "--self_training_rounds", "1", "--time_budget", "5m"] + TINY)


def test_the_card_names_the_semi_supervised_pieces():
    from hf_rnn.recipes.imdb.model_card import semi_supervised_note

    settings = {"self_training_rounds": 3, "pseudo_label_share": 0.1, "pseudo_label_pool": 20000,
                "consistency_weight": 0.0, "consistency_word_dropout": 0.1, "consistency_confidence": 0.8,
                "consistency_temperature": 0.4}
    assert semi_supervised_note({"semi_supervised": None}) == ""
    note = semi_supervised_note({"semi_supervised": settings})
    assert "3 rounds of self-training" in note and "consistency" not in note
    assert "word dropout 0.1" in semi_supervised_note({"semi_supervised": {**settings, "consistency_weight": 1}})
    replacing = {**settings, "consistency_weight": 1, "consistency_perturbation": "tfidf_replacement"}
    assert "TF-IDF word replacement 0.1" in semi_supervised_note({"semi_supervised": replacing})
