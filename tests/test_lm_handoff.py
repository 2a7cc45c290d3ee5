"""ULMFiT's hand-off: a pretrained LM moved onto the task's vocabulary, fine-tuned on the task's text, classified."""

import csv
import json
import random
import runpy
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, TrainingArguments

from hf_rnn import RNNConfig, RNNForCausalLM
from hf_rnn.tokenization import train_word_level_tokenizer
from hf_rnn.training import ModelArguments, fine_tune_pretrained_lm, pretrain_on_corpus
from hf_rnn.training.lm_transfer import load_pretrained_lm, match_vocabulary

from conftest import needs_imdb
from test_lm_corpus import tiny_run, write_corpus

ROOT = Path(__file__).resolve().parents[1]
GENERAL = ["the cat sat on the mat", "a dog ran to the park", "the cat and the dog"]
TARGET = ["the film was great", "the cat liked the film", "a dull film"]


def tiny_lm(tokenizer, **overrides) -> RNNForCausalLM:
    return RNNForCausalLM(RNNConfig(vocab_size=len(tokenizer), embedding_size=8, hidden_size=8,
                                    pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                                    eos_token_id=tokenizer.eos_token_id, **overrides))


def test_shared_words_keep_their_rows_and_new_words_start_from_the_mean():
    general = train_word_level_tokenizer(GENERAL, min_frequency=1)
    target = train_word_level_tokenizer(TARGET, min_frequency=1)
    model = tiny_lm(general)
    embedding, bias = model.get_input_embeddings().weight.detach().clone(), model.lm_head.bias.detach().clone()
    torch.nn.init.normal_(bias)  # zero at init: make it tell rows apart
    model.lm_head.bias.data.copy_(bias)
    report = match_vocabulary(model, general, target)
    old, new = general.get_vocab(), target.get_vocab()
    shared = sorted(set(old) & set(new))
    assert report == {"same_vocabulary": False, "shared_words": len(shared), "new_words": len(new) - len(shared),
                      "dropped_words": len(old) - len(shared), "coverage": len(shared) / len(new)}
    weight = model.get_input_embeddings().weight
    assert weight.shape == (len(target), 8) and model.config.vocab_size == len(target)
    for word in ("the", "cat", "</s>", "<pad>"):
        torch.testing.assert_close(weight[new[word]], embedding[old[word]])
        torch.testing.assert_close(model.lm_head.bias[new[word]], bias[old[word]])
    for word in ("film", "great"):
        torch.testing.assert_close(weight[new[word]], embedding.mean(0))
        torch.testing.assert_close(model.lm_head.bias[new[word]], bias.mean())
    assert model.lm_head.weight.data_ptr() == weight.data_ptr()  # still tied
    assert model.config.eos_token_id == target.eos_token_id
    ids = torch.tensor([target("the film was great")["input_ids"]])
    assert torch.isfinite(model(input_ids=ids, labels=ids).loss)


def test_the_same_vocabulary_changes_nothing():
    general = train_word_level_tokenizer(GENERAL, min_frequency=1)
    model = tiny_lm(general)
    before = model.get_input_embeddings().weight.detach().clone()
    assert match_vocabulary(model, general, general) == {"same_vocabulary": True}
    assert torch.equal(model.get_input_embeddings().weight, before)


def test_a_tokenizer_that_cuts_text_differently_is_refused(tmp_path):
    general = train_word_level_tokenizer(GENERAL, min_frequency=1)
    cased = train_word_level_tokenizer(TARGET, min_frequency=1, lowercase=False)
    with pytest.raises(ValueError, match="cuts text differently.*normalizer.*--tokenizer_name_or_path"):
        match_vocabulary(tiny_lm(general), general, cased)
    tiny_lm(general).save_pretrained(tmp_path / "no_tokenizer")  # an LM saved without its tokenizer
    with pytest.raises(ValueError, match="has no tokenizer"):
        load_pretrained_lm(str(tmp_path / "no_tokenizer"), train_word_level_tokenizer(TARGET, min_frequency=1))


@pytest.fixture(scope="module")
def general_lm(tmp_path_factory):
    """A tiny LM pretrained on text files that are not reviews, saved with its tokenizer."""
    folder = tmp_path_factory.mktemp("general")
    files = [str(p) for p in write_corpus(folder / "corpus")]
    pretrain_on_corpus(*tiny_run(train_file=files, output_dir=str(folder / "lm")))
    return folder / "lm"


def write_reviews(path: Path, rows: int = 64):
    rng = random.Random(0)
    words = {1: "great fun the a0x1 of".split(), 0: "dull bad the b0x1 and".split()}
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for i in range(rows):
            writer.writerow([" ".join(rng.choices(words[i % 2], k=10)), i % 2])


def test_classifier_script_fine_tunes_the_pretrained_lm_on_the_reviews_first(tmp_path, general_lm, monkeypatch):
    reviews = tmp_path / "reviews.csv"
    write_reviews(reviews)
    out = tmp_path / "cls"
    argv = ["run_classifier.py", "--dataset", str(reviews), "--output_dir", str(out), "--lm_init_from", str(general_lm),
            "--lm_max_steps", "3", "--lm_streams", "2", "--block_size", "8", "--vocab_size", "200", "--min_frequency",
            "1", "--max_length", "16", "--max_steps", "2", "--per_device_train_batch_size", "8", "--report_to", "none",
            "--use_cpu", "--save_strategy", "no", "--config_overrides", "classifier_hidden_size=4"]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(ROOT / "scripts/run_classifier.py"), run_name="__main__")
    lm = json.loads((out / "lm" / "stage_done.json").read_text())
    transfer = lm["vocabulary_transfer"]  # the reviews' tokenizer differs from the general LM's
    assert not transfer["same_vocabulary"] and transfer["shared_words"] > 4 and transfer["new_words"] > 0
    assert json.loads((out / "lm" / "trainer_state.json").read_text())["global_step"] == 3
    assert AutoTokenizer.from_pretrained(out / "lm").get_vocab() == AutoTokenizer.from_pretrained(out).get_vocab()
    assert "validation_accuracy" in json.loads((out / "stage_done.json").read_text())


def test_both_starts_are_refused(tmp_path, general_lm):
    model_args = ModelArguments(lm_init_from=str(general_lm), init_from=str(general_lm))
    with pytest.raises(ValueError, match="either --lm_init_from"):
        fine_tune_pretrained_lm(None, None, None, model_args, None, None, TrainingArguments(str(tmp_path)))


@needs_imdb
def test_main_job_fine_tunes_a_pretrained_lm(tmp_path, general_lm):
    from test_imdb_job import TINY

    from hf_rnn.recipes.imdb import JobArguments, run_imdb

    job = JobArguments(output_dir=str(tmp_path / "job"), preset="quick", rating=False)
    settings = {**TINY, "model_args": ModelArguments(lm_init_from=str(general_lm),
                                                     config_overrides="classifier_hidden_size=4")}
    results = run_imdb(job, user_training_overrides={"max_steps": 2, "save_steps": 2}, **settings)
    assert results["lm_init_from"] == str(general_lm)
    transfer = results["lm"]["vocabulary_transfer"]
    assert transfer["shared_words"] > 4 and transfer["new_words"] > 0  # the reviews' vocabulary, rows matched
    lm = RNNForCausalLM.from_pretrained(tmp_path / "job" / "lm")
    job_tokenizer = AutoTokenizer.from_pretrained(tmp_path / "job" / "tokenizer")
    assert lm.config.hidden_size == 16 and lm.config.vocab_size == len(job_tokenizer)  # its architecture, our words
    assert 0 <= results["sentiment"]["test_accuracy"] <= 1
