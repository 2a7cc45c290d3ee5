"""Train a word-level or subword tokenizer on review text and save it for `AutoTokenizer.from_pretrained`.

Example (offline, local IMDB copy):
    python scripts/train_tokenizer.py --output_dir runs/tok-word30k --kind word --vocab_size 30000
    python scripts/train_tokenizer.py --output_dir runs/tok-bpe16k --kind bpe --vocab_size 16000
    python scripts/train_tokenizer.py tokenizer.yaml     # every argument from one .json/.yaml file
    python scripts/train_tokenizer.py --output_dir runs/tok --push_to_hub --hub_model_id you/imdb-word30k
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import HfArgumentParser

from hf_rnn.data import load_reviews
from hf_rnn.tokenization import DEFAULT_MODEL_MAX_LENGTH, batch_iterator, train_subword_tokenizer, train_word_level_tokenizer
from hf_rnn.training.hub import push_files
from hf_rnn.training.script_args import parse_script_arguments


@dataclass
class TokenizerArguments:
    """What to train on and how."""

    output_dir: str = field(metadata={"help": "Folder for tokenizer.json and tokenizer_config.json."})
    source: str | None = field(
        default=None,
        metadata={"help": "Hub id, parquet folder, aclImdb folder/tarball or data file (default: local IMDB, else the Hub)."},
    )
    splits: list[str] = field(default_factory=lambda: ["train", "unsupervised"], metadata={"help": "Splits to train on."})
    text_column: str = field(default="text", metadata={"help": "Text column of the source."})
    kind: str = field(default="word", metadata={"help": "word, bpe or unigram.", "choices": ["word", "bpe", "unigram"]})
    vocab_size: int = field(default=30_000, metadata={"help": "Vocabulary size, special tokens included."})
    min_frequency: int = field(default=3, metadata={"help": "Minimum count of a word (word) or merge (bpe)."})
    lowercase: bool = field(default=True, metadata={"help": "Lowercase text (see --case_markers)."})
    case_markers: bool = field(default=False, metadata={"help": "Insert xxmaj/xxup before capitalised/all-caps words."})
    add_bos: bool = field(default=True, metadata={"help": "Prepend <s> to every encoded text."})
    model_max_length: int = field(default=DEFAULT_MODEL_MAX_LENGTH, metadata={"help": "Length used by truncation=True."})
    push_to_hub: bool = field(default=False, metadata={"help": "Upload the tokenizer folder to the Hub."})
    hub_model_id: str | None = field(default=None, metadata={
        "help": "The Hub repo (`name` or `owner/name`); default: the name of output_dir."})


def main() -> None:
    (args,) = parse_script_arguments(HfArgumentParser(TokenizerArguments))
    dsd = load_reviews(args.source, text_column=args.text_column)
    texts = batch_iterator([dsd[s] for s in args.splits])
    options = dict(vocab_size=args.vocab_size, min_frequency=args.min_frequency, lowercase=args.lowercase,
                   case_markers=args.case_markers, add_bos=args.add_bos, model_max_length=args.model_max_length)
    if args.kind == "word":
        tokenizer = train_word_level_tokenizer(texts, **options)
    else:
        tokenizer = train_subword_tokenizer(texts, algorithm=args.kind, **options)
    tokenizer.save_pretrained(args.output_dir)
    print(f"Saved a {args.kind} tokenizer with {len(tokenizer)} tokens to {args.output_dir}")
    if args.push_to_hub:
        repo_id = push_files(args.output_dir, args.hub_model_id,
                             f"hf_rnn {args.kind} tokenizer, {len(tokenizer)} tokens")
        print(f"Pushed it to https://huggingface.co/{repo_id}")


if __name__ == "__main__":
    main()
