"""Semi-supervised pieces: consistency loss as specified (zero for identical inputs, padding never read or
perturbed), pseudo-labels chosen per class from the unsupervised split only (never validation or test), and a
Trainer that trains with the consistency term."""

import numpy as np
import pytest
import torch
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
from transformers import Trainer, TrainingArguments

from hf_rnn import RNNForSequenceClassification
from hf_rnn.data import classification_collator
from hf_rnn.training import semi_supervised as ssl
from hf_rnn.training.semi_supervised import TfidfReplacement
from conftest import tiny_config


def padded_batch():
    ids = torch.randint(4, 20, (3, 6), generator=torch.Generator().manual_seed(1))
    mask = torch.tensor([[1] * 6, [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]])
    return {"input_ids": ids.masked_fill(mask == 0, 0), "attention_mask": mask}


def classifier(**overrides):
    return RNNForSequenceClassification(tiny_config(num_labels=2, classifier_dropout=0.0, **overrides)).eval()


def test_word_dropout_replaces_real_tokens_only():
    batch = padded_batch()
    dropped = ssl.word_dropout(batch["input_ids"], batch["attention_mask"], rate=1.0 - 1e-9, replacement_id=1)
    real = batch["attention_mask"].bool()
    assert (dropped[real] == 1).all() and torch.equal(dropped[~real], batch["input_ids"][~real])
    assert torch.equal(ssl.word_dropout(batch["input_ids"], batch["attention_mask"], 0.0, 1), batch["input_ids"])
    some = ssl.word_dropout(batch["input_ids"], batch["attention_mask"], 0.5, 1,
                            generator=torch.Generator().manual_seed(0))
    assert 0 < int((some[real] == 1).sum()) < int(real.sum())


def tfidf_corpus() -> TfidfReplacement:
    """Token 5 is in every text (no information), 9 in one, 2 is special; the vocabulary has 12 ids."""
    texts = [[2, 5, 9, 6], [2, 5, 6, 6], [2, 5, 7], [2, 5, 8, 7]]
    return TfidfReplacement.from_features(Dataset.from_dict({"input_ids": texts}), vocab_size=12, special_ids=[2])


def test_tfidf_replacement_changes_uninformative_words_most_and_real_tokens_only():
    replacement = tfidf_corpus()
    ids = torch.tensor([[2, 5, 9, 6, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 0, 0]])
    probabilities = replacement.replacement_probabilities(ids, mask, rate=0.3)[0]
    assert probabilities[0] == 0 and (probabilities[4:] == 0).all()  # special token and padding
    assert probabilities[1] > probabilities[3] > probabilities[2]  # "5" (everywhere) > "6" > "9" (one text)
    torch.testing.assert_close(probabilities[1:4].mean(), torch.tensor(0.3))  # the rate, on average
    perturbed = replacement(ids.repeat(200, 1), mask.repeat(200, 1), 0.3, torch.Generator().manual_seed(0))
    assert (perturbed[:, 0] == 2).all() and (perturbed[:, 4:] == 0).all()
    changed = perturbed != ids
    assert changed[:, 1].float().mean() > changed[:, 2].float().mean()
    assert torch.equal(replacement(ids, mask, 0.0), ids)  # rate 0: the text itself, so the loss is zero


def test_tfidf_replacement_draws_corpus_words_uninformative_first_never_special_ones():
    weights = tfidf_corpus().draw_weights
    assert weights[2] == 0 and weights[[0, 1, 3, 4, 10, 11]].eq(0).all()  # special, and never seen
    assert weights[5] == weights.max() and weights[9] > 0
    assert weights[6] == 0  # the corpus's highest TF-IDF (0.75 of a text over two texts) is never drawn


def test_consistency_loss_is_zero_for_identical_inputs_and_positive_otherwise():
    logits = torch.tensor([[3.0, -1.0], [0.2, 0.1], [-2.0, 2.5]])
    assert float(ssl.consistency_loss(logits, logits, confidence=0.0, temperature=1.0)) == pytest.approx(0.0, abs=1e-7)
    moved = logits + torch.tensor([[-1.0, 1.0]])
    assert float(ssl.consistency_loss(logits, moved, confidence=0.0, temperature=1.0)) > 0


def test_consistency_loss_skips_unconfident_rows_and_divides_by_every_row():
    clean = torch.tensor([[4.0, -4.0], [0.1, 0.0]])  # confident, unsure
    perturbed = torch.tensor([[0.0, 0.0], [-3.0, 3.0]])
    both = ssl.consistency_loss(clean, perturbed, confidence=0.0, temperature=0.5)
    first_only = ssl.consistency_loss(clean, perturbed, confidence=0.9, temperature=0.5)
    alone = ssl.consistency_loss(clean[:1], perturbed[:1], confidence=0.9, temperature=0.5)
    assert 0 < float(first_only) < float(both)
    torch.testing.assert_close(first_only, alone / 2)  # summed over confident rows, divided by all rows


def test_consistency_loss_never_reads_padding():
    """The classifier pools over real tokens: any token ids at padding positions give the same loss."""
    model, batch = classifier(), padded_batch()
    other = dict(batch, input_ids=batch["input_ids"].masked_fill(batch["attention_mask"] == 0, 7))
    with torch.no_grad():
        clean = model(**batch).logits
        assert float(ssl.consistency_loss(clean, model(**other).logits, 0.0, 1.0)) == pytest.approx(0.0, abs=1e-7)
        dropped = dict(batch, input_ids=ssl.word_dropout(batch["input_ids"], batch["attention_mask"], 0.5, 1,
                                                          generator=torch.Generator().manual_seed(0)))
        assert float(ssl.consistency_loss(clean, model(**dropped).logits, 0.0, 1.0)) > 0


class ConsistencyTrainer(ssl.ConsistencyTrainerMixin, Trainer):
    pass


@pytest.mark.parametrize("perturbation", ssl.PERTURBATIONS)
def test_trainer_trains_with_the_consistency_term_and_logs_it(tmp_path, tokenizer, perturbation):
    labelled = Dataset.from_dict(dict(tokenizer(["a great movie", "awful plot", "good fun", "boring film"] * 2),
                                      labels=[1, 0, 1, 0] * 2))
    unlabeled = Dataset.from_dict(dict(tokenizer(["i loved it", "i hated the acting"] * 2)))
    model = classifier(vocab_size=len(tokenizer)).train()
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=4,
                             per_device_eval_batch_size=2, logging_steps=1, report_to=[], save_strategy="no",
                             use_cpu=True)
    trainer = ConsistencyTrainer(model=model, args=args, train_dataset=labelled, consistency_dataset=unlabeled,
                                 processing_class=tokenizer, data_collator=classification_collator(tokenizer),
                                 consistency=ssl.ConsistencyArguments(consistency_weight=1.0, consistency_confidence=0,
                                                                      consistency_perturbation=perturbation))
    trainer.train()
    assert "consistency_loss" in trainer.state.log_history[0]
    assert model.training  # the clean target is taken in eval mode; training mode comes back


def test_consistency_without_unlabelled_texts_is_a_clear_error(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True)
    with pytest.raises(ValueError, match="no unlabelled texts"):
        ConsistencyTrainer(model=classifier(), args=args, consistency=ssl.ConsistencyArguments(consistency_weight=1))


@pytest.mark.parametrize("bad", [dict(consistency_word_dropout=1.0), dict(consistency_temperature=0.0),
                                 dict(consistency_perturbation="synonyms")])
def test_consistency_settings_are_checked(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        ssl.ConsistencyArguments(**bad)


def test_class_quotas_follow_the_labels_proportions_and_add_up():
    assert ssl.class_quotas(10, [0, 0, 0, 1], 2).tolist() == [8, 2]  # 7.5 / 2.5: the remainder goes to class 0
    assert ssl.class_quotas(7, [0, 1, 2], 3).sum() == 7
    assert ssl.class_quotas(5, [1, 1], 3).tolist() == [0, 5, 0]


def test_pseudo_labels_are_the_most_confident_rows_of_each_class():
    probabilities = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.95, 0.05], [0.45, 0.55], [0.3, 0.7]])
    rows, labels = ssl.select_pseudo_labels(probabilities, np.array([2, 1]))
    assert rows.tolist() == [0, 2, 3] and labels.tolist() == [0, 1, 0]
    # A class predicted for fewer rows than its quota gives what it has, never another class's rows.
    rows, labels = ssl.select_pseudo_labels(probabilities, np.array([0, 5]))
    assert rows.tolist() == [2, 4, 5] and labels.tolist() == [1, 1, 1]


def labelled_splits() -> DatasetDict:
    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    split = lambda name, n: Dataset.from_dict({"text": [f"{name} {i}" for i in range(n)], "label": [i % 2 for i in
                                                                                                    range(n)]},
                                               features=features)
    unsupervised = Dataset.from_dict({"text": [f"unsupervised {i}" for i in range(10)], "label": [-1] * 10})
    return DatasetDict(train=split("train", 4), validation=split("validation", 4), test=split("test", 4),
                       unsupervised=unsupervised)


def test_the_pool_is_the_unsupervised_split_alone():
    pool = ssl.unlabeled_pool(labelled_splits(), size=6, seed=0)
    assert len(pool) == 6 and all(text.startswith("unsupervised") for text in pool["text"])
    without = labelled_splits()
    del without["unsupervised"]
    with pytest.raises(ValueError, match="unlabelled texts"):
        ssl.unlabeled_pool(without, size=6)


def test_self_training_never_trains_on_validation_or_test_text(tmp_path, tokenizer, monkeypatch):
    """Every round's training rows are the labels plus unsupervised rows; test is read in the last round only,
    which trains in the stage's own folder."""
    seen = []

    def train_round(dsd, folder):
        seen.append((sorted(dsd), list(dsd["train"]["text"]), folder))
        return {"validation_accuracy": 0.5}

    confident = lambda folder, features, tokenizer: np.tile([[0.2, 0.8], [0.9, 0.1]], (len(features) // 2, 1))
    monkeypatch.setattr(ssl, "predict_probabilities", confident)
    dsd = labelled_splits()
    settings = ssl.SelfTrainingArguments(self_training_rounds=2, pseudo_label_share=0.5)
    result = ssl.self_train(train_round, dsd, ssl.unlabeled_pool(dsd, 8), tokenizer, tmp_path, settings)
    assert [len(texts) for _, texts, _ in seen] == [4, 8, 12]  # 0, then 4 and 8 pseudo-labels
    for splits, texts, _ in seen:
        assert all(text.startswith(("train", "unsupervised")) for text in texts)
    assert ["test" in splits for splits, _, _ in seen] == [False, False, True]
    assert seen[-1][2] == tmp_path and seen[0][2] == tmp_path / "self_training" / "round_0"
    assert [row["pseudo_labels"] for row in result["self_training"]] == [0, 4, 8]


def test_a_round_collapses_only_when_it_loses_what_its_teacher_had():
    assert ssl.majority_share([0, 1, 1, 1]) == 0.75
    assert ssl.collapsed({"validation_accuracy": 0.75}, {"validation_accuracy": 0.9}, 0.75)
    assert not ssl.collapsed({"validation_accuracy": 0.8}, {"validation_accuracy": 0.9}, 0.75)
    assert not ssl.collapsed({"validation_accuracy": 0.7}, {"validation_accuracy": 0.75}, 0.75)  # never learnt
    assert not ssl.collapsed({"validation_accuracy": 0.5}, None, 0.75)  # round 0 has no teacher


def scripted_rounds(accuracies: list[float]):
    """A `train_round` that saves a file in its folder and reports the next scripted validation accuracy."""
    calls = []

    def train_round(dsd, folder):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.safetensors").write_text(str(len(calls)))
        calls.append((folder, list(dsd["train"]["text"])))
        return {"validation_accuracy": accuracies[len(calls) - 1]}

    return train_round, calls


def run_scripted(tmp_path, tokenizer, monkeypatch, accuracies: list[float], rounds: int = 2):
    train_round, calls = scripted_rounds(accuracies)
    teachers = []

    def predict(folder, features, tokenizer):
        teachers.append(folder)
        return np.tile([[0.2, 0.8], [0.9, 0.1]], (len(features) // 2, 1))

    monkeypatch.setattr(ssl, "predict_probabilities", predict)
    dsd = labelled_splits()  # validation: two of each class, so a constant answer scores 0.5
    settings = ssl.SelfTrainingArguments(self_training_rounds=rounds, pseudo_label_share=0.5)
    result = ssl.self_train(train_round, dsd, ssl.unlabeled_pool(dsd, 8), tokenizer, tmp_path, settings)
    return result, calls, teachers


def test_a_collapsed_round_is_set_aside_and_trained_again(tmp_path, tokenizer, monkeypatch):
    result, calls, teachers = run_scripted(tmp_path, tokenizer, monkeypatch, [0.75, 1.0, 0.5, 1.0])
    rounds = tmp_path / "self_training"
    assert [folder for folder, _ in calls] == [rounds / "round_0", rounds / "round_1", tmp_path, tmp_path]
    assert sorted(calls[2][1]) == sorted(calls[3][1]) and calls[2][1] != calls[3][1]  # same rows, another order
    assert (rounds / "round_2_collapsed_1" / "model.safetensors").read_text() == "2"
    assert (tmp_path / "model.safetensors").read_text() == "3"  # the retry is the stage's classifier
    history = result["self_training"]
    assert [(row["attempts"], row["collapsed"]) for row in history] == [(1, False), (1, False), (2, False)]
    assert result["validation_accuracy"] == 1.0


def test_a_round_that_collapses_twice_is_kept_reported_and_never_teaches(tmp_path, tokenizer, monkeypatch, caplog):
    result, calls, teachers = run_scripted(tmp_path, tokenizer, monkeypatch, [0.75, 0.5, 0.5, 1.0], rounds=2)
    rounds = tmp_path / "self_training"
    assert [folder for folder, _ in calls] == [rounds / "round_0", rounds / "round_1", rounds / "round_1", tmp_path]
    assert teachers == [rounds / "round_0", rounds / "round_0"]  # round 2 learns from round 0, not the collapse
    assert [row["collapsed"] for row in result["self_training"]] == [False, True, False]
    assert "collapsed again" in caplog.text


def test_a_resumed_job_goes_on_with_a_started_retry(tmp_path, tokenizer, monkeypatch):
    """A job stopped while retraining a collapsed round resumes that retry (its rows in the retry's order), not the
    first attempt."""
    (tmp_path / "self_training" / "round_2_collapsed_1").mkdir(parents=True)
    result, calls, _ = run_scripted(tmp_path, tokenizer, monkeypatch, [0.75, 1.0, 1.0])
    assert [folder for folder, _ in calls][-1] == tmp_path
    assert calls[2][1][:4] != [f"train {i}" for i in range(4)]  # a first attempt puts the labels first
    assert result["self_training"][-1]["attempts"] == 2


def test_tfidf_replacement_without_words_to_count_is_a_clear_error():
    with pytest.raises(ValueError, match="needs unlabelled texts"):
        TfidfReplacement.from_features(Dataset.from_dict({"input_ids": [[]]}), vocab_size=4)
    with pytest.raises(ValueError, match="use consistency_perturbation word_dropout"):
        TfidfReplacement.from_features(Dataset.from_dict({"input_ids": [[2, 2], [2]]}), vocab_size=4, special_ids=[2])
