"""`python -m bench`: one entry point for the benchmark suite (see bench/suite.py and bench/README.md)."""

import sys
from pathlib import Path

# The bench scripts import each other as top-level modules (`from common import ...`), as when run as files.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from suite import main  # noqa: E402

sys.exit(main())
