"""The suite of issue 16: the lecture's claims measured, and hf_rnn's speed and memory beside a transformer.

    python -m bench --size smoke                      # every experiment at toy sizes, ~2 min; results in runs/bench-smoke
    python -m bench --size full                       # real sizes into bench/results (resumes: done ones are skipped)
    python -m bench --size full --only speed peak_memory --force
    python -m bench --size full --only speed robustness --model runs/imdb-full/model --force   # accuracy rows
    python -m bench --size full --only label_curve text_probe --run runs/imdb-full           # needs a finished job

Each experiment is a module `exp_<name>.py` with `run(ctx)`, writing `<name>.json`, `<name>.md` and `<name>.png`
(`common.write_results`, `common.save_plot`). A full run skips an experiment whose result file exists and is
complete (`--force` reruns it); a smoke run always reruns, and writes elsewhere, so it never touches committed
results. Timed experiments wait for a quiet machine (1-minute load average below `--max_load`) and record the load.
A smoke run trains its own tiny `hf-rnn imdb` job (tokenizer, LM, classifier) and uses it wherever a trained run or
model is needed, so every code path runs; its figures mean nothing.
"""

import argparse
import dataclasses
import importlib
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

from common import RESULTS_DIR, RESULTS_ENV, BusyMachine, load_average, results_dir, wait_for_quiet_machine

EXPERIMENTS = {  # name -> module; in running order
    "memory_task": "exp_memory_task",
    "speed": "exp_speed",
    "peak_memory": "exp_peak_memory",
    "generation": "exp_generation",
    "robustness": "exp_robustness",
    "label_curve": "exp_label_curve",
    "semi_supervised": "exp_semi_supervised",
    "text_probe": "exp_text_probe",
    "claims": "exp_claims",  # last: it reads the others' results
}
DERIVED = {"claims"}  # rebuilt from the others' results on every run: never skipped
SIZES = ("smoke", "full")
NEIGHBOUR_LOAD = 0.75  # load beyond our own threads after a timing that means another job ran during it
SMOKE_RESULTS = Path(__file__).resolve().parents[1] / "runs" / "bench-smoke"
# The tiny main job a smoke run trains for the experiments that need a trained LM or classifier (seconds).
TINY_JOB = dict(
    data=dict(max_lm_documents=80, max_train_samples=64, max_eval_samples=16, max_test_samples=16,
              max_lm_eval_documents=8, max_length=64, block_size=8),
    tokenizer=dict(vocab_size=600, max_tokenizer_documents=300, min_frequency=2),
    config_overrides="embedding_size=16,hidden_size=24,num_sampled=32,classifier_hidden_size=8",
    training=dict(max_steps=4, save_steps=4, logging_steps=2),
)


def not_measured(what: str, flag: str, name: str) -> str:
    """The text an unmeasured cell carries: what it waits for and the command that fills it."""
    return f"not measured (needs {what}: python -m bench --size full --only {name} {flag} --force)"


@dataclasses.dataclass
class BenchContext:
    """What every experiment may need: the size, the data, trained runs/models, and the CPU discipline."""

    size: str
    dataset: str | None = None
    model_dirs: list[str] = dataclasses.field(default_factory=list)
    run_dir: str | None = None
    lm_train_only: str | None = None
    threads: int = 2
    max_load: float = 2.5
    load_wait_s: float = 1800.0
    scratch: Path = dataclasses.field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hf_rnn_bench_")))
    _imdb: object = None
    _tiny_run: Path | None = None

    @property
    def smoke(self) -> bool:
        return self.size == "smoke"

    def pick(self, sizes: dict):
        """This run's settings from an experiment's {"smoke": ..., "full": ...}."""
        return sizes[self.size]

    def imdb(self):
        """The reviews (train, test, unsupervised), loaded once per run."""
        if self._imdb is None:
            from hf_rnn.data import load_reviews

            self._imdb = load_reviews(self.dataset)
        return self._imdb

    def test_sample(self, count: int, seed: int = 0):
        """A seeded random sample of test reviews (the source is sorted by label: a head slice is one class)."""
        test = self.imdb()["test"]
        return test.shuffle(seed=seed).select(range(min(count, len(test))))

    def word_tokenizer(self, vocab_size: int, documents: int | None = None):
        """A word-level tokenizer trained on training reviews (never test text), as the main job trains one."""
        from hf_rnn.tokenization import batch_iterator, train_word_level_tokenizer

        train = self.imdb()["train"]
        if documents is not None and documents < len(train):
            train = train.shuffle(seed=0).select(range(documents))
        return train_word_level_tokenizer(batch_iterator(train), vocab_size=vocab_size, min_frequency=2)

    def timed(self, measure, attempts: int = 3):
        """Run the timing `measure()` on a quiet machine: returns (its result, load before, load after).

        A full run waits for a quiet machine first, and repeats the timing (up to `attempts` times) when the load
        afterwards shows other work started meanwhile: with 2 threads on 2 cores, one busy neighbour made torch
        5-50x slower, which would be recorded as hf_rnn's speed.
        """
        for _ in range(attempts):
            before = load_average() if self.smoke else wait_for_quiet_machine(self.max_load, self.load_wait_s)
            result = measure()
            after = load_average()
            if self.smoke or after - self.threads <= NEIGHBOUR_LOAD:
                return result, before, after
            print(f"load average {after:.2f} after timing with {self.threads} threads: other work ran meanwhile; "
                  "timing again", flush=True)
        raise BusyMachine(f"other work kept running during {attempts} timings (load {after:.2f}): not recorded")

    def trained_run(self) -> Path | None:
        """A finished main-job folder (tokenizer/, lm/, model/): --run, or in a smoke run the tiny job."""
        if self.run_dir:
            return Path(self.run_dir)
        return self.tiny_run() if self.smoke else None

    def trained_classifiers(self) -> list[Path]:
        """Trained classifier folders: --model, or in a smoke run the tiny job's model."""
        if self.model_dirs:
            return [Path(folder) for folder in self.model_dirs]
        return [self.tiny_run() / "model"] if self.smoke else []

    def tiny_run(self) -> Path:
        """The tiny main job of a smoke run, trained once (not on the test split's text: the job never does)."""
        if self._tiny_run is None:
            self._tiny_run = train_tiny_job(self.scratch / "tiny_run", self.dataset)
        return self._tiny_run


def preset_classifier(vocab_size: int, pad_token_id: int, overrides: dict | None = None):
    """A sentiment classifier with random weights at the `full` preset's shapes (embedding 256, one LSTM 512 layer;
    `overrides` shrink it for a smoke run): throughput and memory do not depend on the values of the weights, as long
    as the recurrent biases are not all zero (`with_nonzero_biases`)."""
    from hf_rnn import RNNConfig, RNNForSequenceClassification
    from hf_rnn.data import id2label
    from hf_rnn.recipes.imdb import PRESETS

    labels = id2label("binary")
    config = RNNConfig(**{**PRESETS["full"]["model"], **(overrides or {})}, vocab_size=vocab_size,
                       pad_token_id=pad_token_id, num_labels=len(labels), id2label=labels,
                       label2id={name: index for index, name in labels.items()})
    return with_nonzero_biases(RNNForSequenceClassification(config)).eval()


def with_nonzero_biases(model):
    """Draw the recurrent biases as nn.LSTM's own init does (uniform +-1/sqrt(hidden)) instead of hf_rnn's zeros.

    Why: with zero biases, a zero padding embedding and random weights, the state along a padded tail halves every
    step until it is a denormal float, and the CPU's slow path for denormals made a padded 32 x 512 batch ~5x slower
    (one thread: 2.5 s vs 0.49 s with these biases, 0.44 s unpadded). A trained model's biases are not zero, so a
    zero-bias model would time an artefact of the untrained weights.
    """
    import torch

    for layer in model.model.layers:
        bound = layer.rnn.hidden_size ** -0.5
        for name in layer.rnn._flat_weights_names:
            if name.startswith("bias"):
                torch.nn.init.uniform_(getattr(layer.rnn, name), -bound, bound)
    return model


def train_tiny_job(output_dir: Path, dataset: str | None) -> Path:
    """`hf-rnn imdb --preset quick` cut to a few steps on a few reviews, sentiment only."""
    from hf_rnn.recipes.imdb import JobArguments, run_imdb
    from hf_rnn.training import DataArguments, ModelArguments, TokenizerArguments, ULMFiTArguments

    run_imdb(JobArguments(output_dir=str(output_dir), preset="quick", rating=False),
             data_args=DataArguments(dataset=dataset, **TINY_JOB["data"]),
             tok_args=TokenizerArguments(**TINY_JOB["tokenizer"]),
             model_args=ModelArguments(config_overrides=TINY_JOB["config_overrides"]),
             ulmfit=ULMFiTArguments(gradual_unfreezing_steps=0), user_training_overrides=TINY_JOB["training"])
    return output_dir


def is_complete(name: str) -> bool:
    """A result file exists and does not say it is partial (long experiments write as they go). An experiment that
    resumes run by run may judge its file itself (`is_complete(saved)`), so that planning more runs reopens it."""
    path = results_dir() / f"{name}.json"
    if not path.is_file():
        return False
    saved = json.loads(path.read_text())
    judge = getattr(importlib.import_module(EXPERIMENTS[name]), "is_complete", None)
    return judge(saved) if judge else saved.get("raw", {}).get("complete", True)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="smoke", help="smoke: toy sizes, minutes; full: real sizes")
    parser.add_argument("--only", nargs="+", choices=list(EXPERIMENTS), metavar="NAME",
                        help=f"run only these experiments: {', '.join(EXPERIMENTS)}")
    parser.add_argument("--force", action="store_true", help="full: rerun experiments whose results exist")
    parser.add_argument("--results", help="results folder (default: bench/results for full, runs/bench-smoke for "
                                          "smoke)")
    parser.add_argument("--dataset", help="IMDB source (default: $HF_RNN_IMDB_PATH, else the Hub)")
    parser.add_argument("--model", dest="model_dirs", action="append", default=[], metavar="FOLDER",
                        help="a trained classifier folder (e.g. runs/imdb-full/model) for accuracy rows; repeatable")
    parser.add_argument("--run", dest="run_dir", metavar="RUN_FOLDER",
                        help="a finished `hf-rnn imdb` output folder (its tokenizer/ and lm/)")
    parser.add_argument("--lm_train_only", metavar="FOLDER",
                        help="label curve: an LM pretrained on the labelled reviews' text only (same tokenizer)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max_load", type=float, default=2.5, help="time only below this 1-minute load average")
    parser.add_argument("--load_wait_s", type=float, default=1800, help="how long to wait for a quiet machine")
    return parser.parse_args(argv)


def run_experiment(name: str, ctx: BenchContext, force: bool = False) -> str:
    """Run one experiment; returns how it went (a failure is reported, and the suite goes on to the next)."""
    if not ctx.smoke and not force and name not in DERIVED and is_complete(name):
        return "skipped (result exists; --force reruns it)"
    start = time.time()
    try:
        importlib.import_module(EXPERIMENTS[name]).run(ctx)
    except BusyMachine as busy:
        return f"not run: {busy}"
    except Exception:  # one broken experiment must not cost a background run the others
        traceback.print_exc()
        return "FAILED"
    return f"done in {time.time() - start:.0f} s"


def main(argv=None) -> int:
    args = parse_args(argv)
    results = Path(args.results) if args.results else (RESULTS_DIR if args.size == "full" else SMOKE_RESULTS)
    os.environ[RESULTS_ENV] = str(results.resolve())
    if args.size == "full" and not args.force:
        print(f"Results in {results}: experiments whose results are complete are skipped (--force reruns).", flush=True)
    torch.set_num_threads(args.threads)
    ctx = BenchContext(size=args.size, dataset=args.dataset, model_dirs=args.model_dirs, run_dir=args.run_dir,
                       lm_train_only=args.lm_train_only, threads=args.threads, max_load=args.max_load,
                       load_wait_s=args.load_wait_s)
    outcomes = {}
    try:
        for name in args.only or EXPERIMENTS:
            print(f"== {name} ({args.size})", flush=True)
            outcomes[name] = run_experiment(name, ctx, args.force)
            print(f"== {name}: {outcomes[name]}", flush=True)
    finally:
        shutil.rmtree(ctx.scratch, ignore_errors=True)
    print("\n".join(f"{name}: {outcome}" for name, outcome in outcomes.items()))
    print(f"results: {results}")
    return 1 if any(outcome == "FAILED" for outcome in outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
