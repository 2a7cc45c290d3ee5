#!/usr/bin/env python
"""Train a review classifier (binary sentiment, 10-way rating or rating regression) from scratch, from word
vectors, or from a pretrained language model; evaluate on validation and test.

    python scripts/run_classifier.py --output_dir runs/cls --init_from runs/lm --target binary \
        --train_sampling_strategy group_by_length --num_train_epochs 1
    # ULMFiT: a general-domain LM (run_lm.py) fine-tuned on the reviews first (--lm_max_steps), then the classifier
    python scripts/run_classifier.py --output_dir runs/cls --lm_init_from runs/wiki-lm --lm_max_steps 2000 ...
    python scripts/run_classifier.py args.yaml     # every argument from one .json/.yaml file

The output folder gets a model card; with --push_to_hub (--hub_model_id owner/name) the folder, card included, goes
to the Hub.
"""

from transformers import HfArgumentParser, TrainingArguments

from hf_rnn.training import (DataArguments, LMFineTuningArguments, ModelArguments, TokenizerArguments,
                             ULMFiTArguments, fine_tune_pretrained_lm, load_imdb, prepare_tokenizer, train_classifier)
from hf_rnn.training.script_args import leave_process_group, parse_script_arguments


def main():
    parser = HfArgumentParser((DataArguments, TokenizerArguments, ModelArguments, ULMFiTArguments,
                               LMFineTuningArguments, TrainingArguments))
    data_args, tok_args, model_args, ulmfit, lm_tuning, training_args = parse_script_arguments(parser)
    dsd = load_imdb(data_args, seed=training_args.seed)
    if model_args.init_from and not tok_args.tokenizer_name_or_path:
        tok_args.tokenizer_name_or_path = model_args.init_from  # the LM folder holds its tokenizer
    with training_args.main_process_first(desc="tokenizer"):  # one process trains it, the others load it
        tokenizer = prepare_tokenizer(tok_args, dsd, f"{training_args.output_dir}/tokenizer")
    if model_args.lm_init_from:  # ULMFiT: the general LM learns the reviews' language first, in output_dir/lm
        model_args = fine_tune_pretrained_lm(tokenizer, dsd, data_args, model_args, ulmfit, lm_tuning, training_args)
    print(train_classifier(tokenizer, dsd, data_args, model_args, ulmfit, training_args))
    leave_process_group()


if __name__ == "__main__":
    main()
