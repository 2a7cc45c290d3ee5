"""Arguments of the scripts and the main job: the command line or, as transformers' example scripts take them, one
JSON or YAML file holding every argument (`python scripts/run_classifier.py args.yaml`)."""

import json
import sys
from pathlib import Path

import yaml
from transformers import HfArgumentParser

ARGUMENTS_FILE_SUFFIXES = (".json", ".yaml", ".yml")


def arguments_file(argv: list[str]) -> Path | None:
    """The arguments file when it is the only argument, else None (the arguments are on the command line)."""
    if len(argv) != 1 or not argv[0].endswith(ARGUMENTS_FILE_SUFFIXES):
        return None
    path = Path(argv[0]).expanduser()
    if not path.is_file():
        raise SystemExit(f"No such arguments file: {path}. Pass an existing .json or .yaml file, or the arguments "
                         "themselves (--name value ...).")
    return path


def read_arguments_file(path: Path) -> dict:
    """One mapping of argument names to values, from a .json or .yaml file."""
    text = path.read_text(encoding="utf-8")
    values = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(values, dict):
        raise SystemExit(f"{path} must hold one mapping of argument names to values, e.g. `output_dir: runs/x`.")
    return values


def parse_script_arguments(parser: HfArgumentParser, argv: list[str] | None = None) -> tuple:
    """The parser's dataclasses, from one .json/.yaml file given as the only argument (as `parse_json_file` /
    `parse_yaml_file` read it: an unknown name is an error) or from the command line.

    Args:
        parser: An `HfArgumentParser` over the script's dataclasses.
        argv: The arguments; default `sys.argv[1:]`.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    path = arguments_file(argv)
    if path is None:
        return parser.parse_args_into_dataclasses(args=argv)
    return parser.parse_dict(read_arguments_file(path))


def leave_process_group():
    """Under torchrun, leave the process group before the interpreter exits: gloo's worker threads still alive at
    interpreter finalization can abort a finished process with SIGABRT ("terminate called without an active
    exception"; pytorch/pytorch#179291), failing a run whose work is already saved."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
