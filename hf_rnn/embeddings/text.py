"""Turn raw text into the word sequences word2vec sees, split exactly as the model's tokenizer splits it.

Word vectors only line up with a model's vocabulary if both were built from the same words: "Movie's"
must become the same pieces here as in the tokenizer. So when a tokenizer is given we run *its*
normalizer and pre-tokenizer (the part of a word-level tokenizer that decides what a word is) and
ignore its vocabulary: word2vec keeps rare words the tokenizer would map to ``[UNK]`` and applies its
own ``min_count``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

_TAG = re.compile(r"<[^>]+>")
_WORD = re.compile(r"\w+(?:'\w+)?|[^\w\s]")


def simple_split(text: str) -> list[str]:
    """Fallback word splitter used when no tokenizer is given.

    Lowercases, replaces HTML tags (IMDB's ``<br />``) by spaces, then keeps runs of word characters
    (with one inner apostrophe, so "don't" stays whole) and single punctuation characters.

    Example: ``simple_split("Great movie!<br />Don't miss it.")`` ->
    ``["great", "movie", "!", "don't", "miss", "it", "."]``.
    """
    return _WORD.findall(_TAG.sub(" ", text.lower()))


def word_splitter(tokenizer=None, drop_special_tokens: bool = True) -> Callable[[str], list[str]]:
    """Return a function ``text -> list of words`` that splits text the way ``tokenizer`` does.

    Args:
        tokenizer: a ``transformers.PreTrainedTokenizerFast``, a ``tokenizers.Tokenizer`` or ``None``.
            Its normalizer and pre-tokenizer are applied (a missing pre-tokenizer means whitespace
            split). ``None`` gives :func:`simple_split`.
        drop_special_tokens: remove the tokenizer's special tokens that its normalizer writes into the
            text (hf_rnn's ``xxmaj``/``xxup`` case markers): as context words they would sit next to
            every capitalised word and blur word2vec's neighbourhoods.
    """
    if tokenizer is None:
        return simple_split
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    if not hasattr(backend, "pre_tokenizer"):
        raise TypeError(
            f"Expected a PreTrainedTokenizerFast or tokenizers.Tokenizer, got {type(tokenizer).__name__}; "
            "slow (Python) tokenizers have no normalizer/pre-tokenizer to reuse."
        )
    normalizer, pre_tokenizer = backend.normalizer, backend.pre_tokenizer
    drop = _special_tokens(backend) if drop_special_tokens else set()

    def split(text: str) -> list[str]:
        text = normalizer.normalize_str(text) if normalizer is not None else text
        words = text.split() if pre_tokenizer is None else [w for w, _ in pre_tokenizer.pre_tokenize_str(text)]
        return [w for w in words if w not in drop] if drop else words

    return split


def _special_tokens(backend) -> set[str]:
    """The special tokens of a ``tokenizers.Tokenizer``."""
    return {t.content for t in backend.get_added_tokens_decoder().values() if t.special}


class TokenizedCorpus:
    """Restartable iterable of word lists, the corpus type gensim expects (it iterates once per epoch).

    Texts are split lazily, so nothing but the current text is held in memory.

    Args:
        texts: a re-iterable of strings (a list, a ``datasets.Dataset`` column iterator factory...).
            A zero-argument callable returning a fresh iterator is accepted too.
        tokenizer: see :func:`word_splitter`.
    """

    def __init__(self, texts: Iterable[str] | Callable[[], Iterable[str]], tokenizer=None):
        self.texts = texts
        self.split = word_splitter(tokenizer)

    def __iter__(self) -> Iterator[list[str]]:
        texts = self.texts() if callable(self.texts) else self.texts
        for text in texts:
            words = self.split(text)
            if words:
                yield words


def write_line_sentence_file(corpus: Iterable[list[str]], path: str | Path, progress: bool = True) -> int:
    """Write a corpus in gensim's LineSentence format (one text per line, words joined by spaces).

    Returns:
        The number of words written.

    Raises:
        ValueError: if a word contains whitespace (the format could not read it back).
    """
    from tqdm.auto import tqdm

    n_words = 0
    with open(path, "w", encoding="utf-8") as f:
        for words in tqdm(corpus, desc="tokenising", unit=" texts", disable=not progress):
            line = " ".join(words)
            if len(line.split()) != len(words):
                raise ValueError(f"A word in {words[:20]}... contains whitespace; LineSentence cannot store it.")
            f.write(line + "\n")
            n_words += len(words)
    return n_words
