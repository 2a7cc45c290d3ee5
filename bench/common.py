"""Helpers every benchmark shares: run metadata and writing results as JSON plus a markdown table."""

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).parent / "results"  # the committed results
RESULTS_ENV = "HF_RNN_BENCH_RESULTS"  # another folder for a run's results (`python -m bench --results DIR`, tests)


def results_dir() -> Path:
    """Where results are written: `$HF_RNN_BENCH_RESULTS` when set (a smoke run, a test), else bench/results."""
    return Path(os.environ[RESULTS_ENV]) if os.environ.get(RESULTS_ENV) else RESULTS_DIR


def run_metadata() -> dict:
    """The command, commit and machine a result came from, so every figure can be traced and rerun."""
    import torch

    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()
    # Results are outputs, not code: one benchmark rewriting a committed result must not mark the next as dirty.
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!results"],
                           capture_output=True, text=True, cwd=Path(__file__).parent).stdout.strip()
    script = os.path.relpath(os.path.abspath(sys.argv[0]), Path(__file__).resolve().parents[1])
    if Path(script).name == "__main__.py":  # `python -m bench`: name the package, as the user typed it
        script = "-m " + str(Path(script).parent).replace(os.sep, ".")
    # A copy of the tree whose .git is missing or stale (a rented GPU machine): the launcher names the commit.
    if os.environ.get("HF_RNN_COMMIT"):
        commit, dirty = os.environ["HF_RNN_COMMIT"], ""
    commit = commit or "unknown"
    accelerator = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return {
        "command": "python " + " ".join([script, *sys.argv[1:]]),
        "commit": commit + ("+uncommitted" if dirty else ""),
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {cpu_model()}{accelerator}",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def cpu_model() -> str:
    """The CPU's name and widest vector unit (hf_rnn.machine): timings differ about 2x between hosts."""
    from hf_rnn.machine import cpu_name_and_vector_unit

    name, unit = cpu_name_and_vector_unit()
    return f"{name}, {unit or 'no AVX2'}"


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def _fmt(value) -> str:
    if value is None:  # a metric this row's task does not have
        return "-"
    if isinstance(value, float):
        if 0 < abs(value) < 1e-4:  # would print as 0.0000, hiding a difference that is small but real
            return f"{value:.1e}"
        if abs(value) < 1:
            return f"{value:.4f}"
        if abs(value) < 10:  # two decimals kept: an MAE of 1.0036 reads 1.00, not 1
            return f"{value:.2f}"
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def write_results(name: str, sections: dict[str, tuple[list[dict], list[str]]], notes: str = "",
                  raw: dict | None = None, meta: dict | None = None) -> Path:
    """Write `results/<name>.json` and `results/<name>.md` atomically (a crash never leaves half a file).

    `raw` (optional) is stored in the JSON as is, e.g. every metric a run reported. `meta` (optional) keeps the
    command, commit and machine of the run that produced the rows, when a table is only re-laid out here.
    """
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    meta = meta or run_metadata()
    payload = {"meta": meta, **{title: rows for title, (rows, _) in sections.items()}, **({"raw": raw} if raw else {})}
    md = [f"# {name}", "", f"Command: `{meta['command']}`  ", f"Commit: `{meta['commit']}`  ",
          f"Machine: {meta['machine']}, torch {meta['torch']} ({meta['torch_threads']} threads), "
          f"{meta['date_utc']} UTC", ""]
    if notes:
        md += [notes, ""]
    for title, (rows, columns) in sections.items():
        md += [f"## {title}", "", markdown_table(rows, columns), ""]
    _atomic_write(folder / f"{name}.json", json.dumps(payload, indent=2, default=float))
    _atomic_write(folder / f"{name}.md", "\n".join(md))
    return folder / f"{name}.md"


def save_plot(figure, name: str) -> Path:
    """Write a matplotlib figure as `<results>/<name>.png` (atomically, like the tables) and close it."""
    import matplotlib.pyplot as plt

    path = results_dir() / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    figure.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(figure)
    os.replace(tmp, path)
    return path


def _atomic_write(path: Path, text: str):
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class BusyMachine(RuntimeError):
    """Other work keeps the CPU busy, so a timing taken now would measure the neighbours, not the code."""


def load_average() -> float:
    """The 1-minute load average (processes running or waiting for a core)."""
    return os.getloadavg()[0]


def wait_for_quiet_machine(max_load: float, wait_s: float, poll_s: float = 15.0) -> float:
    """Wait until the 1-minute load average is below `max_load` and return it; raise BusyMachine after `wait_s`.

    Timings on a shared 2-core machine are only worth recording when it is nearly idle; the load at the start is
    written into each timed result's notes.
    """
    deadline = time.time() + wait_s
    while (load := load_average()) >= max_load:
        if time.time() >= deadline:
            raise BusyMachine(f"1-minute load average {load:.2f} >= {max_load} for {wait_s:.0f} s: not timing now")
        print(f"load average {load:.2f} >= {max_load}: waiting for a quiet machine", flush=True)
        time.sleep(poll_s)
    return load
