"""The prepared GPU-machine script (bench/device_gpu_preset.sh) rehearsed on this CPU with a tiny job: it runs the
gpu preset's stages, stops itself at its time limit, resumes on a second call and leaves every figure in $OUT."""

import json
import os
import subprocess
from pathlib import Path

from conftest import needs_imdb

pytestmark = needs_imdb

SCRIPT = Path(__file__).parents[1] / "bench" / "device_gpu_preset.sh"
TINY = ["--max_lm_documents", "80", "--max_lm_eval_documents", "16", "--max_train_samples", "64",
        "--max_test_samples", "32", "--max_length", "64", "--block_size", "16", "--vocab_size", "600",
        "--max_tokenizer_documents", "300", "--min_frequency", "2", "--max_steps", "2", "--save_steps", "2",
        "--config_overrides", "embedding_size=16,hidden_size=24,num_hidden_layers=1,classifier_hidden_size=8"]


def device_call(tmp_path, seconds: int) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / f"out-{seconds}"
    out.mkdir()
    env = {**os.environ, "OUT": str(out), "HF_RNN_DEVICE_RUN_DIR": str(tmp_path / "run"),
           "HF_RNN_DEVICE_SECONDS": str(seconds), "HF_RNN_DEVICE_WHEELS": str(tmp_path / "no-wheels")}
    args = ["bash", str(SCRIPT), "run", "--dataset", os.environ["HF_RNN_IMDB_PATH"], *TINY]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=600), out


def test_the_device_script_stops_at_its_limit_resumes_and_leaves_the_figures_in_out(tmp_path):
    stopped, out = device_call(tmp_path, seconds=1)
    assert stopped.returncode in (124, 130), stopped.stdout + stopped.stderr  # stopped by its own time limit
    assert "call again to resume" in stopped.stdout and (out / "log.txt").is_file()
    finished, out = device_call(tmp_path, seconds=300)
    assert finished.returncode == 0, finished.stdout[-3000:]
    stages = json.loads((out / "stages.json").read_text())
    assert {"lm", "sentiment", "lm_backward", "sentiment_backward", "ensemble"} <= set(stages)
    results = json.loads((out / "imdb_gpu_final_fit.json").read_text())
    assert results["raw"]["preset"] == "gpu" and results["raw"]["final_fit"] is True
    assert (out / "imdb_gpu_final_fit.md").is_file() and (out / "machine.txt").read_text().strip()
    assert (out / "imdb_gpu_final_fit_model_card.md").is_file()  # beside its figures, not in bench/results
    assert len(list(out.iterdir())) <= 8  # the most files a device call brings back
