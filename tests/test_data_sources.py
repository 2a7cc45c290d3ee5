"""Sources -> DatasetDict: Hub id (recorded, no network), parquet folder, aclImdb folder/tarball, files."""

import io
import tarfile
from collections import Counter
from pathlib import Path

import datasets
import pytest

from hf_rnn.data import sources
from hf_rnn.data.sources import add_validation_split, default_imdb_path, load_reviews

from conftest import local_imdb, needs_imdb

IMDB = local_imdb()

# (split folder, polarity, id, rating, text)
ACL_FILES = [
    ("train", "pos", 3, 9, "Great <br />film."),
    ("train", "pos", 1, 7, "Good."),
    ("train", "neg", 0, 2, "Awful."),
    ("train", "neg", 5, 4, "Bad."),
    ("train", "unsup", 8, 0, "Whatever."),
    ("test", "pos", 200, 8, "Fine film."),
    ("test", "neg", 7, 1, "Worst."),
]


def _acl_path(split, polarity, file_id, rating):
    return f"aclImdb/{split}/{polarity}/{file_id}_{rating}.txt"


def _check_acl(dsd):
    assert sorted(dsd) == ["test", "train", "unsupervised"]
    assert dsd["test"].filter(lambda r: r["id"] == 200)[0] == {"text": "Fine film.", "label": 1, "rating": 8, "id": 200}
    assert dsd["unsupervised"][0] == {"text": "Whatever.", "label": -1, "rating": 0, "id": 8}
    assert dsd["train"]["id"] == [0, 5, 1, 3]  # sorted by (label, id), as the parquet copy
    assert dsd["train"].features["label"].names == ["neg", "pos"]


def test_acl_imdb_folder(tmp_path):
    for split, polarity, file_id, rating, text in ACL_FILES:
        file = tmp_path / _acl_path(split, polarity, file_id, rating)
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
    (tmp_path / "aclImdb/imdb.vocab").write_text("the\n")  # other files are ignored
    _check_acl(sources.load_acl_imdb(tmp_path / "aclImdb"))
    dsd = load_reviews(tmp_path)  # the folder holding aclImdb/ works too
    assert dsd["test"].column_names == ["text", "label", "rating"]


def test_acl_imdb_tarball_is_streamed_not_unpacked(tmp_path):
    tarball = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        for split, polarity, file_id, rating, text in ACL_FILES:
            data = text.encode("utf-8")
            info = tarfile.TarInfo(_acl_path(split, polarity, file_id, rating))
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    _check_acl(sources.load_acl_imdb(tarball))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aclImdb_v1.tar.gz"]  # nothing extracted
    assert load_reviews(tarball)["train"].num_rows == 4


def test_hub_id_calls_load_dataset_and_invents_no_ratings(monkeypatch, caplog):
    calls = []
    fake = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict({"text": ["good", "bad"], "label": [1, 0]}),
            "unsupervised": datasets.Dataset.from_dict({"text": ["meh"], "label": [-1]}),
        }
    )
    monkeypatch.setattr(sources.datasets, "load_dataset", lambda *a, **k: calls.append((a, k)) or fake)
    dsd = load_reviews("stanfordnlp/imdb")
    assert calls == [(("stanfordnlp/imdb",), {})]
    assert dsd["train"].column_names == ["text", "label"]  # no rating column made up
    assert dsd["unsupervised"]["label"] == [-1]
    assert "no star ratings" in caplog.text


def test_default_source_is_the_env_var_else_the_hub_never_a_workplace_path(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(sources, "load_from_hub", lambda hub_id: calls.append(hub_id) or datasets.DatasetDict())
    monkeypatch.delenv("HF_RNN_IMDB_PATH", raising=False)
    assert default_imdb_path() is None  # the library knows no folder of its own
    load_reviews()
    assert calls == ["stanfordnlp/imdb"]
    monkeypatch.setenv("HF_RNN_IMDB_PATH", str(tmp_path / "imdb"))
    assert default_imdb_path() == tmp_path / "imdb"
    with pytest.raises(FileNotFoundError, match="imdb"):  # a set variable is honoured: a typo is an error, not a
        load_reviews()                                     # silent download
    assert calls == ["stanfordnlp/imdb"]


def test_csv_and_json_files_with_mapped_columns(tmp_path):
    csv = tmp_path / "reviews.csv"
    csv.write_text("review,sentiment\nloved it,positive\nhated it,NEGATIVE\n")
    dsd = load_reviews(csv, text_column="review", label_column="sentiment")
    assert dsd["train"].to_dict() == {"text": ["loved it", "hated it"], "label": [1, 0]}
    js = tmp_path / "stars.jsonl"
    js.write_text('{"body": "ok", "stars": 8}\n{"body": "meh", "stars": 5}\n{"body": "no", "stars": 1}\n')
    dsd = load_reviews(js, text_column="body", label_column=None, rating_column="stars")
    assert dsd["train"]["label"] == [1, -1, 0] and dsd["train"]["rating"] == [8, 5, 1]  # label from rating


def test_parquet_files_per_split(tmp_path):
    for split in ("train", "test"):
        datasets.Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]}).to_parquet(tmp_path / f"{split}.parquet")
    dsd = sources.load_review_files({s: str(tmp_path / f"{s}.parquet") for s in ("train", "test")})
    assert sorted(sources.standardize_columns(dsd)) == ["test", "train"]


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such file or folder.*HF_RNN_IMDB_PATH"):
        load_reviews(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="No such file"):
        load_reviews("./not/here.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="Unknown layout.*aclImdb"):
        load_reviews(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="Unsupported file type '.txt'"):
        load_reviews(tmp_path / "notes.txt")
    csv = tmp_path / "r.csv"
    csv.write_text("review,score\nok,1\n")
    with pytest.raises(ValueError, match="no text column 'text'.*pass text_column"):
        load_reviews(csv)
    with pytest.raises(ValueError, match="neither label column 'label' nor rating column 'rating'"):
        load_reviews(csv, text_column="review")
    stars = tmp_path / "stars.csv"
    stars.write_text("review,score\nok,5\n")
    with pytest.raises(ValueError, match="not binary sentiment.*rating_column"):
        load_reviews(stars, text_column="review", label_column="score")


def test_validation_split_is_seeded_and_stratified():
    ds = datasets.Dataset.from_dict({"text": [str(i) for i in range(100)], "label": [0] * 80 + [1] * 20})
    dsd = datasets.DatasetDict({"train": ds.cast_column("label", datasets.ClassLabel(names=["neg", "pos"]))})
    a, b = add_validation_split(dsd, 0.25, seed=1), add_validation_split(dsd, 0.25, seed=1)
    assert a["validation"]["text"] == b["validation"]["text"]
    assert Counter(a["validation"]["label"]) == {0: 20, 1: 5}  # class ratio kept
    assert add_validation_split(dsd, 0.25, seed=2)["validation"]["text"] != a["validation"]["text"]
    assert a["train"].num_rows == 75 and dsd["train"].num_rows == 100
    with pytest.raises(ValueError, match="class_encode_column"):
        add_validation_split(datasets.DatasetDict({"train": ds}), 0.25)


@needs_imdb
def test_local_imdb_parquet_copy():
    dsd = load_reviews(IMDB)
    assert {k: v.num_rows for k, v in dsd.items()} == {"train": 25000, "test": 25000, "unsupervised": 50000}
    row = dsd["train"][0]
    assert row["label"] == 0 and 1 <= row["rating"] <= 4 and "<br />" in "".join(dsd["train"][:50]["text"])


def test_empty_label_or_rating_cell_names_its_row(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("text,label\ngood,1\nbad,\nok,0\n")
    with pytest.raises(ValueError, match=r"Split 'train', data row 2 \(text 'bad'\): the label cell is empty"):
        load_reviews(labels)  # was: int() argument must be ... not 'NoneType'
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("text,rating\ngood,9\nbad,\n")
    with pytest.raises(ValueError, match=r"data row 2 \(text 'bad'\): the rating cell is empty; fill it \(stars"):
        load_reviews(ratings, label_column=None)


def test_missing_relative_path_is_no_such_folder_even_where_it_could_be_a_hub_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    monkeypatch.setattr(sources.datasets, "load_dataset", lambda *a, **k: pytest.fail("asked the Hub"))
    with pytest.raises(FileNotFoundError, match=rf"No such file or folder: 'data/imdb' \(in {tmp_path}\)"):
        load_reviews("data/imdb")  # its first part is a local folder: a path, not a Hub id

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'corpus/imdb' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(sources.datasets, "load_dataset", offline)
    with pytest.raises(FileNotFoundError, match=r"No such file or folder: 'corpus/imdb'.*no Hub dataset of that name"):
        load_reviews("corpus/imdb")  # path or Hub id: the error says it is neither
