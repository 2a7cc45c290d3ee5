"""Hub readiness: self-contained folders, code loadable without hf_rnn, and what push_to_hub would upload."""

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import transformers
from huggingface_hub import HfApi, ModelCard, ModelCardData
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification

import hf_rnn
from hf_rnn import RNNForCausalLM, RNNForSequenceClassification
from hf_rnn.models.rnn import AUTO_MAP
from conftest import tiny_config

SHIPPED_DIR = Path(hf_rnn.__file__).parent / "models" / "rnn"
# The standard library plus torch and transformers: what every user who loads a checkpoint has.
ALLOWED_TOP_LEVEL = set(sys.stdlib_module_names) | {"torch", "transformers"}


def shipped_files():
    return sorted(p for p in SHIPPED_DIR.glob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: p.name)
def test_shipped_code_imports_only_torch_transformers_and_siblings(path):
    siblings = {p.stem for p in shipped_files()}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name.split(".")[0] in ALLOWED_TOP_LEVEL, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: only single-dot sibling files
                assert node.level == 1 and node.module in siblings, node.module
            else:
                assert node.module.split(".")[0] in ALLOWED_TOP_LEVEL, node.module


def test_auto_classes_resolve_after_import(tmp_path):
    config = tiny_config(num_labels=2)
    assert isinstance(AutoConfig.for_model("hf_rnn"), hf_rnn.RNNConfig)
    assert type(AutoModelForCausalLM.from_config(config)) is RNNForCausalLM
    assert type(AutoModelForSequenceClassification.from_config(config)) is RNNForSequenceClassification
    assert type(AutoModel.from_config(config)) is hf_rnn.RNNModel


def test_save_writes_safetensors_full_auto_map_and_code(tmp_path):
    RNNForCausalLM(tiny_config()).save_pretrained(tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"model.safetensors", "config.json", "configuration_rnn.py", "modeling_rnn.py"} <= names
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in names)
    assert json.loads((tmp_path / "config.json").read_text())["auto_map"] == AUTO_MAP


CLEAN_LOADER = textwrap.dedent(
    """
    import json, sys
    sys.modules["hf_rnn"] = None  # hf_rnn must not be importable: the folder alone has to suffice
    import torch
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification
    from transformers import AutoModelForTokenClassification
    try:
        import hf_rnn
        raise SystemExit("hf_rnn was importable")
    except ImportError:
        pass
    lm_dir, cls_dir = sys.argv[1], sys.argv[2]
    ids = torch.tensor([[4, 5, 6, 7, 8], [9, 10, 11, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    out = {}
    with torch.no_grad():
        lm = AutoModelForCausalLM.from_pretrained(lm_dir, trust_remote_code=True).eval()
        out["lm"] = lm(input_ids=ids, attention_mask=mask).logits.tolist()
        out["lm_module"] = type(lm).__module__
        base = AutoModel.from_pretrained(lm_dir, trust_remote_code=True).eval()
        out["base"] = base(input_ids=ids, attention_mask=mask).last_hidden_state.tolist()
        cls = AutoModelForSequenceClassification.from_pretrained(cls_dir, trust_remote_code=True).eval()
        out["cls"] = cls(input_ids=ids, attention_mask=mask).logits.tolist()
        tok = AutoModelForTokenClassification.from_pretrained(cls_dir, trust_remote_code=True)
        out["token_head"] = type(tok).__name__
    print(json.dumps(out))
    """
)


def test_folder_loads_as_every_head_without_hf_rnn(tmp_path):
    lm = RNNForCausalLM(tiny_config()).eval()
    cls = RNNForSequenceClassification(tiny_config(num_labels=3)).eval()
    lm.save_pretrained(tmp_path / "lm")
    cls.save_pretrained(tmp_path / "cls")
    (tmp_path / "loader.py").write_text(CLEAN_LOADER)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_MODULES_CACHE=str(tmp_path / "modules"), HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "loader.py", "lm", "cls"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    remote = json.loads(result.stdout.strip().splitlines()[-1])
    ids = torch.tensor([[4, 5, 6, 7, 8], [9, 10, 11, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    with torch.no_grad():
        torch.testing.assert_close(torch.tensor(remote["lm"]), lm(input_ids=ids, attention_mask=mask).logits)
        torch.testing.assert_close(torch.tensor(remote["base"]), lm.model(input_ids=ids, attention_mask=mask).last_hidden_state)
        torch.testing.assert_close(torch.tensor(remote["cls"]), cls(input_ids=ids, attention_mask=mask).logits)
    assert "hf_rnn" not in remote["lm_module"]
    assert remote["token_head"] == "RNNForTokenClassification"


def test_push_to_hub_uploads_weights_config_code_and_card(monkeypatch):
    recorded = {}

    def fake_create_commit(self, repo_id, operations, **kwargs):
        recorded["repo_id"] = repo_id
        recorded["files"] = {op.path_in_repo: Path(op.path_or_fileobj).read_bytes() for op in operations}

    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: type("Url", (), {"repo_id": repo_id})())
    monkeypatch.setattr(HfApi, "create_commit", fake_create_commit)
    monkeypatch.setattr(transformers.utils.hub, "create_and_tag_model_card",
                        lambda repo_id, tags=None, token=None: ModelCard.from_template(ModelCardData()))
    RNNForCausalLM(tiny_config()).push_to_hub("someone/tiny-rnn-lm")
    assert recorded["repo_id"] == "someone/tiny-rnn-lm"
    assert set(recorded["files"]) == {"model.safetensors", "config.json", "generation_config.json",
                                      "configuration_rnn.py", "modeling_rnn.py", "README.md"}
    assert json.loads(recorded["files"]["config.json"])["auto_map"] == AUTO_MAP
    assert recorded["files"]["modeling_rnn.py"] == (SHIPPED_DIR / "modeling_rnn.py").read_bytes()
