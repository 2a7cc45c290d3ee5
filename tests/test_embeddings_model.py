"""Word vectors with the real hf_rnn models, and the training script end to end."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import torch
from gensim.models import KeyedVectors
from gensim.test.utils import datapath
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from hf_rnn import RNNConfig, RNNForCausalLM, RNNForSequenceClassification
from hf_rnn.embeddings import detect_vector_format, export_word_vectors, import_word_vectors

REPO = Path(__file__).resolve().parents[1]


def lee_tokenizer(n_words=50):
    reference = KeyedVectors.load_word2vec_format(datapath("lee_fasttext.vec"))
    words = ["<pad>", "<unk>"] + reference.index_to_key[:n_words]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>"), reference


def tiny_config(vocab_size, **overrides):
    return RNNConfig(cell_type="lstm", vocab_size=vocab_size, embedding_size=10, hidden_size=12,
                     num_hidden_layers=1, pad_token_id=0, tie_word_embeddings=True, **overrides)


def test_causal_lm_tied_output_follows_imported_vectors_and_freezes():
    tok, reference = lee_tokenizer()
    model = RNNForCausalLM(tiny_config(len(tok)))
    coverage = import_word_vectors(model, datapath("lee_fasttext.vec"), tok, freeze=True)
    assert coverage.exact == 50
    out = model.get_output_embeddings().weight
    np.testing.assert_allclose(out[2:].detach().numpy(), reference.vectors[:50], atol=1e-6)
    assert out.data_ptr() == model.get_input_embeddings().weight.data_ptr() and not out.requires_grad
    logits = model(input_ids=torch.tensor([[2, 3, 4]])).logits
    assert logits.shape == (1, 3, len(tok)) and torch.isfinite(logits).all()
    exported = export_word_vectors(model, tok)
    np.testing.assert_allclose(exported.vectors, reference.vectors[:50], atol=1e-6)


def test_sequence_classifier_imports_through_the_same_api():
    tok, reference = lee_tokenizer(20)
    model = RNNForSequenceClassification(tiny_config(len(tok), num_labels=2))
    import_word_vectors(model, reference, tok)
    np.testing.assert_allclose(model.get_input_embeddings().weight[2:].detach().numpy(), reference.vectors[:20], atol=1e-6)


def load_script():
    spec = importlib.util.spec_from_file_location("train_word_vectors", REPO / "scripts" / "train_word_vectors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_training_script_writes_word2vec_binary_and_scores(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(Path(datapath("lee_background.cor")).read_text(encoding="utf-8"), encoding="utf-8")
    output = tmp_path / "vectors.bin"
    model = load_script().main(["--dataset_name", "text", "--data_files", str(corpus), "--split", "train",
                                "--method", "skipgram", "--vector_size", "8", "--min_count", "3", "--epochs", "1",
                                "--workers", "1", "--output_file", str(output), "--plot_file", str(tmp_path / "p.png")])
    assert detect_vector_format(output) == "word2vec-binary"
    saved = KeyedVectors.load_word2vec_format(str(output), binary=True)
    assert saved.index_to_key == model.wv.index_to_key and model.sg == 1
    scores = json.loads((tmp_path / "vectors.bin.eval.json").read_text())
    assert 0.0 <= scores["analogy_accuracy"] <= 1.0 and "simlex999" in scores
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
