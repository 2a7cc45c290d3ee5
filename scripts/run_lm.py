#!/usr/bin/env python
"""Pretrain (or fine-tune) the LSTM language model on training + unlabeled reviews; report perplexity.

    python scripts/run_lm.py --output_dir runs/lm --dataset ../shared/data/imdb --max_steps 2000 \
        --per_device_train_batch_size 32 --learning_rate 3e-3
"""

from transformers import HfArgumentParser, TrainingArguments

from hf_rnn.training import (DataArguments, ModelArguments, TokenizerArguments, ULMFiTArguments, load_imdb,
                             prepare_tokenizer, pretrain_language_model)


def main():
    parser = HfArgumentParser((DataArguments, TokenizerArguments, ModelArguments, ULMFiTArguments, TrainingArguments))
    data_args, tok_args, model_args, ulmfit, training_args = parser.parse_args_into_dataclasses()
    dsd = load_imdb(data_args, seed=training_args.seed)
    with training_args.main_process_first(desc="tokenizer"):  # one process trains it, the others load it
        tokenizer = prepare_tokenizer(tok_args, dsd, f"{training_args.output_dir}/tokenizer")
    print(pretrain_language_model(tokenizer, dsd, data_args, model_args, ulmfit, training_args))


if __name__ == "__main__":
    main()
