"""Peak memory against input length: one long document classified, each point in a fresh child process.

The hf_rnn classifier at the `full` preset's shapes reads the document in chunks with the state carried
(`classifier_chunk_size`) and, for contrast, in one pass; the DistilBERT-base-sized transformer reads it where it
can at all (its position table has 512 rows: a longer input is an error, recorded as such). Each point runs in its
own process so the peak resident set size (Linux `VmHWM`) belongs to that point alone; the table gives the growth
over the resident size just before the forward pass (model and input already built), and the peak itself.
"""

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

from common import load_average, save_plot, write_results

NAME = "peak_memory"
KINDS = ("hf_rnn, chunked (state carried)", "hf_rnn, one pass", "DistilBERT-base-sized transformer")


@dataclasses.dataclass(frozen=True)
class Settings:
    lengths: tuple[int, ...]
    chunk: int
    vocab_size: int
    rnn_overrides: dict
    transformer_overrides: dict


SIZES = {
    "smoke": Settings(lengths=(64, 1024), chunk=32, vocab_size=500,
                      rnn_overrides=dict(embedding_size=16, hidden_size=32, classifier_hidden_size=8),
                      transformer_overrides=dict(dim=32, hidden_dim=64, n_layers=2, n_heads=2)),
    "full": Settings(lengths=(512, 1024, 4096, 16384, 65536), chunk=512, vocab_size=20_000, rnn_overrides={},
                     transformer_overrides={}),
}


def memory_kib(field: str) -> int:
    """`VmRSS` (resident now) or `VmHWM` (peak resident) of this process, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}: peak memory is measured on Linux only")


def build_model(kind: str, s: Settings):
    import torch

    if kind.startswith("hf_rnn"):
        from suite import preset_classifier

        chunk = s.chunk if "chunked" in kind else 0
        return preset_classifier(s.vocab_size, 0, {**s.rnn_overrides, "classifier_chunk_size": chunk})
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    config = DistilBertConfig(**s.transformer_overrides, vocab_size=max(30522, s.vocab_size), num_labels=2)
    return DistilBertForSequenceClassification(config).eval().to(torch.float32)


def measure_point(kind: str, length: int, s: Settings, threads: int) -> dict:
    """In the child: build, then one forward pass over a [1, length] document; memory in MiB."""
    import torch

    torch.set_num_threads(threads)
    model = build_model(kind, s)
    ids = torch.randint(4, s.vocab_size, (1, length))
    before = memory_kib("VmRSS")
    start = time.perf_counter()
    try:
        with torch.inference_mode():
            model(input_ids=ids, attention_mask=torch.ones_like(ids))
        status = "ran"
    except Exception as error:  # the transformer past its position table: the finding, not a crash
        status = f"does not run: {type(error).__name__}: {str(error).splitlines()[0][:160]}"
    seconds = time.perf_counter() - start
    peak = memory_kib("VmHWM")
    return {"model": kind, "tokens": length, "status": status, "growth MiB": (peak - before) / 1024,
            "peak RSS MiB": peak / 1024, "RSS before MiB": before / 1024, "seconds": seconds}


def in_child(kind: str, length: int, size: str, threads: int) -> dict:
    command = [sys.executable, __file__, "--child", kind, str(length), size, str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).parent)
    if done.returncode != 0:  # killed (out of memory) or broken: say so in the table rather than stop the run
        return {"model": kind, "tokens": length, "status": f"child failed (exit {done.returncode}): "
                f"{(done.stderr.strip().splitlines() or [''])[-1][:160]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def plot(rows: list[dict]):
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for kind in KINDS:
        ran = [row for row in rows if row["model"] == kind and row["status"] == "ran"]
        line, = axis.plot([row["tokens"] for row in ran], [max(row["growth MiB"], 0.1) for row in ran], marker="o",
                          label=kind)
        if ran and any(row["model"] == kind and row["status"] != "ran" for row in rows):
            axis.annotate(f"  no longer input runs\n  (past {ran[-1]['tokens']:,} tokens)", (ran[-1]["tokens"],
                          ran[-1]["growth MiB"]), color=line.get_color(), fontsize=8)
    axis.set(xscale="log", yscale="log", xlabel="document length (tokens)",
             ylabel="peak RSS growth during the forward pass (MiB)", title="Memory to classify one long document")
    axis.legend(fontsize=8)
    return save_plot(figure, NAME)


def run(ctx):
    s = ctx.pick(SIZES)
    load = load_average()
    rows = []
    for kind in KINDS:
        for length in s.lengths:
            rows.append(in_child(kind, length, ctx.size, ctx.threads))
            print(rows[-1], flush=True)
    notes = (f"Batch 1, random token ids, inference (torch.inference_mode), {ctx.threads} threads. hf_rnn: the full "
             f"preset's classifier shapes{' (shrunk for smoke)' if s.rnn_overrides else ''}, random weights, chunks "
             f"of {s.chunk} tokens with the state carried, or one pass (classifier_chunk_size=0). Transformer: "
             f"DistilBertConfig defaults{' (shrunk for smoke)' if s.transformer_overrides else ''}, whose position "
             f"table (max_position_embeddings=512) bounds its input. Growth = peak RSS (VmHWM) minus RSS just before "
             f"the forward pass, each point in a fresh process. 1-minute load average {load:.2f} at the start "
             f"(memory does not depend on it; the seconds do). Plot: {NAME}.png.")
    columns = ["model", "tokens", "status", "growth MiB", "peak RSS MiB", "seconds"]
    write_results(NAME, {"Peak memory vs document length": (rows, columns)}, notes,
                  raw={"settings": dataclasses.asdict(s)})
    plot(rows)


if __name__ == "__main__":  # the child process of one point
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=4, metavar=("KIND", "LENGTH", "SIZE", "THREADS"), required=True)
    kind, length, size, threads = parser.parse_args().child
    print(json.dumps(measure_point(kind, int(length), SIZES[size], int(threads))))
