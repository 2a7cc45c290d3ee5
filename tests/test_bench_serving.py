"""bench/bench_serving.py measures a published folder as it is served (an ensemble of a forward and a backward
classifier with a bag-of-words member, as the main job writes it): at the smoke size every system has a row with
positive throughput, latency and memory, ONNX Runtime gives the float32 labels, and the results go to the folder
named, not to the committed bench/results."""

import json
import sys
from pathlib import Path

import torch

from hf_rnn import RNNEnsembleForSequenceClassification
from hf_rnn.models.rnn import NgramLogisticRegression
from conftest import TINY_WORDS, write_tiny_acl_imdb
from test_ensemble import STARS, member

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))  # the bench modules import each other

import bench_serving  # noqa: E402
from common import RESULTS_ENV  # noqa: E402

SYSTEMS = ["pipeline, float32", "pipeline, int8 dynamic quantisation", "ONNX Runtime (tokenizer + exported graph)",
           "DistilBERT-base-sized transformer, random weights (pipeline)"]


def published_folder(path: Path, tokenizer) -> Path:
    """A tiny model folder shaped like the main job's: two members with the star head and a fitted-looking bag."""
    forward, backward = member(auxiliary_label_names=STARS), member(reverse_text=True, auxiliary_label_names=STARS)
    bag = NgramLogisticRegression(len(TINY_WORDS), buckets=64, num_labels=2, num_auxiliary_labels=len(STARS))
    torch.nn.init.normal_(bag.scores.weight)
    ensemble = RNNEnsembleForSequenceClassification.from_members(
        forward, backward, ngram_logistic=bag, ngram_logistic_weight=0.5, ngram_logistic_auxiliary_weight=0.5)
    ensemble.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_smoke_size_measures_every_system_of_a_published_ensemble(tmp_path, tokenizer, monkeypatch):
    folder, data = published_folder(tmp_path / "model", tokenizer), write_tiny_acl_imdb(tmp_path / "imdb")
    results = tmp_path / "results"
    monkeypatch.setenv(RESULTS_ENV, str(results))  # main() sets it: restored after the test
    threads = torch.get_num_threads()
    try:  # the driver in this process (its imports are done); each system still runs in a fresh one
        # One thread: two threads syncing on a core a neighbour holds made each tiny call ~100x slower.
        assert bench_serving.main(["--size", "smoke", "--model", str(folder), "--dataset", str(data),
                                   "--results", str(results), "--threads", "1"]) == 0
    finally:
        torch.set_num_threads(threads)
    payload = json.loads((results / "serving_speed.json").read_text())
    rows = {row["system"]: row for row in payload["Serving the published model, whole IMDB test reviews"]}
    assert sorted(rows) == sorted(SYSTEMS)
    for row in rows.values():
        assert row["reviews/s (batch 32)"] > 0 and row["reviews/s (batch 1)"] > 0
        assert 0 < row["p50 ms (1 review)"] <= row["p95 ms (1 review)"]
        assert row["peak RSS MiB"] > 0 and row["model + inference MiB"] >= 0  # a tiny model may fit in freed pages
    assert rows["ONNX Runtime (tokenizer + exported graph)"]["same label as float32"] == 1.0
    assert 0 <= rows["pipeline, int8 dynamic quantisation"]["same label as float32"] <= 1
    assert (results / "serving_speed.md").is_file() and (results / "serving_speed.png").stat().st_size > 0
