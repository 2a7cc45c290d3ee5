"""One home for each thing: light modules stay light, and the generic library knows none of its applications."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hf_rnn"


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules a file imports (relative imports resolved against its package)."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            names.add(".".join([*base, *([node.module] if node.module else [])]))
    return names


def test_inference_does_not_load_the_training_stack():
    code = "import sys, hf_rnn.inference; print(sorted(m for m in sys.modules if m.startswith('hf_rnn.training')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_the_library_does_not_import_its_applications():
    library = [path for path in PACKAGE.rglob("*.py") if "recipes" not in path.relative_to(PACKAGE).parts]
    offenders = {str(path.relative_to(PACKAGE)): sorted(name for name in imported_modules(path)
                                                        if name.startswith("hf_rnn.recipes"))
                 for path in library}
    assert not {path: names for path, names in offenders.items() if names}
