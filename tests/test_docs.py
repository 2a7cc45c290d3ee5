"""README is a user's entry point; measurements live in docs/results.md, and what points there points somewhere."""

import json
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


def json_numbers(value, found: list) -> list:
    """Every number in a parsed JSON document."""
    if isinstance(value, dict):
        for item in value.values():
            json_numbers(item, found)
    elif isinstance(value, list):
        for item in value:
            json_numbers(item, found)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        found.append(float(value))
    return found


def figure_found(token: str, values: list[float]) -> bool:
    """A README figure ("89.94%", "1.23", "5.5" minutes, "41" seconds) is some number of its source rounded to the
    digits it shows: a share as a percentage, a duration in seconds or minutes."""
    percent, text = token.endswith("%"), token.rstrip("%").replace(",", "")
    digits = len(text.split(".")[1]) if "." in text else 0
    shown = float(text)
    for value in values:
        for candidate in ([value * 100] if percent else [value, value / 60, value * 100]):
            if abs(candidate - shown) <= 0.5 * 10 ** -digits + 1e-9:
                return True
    return False


def test_readme_result_figures_come_from_the_json_they_cite():
    """Each row of README's results tables that names a `bench/results` file shows only figures found in that file's
    JSON (parenthesised notes aside): a stale or typed figure fails here."""
    rows = [line for line in README.read_text(encoding="utf-8").splitlines()
            if line.startswith("|") and re.search(r"`[\w.-]+\.md`\s*\|\s*$", line)]
    assert len(rows) >= 5
    for row in rows:
        source = re.search(r"`([\w.-]+)\.md`\s*\|\s*$", row).group(1)
        values = json_numbers(json.loads((REPO / "bench" / "results" / f"{source}.json").read_text()), [])
        cells = [re.sub(r"\(.*?\)", "", cell) for cell in row.split("|")[2:-2]]
        figures = [token for cell in cells for token in re.findall(r"\d[\d,]*\.?\d*%?", cell)]
        assert figures and not [f for f in figures if not figure_found(f, values)], (source, figures)


def test_every_result_readme_cites_names_a_clean_commit():
    """A figure README shows was made by committed code: its result file's commit carries no "+uncommitted"."""
    cited = set(re.findall(r"`([\w.-]+)\.md`", README.read_text(encoding="utf-8")))
    files = [REPO / "bench" / "results" / f"{name}.json" for name in sorted(cited)]
    commits = {path.stem: json.loads(path.read_text())["meta"]["commit"] for path in files if path.is_file()}
    assert len(commits) >= 5
    assert not {name: commit for name, commit in commits.items() if "uncommitted" in commit}
