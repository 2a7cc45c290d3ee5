"""load_labelled_texts: any labelled text typed for its task, and every bad input a one-line error naming the fix."""

import json

import datasets
import pandas as pd
import pytest

from hf_rnn.data import classification_features, label_names_of, load_labelled_texts, problem_type_of
from hf_rnn.data.labelled import hide_labels
from hf_rnn.tokenization import train_word_level_tokenizer


def write_csv(path, rows):
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(row) for row in rows))
    return str(path)


TOPICS = {"sport": "goal match team", "tech": "code chip cloud", "food": "bread soup spice"}


def topic_rows(n=30):
    return [{"title": f"story {i}", "body": f"{TOPICS[name]} number {i}", "topic": name}
            for i in range(n) for name in TOPICS]


def test_string_labels_get_sorted_names_and_a_stratified_validation_cut(tmp_path):
    train = write_csv(tmp_path / "train.csv", topic_rows())
    dsd = load_labelled_texts(train_file=train, text_columns=["title", "body"], label_column="topic",
                              validation_size=0.2, seed=0)
    feature = dsd["train"].features["label"]
    assert feature.names == ["food", "sport", "tech"]
    assert problem_type_of(feature) == "single_label_classification"
    assert sorted(dsd) == ["train", "validation"]
    assert len(dsd["validation"]) == 18
    # stratified: each class keeps its share in the validation cut
    assert sorted(pd.Series(dsd["validation"]["label"]).value_counts().tolist()) == [6, 6, 6]
    first = dsd["train"][0]
    assert first["text"].startswith("story ") and any(words in first["text"] for words in TOPICS.values())


def test_label_names_name_integer_ids(tmp_path):
    rows = [{"text": f"q {i}", "label": i % 3} for i in range(12)]
    dsd = load_labelled_texts(train_file=write_csv(tmp_path / "t.csv", rows), label_names=["a", "b", "c"],
                              validation_size=0.25)
    assert dsd["train"].features["label"].names == ["a", "b", "c"]
    assert {row["label"] for row in dsd["validation"]} == {0, 1, 2}


def test_multi_label_lists_and_delimited_strings(tmp_path):
    rows = [{"text": f"post {i}", "tags": ["x", "y"][: 1 + i % 2]} for i in range(10)]
    dsd = load_labelled_texts(train_file=write_jsonl(tmp_path / "t.jsonl", rows), label_column="tags",
                              validation_size=0.2)
    feature = dsd["train"].features["label"]
    assert problem_type_of(feature) == "multi_label_classification" and label_names_of(feature) == ["x", "y"]
    delimited = [{"text": f"post {i}", "tags": "x;y" if i % 2 else "y"} for i in range(10)]
    dsd = load_labelled_texts(train_file=write_csv(tmp_path / "d.csv", delimited), label_column="tags",
                              label_delimiter=";", validation_size=0.2, seed=1)
    rows = {row["text"]: row["label"] for split in dsd.values() for row in split}
    assert rows["post 3"] == [0, 1] and rows["post 4"] == [1]


def test_multi_label_features_are_multi_hot(tmp_path):
    rows = [{"text": f"w{i} w{i + 1}", "tags": [["a"], ["b"], ["a", "c"]][i % 3]} for i in range(9)]
    dsd = load_labelled_texts(train_file=write_jsonl(tmp_path / "t.jsonl", rows), label_column="tags",
                              validation_size=3)
    tok = train_word_level_tokenizer(iter([dsd["train"]["text"]]), vocab_size=50, min_frequency=1)
    features = classification_features(dsd["train"], tok, target="label")
    by_text = {tok.decode(row["input_ids"]): row["labels"] for row in features}
    for row in dsd["train"]:
        expected = [1.0 if i in row["label"] else 0.0 for i in range(3)]
        assert by_text[tok.decode(tok(row["text"])["input_ids"])] == expected


def test_float_labels_are_regression(tmp_path):
    rows = [{"text": f"t {i}", "score": i / 3} for i in range(12)]
    dsd = load_labelled_texts(train_file=write_csv(tmp_path / "t.csv", rows), label_column="score",
                              validation_size=0.25)
    assert problem_type_of(dsd["train"].features["label"]) == "regression"
    assert sorted([*dsd["train"]["label"], *dsd["validation"]["label"]]) == pytest.approx([i / 3 for i in range(12)])


def test_unlabelled_text_joins_as_its_own_split(tmp_path):
    train = write_csv(tmp_path / "train.csv", topic_rows(4))
    more = tmp_path / "more.txt"
    more.write_text("first line\n\nsecond line\n")
    dsd = load_labelled_texts(train_file=train, text_columns=["body"], label_column="topic",
                              unlabeled_files=[str(more)], validation_size=0.25)
    assert list(dsd["unsupervised"]["text"]) == ["first line", "second line"]
    assert dsd["unsupervised"].column_names == ["text"]


def test_a_source_unsupervised_split_is_unlabelled_text(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    write_csv(folder / "train-00000-of-00001.csv", [{"text": f"a {i}", "label": i % 2} for i in range(8)])
    write_csv(folder / "unsupervised-00000-of-00001.csv", [{"text": "free text", "label": -1}])
    (folder / "README.md").write_text(  # the Hub's layout names its splits in the card, as IMDB's does
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: train-*.csv\n"
        "  - split: unsupervised\n    path: unsupervised-*.csv\n---\n")
    dsd = load_labelled_texts(dataset=str(folder), validation_size=0.25)
    assert list(dsd["unsupervised"]["text"]) == ["free text"]
    assert dsd["train"].features["label"].names == ["0", "1"]


# Bad input: each a one-line error naming the problem and the fix.

def test_missing_label_column_lists_columns_and_suggests(tmp_path):
    train = write_csv(tmp_path / "t.csv", topic_rows(2))
    with pytest.raises(ValueError, match=r"no column 'topc'.*columns: \['title', 'body', 'topic'\].*'topic'"):
        load_labelled_texts(train_file=train, text_columns=["body"], label_column="topc")


def test_one_class_only(tmp_path):
    train = write_csv(tmp_path / "t.csv", [{"text": f"a {i}", "label": "x"} for i in range(5)])
    with pytest.raises(ValueError, match="one class only"):
        load_labelled_texts(train_file=train)


def test_a_test_class_never_seen_in_train(tmp_path):
    train = write_csv(tmp_path / "t.csv", [{"text": f"a {i}", "label": "xy"[i % 2]} for i in range(8)])
    test = write_csv(tmp_path / "s.csv", [{"text": "b", "label": "z"}])
    with pytest.raises(ValueError, match=r"label 'z'.*train never has"):
        load_labelled_texts(train_file=train, test_file=test, validation_size=0.25)


def test_empty_text(tmp_path):
    train = write_csv(tmp_path / "t.csv", [{"text": "" if i == 3 else f"a {i}", "label": i % 2} for i in range(8)])
    with pytest.raises(ValueError, match=r"row 4: the text is empty.*--empty_texts drop"):
        load_labelled_texts(train_file=train)
    kept = load_labelled_texts(train_file=train, empty_texts="drop", validation_size=0.25)
    assert len(kept["train"]) + len(kept["validation"]) == 7


def test_fractional_labels_for_classification(tmp_path):
    train = write_csv(tmp_path / "t.csv", [{"text": f"a {i}", "label": i / 2} for i in range(8)])
    with pytest.raises(ValueError, match="fractional.*--problem_type regression"):
        load_labelled_texts(train_file=train, problem_type="single_label_classification")


def test_mixed_multi_label_types(tmp_path):
    rows = [{"text": f"a {i}", "tags": ["x", 3] if i == 2 else ["x"]} for i in range(6)]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows))
    with pytest.raises((ValueError, datasets.exceptions.DatasetGenerationError, Exception), match="mix|type"):
        load_labelled_texts(train_file=str(path), label_column="tags")


def test_non_string_text_column(tmp_path):
    train = write_csv(tmp_path / "t.csv", [{"text": f"a {i}", "n": i, "label": i % 2} for i in range(8)])
    with pytest.raises(ValueError, match=r"text column 'n' holds int .* not a string"):
        load_labelled_texts(train_file=train, text_columns=["n"])


def test_no_data_at_all():
    with pytest.raises(ValueError, match="--dataset .* or --train_file"):
        load_labelled_texts()


def test_hidden_labels_keep_a_stratified_share_and_their_text_becomes_unlabelled(tmp_path):
    train = write_csv(tmp_path / "train.csv", topic_rows(20))
    dsd = load_labelled_texts(train_file=train, text_columns=["body"], label_column="topic", validation_size=6)
    few = hide_labels(dsd, 0.25, seed=0)
    assert len(few["train"]) == 14 and len(few["unsupervised"]) == 40
    assert sorted(pd.Series(few["train"]["label"]).value_counts().tolist()) == [4, 5, 5]
    assert sorted([*few["train"]["text"], *few["unsupervised"]["text"]]) == sorted(dsd["train"]["text"])
    assert list(few["validation"]["text"]) == list(dsd["validation"]["text"])
    with pytest.raises(ValueError, match="--labelled_fraction"):
        hide_labels(dsd, 54)
