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
