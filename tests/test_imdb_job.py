"""The main job end to end on made-up reviews whose words give their polarity away (conftest's write_tiny_acl_imdb),
so that every test runs without a local IMDB copy: stages, resume, model folder, pipeline, CLI, and that it learns.

Finished tiny jobs are shared at module scope; each takes seconds."""

import contextlib
import dataclasses
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification, AutoTokenizer, TrainerCallback, pipeline

from hf_rnn.training import (DataArguments, ModelArguments, NgramLogisticArguments, TokenizerArguments,
                             ULMFiTArguments)
from hf_rnn.training import stage_data, stages
from hf_rnn.recipes.imdb import JobArguments, run_imdb
from hf_rnn.recipes.imdb.job import main as imdb_main

from conftest import TINY_JOB, command_line, write_tiny_acl_imdb

# On `synthetic_imdb`: 64 of the 108 training reviews, all 12 of validation (10% of 120), 32 of the 36 test ones.
TINY = dict(
    data_args=DataArguments(max_lm_documents=80, max_train_samples=64, max_eval_samples=12, max_test_samples=32,
                            max_lm_eval_documents=16, max_length=64, block_size=16),
    tok_args=TokenizerArguments(vocab_size=600, max_tokenizer_documents=300, min_frequency=2),
    model_args=ModelArguments(
        config_overrides="embedding_size=16,hidden_size=24,num_sampled=64,classifier_hidden_size=8"),
    ulmfit=ULMFiTArguments(gradual_unfreezing_steps=2),
)
# The quick preset with a separate sentiment model and rating model and no bag-of-words member, as a user sets it
# (`--heads separate --ngram_logistic_weight 0 --ngram_logistic_rating_weight 0`): named, so they win over the preset.
SEPARATE_MODELS = dict(ngram=NgramLogisticArguments(), explicit_fields=frozenset(
    {"heads", "ngram_logistic_weight", "ngram_logistic_rating_weight"}))
# The quick preset as `hf-rnn imdb` runs it (two heads, a bag-of-words member), long enough to learn the made-up
# reviews: 30 steps of each stage, 96 training reviews.
LEARNING_JOB = {**TINY_JOB, "max_train_samples": 96, "max_eval_samples": 12, "max_test_samples": 36,
                "max_lm_documents": 36, "max_steps": 30, "save_steps": 30, "logging_steps": 10,
                "config_overrides": "embedding_size=16,hidden_size=16,num_sampled=16,classifier_hidden_size=8"}
REVIEWS = ["great superb film , loved it", "awful boring plot . hated it", "the movie was a film"]
NOT_FIGURES = ("runtime", "per_second")  # timings: no two runs share them


@pytest.fixture(scope="module", autouse=True)
def synthetic_imdb(tmp_path_factory):
    """Every job here reads made-up reviews (120 training, 36 test, 36 unlabelled; ratings in the file names)."""
    data = write_tiny_acl_imdb(tmp_path_factory.mktemp("synthetic"), scale=3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_RNN_IMDB_PATH", str(data))
        yield data


class StopAfter(TrainerCallback):
    """Simulate a crash (Ctrl-C) once the Trainer has saved a checkpoint."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step and args.output_dir.endswith("lm"):
            raise KeyboardInterrupt


SEPARATE_JOB_STEPS = {"max_steps": 6, "save_steps": 2, "logging_steps": 2}


@pytest.fixture(scope="module")
def finished_run(synthetic_imdb, tmp_path_factory):
    """Separate sentiment and rating models, killed in the LM stage after its step-2 checkpoint and started again."""
    out = tmp_path_factory.mktemp("imdb")
    job = JobArguments(output_dir=str(out), preset="quick", heads="separate")
    original = stages.make_trainer

    def crashing_trainer(*args, **kwargs):
        trainer = original(*args, **kwargs)
        trainer.add_callback(StopAfter(3))
        return trainer

    stages.make_trainer = crashing_trainer
    try:
        with pytest.raises(KeyboardInterrupt):
            run_imdb(job, user_training_overrides=SEPARATE_JOB_STEPS, **TINY, **SEPARATE_MODELS)
    finally:
        stages.make_trainer = original
    assert (out / "lm" / "checkpoint-2").is_dir() and not (out / "lm" / "stage_done.json").exists()
    results = run_imdb(job, user_training_overrides=SEPARATE_JOB_STEPS, **TINY, **SEPARATE_MODELS)
    return out, results


@pytest.fixture(scope="module")
def uninterrupted_run(synthetic_imdb, tmp_path_factory):
    """The same job as `finished_run`, never killed."""
    out = tmp_path_factory.mktemp("imdb_uninterrupted")
    job = JobArguments(output_dir=str(out), preset="quick", heads="separate")
    return out, run_imdb(job, user_training_overrides=SEPARATE_JOB_STEPS, **TINY, **SEPARATE_MODELS)


@pytest.fixture(scope="module")
def learning_run(synthetic_imdb, tmp_path_factory):
    """`hf-rnn imdb` with the quick preset on the made-up reviews; returns its folder, results and what it printed."""
    out = tmp_path_factory.mktemp("imdb_learning") / "job"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        results = imdb_main(["--output_dir", str(out), "--dataset", str(synthetic_imdb), *command_line(LEARNING_JOB)])
    return out, results, printed.getvalue()


def figures(metrics: dict) -> dict:
    """A stage's evaluation figures, without its timings."""
    return {k: v for k, v in metrics.items() if k.startswith(("validation_", "test_", "eval_"))
            and not k.endswith(NOT_FIGURES)}


def test_killed_run_resumes_and_finishes_every_stage(finished_run):
    out, results = finished_run
    lm_state = json.loads((out / "lm" / "trainer_state.json").read_text())
    assert lm_state["global_step"] == 6
    for stage in ("tokenizer", "lm", "sentiment", "rating"):
        assert (out / stage / "stage_done.json").is_file(), stage
    assert results["rating"]["test_mae"] > 0 and results["lm"]["eval_perplexity"] > 1
    assert json.loads((out / "results.json").read_text())["sentiment"] == results["sentiment"]
    # The second invocation found the first one's work, so its wall time is labelled as partial.
    assert results["resumed_stages"] == ["tokenizer", "lm"]
    assert set(results["stage_seconds"]) == {"tokenizer", "lm", "sentiment", "rating"}
    assert all(seconds > 0 for seconds in results["stage_seconds"].values())  # kept across the two invocations
    card = (out / "model" / "README.md").read_text()
    total = sum(results['stage_seconds'].values()) / 60  # the whole job's time, its stages added up
    assert f"Wall time of the whole job: {total:.1f} minutes, its stages' own times added up" in card
    assert "tokenizer, lm finished in an earlier invocation" in card
    sentiment_log = json.loads((out / "sentiment" / "trainer_state.json").read_text())["log_history"]
    assert any("eval_accuracy" in entry for entry in sentiment_log)  # validation during training


def test_a_resumed_run_equals_an_uninterrupted_one(finished_run, uninterrupted_run):
    (resumed, resumed_results), (whole, whole_results) = finished_run, uninterrupted_run
    for stage in ("lm", "sentiment", "rating"):
        assert figures(resumed_results[stage]) == figures(whole_results[stage]), stage
        resumed_weights, whole_weights = (load_file(out / stage / "model.safetensors") for out in (resumed, whole))
        assert resumed_weights.keys() == whole_weights.keys(), stage
        for name, tensor in whole_weights.items():
            assert torch.equal(resumed_weights[name], tensor), (stage, name)


def test_rerun_skips_finished_stages(finished_run):
    out, results = finished_run
    again = run_imdb(JobArguments(output_dir=str(out), preset="quick", heads="separate"),
                     user_training_overrides={"max_steps": 6}, **TINY, **SEPARATE_MODELS)
    assert again["sentiment"] == results["sentiment"] and again["lm"] == results["lm"]


def softmax_of(stage_dir: Path, texts: list[str]) -> np.ndarray:
    """The stage model's class probabilities, read one text at a time (no padding)."""
    model = AutoModelForSequenceClassification.from_pretrained(stage_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(stage_dir)
    with torch.no_grad():
        return np.stack([model(**tokenizer(text, return_tensors="pt")).logits.softmax(-1)[0].numpy()
                         for text in texts])


def pipeline_scores(model_dir: Path, texts: list[str]) -> np.ndarray:
    """Every class's score from pipeline("text-classification") on the folder, in label id order."""
    classify = pipeline("text-classification", model=str(model_dir))
    label2id = classify.model.config.label2id
    return np.array([[entry["score"] for entry in sorted(row, key=lambda entry: label2id[entry["label"]])]
                     for row in classify(texts, top_k=None)])


def test_model_folder_serves_pipeline_with_a_card(finished_run):
    out, results = finished_run
    model_dir = out / "model"
    names = {p.name for p in model_dir.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "modeling_rnn.py", "README.md",
            "training_curves.png"} <= names
    assert not [name for name in names if name.endswith(".bin") or name.startswith(("predictions_", "checkpoint-"))]
    card = (model_dir / "README.md").read_text()
    assert "model-index" in card and f"{results['sentiment']['test_accuracy']:.4f}" in card
    assert "the 1-10 rating model (`rating10`) was fine-tuned from the language model" in card
    texts = [*REVIEWS, "Dreadful. " * 300]  # the last is longer than max_length: served whole
    np.testing.assert_allclose(pipeline_scores(model_dir, texts), softmax_of(out / "sentiment", texts), rtol=1e-5,
                               atol=1e-6)


def predict_cli(model_dir: Path, texts: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "hf_rnn.cli", "predict", str(model_dir), *texts],
                            capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def library_predictions(model_dir: Path, texts: list[str]) -> list[dict]:
    from hf_rnn.inference import load_classifier, predict_reviews

    return [{"text": text[:80], **row} for text, row in zip(texts, predict_reviews(load_classifier(str(model_dir)),
                                                                                   texts))]


def test_predict_cli_reads_arguments_and_stdin_and_prints_the_library_predictions(finished_run):
    out, _ = finished_run
    by_args = predict_cli(out / "model", REVIEWS)
    by_stdin = predict_cli(out / "model", [], input="\n".join(REVIEWS) + "\n")
    assert by_args.stdout == by_stdin.stdout
    assert [json.loads(line) for line in by_args.stdout.splitlines()] == library_predictions(out / "model", REVIEWS)
    rating = predict_cli(out / "rating", ["Fine."])
    assert [json.loads(rating.stdout)] == library_predictions(out / "rating", ["Fine."])


def test_the_job_learns_separable_reviews(learning_run):
    _, results, _ = learning_run
    # The recurrent classifier alone, the bag-of-words member aside, and the published ensemble.
    for stage in ("sentiment", "ensemble"):
        assert results[stage]["validation_accuracy"] >= 0.9, stage
        assert results[stage]["test_accuracy"] >= 0.9, stage
    assert results["rating"]["test_sentiment_accuracy"] >= 0.9  # the stars land on the right side


def test_the_two_head_models_folder_serves_the_ensembles_softmax_and_predict_prints_the_library_call(learning_run):
    out, _, _ = learning_run
    np.testing.assert_allclose(pipeline_scores(out / "model", REVIEWS), softmax_of(out / "ensemble", REVIEWS),
                               rtol=1e-5, atol=1e-6)
    printed = [json.loads(line) for line in predict_cli(out / "model", REVIEWS).stdout.splitlines()]
    assert printed == library_predictions(out / "model", REVIEWS)
    assert all(row["rating_label"] == f"{int(row['rating'])} stars" for row in printed)


def printed_metrics(printed: str) -> list[tuple[str, dict]]:
    """Trainer's `***** split metrics *****` blocks as (split, {name: value})."""
    blocks = re.findall(r"\*\*\*\*\* (\w+) metrics \*\*\*\*\*\n((?:  .*\n)*)", printed)
    parse = lambda line: (line.split("=")[0].strip(), line.split("=", 1)[1].strip())
    return [(split, dict(parse(line) for line in body.splitlines())) for split, body in blocks]


def test_printed_figures_are_results_json_and_no_test_figure_is_printed_unasked(learning_run):
    out, _, printed = learning_run
    results = json.loads((out / "results.json").read_text())
    assert "test" not in [split for split, _ in printed_metrics(printed)] and "test" not in printed.splitlines()[-1]
    assert "test_" not in printed and "'test" not in printed  # nor a test figure in a logged dict
    rating = results["ensemble_rating"]
    assert printed.splitlines()[-1].startswith(
        f"[quick] validation accuracy {results['sentiment']['validation_accuracy']:.4f} "
        f"(ensemble {results['ensemble']['validation_accuracy']:.4f}), rating MAE {rating['validation_mae']:.3f}, "
        f"exact {rating['validation_exact']:.3f}, LM perplexity {results['lm']['eval_perplexity']:.1f}, wall time ")
    # Each stage's validation block, as Trainer prints it (4 decimals), is that stage's figures in results.json.
    two_head = lambda sentiment, rating: {**results[sentiment], **{
        k.replace("validation_", "validation_rating_"): v for k, v in results[rating].items()}}
    stages = [two_head("sentiment", "rating"), two_head("ensemble", "ensemble_rating")]
    blocks = [metrics for split, metrics in printed_metrics(printed) if split == "validation"]
    assert len(blocks) == 2
    for block, stage in zip(blocks, stages):
        shown = {k: v for k, v in block.items() if not k.endswith(NOT_FIGURES)}
        assert shown and all(float(v) == pytest.approx(stage[k], abs=5e-5) for k, v in shown.items()), shown


def test_unknown_rating_target_is_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="rating_target 'stars'"):
        run_imdb(JobArguments(output_dir=str(tmp_path / "job"), rating_target="stars"))
    assert not (tmp_path / "job").exists()


def test_unknown_rating_start_is_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="rating_init_from 'tokenizer'"):
        run_imdb(JobArguments(output_dir=str(tmp_path / "job"), rating_init_from="tokenizer"))
    assert not (tmp_path / "job").exists()


def test_final_fit_trains_classifiers_on_every_labelled_review_and_prints_its_test_reading(tmp_path, capsys):
    job = JobArguments(output_dir=str(tmp_path / "job"), preset="quick", heads="separate", final_fit=True)
    results = run_imdb(job, user_training_overrides={"max_steps": 2, "save_steps": 2}, **TINY, **SEPARATE_MODELS)
    printed = capsys.readouterr().out
    assert [split for split, _ in printed_metrics(printed) if split in ("validation", "test")] == ["test", "test"]
    sentiment, rating = results["sentiment"], results["rating"]
    assert printed.splitlines()[-1].startswith(
        f"[quick] test accuracy {sentiment['test_accuracy']:.4f}, rating MAE {rating['test_mae']:.3f}, "
        f"exact {rating['test_exact']:.3f}, LM perplexity ")
    labelled = TINY["data_args"].max_train_samples + TINY["data_args"].max_eval_samples
    for stage in ("sentiment", "rating"):
        assert results[stage]["train_reviews"] == labelled, stage
        assert not any(key.startswith("validation_") for key in results[stage]), stage
        log = json.loads((tmp_path / "job" / stage / "trainer_state.json").read_text())["log_history"]
        assert not any("eval_loss" in entry for entry in log)  # nothing left to validate on
    assert results["final_fit"] and results["lm"]["eval_perplexity"] > 1  # the LM still measures on validation
    assert "final fit: the classifiers trained on all of them" in (tmp_path / "job" / "model" / "README.md").read_text()


def test_the_quick_preset_publishes_one_two_head_classifier_with_a_bag_of_words_member(learning_run):
    from hf_rnn.inference import load_classifier, predict_reviews
    from hf_rnn.recipes.imdb import PRESETS

    out, results, _ = learning_run
    assert not (out / "rating").exists()  # one fine-tune for both heads
    assert "test_rating_mae" not in results["sentiment"] and "test_accuracy" not in results["rating"]
    assert results["rating"]["test_mae"] >= 0 and results["ensemble_rating"]["test_mae"] >= 0
    bag = PRESETS["quick"]["ngram_logistic"]
    published = json.loads((out / "model" / "config.json").read_text())
    assert len(published["members"]) == 1 and published["ngram_logistic"]["buckets"] == bag["ngram_logistic_buckets"]
    assert (published["ngram_logistic_weight"], published["ngram_logistic_auxiliary_weight"]) == (
        bag["ngram_logistic_weight"], bag["ngram_logistic_rating_weight"])
    (prediction,) = predict_reviews(load_classifier(str(out / "model")), ["A fine film, 8/10."])
    assert prediction["label"] in ("neg", "pos") and 1 <= prediction["rating"] <= 10
    card = (out / "model" / "README.md").read_text()
    assert "one model, two heads" in card and "auxiliary_logits" in card  # the card says where the stars are
    assert "an ensemble of one forward classifier and a bag-of-words model" in card
    assert "The bag-of-words member takes 50% of the class probabilities and 50% of the star probabilities" in card
    assert "rating model (`rating10`) was fine-tuned" not in card


def test_the_bags_share_of_the_stars_is_dropped_with_a_warning_where_no_rating_head_is_published(caplog):
    from hf_rnn.recipes.imdb.job import ngram_for_heads

    settings = NgramLogisticArguments(ngram_logistic_weight=0.2, ngram_logistic_rating_weight=0.3)
    assert ngram_for_heads(settings, two_heads=True) == settings
    kept = ngram_for_heads(settings, two_heads=False)
    assert (kept.ngram_logistic_weight, kept.ngram_logistic_rating_weight) == (0.2, 0.0)
    assert "--ngram_logistic_rating_weight 0.3 ignored" in caplog.text and "--heads shared" in caplog.text
    assert not ngram_for_heads(NgramLogisticArguments(ngram_logistic_rating_weight=0.3), two_heads=False).enabled


def test_unknown_heads_value_is_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="heads 'both'"):
        run_imdb(JobArguments(output_dir=str(tmp_path / "job"), heads="both"))
    assert not (tmp_path / "job").exists()


def test_adversarial_terms_train_inside_the_job_with_unlabeled_reviews(tmp_path):
    from hf_rnn.training.adversarial import AdversarialArguments

    job = JobArguments(output_dir=str(tmp_path / "job"), preset="quick", rating=False)
    settings = AdversarialArguments(adversarial_weight=1.0, virtual_adversarial_weight=1.0, entropy_weight=0.1)
    results = run_imdb(job, adversarial=settings, user_training_overrides={"max_steps": 2, "save_steps": 2,
                                                                            "logging_steps": 1}, **TINY)
    assert results["adversarial"]["adversarial_weight"] == 1.0  # results.json says how the classifiers trained
    log = json.loads((tmp_path / "job" / "sentiment" / "trainer_state.json").read_text())["log_history"]
    assert {"adv_loss", "vat_loss", "vat_unlabeled_loss", "entropy"} <= set(log[0])


def test_weight_averaging_publishes_averaged_classifiers_and_leaves_the_lm_as_trained(tmp_path):
    from safetensors.torch import load_file

    out = tmp_path / "job"
    job = JobArguments(output_dir=str(out), preset="quick", rating=False)
    ulmfit = dataclasses.replace(TINY["ulmfit"], weight_averaging_start=0.5)
    results = run_imdb(job, user_training_overrides={"max_steps": 4, "save_steps": 2}, **{**TINY, "ulmfit": ulmfit})
    assert results["weight_averaging_start"] == 0.5  # results.json says how the classifiers trained
    weights = lambda folder: load_file(out / folder / "model.safetensors")
    differs = lambda saved, trained: any(not torch.equal(saved[k], trained[k]) for k in trained)
    assert differs(weights("sentiment"), weights("sentiment/checkpoint-4"))  # the published one is the average
    assert (out / "sentiment" / "checkpoint-4" / "weight_average.safetensors").is_file()
    assert not differs(weights("lm"), weights("lm/checkpoint-4"))  # LMs train as before


def test_adversarial_backward_false_keeps_the_backward_classifier_plain(tmp_path):
    from hf_rnn.training.adversarial import AdversarialArguments

    out = tmp_path / "job"
    job = JobArguments(output_dir=str(out), preset="quick", rating=False, backward=True, adversarial_backward=False)
    results = run_imdb(job, adversarial=AdversarialArguments(adversarial_weight=1.0),
                       user_training_overrides={"max_steps": 2, "save_steps": 2, "logging_steps": 1}, **TINY)
    logged = lambda stage: set(json.loads((out / stage / "trainer_state.json").read_text())["log_history"][0])
    assert "adv_loss" in logged("sentiment") and "adv_loss" not in logged("sentiment_backward")
    assert results["adversarial_backward"] is False


def test_backward_direction_trains_its_own_stages_and_publishes_the_ensemble(tmp_path, monkeypatch):
    from hf_rnn.inference import load_classifier, predict_reviews

    out = tmp_path / "job"
    job = JobArguments(output_dir=str(out), preset="quick", backward=True, heads="shared")
    overrides = {"max_steps": 2, "save_steps": 2}
    backward_blocks, make_blocks = [], stage_data.lm_blocks
    monkeypatch.setattr(stage_data, "lm_blocks", lambda *args, **kwargs: backward_blocks.append(
        kwargs.get("reverse_text", False)) or make_blocks(*args, **kwargs))
    bag = NgramLogisticArguments(ngram_logistic_weight=0.1, ngram_logistic_rating_weight=0.25,
                                 ngram_logistic_buckets=256)
    results = run_imdb(job, ngram=bag, user_training_overrides=overrides, **TINY)
    # Training blocks of the forward LM, its validation blocks, then the backward LM's: streams stepping backward.
    assert backward_blocks == [False, False, True, False]
    for stage in ("lm_backward", "sentiment_backward", "ensemble"):
        assert (out / stage / "stage_done.json").is_file(), stage
    for stage in ("lm_backward", "sentiment_backward"):  # the backward LM and the classifier fine-tuned from it
        assert json.loads((out / stage / "config.json").read_text())["reverse_text"] is True, stage
    published = json.loads((out / "model" / "config.json").read_text())
    assert [member["reverse_text"] for member in published["members"]] == [False, True]
    assert published["ngram_logistic"]["buckets"] == 256 and published["ngram_logistic_auxiliary_weight"] == 0.25
    assert results["ngram_logistic"] == results["ensemble"]["ngram_logistic"] == dataclasses.asdict(bag)
    for name in ("sentiment", "sentiment_backward", "ensemble"):
        assert 0 <= results[name]["test_accuracy"] <= 1, name
    assert results["ensemble_rating"]["test_mae"] >= 0  # both members have the rating head: averaged too
    # The members kept their outputs on the same reviews: the ensemble's figures come from them, not a third reading
    assert results["ensemble"]["from_member_predictions"] == ["validation", "test"]
    classify = pipeline("text-classification", model=str(out / "model"))
    assert {o["label"] for o in classify(["A wonderful, moving film.", "Dreadful."])} <= {"neg", "pos"}
    (prediction,) = predict_reviews(load_classifier(str(out / "model")), ["A fine film, 8/10."])
    assert prediction["label"] in ("neg", "pos") and 1 <= prediction["rating"] <= 10
    card = (out / "model" / "README.md").read_text()
    assert "ensemble" in card and f"{results['ensemble']['test_accuracy']:.4f}" in card
    assert ("A bag-of-words member joins them with 10% of the averaged class probabilities and 25% of the averaged "
            "star probabilities:") in card
    again = run_imdb(job, ngram=bag, user_training_overrides=overrides, **TINY)  # every stage finished: no training
    assert again["ensemble"] == results["ensemble"] and again["lm_backward"] == results["lm_backward"]


def test_bf16_precision_trains_every_stage_under_autocast_and_keeps_float32_weights(tmp_path, monkeypatch):
    """Reviews longer than 256 tokens: bfloat16 counts only to 256 exactly, which the pooling must not rely on."""
    import torch
    from safetensors.torch import load_file

    from hf_rnn.training.adversarial import AdversarialArguments

    monkeypatch.setenv("HF_RNN_IMDB_PATH", str(write_tiny_acl_imdb(tmp_path / "long", words=(260, 320))))
    out = tmp_path / "job"
    job = JobArguments(output_dir=str(out), preset="quick", backward=True, heads="shared", precision="bf16")
    long_reviews = dict(TINY, data_args=dataclasses.replace(TINY["data_args"], max_length=300))
    autocast_by_stage, original = {}, stages.make_trainer

    def recording_trainer(*args, **kwargs):
        trainer = original(*args, **kwargs)
        stage = Path(trainer.args.output_dir).name
        def record(*_):
            autocast_by_stage.setdefault(stage, torch.is_autocast_enabled("cpu") and trainer.args.bf16)

        trainer.model.get_input_embeddings().register_forward_hook(record)  # inside the autocast forward
        return trainer

    monkeypatch.setattr(stages, "make_trainer", recording_trainer)
    results = run_imdb(job, adversarial=AdversarialArguments(adversarial_weight=1.0),
                       user_training_overrides={"max_steps": 2, "save_steps": 2}, **long_reviews)
    assert results["bf16"] is True
    assert autocast_by_stage == {"lm": True, "lm_backward": True, "sentiment": True, "sentiment_backward": True}
    for stage in ("lm", "sentiment", "sentiment_backward"):
        weights = load_file(out / stage / "model.safetensors")
        assert {tensor.dtype for tensor in weights.values()} == {torch.float32}, stage
    assert 0.0 <= results["ensemble"]["test_accuracy"] <= 1.0 and results["ensemble_rating"]["test_mae"] >= 0


def test_unknown_precision_is_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="precision 'half'"):
        run_imdb(JobArguments(output_dir=str(tmp_path / "job"), precision="half"))
    assert not (tmp_path / "job").exists()


def test_classifier_seeds_train_one_member_per_seed_and_publish_their_ensemble(tmp_path, monkeypatch):
    out = tmp_path / "job"
    overrides = {"max_steps": 2, "save_steps": 2}
    seeds, original = {}, stages.make_trainer

    def recording_trainer(*args, **kwargs):
        trainer = original(*args, **kwargs)
        seeds[Path(trainer.args.output_dir).name] = trainer.args.seed
        return trainer

    monkeypatch.setattr(stages, "make_trainer", recording_trainer)
    job = JobArguments(output_dir=str(out), preset="quick", heads="shared", classifier_seeds=2, training_seed=5)
    results = run_imdb(job, user_training_overrides=overrides, **TINY)
    assert {stage: seeds[stage] for stage in ("sentiment", "sentiment_seed2")} == {"sentiment": 5, "sentiment_seed2": 6}
    assert results["rating_seed2"]["test_mae"] >= 0 and "sentiment_backward" not in results
    assert results["ensemble"]["members"] == [str(out / "sentiment"), str(out / "sentiment_seed2")]
    published = json.loads((out / "model" / "config.json").read_text())
    assert len(published["members"]) == 2
    card = (out / "model" / "README.md").read_text()
    assert "ensemble of 2 forward classifiers" in card and "sentiment_forward_seed2 test" in card
    # A third seed later: the two finished members are kept, the third trains, and the ensemble is rebuilt of three.
    seeds.clear()
    job = dataclasses.replace(job, classifier_seeds=3)
    again = run_imdb(job, user_training_overrides=overrides, **TINY)
    assert set(seeds) == {"sentiment_seed3"}
    assert len(again["ensemble"]["members"]) == 3 and again["sentiment_seed2"] == results["sentiment_seed2"]
    assert len(json.loads((out / "model" / "config.json").read_text())["members"]) == 3


def test_classifier_seeds_below_one_are_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="classifier_seeds is 0"):
        run_imdb(JobArguments(output_dir=str(tmp_path / "job"), classifier_seeds=0))
    assert not (tmp_path / "job").exists()


@pytest.mark.parametrize("precision, lm_steps", [("fp32", 3), ("bf16", 2000)])
def test_a_presets_float32_section_sizes_the_lm_only_where_the_job_trains_in_float32(tmp_path, monkeypatch,
                                                                                     precision, lm_steps):
    from hf_rnn.recipes.imdb import PRESETS

    class LMTrainerBuilt(Exception):
        pass

    lm_args, original = {}, stages.make_trainer

    def stop_at_the_lm(*args, **kwargs):
        trainer = original(*args, **kwargs)
        lm_args.update(max_steps=trainer.args.max_steps, batch=trainer.args.per_device_train_batch_size)
        raise LMTrainerBuilt

    monkeypatch.setattr(stages, "make_trainer", stop_at_the_lm)
    monkeypatch.setitem(PRESETS, "sized", {**PRESETS["quick"], "float32": {"lm_training": dict(max_steps=3)}})
    with pytest.raises(LMTrainerBuilt):
        run_imdb(JobArguments(output_dir=str(tmp_path), preset="sized", precision=precision), **TINY)
    assert lm_args == {"max_steps": lm_steps, "batch": 32}
