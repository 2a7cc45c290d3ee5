"""A Gradio demo of a saved classifier, as a folder a Hugging Face Space runs: `hf-rnn space MODEL OUT`.

The folder holds `app.py` (a few lines that call `build_demo`), `requirements.txt`, a `README.md` with the Space
metadata and, for a local model folder, a copy of the model (so the folder is the whole Space). The demo shows the
label scores, the stars where the model has a rating head, the words coloured by their attribution and the running
opinion (see `hf_rnn.explain`). gradio is an optional dependency: `pip install "hf_rnn[demo]"`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .explain import (DEFAULT_STEPS, Explanation, explain, explanation_html, load_explainer, plot_running)

INSTALL_HINT = 'pip install "hf_rnn[demo]"'
DEMO_MAX_LENGTH = 2000  # tokens a visitor's text is explained on; the rest is said to be left out
EXAMPLE = "The first half drags and the acting is wooden, but the ending is wonderful and I loved it."

APP_TEMPLATE = '''"""A demo of the hf_rnn classifier {model_name}, written by `hf-rnn space`.

Run it with `python app.py` and open the address it prints (http://127.0.0.1:7860 unless GRADIO_SERVER_PORT says
otherwise). HF_RNN_MODEL names another model folder or Hub id.
"""

import os
from pathlib import Path

from hf_rnn.space import build_demo

MODEL = os.environ.get("HF_RNN_MODEL") or {model!r}
if not os.path.isabs(MODEL) and (Path(__file__).resolve().parent / MODEL).is_dir():
    MODEL = str(Path(__file__).resolve().parent / MODEL)  # the copy beside this file, from any working folder

try:
    demo = build_demo(MODEL, title={title!r})
except (ValueError, OSError, ImportError) as error:  # not a classifier, no such folder, gradio missing: one line
    raise SystemExit(f"app.py: cannot serve {{MODEL}}: {{error}}")

if __name__ == "__main__":
    demo.launch()
'''

README_TEMPLATE = """---
title: {title}
emoji: 🎬
colorFrom: blue
colorTo: green
sdk: gradio
sdk_version: {gradio_version}
app_file: app.py
pinned: false
---

# {title}

A recurrent classifier (hf_rnn) that shows what it reads: type a text and see the label scores{stars}, each word
coloured by how much it pushed toward the predicted label (integrated gradients on the word embeddings), and the
model's opinion after each word as it reads left to right.

Model: `{model_name}`. Run locally: `pip install -r requirements.txt && python app.py`.
"""


def write_space(model: str, out_dir, title: str | None = None, copy_model: bool = True,
                hf_rnn_requirement: str = "hf_rnn[demo]") -> Path:
    """Write a Gradio Space folder for a saved classifier.

    Args:
        model: a saved classifier or ensemble folder, or a Hub id.
        out_dir: the folder to write (created; files of the same names are replaced).
        title: the demo's title (default: from the model's name).
        copy_model: copy a local model folder into `out_dir/model` (a self-contained Space); False: the app reads
            the folder where it is (by its absolute path).
        hf_rnn_requirement: how `requirements.txt` names hf_rnn (e.g. a `git+https://...` URL for a Space).

    Returns:
        `out_dir`.

    Raises:
        FileNotFoundError, ValueError: no such model, or not a text classifier (a language model, say).
    """
    classifier = load_explainer(model)  # refuses a language model, a missing folder, ... before writing anything
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    local = Path(model).expanduser().is_dir()
    model_name = Path(model).resolve().name if local else model
    if local and copy_model:
        shutil.copytree(model, out / "model", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("checkpoint-*", "*.bin", "__pycache__"))
        reference = "model"
    else:
        reference = str(Path(model).resolve()) if local else model
    title = title or f"{model_name} (hf_rnn)"
    (out / "app.py").write_text(APP_TEMPLATE.format(model=reference, model_name=model_name, title=title))
    (out / "requirements.txt").write_text(f"{hf_rnn_requirement}\ncaptum\nmatplotlib\ngradio\ntorch\n")
    stars = ", the stars" if has_stars(classifier.model.config) else ""
    (out / "README.md").write_text(README_TEMPLATE.format(title=title, model_name=model_name, stars=stars,
                                                          gradio_version=_gradio_version()))
    return out


def has_stars(config) -> bool:
    """Whether predictions carry a star rating (a rating head, a 10-class rating model, or a rating regressor)."""
    from .data.classification import id2label

    return bool(getattr(config, "auxiliary_label_names", None)) or config.problem_type == "regression" or \
        getattr(config, "id2label", None) == id2label("rating10")


def _gradio_version() -> str:
    try:
        from importlib.metadata import version

        return version("gradio")
    except Exception:  # gradio is not installed here: name a version the app is written for
        return "5.0.0"


def _gradio():
    try:
        import gradio
    except ImportError as err:
        raise ImportError(f"The demo needs gradio, an optional dependency: {INSTALL_HINT}") from err
    return gradio


def stars_markdown(explanation: Explanation) -> str:
    """The stars line of the demo ('' when the model gives no rating)."""
    rating = explanation.rating
    if rating is None:
        return ""
    full = int(round(rating))
    return f"**{'★' * full}{'☆' * (10 - full)}** {rating:.1f} / 10 stars"


def demo_outputs(classifier, text: str, max_length: int = DEMO_MAX_LENGTH, n_steps: int = DEFAULT_STEPS):
    """What the demo shows for one text: label scores (dict), the stars and notes (markdown), the coloured words
    (HTML) and the running-opinion figure (None when the model has none).

    Raises:
        ValueError: bad input (an empty text, only unknown words), in one sentence for the page.
    """
    explanation = explain(classifier, text, max_length=max_length, n_steps=n_steps)
    scores = explanation.scores
    if explanation.label == "rating":
        scores = {f"rating {scores['rating']:.1f}": 1.0}
    notes = [stars_markdown(explanation)] + [f"*{note}*" for note in explanation.notes]
    figure = None
    if explanation.running is None:
        notes.append(f"*{explanation.running_note}*")
    else:
        figure = plot_running(explanation)
        if explanation.running_note:
            notes.append(f"*{explanation.running_note}*")
    return scores, "\n\n".join(note for note in notes if note), explanation_html(explanation), figure


def build_demo(model: str, title: str = "hf_rnn classifier", max_length: int = DEMO_MAX_LENGTH,
               n_steps: int = DEFAULT_STEPS):
    """A Gradio `Blocks` app for a saved classifier folder or Hub id: a text box in; label scores, stars, coloured
    words and the running opinion out. Bad input shows as an error message on the page.

    Raises:
        ImportError: gradio is not installed.
        FileNotFoundError, ValueError: no such model, or not a text classifier.
    """
    classifier = load_explainer(model)
    gr = _gradio()

    def run(text):
        try:
            return demo_outputs(classifier, text, max_length, n_steps)
        except ValueError as error:
            raise gr.Error(str(error)) from None

    with gr.Blocks(title=title) as demo:
        gr.Markdown(f"# {title}\nType a review; see the label, the words that decided it, and the model's opinion "
                    "after each word as it reads.")
        with gr.Row():
            with gr.Column():
                text = gr.Textbox(label="Your text", lines=6, value=EXAMPLE, elem_id="review")
                button = gr.Button("Explain", variant="primary", elem_id="explain")
            with gr.Column():
                label = gr.Label(label="Prediction", elem_id="prediction")
                stars = gr.Markdown(elem_id="stars")
        words = gr.HTML(label="What it read", elem_id="words")
        plot = gr.Plot(label="Running opinion", format="png", elem_id="running")
        outputs = [label, stars, words, plot]
        button.click(run, text, outputs)
        text.submit(run, text, outputs)
    return demo


def main(argv=None) -> None:
    """`hf-rnn space MODEL OUT`: write the Gradio app folder, and say how to run it."""
    import argparse

    parser = argparse.ArgumentParser(prog="hf-rnn space", description="Write a Gradio demo (a Hugging Face Space "
                                     "folder) for a saved classifier: python OUT/app.py runs it.")
    parser.add_argument("model", help="folder of a saved hf_rnn classifier or ensemble, or a Hub id")
    parser.add_argument("out", help="folder to write (app.py, requirements.txt, README.md, model/)")
    parser.add_argument("--title", help="the demo's title")
    parser.add_argument("--no_copy", action="store_true", help="read the model folder where it is; no copy")
    parser.add_argument("--hf_rnn_requirement", default="hf_rnn[demo]", help="hf_rnn's line in requirements.txt")
    args = parser.parse_args(argv)
    out = write_space(args.model, args.out, args.title, not args.no_copy, args.hf_rnn_requirement)
    print(f"wrote {out}/app.py, requirements.txt, README.md" + ("" if args.no_copy or not os.path.isdir(args.model)
                                                               else ", model/"))
    print(f"run it: python {out}/app.py   (needs {INSTALL_HINT}; then open http://127.0.0.1:7860)")
