"""hf_rnn through transformers' own machinery: pipeline(), Trainer, save -> load."""

import pytest
import torch
from datasets import Dataset
from transformers import DataCollatorWithPadding, Trainer, TrainingArguments, pipeline

from hf_rnn import RNNForCausalLM, RNNForSequenceClassification
from conftest import tiny_config

REVIEWS = ["i loved it , great fun", "awful and boring", "the plot was not very good but the acting was great !",
           "bad", "a good film"]
LABELS = {0: "NEGATIVE", 1: "POSITIVE"}


def tiny_classifier():
    config = tiny_config(num_labels=2, id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    return RNNForSequenceClassification(config).eval()


def test_text_classification_pipeline_batch_equals_one_by_one(tokenizer):
    classify = pipeline("text-classification", model=tiny_classifier(), tokenizer=tokenizer)
    batched = classify(REVIEWS, batch_size=4)
    single = [classify(review)[0] for review in REVIEWS]
    assert {r["label"] for r in batched} <= set(LABELS.values())
    for b, s in zip(batched, single):
        assert b["label"] == s["label"] and abs(b["score"] - s["score"]) < 1e-5


def test_text_generation_pipeline(tokenizer):
    generate = pipeline("text-generation", model=RNNForCausalLM(tiny_config()).eval(), tokenizer=tokenizer)
    outputs = generate(["the movie was", "i loved"], max_new_tokens=4, do_sample=False, batch_size=2)
    texts = [o[0]["generated_text"] for o in outputs]
    assert texts[0].startswith("the movie was") and texts[1].startswith("i loved")


def test_feature_extraction_pipeline(tokenizer):
    extract = pipeline("feature-extraction", model=tiny_classifier().model, tokenizer=tokenizer)
    features = extract("the movie was great")
    assert torch.tensor(features).shape == (1, 4, 12)


def test_trainer_lowers_the_loss_and_the_model_round_trips(tokenizer, tmp_path):
    data = Dataset.from_dict({"text": REVIEWS * 8, "label": [1, 0, 1, 0, 1] * 8})
    data = data.map(lambda batch: tokenizer(batch["text"]), batched=True, remove_columns=["text"])
    model = tiny_classifier().train()
    args = TrainingArguments(output_dir=str(tmp_path / "run"), per_device_train_batch_size=8, num_train_epochs=8,
                             learning_rate=0.02, logging_steps=5, report_to=[], save_strategy="no", use_cpu=True,
                             seed=0)
    trainer = Trainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                      data_collator=DataCollatorWithPadding(tokenizer))
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert losses[-1] < 0.5 * losses[0], losses
    trainer.save_model(tmp_path / "saved")
    loaded = RNNForSequenceClassification.from_pretrained(tmp_path / "saved").eval()
    batch = tokenizer(REVIEWS, return_tensors="pt", padding=True)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch).logits, model.eval()(**batch).logits)
    assert loaded.config.id2label == LABELS


def test_ten_class_rating_model_predicts_its_posterior_median(tokenizer):
    from hf_rnn.data.classification import id2label
    from hf_rnn.inference import predict_reviews

    labels = id2label("rating10")
    config = tiny_config(num_labels=10, id2label=labels, label2id={v: k for k, v in labels.items()})
    model = RNNForSequenceClassification(config).eval()
    with torch.no_grad():  # a head that is sure of nothing but the bias: P(1 star) = .3, P(4) = .15, P(8) = .55
        model.classifier.out_proj.weight.zero_()
        model.classifier.out_proj.bias.copy_(torch.log(torch.tensor([.3, 0, 0, .15, 0, 0, 0, .55, 0, 0]) + 1e-9))
    classify = pipeline("text-classification", model=model, tokenizer=tokenizer)
    [result] = predict_reviews(classify, ["a good film"])
    # The median (cumulative .3, .45, then .55 + .45 >= .5 at 8 stars) is also the mode here; shift mass to see both.
    assert result == {"rating": 8.0, "label": "8 stars", "score": pytest.approx(0.55, abs=1e-3)}
    with torch.no_grad():
        model.classifier.out_proj.bias.copy_(torch.log(torch.tensor([.4, 0, .2, 0, 0, 0, 0, .0, .4, 0]) + 1e-9))
    [result] = predict_reviews(classify, ["a good film"])
    assert result["rating"] == 3.0 and result["label"] == "3 stars"  # the label names the served median, not a mode
