"""Dataset pipelines: cached tokenisation, LM blocks and streams, classification targets, batching."""

from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, Trainer, TrainingArguments

from hf_rnn.data import (
    LengthGroupedTrainer,
    check_stream_training_args,
    classification_collator,
    classification_features,
    length_grouped_batches,
    lm_blocks,
    lm_collator,
    load_reviews,
    padded_fraction,
    tokenize_column,
    tokenizer_fingerprint,
)
from hf_rnn.data import tokenize as tokenize_module
from hf_rnn.tokenization import train_word_level_tokenizer

from conftest import local_imdb, needs_imdb

IMDB = local_imdb()
# Documents made of distinct words w0..w99, so every token tells where in the stream it came from.
DOCS = [" ".join(f"w{i}" for i in range(start, start + 10)) for start in range(0, 100, 10)]


@pytest.fixture(scope="module")
def tok():
    return train_word_level_tokenizer(DOCS, min_frequency=1)


@pytest.fixture
def reviews(tmp_path):
    """A file-backed dataset (so `map` writes and reuses cache files)."""
    ds = datasets.Dataset.from_dict(
        {"text": ["Good film.", "Bad, bad film!", "Meh.", "w1 " * 30 + "w2"], "label": [1, 0, 0, 1], "rating": [8, 1, 3, 9]}
    )
    ds.save_to_disk(tmp_path / "reviews")
    return datasets.load_from_disk(tmp_path / "reviews")


def _stream(tok):
    """The whole corpus as one token stream: <s> doc </s> <s> doc </s> ..."""
    return [i for doc in DOCS for i in tok(doc)["input_ids"] + [tok.eos_token_id]]


def test_tokenize_column_cache_hit_with_reloaded_tokenizer(reviews, tok, tmp_path, monkeypatch):
    first = tokenize_column(reviews, tok, keep_columns=("label",))
    assert first.column_names == ["input_ids", "length", "label"]
    assert first["length"] == [len(ids) for ids in first["input_ids"]]
    tok.save_pretrained(tmp_path / "tok")
    reloaded = AutoTokenizer.from_pretrained(tmp_path / "tok")
    reloaded(["w1 w2 w3"], padding="max_length", max_length=9, truncation=True)  # leaves state in the backend
    assert tokenizer_fingerprint(reloaded) == tokenizer_fingerprint(tok)
    monkeypatch.setattr(tokenize_module, "_tokenize_batch", lambda *a, **k: pytest.fail("cache miss: re-tokenised"))
    second = tokenize_column(reviews, reloaded, keep_columns=("label",))
    assert second.cache_files == first.cache_files and second["input_ids"] == first["input_ids"]


def test_lm_blocks_join_documents_with_eos(tok):
    blocks = lm_blocks(datasets.Dataset.from_dict({"text": DOCS}), tok, block_size=7)
    stream = _stream(tok)  # 10 docs x (1 bos + 10 words + 1 eos) = 120 tokens -> 17 blocks of 7
    assert len(blocks) == len(stream) // 7
    assert sum(blocks["input_ids"], []) == stream[: 17 * 7]
    batch = lm_collator(tok)(blocks.select(range(2)).to_list())
    assert torch.equal(batch["labels"], batch["input_ids"]) and batch["attention_mask"].all()


def test_stream_training_args_check(tmp_path):
    def args(**kw):
        return TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[], **kw)

    check_stream_training_args(args(train_sampling_strategy="sequential", per_device_train_batch_size=3), 3)
    with pytest.raises(ValueError, match="train_sampling_strategy='sequential'"):
        check_stream_training_args(args(per_device_train_batch_size=3), 3)  # default: random
    with pytest.raises(ValueError, match="must equal num_streams=3"):
        check_stream_training_args(args(train_sampling_strategy="sequential", per_device_train_batch_size=4), 3)


def test_lm_stream_order_carries_rows_across_batches(tok):
    n_streams, block = 3, 5
    rows = lm_blocks(datasets.Dataset.from_dict({"text": DOCS}), tok, block_size=block, num_streams=n_streams)
    stream = _stream(tok)
    steps = len(stream) // (n_streams * block)  # 120 // 15 = 8 batches
    assert len(rows) == steps * n_streams
    ids = np.array(rows["input_ids"]).reshape(steps, n_streams, block)  # [batch, row, block]
    for r in range(n_streams):
        # row r of batch i continues row r of batch i-1: concatenated, they are one contiguous slice
        assert ids[:, r].ravel().tolist() == stream[r * steps * block : (r + 1) * steps * block]


def test_lm_blocks_errors(tok):
    tiny = datasets.Dataset.from_dict({"text": ["w1 w2"]})
    with pytest.raises(ValueError, match="fewer than num_streams x block_size"):
        lm_blocks(tiny, tok, block_size=4, num_streams=2)
    with pytest.raises(ValueError, match="block_size must be >= 2"):
        lm_blocks(tiny, tok, block_size=1)


@pytest.mark.parametrize(
    "target,labels,dtype",
    [("binary", [1, 0, 0, 1], "int64"), ("rating10", [7, 0, 2, 8], "int64"), ("regression", [8.0, 1.0, 3.0, 9.0], "float32")],
)
def test_classification_targets(reviews, tok, target, labels, dtype):
    feats = classification_features(reviews, tok, target=target)
    assert feats.column_names == ["input_ids", "length", "labels"]
    assert feats["labels"] == labels and feats.features["labels"].dtype == dtype


def test_long_reviews_keep_their_end(reviews, tok):
    feats = classification_features(reviews, tok, max_length=8)
    last = feats[3]  # "w1 " * 30 + "w2": truncated on the left, the final word survives
    assert last["length"] == 8 == len(last["input_ids"])
    assert last["input_ids"][-1] == tok.convert_tokens_to_ids("w2")
    assert max(feats["length"]) <= 8
    whole = classification_features(reviews, tok, max_length=0)  # 0: no truncation
    assert whole[3]["length"] == 1 + 31 and whole[3]["input_ids"][:2] == [tok.bos_token_id, tok.convert_tokens_to_ids("w1")]


def test_classification_errors(tok):
    unsup = datasets.Dataset.from_dict({"text": ["x"], "label": [-1], "rating": [0]})
    assert list(classification_features(datasets.DatasetDict({"unsupervised": unsup}), tok)) == []  # left out
    with pytest.raises(ValueError, match="label -1"):
        classification_features(unsup, tok)
    with pytest.raises(ValueError, match="rating outside 1..10"):
        classification_features(unsup, tok, target="rating10")
    hub_like = datasets.Dataset.from_dict({"text": ["x"], "label": [1]})
    with pytest.raises(ValueError, match="needs a 'rating' column.*Hub has no ratings"):
        classification_features(hub_like, tok, target="regression")
    with pytest.raises(ValueError, match="Unknown target"):
        classification_features(hub_like, tok, target="stars")


def test_collator_pads_right_to_longest_and_drops_length(reviews, tok):
    feats = classification_features(reviews, tok)
    batch = classification_collator(tok)(feats.select(range(3)).to_list())
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    lengths = feats["length"][:3]
    assert batch["input_ids"].shape == (3, max(lengths))
    assert batch["attention_mask"].sum(1).tolist() == lengths
    assert batch["input_ids"][batch["attention_mask"] == 0].eq(tok.pad_token_id).all()
    assert batch["attention_mask"][:, 0].all()  # right padding: real tokens first


def test_padded_fraction():
    lengths = [10, 10, 5, 5]
    assert padded_fraction(lengths, [[0, 2], [1, 3]]) == pytest.approx(0.25)
    assert padded_fraction(lengths, [[0, 1], [2, 3]]) == 0.0
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 500, 2000).tolist()
    batches = length_grouped_batches(lengths, 32)
    assert sorted(i for b in batches for i in b) == list(range(2000))
    assert padded_fraction(lengths, batches) < 0.1 < padded_fraction(lengths, [list(range(i, min(i + 32, 2000))) for i in range(0, 2000, 32)])


class _FirstTokenModel(torch.nn.Module):
    """Predicts its input's first token id, so predictions reveal the row order."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, input_ids, attention_mask=None, labels=None):
        logits = input_ids[:, :1].float() * self.scale  # [batch, 1]
        loss = ((logits.squeeze(1) - labels.float()) ** 2).mean() if labels is not None else None
        return {"loss": loss, "logits": logits}


def _trainer(cls, dataset, tok, tmp_path):
    args = TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=4, per_device_eval_batch_size=4,
        train_sampling_strategy="group_by_length", use_cpu=True, report_to=[], seed=0,
    )
    return cls(model=_FirstTokenModel(), args=args, train_dataset=dataset, data_collator=classification_collator(tok), processing_class=tok)


def test_trainer_predict_keeps_order_and_trains_grouped_by_length_column(tok, tmp_path):
    n = 40
    ds = datasets.Dataset.from_dict(
        {"input_ids": [[i + 1] * (1 + (7 * i) % 23) for i in range(n)], "labels": [0.0] * n}
    ).map(lambda r: {"length": len(r["input_ids"])})
    stock = _trainer(Trainer, ds, tok, tmp_path).predict(ds).predictions[:, 0]
    assert stock.tolist() != list(range(1, n + 1))  # the problem: stock group_by_length permutes predict()
    trainer = _trainer(LengthGroupedTrainer, ds, tok, tmp_path)
    assert trainer.predict(ds).predictions[:, 0].tolist() == list(range(1, n + 1))
    sampler = trainer._get_train_sampler()
    assert sampler.lengths == ds["length"]  # read from the column, not re-measured
    batches = [list(sampler)[i : i + 4] for i in range(0, n, 4)]
    assert padded_fraction(ds["length"], batches) < padded_fraction(ds["length"], [list(range(i, i + 4)) for i in range(0, n, 4)])


@needs_imdb
def test_real_imdb_slice_end_to_end():
    dsd = load_reviews(IMDB)
    train = dsd["train"].select(range(12_400, 12_600))  # 100 neg + 100 pos (rows sorted by label)
    tok = train_word_level_tokenizer(train["text"], vocab_size=2_000, min_frequency=2)
    feats = classification_features(train, tok, target="rating10", max_length=256)
    assert sorted(set(feats["labels"])) == [0, 1, 2, 3, 6, 7, 8, 9]  # IMDB has no 5- or 6-star reviews
    assert max(feats["length"]) == 256
    assert "<br" not in tok.decode(feats[0]["input_ids"]) and tok.unk_token_id in sum(feats["input_ids"], [])
