#!/usr/bin/env python
"""Train an hf_rnn recurrent model on a numeric series dataset with transformers' Trainer.

Examples:
    python scripts/train_timeseries.py --dataset GunPoint --task classify --output_dir out/gunpoint \\
        --num_train_epochs 60 --per_device_train_batch_size 16 --learning_rate 3e-3 \\
        --config_overrides bidirectional=true
    python scripts/train_timeseries.py --dataset Airline --task forecast --window 36 --test_size 24 \\
        --output_dir out/airline --num_train_epochs 200
    python scripts/train_timeseries.py --dataset GunPoint --task denoise --noise_std 0.5 --output_dir out/dn
    python scripts/train_timeseries.py gunpoint.yaml     # every argument from one .json/.yaml file

The output folder gets a model card; with --push_to_hub (--hub_model_id owner/name) it goes to the Hub.

The normalisation statistics (fitted on the training split only) are saved in the model's config.json as
`channel_mean` / `channel_std`; `hf_rnn.timeseries.predict(output_dir, series)` applies them.
"""

import logging
from dataclasses import dataclass, field

from transformers import HfArgumentParser, Trainer, TrainingArguments

from hf_rnn.timeseries import TimeSeriesCollator, accuracy_metrics, build_config, build_model, load_raw
from hf_rnn.timeseries import prepare_splits
from hf_rnn.training.hub import publish
from hf_rnn.training.overrides import parse_config_overrides
from hf_rnn.training.script_args import parse_script_arguments

logger = logging.getLogger(__name__)


@dataclass
class DataArguments:
    dataset: str = field(default="GunPoint", metadata={
        "help": "UCR/UEA archive name (GunPoint, ItalyPowerDemand, JapaneseVowels, BasicMotions...), a CSV series "
                "shipped with aeon (Airline, Lynx...), or a path to a .csv file."})
    data_dir: str | None = field(default=None, metadata={"help": "Folder of <name>/<name>_TRAIN.ts archives."})
    task: str = field(default="classify", metadata={"help": "classify | regress | forecast | denoise"})
    test_size: int = field(default=24, metadata={"help": "CSV series: held-out tail length (steps)."})
    validation_size: int = field(default=0, metadata={"help": "CSV series: validation steps before the tail."})
    window: int = field(default=36, metadata={"help": "forecast/denoise: window length (0 = whole series)."})
    stride: int = field(default=1, metadata={"help": "forecast/denoise: steps between windows."})
    noise_std: float = field(default=0.3, metadata={"help": "denoise: Gaussian noise std, in channel stds."})
    noise_copies: int = field(default=1, metadata={"help": "denoise: noisy copies of each training window."})


@dataclass
class ModelArguments:
    config_overrides: str | None = field(default=None, metadata={
        "help": "RNNConfig fields that differ from the time-series defaults of hf_rnn.timeseries.build_config "
                "(a 1-layer GRU, 64 wide, input projection 32, concat pooling, linear head): "
                "'cell_type=lstm,hidden_size=128,bidirectional=true' (bidirectional: not for forecast)."})


def main():
    parser = HfArgumentParser((DataArguments, ModelArguments, TrainingArguments))
    data_args, model_args, training_args = parse_script_arguments(parser)
    logging.basicConfig(level=logging.INFO)
    with training_args.main_process_first():
        raw = load_raw(data_args.dataset, data_args.data_dir, data_args.test_size, data_args.validation_size)
        splits, normalizer = prepare_splits(raw, data_args.task, data_args.window, data_args.stride,
                                            data_args.noise_std, data_args.noise_copies, training_args.seed)
    label = raw["train"].features.get("label")
    config = build_config(data_args.task, raw["train"].features["input_values"].shape[1], normalizer,
                          getattr(label, "names", None), **parse_config_overrides(model_args.config_overrides))
    eval_split = "validation" if "validation" in splits else "test"
    trainer = Trainer(
        model=build_model(config, training_args.seed), args=training_args, train_dataset=splits["train"],
        eval_dataset=splits[eval_split], data_collator=TimeSeriesCollator(),
        compute_metrics=accuracy_metrics if data_args.task == "classify" else None,
    )
    train_result = trainer.train()
    trainer.save_model()  # weights + config.json with channel_mean / channel_std + the model code
    trainer.log_metrics("train", train_result.metrics)
    trainer.save_metrics("train", train_result.metrics)
    metrics = trainer.evaluate(metric_key_prefix=eval_split)
    trainer.log_metrics(eval_split, metrics)
    trainer.save_metrics(eval_split, metrics)
    publish(trainer, tasks="time-series-forecasting" if data_args.task == "forecast" else "time-series-classification",
            dataset=data_args.dataset)
    logger.info("Saved to %s; predict with hf_rnn.timeseries.predict(%r, series)", training_args.output_dir,
                training_args.output_dir)


if __name__ == "__main__":
    main()
