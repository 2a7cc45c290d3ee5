"""`hf-rnn space`: the Gradio app folder it writes, what the app shows, and (where a browser is installed) the app
in a real headless Chromium: type a review, submit, see a label, stars and coloured words.

The browser test needs gradio, selenium and Debian's `chromium` + `chromium-driver` (`.ci/run` installs them when
it can: `apt-get install -y chromium chromium-driver && pip install selenium`); without them it is skipped and says
which is missing. `HF_RNN_SCREENSHOT=path.png` keeps its screenshot (docs/images/space-demo.png was made so)."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from conftest import TINY_WORDS, tiny_config

from hf_rnn import RNNForCausalLM, RNNForSequenceClassification
from hf_rnn.cli import main
from hf_rnn.data import auxiliary_label_names
from hf_rnn.explain import load_explainer
from hf_rnn.space import demo_outputs, write_space

pytest.importorskip("captum", reason='the demo needs captum: pip install "hf_rnn[demo]"')

REPO = Path(__file__).resolve().parents[1]
LABELS = {0: "neg", 1: "pos"}
GOOD, BAD = ["great", "good", "fun", "loved"], ["bad", "awful", "boring", "hated"]
REVIEW = "The acting was great and I loved it, but the plot was boring."


def trained_classifier(steps: int = 60) -> RNNForSequenceClassification:
    """A tiny sentiment-and-stars classifier taught in a second that good words are positive (so the picture in the
    README means something); random reviews from the tiny vocabulary."""
    config = tiny_config(num_labels=2, id2label=LABELS, label2id={v: k for k, v in LABELS.items()},
                         auxiliary_label_names=auxiliary_label_names("binary+rating10"), num_hidden_layers=1,
                         classifier_hidden_size=0)  # a linear head: no ReLU to die and leave a constant output
    torch.manual_seed(0)  # the same model whatever ran before (a module-wide fixture runs before the seeding one)
    model = RNNForSequenceClassification(config)
    index = {word: i for i, word in enumerate(TINY_WORDS)}
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(steps):
        labels = torch.randint(0, 2, (16,), generator=generator)
        ids = torch.randint(4, len(TINY_WORDS), (16, 8), generator=generator)
        for row, label in enumerate(labels.tolist()):  # two words of the row's polarity at random places
            words = GOOD if label else BAD
            for position in torch.randint(0, 8, (2,), generator=generator).tolist():
                ids[row, position] = index[words[int(torch.randint(0, 4, (1,), generator=generator))]]
        stars = torch.where(labels > 0, 7 + labels * 2, 1 + labels)  # 9 or 1 (star classes 0..9)
        loss = model(input_ids=ids, labels=torch.stack([labels, stars], dim=1)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory) -> Path:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(TINY_WORDS)}, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>")
    folder = tmp_path_factory.mktemp("space") / "model"
    trained_classifier().save_pretrained(folder)
    tokenizer.save_pretrained(folder)  # conftest's tiny tokenizer (a fixture, which a module-wide one cannot take)
    return folder


def test_space_folder_holds_app_requirements_metadata_and_the_model(model_folder, tmp_path):
    out = write_space(str(model_folder), tmp_path / "demo")
    readme = (out / "README.md").read_text()
    assert readme.startswith("---\n") and "sdk: gradio" in readme and "app_file: app.py" in readme
    assert "the stars" in readme
    assert {"hf_rnn[demo]", "gradio", "captum"} <= set((out / "requirements.txt").read_text().split())
    assert (out / "model" / "config.json").exists() and "build_demo" in (out / "app.py").read_text()
    compile((out / "app.py").read_text(), "app.py", "exec")


def test_space_refuses_a_language_model_and_writes_nothing(tmp_path, tokenizer):
    RNNForCausalLM(tiny_config()).save_pretrained(tmp_path / "lm")
    tokenizer.save_pretrained(tmp_path / "lm")
    with pytest.raises(SystemExit) as exit_info:
        main(["space", str(tmp_path / "lm"), str(tmp_path / "demo")])
    assert "not a text classifier" in exit_info.value.code and not (tmp_path / "demo").exists()


def test_the_app_refuses_a_language_model_in_one_line(model_folder, tmp_path, tokenizer):
    RNNForCausalLM(tiny_config()).save_pretrained(tmp_path / "lm")
    tokenizer.save_pretrained(tmp_path / "lm")
    out = write_space(str(model_folder), tmp_path / "demo")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "HF_RNN_MODEL": str(tmp_path / "lm")}
    done = subprocess.run([sys.executable, str(out / "app.py")], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "cannot serve" in done.stderr and "not a text classifier" in done.stderr


def test_demo_shows_scores_stars_words_and_the_running_opinion(model_folder):
    pytest.importorskip("matplotlib")
    classifier = load_explainer(str(model_folder))
    scores, notes, words, figure = demo_outputs(classifier, REVIEW, n_steps=4)
    assert set(scores) == {"neg", "pos"} and "★" in notes and words.count("hf-rnn-word") == 15
    assert figure is not None
    for bad, message in [("", "empty"), ("zyx blorp", "unknown")]:
        with pytest.raises(ValueError, match=message):
            demo_outputs(classifier, bad)


def test_demo_builds_without_a_browser(model_folder):
    pytest.importorskip("gradio", reason='the demo needs gradio: pip install "hf_rnn[demo]"')
    from hf_rnn.space import build_demo

    demo = build_demo(str(model_folder), title="tiny")
    assert demo.title == "tiny"


# --- the browser ---------------------------------------------------------------------------------------------------


def browser_missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    for module, hint in [("gradio", 'pip install "hf_rnn[demo]"'), ("selenium", "pip install selenium")]:
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed ({hint})"
    if not (shutil.which("chromium") or shutil.which("chromium-browser")) or not shutil.which("chromedriver"):
        return "no Chromium and chromedriver (Debian: apt-get install -y chromium chromium-driver)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 45) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the app exited: {process.stdout.read()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the app did not answer at {url} within {seconds} s")


@pytest.fixture
def running_app(model_folder, tmp_path):
    """`python OUT/app.py` on 127.0.0.1 at a free port, reading this checkout's hf_rnn; its URL."""
    out = write_space(str(model_folder), tmp_path / "demo")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, str(out / "app.py")], env=env, cwd=tmp_path, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/", process)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.skipif(browser_missing() is not None, reason=f"browser test skipped: {browser_missing()}")
def test_a_visitor_types_a_review_and_sees_label_stars_and_coloured_words(running_app, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1100"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(shutil.which("chromedriver")))
    try:
        driver.get(running_app)
        wait = WebDriverWait(driver, 40)
        box = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#review textarea"))
        box.clear()
        box.send_keys(REVIEW)
        driver.find_element(By.CSS_SELECTOR, "#explain").click()
        words = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#words span.hf-rnn-word") or None)
        assert [word.text for word in words][:4] == ["The", "acting", "was", "great"]
        assert any("rgba(" in (word.get_attribute("style") or "") for word in words)  # coloured
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#running img") or None)
        prediction = driver.find_element(By.CSS_SELECTOR, "#prediction").text
        assert "pos" in prediction or "neg" in prediction
        assert "★" in driver.find_element(By.CSS_SELECTOR, "#stars").text
        screenshot = tmp_path / "space-demo.png"
        driver.save_screenshot(str(screenshot))
        if os.environ.get("HF_RNN_SCREENSHOT"):
            shutil.copyfile(screenshot, os.environ["HF_RNN_SCREENSHOT"])
        box.send_keys(Keys.CONTROL, "a")  # bad input (clear() sends no input event): the page says what is wrong
        box.send_keys(Keys.BACKSPACE, " ")
        driver.find_element(By.CSS_SELECTOR, "#explain").click()
        wait.until(lambda d: "the text is empty" in d.find_element(By.TAG_NAME, "body").text)
    finally:
        driver.quit()
