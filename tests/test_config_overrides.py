"""Model defaults have one home, RNNConfig: scripts and presets take `--config_overrides` of it, as run_clm.py."""

import dataclasses

import pytest
from transformers import HfArgumentParser

from hf_rnn import RNNConfig
from hf_rnn.recipes.imdb import PRESETS, with_config_preset
from hf_rnn.recipes.imdb.presets import preset_for
from hf_rnn.training import ModelArguments
from hf_rnn.training.model_setup import new_model_config
from hf_rnn.training.overrides import checked_config_overrides, config_defaults, parse_config_overrides


class FakeTokenizer:
    """What new_model_config reads from a tokenizer."""

    pad_token_id, bos_token_id, eos_token_id = 0, 2, 3

    def __len__(self):
        return 100


def parse_model_arguments(*argv) -> ModelArguments:
    (model_args,) = HfArgumentParser(ModelArguments).parse_args_into_dataclasses(args=list(argv))
    return model_args


def test_model_arguments_hold_no_defaults_of_their_own():
    config_fields = set(config_defaults())
    assert not config_fields & {f.name for f in dataclasses.fields(ModelArguments)}
    config = new_model_config(FakeTokenizer(), parse_model_arguments())
    expected = RNNConfig().to_dict()
    for name in ("embedding_size", "hidden_size", "num_hidden_layers", "lm_loss", "input_dropout"):
        assert getattr(config, name) == expected[name], name


def test_config_overrides_change_only_the_fields_named_typed_as_rnnconfig():
    model_args = parse_model_arguments(
        "--config_overrides", "hidden_size=512, num_hidden_layers=2,lm_loss=sampled,bidirectional=true,"
                              "input_dropout=0.25")
    assert model_args.config_kwargs() == {"hidden_size": 512, "num_hidden_layers": 2, "lm_loss": "sampled",
                                          "bidirectional": True, "input_dropout": 0.25}
    config = new_model_config(FakeTokenizer(), model_args)
    assert (config.hidden_size, config.num_hidden_layers, config.bidirectional) == (512, 2, True)
    assert config.embedding_size == RNNConfig().embedding_size and config.vocab_size == 100


@pytest.mark.parametrize("text, named", [
    ("hiden_size=512", "hiden_size"),                  # a misspelt field
    ("hidden_size", "hidden_size"),                    # no value
    ("hidden_size=wide", "wide"),                      # a value of the wrong type
    ("cell_type=transformer", "cell_type"),            # a value RNNConfig rejects
])
def test_bad_config_overrides_are_refused_naming_the_problem(text, named):
    with pytest.raises(ValueError, match="--config_overrides") as error:
        parse_config_overrides(text)
    assert named in str(error.value)


def test_presets_are_overrides_and_the_user_overrides_the_preset():
    user = ModelArguments(init_from="lm", config_overrides="hidden_size=64")
    merged = with_config_preset(user, PRESETS["quick"]["model"])
    kwargs = merged.config_kwargs()
    assert kwargs["hidden_size"] == 64 and kwargs["lm_loss"] == "sampled" and merged.init_from == "lm"
    assert kwargs["embedding_size"] == PRESETS["quick"]["model"]["embedding_size"]
    for preset in PRESETS.values():  # as a string would give them: each value of its default's type
        assert [type(value) for value in checked_config_overrides(preset["model"]).values()] == [
            type(value) for value in preset["model"].values()]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_a_valid_config_and_training_arguments(name, tmp_path):
    from transformers import TrainingArguments

    from hf_rnn.recipes.imdb import COMMON

    for preset in (preset_for(name, bf16=True), preset_for(name, bf16=False)):
        RNNConfig(vocab_size=preset["tokenizer"].get("vocab_size", 30_000), **preset["model"])  # validates each field
        for kind, stage in (("lm", "lm_training"), ("classifier", "classifier_training")):
            args = TrainingArguments(output_dir=str(tmp_path), **{**COMMON[kind], **preset[stage]})
            if kind == "lm":  # the carried state needs one stream per batch row
                assert args.per_device_train_batch_size == preset["data"]["lm_streams"]


def test_the_full_preset_trains_a_shorter_lm_where_it_runs_in_float32():
    in_bf16, in_fp32 = preset_for("full", bf16=True), preset_for("full", bf16=False)
    assert in_bf16 is PRESETS["full"]
    assert (in_fp32["lm_training"]["per_device_train_batch_size"], in_fp32["data"]["lm_streams"]) == (32, 32)
    assert in_fp32["lm_training"]["max_steps"] < in_bf16["lm_training"]["max_steps"]
    assert in_fp32["lm_training"]["save_steps"] == in_bf16["lm_training"]["save_steps"]  # the rest of a section stays
    assert (in_fp32["model"], in_fp32["data"]["block_size"]) == (in_bf16["model"], in_bf16["data"]["block_size"])
    assert preset_for("quick", bf16=False) is PRESETS["quick"]  # a preset without a float32 section is unchanged


def test_a_preset_sets_job_defaults_and_the_user_still_overrides_them():
    from hf_rnn.recipes.imdb import JobArguments, with_preset

    job_preset = PRESETS["full"].get("job", {})
    assert job_preset.get("backward") is True  # the full preset trains both directions
    assert with_preset(JobArguments, job_preset, JobArguments(preset="full")).backward is True
    user = JobArguments(preset="full", output_dir="elsewhere", heads="separate")
    merged = with_preset(JobArguments, job_preset, user)
    assert (merged.heads, merged.output_dir, merged.backward, merged.preset) == ("separate", "elsewhere", True, "full")
    with pytest.raises(ValueError, match="unknown fields"):
        with_preset(JobArguments, {"head": "shared"}, user)


@pytest.mark.parametrize("argv", [
    ["--preset", "full", "--backward", "false", "--heads", "separate", "--block_size", "64"],
    ["--preset=full", "--backward=false", "--heads=separate", "--block_size=64", "--no_rating"],
])
def test_a_user_sets_a_field_back_to_its_default_over_the_preset(argv):
    from hf_rnn.recipes.imdb import JobArguments, with_preset
    from hf_rnn.recipes.imdb.job import explicit_fields, parse_job_arguments
    from hf_rnn.training import DataArguments

    (job, data_args, *_), _ = parse_job_arguments(argv)
    assert (job.backward, job.heads, data_args.block_size) == (False, "separate", 64)  # as the user set them
    explicit = explicit_fields(argv)
    assert ("rating" in explicit) == ("--no_rating" in argv)
    merged = with_preset(JobArguments, PRESETS["full"]["job"], job, explicit)
    assert (merged.backward, merged.heads) == (False, "separate")
    assert with_preset(DataArguments, PRESETS["full"]["data"], data_args, explicit).block_size == 64
    # Not named: the preset's values stand.
    assert with_preset(JobArguments, PRESETS["full"]["job"], JobArguments(preset="full")).backward is True


def test_a_training_seed_changes_the_stages_seed_but_not_the_split_seed(tmp_path):
    from hf_rnn.recipes.imdb import JobArguments
    from hf_rnn.recipes.imdb.job import parse_job_arguments, stage_training_args

    (job, *_), _ = parse_job_arguments(["--output_dir", str(tmp_path), "--training_seed", "7"])
    assert (job.seed, job.training_seed) == (42, 7)  # the split is still drawn with 42
    assert stage_training_args(job, "sentiment", "classifier", {}, {}).seed == 7
    assert stage_training_args(JobArguments(output_dir=str(tmp_path), seed=3), "lm", "lm", {}, {}).seed == 3


def test_the_full_preset_trains_the_forward_classifier_adversarially_and_both_where_the_user_says():
    from hf_rnn.recipes.imdb import JobArguments, with_preset
    from hf_rnn.recipes.imdb.job import explicit_fields, parse_job_arguments
    from hf_rnn.training.adversarial import AdversarialArguments

    full = PRESETS["full"]
    assert with_preset(AdversarialArguments, full["adversarial"], AdversarialArguments()).enabled
    assert with_preset(JobArguments, full["job"], JobArguments(preset="full")).adversarial_backward is False
    argv = ["--preset", "full", "--adversarial_weight", "0", "--adversarial_backward", "true"]
    (job, *_, adversarial, _bag, _semi_supervised), _ = parse_job_arguments(argv)
    explicit = explicit_fields(argv)
    assert not with_preset(AdversarialArguments, full["adversarial"], adversarial, explicit).enabled
    assert with_preset(JobArguments, full["job"], job, explicit).adversarial_backward is True
