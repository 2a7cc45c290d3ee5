"""Train word-level and subword tokenizers for review text with the `tokenizers` library.

Everything that turns raw text into tokens lives inside the saved `tokenizer.json` (normaliser,
pre-tokeniser, model, post-processor, decoder), so `AutoTokenizer.from_pretrained(folder)` and
`pipeline()` apply exactly what training applied, with no Python-side preprocessing and no custom code.

Normalisation (see `build_normalizer`):
    * IMDB markup: `<br />` (406,894 of them in IMDB) and the few other tags (`<i>`, `<p>`, `<hr>`, ...)
      become spaces; the common HTML entities are decoded; Windows-1252 control characters that
      stand for dashes, ellipses and quotes (`\\x96`, `\\x85`, `\\x91`...) become their ASCII forms.
      Rare numeric entities (`&#8230;`, ~30 in all of IMDB) are left as they are.
    * NFKC, then lowercasing (default). Optionally (`case_markers=True`) fastai-style case markers
      first: a capitalised word gets a preceding `xxmaj` token, an all-caps word of two or more letters
      an `xxup` token. The markers are produced by `Replace` normalisers, so they live in tokenizer.json
      too; they are special tokens, so `decode(..., skip_special_tokens=True)` (the pipelines' default)
      drops them and generated text reads lowercase.
    * Lowercase without markers by default: markers cost tokens and bought no accuracy (docs/results.md,
      "Lowercase without case markers").
    * Repetition: a run of one punctuation character ("!!!", "...") is one token; repeated letters
      ("goooood") are not marked (no `xxrep`): the word-level model maps them to `<unk>`, the subword
      models split them into known pieces.

Decoding keeps the space before every word, the first one included: transformers' text-generation pipeline
decodes only the new tokens and appends them to the prompt as they are, so "this movie is" + " really great"
must carry that space (a decoder that drops it gives "this movie isreally great"). A decoded whole text may
therefore begin with a space (word-level and Unigram always, byte-level BPE after a case marker): `.strip()` it.

Special tokens: `<pad>`=0, `<unk>`=1, `<s>`=2, `</s>`=3 (then `xxmaj`, `xxup` with case markers). The post-processor
adds `<s>` at the start of every encoded text (no `</s>`: a trailing eos on a generation prompt would
tell a language model the document is over). LM pipelines append `</s>` to each document themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
CASE_MARKERS = ("xxmaj", "xxup")
MODEL_INPUT_NAMES = ["input_ids", "attention_mask"]
# A policy, not a cap (RNNs have no positional limit): most IMDB reviews fit (docs/results.md, "512 tokens per review").
DEFAULT_MODEL_MAX_LENGTH = 512

# Literal replacements for IMDB's markup and Windows-1252 leftovers (decoded as Latin-1 control chars).
_LITERAL_REPLACEMENTS = {
    "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&nbsp;": " ",
    "\x85": "...", "\x91": "'", "\x92": "'", "\x93": '"', "\x94": '"', "\x96": "-", "\x97": "-",
    "\u00b4": "'", "`": "'",
}
# HTML tags seen in IMDB (`<br />`, `<br>`, `<i>`, `</i>`, `<p>`, `<hr>`, `<em>`, `<b>` ...), any case.
_MARKUP_PATTERN = r"(?i)</?(?:br|i|b|u|p|em|hr|strong|span|div|a)\b[^<>]{0,80}>"
# Case markers: a Replace normaliser cannot insert at a zero-width position (tokenizers panics), so
# each marker rule consumes the character before the word and writes it back. `_TEXT_START` is
# prepended so the first word has such a character too, and removed again afterwards (so the
# normaliser leaves the marker tokens themselves unchanged, which the trainer relies on). Every rule
# is one regex pass over the text, so only the common word-start characters get rules (whitespace,
# which is first collapsed to single spaces, quote, parenthesis, hyphen); a capital after any other
# character ("end.Next", "/Yes") is lowercased without a marker.
_TEXT_START = "\u0001"
_WORD_START_CHARS = (" ", _TEXT_START, '"', "(", "-")
# Word-level pieces: "don't" -> "do" "n't", "it's" -> "it" "'s" (spaCy style, which the WordPiece
# decoder's cleanup re-attaches), words, and runs of one repeated punctuation character ("...", "!!!").
_WORD_PATTERN = r"(?i:\w+(?=n't\b)|n't\b|'(?:s|re|ve|m|ll|d)\b)|\w+|([^\w\s])\1*"


def build_normalizer(lowercase: bool = True, case_markers: bool = False) -> normalizers.Normalizer:
    """Build the review normaliser stored in tokenizer.json.

    Args:
        lowercase: Lowercase the text (after inserting case markers, if any).
        case_markers: Insert `xxmaj` before capitalised words and `xxup` before all-caps words.
            Only meaningful with `lowercase=True`.

    Returns:
        A `tokenizers.normalizers.Sequence`.
    """
    if case_markers and not lowercase:
        raise ValueError("case_markers=True needs lowercase=True (markers replace case); pass lowercase=True.")
    steps = [normalizers.Replace(Regex(_MARKUP_PATTERN), " ")]
    steps += [normalizers.Replace(old, new) for old, new in _LITERAL_REPLACEMENTS.items()]
    steps.append(normalizers.NFKC())
    if case_markers:
        steps.append(normalizers.Replace(Regex(r"\s+"), " "))  # newlines/tabs/runs: pre-tokenisers drop them anyway
        steps.append(normalizers.Prepend(_TEXT_START))
        steps += _case_marker_rules()
        steps.append(normalizers.Replace(_TEXT_START, ""))
    if lowercase:
        steps.append(normalizers.Lowercase())
    return normalizers.Sequence(steps)


def _case_marker_rules() -> list[normalizers.Normalizer]:
    """Replace rules inserting `xxup` (2+ capitals) and `xxmaj` (capital then lowercase) after word starts.

    `" "` comes first: every later insertion ends with a space before the capital, which the space rule
    (already run) never sees again, so no word gets two markers.
    """
    rules = []
    for char in _WORD_START_CHARS:
        escaped = re.escape(char)
        rules.append(normalizers.Replace(Regex(escaped + r"(?=[A-Z]{2,}(?![a-z]))"), f"{char}xxup "))
        rules.append(normalizers.Replace(Regex(escaped + r"(?=[A-Z][a-z])"), f"{char}xxmaj "))
    return rules


def build_word_pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    """Split into words, clitics ("n't", "'s") and runs of a repeated punctuation character."""
    return pre_tokenizers.Split(Regex(_WORD_PATTERN), behavior="removed", invert=True)


def build_word_decoder() -> decoders.Decoder:
    """Put a space before every word, the first one included, and re-attach punctuation and clitics.

    WordLevel has no decoder of its own. Each token gets a leading space, the tokens are fused into one string,
    and WordPiece's `cleanup` removes the space before `. , ! ? n't 's 're 've 'm` and around `'` (its
    continuation prefix never occurs in a word, so it glues nothing itself). The first word keeps its space
    because a decoded continuation is appended to the prompt as it is (see "Decoding" in the module notes).
    """
    return decoders.Sequence([
        decoders.Replace(Regex("^"), " "),  # per token: " word", " ."
        decoders.Fuse(),
        decoders.WordPiece(prefix="\u0000##", cleanup=True),  # " word ." -> " word."
    ])


def special_tokens(case_markers: bool = False) -> list[str | AddedToken]:
    """Special tokens in id order: `<pad>`=0, `<unk>`=1, `<s>`=2, `</s>`=3, then the case markers.

    The markers are created by the normaliser, so they must be matched in the *normalised* text
    (`normalized=True`); `lstrip` lets a marker take the space before it, so the word after it keeps
    its own leading space and is tokenised exactly as it would be without the marker.
    """
    markers = [AddedToken(m, special=True, normalized=True, lstrip=True) for m in CASE_MARKERS]
    return [PAD, UNK, BOS, EOS, *(markers if case_markers else ())]


def _bos_post_processor(tokenizer: Tokenizer) -> processors.PostProcessor:
    """Prepend `<s>` to every single text (and to each of a pair)."""
    bos = (BOS, tokenizer.token_to_id(BOS))
    return processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[bos])


def train_word_level_tokenizer(
    texts: Iterable[str] | Iterable[list[str]],
    vocab_size: int = 30_000,
    min_frequency: int = 3,
    lowercase: bool = True,
    case_markers: bool = False,
    add_bos: bool = True,
    model_max_length: int = DEFAULT_MODEL_MAX_LENGTH,
) -> PreTrainedTokenizerFast:
    """Train a word-level tokenizer (one id per word, `<unk>` for the rest).

    Args:
        texts: Texts, or batches (lists) of texts, e.g. `batch_iterator(dataset)`.
        vocab_size: Maximum vocabulary size, special tokens included.
        min_frequency: Words seen fewer times become `<unk>`.
        lowercase: See `build_normalizer`.
        case_markers: See `build_normalizer`.
        add_bos: Add a post-processor that prepends `<s>` to every encoded text.
        model_max_length: Stored in tokenizer_config.json; used when `truncation=True`.

    Returns:
        A `PreTrainedTokenizerFast` (save it with `save_pretrained`).
    """
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    tokenizer.normalizer = build_normalizer(lowercase, case_markers)
    tokenizer.pre_tokenizer = build_word_pre_tokenizer()
    tokenizer.decoder = build_word_decoder()
    trainer = trainers.WordLevelTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=special_tokens(case_markers)
    )
    tokenizer.train_from_iterator(_flatten(texts), trainer=trainer)
    tokenizer.model = _compact_word_vocab(tokenizer, special_tokens(case_markers))
    return wrap_tokenizer(tokenizer, add_bos=add_bos, model_max_length=model_max_length)


def _compact_word_vocab(tokenizer: Tokenizer, specials: list) -> models.WordLevel:
    """Give the special tokens ids 0..n-1 and the words the following ids, without holes.

    WordLevelTrainer counts the case markers the normaliser writes into the text as words too and
    gives them a second, later id, leaving holes at the markers' special ids.
    """
    names = [str(getattr(t, "content", t)) for t in specials]
    words = sorted(tokenizer.get_vocab(with_added_tokens=False).items(), key=lambda item: item[1])
    order = names + [word for word, _ in words if word not in names]
    return models.WordLevel({word: i for i, word in enumerate(order)}, unk_token=UNK)


def train_subword_tokenizer(
    texts: Iterable[str] | Iterable[list[str]],
    vocab_size: int = 16_000,
    min_frequency: int = 2,
    algorithm: str = "bpe",
    lowercase: bool = True,
    case_markers: bool = False,
    add_bos: bool = True,
    model_max_length: int = DEFAULT_MODEL_MAX_LENGTH,
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE or a Unigram tokenizer, robust to misspellings ("goood" -> "go" "ood").

    BPE works on bytes (GPT-2 style), so it never produces `<unk>`. Unigram works on characters with a
    Metaspace pre-tokeniser; a character never seen in training is `<unk>`.

    Args:
        texts: Texts, or batches (lists) of texts.
        vocab_size: Vocabulary size, special tokens included.
        min_frequency: Minimum pair frequency for a BPE merge (ignored by Unigram).
        algorithm: `"bpe"` or `"unigram"`.
        lowercase: See `build_normalizer`.
        case_markers: See `build_normalizer`.
        add_bos: Add a post-processor that prepends `<s>` to every encoded text.
        model_max_length: Stored in tokenizer_config.json; used when `truncation=True`.

    Returns:
        A `PreTrainedTokenizerFast`.
    """
    tokenizer, trainer = _subword_parts(algorithm, vocab_size, min_frequency, special_tokens(case_markers))
    tokenizer.normalizer = build_normalizer(lowercase, case_markers)
    tokenizer.train_from_iterator(_flatten(texts), trainer=trainer)
    return wrap_tokenizer(tokenizer, add_bos=add_bos, model_max_length=model_max_length)


def _subword_parts(algorithm: str, vocab_size: int, min_frequency: int, specials: list):
    """(untrained tokenizer with pre-tokeniser and decoder, trainer) for `"bpe"` or `"unigram"`."""
    if algorithm == "bpe":
        tokenizer = Tokenizer(models.BPE(unk_token=UNK))
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        # no Strip: the space a word's first piece carries ("Ġgreat") is what separates a continuation
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
        return tokenizer, trainer
    if algorithm == "unigram":
        tokenizer = Tokenizer(models.Unigram())
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace(prepend_scheme="never")  # keeps the first word's "▁" as a space
        return tokenizer, trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token=UNK)
    raise ValueError(f"Unknown subword algorithm {algorithm!r}; use 'bpe' or 'unigram'.")


def wrap_tokenizer(
    tokenizer: Tokenizer, add_bos: bool = True, model_max_length: int = DEFAULT_MODEL_MAX_LENGTH
) -> PreTrainedTokenizerFast:
    """Wrap a trained `tokenizers.Tokenizer` as a transformers tokenizer with our special tokens.

    Args:
        tokenizer: A trained tokenizer whose vocabulary holds `<pad> <unk> <s> </s>`.
        add_bos: Add a post-processor that prepends `<s>` to every encoded text.
        model_max_length: Maximum length used by `truncation=True`.

    Returns:
        A `PreTrainedTokenizerFast` without `token_type_ids`, padding and truncating on the left side.
        Left truncation keeps a review's end, where the verdict usually is. Left padding is what generation
        needs: `model.generate(**tok(prompts, padding=True))` continues every prompt from its own last token.
        The recurrent models are exact with either side; `classification_collator` pads right anyway (the
        models' fast path) and the text-classification pipeline pads left.
    """
    if tokenizer.token_to_id(PAD) != 0:
        raise ValueError(f"{PAD!r} must have id 0 (got {tokenizer.token_to_id(PAD)}); train with special_tokens().")
    if add_bos:
        tokenizer.post_processor = _bos_post_processor(tokenizer)
    markers = [t for t in CASE_MARKERS if tokenizer.token_to_id(t) is not None]
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD, unk_token=UNK, bos_token=BOS, eos_token=EOS,
        extra_special_tokens=markers,
        model_input_names=list(MODEL_INPUT_NAMES),
        model_max_length=model_max_length,
        padding_side="left",
        truncation_side="left",
    )


def batch_iterator(dataset, column: str = "text", batch_size: int = 1_000) -> Iterator[list[str]]:
    """Yield batches of texts from a `datasets.Dataset` (or several) without loading them all at once.

    Args:
        dataset: A `datasets.Dataset` or a list of them (e.g. `[dsd["train"], dsd["unsupervised"]]`).
        column: The text column.
        batch_size: Rows per batch.
    """
    for part in dataset if isinstance(dataset, (list, tuple)) else [dataset]:
        if column not in part.column_names:
            raise ValueError(f"No column {column!r} in dataset (columns: {part.column_names}); pass column=...")
        for batch in part.select_columns([column]).iter(batch_size=batch_size):
            yield batch[column]


def _flatten(texts: Iterable[str] | Iterable[list[str]]) -> Iterator[str]:
    """Accept texts or batches of texts."""
    for item in texts:
        if isinstance(item, str):
            yield item
        else:
            yield from item
