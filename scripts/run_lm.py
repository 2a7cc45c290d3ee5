#!/usr/bin/env python
"""Pretrain (or fine-tune) an LSTM language model on any text corpus; report perplexity on held-out text.

    # a Hub dataset (its validation split is the held-out text), streamed: flat memory, bounded by --max_steps
    python scripts/run_lm.py --output_dir runs/wiki-lm --dataset_name wikitext \
        --dataset_config_name wikitext-103-raw-v1 --streaming --max_steps 20000 --per_device_train_batch_size 32 \
        --lm_streams 32 --learning_rate 3e-3
    # local text files, one document per line (--sample_by paragraph | document), a seeded 1% held out
    python scripts/run_lm.py --output_dir runs/lm --train_file a.txt b.txt --validation_size 0.01 --max_steps 2000
    # the reviews (train + unsupervised; validation reviews held out), as before; with --init_from a pretrained LM
    # is fine-tuned on them instead (ULMFiT's second stage; its vocabulary is matched to the reviews' tokenizer)
    python scripts/run_lm.py --output_dir runs/lm --dataset path/to/imdb --max_steps 2000 [--init_from runs/wiki-lm]
    # several processes: each reads its own shard of the stream
    torchrun --nproc_per_node 4 scripts/run_lm.py --streaming ...   (or: accelerate launch scripts/run_lm.py ...)
    # every argument from one .json/.yaml file; --push_to_hub puts the LM and its model card on the Hub
    python scripts/run_lm.py lm.yaml
"""

from transformers import HfArgumentParser, TrainingArguments

from hf_rnn.training import (CorpusArguments, DataArguments, ModelArguments, TokenizerArguments, ULMFiTArguments,
                             pretrain_on_corpus)
from hf_rnn.training.script_args import leave_process_group, parse_script_arguments


def main():
    parser = HfArgumentParser((CorpusArguments, DataArguments, TokenizerArguments, ModelArguments, ULMFiTArguments,
                               TrainingArguments))
    print(pretrain_on_corpus(*parse_script_arguments(parser)))
    leave_process_group()


if __name__ == "__main__":
    main()
