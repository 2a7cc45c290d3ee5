"""The end of a Trainer run, as transformers' example scripts end: a model card in the output folder and, with
`--push_to_hub`, the folder pushed to the Hub repo `--hub_model_id`."""

from ..locations import looks_like_hub_id


def publish(trainer, tasks: str, dataset: str | None = None, finetuned_from: str | None = None):
    """Write the Trainer's model card into its output folder; with `push_to_hub`, push the folder with it.

    Args:
        trainer: The finished `Trainer`.
        tasks: The pipeline task of the model (`text-classification`, `text-generation`, ...).
        dataset: The training data; named in the card's metadata only when it is a Hub id (a local path means
            nothing to a reader on the Hub).
        finetuned_from: The model it started from, likewise.
    """
    card = {"tasks": tasks, "tags": ["hf_rnn"]}
    if dataset and looks_like_hub_id(dataset):
        card["dataset"] = card["dataset_tags"] = dataset
    if finetuned_from and looks_like_hub_id(finetuned_from):
        card["finetuned_from"] = finetuned_from
    if trainer.args.push_to_hub:
        trainer.push_to_hub(**card)
    else:
        trainer.create_model_card(**card)


def push_files(folder, hub_model_id: str | None, commit_message: str, allow_patterns: list[str] | None = None) -> str:
    """Create (or reuse) the Hub repo `hub_model_id` (default: the folder's name, as Trainer does) and upload the
    folder's files (only `allow_patterns` when given); returns the repo's full id. For what Trainer does not save:
    a tokenizer or word-vector files."""
    from pathlib import Path

    from huggingface_hub import HfApi

    api = HfApi()
    repo_id = api.create_repo(hub_model_id or Path(folder).resolve().name, exist_ok=True).repo_id
    api.upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message=commit_message,
                      allow_patterns=allow_patterns)
    return repo_id
