"""Shared fixtures: tiny configs and a tiny word-level tokenizer, built in the test (no downloads); the local IMDB
copy, when there is one."""

import os
import random
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from hf_rnn import RNNConfig
from hf_rnn.data import default_imdb_path

# CI clones the repository into a folder with shared/ copied beside it: point the library at that IMDB copy, as a
# user would with the variable (the library itself knows no folder).
CI_IMDB_COPY = Path(__file__).resolve().parents[1].parent / "shared/data/imdb"
if CI_IMDB_COPY.is_dir():
    os.environ.setdefault("HF_RNN_IMDB_PATH", str(CI_IMDB_COPY))


def local_imdb() -> Path | None:
    """The IMDB copy `$HF_RNN_IMDB_PATH` names, when it exists."""
    path = default_imdb_path()
    return path if path is not None and path.exists() else None


needs_imdb = pytest.mark.skipif(local_imdb() is None, reason="no local IMDB copy: set HF_RNN_IMDB_PATH")

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


REVIEW_WORDS = {"pos": "great superb moving loved fun".split(), "neg": "awful boring dull hated bad".split(),
                "unsup": "great awful loved hated".split(), "any": "the film movie was a and plot acting it i".split()}
# The main job on write_tiny_acl_imdb's reviews in seconds: the quick preset, cut down (job, data, tokenizer, model
# and TrainingArguments fields, as `hf-rnn imdb` takes them on its command line or in a .yaml file).
TINY_JOB = {"preset": "quick", "max_lm_documents": 40, "max_train_samples": 36, "max_eval_samples": 4,
            "max_test_samples": 12, "max_lm_eval_documents": 4, "max_length": 32, "block_size": 4, "vocab_size": 60,
            "min_frequency": 1,
            "config_overrides": "embedding_size=8,hidden_size=8,num_sampled=8,classifier_hidden_size=4",
            "max_steps": 2, "save_steps": 2, "logging_steps": 1}


def command_line(settings: dict) -> list[str]:
    """`{"name": value}` -> `["--name", "value"]`, as a script's command line."""
    return [part for name, value in settings.items() for part in (f"--{name}", str(value))]


def write_tiny_acl_imdb(root: Path, seed: int = 0, scale: int = 1, words: tuple[int, int] = (8, 20)) -> Path:
    """An aclImdb folder of short made-up reviews whose words give their polarity away: train, test, unsup (20, 20,
    6, 6 and 12 reviews, times `scale`; `words`: the fewest and most words of a review)."""
    rng = random.Random(seed)
    counts = {("train", "pos"): 20, ("train", "neg"): 20, ("test", "pos"): 6, ("test", "neg"): 6,
              ("train", "unsup"): 12}
    for (split, polarity), count in counts.items():
        folder = root / "aclImdb" / split / polarity
        folder.mkdir(parents=True)
        for review_id in range(count * scale):
            rating = {"pos": rng.randint(7, 10), "neg": rng.randint(1, 4), "unsup": 0}[polarity]
            vocabulary = REVIEW_WORDS["any"] + REVIEW_WORDS[polarity]
            text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(*words)))
            (folder / f"{review_id}_{rating}.txt").write_text(text + " .", encoding="utf-8")
    return root / "aclImdb"
