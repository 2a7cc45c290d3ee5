"""A forward and a backward classifier served as one model folder: probabilities averaged (ULMFiT), saved with
safetensors and its code, loaded by the Auto classes and pipeline(), with or without hf_rnn installed."""

import dataclasses
import json
import os
import random
import subprocess
import sys
import textwrap

import datasets
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments, pipeline

from hf_rnn import RNNEnsembleConfig, RNNEnsembleForSequenceClassification, RNNForSequenceClassification
from hf_rnn.data import auxiliary_label_names, classification_collator, id2label
from hf_rnn.training import DataArguments, NgramLogisticArguments
from hf_rnn.training.metrics import compute_metrics_for
from hf_rnn.training.ensemble import ensemble_classifiers
from hf_rnn.training.evaluation import evaluate_splits, predictions_path
from hf_rnn.training.stage_data import classification_datasets
from hf_rnn.models.rnn import ENSEMBLE_AUTO_MAP
from conftest import tiny_config
from test_backbone import pad_batch

LABELS = {0: "neg", 1: "pos"}
STARS = auxiliary_label_names("binary+rating10")


def member(reverse_text=False, **overrides):
    settings = dict(num_labels=2, id2label=LABELS, label2id={v: k for k, v in LABELS.items()}, **overrides)
    return RNNForSequenceClassification(tiny_config(reverse_text=reverse_text, **settings)).eval()


def forward_backward_ensemble(**overrides):
    forward, backward = member(**overrides), member(reverse_text=True, **overrides)
    return forward, backward, RNNEnsembleForSequenceClassification.from_members(forward, backward).eval()


def mean_probabilities(models, ids, mask=None, head="logits"):
    return torch.stack([getattr(m(ids, attention_mask=mask), head).softmax(-1) for m in models]).mean(0)


@pytest.mark.parametrize("side", ["left", "right"])
def test_ensemble_probabilities_are_the_average_of_its_members(side):
    forward, backward, ensemble = forward_backward_ensemble()
    ids, mask = pad_batch([torch.tensor(r) for r in ([5, 6, 7, 8, 9], [10, 11], [12, 13, 14])], side)
    with torch.no_grad():
        probabilities = ensemble(ids, attention_mask=mask).logits.softmax(-1)
        torch.testing.assert_close(probabilities, mean_probabilities([forward, backward], ids, mask))
        alone = ensemble(torch.tensor([[10, 11]])).logits.softmax(-1)
        torch.testing.assert_close(probabilities[1:2], alone, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(probabilities, forward(ids, attention_mask=mask).logits.softmax(-1))


def test_auxiliary_head_is_averaged_too_and_the_loss_reads_the_average():
    forward, backward, ensemble = forward_backward_ensemble(auxiliary_label_names=STARS)
    ids, labels = torch.randint(4, 20, (4, 6)), torch.tensor([[0, 2], [1, 8], [1, 6], [0, 0]])
    with torch.no_grad():
        out = ensemble(ids, labels=labels)
        torch.testing.assert_close(out.auxiliary_logits.softmax(-1),
                                   mean_probabilities([forward, backward], ids, head="auxiliary_logits"))
    expected = torch.nn.functional.nll_loss(out.logits.log_softmax(-1), labels[:, 0]) + \
        torch.nn.functional.nll_loss(out.auxiliary_logits.log_softmax(-1), labels[:, 1])
    torch.testing.assert_close(out.loss, expected)
    assert ensemble.config.auxiliary_label_names == STARS


def test_ensemble_saves_reloads_and_serves_pipeline_with_labels(tmp_path, tokenizer):
    forward, backward, ensemble = forward_backward_ensemble()
    ensemble.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"model.safetensors", "config.json", "configuration_rnn.py", "modeling_rnn.py",
            "modeling_rnn_ensemble.py"} <= names
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in names)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["auto_map"] == ENSEMBLE_AUTO_MAP and [m["reverse_text"] for m in saved["members"]] == [False, True]
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert type(reloaded) is RNNEnsembleForSequenceClassification
    texts = ["a great movie", "boring plot and bad acting"]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch).logits, ensemble(**batch).logits)
        expected = mean_probabilities([forward, backward], batch.input_ids, batch.attention_mask)
    outputs = pipeline("text-classification", model=str(tmp_path), top_k=None)(texts)
    for row, scores in enumerate(outputs):
        by_label = {entry["label"]: entry["score"] for entry in scores}
        assert set(by_label) == {"neg", "pos"}
        assert by_label["pos"] == pytest.approx(float(expected[row, 1]), abs=1e-5)


CLEAN_LOADER = textwrap.dedent(
    """
    import json, sys
    sys.modules["hf_rnn"] = None  # hf_rnn must not be importable: the folder alone has to suffice
    from transformers import pipeline
    classify = pipeline("text-classification", model=sys.argv[1], trust_remote_code=True, top_k=None)
    print(json.dumps({"scores": classify(["a great movie", "boring plot"]),
                      "module": type(classify.model).__module__}))
    """
)


def served_without_hf_rnn(ensemble, tokenizer, tmp_path) -> dict:
    """Save the ensemble with its tokenizer in tmp_path/model and serve it from a Python where hf_rnn cannot be
    imported: the pipeline's scores and the model's module there."""
    ensemble.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    (tmp_path / "loader.py").write_text(CLEAN_LOADER)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_MODULES_CACHE=str(tmp_path / "modules"), HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "loader.py", "model"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    remote = json.loads(result.stdout.strip().splitlines()[-1])
    assert "hf_rnn" not in remote["module"]
    return remote


def test_ensemble_folder_loads_without_hf_rnn(tmp_path, tokenizer):
    _, _, ensemble = forward_backward_ensemble()
    remote = served_without_hf_rnn(ensemble, tokenizer, tmp_path)
    local = pipeline("text-classification", model=str(tmp_path / "model"), top_k=None)(["a great movie", "boring plot"])
    for theirs, ours in zip(remote["scores"], local):
        scores = lambda entries: {entry["label"]: entry["score"] for entry in entries}
        assert scores(theirs) == pytest.approx(scores(ours), abs=1e-6)


def labelled(**overrides):
    return tiny_config(num_labels=2, id2label=LABELS, label2id={v: k for k, v in LABELS.items()}, **overrides)


@pytest.mark.parametrize("members, message", [
    ([labelled(), labelled(vocab_size=40)], "share vocab_size"),
    ([labelled(), tiny_config(num_labels=2)], "share id2label"),
    ([tiny_config(num_labels=1, problem_type="regression")] * 2, r"problem types \['regression'\]"),
    ([tiny_config(num_labels=3, problem_type="multi_label_classification"), tiny_config(num_labels=3)],
     "one kind"),
])
def test_members_that_disagree_are_refused(members, message):
    with pytest.raises(ValueError, match=message):
        RNNEnsembleConfig(members=members)


def test_a_multi_label_ensemble_averages_each_labels_probability():
    torch.manual_seed(0)
    config = tiny_config(num_labels=3, problem_type="multi_label_classification")
    members = [RNNForSequenceClassification(config).eval() for _ in range(2)]
    ensemble = RNNEnsembleForSequenceClassification.from_members(*members).eval()
    assert ensemble.config.problem_type == "multi_label_classification"
    ids = torch.randint(3, config.vocab_size, (2, 7))
    with torch.no_grad():
        expected = torch.stack([member(ids).logits.sigmoid() for member in members]).mean(0)
        assert torch.allclose(ensemble(ids).logits.sigmoid(), expected, atol=1e-6)


def test_an_ensemble_without_members_is_refused():
    with pytest.raises(ValueError, match="no members"):
        RNNEnsembleForSequenceClassification(RNNEnsembleConfig())


def review_splits() -> datasets.DatasetDict:
    words = ["great", "boring", "fine", "awful", "moving", "plot", "acting", "a", "movie"]
    rows = lambda n, seed: [{"text": " ".join(random.Random(seed + i).choices(words, k=3 + i % 7)),
                             "label": i % 2, "rating": [2, 9, 4, 7, 1, 10][i % 6]} for i in range(n)]
    return datasets.DatasetDict({split: datasets.Dataset.from_list(rows(n, seed)) for split, n, seed in
                                 (("validation", 12, 0), ("test", 20, 100))})


@pytest.mark.parametrize("target, bag", [("binary", False), ("binary+rating10", False), ("binary+rating10", True)])
def test_ensemble_figures_from_saved_member_outputs_equal_a_second_reading(tmp_path, tokenizer, target, bag):
    heads = {"auxiliary_label_names": STARS} if target == "binary+rating10" else {}
    data_args = DataArguments(target=target, max_length=16)
    reviews = review_splits()
    reviews["train"] = reviews["validation"]  # for the bag's fit
    ngram = NgramLogisticArguments(ngram_logistic_weight=0.3, ngram_logistic_rating_weight=0.2,
                                   ngram_logistic_buckets=64) if bag else None
    features = classification_datasets(tokenizer, reviews, data_args)
    members = []
    for name, reverse_text in (("forward", False), ("backward", True)):
        folder = tmp_path / name
        trainer = Trainer(model=member(reverse_text, **heads), processing_class=tokenizer,
                          args=TrainingArguments(output_dir=str(folder), report_to=[]),
                          data_collator=classification_collator(tokenizer),
                          compute_metrics=compute_metrics_for(target))
        trainer.save_model(folder)
        evaluate_splits(trainer, features, keep_predictions=True)
        members.append(folder)
    ensemble_args = lambda name: TrainingArguments(output_dir=str(tmp_path / name), report_to=[])
    from_outputs = ensemble_classifiers(tokenizer, reviews, data_args, members, ensemble_args("from_outputs"), ngram)
    assert from_outputs["ngram_logistic"] == (dataclasses.asdict(ngram) if bag else None)
    assert from_outputs["from_member_predictions"] == ["validation", "test"]
    for folder in members:  # outputs of other rows (a different max_length) must not be mistaken for these
        for split in ("validation", "test"):
            saved = predictions_path(folder, split)
            with safe_open(saved, framework="pt") as kept:
                tensors = {key: kept.get_tensor(key) for key in kept.keys()}
            save_file(tensors, saved, metadata={"fingerprint": "other rows"})
    read_again = ensemble_classifiers(tokenizer, reviews, data_args, members, ensemble_args("read_again"), ngram)
    assert "from_member_predictions" not in read_again and "test_runtime" in read_again
    timing = ("runtime", "samples_per_second", "steps_per_second", "model_preparation_time")
    figures = {key for key in read_again if key.startswith(("validation_", "test_"))
               and key.split("_", 1)[1] not in timing}
    assert figures == set(from_outputs) - {"members", "from_member_predictions", "eval_max_length", "ngram_logistic",
                                           "ngram_logistic_fit_seconds"}
    assert {"test_accuracy", "test_loss"} <= figures
    for key in figures:
        assert from_outputs[key] == pytest.approx(read_again[key], abs=1e-5), key


@pytest.mark.parametrize("eval_max_length, evaluated", [(None, 4), (0, None), (6, 6)])
def test_evaluated_reviews_keep_their_own_length_and_training_reviews_the_training_one(tokenizer, eval_max_length,
                                                                                       evaluated):
    reviews = review_splits()
    reviews["train"] = reviews["test"]
    data_args = DataArguments(target="binary", max_length=4, eval_max_length=eval_max_length)
    features = classification_datasets(tokenizer, reviews, data_args)
    whole = [len(ids) for ids in tokenizer(list(reviews["test"]["text"]))["input_ids"]]
    assert max(whole) > 6 and list(features["train"]["length"]) == [min(n, 4) for n in whole]
    for split in ("validation", "test"):
        expected = [len(ids) for ids in tokenizer(list(reviews[split]["text"]))["input_ids"]]
        assert list(features[split]["length"]) == [n if evaluated is None else min(n, evaluated) for n in expected]


def test_a_negative_review_length_is_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"--eval_max_length -1: pass a number of tokens per review, or 0"):
        DataArguments(eval_max_length=-1)
    with pytest.raises(ValueError, match=r"--max_length -5"):
        DataArguments(max_length=-5)
