"""Typed arguments shared by the scripts and the main job (HfArgumentParser reads them from the command line)."""

from dataclasses import dataclass, field

from .overrides import config_overrides_dict


@dataclass
class DataArguments:
    """Where the reviews come from and how much of them a run uses."""

    dataset: str | None = field(default=None, metadata={
        "help": "Hub id, local folder (Hub parquet layout or aclImdb), aclImdb_v1.tar.gz or CSV/JSON/parquet file. "
                "Default: the folder $HF_RNN_IMDB_PATH names when it is set, else the Hub's stanfordnlp/imdb."})
    validation_size: float = field(default=0.1, metadata={"help": "Fraction of train held out for validation."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only this many training reviews."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only this many validation reviews."})
    max_test_samples: int | None = field(default=None, metadata={"help": "Use only this many test reviews "
                                                                          "(a seeded random subset)."})
    max_lm_documents: int | None = field(default=None, metadata={"help": "Use only this many reviews for the LM."})
    lm_unlabeled: bool = field(default=True, metadata={
        "help": "Train the LM on the unlabeled (`unsupervised`) reviews beside the training reviews. False: on the "
                "training reviews' text alone, to measure what the unlabeled ones add (the tokenizer is unchanged)."})
    max_lm_eval_documents: int = field(default=500, metadata={
        "help": "Validation reviews for LM perplexity (the exact softmax over the vocabulary is slow on a CPU)."})
    lm_streams: int = field(default=0, metadata={
        "help": "Carry the LM state across batches (truncated BPTT over this many parallel streams; must equal "
                "per_device_train_batch_size, with --train_sampling_strategy sequential). 0: independent blocks."})
    block_size: int = field(default=64, metadata={"help": "LM training block (BPTT) length in tokens."})
    max_length: int = field(default=512, metadata={"help": "Classifier: keep at most this many tokens per review "
                                                            "(the end, where the verdict usually is)."})
    eval_max_length: int | None = field(default=None, metadata={
        "help": "Classifier evaluation (validation, test): tokens kept per review. Unset: as --max_length; 0: the "
                "whole review, as `predict_reviews` and the pipeline read it (an RNN has no positional limit)."})
    target: str = field(default="binary", metadata={"help": "binary | rating10 | regression | binary+rating10 (one model, sentiment and rating heads)"})

    def __post_init__(self):
        for name in ("max_length", "eval_max_length"):
            value = getattr(self, name)
            if value is not None and value < 0:  # the tokenizer would fail later with an error naming neither
                raise ValueError(f"--{name} {value}: pass a number of tokens per review, or 0 for whole reviews.")


@dataclass
class TokenizerArguments:
    tokenizer_name_or_path: str | None = field(default=None, metadata={
        "help": "A saved tokenizer folder; when unset, a word-level tokenizer is trained on the training text."})
    vocab_size: int = field(default=30_000, metadata={"help": "Vocabulary size when training a tokenizer."})
    min_frequency: int = field(default=3, metadata={"help": "Minimum word count when training a tokenizer."})
    max_tokenizer_documents: int | None = field(default=None, metadata={"help": "Train the tokenizer on this many reviews."})


@dataclass
class ModelArguments:
    """Where a model's weights start from and, for a new model, how its RNNConfig differs from the defaults."""

    init_from: str | None = field(default=None, metadata={
        "help": "A saved hf_rnn model folder (e.g. a pretrained LM) whose embedding and backbone to reuse; it keeps "
                "its architecture (--config_overrides may change its dropouts and classifier_* fields)."})
    word_vectors: str | None = field(default=None, metadata={
        "help": "word2vec/GloVe/FastText vector file to initialise the embedding of a model trained from scratch."})
    lm_init_from: str | None = field(default=None, metadata={
        "help": "A pretrained language model (folder or Hub id, e.g. from run_lm.py on a general corpus): fine-tuned "
                "on this task's text first (ULMFiT), then the classifier starts from it. A vocabulary other than "
                "this task's tokenizer is matched: shared words keep their rows, new ones start from the mean."})
    # The command line gives a string; `__post_init__` reads it into a dict, which is what every function after takes.
    config_overrides: dict | str | None = field(default=None, metadata={
        "help": "RNNConfig fields that differ from its defaults, as transformers' run_clm.py: "
                "'hidden_size=512,num_hidden_layers=2,lm_loss=sampled' (booleans: true/false)."})

    def __post_init__(self):
        self.config_overrides = config_overrides_dict(self.config_overrides)

    def config_kwargs(self) -> dict:
        """The overrides as typed RNNConfig keyword arguments (a copy: a caller may add to it)."""
        return dict(self.config_overrides)


@dataclass
class ULMFiTArguments:
    """ULMFiT's fine-tuning techniques, each switchable for ablations (Adam's betas: TrainingArguments'
    `--adam_beta1 0.7 --adam_beta2 0.99` as ULMFiT)."""

    discriminative_decay: float = field(default=2.6, metadata={"help": "LR divisor per lower layer group (1 = off)."})
    slanted_triangular: bool = field(default=True, metadata={"help": "Slanted triangular LR schedule "
                                                                      "(else linear decay)."})
    gradual_unfreezing_steps: int = field(default=0, metadata={"help": "Unfreeze one more layer group every N "
                                                                        "steps, top first (0 = off)."})
    weight_averaging_start: float = field(default=0.0, metadata={
        "help": "Classifiers: average the weights over training from this share of the steps on (stochastic weight "
                "averaging) and keep the average, e.g. 0.5 for the second half (0 = off)."})

    lm_time_limit: float = field(default=0.0, metadata={
        "help": "Stop each LM stage's training after this many seconds (0 = off); --time_budget sets it."})
    classifier_time_limit: float = field(default=0.0, metadata={
        "help": "Stop each classifier stage's training after this many seconds (0 = off); --time_budget sets it."})

    def __post_init__(self):
        if not 0.0 <= self.weight_averaging_start < 1.0:  # else refused only when the first classifier starts
            raise ValueError(f"--weight_averaging_start {self.weight_averaging_start}: pass the share of a "
                             "classifier's steps after which its weights are averaged, from 0 (off) to below 1, "
                             "e.g. 0.5.")


@dataclass
class LMFineTuningArguments:
    """The language-model stage of `scripts/run_classifier.py --lm_init_from`: the pretrained LM's fine-tuning on the
    task's text (training + unlabeled reviews), before the classifier; other settings follow the classifier's."""

    lm_max_steps: int = field(default=1_000, metadata={"help": "Fine-tuning steps of the pretrained LM."})
    lm_learning_rate: float = field(default=3e-3, metadata={"help": "Peak learning rate of the LM fine-tuning."})


@dataclass
class CorpusArguments:
    """A general text corpus for language-model pretraining (`scripts/run_lm.py`); unset: the review source of
    `DataArguments.dataset`."""

    dataset_name: str | None = field(default=None, metadata={
        "help": "A Hub dataset (e.g. wikitext) or a local dataset folder, read by datasets.load_dataset."})
    dataset_config_name: str | None = field(default=None, metadata={
        "help": "The Hub dataset's configuration (e.g. wikitext-103-raw-v1)."})
    train_file: list[str] | None = field(default=None, metadata={
        "help": "Local training files: .txt (see --sample_by), or .csv/.json/.jsonl/.parquet with --text_column."})
    validation_file: list[str] | None = field(default=None, metadata={
        "help": "Local held-out files; unset: a seeded --validation_size fraction of the training documents."})
    text_column: str = field(default="text", metadata={"help": "The column holding the text."})
    sample_by: str = field(default="line", metadata={
        "help": "Plain-text files: one document per line | paragraph (blank-line separated) | document (file)."})
    streaming: bool = field(default=False, metadata={
        "help": "Read the corpus as a stream, tokenised on the fly, with flat memory (needs --max_steps)."})
