"""Scripts and the main job take every argument from one .json/.yaml file, and end as transformers' example scripts:
a model card in the output folder and, with --push_to_hub, the folder pushed to the Hub (recorded here: no Hub)."""

import csv
import fnmatch
import json
import sys
from pathlib import Path

import pytest
import yaml
from huggingface_hub import HfApi
from transformers import HfArgumentParser, TrainingArguments

from hf_rnn.recipes.imdb import JobArguments
from hf_rnn.recipes.imdb import job as imdb_job
from hf_rnn.training import DataArguments, ModelArguments
from hf_rnn.training.script_args import parse_script_arguments

from conftest import TINY_JOB, command_line, write_tiny_acl_imdb

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture
def hub(monkeypatch):
    """Record the repos the code creates and the files each upload would send, instead of reaching the Hub."""
    recorded = {"repos": [], "uploads": []}

    def create_repo(self, repo_id, **kwargs):
        recorded["repos"].append(repo_id)
        return type("RepoUrl", (), {"repo_id": repo_id if "/" in repo_id else f"someone/{repo_id}"})()

    def upload_folder(self, repo_id, folder_path, ignore_patterns=None, allow_patterns=None, **kwargs):
        files = {str(p.relative_to(folder_path)): p for p in Path(folder_path).rglob("*") if p.is_file()}
        sent = {name: path.read_bytes() for name, path in files.items()
                if not any(fnmatch.fnmatch(name.split("/")[0], pattern) for pattern in ignore_patterns or [])
                and (allow_patterns is None or any(fnmatch.fnmatch(name, pattern) for pattern in allow_patterns))}
        recorded["uploads"].append({"repo_id": repo_id, "files": sent})

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    return recorded


def write(path: Path, values: dict) -> Path:
    path.write_text(json.dumps(values) if path.suffix == ".json" else yaml.safe_dump(values))
    return path


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_a_script_reads_every_argument_from_one_file_as_from_the_command_line(tmp_path, suffix):
    values = {"output_dir": str(tmp_path / "out"), "config_overrides": "hidden_size=64", "target": "rating10",
              "learning_rate": 0.001, "push_to_hub": True}
    parser = HfArgumentParser((DataArguments, ModelArguments, TrainingArguments))
    from_file = parse_script_arguments(parser, [str(write(tmp_path / f"args{suffix}", values))])
    from_command_line = parse_script_arguments(parser, command_line(values))
    for parsed in (from_file, from_command_line):
        data_args, model_args, training_args = parsed
        assert data_args.target == "rating10" and model_args.config_kwargs() == {"hidden_size": 64}
        assert training_args.learning_rate == 0.001 and training_args.push_to_hub


def test_an_arguments_file_with_a_stray_name_or_that_is_missing_is_refused(tmp_path):
    parser = HfArgumentParser((DataArguments,))
    with pytest.raises(ValueError, match="hiden_size"):
        parse_script_arguments(parser, [str(write(tmp_path / "args.yaml", {"hiden_size": 64}))])
    with pytest.raises(SystemExit, match="No such arguments file"):
        parse_script_arguments(parser, [str(tmp_path / "missing.json")])


def test_the_job_reads_its_own_and_training_fields_from_one_file(tmp_path):
    path = write(tmp_path / "job.yaml", {"preset": "full", "final_fit": True, "max_length": 64,
                                         "config_overrides": "hidden_size=64", "learning_rate": 0.001})
    (job, data_args, _tokenizer, model_args, *_others), training = imdb_job.parse_job_arguments([str(path)])
    assert job.preset == "full" and job.final_fit and data_args.max_length == 64
    assert model_args.config_overrides == {"hidden_size": 64} and training == {"learning_rate": 0.001}
    with pytest.raises(SystemExit, match="leraning_rate"):
        imdb_job.parse_job_arguments([str(write(tmp_path / "typo.yaml", {"leraning_rate": 0.1}))])


def test_the_job_pushes_its_model_folder_with_the_card_naming_the_repo(tmp_path, hub, monkeypatch):
    data = write_tiny_acl_imdb(tmp_path / "data")
    settings = {**TINY_JOB, "output_dir": str(tmp_path / "job"), "dataset": str(data), "rating": False,
                "push_to_hub": True, "hub_model_id": "someone/imdb-rnn"}
    monkeypatch.chdir(tmp_path)
    imdb_job.main([str(write(tmp_path / "job.yaml", settings))])
    assert hub["repos"] == ["someone/imdb-rnn"]
    (upload,) = hub["uploads"]  # the model folder once; the stages' own Trainers push nothing
    assert upload["repo_id"] == "someone/imdb-rnn"
    assert {"model.safetensors", "config.json", "tokenizer.json", "modeling_rnn.py", "README.md"} <= set(
        upload["files"])
    assert not any(name.startswith("checkpoint-") for name in upload["files"])
    card = upload["files"]["README.md"].decode()
    assert 'model="someone/imdb-rnn"' in card and "model-index" in card
    assert card == (tmp_path / "job" / "model" / "README.md").read_text()


def write_reviews_csv(path: Path, rows: int = 48) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for i in range(rows):
            writer.writerow([("great fun loved it" if i % 2 else "awful dull hated it") + f" film {i % 5}", i % 2])
    return path


def test_the_classifier_script_pushes_with_the_trainers_model_card(tmp_path, hub, monkeypatch):
    settings = {"dataset": str(write_reviews_csv(tmp_path / "reviews.csv")), "output_dir": str(tmp_path / "cls"),
                "vocab_size": 50, "min_frequency": 1, "max_length": 16, "validation_size": 0.25,
                "config_overrides": "embedding_size=8,hidden_size=8,num_hidden_layers=1,classifier_hidden_size=4",
                "max_steps": 2, "per_device_train_batch_size": 8, "save_strategy": "no", "report_to": "none",
                "use_cpu": True, "push_to_hub": True, "hub_model_id": "someone/imdb-cls"}
    monkeypatch.syspath_prepend(str(SCRIPTS))
    import run_classifier

    monkeypatch.setattr(sys, "argv", ["run_classifier.py", str(write(tmp_path / "args.json", settings))])
    run_classifier.main()
    assert hub["repos"] == ["someone/imdb-cls"]
    upload = hub["uploads"][-1]
    assert upload["repo_id"] == "someone/imdb-cls"
    assert {"model.safetensors", "config.json", "tokenizer.json", "README.md"} <= set(upload["files"])
    card = upload["files"]["README.md"].decode()
    assert "- hf_rnn" in card and "name: imdb-cls" in card  # transformers' card, tagged with the library


def test_without_push_to_hub_the_script_leaves_a_model_card_and_calls_no_hub(tmp_path, hub, monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))
    import run_classifier

    arguments = ["--dataset", str(write_reviews_csv(tmp_path / "reviews.csv")), "--output_dir", str(tmp_path / "cls"),
                 "--vocab_size", "50", "--min_frequency", "1", "--max_length", "16", "--validation_size", "0.25",
                 "--config_overrides", "embedding_size=8,hidden_size=8,num_hidden_layers=1,classifier_hidden_size=4",
                 "--max_steps", "2", "--save_strategy", "no", "--report_to", "none", "--use_cpu", "true"]
    monkeypatch.setattr(sys, "argv", ["run_classifier.py", *arguments])
    run_classifier.main()
    assert hub == {"repos": [], "uploads": []}
    assert "hf_rnn" in (tmp_path / "cls" / "README.md").read_text()


def run_script(name: str, argv: list[str], monkeypatch):
    import runpy

    monkeypatch.setattr(sys, "argv", [str(SCRIPTS / name), *argv])
    runpy.run_path(str(SCRIPTS / name), run_name="__main__")


def test_train_tokenizer_pushes_the_tokenizer_folder(tmp_path, monkeypatch, hub):
    write_tiny_acl_imdb(tmp_path)
    out = tmp_path / "tok"
    run_script("train_tokenizer.py", ["--output_dir", str(out), "--source", str(tmp_path / "aclImdb"),
                                      "--vocab_size", "60", "--min_frequency", "1", "--push_to_hub",
                                      "--hub_model_id", "you/tiny-tok"], monkeypatch)
    assert hub["repos"] == ["you/tiny-tok"]
    (upload,) = hub["uploads"]
    assert upload["repo_id"] == "you/tiny-tok"
    assert upload["files"]["tokenizer.json"] == (out / "tokenizer.json").read_bytes()


def test_train_word_vectors_pushes_only_what_it_wrote(tmp_path, monkeypatch, hub):
    corpus = tmp_path / "corpus.txt"
    from gensim.test.utils import datapath

    corpus.write_text(Path(datapath("lee_background.cor")).read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "vectors"
    out.mkdir()
    (out / "unrelated.txt").write_text("not part of this run")
    common = ["--dataset_name", "text", "--data_files", str(corpus), "--split", "train", "--vector_size", "4",
              "--min_count", "3", "--epochs", "1", "--workers", "1", "--push_to_hub"]
    with pytest.raises(ValueError, match="beside"):  # refused before any training: the plot is in another folder
        run_script("train_word_vectors.py", [*common, "--output_file", str(out / "v.bin"),
                                             "--plot_file", str(tmp_path / "p.png")], monkeypatch)
    assert not (out / "v.bin").exists()
    run_script("train_word_vectors.py", [*common, "--output_file", str(out / "v.bin")], monkeypatch)
    (upload,) = hub["uploads"]
    assert upload["repo_id"] == "someone/vectors"  # default: the folder's name, under the token's owner
    assert sorted(upload["files"]) == ["v.bin", "v.bin.eval.json"]
