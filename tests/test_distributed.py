"""The training scripts run unchanged under torchrun (DDP over gloo on CPU), and a seed fixes the result."""

import csv
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORDS = {1: "great wonderful superb moving fun loved".split(), 0: "awful boring dull bad hated waste".split()}


def write_reviews(path: Path, rows: int = 96):
    rng = random.Random(0)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for i in range(rows):
            label = i % 2
            words = rng.choices(WORDS[label], k=6) + rng.choices(["the", "film", "plot", "was", "and"], k=6)
            rng.shuffle(words)
            writer.writerow([" ".join(words), label])


def run_script(data, out, nproc):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    args = ["scripts/run_classifier.py", "--dataset", str(data), "--output_dir", str(out), "--vocab_size", "100",
            "--min_frequency", "1",
            "--config_overrides", "embedding_size=16,hidden_size=16,num_hidden_layers=1,classifier_hidden_size=8",
            "--max_length", "32", "--max_steps", "6", "--per_device_train_batch_size", "8", "--learning_rate", "0.01",
            "--validation_size", "0.25", "--save_strategy", "no", "--report_to", "none", "--use_cpu",
            "--ddp_backend", "gloo", "--seed", "3", "--data_seed", "3", "--logging_steps", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(launcher + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads((out / "stage_done.json").read_text())


def test_classifier_script_under_torchrun_is_reproducible(tmp_path):
    data = tmp_path / "reviews.csv"
    write_reviews(data)
    first = run_script(data, tmp_path / "a", nproc=2)
    second = run_script(data, tmp_path / "b", nproc=2)
    assert first["validation_accuracy"] == second["validation_accuracy"]
    assert first["validation_loss"] == second["validation_loss"]
    state = json.loads((tmp_path / "a" / "trainer_state.json").read_text())
    assert state["global_step"] == 6


def test_the_scripts_leave_the_process_group_they_joined(tmp_path):
    """gloo threads alive at interpreter exit can abort a finished torchrun process: the scripts leave first."""
    import torch.distributed as dist

    from hf_rnn.training.script_args import leave_process_group

    leave_process_group()  # outside torchrun there is nothing to leave
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    leave_process_group()
    assert not dist.is_initialized()
