"""Local path or Hub id: decide before loading, so a mistyped local path fails as a missing path, not as a
network error about Hub repo ids."""

from __future__ import annotations

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
