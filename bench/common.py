"""Helpers every benchmark shares: run metadata and writing results as JSON plus a markdown table."""

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).parent / "results"


def run_metadata() -> dict:
    """The command, commit and machine a result came from, so every figure can be traced and rerun."""
    import torch

    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True, cwd=Path(__file__).parent).stdout.strip()
    script = os.path.relpath(os.path.abspath(sys.argv[0]), Path(__file__).resolve().parents[1])
    # A copy of the tree whose .git is missing or stale (a rented GPU machine): the launcher names the commit.
    if os.environ.get("HF_RNN_COMMIT"):
        commit, dirty = os.environ["HF_RNN_COMMIT"], ""
    commit = commit or "unknown"
    accelerator = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return {
        "command": "python " + " ".join([script, *sys.argv[1:]]),
        "commit": commit + ("+uncommitted" if dirty else ""),
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or 'cpu'}{accelerator}",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


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
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def write_results(name: str, sections: dict[str, tuple[list[dict], list[str]]], notes: str = "",
                  raw: dict | None = None, meta: dict | None = None) -> Path:
    """Write `results/<name>.json` and `results/<name>.md` atomically (a crash never leaves half a file).

    `raw` (optional) is stored in the JSON as is, e.g. every metric a run reported. `meta` (optional) keeps the
    command, commit and machine of the run that produced the rows, when a table is only re-laid out here.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    meta = meta or run_metadata()
    payload = {"meta": meta, **{title: rows for title, (rows, _) in sections.items()}, **({"raw": raw} if raw else {})}
    md = [f"# {name}", "", f"Command: `{meta['command']}`  ", f"Commit: `{meta['commit']}`  ",
          f"Machine: {meta['machine']}, torch {meta['torch']} ({meta['torch_threads']} threads), "
          f"{meta['date_utc']} UTC", ""]
    if notes:
        md += [notes, ""]
    for title, (rows, columns) in sections.items():
        md += [f"## {title}", "", markdown_table(rows, columns), ""]
    _atomic_write(RESULTS_DIR / f"{name}.json", json.dumps(payload, indent=2, default=float))
    _atomic_write(RESULTS_DIR / f"{name}.md", "\n".join(md))
    return RESULTS_DIR / f"{name}.md"


def _atomic_write(path: Path, text: str):
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
