"""Text data: review sources -> DatasetDict, LM blocks, classification features, batching."""

from .acl_imdb import load_acl_imdb
from .sources import (
    IMDB_HUB_ID,
    add_validation_split,
    default_imdb_path,
    load_from_hub,
    load_review_files,
    load_reviews,
    standardize_columns,
)
