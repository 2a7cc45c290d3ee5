"""Shared fixtures: tiny configs and a tiny word-level tokenizer, built in the test (no downloads)."""

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from hf_rnn import RNNConfig

TINY_WORDS = (
    "<pad> <unk> <s> </s> the a movie film was is great good bad awful boring fun i loved hated it "
    "and but not very plot acting . , !"
).split()


def tiny_config(**overrides) -> RNNConfig:
    """A model small enough that every test runs in milliseconds."""
    settings = dict(vocab_size=len(TINY_WORDS), embedding_size=8, hidden_size=12, num_hidden_layers=2,
                    pad_token_id=0, bos_token_id=2, eos_token_id=3, classifier_hidden_size=6)
    settings.update(overrides)
    return RNNConfig(**settings)


@pytest.fixture
def tokenizer() -> PreTrainedTokenizerFast:
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(TINY_WORDS)}, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=True)  # joins words with spaces, glues punctuation
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>", bos_token="<s>", eos_token="</s>",
        model_input_names=["input_ids", "attention_mask"], model_max_length=512,
    )


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
