"""ULMFiT's hand-off: a pretrained language model moved onto the target task's vocabulary.

ULMFiT builds the target vocabulary on the target text and starts from the general-domain LM: a word both
vocabularies know keeps its trained embedding (and output) row; a word only the target knows starts from the mean
row. This works only when both tokenizers cut text the same way (the same normaliser, pre-tokeniser and model type),
so that one token string means one piece of text; otherwise the transfer is refused with the fix.
"""

from __future__ import annotations

import json
import logging

import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from .. import RNNForCausalLM

logger = logging.getLogger(__name__)
SPECIAL_ROLES = ("pad_token", "unk_token", "bos_token", "eos_token")


def load_pretrained_lm(init_from: str, tokenizer: PreTrainedTokenizerBase) -> tuple[RNNForCausalLM, dict]:
    """A saved LM (folder or Hub id) whose vocabulary is made the tokenizer's.

    Args:
        init_from: A folder or Hub id holding an `RNNForCausalLM` and, normally, the tokenizer it was trained with.
        tokenizer: The tokenizer of the text the LM will be fine-tuned on.

    Returns:
        The model, with embedding and output rows in `tokenizer`'s order, and a report: `same_vocabulary`, or
        `shared_words`, `new_words` (started from the mean row), `dropped_words` and `coverage` (shared / new size).

    Raises:
        ValueError: The tokenizers cut text differently, or the LM has no tokenizer and another vocabulary size.
    """
    model = RNNForCausalLM.from_pretrained(init_from)
    lm_tokenizer = _saved_tokenizer(init_from)
    if lm_tokenizer is None:
        if model.config.vocab_size != len(tokenizer):
            raise ValueError(
                f"{init_from} has no tokenizer and {model.config.vocab_size} rows, the tokenizer {len(tokenizer)}: "
                f"which row is which word is unknown. Save the LM's tokenizer with it (run_lm.py does), or pass it as "
                f"--tokenizer_name_or_path.")
        logger.warning("%s has no tokenizer: assuming it was trained with this one (same size, %d).", init_from,
                       len(tokenizer))
        return model, {"same_vocabulary": True, "assumed": True}
    return model, match_vocabulary(model, lm_tokenizer, tokenizer)


def _saved_tokenizer(init_from: str) -> PreTrainedTokenizerBase | None:
    """The tokenizer saved with the LM, or None when it has none."""
    try:
        return AutoTokenizer.from_pretrained(init_from)
    except (OSError, ValueError):
        return None


def match_vocabulary(model, lm_tokenizer, tokenizer) -> dict:
    """Reorder `model`'s embedding and output rows from `lm_tokenizer`'s vocabulary to `tokenizer`'s, in place.

    Shared tokens (and the special tokens, matched by role: padding, unknown, start, end) keep their rows; the
    others start from the mean row (and the mean output bias). The config's vocabulary size and special ids follow.

    Returns:
        A report of the transfer (see `load_pretrained_lm`); it is also logged.
    """
    check_same_splitting(lm_tokenizer, tokenizer)
    source = _source_rows(lm_tokenizer, tokenizer)  # [new vocab]: row in the LM, or -1
    if len(lm_tokenizer) == len(tokenizer) and source.tolist() == list(range(len(tokenizer))):
        return {"same_vocabulary": True}
    old_embedding = model.get_input_embeddings().weight.detach().clone()  # [V_lm, E]
    old_bias = _output_bias(model)
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    with torch.no_grad():
        model.get_input_embeddings().weight.copy_(_remap(old_embedding, source))
        if not model.config.tie_word_embeddings:
            model.get_output_embeddings().weight.copy_(_remap(old_embedding, source))
        if old_bias is not None:
            model.get_output_embeddings().bias.copy_(_remap(old_bias, source))
    for role in SPECIAL_ROLES:
        if role != "unk_token":
            setattr(model.config, f"{role}_id", getattr(tokenizer, f"{role}_id"))
    shared = int((source >= 0).sum())
    report = {"same_vocabulary": False, "shared_words": shared, "new_words": len(tokenizer) - shared,
              "dropped_words": len(lm_tokenizer) - shared, "coverage": shared / len(tokenizer)}
    logger.warning("Pretrained LM moved to the new vocabulary: %d of %d tokens keep their rows (%.1f%%), %d new ones "
                   "start from the mean embedding, %d LM words unused.", shared, len(tokenizer),
                   100 * report["coverage"], report["new_words"], report["dropped_words"])
    return report


def check_same_splitting(lm_tokenizer, tokenizer):
    """Raise unless both tokenizers normalise and pre-tokenise text alike with the same kind of model."""
    lm_parts, parts = _splitting(lm_tokenizer), _splitting(tokenizer)
    differ = [name for name in parts if parts[name] != lm_parts[name]]
    if differ:
        raise ValueError(
            f"The pretrained LM's tokenizer cuts text differently from this one ({', '.join(differ)} differ): its "
            "rows cannot be matched word by word. Use the LM's own tokenizer (--tokenizer_name_or_path with the LM "
            "folder), or train the LM with a tokenizer built like this one.")


def _splitting(tokenizer) -> dict:
    """The parts of a fast tokenizer that decide which token string stands for which text."""
    backend = json.loads(tokenizer.backend_tokenizer.to_str())
    return {"normalizer": backend.get("normalizer"), "pre_tokenizer": backend.get("pre_tokenizer"),
            "model type": backend["model"].get("type")}


def _source_rows(lm_tokenizer, tokenizer) -> torch.Tensor:
    """For each id of `tokenizer`: the LM's id of the same token (special tokens by role), or -1."""
    lm_vocab = lm_tokenizer.get_vocab()
    source = torch.full((len(tokenizer),), -1, dtype=torch.long)
    for token, index in tokenizer.get_vocab().items():
        source[index] = lm_vocab.get(token, -1)
    for role in SPECIAL_ROLES:
        new_id, lm_id = getattr(tokenizer, f"{role}_id"), getattr(lm_tokenizer, f"{role}_id")
        if new_id is not None and lm_id is not None:
            source[new_id] = lm_id
    return source


def _remap(old: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """Rows (or entries) of `old` in the new order; new tokens get the mean of the old ones."""
    new = old.mean(dim=0, keepdim=True).expand(len(source), *old.shape[1:]).clone()  # [V_new, ...]
    known = source >= 0
    new[known] = old[source[known]]
    return new


def _output_bias(model) -> torch.Tensor | None:
    bias = getattr(model.get_output_embeddings(), "bias", None)
    return None if bias is None else bias.detach().clone()
