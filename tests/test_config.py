import pytest

from hf_rnn import RNNConfig


@pytest.mark.parametrize(
    "field, value",
    [
        ("cell_type", "transformer"),
        ("hidden_size", 0),
        ("num_hidden_layers", -1),
        ("embedding_size", 2.5),
        ("vocab_size", 0),
        ("weight_dropout", 1.0),
        ("input_dropout", -0.1),
        ("classifier_pooling", "attention"),
        ("classifier_hidden_size", -3),
        ("problem_type", "ranking"),
        ("input_size", 0),
    ],
)
def test_invalid_value_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        RNNConfig(**{field: value})


def test_pad_token_must_be_in_vocabulary():
    with pytest.raises(ValueError, match="pad_token_id"):
        RNNConfig(vocab_size=10, pad_token_id=10)


def test_round_trip_keeps_every_field(tmp_path):
    config = RNNConfig(cell_type="gru", vocab_size=99, hidden_size=7, bidirectional=True, weight_dropout=0.3,
                       classifier_pooling="max", num_labels=3, problem_type="single_label_classification")
    config.save_pretrained(tmp_path)
    loaded = RNNConfig.from_pretrained(tmp_path)
    for field in ("cell_type", "vocab_size", "hidden_size", "bidirectional", "weight_dropout",
                  "classifier_pooling", "num_labels", "problem_type", "tie_word_embeddings"):
        assert getattr(loaded, field) == getattr(config, field), field
    assert loaded.output_size == 14


def test_chunked_classification_rejects_bidirectional():
    with pytest.raises(ValueError, match="classifier_chunk_size"):
        RNNConfig(classifier_chunk_size=64, bidirectional=True)


@pytest.mark.parametrize("field, value", [("lm_loss", "nce"), ("num_sampled", 0), ("classifier_chunk_size", -1)])
def test_training_options_are_validated(field, value):
    with pytest.raises(ValueError, match=field):
        RNNConfig(**{field: value})
