"""Tokenizers trained on a tiny corpus: normalisation, special tokens, decoding, save/load, subwords."""

import pytest
from transformers import AutoTokenizer

from hf_rnn.tokenization import (
    batch_iterator,
    build_normalizer,
    train_subword_tokenizer,
    train_word_level_tokenizer,
)

CORPUS = [
    "This movie was GOOD. I didn't like the ending, though!<br /><br />The acting was good.",
    "A terrible film &amp; a terrible script... It's not good at all.",
    "Good actors, terrible director. I'd say \x96 watch it (maybe).",
    "The END was really good; the beginning was terrible!!!",
] * 25


@pytest.fixture(scope="module")
def word_tok():
    return train_word_level_tokenizer(CORPUS, vocab_size=200, min_frequency=2, case_markers=True)


def test_normalizer_default_cleans_markup_and_lowercases():
    assert build_normalizer().normalize_str("The END.<br /><br />&quot;Fine&quot; <i>OK</i>") == 'the end.  "fine"  ok '


def test_normalizer_cleans_imdb_markup_and_marks_case():
    norm = build_normalizer(case_markers=True)
    out = norm.normalize_str('The END.<br /><br />&quot;Fine&quot; <i>OK</i> \x96 wait\x85')
    assert out == 'xxmaj the xxup end. "xxmaj fine" xxup ok - wait...'
    assert norm.normalize_str("xxmaj") == "xxmaj"  # markers normalise to themselves (the trainer needs it)


def test_normalizer_cased_keeps_case_and_rejects_markers_without_lowercase():
    assert build_normalizer(lowercase=False, case_markers=False).normalize_str("The END<br />") == "The END "
    with pytest.raises(ValueError, match="lowercase=True"):
        build_normalizer(lowercase=False, case_markers=True)


def test_special_token_ids_and_model_inputs(word_tok):
    ids = [word_tok.convert_tokens_to_ids(t) for t in ["<pad>", "<unk>", "<s>", "</s>", "xxmaj", "xxup"]]
    assert ids == [0, 1, 2, 3, 4, 5]
    assert word_tok.pad_token_id == 0 and word_tok.unk_token_id == 1
    enc = word_tok("The movie was good.")
    assert set(enc) == {"input_ids", "attention_mask"}  # no token_type_ids
    assert enc["input_ids"][0] == word_tok.bos_token_id  # post-processor adds <s>
    assert word_tok.convert_ids_to_tokens(enc["input_ids"]) == ["<s>", "xxmaj", "the", "movie", "was", "good", "."]


def test_vocab_size_min_frequency_and_unknown_words(word_tok):
    assert len(word_tok) <= 200
    assert word_tok("zebra")["input_ids"] == [2, 1]  # never seen -> <unk>
    rare = train_word_level_tokenizer(CORPUS + ["zebra zebra"], vocab_size=200, min_frequency=3)
    assert rare.convert_tokens_to_ids("zebra") == rare.unk_token_id  # seen twice < min_frequency 3


def test_word_decoder_joins_words_and_attaches_punctuation(word_tok):
    ids = word_tok("I didn't like the ending, though! It's good (maybe)...")["input_ids"]
    text = word_tok.decode(ids, skip_special_tokens=True)
    assert text == " i didn't like the ending, though! it's good ( maybe )..."  # every word has its space


def test_save_and_autotokenizer_load_without_custom_code(word_tok, tmp_path):
    word_tok.save_pretrained(tmp_path)
    assert (tmp_path / "tokenizer.json").exists() and (tmp_path / "tokenizer_config.json").exists()
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    raw = CORPUS[0]  # still holds <br /> and capitals: the loaded tokenizer must normalise it itself
    assert loaded(raw)["input_ids"] == word_tok(raw)["input_ids"]
    assert "br" not in loaded.convert_ids_to_tokens(loaded(raw)["input_ids"])
    assert loaded.model_input_names == ["input_ids", "attention_mask"]
    assert loaded.model_max_length == 512 and loaded.truncation_side == "left"


def test_left_truncation_keeps_end_of_review(word_tok):
    ids = word_tok("the acting was good . " * 50 + "terrible", truncation=True, max_length=8)["input_ids"]
    assert len(ids) == 8 and ids[-1] == word_tok.convert_tokens_to_ids("terrible")


def test_no_bos_option():
    tok = train_word_level_tokenizer(CORPUS, vocab_size=100, min_frequency=1, add_bos=False)
    assert tok("good")["input_ids"] == [tok.convert_tokens_to_ids("good")]
    assert "xxmaj" not in tok.get_vocab() and tok.tokenize("The END") == ["the", "end"]  # default: lowercase only


SUBWORD_CORPUS = [
    "good goods goodness food mood wood go going gone",
    "terrible terror terrific horrible incredible possible terrain",
] * 20 + ["The movie was good. Terrible acting."] * 30


@pytest.mark.parametrize("algorithm,vocab_size", [("bpe", 300), ("unigram", 100)])  # byte-level BPE: 256 bytes first
def test_subword_robust_to_misspellings(algorithm, vocab_size):
    tok = train_subword_tokenizer(SUBWORD_CORPUS, vocab_size=vocab_size, algorithm=algorithm, case_markers=True)
    word_level = train_word_level_tokenizer(SUBWORD_CORPUS, min_frequency=1)
    corpus_pieces = set(tok.tokenize(" ".join(SUBWORD_CORPUS[:2])))
    assert tok.pad_token_id == 0
    for wrong in ["goood", "terrrible"]:
        assert word_level.tokenize(wrong) == ["<unk>"]  # what the subword model fixes
        pieces = tok.tokenize("a " + wrong)[1:]
        assert "<unk>" not in pieces and len(pieces) >= 2
        # the misspelling is spelled with multi-character pieces that correct words also use
        assert {p for p in pieces if len(p.strip("Ġ▁")) > 1} & corpus_pieces, pieces
    ids = tok("The movie was goood.")["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == " the movie was goood."  # space kept after "xxmaj"


def test_subword_rejects_unknown_algorithm():
    with pytest.raises(ValueError, match="'bpe' or 'unigram'"):
        train_subword_tokenizer(CORPUS, algorithm="wordpiece")


def test_batch_iterator_reads_dataset_column():
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"text": ["a", "b", "c"], "label": [0, 1, 0]})
    assert list(batch_iterator([ds, ds], batch_size=2)) == [["a", "b"], ["c"], ["a", "b"], ["c"]]
    with pytest.raises(ValueError, match="column='review'|column=..."):
        list(batch_iterator(ds, column="review"))


def test_train_tokenizer_script(tmp_path, monkeypatch):
    import runpy
    import sys
    from pathlib import Path

    csv = tmp_path / "reviews.csv"
    csv.write_text("review,label\n" + "\n".join(f'"{t}",1' for t in CORPUS[:8]) + "\n")
    out = tmp_path / "tok"
    script = Path(__file__).resolve().parents[1] / "scripts/train_tokenizer.py"
    argv = [str(script), "--output_dir", str(out), "--source", str(csv), "--text_column", "review",
            "--splits", "train", "--kind", "bpe", "--vocab_size", "300"]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(script), run_name="__main__")
    loaded = AutoTokenizer.from_pretrained(out)
    assert "".join(loaded.tokenize("The End")) == "theĠend"  # lowercased, no markers (default), byte-level BPE
    assert loaded.get_vocab()["<pad>"] == 0
