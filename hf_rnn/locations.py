"""Local path or Hub id: decide before loading, so a mistyped local path fails as a missing path, not as a
network error about Hub repo ids."""

from __future__ import annotations

import json
import os
from pathlib import Path

from huggingface_hub.utils import HFValidationError, validate_repo_id


def looks_like_hub_id(name: str | os.PathLike) -> bool:
    """Whether `name` can only mean a Hub repository (`owner/name` or `name`), not a local path.

    A path object, a spelling that exists locally, one that is no valid repo id (`./x`, `/abs/x`, `a/b/c`), or
    one whose first part is a local folder (`runs/model` beside a `runs/` folder) is a local path.

    Args:
        name: what the user passed: a folder, a file, or a Hub id.
    """
    if isinstance(name, os.PathLike) or Path(name).expanduser().exists():
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return "/" not in name or not Path(name.split("/")[0]).is_dir()


def model_config_dict(model_dir: str | os.PathLike, example: str) -> dict:
    """The config.json of a saved model folder (or Hub id) as a dict, read before any weights.

    Args:
        model_dir: the folder a training run saved, or a Hub id.
        example: a folder to name in the error, e.g. `"runs/imdb-quick/model"`.

    Raises:
        FileNotFoundError: in one line: no such folder (nor a readable Hub model), or a folder without config.json.
    """
    from transformers import PreTrainedConfig
    from transformers.utils import CONFIG_NAME

    path = Path(model_dir).expanduser()
    if path.is_dir():
        if not (path / CONFIG_NAME).is_file():
            raise FileNotFoundError(f"{path} has no {CONFIG_NAME}: pass the model folder a training run saved "
                                    f"(e.g. {example}), not its parent.")
        return json.loads((path / CONFIG_NAME).read_text())
    if not looks_like_hub_id(model_dir):
        raise FileNotFoundError(f"No such model folder: {model_dir} (pass a folder a training run saved, "
                                f"e.g. {example}).")
    try:
        return PreTrainedConfig.get_config_dict(str(model_dir))[0]
    except OSError as error:  # the Hub's message spans several lines; its first one says why
        raise FileNotFoundError(f"No model folder {model_dir}, and no Hub model of that name could be read: "
                                f"{str(error).splitlines()[0]}") from None
