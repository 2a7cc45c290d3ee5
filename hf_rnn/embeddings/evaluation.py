"""Evaluate word vectors: analogies, word-pair similarity, nearest neighbours, and the PCA arrow plot.

Everything takes gensim ``KeyedVectors`` (trained here, imported, or exported from a model with
:func:`hf_rnn.embeddings.export_word_vectors`) and uses gensim's own evaluation functions and the test
sets it ships (``questions-words.txt``, ``wordsim353.tsv``, ``simlex999.txt``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..plotting import new_figure

logger = logging.getLogger(__name__)

DEFAULT_PLOT_PAIRS = {
    "male - female": [("man", "woman"), ("king", "queen"), ("he", "she"), ("boy", "girl"), ("actor", "actress"),
                      ("brother", "sister"), ("father", "mother"), ("uncle", "aunt")],
    "country - capital": [("france", "paris"), ("italy", "rome"), ("germany", "berlin"), ("japan", "tokyo"),
                          ("russia", "moscow"), ("spain", "madrid"), ("china", "beijing"), ("england", "london")],
}


def gensim_test_file(name: str) -> str:
    """Path of a file bundled with gensim's tests (``questions-words.txt``, ``wordsim353.tsv``...)."""
    from gensim.test.utils import datapath

    return datapath(name)


def evaluate_word_vectors(kv, analogies: str | None = "questions-words.txt",
                          similarities: tuple[str, ...] = ("wordsim353.tsv", "simlex999.txt"),
                          restrict_vocab: int = 300_000, case_insensitive: bool = True) -> dict:
    """Analogy accuracy and word-pair correlations, via gensim's ``evaluate_word_analogies`` / ``_pairs``.

    Args:
        kv: ``KeyedVectors``.
        analogies: a ``questions-words.txt``-style file (bare names are looked up in gensim's test data);
            ``None`` skips. Questions with a word outside the vocabulary are skipped, as in gensim: read
            ``analogy_questions`` beside the accuracy.
        similarities: ``word1<TAB>word2<TAB>score`` files (same lookup).
        restrict_vocab: only the most frequent this-many words are candidates (gensim's default 300k).
        case_insensitive: compare words case-insensitively (the test files are capitalised; IMDB
            vocabularies are lowercased).

    Returns:
        ``{"analogy_accuracy", "analogy_questions", "analogy_sections": {name: accuracy},
        "<file stem>": {"pearson", "spearman", "oov_ratio"}, ...}``.
    """
    results = {}
    if analogies is not None:
        results.update(_analogy_scores(kv, _resolve_path(analogies), restrict_vocab, case_insensitive))
    for name in similarities:
        pearson, spearman, oov = kv.evaluate_word_pairs(_resolve_path(name), restrict_vocab=restrict_vocab,
                                                        case_insensitive=case_insensitive)
        results[Path(name).stem] = {"pearson": float(pearson[0]), "spearman": float(spearman[0]),
                                    "oov_ratio": float(oov) / 100.0}
    return results


def _resolve_path(name: str) -> str:
    """A path as given if it exists, else the file of that name in gensim's test data."""
    return name if Path(name).exists() else gensim_test_file(name)


def _analogy_scores(kv, path, restrict_vocab, case_insensitive) -> dict:
    """Overall and per-section accuracy (sections with no answerable question are left out)."""
    score, sections = kv.evaluate_word_analogies(path, restrict_vocab=restrict_vocab,
                                                 case_insensitive=case_insensitive)
    total = sections[-1]  # gensim appends a "Total accuracy" section
    per_section = {s["section"]: len(s["correct"]) / (len(s["correct"]) + len(s["incorrect"]))
                   for s in sections[:-1] if s["correct"] or s["incorrect"]}
    return {"analogy_accuracy": float(score), "analogy_questions": len(total["correct"]) + len(total["incorrect"]),
            "analogy_sections": per_section}


def nearest_neighbours(kv, words, topn: int = 10) -> dict[str, list[tuple[str, float]]]:
    """``most_similar`` for each word in the vocabulary (out-of-vocabulary words are left out)."""
    return {w: [(n, float(s)) for n, s in kv.most_similar(w, topn=topn)] for w in words if w in kv.key_to_index}


def analogy(kv, a: str, b: str, c: str, topn: int = 5) -> list[tuple[str, float]]:
    """"``a`` is to ``b`` as ``c`` is to ?": ``b - a + c`` (3CosAdd), e.g. ``analogy(kv, "man", "king", "woman")``
    for king - man + woman. The three query words are excluded from the answers, as in gensim."""
    return [(w, float(s)) for w, s in kv.most_similar(positive=[b, c], negative=[a], topn=topn)]


def _lookup(kv, word: str) -> str | None:
    """The word as stored in ``kv``: as given, lowercased or capitalised; None if absent."""
    for form in (word, word.lower(), word.capitalize()):
        if form in kv.key_to_index:
            return form
    return None


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """Project ``(n, D)`` vectors onto their first two principal components -> ``(n, 2)``."""
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)  # components: (min(n, D), D)
    return centred @ components[:2].T  # (n, D) @ (D, 2) -> (n, 2)


def plot_analogy_pairs(kv, path: str | Path, pairs: dict | None = None, title: str | None = None) -> Path:
    """Save the classic word2vec picture: for each group of word pairs (male-female, country-capital...),
    a 2-D PCA of the group's words with an arrow from the first to the second word of each pair.

    Args:
        kv: ``KeyedVectors``.
        path: PNG file to write.
        pairs: ``{group title: [(from, to), ...]}``; default :data:`DEFAULT_PLOT_PAIRS`. Pairs with a
            word missing from ``kv`` (after trying lower and capitalised forms) are skipped.
        title: figure title.

    Returns:
        ``path``. Raises ValueError if no group has two usable pairs (nothing to compare).
    """
    groups = {name: _known_pairs(kv, group) for name, group in (pairs or DEFAULT_PLOT_PAIRS).items()}
    groups = {name: group for name, group in groups.items() if len(group) >= 2}
    if not groups:
        raise ValueError("No group has two pairs with both words in the vocabulary; pass other pairs.")
    fig = new_figure(figsize=(6 * len(groups), 5.5))
    for ax, (name, group) in zip(fig.subplots(1, len(groups), squeeze=False)[0], groups.items()):
        _draw_pairs(ax, kv, group, name)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return Path(path)


def _known_pairs(kv, group) -> list[tuple[str, str]]:
    """Pairs whose two words are both in the vocabulary, in their stored form."""
    found = [(_lookup(kv, a), _lookup(kv, b)) for a, b in group]
    return [(a, b) for a, b in found if a and b]


def _draw_pairs(ax, kv, group, name: str) -> None:
    """One panel: PCA of the group's words, an arrow per pair."""
    words = [w for pair in group for w in pair]
    points = pca_2d(np.stack([kv[w] for w in words]))  # (2 * pairs, 2): rows a0, b0, a1, b1...
    for k, (a, b) in enumerate(group):
        (xa, ya), (xb, yb) = points[2 * k], points[2 * k + 1]
        ax.annotate("", xy=(xb, yb), xytext=(xa, ya), arrowprops={"arrowstyle": "->", "color": "tab:blue"})
        ax.text(xa, ya, a, fontsize=9, color="tab:red")
        ax.text(xb, yb, b, fontsize=9, color="tab:green")
    ax.scatter(points[:, 0], points[:, 1], s=8, color="gray")
    ax.set_title(name)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
