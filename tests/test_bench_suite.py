"""The benchmark suite cannot rot: `python -m bench --size smoke` runs every experiment at toy sizes on a tiny review
set (training its own tiny main job for the experiments that need a trained LM or classifier) into a temporary
folder, never into the committed bench/results; a full run skips experiments whose results are complete."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import write_tiny_acl_imdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))  # the bench modules import each other as top-level modules

import suite  # noqa: E402
from common import RESULTS_DIR, RESULTS_ENV  # noqa: E402

SUMMARY_ONLY = {"claims"}  # a table of the others' figures: no plot of its own


def bench(*args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def committed_state() -> dict:
    """Modification times of the committed results and the results page, to show a smoke run leaves them alone."""
    files = [*RESULTS_DIR.glob("*"), REPO / "bench" / "README.md"]
    return {path: path.stat().st_mtime_ns for path in files if path.is_file()}


def test_smoke_run_writes_every_experiment_and_leaves_committed_results_alone(tmp_path):
    data, results = write_tiny_acl_imdb(tmp_path / "imdb"), tmp_path / "results"
    before = committed_state()
    done = bench("--size", "smoke", "--results", str(results), "--dataset", str(data))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    for name in suite.EXPERIMENTS:
        payload = json.loads((results / f"{name}.json").read_text())
        assert payload["meta"]["command"].startswith("python -m bench --size smoke")
        assert (results / f"{name}.md").is_file()
        assert name in SUMMARY_ONLY or (results / f"{name}.png").stat().st_size > 0
    claims = json.loads((results / "claims.json").read_text())["Claims"]
    # the tiny job stood in everywhere but for the subword comparison (the smoke run trains no subword model) and the
    # published model's speed (bench_serving.py, a script of its own with its own smoke test)
    assert [row["claim"] for row in claims if row["verdict"] == "open"] == [
        "Subword tokens keep an LSTM robust to typos where word-level tokens break",
        "The published model (pipeline, whole reviews) >= 20x a DistilBERT-sized transformer's throughput"]
    speed = json.loads((results / "speed.json").read_text())["Throughput, IMDB test reviews (text in, label out)"]
    assert all(isinstance(row["accuracy"], float) for row in speed if row["system"].startswith("hf_rnn"))
    assert committed_state() == before


def test_full_run_skips_complete_results_and_reruns_partial_ones(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    (tmp_path / "memory_task.json").write_text(json.dumps({"meta": {}, "rows": []}))
    (tmp_path / "label_curve.json").write_text(json.dumps({"meta": {}, "raw": {"complete": False}}))
    assert suite.is_complete("memory_task")
    assert not suite.is_complete("label_curve")  # a killed sweep, or rows waiting for --run: run again
    assert not suite.is_complete("speed")
    done = bench("--size", "full", "--only", "memory_task", "claims", "--results", str(tmp_path), timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "memory_task: skipped" in done.stdout
    assert "claims: done" in done.stdout  # derived from the others' results: always rebuilt
    claims = json.loads((tmp_path / "claims.json").read_text())["Claims"]
    assert {row["verdict"] for row in claims if "speed" in row["source"]} == {"open"}  # no speed result here


@pytest.mark.parametrize("argv", [["--size", "huge"], ["--only", "no_such_experiment"]])
def test_unknown_size_or_experiment_is_refused(argv):
    with pytest.raises(SystemExit):
        suite.parse_args(argv)


@pytest.mark.parametrize("scratch_at_10k, verdict", [(None, "open"), (0.5012, "no verdict"), (0.80, "holds"),
                                                      (0.90, "does not hold")])
def test_the_ulmfit_claim_is_judged_only_against_a_learning_from_scratch_model_at_10k_labels(
        monkeypatch, scratch_at_10k, verdict):
    import exp_claims

    lm, scratch, bag = "LM pretrained on train + unlabelled (main job)", "from scratch", "NB-weighted LR"
    summary = [{"condition": lm, "labels": 100, "mean test accuracy": 0.80},
               {"condition": scratch, "labels": 100, "mean test accuracy": 0.55},
               {"condition": bag, "labels": 100, "mean test accuracy": 0.70},
               {"condition": scratch, "labels": 3000, "mean test accuracy": 0.4988}]  # a smaller count never decides
    if scratch_at_10k is not None:
        summary.append({"condition": scratch, "labels": 10_000, "mean test accuracy": scratch_at_10k})
    monkeypatch.setattr(exp_claims, "table", lambda name, section=None: summary)
    claim, _overtake, _unlabelled = exp_claims.label_curve_claims()
    assert claim["verdict"] == verdict
    if verdict == "does not hold":  # the LM at 100 labels is the only LM count here: it never gets there
        assert "the LM never comes within a point" in claim["measured"]
    if verdict == "holds":
        assert "the LM comes within a point of it from 100 labels" in claim["measured"]


@pytest.mark.parametrize("alone_at_100, alone_at_1000, verdict", [(0.70, 0.80, "holds"), (0.70, 0.90, "mixed"),
                                                                  (0.85, 0.90, "does not hold")])
def test_the_unlabelled_reviews_are_judged_against_the_lm_of_the_labelled_text_at_every_shared_count(
        alone_at_100, alone_at_1000, verdict):
    import exp_claims

    main, alone = "LM pretrained on train + unlabelled (main job)", "LM pretrained on the labelled reviews' text only"
    means = {(main, 100): 0.80, (main, 1000): 0.86, (main, 3000): 0.88,  # no labelled-text run at 3k: left out
             (alone, 100): alone_at_100, (alone, 1000): alone_at_1000}
    claim = exp_claims.unlabelled_claim(means)
    assert claim["verdict"] == verdict
    assert "3,000" not in claim["measured"] and "100 labels" in claim["measured"]


def test_a_resumable_experiment_reopens_when_its_plan_grows(tmp_path, monkeypatch):
    import exp_semi_supervised as semi

    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    planned = sorted(semi.planned_runs(semi.SIZES["full"]))
    runs = [{"condition": condition, "labels": labels, "seed": seed} for condition, labels, seed in planned]
    path = tmp_path / "semi_supervised.json"
    path.write_text(json.dumps({"meta": {}, "raw": {"complete": True, "runs": runs}}))
    assert suite.is_complete("semi_supervised")
    path.write_text(json.dumps({"meta": {}, "raw": {"complete": True, "runs": runs[:-1]}}))  # one seed more planned
    assert not suite.is_complete("semi_supervised")
    assert (semi.CONSISTENCY, 100, 0) in planned and (semi.CONSISTENCY, 300, 0) not in planned


def test_the_unlabelled_reviews_claim_waits_for_the_labelled_text_lm():
    import exp_claims

    claim = exp_claims.unlabelled_claim({("LM pretrained on train + unlabelled (main job)", 100): 0.8})
    assert claim["verdict"] == "open" and "--lm_train_only" in claim["measured"]


@pytest.mark.parametrize("subword_at_typos, verdict", [(0.85, "holds"), (0.75, "does not hold")])
def test_the_subword_claim_compares_typo_losses_of_subword_and_word_level_models(monkeypatch, subword_at_typos,
                                                                                   verdict):
    import exp_claims

    word, subword, bag = "hf_rnn quick-word/model (WordLevel tokens)", "hf_rnn quick-bpe/model (BPE tokens)", "NB-LR"
    rows = [{"perturbation": "none", "rate": 0.0, bag: 0.9, word: 0.88, subword: 0.88},
            {"perturbation": "character drop", "rate": 0.1, bag: 0.9, word: 0.5, subword: 0.5},  # not the top rate
            {"perturbation": "character drop", "rate": 0.4, bag: 0.9, word: 0.78, subword: subword_at_typos},
            {"perturbation": "character swap", "rate": 0.4, bag: 0.9, word: 0.80, subword: subword_at_typos},
            {"perturbation": "word-order shuffle", "rate": 1.0, bag: 0.9, word: 0.1, subword: 0.9}]
    monkeypatch.setattr(exp_claims, "table", lambda name, section=None: rows)
    claim = exp_claims.subword_claim()
    assert claim["verdict"] == verdict and "at rate 0.4" in claim["measured"]
    assert "quick-word/model (WordLevel tokens) 9.0" in claim["measured"]  # 0.88 - mean(0.78, 0.80)


def test_the_subword_claim_waits_for_both_kinds_of_model(monkeypatch):
    import exp_claims

    rows = [{"perturbation": "none", "rate": 0.0, "hf_rnn run/model (WordLevel tokens)": 0.9}]
    monkeypatch.setattr(exp_claims, "table", lambda name, section=None: rows)
    assert exp_claims.subword_claim()["verdict"] == "open"


def test_the_lm_against_the_bag_of_words_shows_a_crossing():
    import exp_claims

    lm, bag = "LM pretrained on train + unlabelled (main job)", "NB-weighted LR"
    means = {(lm, 100): 0.77, (bag, 100): 0.70, (lm, 10_000): 0.894, (bag, 10_000): 0.90, (lm, 300): 0.82}
    text = exp_claims.lm_against_bag(means, [100, 300, 10_000])
    assert text == "LM minus NB-LR, points, ahead at: 100 (+7.0); behind or level at: 10,000 (-0.6)"


def test_the_main_job_benchmark_reports_each_direction_and_the_ensemble_of_a_backward_run():
    import bench_imdb

    figures = lambda accuracy: {"test_accuracy": accuracy, "validation_accuracy": accuracy + 0.01}
    rating = lambda mae: {"test_mae": mae, "validation_mae": mae / 2}
    results = {"preset": "full", "wall_time_s": 60.0, "lm": {"eval_perplexity": 86.0},
               "lm_backward": {"eval_perplexity": 88.0}, "sentiment": figures(0.91), "rating": rating(1.1),
               "sentiment_backward": figures(0.90), "rating_backward": rating(1.2),
               "ensemble": figures(0.92), "ensemble_rating": rating(1.0)}
    sentiment, ratings = bench_imdb.rows_for(results)
    assert [(row["model"], row["test accuracy"], row["LM perplexity (validation)"]) for row in sentiment] == [
        ("forward", 0.91, 86.0), ("backward", 0.90, 88.0), ("ensemble", 0.92, None)]
    assert [(row["model"], row["MAE"], row["validation MAE"]) for row in ratings] == [
        ("forward", 1.1, 0.55), ("backward", 1.2, 0.6), ("ensemble", 1.0, 0.5)]
    forward_only = {key: results[key] for key in ("preset", "wall_time_s", "lm", "sentiment")}
    assert [row["model"] for row in bench_imdb.rows_for(forward_only)[0]] == ["forward"]
    assert bench_imdb.rows_for(forward_only)[1] == []


def test_the_main_job_benchmark_gives_each_further_seed_its_own_rows_before_the_ensemble():
    import bench_imdb

    figures = lambda accuracy: {"test_accuracy": accuracy}
    results = {"preset": "full", "wall_time_s": 60.0, "lm": {}, "lm_backward": {}, "classifier_seeds": 2,
               **{stage: figures(0.9) for stage in ("sentiment", "sentiment_backward", "sentiment_seed2",
                                                    "sentiment_backward_seed2", "ensemble")},
               **{stage: {"test_mae": 1.0} for stage in ("rating", "rating_backward", "rating_seed2",
                                                          "rating_backward_seed2", "ensemble_rating")}}
    models = ["forward", "backward", "forward seed2", "backward seed2", "ensemble"]
    assert [row["model"] for row in bench_imdb.rows_for(results)[0]] == models
    assert [row["model"] for row in bench_imdb.rows_for(results)[1]] == models


@pytest.mark.parametrize("config, expected", [
    ({"auxiliary_label_names": ["1", "2"]}, True),
    ({"members": [{"auxiliary_label_names": ["1", "2"]}, {"auxiliary_label_names": ["1", "2"]}]}, True),
    ({"members": [{"auxiliary_label_names": None}]}, False),
    ({"id2label": {"0": "neg", "1": "pos"}}, False),
])
def test_the_paired_test_reads_the_rating_head_of_a_two_head_model_or_ensemble(config, expected):
    pytest.importorskip("sklearn")
    import bench_paired_test

    assert bench_paired_test.has_second_head(config) is expected


def test_paired_benches_re_evaluate_a_stage_at_the_length_the_job_evaluated_it(tmp_path):
    pytest.importorskip("sklearn")
    from bench_paired_test import evaluated_length

    (tmp_path / "whole").mkdir()
    (tmp_path / "whole" / "stage_done.json").write_text(json.dumps({"eval_max_length": 0}))
    (tmp_path / "older").mkdir()  # recorded before eval_max_length existed: evaluated at the preset's max_length
    (tmp_path / "older" / "stage_done.json").write_text(json.dumps({"test_accuracy": 0.9}))
    assert evaluated_length(tmp_path / "whole", "full") == 0
    assert evaluated_length(tmp_path / "older", "full") == 512 and evaluated_length(tmp_path / "older", "quick") == 256
