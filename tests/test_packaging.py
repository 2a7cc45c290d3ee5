"""The installed package, not the checkout: a wheel built from the repository, installed into a fresh environment
that has no matplotlib, runs the main job to a model folder with its card; the library names no machine path."""

import json
import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from conftest import TINY_JOB, command_line, write_tiny_acl_imdb

REPO = Path(__file__).resolve().parents[1]
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "hf_rnn", "model_cards")  # all the wheel is built from


def test_library_names_no_workplace_path():
    offenders = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
                 for path in sorted((REPO / "hf_rnn").rglob("*.py"))
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if "shared/" in line or "/work/" in line or "../" in line]
    assert not offenders, "hf_rnn/ must take data from --dataset, $HF_RNN_IMDB_PATH or the Hub:\n" + \
        "\n".join(offenders)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the build inputs (a build in the checkout would race other runs on build/)."""
    source, dist = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    for name in BUILD_INPUTS:
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copyfile
        copy(REPO / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                            if (REPO / name).is_dir() else {}))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(source)])
    return next(dist.glob("hf_rnn-*.whl"))


def run(command, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{command[:4]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


def installed_package_folders() -> list[str]:
    """The folders the running interpreter imports installed packages from, whatever it is (system, venv, conda):
    `system_site_packages=True` would give a new environment the *base* interpreter's packages instead, which in a
    plain venv lack the dependencies."""
    folders = site.getsitepackages() + ([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])
    return [folder for folder in dict.fromkeys(folders) if Path(folder).is_dir()]


def fresh_environment(folder: Path, wheel: Path) -> Path:
    """A virtual environment that holds the wheel, reuses the running interpreter's installed dependencies, and hides
    matplotlib (an optional dependency) behind a stub that fails to import, as it would where it is not installed.

    The dependencies come in through a .pth file that adds the running interpreter's package folders as site folders
    (their own .pth files processed too) after the environment's own, so the wheel's hf_rnn is the one imported."""
    venv.create(folder, system_site_packages=False, with_pip=False)
    python = folder / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)])
    site_packages = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
                         .stdout.strip())
    lines = [f"import site; site.addsitedir({package_folder!r})\n" for package_folder in installed_package_folders()]
    (site_packages / "zz_running_interpreter_packages.pth").write_text("".join(lines))
    (site_packages / "matplotlib").mkdir()
    (site_packages / "matplotlib" / "__init__.py").write_text('raise ImportError("No module named matplotlib")\n')
    return folder / "bin"


def test_wheel_carries_the_card_template_and_runs_the_main_job_without_matplotlib(wheel, tmp_path):
    bin_dir = fresh_environment(tmp_path / "env", wheel)
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "HF_RNN_IMDB_PATH")}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    where = run([str(bin_dir / "python"), "-c", "import hf_rnn; print(hf_rnn.__file__)"], cwd=tmp_path, env=env)
    assert Path(where.stdout.strip()).is_relative_to(tmp_path / "env")  # the wheel's copy, not the checkout
    data = write_tiny_acl_imdb(tmp_path / "data")
    command = [str(bin_dir / "hf-rnn"), "imdb", "--output_dir", "job", "--dataset", str(data), *command_line(TINY_JOB),
               "--report_test", "true"]
    job = run(command, cwd=tmp_path, env=env)
    model_dir = tmp_path / "job" / "model"
    card = (model_dir / "README.md").read_text()
    assert "model-index" in card and "hf_rnn IMDB sentiment (quick)" in card
    assert not (model_dir / "training_curves.png").exists() and "training_curves.png" not in card
    assert 'without training curves: Plotting needs matplotlib, an optional dependency: pip install "hf_rnn[plot]"' \
        in job.stderr
    results = json.loads((tmp_path / "job" / "results.json").read_text())
    rating = results["ensemble_rating"]
    assert job.stdout.splitlines()[-1].startswith(  # the final reading asked for, as results.json holds it
        f"[quick] test accuracy {results['sentiment']['test_accuracy']:.4f} (ensemble "
        f"{results['ensemble']['test_accuracy']:.4f}), rating MAE {rating['test_mae']:.3f}, exact "
        f"{rating['test_exact']:.3f}, LM perplexity {results['lm']['eval_perplexity']:.1f}, wall time ")


def test_the_fresh_environment_reuses_the_running_interpreters_packages_not_its_base_interpreters():
    import transformers

    # Where this interpreter found transformers: in a plain venv its own site-packages, which the base interpreter's
    # system site packages are not.
    assert str(Path(transformers.__file__).parents[1]) in installed_package_folders()
