"""Run scripts/run_lm.py, recording every training batch each process feeds the model (for test_lm_corpus.py).

Each process appends its batches' `input_ids` to `<output_dir>/batches_rank<k>.jsonl`, one batch per line, so a test
can check what every rank really trained on: its own part of the corpus, in stream order, resumed where it stopped.
"""

import json
import os
import runpy
import sys
from pathlib import Path

from hf_rnn.training.stateful import StatefulLMTrainer

ROOT = Path(__file__).resolve().parents[1]
_compute_loss = StatefulLMTrainer.compute_loss


def recording_compute_loss(self, model, inputs, *args, **kwargs):
    if model.training:
        path = Path(self.args.output_dir) / f"batches_rank{self.args.process_index}.jsonl"
        with path.open("a") as f:
            f.write(json.dumps(inputs["input_ids"].tolist()) + "\n")
    return _compute_loss(self, model, inputs, *args, **kwargs)


if __name__ == "__main__":
    StatefulLMTrainer.compute_loss = recording_compute_loss
    os.chdir(ROOT)
    sys.argv = ["scripts/run_lm.py", *sys.argv[1:]]
    runpy.run_path("scripts/run_lm.py", run_name="__main__")
