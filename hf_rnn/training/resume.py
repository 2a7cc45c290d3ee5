"""Resuming a job: the one home of its bookkeeping.

A finished stage records its metrics in `stage_done.json` in its folder (and, run by a job, how long it took), so a
job started again with the same command skips it; an unfinished one resumes from its last Trainer checkpoint.
"""

import json
import logging
import os
import time
from pathlib import Path

from transformers.trainer_utils import get_last_checkpoint

logger = logging.getLogger(__name__)
DONE_FILE = "stage_done.json"
SECONDS_FIELD = "stage_seconds"


def finished_stage(output_dir) -> dict | None:
    """The metrics a finished stage recorded, or None if it has not finished."""
    path = Path(output_dir) / DONE_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def mark_stage_done(output_dir, metrics: dict):
    """Record a finished stage; written to a temporary file and renamed, so a crash never leaves half a file."""
    path = Path(output_dir) / DONE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(metrics, indent=2, default=float))
    os.replace(tmp, path)


def last_checkpoint(output_dir) -> str | None:
    """The last Trainer checkpoint in output_dir, which an unfinished stage resumes from, or None."""
    checkpoint = get_last_checkpoint(output_dir) if Path(output_dir).is_dir() else None
    if checkpoint:
        logger.info("Resuming from %s", checkpoint)
    return checkpoint


def timed_stage(stage_dir: Path, run):
    """Run a stage; when this invocation finished it, add its duration to its stage_done.json as `stage_seconds`, so
    the time of a job resumed across invocations can still be added up (a stage resumed mid-way counts only its last
    invocation, which `started_stages` says).

    Returns:
        (what `run` returned, the stage's recorded metrics): a rerun that skips the stage returns what it recorded,
        so both runs report alike.
    """
    already_done = finished_stage(stage_dir) is not None
    start = time.time()
    value = run()
    done = finished_stage(stage_dir)
    if not already_done and done is not None and int(os.environ.get("RANK", "0")) == 0:  # torchrun: rank 0 writes
        done = {**done, SECONDS_FIELD: time.time() - start}
        mark_stage_done(stage_dir, done)
    return value, done if done is not None else value


def started_stages(output_dir, stages) -> list[str]:
    """The stages whose folder an earlier invocation already made (finished or not): a job's wall time covers this
    invocation only, and a resumed run says so rather than passing off a partial figure."""
    return [stage for stage in stages if (Path(output_dir) / stage).is_dir()]


def recorded_seconds(output_dir, stages) -> dict:
    """Each started stage's duration as `timed_stage` recorded it (None where it has not finished)."""
    return {stage: (finished_stage(Path(output_dir) / stage) or {}).get(SECONDS_FIELD)
            for stage in started_stages(output_dir, stages)}
