"""`hf-rnn predict`: a saved classifier folder in, JSON lines out; anything else is one line of error."""

import json

import pytest
from conftest import tiny_config

from hf_rnn import RNNForCausalLM, RNNForSequenceClassification
from hf_rnn.cli import main, read_lines
from hf_rnn.locations import looks_like_hub_id


def _one_line_error(argv) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    message = exit_info.value.code  # sys.exit(message) prints it to stderr and exits with status 1
    assert isinstance(message, str) and message.startswith("hf-rnn: error: ") and "\n" not in message
    return message


@pytest.fixture
def saved(tmp_path, tokenizer):
    """Save a head class under a tiny config with the tiny tokenizer; returns the folder."""
    def save(head, name, **config):
        folder = tmp_path / name
        head(tiny_config(**config)).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        return folder
    return save


def test_predict_runs_a_classifier_folder(saved, capsys):
    folder = saved(RNNForSequenceClassification, "classifier", id2label={0: "neg", 1: "pos"})
    assert main(["predict", str(folder), "a great movie", "boring"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines] == ["a great movie", "boring"]
    assert {line["label"] for line in lines} <= {"neg", "pos"}


def test_predict_refuses_a_language_model_folder(saved):
    folder = saved(RNNForCausalLM, "lm")  # the pipeline would attach a random classifier head and exit 0
    assert "holds RNNForCausalLM, not a text classifier" in _one_line_error(["predict", str(folder), "great"])


def test_predict_names_a_missing_or_wrong_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    for missing in ["runs/imdb/model", "runs/model", str(tmp_path / "nothing")]:
        assert f"No such model folder: {missing}" in _one_line_error(["predict", missing, "great"])
    assert "runs has no config.json" in _one_line_error(["predict", "runs", "great"])


def test_only_spellings_that_cannot_be_local_paths_go_to_the_hub(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    assert looks_like_hub_id("stanfordnlp/imdb") and looks_like_hub_id("gpt2")
    assert not any(looks_like_hub_id(name) for name in ["runs/model", "./model", "a/b/c", str(tmp_path), "runs"])


def test_predict_file_must_be_utf8_and_keeps_each_line_whole(tmp_path):
    (tmp_path / "latin1.txt").write_bytes(b"good movie\nbad \xff film\n")
    message = _one_line_error(["predict", str(tmp_path), "--file", str(tmp_path / "latin1.txt")])
    assert "latin1.txt line 2 (byte offset 15) is not UTF-8" in message and "iconv" in message
    (tmp_path / "reviews.txt").write_bytes("great\x85 film\r\n\nawful\n".encode())  # U+0085 is no line break here
    assert read_lines(tmp_path / "reviews.txt") == ["great\x85 film", "awful"]
