"""Typos and word order: accuracy on perturbed copies of IMDB test reviews ("Goood day mate", "God dayy mate").

Typos: each word of three or more letters is hit with probability `rate` by one edit of the kind named: two
neighbouring letters swapped, a letter repeated (once or twice more: "goood"), or a letter dropped. Word order: a
fraction `rate` of the word positions is chosen and their words are shuffled among themselves (1.0: the whole review
in random order). Models: NB-weighted logistic regression (bag of uni- and bigrams, fitted on the training reviews)
and each trained hf_rnn classifier given with `--model FOLDER` (a word-level one maps a misspelt word to `<unk>`; a
subword or FastText-initialised one is the comparison the issue asks for). The perturbations are seeded: every model
reads the same perturbed reviews.
"""

import dataclasses
import json
import random
import re
from pathlib import Path

import numpy as np

from bench_baselines import fit_bag_of_words
from common import save_plot, write_results
from suite import not_measured

NAME = "robustness"
TYPOS = ("character swap", "character repeat", "character drop")
SHUFFLE = "word-order shuffle"
LONG_WORD = re.compile(r"[A-Za-z]{3,}")
EXAMPLE = "This was a good day out, mate: a great film with a story I would watch again."
NB_LR = "NB-weighted LR (bag of words)"


@dataclasses.dataclass(frozen=True)
class Settings:
    test_reviews: int
    train_reviews: int | None  # for NB-LR; None: all training reviews
    typo_rates: tuple[float, ...]
    shuffle_rates: tuple[float, ...]
    batch: int = 32
    seed: int = 0


SIZES = {
    "smoke": Settings(test_reviews=12, train_reviews=200, typo_rates=(0.3,), shuffle_rates=(1.0,)),
    "full": Settings(test_reviews=2000, train_reviews=None, typo_rates=(0.05, 0.1, 0.2, 0.4),
                     shuffle_rates=(0.1, 0.3, 1.0)),
}


def typo(word: str, kind: str, rng: random.Random) -> str:
    """One edit of `kind` at a random position of `word` (3+ letters)."""
    i = rng.randrange(len(word) - 1)
    if kind == "character swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "character repeat":
        return word[: i + 1] + word[i] * rng.randint(1, 2) + word[i + 1 :]
    return word[:i] + word[i + 1 :]  # character drop


def with_typos(text: str, kind: str, rate: float, rng: random.Random) -> str:
    return LONG_WORD.sub(lambda match: typo(match.group(), kind, rng) if rng.random() < rate else match.group(), text)


def with_shuffled_words(text: str, rate: float, rng: random.Random) -> str:
    words = text.split()
    chosen = sorted(rng.sample(range(len(words)), round(rate * len(words))))
    moved = [words[i] for i in chosen]
    rng.shuffle(moved)
    for position, word in zip(chosen, moved):
        words[position] = word
    return " ".join(words)


def perturb(texts: list[str], kind: str, rate: float, seed: int) -> list[str]:
    """Perturbed copies (markup removed first, so an edit never breaks a `<br />` into words)."""
    rng = random.Random(f"{kind}-{rate}-{seed}")
    texts = [text.replace("<br />", " ") for text in texts]
    if kind == SHUFFLE:
        return [with_shuffled_words(text, rate, rng) for text in texts]
    return [with_typos(text, kind, rate, rng) for text in texts]


def conditions(s: Settings) -> list[tuple[str, float]]:
    return [("none", 0.0)] + [(kind, rate) for kind in TYPOS for rate in s.typo_rates] + [
        (SHUFFLE, rate) for rate in s.shuffle_rates]


def classifier_predict(folder, batch: int):
    """A trained classifier folder through pipeline(); reviews sorted by length so batches carry little padding."""
    from hf_rnn.inference import load_classifier

    classify = load_classifier(str(folder))
    label2id = classify.model.config.label2id

    def predict(texts: list[str]) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        outputs = classify([texts[i] for i in order], batch_size=batch, truncation=True)
        predicted = np.empty(len(texts), dtype=np.int64)
        predicted[order] = [label2id[out["label"]] for out in outputs]
        return predicted

    return predict


def tokens_of(folder) -> str:
    """The kind of tokens a saved classifier reads (WordLevel, BPE, Unigram), from its tokenizer.json."""
    return json.loads((Path(folder) / "tokenizer.json").read_text())["model"]["type"]


def models(ctx, s: Settings) -> tuple[dict, int]:
    """{name: predict} and how many training reviews NB-LR was fitted on."""
    train = ctx.imdb()["train"]
    if s.train_reviews and s.train_reviews < len(train):
        train = train.shuffle(seed=0).select(range(s.train_reviews))
    found = {NB_LR: fit_bag_of_words(list(train["text"]), train["label"], nb_weighted=True)}
    for folder in ctx.trained_classifiers():
        found[f"hf_rnn {folder.parent.name}/{folder.name} ({tokens_of(folder)} tokens)"] = classifier_predict(
            folder, s.batch)
    return found, len(train)


def plot(rows: list[dict], names: list[str]):
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 4, figsize=(14, 3.6), sharey=True)
    clean = rows[0]
    for axis, kind in zip(axes, (*TYPOS, SHUFFLE)):
        mine = [clean] + [row for row in rows if row["perturbation"] == kind]
        for name in names:
            points = [(row["rate"], row[name]) for row in mine if isinstance(row[name], float)]
            if points:
                axis.plot(*zip(*points), marker="o", label=name)
        axis.set(title=kind, xlabel="rate (words hit / positions shuffled)")
    axes[0].set_ylabel("test accuracy")
    axes[0].legend(fontsize=7)
    return save_plot(figure, NAME)


def run(ctx):
    s = ctx.pick(SIZES)
    sample = ctx.test_sample(s.test_reviews)
    texts, labels = list(sample["text"]), np.asarray(sample["label"])
    predictors, train_reviews = models(ctx, s)
    missing = {} if len(predictors) > 1 else {
        "hf_rnn word-level LSTM": not_measured("a trained classifier", "--model FOLDER", NAME)}
    rows = []
    for kind, rate in conditions(s):
        perturbed = texts if kind == "none" else perturb(texts, kind, rate, s.seed)
        row = {"perturbation": kind, "rate": rate}
        row.update({name: float((predict(perturbed) == labels).mean()) for name, predict in predictors.items()})
        rows.append({**row, **missing})
        print(rows[-1], flush=True)
    examples = [{"perturbation": kind, "rate": rate, "text": perturb([EXAMPLE], kind, rate, s.seed)[0]}
                for kind, rate in conditions(s)[1:] if rate == max(s.typo_rates if kind != SHUFFLE else s.shuffle_rates)]
    names = [*predictors, *missing]
    notes = (f"{len(texts):,} IMDB test reviews (seeded sample), the same perturbed copies for every model. NB-LR: "
             f"TF-IDF uni+bigrams scaled by the NB log-count ratio, logistic regression C=10 (bench_baselines), fitted "
             f"on {train_reviews:,} training reviews. Plot: {NAME}.png.")
    write_results(NAME, {
        "Test accuracy on perturbed reviews": (rows, ["perturbation", "rate", *names]),
        "What a perturbation does (one sentence, the highest rate)": (examples, ["perturbation", "rate", "text"]),
    }, notes, raw={"settings": dataclasses.asdict(s)})
    plot(rows, names)
