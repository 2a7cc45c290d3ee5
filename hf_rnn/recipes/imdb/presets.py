"""Presets of the IMDB main job, sized for a 2-core CPU (a GPU, when present, is used by Trainer as is).

Each preset is a set of overrides, stating only what its size budget changes: of the stage dataclasses' fields
(under "job", of JobArguments' defaults; under "adversarial", of AdversarialArguments'; under "ngram_logistic", of
NgramLogisticArguments'), of RNNConfig's defaults (under "model"), and of COMMON (under "lm_training" and
"classifier_training"). A user starts from a preset and changes any field
(`hf-rnn imdb --preset quick --config_overrides hidden_size=512 --learning_rate 1e-3`). The measurement behind each
value is in docs/results.md; tests/test_presets.py refuses an entry equal to the default it overrides.
"""

COMMON = {
    # The LM carries its state across batches: 32 streams in sequence (data lm_streams must match the batch).
    "lm": dict(per_device_train_batch_size=32, per_device_eval_batch_size=64, learning_rate=3e-3,
               train_sampling_strategy="sequential",
               weight_decay=0.01, adam_beta1=0.7, adam_beta2=0.99, logging_steps=25, save_steps=200,
               save_total_limit=1, eval_strategy="no", report_to=[]),
    # Learning rate and epochs of the fine-tunes (docs/results.md, "Dropouts, pooling and learning rate").
    "classifier": dict(per_device_train_batch_size=32, per_device_eval_batch_size=64, learning_rate=1e-2,
                       num_train_epochs=2, weight_decay=0.01, adam_beta1=0.7, adam_beta2=0.99, logging_steps=25,
                       save_steps=200, save_total_limit=1, eval_strategy="epoch", report_to=[],
                       train_sampling_strategy="group_by_length"),
}

# Where a preset leaves a section out, that stage runs on its defaults (filled in below PRESETS).
SECTIONS = ("job", "data", "tokenizer", "model", "ulmfit", "adversarial", "ngram_logistic", "lm_training",
            "classifier_training")

# ULMFiT's dropouts x 0.5 (docs/results.md, "Dropouts, pooling and learning rate"); the classifier's 0.1 is the default.
HALF_ULMFIT_DROPOUTS = dict(embedding_dropout=0.01, input_dropout=0.125, hidden_dropout=0.075, weight_dropout=0.1,
                            output_dropout=0.05)
# The full softmax is the CPU bottleneck of LM training (docs/results.md, "Sampled softmax").
SAMPLED_LM = dict(lm_loss="sampled")

PRESETS = {
    # <= 10 minutes end to end on 2 cores: small model, subsets of the data, a 5,000-review test sample.
    "quick": {
        # 12,000 labelled reviews (docs/results.md, "The quick preset"), evaluated whole as served.
        "data": dict(max_lm_documents=20_000, max_train_samples=12_000, max_eval_samples=1_000,
                     max_test_samples=5_000, max_length=256, eval_max_length=0, lm_streams=32),
        "tokenizer": dict(vocab_size=10_000, max_tokenizer_documents=20_000),
        # A bag of n-grams beside the pooling helps at this size (docs/results.md, "The n-gram bag in the classifier").
        "model": dict(embedding_size=128, hidden_size=256, num_hidden_layers=1, num_sampled=512,
                      classifier_pooling="mean", ngram_buckets=262_144, **HALF_ULMFIT_DROPOUTS, **SAMPLED_LM),
        # A bag-of-words member at half of both heads (docs/results.md, "The bag-of-words member").
        "ngram_logistic": dict(ngram_logistic_weight=0.5, ngram_logistic_rating_weight=0.5,
                               ngram_logistic_buckets=2**18),
        "lm_training": dict(max_steps=2000),
    },
    # The best this CPU reaches in under 2 hours (docs/results.md, "The full preset").
    "full": {
        # Reviews evaluated whole, as served (docs/results.md, "Whole reviews at evaluation").
        "data": dict(block_size=70, eval_max_length=0, lm_streams=64),
        "tokenizer": dict(vocab_size=20_000),
        # Mean pooling: concat loses the rating (docs/results.md, "Dropouts, pooling and learning rate").
        "model": dict(embedding_size=256, hidden_size=512, num_hidden_layers=1, classifier_pooling="mean",
                      **HALF_ULMFIT_DROPOUTS, **SAMPLED_LM),
        # Both directions (docs/results.md, "Both directions"); precision "auto": bfloat16 where it is fast.
        "job": dict(backward=True, precision="auto"),
        # Adversarial training of both classifiers (docs/results.md, "Adversarial training").
        "adversarial": dict(adversarial_weight=1.0),
        # The bag-of-words member for the stars only (docs/results.md, "The bag-of-words member").
        "ngram_logistic": dict(ngram_logistic_rating_weight=0.25),
        # Two passes over the reviews in 9,000 steps at batch 64 under bfloat16 (docs/results.md, "Bfloat16 autocast").
        "lm_training": dict(max_steps=9000, save_steps=500, per_device_train_batch_size=64),
        # Where bfloat16 is slow, a shorter LM keeps one command under 110 minutes (docs/results.md, "Float32 hosts").
        "float32": {"lm_training": dict(max_steps=6000, per_device_train_batch_size=32), "data": dict(lm_streams=32)},
    },
    # One GPU, about 10 minutes (unmeasured: no GPU run yet): RNNConfig's defaults, ULMFiT's AWD-LSTM (embedding 400,
    # three LSTM layers of 1152, exact softmax, concat pooling), three passes over train + unlabeled reviews.
    "gpu": {
        # Both directions and adversarial training as in `full` (docs/results.md, "The gpu preset").
        "job": dict(backward=True),
        "adversarial": dict(adversarial_weight=1.0),
        "data": dict(block_size=70, lm_streams=64),
        "model": dict(**HALF_ULMFIT_DROPOUTS),
        "lm_training": dict(max_steps=13_500, save_steps=1000, per_device_train_batch_size=64),
    },
}
for _preset in PRESETS.values():
    for _section in SECTIONS:
        _preset.setdefault(_section, {})


def preset_for(name: str, bf16: bool, presets: dict | None = None) -> dict:
    """The preset's sections as a job runs them: with its `float32` section's values over the others where bfloat16
    is off, since a preset sized by bfloat16's speed overruns its time on a host that trains in float32."""
    preset = (presets or PRESETS)[name]
    if bf16 or "float32" not in preset:
        return preset
    return {**preset, **{section: {**preset[section], **values}
                         for section, values in preset["float32"].items()}}
