"""ULMFiT's pieces (layer groups, discriminative rates, slanted triangles, gradual unfreezing) and metrics."""

import math

import numpy as np
import pytest
import torch
from datasets import Dataset
from transformers import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from hf_rnn import RNNForCausalLM, RNNForSequenceClassification
from hf_rnn.metrics import load_metric
from hf_rnn.data import classification_collator, id2label
from hf_rnn.training import (DataArguments, GradualUnfreezingCallback, ModelArguments, ULMFiTArguments,
                             WeightAveragingCallback, discriminative_param_groups, layer_groups, rating_compute_metrics,
                             sentiment_compute_metrics, slanted_triangular_schedule)
from hf_rnn.training.metrics import ratings_from_outputs
from hf_rnn.training.model_setup import classifier_model
from conftest import tiny_config


def test_layer_groups_cover_every_parameter_once_bottom_to_top():
    model = RNNForCausalLM(tiny_config(num_hidden_layers=3))
    groups = layer_groups(model)
    assert len(groups) == 5  # embedding, 3 recurrent layers, head
    flat = [id(p) for g in groups for p in g]
    assert len(flat) == len(set(flat)) == len(list(model.parameters()))
    assert groups[0][0] is model.model.embeddings.weight  # tied with lm_head: counted once, at the bottom
    assert all(any(p is q for q in model.model.layers[1].parameters()) for p in groups[2])


def test_discriminative_rates_fall_by_the_factor_per_group():
    model = RNNForSequenceClassification(tiny_config(num_hidden_layers=2))
    rates = [g["lr"] for g in discriminative_param_groups(model, lr=0.01, decay=2.6)]
    assert rates[-1] == 0.01
    for lower, upper in zip(rates, rates[1:]):
        assert math.isclose(upper / lower, 2.6)


def test_slanted_triangular_rises_then_decays_to_a_32nd():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = slanted_triangular_schedule(optimizer, num_training_steps=100, cut_frac=0.1, ratio=32)
    rates = []
    for _ in range(100):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step(), schedule.step()
    assert math.isclose(rates[0], 1 / 32) and math.isclose(max(rates), 1.0) and rates.index(1.0) == 10
    assert all(a < b for a, b in zip(rates[:10], rates[1:11])) and all(a >= b for a, b in zip(rates[10:], rates[11:]))
    assert rates[-1] < 0.05


def test_gradual_unfreezing_unfreezes_top_down_and_resumes_at_the_right_depth(tmp_path):
    model = RNNForSequenceClassification(tiny_config(num_hidden_layers=2))
    callback = GradualUnfreezingCallback(model, steps_per_stage=10)
    args, control = TrainingArguments(output_dir=str(tmp_path), report_to=[]), TrainerControl()

    def trainable_groups(step):
        state = TrainerState(global_step=step)
        callback.on_step_begin(args, state, control)
        return [all(p.requires_grad for p in g) for g in layer_groups(model)]

    assert trainable_groups(0) == [False, False, False, True]
    assert trainable_groups(10) == [False, False, True, True]
    assert trainable_groups(35) == [True, True, True, True]
    fresh = GradualUnfreezingCallback(model, steps_per_stage=10)  # a resumed run starts at step 15
    fresh.on_train_begin(args, TrainerState(global_step=15), control)
    assert [all(p.requires_grad for p in g) for g in layer_groups(model)] == [False, False, True, True]


def test_shipped_metric_modules_load_offline_and_compute():
    sentiment = load_metric("sentiment_metrics").compute(predictions=[1, 0, 1, 1], references=[1, 0, 0, 1])
    assert sentiment["accuracy"] == 0.75 and math.isclose(sentiment["f1"], 0.8)
    rating = load_metric("rating_metrics").compute(predictions=[9.6, 2.0, 11.0], references=[10, 4, 9])
    assert rating["mae"] == pytest.approx((0.4 + 2 + 1) / 3, rel=1e-5) and rating["exact"] == pytest.approx(1 / 3)
    assert rating["within_one"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="ships"):
        load_metric("bleu")


def test_compute_metrics_for_trainer_predictions():
    logits = np.array([[2.0, -1.0], [0.1, 0.3], [-1.0, 1.0]])
    assert sentiment_compute_metrics()((logits, np.array([0, 0, 1])))["accuracy"] == pytest.approx(2 / 3)
    rating = rating_compute_metrics("regression")((np.array([[8.2], [3.0]]), np.array([8.0, 1.0])))
    assert rating["exact"] == 0.5 and rating["sentiment_accuracy"] == 1.0


def test_ten_way_ratings_use_the_median_of_the_predicted_distribution():
    probs = np.full((1, 10), 1e-6)
    probs[0, [0, 9]] = [0.45, 0.55]  # 1 star or 10 stars: median is 10, argmax also 10
    logits = np.log(probs)
    predicted, actual = ratings_from_outputs(logits, np.array([9]), "rating10")
    assert predicted.tolist() == [10.0] and actual.tolist() == [10.0]


def test_ten_way_ratings_report_exact_hits_of_the_mode_beside_the_median():
    probs = np.full((2, 10), 1e-6)
    probs[:, [0, 2, 9]] = [0.4, 0.3, 0.3]  # mode 1 star, median 3 stars
    metrics = rating_compute_metrics("rating10")((np.log(probs), np.array([0, 2])))  # true ratings 1 and 3
    assert metrics["exact"] == 0.5 and metrics["exact_most_likely"] == 0.5
    metrics = rating_compute_metrics("rating10")((np.log(probs), np.array([0, 0])))
    assert metrics["exact"] == 0.0 and metrics["exact_most_likely"] == 1.0
    assert "exact_most_likely" not in rating_compute_metrics("regression")((np.array([[8.2]]), np.array([8.0])))


def test_one_rule_for_stars_serves_the_median_of_the_distribution_on_the_sentiments_side():
    from hf_rnn.ratings import posterior_median_stars, served_stars, stars_agreeing_with_sentiment

    stars = np.array([[.05, .05, .2, .1, 0, 0, .1, .4, .05, .05], [.4, 0, .3, 0, 0, 0, 0, 0, 0, .3]])
    sentiment = np.array([[.9, .1], [.5, .5]])
    ratings, probs = served_stars(stars, sentiment)
    np.testing.assert_allclose(probs, stars_agreeing_with_sentiment(stars, sentiment))
    assert ratings.tolist() == posterior_median_stars(probs).tolist() == [3.0, 3.0]
    alone, probs = served_stars(stars)  # a rating model alone: its own distribution
    np.testing.assert_allclose(probs, stars)
    assert alone.tolist() == [7.0, 3.0]


def test_a_rating_models_prediction_and_metrics_agree_and_its_label_names_the_served_rating():
    from hf_rnn.inference import star_rating_from_scores

    labels = id2label("rating10")
    probs = np.array([.4, 0, .3, 0, 0, 0, 0, 0, 0, .3])  # most likely 1 star, median 3
    scores = [{"label": labels[i], "score": float(p)} for i, p in enumerate(probs)][::-1]  # in any order
    served = star_rating_from_scores(scores, {name: i for i, name in labels.items()})
    assert served == {"rating": 3.0, "label": "3 stars", "score": pytest.approx(.3)}
    metrics = rating_compute_metrics("rating10")((np.log(probs + 1e-12)[None], np.array([2])))
    assert metrics["exact"] == 1.0 and metrics["mae"] == 0.0 and metrics["exact_most_likely"] == 0.0


def test_star_ratings_take_their_polarity_from_the_sentiment_model_and_keep_their_shape_within_it():
    from hf_rnn.ratings import stars_agreeing_with_sentiment

    stars = np.array([[.05, .05, .2, .1, 0, 0, .1, .4, .05, .05]])  # 40% negative, most likely 8 stars
    combined = stars_agreeing_with_sentiment(stars, np.array([[.9, .1]]))  # the sentiment model: 90% negative
    np.testing.assert_allclose(combined.sum(-1), 1.0)
    np.testing.assert_allclose(combined[0, :5].sum(), .9)
    np.testing.assert_allclose(combined[0, :5], stars[0, :5] / .4 * .9)  # within a polarity: the rating's shape
    np.testing.assert_allclose(combined[0, 5:], stars[0, 5:] / .6 * .1)
    assert stars.argmax() + 1 == 8 and combined.argmax() + 1 == 3  # the most likely star now agrees with it
    unchanged = stars_agreeing_with_sentiment(stars, np.array([[.4, .6]]))  # the same polarity: nothing moves
    np.testing.assert_allclose(unchanged, stars, atol=1e-12)


def test_a_polarity_the_rating_model_rules_out_stays_ruled_out_without_nan():
    from hf_rnn.ratings import stars_agreeing_with_sentiment

    stars = np.array([[0, 0, 0, 0, 0, 0, 0, 0, .5, .5]])
    combined = stars_agreeing_with_sentiment(stars, np.array([[.7, .3]]))
    assert np.isfinite(combined).all() and combined.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(combined[0, 8:], [.5, .5])  # no negative star to give it to: the rating's own
    with pytest.raises(ValueError, match=r"\[\.\.\., 10\].*\[\.\.\., 2\]"):
        stars_agreeing_with_sentiment(stars, np.array([.7, .3]))


def test_stateful_trainer_carries_the_state_between_batches(tmp_path):
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments, default_data_collator

    from hf_rnn.training.stateful import StatefulLMTrainer

    # Stream order: batch i row r continues batch i-1 row r. With the state carried, the second batch's loss
    # differs from a fresh start on the same block.
    blocks = Dataset.from_dict({"input_ids": [[4 + (i % 5)] * 6 for i in range(8)]})
    blocks = blocks.map(lambda b: {"labels": b["input_ids"]}, batched=True)
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=2, max_steps=4, report_to=[],
                             train_sampling_strategy="sequential", learning_rate=0.0, save_strategy="no",
                             use_cpu=True)
    model = RNNForCausalLM(tiny_config(lm_loss="full"))
    trainer = StatefulLMTrainer(model=model, args=args, train_dataset=blocks, data_collator=default_data_collator)
    first = {k: torch.tensor(v) for k, v in blocks[:2].items()}
    second = {k: torch.tensor(v) for k, v in blocks[2:4].items()}
    model.train()
    torch.manual_seed(0)
    trainer.compute_loss(model, first)
    carried_state = trainer.train_state
    carried = trainer.compute_loss(model, second)
    expected = model(**second, cache=carried_state).loss
    fresh = model(**second).loss
    torch.testing.assert_close(carried, expected)
    assert not torch.allclose(carried, fresh)
    assert all(not t.requires_grad for layer in trainer.train_state for t in layer)  # detached at the boundary
    with pytest.raises(ValueError, match="sequential"):
        StatefulLMTrainer(model=model, args=TrainingArguments(output_dir=str(tmp_path), report_to=[]),
                          train_dataset=blocks)


def test_a_rating_classifier_starts_from_a_sentiment_classifier_with_only_its_output_layer_new(tmp_path, caplog):
    sentiment = RNNForSequenceClassification(tiny_config(num_labels=2))
    sentiment.save_pretrained(tmp_path)
    model_args = ModelArguments(init_from=str(tmp_path), config_overrides="classifier_hidden_size=6")
    with caplog.at_level("WARNING"):
        rating = classifier_model(None, DataArguments(target="rating10"), model_args)
    assert rating.config.num_labels == 10 and rating.classifier.out_proj.weight.shape[0] == 10
    reused = {name: p for name, p in sentiment.named_parameters() if not name.startswith("classifier.out_proj")}
    for name, parameter in rating.named_parameters():
        if name in reused:
            assert torch.equal(parameter, reused[name]), name
    assert "started anew: ['classifier.out_proj.bias', 'classifier.out_proj.weight']" in caplog.text


@pytest.mark.parametrize("lm_unlabeled", [True, False])
def test_the_lm_reads_the_unlabeled_reviews_unless_told_not_to(lm_unlabeled):
    import datasets
    from hf_rnn.tokenization import train_word_level_tokenizer
    from hf_rnn.training.stage_data import lm_datasets

    split = lambda text, n: datasets.Dataset.from_dict({"text": [text] * n})
    dsd = datasets.DatasetDict(train=split("a labelled review", 4), unsupervised=split("an unlabeled one", 4),
                               validation=split("a labelled review", 2))
    tokenizer = train_word_level_tokenizer(["a labelled review an unlabeled one"], min_frequency=1)
    data_args = DataArguments(block_size=4, lm_unlabeled=lm_unlabeled)
    train, _ = lm_datasets(tokenizer, dsd, data_args)
    read = {token for row in train["input_ids"] for token in row}
    assert (tokenizer.convert_tokens_to_ids("unlabeled") in read) is lm_unlabeled
    assert tokenizer.convert_tokens_to_ids("labelled") in read


class WeightsAfterEachStep(TrainerCallback):
    """Records the model's weights after every optimizer step."""

    def __init__(self):
        self.steps = {}

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.steps[state.global_step] = [p.detach().clone() for p in model.parameters()]


def averaging_trainer(tmp_path, tokenizer, max_steps, start_fraction=0.5, stop_at=None):
    texts = ["a great movie", "awful plot", "good fun", "boring film"] * 4
    data = Dataset.from_dict(dict(tokenizer(texts), labels=[1, 0, 1, 0] * 4))
    torch.manual_seed(0)
    model = RNNForSequenceClassification(tiny_config(vocab_size=len(tokenizer)))
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=max_steps, per_device_train_batch_size=4,
                             learning_rate=0.05, save_steps=2, report_to=[], use_cpu=True, seed=0)
    recorder, stopper = WeightsAfterEachStep(), StopAt(stop_at)
    return Trainer(model=model, args=args, train_dataset=data, data_collator=classification_collator(tokenizer),
                   callbacks=[WeightAveragingCallback(start_fraction), recorder, stopper]), recorder


class StopAt(TrainerCallback):
    """Ends training after `step` steps, as a run killed there would have (its checkpoint written)."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if self.step is not None and state.global_step >= self.step:
            control.should_training_stop = True


def test_weight_averaging_keeps_the_mean_of_the_weights_after_each_step_of_the_averaged_part(tmp_path, tokenizer):
    trainer, recorder = averaging_trainer(tmp_path, tokenizer, max_steps=6, start_fraction=0.5)
    trainer.train()
    expected = [torch.stack(weights).mean(0) for weights in zip(*(recorder.steps[s] for s in (4, 5, 6)))]
    for kept, mean, trained in zip(trainer.model.parameters(), expected, recorder.steps[6]):
        torch.testing.assert_close(kept, mean)
    assert any(not torch.equal(mean, trained) for mean, trained in zip(expected, recorder.steps[6]))
    # The last checkpoint holds the weights as trained, and the average beside them.
    trained = RNNForSequenceClassification.from_pretrained(tmp_path / "checkpoint-6")
    for saved, weights in zip(trained.parameters(), recorder.steps[6]):
        torch.testing.assert_close(saved, weights)
    assert (tmp_path / "checkpoint-6" / WeightAveragingCallback.FILE).is_file()


def test_weight_averaging_resumed_from_a_checkpoint_gives_the_uninterrupted_average(tmp_path, tokenizer):
    whole, _ = averaging_trainer(tmp_path / "whole", tokenizer, max_steps=8)
    whole.train()
    killed, _ = averaging_trainer(tmp_path / "resumed", tokenizer, max_steps=8, stop_at=6)
    killed.train()  # steps 5 and 6 averaged, checkpoint-6 written
    resumed, _ = averaging_trainer(tmp_path / "resumed", tokenizer, max_steps=8)
    resumed.train(resume_from_checkpoint=str(tmp_path / "resumed" / "checkpoint-6"))
    for theirs, ours in zip(whole.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("start", [-0.1, 1.0])
def test_weight_averaging_outside_training_is_refused(start):
    with pytest.raises(ValueError, match="start_fraction"):
        WeightAveragingCallback(start)


@pytest.mark.parametrize("start", [-0.5, 1.0, 2.0])
def test_an_out_of_range_weight_averaging_start_is_refused_with_the_fix_before_any_training(start):
    with pytest.raises(ValueError, match=rf"--weight_averaging_start {start}: pass the share .* below 1"):
        ULMFiTArguments(weight_averaging_start=start)
