"""LM pretraining on any corpus: sources, the seeded held-out split, streamed stream order, several processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest
from datasets.distributed import split_dataset_by_node
from transformers import AutoTokenizer, TrainingArguments

from hf_rnn.data import load_text_corpus, materialize, stream_ordered_blocks, streamed_lm_blocks
from hf_rnn.tokenization import train_word_level_tokenizer
from hf_rnn.training import CorpusArguments, DataArguments, ModelArguments, TokenizerArguments, ULMFiTArguments
from hf_rnn.training import pretrain_on_corpus

ROOT = Path(__file__).resolve().parents[1]
FILLER = ("the", "of", "and")


def document(name: str, i: int, words: int = 6) -> str:
    """A document whose content words occur nowhere else (so each token tells where it came from), with filler words
    in between (so a model has something to learn)."""
    return " ".join(f"{name}{i}x{j}" if j % 2 else FILLER[(i + j) % 3] for j in range(words))


def write_corpus(folder: Path, names=("a", "b"), lines: int = 30) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        path = folder / f"{name}.txt"
        path.write_text("\n".join([document(name, i) for i in range(lines)] + [""]) + "\n")  # a blank line is dropped
        paths.append(path)
    return paths


@pytest.fixture
def files(tmp_path):
    return [str(p) for p in write_corpus(tmp_path / "corpus")]


@pytest.fixture
def tok(files):
    texts = [line for f in files for line in Path(f).read_text().splitlines() if line]
    return train_word_level_tokenizer(texts, min_frequency=1, vocab_size=1_000)


def doc_ids(tokenizer, text):
    return tokenizer(text)["input_ids"] + [tokenizer.eos_token_id]


def test_stream_ordered_blocks_deal_documents_to_the_shortest_stream():
    docs = [[1, 2, 3], [4, 5, 6, 7, 8], [9, 10], [11, 12, 13, 14]]
    # streams: 0 <- [1 2 3], 1 <- [4 .. 8]; step 0; 0 (shorter) <- [9 10]; step 1; 0 <- [11 ..] but 1 holds < 2
    assert list(stream_ordered_blocks(docs, block_size=2, num_streams=2)) == [[1, 2], [4, 5], [3, 9], [6, 7]]


def test_streamed_rows_continue_the_same_row_of_the_previous_batch(files, tok):
    corpus = load_text_corpus(train_file=files, validation_size=0.2, streaming=True)
    n_streams, block = 3, 5
    rows = [row["input_ids"] for row in streamed_lm_blocks(corpus["train"], tok, block, n_streams)]
    steps = len(rows) // n_streams
    assert len(rows) == steps * n_streams and steps > 5
    ids = np.array(rows).reshape(steps, n_streams, block)  # [batch, row, block]
    documents = {tuple(doc_ids(tok, text)): i for i, text in enumerate(materialize(corpus["train"])["text"])}
    seen = []
    for r in range(n_streams):
        stream = ids[:, r].ravel().tolist()  # row r of every batch, in batch order
        pieces = _split_after_eos(stream, tok.eos_token_id)
        order = [documents[tuple(piece)] for piece in pieces[:-1]]  # each finished piece is one whole document...
        assert order == sorted(order)  # ...in corpus order: row r of batch i continued row r of batch i-1
        assert tuple(pieces[-1]) in {doc[: len(pieces[-1])] for doc in documents}  # the cut one starts a document
        seen += order
    assert len(seen) == len(set(seen)) and len(seen) > 0.8 * len(documents)  # no document twice, few lost at the end


def _split_after_eos(ids, eos):
    pieces, current = [], []
    for i in ids:
        current.append(i)
        if i == eos:
            pieces.append(current)
            current = []
    return pieces + [current]


def test_each_process_streams_its_own_part_of_the_corpus(files, tok):
    corpus = load_text_corpus(train_file=files, validation_size=0.2, streaming=True)
    blocks = streamed_lm_blocks(corpus["train"], tok, block_size=4, num_streams=2, world_size=2)
    assert blocks.n_shards == 2  # accelerate gives process k shard k
    per_rank = [{i for row in blocks.shard(num_shards=2, index=k) for i in row["input_ids"]} for k in range(2)]
    content = {i for t, i in tok.get_vocab().items() if "x" in t}  # the words that occur in one document only
    assert not (per_rank[0] & per_rank[1] & content)
    for k in range(2):
        own = split_dataset_by_node(corpus["train"], rank=k, world_size=2)
        own_words = {i for row in own for i in tok(row["text"])["input_ids"]}
        assert per_rank[k] & content <= own_words


def test_held_out_split_is_seeded_the_same_streamed_or_not_and_never_trains(files):
    in_memory = load_text_corpus(train_file=files, validation_size=0.25, seed=1)
    streamed = load_text_corpus(train_file=files, validation_size=0.25, seed=1, streaming=True)
    held_out = in_memory["validation"]["text"]
    assert held_out == materialize(streamed["validation"])["text"]
    assert in_memory["train"]["text"] == materialize(streamed["train"])["text"]
    assert not set(held_out) & set(in_memory["train"]["text"])
    assert len(held_out) + len(in_memory["train"]) == 60  # blank lines dropped
    assert 5 <= len(held_out) <= 25
    other_seed = load_text_corpus(train_file=files, validation_size=0.25, seed=2)["validation"]["text"]
    assert other_seed != held_out


def test_corpus_sources(tmp_path, files):
    folder = tmp_path / "hub_like"  # what datasets.load_dataset(dataset_name) reads for a Hub id or a folder
    write_corpus(folder, names=("train", "validation"), lines=8)
    from_folder = load_text_corpus(dataset_name=str(folder))
    assert from_folder["validation"]["text"] == [document("validation", i) for i in range(8)]
    with_file = load_text_corpus(train_file=files[:1], validation_file=files[1:])
    assert with_file["validation"]["text"] == [document("b", i) for i in range(30)]
    per_file = load_text_corpus(train_file=files, validation_file=files[:1], sample_by="document", streaming=True)
    assert len(materialize(per_file["train"])) == 2
    csv = tmp_path / "docs.csv"
    datasets.Dataset.from_dict({"body": ["one two", "three four"] * 10, "id": list(range(20))}).to_csv(csv)
    from_csv = load_text_corpus(train_file=[str(csv)], text_column="body", validation_size=0.5)
    assert from_csv["train"].column_names == ["text"]


def test_review_sources_give_their_text_without_labels_streamed_or_not(tmp_path):
    reviews = tmp_path / "reviews.csv"
    datasets.Dataset.from_dict({"text": [document("r", i) for i in range(40)], "label": [i % 2 for i in range(40)],
                                "rating": [1 + i % 10 for i in range(40)]}).to_csv(reviews)
    in_memory = load_text_corpus(reviews=str(reviews), validation_size=0.25)
    streamed = load_text_corpus(reviews=str(reviews), validation_size=0.25, streaming=True)
    assert in_memory["train"].column_names == ["text"] and len(in_memory["validation"]) == 10  # stratified, seeded
    for split in ("train", "validation"):
        assert in_memory[split]["text"] == materialize(streamed[split])["text"]
    assert not set(in_memory["train"]["text"]) & set(in_memory["validation"]["text"])


def test_corpus_errors(tmp_path, files):
    with pytest.raises(ValueError, match="either dataset_name"):
        load_text_corpus(dataset_name="wikitext", train_file=files)
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        load_text_corpus(train_file=[str(tmp_path / "missing.txt")])
    other = tmp_path / "x.csv"
    other.write_text("text\nhello\n")
    with pytest.raises(ValueError, match="share one type"):
        load_text_corpus(train_file=[files[0], str(other)])
    with pytest.raises(ValueError, match="no column 'body'"):
        load_text_corpus(train_file=files, text_column="body")
    with pytest.raises(ValueError, match="validation_size must be a fraction"):
        load_text_corpus(train_file=files, validation_size=0)


def tiny_run(**overrides):
    """The arguments of a seconds-long LM run (the script's dataclasses, as HfArgumentParser fills them)."""
    corpus = CorpusArguments(**{k: v for k, v in overrides.items() if k in CorpusArguments.__dataclass_fields__})
    data = DataArguments(block_size=8, lm_streams=2, validation_size=0.2, max_lm_eval_documents=20)
    tokenizer = TokenizerArguments(vocab_size=1_000, min_frequency=1)
    model = ModelArguments(config_overrides="embedding_size=16,hidden_size=16,lm_loss=full")
    training = TrainingArguments(output_dir=overrides["output_dir"], per_device_train_batch_size=2, max_steps=4,
                                 learning_rate=0.01, train_sampling_strategy="sequential", report_to=[], use_cpu=True,
                                 save_strategy="no", logging_steps=1)
    return corpus, data, tokenizer, model, ULMFiTArguments(), training


@pytest.mark.parametrize("streaming", [False, True])
def test_pretrain_on_text_files_reports_perplexity(tmp_path, files, streaming):
    out = tmp_path / "lm"
    metrics = pretrain_on_corpus(*tiny_run(train_file=files, streaming=streaming, output_dir=str(out)))
    assert metrics["streaming"] == streaming and np.isfinite(metrics["eval_perplexity"])
    assert json.loads((out / "stage_done.json").read_text())["eval_perplexity"] == metrics["eval_perplexity"]
    saved = AutoTokenizer.from_pretrained(out).get_vocab()
    assert saved == AutoTokenizer.from_pretrained(out / "tokenizer").get_vocab()


def test_a_stream_needs_max_steps(tmp_path, files):
    *args, training = tiny_run(train_file=files, streaming=True, output_dir=str(tmp_path))
    training.max_steps = -1
    with pytest.raises(ValueError, match="--max_steps"):
        pretrain_on_corpus(*args, training)


def run_lm_under_torchrun(files, out, max_steps):
    """scripts/run_lm.py in 2 processes (gloo, CPU), streamed, recording what each rank trains on."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    args = ["tests/lm_batch_recorder.py", "--output_dir", str(out), "--train_file", *files, "--streaming",
            "--validation_size", "0.2", "--vocab_size", "1000", "--min_frequency", "1",
            "--config_overrides", "embedding_size=16,hidden_size=16,lm_loss=full", "--block_size", "8",
            "--per_device_train_batch_size", "2", "--lm_streams", "2", "--max_steps", str(max_steps),
            "--save_steps", "3", "--learning_rate", "0.02",
            "--logging_steps", "1", "--report_to", "none", "--use_cpu", "--ddp_backend", "gloo", "--seed", "3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(launcher + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-4000:]


def test_two_processes_stream_their_own_shards_resume_and_learn(tmp_path, files):
    out = tmp_path / "lm"
    run_lm_under_torchrun(files, out, max_steps=3)  # saves checkpoint-3
    (out / "stage_done.json").unlink()  # as if killed after the checkpoint: the rerun resumes from it
    run_lm_under_torchrun(files, out, max_steps=6)
    tokenizer = AutoTokenizer.from_pretrained(out / "tokenizer")
    corpus = load_text_corpus(train_file=files, validation_size=0.2, streaming=True, seed=3)
    expected = streamed_lm_blocks(corpus["train"], tokenizer, block_size=8, num_streams=2, world_size=2)
    content = {i for t, i in tokenizer.get_vocab().items() if "x" in t}
    seen = []
    for rank in range(2):
        batches = [json.loads(line) for line in (out / f"batches_rank{rank}.jsonl").read_text().splitlines()]
        own_rows = [row["input_ids"] for row in expected.shard(num_shards=2, index=rank).take(12)]
        # steps 1-3, then (resumed) 4-6: exactly this rank's stream, batch after batch, rows continuing
        assert [row for batch in batches for row in batch] == own_rows
        seen.append({i for batch in batches for row in batch for i in row} & content)
    assert seen[0] and seen[1] and not seen[0] & seen[1]  # the ranks trained on disjoint text
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    losses = [log["loss"] for log in history if "loss" in log]
    assert len(losses) == 6 and losses[-1] < losses[0]
