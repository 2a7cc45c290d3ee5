"""Text data: review sources -> DatasetDict, LM blocks, classification features, batching."""

from .acl_imdb import load_acl_imdb
from .batching import (
    DataCollatorWithPaddingNoLength,
    LengthGroupedTrainer,
    classification_collator,
    length_grouped_batches,
    lm_collator,
    padded_fraction,
)
from .classification import (TARGETS, TWO_HEAD_TARGET, auxiliary_label_names, classification_features, id2label,
                             label_names_of, make_targets, problem_type_of)
from .corpus import held_out_split, load_text_corpus, materialize
from .labelled import load_labelled_texts
from .lm import check_stream_training_args, group_blocks, lm_blocks
from .lm_stream import stream_ordered_blocks, streamed_lm_blocks
from .sources import (
    IMDB_HUB_ID,
    add_validation_split,
    default_imdb_path,
    load_from_hub,
    load_review_files,
    load_reviews,
    standardize_columns,
)
from .tokenize import tokenize_column, tokenizer_fingerprint
