"""Export a model's learned input embedding as gensim KeyedVectors / a word2vec file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .importing import _input_embedding, vocab_of


def export_word_vectors(model, vocab, path: str | Path | None = None, binary: bool = False,
                        skip_special_tokens: bool = True):
    """Turn the model's input embedding into ``KeyedVectors`` (keys in token-id order), optionally saved.

    This lets a language model's learned embeddings be evaluated and compared exactly like word2vec's
    (:func:`hf_rnn.embeddings.evaluate_word_vectors`, ``most_similar``...).

    Args:
        model: a model with ``get_input_embeddings()``, or an ``nn.Embedding``.
        vocab: the model's tokenizer or a ``word -> id`` dict.
        path: if given, save there in word2vec format (text, or binary with ``binary=True``; ``.gz``
            compresses). Never a pickle.
        binary: word2vec binary instead of text.
        skip_special_tokens: leave out ``[PAD]``, ``[UNK]``... (not words; they would pollute neighbours).

    Returns:
        ``gensim.models.KeyedVectors`` with ``vector_size == embedding_size``.

    Raises:
        ValueError: if a kept token contains whitespace (word2vec files could not be read back).
    """
    from gensim.models import KeyedVectors

    words, specials = vocab_of(vocab)
    keep = sorted((i, w) for w, i in words.items() if not (skip_special_tokens and w in specials))
    bad = [w for _, w in keep if not w or len(w.split()) != 1 or w != w.strip()]
    if bad:
        raise ValueError(f"Tokens {bad[:5]} contain whitespace; word2vec format cannot store them.")
    weight = _input_embedding(model).weight.detach().cpu().float().numpy()  # (V, E)
    ids = np.fromiter((i for i, _ in keep), dtype=np.int64, count=len(keep))
    kv = KeyedVectors(vector_size=weight.shape[1], count=0, dtype=np.float32)
    kv.add_vectors([w for _, w in keep], weight[ids])
    if path is not None:
        kv.save_word2vec_format(str(path), binary=binary)
    return kv
