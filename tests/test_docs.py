"""README is a user's entry point; measurements live in docs/results.md, and what points there points somewhere."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README, RESULTS = REPO / "README.md", REPO / "docs" / "results.md"
CI_TEST_COMMAND = "python -m pytest tests -q"


def test_readme_stays_short_and_keeps_the_ci_test_command():
    text = README.read_text(encoding="utf-8")
    assert len(text.split()) <= 1500
    assert CI_TEST_COMMAND in text and CI_TEST_COMMAND in (REPO / ".ci" / "run").read_text()
    assert "(docs/results.md)" in text


def test_every_results_file_the_docs_name_exists():
    named = {name for doc in (README, RESULTS)
             for name in re.findall(r"`(?:bench/results/)?([\w*.-]+\.md)`", doc.read_text(encoding="utf-8"))}
    missing = [name for name in sorted(named) if not list((REPO / "bench" / "results").glob(name))]
    assert not missing


def test_code_comments_point_at_sections_that_exist():
    headings = set(re.findall(r"^#+ (.+)$", RESULTS.read_text(encoding="utf-8"), flags=re.M))
    pointers = {(str(path.relative_to(REPO)), section) for path in (REPO / "hf_rnn").rglob("*.py")
                for section in re.findall(r'docs/results\.md,\s*#?\s*"([^"]+)"', path.read_text(encoding="utf-8"))}
    assert pointers  # the measurements behind the defaults are cited, not repeated in the code
    assert not [(path, section) for path, section in pointers if section not in headings]
