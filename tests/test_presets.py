"""Presets are values: each entry changes a default, each default has one home, and the code carries no evidence.

A preset entry equal to the default it overrides (a stage dataclass's field, RNNConfig's, or COMMON's for the
training sections) would be a second home for that default, which drifts from the first when either changes.
"""

import ast
import dataclasses
import io
import re
import tokenize
from pathlib import Path

import pytest
from transformers import TrainingArguments

from hf_rnn import RNNConfig
from hf_rnn.recipes.imdb import COMMON, PRESETS, JobArguments
from hf_rnn.training import DataArguments, TokenizerArguments, ULMFiTArguments
from hf_rnn.training.adversarial import AdversarialArguments
from hf_rnn.training.ngram_logistic import NgramLogisticArguments

PACKAGE = Path(__file__).resolve().parents[1] / "hf_rnn"
ARGUMENTS = {"job": JobArguments, "data": DataArguments, "tokenizer": TokenizerArguments, "ulmfit": ULMFiTArguments,
             "adversarial": AdversarialArguments, "ngram_logistic": NgramLogisticArguments}
TRAINING = {"lm_training": "lm", "classifier_training": "classifier"}
MISSING = object()


def field_default(cls, name: str):
    for field in dataclasses.fields(cls):
        if field.name == name:
            if field.default is not dataclasses.MISSING:
                return field.default
            return field.default_factory() if field.default_factory is not dataclasses.MISSING else MISSING
    raise AssertionError(f"{cls.__name__} has no field {name!r}")


def default_for(section: str, name: str):
    """What an entry of a preset's section overrides when the preset leaves it out."""
    if section in ARGUMENTS:
        return field_default(ARGUMENTS[section], name)
    if section == "model":
        config = RNNConfig()
        assert hasattr(config, name), f"RNNConfig has no attribute {name!r}"
        return getattr(config, name)
    if section in TRAINING:
        common = COMMON[TRAINING[section]]
        return common[name] if name in common else field_default(TrainingArguments, name)
    raise AssertionError(f"unknown preset section {section!r}")


def redundant_entries(name: str, preset: dict) -> list[str]:
    found = []
    for section, values in preset.items():
        if section == "float32":  # overrides the preset's own sections: redundant when equal to what it replaces
            for inner, inner_values in values.items():
                for key, value in inner_values.items():
                    replaced = preset[inner].get(key, MISSING)
                    if value == (default_for(inner, key) if replaced is MISSING else replaced):
                        found.append(f"{name}.float32.{inner}.{key}={value!r}")
            continue
        for key, value in values.items():
            if value == default_for(section, key):
                found.append(f"{name}.{section}.{key}={value!r}")
    return found


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_no_preset_entry_restates_the_default_it_overrides(name):
    assert not redundant_entries(name, PRESETS[name])


def test_a_restated_default_is_caught():
    restated = {"job": {"heads": "shared"}, "model": {"classifier_hidden_size": 50},
                "tokenizer": {"min_frequency": 3}, "adversarial": {"adversarial_epsilon": 0.02},
                "classifier_training": {"learning_rate": 1e-2}, "ulmfit": {"gradual_unfreezing_steps": 0},
                "data": {"max_length": 512}, "lm_training": {"max_steps": 9000},  # the last one is a change
                "float32": {"lm_training": {"max_steps": 9000}}}  # what the preset already says
    assert [entry.split("=")[0] for entry in redundant_entries("p", restated)] == [
        "p.job.heads", "p.model.classifier_hidden_size", "p.tokenizer.min_frequency",
        "p.adversarial.adversarial_epsilon",
        "p.classifier_training.learning_rate", "p.ulmfit.gradual_unfreezing_steps", "p.data.max_length",
        "p.float32.lm_training.max_steps"]


def test_the_measured_generic_choices_are_the_defaults():
    assert field_default(AdversarialArguments, "adversarial_epsilon") == 0.02
    assert field_default(JobArguments, "heads") == "shared"
    assert COMMON["classifier"]["learning_rate"] == 1e-2


def comments_and_docstrings(path: Path) -> list[tuple[int, str]]:
    source = path.read_text(encoding="utf-8")
    texts = [(token.start[0], token.string) for token in tokenize.generate_tokens(io.StringIO(source).readline)
             if token.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            docstring = ast.get_docstring(node, clean=False)
            if docstring:
                texts.append((node.body[0].lineno, docstring))
    return texts


def test_the_library_states_no_percentage_or_p_value_in_its_comments_and_docstrings():
    evidence = re.compile(r"[0-9]\.?[0-9]*%|\bp ?[=<] ?0?\.[0-9]")
    hits = [f"{path.relative_to(PACKAGE)}:{line}" for path in sorted(PACKAGE.rglob("*.py"))
            for line, text in comments_and_docstrings(path) if evidence.search(text)]
    assert not hits, "figures belong in docs/results.md: " + ", ".join(hits)
