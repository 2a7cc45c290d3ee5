"""Word vectors through gensim: training, file formats, import into a model, export, evaluation.

Uses the real files gensim ships in gensim/test/test_data plus tiny files written in the test.
"""

import signal

import numpy as np
import pytest
import torch
from gensim.models import FastText, KeyedVectors, Word2Vec
from gensim.models.fasttext import load_facebook_vectors
from gensim.test.utils import datapath
from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from hf_rnn.embeddings import (
    analogy,
    detect_vector_format,
    evaluate_word_vectors,
    export_word_vectors,
    import_word_vectors,
    load_keyed_vectors,
    nearest_neighbours,
    plot_analogy_pairs,
    save_word_vectors,
    TokenizedCorpus,
    simple_split,
    train_word_vectors,
    word_splitter,
)

SPECIALS = ["<pad>", "<unk>"]


class TinyModel(torch.nn.Module):
    """Stand-in for any hf_rnn model: an input embedding tied to an output layer."""

    def __init__(self, vocab_size, dim, padding_idx=None):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab_size, dim, padding_idx=padding_idx)
        self.head = torch.nn.Linear(dim, vocab_size, bias=False)
        self.head.weight = self.embed.weight

    def get_input_embeddings(self):
        return self.embed


def make_tokenizer(words, lowercase=True) -> PreTrainedTokenizerFast:
    """Word-level tokenizer: <pad>=0, <unk>=1, then ``words``."""
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(SPECIALS + list(words))}, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase() if lowercase else None
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>")


def lee_texts():
    with open(datapath("lee_background.cor"), encoding="utf-8") as f:
        return f.read().splitlines()


def gensim_kv(name):
    """The file as gensim itself reads it (the reference our streaming reader must match)."""
    if name.endswith("fasttext.bin"):
        return load_facebook_vectors(datapath(name))
    return KeyedVectors.load_word2vec_format(datapath(name), binary=name.endswith(".bin"), no_header="glove" in name)


# --- splitting text like the tokenizer ---------------------------------------------------------------

def test_simple_split_lowercases_strips_tags_and_splits_punctuation():
    assert simple_split("Great movie!<br />Don't miss it.") == ["great", "movie", "!", "don't", "miss", "it", "."]


def test_word_splitter_applies_tokenizer_normalizer_pre_tokenizer_and_drops_its_markers():
    backend = Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>"))
    backend.normalizer = normalizers.Sequence([normalizers.Replace("<br />", " xxbr "), normalizers.Lowercase()])
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.add_special_tokens([AddedToken("xxbr", special=True, normalized=True)])
    fast = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>")
    text = "Hello, World!<br />Bye"
    for tok in (backend, fast):
        assert word_splitter(tok)(text) == ["hello", ",", "world", "!", "bye"]
    assert word_splitter(backend, drop_special_tokens=False)(text) == ["hello", ",", "world", "!", "xxbr", "bye"]


def test_tokenized_corpus_is_restartable_and_lazy():
    calls = []

    def texts():
        calls.append(1)
        return iter(["A b.", "", "C"])

    corpus = TokenizedCorpus(texts)
    assert list(corpus) == list(corpus) == [["a", "b", "."], ["c"]]  # empty texts are skipped
    assert len(calls) == 2  # one fresh pass per iteration, as gensim's epochs need


# --- training ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,cls,sg", [("cbow", Word2Vec, 0), ("skipgram", Word2Vec, 1), ("fasttext", FastText, 0)])
def test_training_vocabulary_is_the_tokenizer_words(method, cls, sg):
    texts = lee_texts()[:100]
    tok = make_tokenizer([])
    extra = {"bucket": 2000} if method == "fasttext" else {}  # 2M n-gram buckets by default: slow to allocate
    model = train_word_vectors(texts, method, tokenizer=tok, vector_size=8, min_count=1, epochs=1, workers=1, **extra)
    split = word_splitter(tok)
    assert isinstance(model, cls) and model.sg == sg and model.negative == 5 and model.hs == 0
    assert set(model.wv.key_to_index) == {w for t in texts for w in split(t)}
    assert model.wv.vector_size == 8


def test_unknown_method_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown method 'glove'"):
        train_word_vectors(["a b"], "glove")


@pytest.mark.parametrize("name,fmt", [("v.txt", "word2vec-text"), ("v.bin", "word2vec-binary"),
                                      ("v.vec.gz", "word2vec-text"), ("v.bin.gz", "word2vec-binary")])
def test_word2vec_saved_in_word2vec_formats_reloads_identically(tmp_path, name, fmt):
    model = train_word_vectors(lee_texts()[:50], "cbow", vector_size=6, min_count=2, epochs=1, workers=1)
    path = save_word_vectors(model, tmp_path / name)
    assert list(tmp_path.iterdir()) == [path]  # one file, no pickle side files
    assert detect_vector_format(path) == fmt
    kv = load_keyed_vectors(path)
    assert kv.index_to_key == model.wv.index_to_key
    np.testing.assert_allclose(kv.vectors, model.wv.vectors, atol=1e-5)
    emb = torch.nn.Embedding(len(kv), 6)  # import reads every format back (text ones streamed, .gz included)
    assert import_word_vectors(emb, path, kv.key_to_index).exact == len(kv)
    np.testing.assert_allclose(emb.weight.detach().numpy(), model.wv.vectors, atol=1e-5)


def test_fasttext_saved_as_facebook_bin_keeps_subword_vectors(tmp_path):
    model = train_word_vectors(lee_texts()[:50], "fasttext", vector_size=6, min_count=2, epochs=1, workers=1,
                               bucket=500)
    path = save_word_vectors(model, tmp_path / "ft.bin")
    assert detect_vector_format(path) == "fasttext-bin"
    kv = load_keyed_vectors(path)
    assert "zzlexicographer" not in kv.key_to_index
    np.testing.assert_allclose(kv["zzlexicographer"], model.wv["zzlexicographer"], atol=1e-5)


# --- formats -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,fmt", [
    ("lee_fasttext.bin", "fasttext-bin"), ("lee_fasttext.vec", "word2vec-text"),
    ("euclidean_vectors.bin", "word2vec-binary"), ("word2vec_pre_kv_c", "word2vec-text"),
    ("test_glove.txt", "glove-text"),
])
def test_detect_format_of_gensim_test_files(name, fmt):
    assert detect_vector_format(datapath(name)) == fmt


def test_unrecognised_file_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("just some words here\nand more\n")
    with pytest.raises(ValueError, match="not a word2vec text/binary, GloVe text or FastText"):
        detect_vector_format(path)


# --- import ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["lee_fasttext.vec", "euclidean_vectors.bin", "word2vec_pre_kv_c", "test_glove.txt",
                                  "lee_fasttext.bin"])
def test_import_takes_exactly_the_files_vectors(name):
    reference = gensim_kv(name)
    words = reference.index_to_key[5:45][::-1]  # a vocabulary in another order than the file's
    tok = make_tokenizer(words, lowercase=False)
    model = TinyModel(len(tok), reference.vector_size)
    coverage = import_word_vectors(model, datapath(name), tok, lowercase=False)
    assert (coverage.exact, coverage.initialised, coverage.special) == (len(words), 2, 2)
    for word in words:
        np.testing.assert_allclose(model.embed.weight[tok.convert_tokens_to_ids(word)].detach(), reference[word], atol=1e-6)
    assert torch.equal(model.head.weight, model.embed.weight)  # the tied output layer follows


def test_import_from_keyed_vectors_object_equals_import_from_file():
    kv = gensim_kv("lee_fasttext.vec")
    tok = make_tokenizer(kv.index_to_key[:30])
    from_file, from_kv = TinyModel(len(tok), 10), TinyModel(len(tok), 10)
    import_word_vectors(from_file, datapath("lee_fasttext.vec"), tok, seed=1)
    coverage = import_word_vectors(from_kv, kv, tok, seed=1)
    assert coverage.source_format == "KeyedVectors" and coverage.exact > 20
    assert torch.equal(from_file.embed.weight, from_kv.embed.weight)


def test_lowercase_fallback_both_directions_first_casing_wins(tmp_path):
    path = tmp_path / "cased.vec"
    path.write_text("3 2\nParis 1 2\nPARIS 3 4\nthe 5 6\n")
    tok = make_tokenizer(["paris", "The", "the", "nowhere"], lowercase=False)
    model = TinyModel(len(tok), 2)
    coverage = import_word_vectors(model, path, tok)
    assert (coverage.exact, coverage.lowercase, coverage.initialised) == (1, 2, 3)
    rows = model.embed.weight.detach()
    assert rows[tok.convert_tokens_to_ids("paris")].tolist() == [1, 2]
    assert rows[tok.convert_tokens_to_ids("The")].tolist() == [5, 6]
    assert coverage.missing_examples == ["nowhere"]
    assert import_word_vectors(TinyModel(len(tok), 2), path, tok, lowercase=False).lowercase == 0


def test_fasttext_bin_gives_subword_vectors_to_unknown_words_text_file_does_not():
    reference = load_facebook_vectors(datapath("lee_fasttext.bin"))
    tok = make_tokenizer(["the", "nightmarishly", "governmentality"], lowercase=False)
    model = TinyModel(len(tok), 10)
    coverage = import_word_vectors(model, datapath("lee_fasttext.bin"), tok)
    assert (coverage.exact, coverage.subword, coverage.initialised) == (1, 2, 2)
    row = model.embed.weight[tok.convert_tokens_to_ids("nightmarishly")].detach()
    np.testing.assert_allclose(row, reference["nightmarishly"], atol=1e-6)
    assert import_word_vectors(TinyModel(len(tok), 10), datapath("lee_fasttext.vec"), tok).subword == 0


def test_coverage_counts_words_in_the_file_and_reports_subword_vectors_apart():
    small = load_facebook_vectors(datapath("toy-model.bin"))  # a 22-word FastText model
    vocabulary = sorted({word for text in lee_texts() for word in text.lower().split()})[:2000]
    tok = make_tokenizer(vocabulary)
    coverage = import_word_vectors(TinyModel(len(tok), small.vector_size), datapath("toy-model.bin"), tok)
    in_file = sum(word in small.key_to_index for word in vocabulary)
    assert (coverage.exact, coverage.coverage) == (in_file, in_file / len(tok))  # was 99.9%: n-grams counted
    assert coverage.subword_share > 0.9 and coverage.exact + coverage.subword + coverage.missing == len(vocabulary)
    assert f"exact {in_file}" in str(coverage) and f"subword only ({coverage.subword})" in str(coverage)
    assert coverage.to_dict()["subword_share"] == coverage.subword_share


def test_subword_vector_needs_an_ngram_the_files_words_trained():
    model = FastText([["good", "movie"], ["great", "film"]] * 5, vector_size=4, min_count=1, bucket=100_000,
                     min_n=3, max_n=4, epochs=1, seed=0, workers=1)
    tok = make_tokenizer(["goods", "xqzvkj"])  # shares "goo"/"ood" with "good"; shares no n-gram with any word
    coverage = import_word_vectors(TinyModel(len(tok), 4), model.wv, tok)
    assert (coverage.subword, coverage.missing) == (1, 1) and coverage.missing_examples == ["xqzvkj"]


def _gaussian_file(tmp_path, n=300, dim=4):
    rng = np.random.default_rng(0)
    rows = rng.normal(3.0, 0.5, size=(n, dim))
    path = tmp_path / "gauss.txt"  # GloVe layout: no header
    path.write_text("".join(f"w{i} " + " ".join(f"{x:.6f}" for x in row) + "\n" for i, row in enumerate(rows)))
    return path, [f"w{i}" for i in range(n)]


def test_missing_rows_are_initialised_from_the_vectors_statistics(tmp_path):
    path, words = _gaussian_file(tmp_path)
    tok = make_tokenizer(words + [f"unseen{i}" for i in range(3000)])
    model = TinyModel(len(tok), 4, padding_idx=0)
    coverage = import_word_vectors(model, path, tok, init="normal")
    assert (coverage.exact, coverage.initialised) == (300, 3002)
    fresh = model.embed.weight[2 + 300:].detach()
    assert abs(fresh.mean().item() - 3.0) < 0.1 and abs(fresh.std().item() - 0.5) < 0.05
    assert model.embed.weight[0].abs().sum() == 0  # padding row stays zero


def test_init_zeros_and_keep(tmp_path):
    path, words = _gaussian_file(tmp_path, n=10)
    tok = make_tokenizer(words + ["unseen"])
    model = TinyModel(len(tok), 4)
    import_word_vectors(model, path, tok, init="zeros")
    assert model.embed.weight[-1].abs().sum() == 0
    before = model.embed.weight[-1].clone().fill_(7.0)
    with torch.no_grad():
        model.embed.weight[-1] = before
    import_word_vectors(model, path, tok, init="keep")
    assert torch.equal(model.embed.weight[-1], before)


def test_freeze_and_unfreeze(tmp_path):
    path, words = _gaussian_file(tmp_path, n=10)
    tok = make_tokenizer(words)
    model = TinyModel(len(tok), 4)
    import_word_vectors(model, path, tok, freeze=True)
    assert not model.embed.weight.requires_grad and not model.head.weight.requires_grad
    import_word_vectors(model, path, tok, freeze=False)
    assert model.embed.weight.requires_grad


def test_dimension_mismatch_error_or_projection(tmp_path):
    path, words = _gaussian_file(tmp_path, n=50, dim=6)
    tok = make_tokenizer(words)
    with pytest.raises(ValueError, match="6 dimensions but the model's input embedding has 3"):
        import_word_vectors(TinyModel(len(tok), 3), path, tok)
    for projection, dim in (("pca", 3), ("random", 3), ("random", 9)):
        model = TinyModel(len(tok), dim)
        coverage = import_word_vectors(model, path, tok, projection=projection)
        assert coverage.exact == 50 and coverage.projection == projection
    with pytest.raises(ValueError, match="PCA cannot give 9"):
        import_word_vectors(TinyModel(len(tok), 9), path, tok, projection="pca")


def test_pca_projection_preserves_distances_of_vectors_in_a_low_dim_subspace(tmp_path):
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(30, 2)) @ rng.normal(size=(2, 6))  # (30, 6) vectors spanning a 2-D plane
    path = tmp_path / "plane.txt"
    path.write_text("".join(f"w{i} " + " ".join(f"{x:.7f}" for x in row) + "\n" for i, row in enumerate(rows)))
    tok = make_tokenizer([f"w{i}" for i in range(30)])
    model = TinyModel(len(tok), 2)
    import_word_vectors(model, path, tok, projection="pca")
    projected = model.embed.weight[2:].detach().numpy()
    distances = lambda x: np.linalg.norm(x[:, None] - x[None], axis=-1)  # noqa: E731
    np.testing.assert_allclose(distances(projected), distances(rows), atol=1e-4)


def test_pickle_files_need_explicit_opt_in(tmp_path):
    kv = gensim_kv("lee_fasttext.vec")
    kv.save(str(tmp_path / "vectors.kv"))
    tok = make_tokenizer(kv.index_to_key[:10])
    with pytest.raises(ValueError, match="allow_pickle=True"):
        import_word_vectors(TinyModel(len(tok), 10), tmp_path / "vectors.kv", tok)
    coverage = import_word_vectors(TinyModel(len(tok), 10), tmp_path / "vectors.kv", tok, allow_pickle=True)
    assert coverage.source_format == "pickle" and coverage.exact == 10
    disguised = tmp_path / "vectors.bin"  # a renamed pickle is caught by its content, not its name
    disguised.write_bytes((tmp_path / "vectors.kv").read_bytes())
    with pytest.raises(ValueError, match="can execute arbitrary code"):
        import_word_vectors(TinyModel(len(tok), 10), disguised, tok)


def test_bad_vocabularies_are_clear_errors():
    tok = make_tokenizer(["qqqq", "zzzz"])
    with pytest.raises(ValueError, match="None of the 4 vocabulary words"):
        import_word_vectors(TinyModel(len(tok), 10), datapath("lee_fasttext.vec"), tok)
    with pytest.raises(ValueError, match="ids >= the embedding's 3 rows"):
        import_word_vectors(TinyModel(3, 10), datapath("lee_fasttext.vec"), tok)


# --- export ------------------------------------------------------------------------------------------

def test_export_round_trips_through_word2vec_text(tmp_path):
    reference = gensim_kv("lee_fasttext.vec")
    tok = make_tokenizer(reference.index_to_key[:40])
    model = TinyModel(len(tok), 10)
    import_word_vectors(model, reference, tok, lowercase=False)
    kv = export_word_vectors(model, tok, tmp_path / "exported.txt")
    assert kv.index_to_key == reference.index_to_key[:40]  # token-id order, special tokens left out
    np.testing.assert_allclose(kv.vectors, reference.vectors[:40], atol=1e-6)
    reloaded = KeyedVectors.load_word2vec_format(str(tmp_path / "exported.txt"))
    np.testing.assert_allclose(reloaded.vectors, kv.vectors, atol=1e-5)
    assert export_word_vectors(model, tok, skip_special_tokens=False).index_to_key[:2] == SPECIALS


def test_export_refuses_tokens_with_spaces():
    with pytest.raises(ValueError, match="contain whitespace"):
        export_word_vectors(torch.nn.Embedding(2, 3), {"new york": 0, "paris": 1})


# --- evaluation --------------------------------------------------------------------------------------

def planted_vectors() -> KeyedVectors:
    """Vectors where gender and royalty are clean directions, so every analogy holds exactly."""
    base = {"man": 0, "boy": 1, "king": 2, "prince": 3}
    gender, noise = np.eye(8)[6], np.random.default_rng(0).normal(0, 0.01, size=(12, 8))
    kv = KeyedVectors(vector_size=8)
    keys, rows = [], []
    for word, k in base.items():
        female = {"man": "woman", "boy": "girl", "king": "queen", "prince": "princess"}[word]
        row = np.eye(8)[k] + np.eye(8)[4] * (word in ("king", "prince"))
        keys += [word, female]
        rows += [row, row + gender]
    keys += ["car", "bus", "tree", "plant"]
    rows += [np.eye(8)[7], np.eye(8)[7] + 0.1 * np.eye(8)[5], np.eye(8)[5], np.eye(8)[5] + 0.2 * np.eye(8)[7]]
    kv.add_vectors(keys, np.asarray(rows) + noise)
    return kv


def test_analogy_and_similarity_on_planted_vectors(tmp_path):
    kv = planted_vectors()
    questions = tmp_path / "q.txt"
    questions.write_text(": family\nman woman king queen\nboy girl prince princess\nman woman zzz yyy\n")
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("car\tbus\t9.0\ncar\ttree\t1.0\ntree\tplant\t8.0\ncar\tplant\t3.0\nman\tzzz\t5.0\n")
    scores = evaluate_word_vectors(kv, str(questions), (str(pairs),))
    assert scores["analogy_accuracy"] == 1.0 and scores["analogy_questions"] == 2
    assert scores["pairs"]["spearman"] == pytest.approx(1.0) and scores["pairs"]["oov_ratio"] == pytest.approx(0.2)
    assert analogy(kv, "man", "king", "woman")[0][0] == "queen"
    assert [w for w, _ in nearest_neighbours(kv, ["car", "unknown"], topn=1)["car"]] == ["bus"]
    assert "unknown" not in nearest_neighbours(kv, ["unknown"])


def test_bundled_test_sets_match_gensim_directly():
    kv = gensim_kv("lee_fasttext.vec")
    scores = evaluate_word_vectors(kv)
    expected, _ = kv.evaluate_word_analogies(datapath("questions-words.txt"), case_insensitive=True)
    assert scores["analogy_accuracy"] == pytest.approx(expected) and scores["analogy_questions"] > 0
    spearman = kv.evaluate_word_pairs(datapath("simlex999.txt"), case_insensitive=True)[1][0]
    assert scores["simlex999"]["spearman"] == pytest.approx(spearman)
    assert set(scores) >= {"analogy_sections", "wordsim353", "simlex999"}


def test_pair_plot_is_a_png(tmp_path):
    kv = planted_vectors()
    path = plot_analogy_pairs(kv, tmp_path / "pairs.png", {"gender": [("man", "woman"), ("King", "Queen"), ("x", "y")]})
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="No group has two pairs"):
        plot_analogy_pairs(kv, tmp_path / "none.png", {"gender": [("man", "woman")]})


def test_word2vec_binary_is_streamed_not_loaded_whole(tmp_path, monkeypatch):
    reference = gensim_kv("euclidean_vectors.bin")
    gz = tmp_path / "v.bin.gz"
    reference.save_word2vec_format(str(gz), binary=True)
    import hf_rnn.embeddings.importing as importing

    def no_full_load(*args, **kwargs):
        raise AssertionError("word2vec binary files must be streamed, not loaded whole")

    monkeypatch.setattr(importing, "load_keyed_vectors", no_full_load)
    words = reference.index_to_key[:20]
    tok = make_tokenizer(words, lowercase=False)
    for source in (datapath("euclidean_vectors.bin"), gz):
        model = TinyModel(len(tok), reference.vector_size)
        assert import_word_vectors(model, source, tok, lowercase=False).exact == len(words)
        for word in words:
            assert np.array_equal(model.embed.weight[tok.convert_tokens_to_ids(word)].detach(), reference[word])


def test_truncated_word2vec_binary_is_a_clear_error(tmp_path):
    data = open(datapath("euclidean_vectors.bin"), "rb").read()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[: len(data) - 7])
    tok = make_tokenizer(["zzz"], lowercase=False)
    with pytest.raises(ValueError, match="truncated"):
        import_word_vectors(TinyModel(len(tok), 4), cut, tok, lowercase=False)


@pytest.mark.parametrize("text,message", [
    ("3 4\nthe 1 2 3 4\nmovie 1 2 3\ngreat 1 2 3 4\n", "line 3: 'movie' has 3 numbers, but the vectors have 4"),
    ("3 4\nthe 1 2 3\nmovie 1 2 3 4\ngreat 1 2 3 4\n", "line 2: 'the' has 3 numbers"),  # still detected as text
    ("3 4\nthe 1 2 3 4\nmovie nan 2 3 4\ngreat 1 2 3 4\n", "line 3: 'movie' has the value 'nan'"),
    ("5 4\nthe 1 2 3 4\nmovie 1 2 3 4\ngreat 1 2 3 4\n", "line 1: the header says 5 rows but 3 follow"),
    ("the 1 2 3 4\n\nmovie 1 2 3\n", "line 3: 'movie' has 3 numbers"),  # GloVe: no header, blank lines counted
    ("the 1 2 3\nmovie 1 2 3 4\n", "line 2: 'movie' has 4 numbers, but the vectors have 3"),
    ("the 1 2 3 4\nmovie 1 -inf 3 4\n", "line 2: 'movie' has the value '-inf'"),
])
def test_malformed_text_vector_files_name_the_line(tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    tok = make_tokenizer(["the", "movie", "great"])
    with pytest.raises(ValueError, match=f"bad.txt {message}"):  # silently re-initialised or NaN before
        import_word_vectors(TinyModel(len(tok), 4), path, tok)


def test_malformed_word2vec_binary_names_the_row(tmp_path):
    reference = gensim_kv("euclidean_vectors.bin")
    tok = make_tokenizer(reference.index_to_key[:5], lowercase=False)
    poisoned = KeyedVectors(reference.vector_size)
    poisoned.add_vectors(reference.index_to_key[:3], reference.vectors[:3].copy())
    poisoned.vectors[1, 0] = np.nan
    poisoned.save_word2vec_format(str(tmp_path / "nan.bin"), binary=True)
    with pytest.raises(ValueError, match=rf"nan.bin row 2 of the 3 its header promises \('{poisoned.index_to_key[1]}'\) holds NaN"):
        import_word_vectors(TinyModel(len(tok), reference.vector_size), tmp_path / "nan.bin", tok, lowercase=False)
    data = open(datapath("euclidean_vectors.bin"), "rb").read()
    header, _, rows = data.partition(b"\n")
    (tmp_path / "undercounted.bin").write_bytes(b"2 " + header.split()[1] + b"\n" + rows)
    with pytest.raises(ValueError, match="undercounted.bin line 1: the header says 2 rows but more follow"):
        import_word_vectors(TinyModel(len(tok), reference.vector_size), tmp_path / "undercounted.bin", tok)


@pytest.mark.parametrize("kept", [10_000, 100_000])  # inside the vocabulary (gensim looped forever), the matrix
def test_truncated_fasttext_bin_is_a_clear_error(tmp_path, kept):
    cut = tmp_path / "cut.bin"
    cut.write_bytes(open(datapath("lee_fasttext.bin"), "rb").read()[:kept])
    tok = make_tokenizer(["zzz"], lowercase=False)
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("reading a truncated FastText file hangs"))
    signal.alarm(60)
    try:
        with pytest.raises(ValueError, match=r"cut.bin .*truncated; download it again"):
            import_word_vectors(TinyModel(len(tok), 10), cut, tok, lowercase=False)
    finally:
        signal.alarm(0)
