"""Semi-supervised classifier training: the unlabelled texts shape the classifier itself, not only the LM below it.

Two switchable pieces, usable alone or together, by any hf_rnn classifier stage:

- Self-training (pseudo-labels): a classifier trained on the labels labels a pool of unlabelled texts; the ones it
  is most sure of, per class in the labelled texts' class proportions (so one class cannot take over), join the
  labels, and a new classifier starts again from the same start (the LM), for a few rounds with a growing share of
  the pool. Only the `unsupervised` split is ever labelled: never validation or test text.
- Consistency training (Xie et al. 2020, UDA): on an unlabelled batch per step, the prediction on a text with some
  of its words dropped (or replaced: UDA's TF-IDF word replacement) is pulled towards the prediction on the text
  itself, sharpened, and only where that prediction is confident. The perturbation touches real tokens only and the
  loss reads each row's prediction, which the classifier pools over real tokens: padding is never read.
- A guard on self-training: a round whose classifier collapses to a constant answer is trained once more.

    trainer = ConsistencyLengthGroupedTrainer(..., consistency=ConsistencyArguments(consistency_weight=1.0),
                                              consistency_dataset=unlabelled_features)
"""

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
import torch
import torch.nn.functional as F

from transformers import AutoModelForSequenceClassification

from ..data import classification_collator, tokenize_column
from ..data.batching import LengthGroupedTrainer
from .adversarial import AdversarialLengthGroupedTrainer, AdversarialTrainerMixin, _forever
from .resume import finished_stage, mark_stage_done

logger = logging.getLogger(__name__)

PERTURBATIONS = ("word_dropout", "tfidf_replacement")


@dataclass
class ConsistencyArguments:
    """Consistency training on unlabelled text (off by default). The defaults are UDA's text settings."""

    consistency_weight: float = field(default=0.0, metadata={
        "help": "Weight of the consistency loss on unlabelled batches (0 = off)."})
    consistency_perturbation: str = field(default="word_dropout", metadata={
        "help": "How the perturbed copy differs: `word_dropout` (words become the unknown token) or "
                "`tfidf_replacement` (UDA's: words are replaced by words sampled from the unlabelled texts, the "
                "least informative words most often, so the words that carry the text's meaning mostly stay).",
        "choices": PERTURBATIONS})
    consistency_word_dropout: float = field(default=0.1, metadata={
        "help": "Share of each text's real tokens changed in the perturbed copy (on average, for tfidf_replacement)."})
    consistency_confidence: float = field(default=0.8, metadata={
        "help": "Rows whose clean prediction's top probability is below this add no consistency loss."})
    consistency_temperature: float = field(default=0.4, metadata={
        "help": "Temperature that sharpens the clean prediction used as the target (1 = no sharpening)."})

    def __post_init__(self):
        if not 0 <= self.consistency_word_dropout < 1:
            raise ValueError(f"consistency_word_dropout is {self.consistency_word_dropout}: use a share in [0, 1).")
        if self.consistency_perturbation not in PERTURBATIONS:
            raise ValueError(f"consistency_perturbation is {self.consistency_perturbation!r}: use one of "
                             f"{', '.join(PERTURBATIONS)}.")
        if self.consistency_temperature <= 0:
            raise ValueError(f"consistency_temperature is {self.consistency_temperature}: use a positive number.")

    @property
    def enabled(self) -> bool:
        return bool(self.consistency_weight)


@dataclass
class SelfTrainingArguments:
    """Self-training rounds (off by default)."""

    self_training_rounds: int = field(default=0, metadata={
        "help": "Rounds of pseudo-labelling: each labels the unlabelled pool with the last classifier and trains a "
                "new one on the labels plus the most confident pseudo-labels (0 = off)."})
    pseudo_label_share: float = field(default=0.1, metadata={
        "help": "Share of the unlabelled pool pseudo-labelled per round: round r keeps r times this share (at most "
                "all of it), split between classes as the labels are; rounds x share = 1 labels the whole pool in "
                "the last round (curriculum labelling, e.g. 5 rounds of 0.2)."})
    pseudo_label_pool: int = field(default=20_000, metadata={
        "help": "Unlabelled texts predicted each round (a seeded sample of the unsupervised split; 0 = all)."})

    def __post_init__(self):
        if self.self_training_rounds < 0:
            raise ValueError(f"self_training_rounds is {self.self_training_rounds}: use 0 (off) or more.")
        if not 0 < self.pseudo_label_share <= 1:
            raise ValueError(f"pseudo_label_share is {self.pseudo_label_share}: use a share in (0, 1].")

    @property
    def enabled(self) -> bool:
        return self.self_training_rounds > 0


@dataclass
class SemiSupervisedArguments(SelfTrainingArguments, ConsistencyArguments):
    """Both pieces' switches, as a job takes them (`--self_training_rounds 3 --consistency_weight 1`)."""

    def __post_init__(self):
        SelfTrainingArguments.__post_init__(self)
        ConsistencyArguments.__post_init__(self)

    @property
    def enabled(self) -> bool:
        return self.self_training_rounds > 0 or bool(self.consistency_weight)

    def consistency(self) -> ConsistencyArguments | None:
        """The consistency settings alone, or None when consistency training is off."""
        if not self.consistency_weight:
            return None
        return ConsistencyArguments(**{f.name: getattr(self, f.name) for f in dataclasses.fields(ConsistencyArguments)})


# ---------------------------------------------------------------------------------------------------------------
# Consistency training


def word_dropout(input_ids: torch.Tensor, attention_mask: torch.Tensor | None, rate: float, replacement_id: int,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """A copy of `input_ids` [B, T] with each real token replaced by `replacement_id` with probability `rate`;
    padding positions (attention_mask 0) are left as they are."""
    drop = torch.rand(input_ids.shape, generator=generator, device=input_ids.device) < rate
    if attention_mask is not None:
        drop &= attention_mask.bool()
    return input_ids.masked_fill(drop, replacement_id)


class TfidfReplacement:
    """UDA's TF-IDF word replacement (Xie et al. 2020), on token ids: in each text, a token is replaced with a
    probability that grows as its TF-IDF in the text falls (the shares average `rate` over the text's replaceable
    tokens), by a token drawn from the corpus with weight growing as the token's corpus TF-IDF falls. Statistics
    come from the unlabelled texts; special tokens are never replaced nor drawn, and padding is left as it is.

    Written here because no library does it on a tokenizer's ids: UDA's own code and nlpaug's work on word strings."""

    def __init__(self, idf: torch.Tensor, draw_weights: torch.Tensor, special_ids=()):
        self.idf = idf.float()
        self.draw_weights = draw_weights.float()
        self.replaceable = torch.ones_like(self.idf, dtype=torch.bool)
        self.replaceable[list(special_ids)] = False
        self.draw_weights[list(special_ids)] = 0.0
        if not float(self.draw_weights.sum()) > 0:
            raise ValueError("TF-IDF replacement found no token to draw replacements from: the unlabelled texts "
                             "hold special tokens only or a single word; use consistency_perturbation word_dropout.")

    @classmethod
    def from_features(cls, features, vocab_size: int, special_ids=(), batch_size: int = 1000) -> "TfidfReplacement":
        """Document frequencies and summed term frequencies of every token over the tokenised texts `features`
        (an `input_ids` column, unpadded)."""
        documents = np.zeros(vocab_size)
        term_share = np.zeros(vocab_size)  # sum over texts of the token's share of the text
        texts = 0
        for batch in features.select_columns(["input_ids"]).iter(batch_size=batch_size):
            for ids in batch["input_ids"]:
                if not len(ids):
                    continue
                tokens, counts = np.unique(np.asarray(ids), return_counts=True)
                documents[tokens] += 1
                term_share[tokens] += counts / len(ids)
                texts += 1
        if not texts:
            raise ValueError("TF-IDF replacement needs unlabelled texts to count words in; none were given.")
        seen = documents > 0
        idf = np.where(seen, np.log(texts / np.maximum(documents, 1)), 0.0)
        corpus_tfidf = term_share * idf
        draw_weights = np.where(seen, corpus_tfidf[seen].max() - corpus_tfidf, 0.0)
        return cls(torch.from_numpy(idf), torch.from_numpy(draw_weights), special_ids)

    def replacement_probabilities(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None,
                                  rate: float) -> torch.Tensor:
        """[B, T] probabilities: max TF-IDF in the text minus the token's, scaled so each text's replaceable tokens
        average `rate` (capped at 1); a text whose tokens all score alike gets `rate` everywhere."""
        device = input_ids.device
        real = attention_mask.bool() if attention_mask is not None else torch.ones_like(input_ids, dtype=torch.bool)
        idf, replaceable = self.idf.to(device), self.replaceable.to(device)
        counts = torch.zeros(input_ids.shape[0], len(idf), device=device).scatter_add_(1, input_ids, real.float())
        term_frequency = counts.gather(1, input_ids) / real.sum(1, keepdim=True).clamp(min=1)
        score = term_frequency * idf[input_ids]
        candidate = real & replaceable[input_ids]
        top = score.masked_fill(~candidate, -torch.inf).amax(1, keepdim=True)
        gap = torch.where(candidate, top - score, 0.0)
        total, count = gap.sum(1, keepdim=True), candidate.sum(1, keepdim=True)
        shares = torch.where(total > 0, gap / total.clamp(min=1e-12) * count, candidate.float())
        return (shares * rate).clamp(max=1.0) * candidate

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, rate: float,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """A perturbed copy of `input_ids` [B, T]."""
        probabilities = self.replacement_probabilities(input_ids, attention_mask, rate)
        replace = torch.rand(probabilities.shape, generator=generator).to(input_ids.device) < probabilities
        perturbed, replaced = input_ids.clone(), int(replace.sum())
        if replaced:
            drawn = torch.multinomial(self.draw_weights, replaced, replacement=True, generator=generator)
            perturbed[replace] = drawn.to(input_ids.device)
        return perturbed


def consistency_loss(clean_logits: torch.Tensor, perturbed_logits: torch.Tensor, confidence: float,
                     temperature: float) -> torch.Tensor:
    """UDA's loss: KL(sharpened clean prediction || perturbed prediction) summed over the confident rows and divided
    by all rows (so the weight means the same whatever share is confident). The clean side is a constant.

    Zero when both logits are equal and `temperature` is 1; with sharpening it also pulls confident predictions
    towards their sharpened selves, by design."""
    clean = clean_logits.detach().float()
    keep = (F.softmax(clean, dim=-1).amax(dim=-1) >= confidence).float()  # [B]
    target = F.log_softmax(clean / temperature, dim=-1)
    prediction = F.log_softmax(perturbed_logits.float(), dim=-1)
    per_row = F.kl_div(prediction, target, log_target=True, reduction="none").sum(-1)  # [B]
    return (per_row * keep).sum() / max(len(per_row), 1)


class ConsistencyTrainerMixin:
    """Adds `ConsistencyArguments`' loss to a Trainer's `compute_loss` (training steps only), one unlabelled batch
    per step from `consistency_dataset` (features without labels, same collator).

    The clean target is computed with dropout off (the model as it would predict), the perturbed prediction with
    the training model. The loss is logged as `consistency_loss`."""

    def __init__(self, *args, consistency: ConsistencyArguments | None = None, consistency_dataset=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.consistency = consistency or ConsistencyArguments()
        self.consistency_dataset = consistency_dataset
        self._consistency_batches = None
        self._consistency_logged = []
        self._tfidf = None
        if self.consistency.enabled and consistency_dataset is None:
            raise ValueError("consistency_weight is set but no unlabelled texts were given (consistency_dataset): "
                             "pass the unsupervised split's features, or set consistency_weight 0.")

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss, outputs = super().compute_loss(model, inputs, True, num_items_in_batch)
        if model.training and self.consistency.enabled:
            term = self.consistency.consistency_weight * self._consistency_term(model, self._next_consistency_batch())
            self._consistency_logged.append(float(term.detach()))
            loss = loss + term
        return (loss, outputs) if return_outputs else loss

    def _consistency_term(self, model, batch: dict) -> torch.Tensor:
        settings = self.consistency
        model.eval()
        try:
            with torch.no_grad():
                clean = model(**batch).logits
        finally:
            model.train()
        perturbed = {**batch, "input_ids": self._perturb(batch["input_ids"], batch.get("attention_mask"))}
        return consistency_loss(clean, model(**perturbed).logits, settings.consistency_confidence,
                                settings.consistency_temperature)

    def _perturb(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        rate = self.consistency.consistency_word_dropout
        if self.consistency.consistency_perturbation == "tfidf_replacement":
            if self._tfidf is None:  # counted once, over the unlabelled texts the term reads
                self._tfidf = TfidfReplacement.from_features(
                    self.consistency_dataset, self.model.config.vocab_size,
                    getattr(self.processing_class, "all_special_ids", ()))
            return self._tfidf(input_ids, attention_mask, rate)
        return word_dropout(input_ids, attention_mask, rate, self._replacement_id())

    def _replacement_id(self) -> int:
        """The token a dropped word becomes: the tokenizer's unknown token, else padding's id (which a real
        position still reads as a token: the mask, not the id, marks padding)."""
        tokenizer = self.processing_class
        unknown = getattr(tokenizer, "unk_token_id", None)
        return unknown if unknown is not None else self.model.config.pad_token_id

    def _next_consistency_batch(self) -> dict:
        if self._consistency_batches is None:  # Trainer's own loader: same collator, batch size and workers
            self._consistency_batches = _forever(self.get_eval_dataloader(self.consistency_dataset))
        batch = next(self._consistency_batches)
        return {k: v.to(self.model.device) for k, v in batch.items() if k not in ("labels", "length")}

    def log(self, logs: dict, *args, **kwargs):
        if "loss" in logs and self._consistency_logged:
            logs["consistency_loss"] = sum(self._consistency_logged) / len(self._consistency_logged)
            self._consistency_logged = []
        super().log(logs, *args, **kwargs)


class ConsistencyLengthGroupedTrainer(ConsistencyTrainerMixin, LengthGroupedTrainer):
    """The classifier Trainer (length-grouped batches) with consistency training."""


class ConsistencyAdversarialLengthGroupedTrainer(ConsistencyTrainerMixin, AdversarialTrainerMixin,
                                                 LengthGroupedTrainer):
    """The classifier Trainer with consistency training and the adversarial terms."""


def classifier_trainer_class(adversarial: bool, consistency: bool):
    """The classifier Trainer class for the terms switched on."""
    classes = {(False, False): LengthGroupedTrainer, (True, False): AdversarialLengthGroupedTrainer,
               (False, True): ConsistencyLengthGroupedTrainer, (True, True): ConsistencyAdversarialLengthGroupedTrainer}
    return classes[bool(adversarial), bool(consistency)]


# ---------------------------------------------------------------------------------------------------------------
# Self-training


def unlabeled_pool(dsd: datasets.DatasetDict, size: int, seed: int = 0) -> datasets.Dataset:
    """The texts self-training may label: a seeded sample of `size` rows (0: all) of the `unsupervised` split and
    of nothing else, so validation and test text never becomes training data."""
    if "unsupervised" not in dsd or len(dsd["unsupervised"]) == 0:
        raise ValueError("Self-training needs unlabelled texts (an `unsupervised` split): pass --unlabeled_file or "
                         "--unlabeled_dataset, use --labelled_fraction, or set --self_training_rounds 0.")
    pool = dsd["unsupervised"].shuffle(seed=seed)
    return pool.select(range(min(size, len(pool)))) if size else pool


def class_quotas(total: int, labels, num_classes: int) -> np.ndarray:
    """`total` split between classes in the proportions of `labels` (largest remainder, so the quotas add up)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).astype(float)
    if counts.sum() == 0:
        raise ValueError("The labelled texts have no labels to take class proportions from.")
    exact = total * counts / counts.sum()
    quotas = np.floor(exact).astype(np.int64)
    for c in np.argsort(-(exact - quotas), kind="stable")[: total - quotas.sum()]:
        quotas[c] += 1
    return quotas


def select_pseudo_labels(probabilities: np.ndarray, quotas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows to pseudo-label and their labels: for each class c, the `quotas[c]` rows predicted as c with the highest
    probability of c (fewer if fewer rows are predicted as c). Returns (row indices ascending, labels)."""
    predicted = probabilities.argmax(axis=1)
    rows, labels = [], []
    for c, quota in enumerate(quotas):
        candidates = np.flatnonzero(predicted == c)
        best = candidates[np.argsort(-probabilities[candidates, c], kind="stable")[:quota]]
        rows.append(best)
        labels.append(np.full(len(best), c, dtype=np.int64))
    rows, labels = np.concatenate(rows), np.concatenate(labels)
    order = np.argsort(rows)
    return rows[order], labels[order]


def predict_probabilities(model_dir, features: datasets.Dataset, tokenizer, batch_size: int = 64) -> np.ndarray:
    """Class probabilities [N, C] of a saved single-label classifier on tokenised `features` (row order kept; the
    rows are run sorted by length, which pads almost nothing)."""
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    collate = classification_collator(tokenizer)
    order = np.argsort(np.asarray(features["length"]), kind="stable")
    out = np.zeros((len(features), model.config.num_labels), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            batch = collate([{"input_ids": ids} for ids in features.select(rows)["input_ids"]])
            out[rows] = F.softmax(model(**batch).logits.float(), dim=-1).numpy()
    return out


def pseudo_labelled(pool: datasets.Dataset, rows: np.ndarray, labels: np.ndarray, like: datasets.Dataset,
                    text_column: str = "text") -> datasets.Dataset:
    """The chosen pool rows as labelled rows with `like`'s text and label columns and types."""
    chosen = pool.select(rows)
    table = datasets.Dataset.from_dict({text_column: chosen[text_column], "label": labels.tolist()})
    return table.cast(datasets.Features({text_column: like.features[text_column], "label": like.features["label"]}))


def pseudo_label_accuracy(pool: datasets.Dataset, rows: np.ndarray, labels: np.ndarray) -> float | None:
    """The share of right pseudo-labels among the chosen rows whose hidden label the pool still carries (a
    label-curve experiment that hid them); None where none does. The training never reads these labels."""
    if "label" not in pool.column_names or len(rows) == 0:
        return None
    truth = np.asarray(pool.select(rows)["label"])
    known = truth >= 0  # -1: the unsupervised split's "no label" marker
    return float((truth[known] == labels[known]).mean()) if known.any() else None


def round_share(settings: SelfTrainingArguments, round_number: int) -> float:
    return min(1.0, round_number * settings.pseudo_label_share)


def majority_share(labels) -> float | None:
    """The accuracy of always answering the commonest label: what a classifier that collapsed to one class scores."""
    labels = np.asarray(labels)
    return float(np.bincount(labels).max() / len(labels)) if len(labels) else None


def collapsed(metrics: dict, teacher: dict | None, constant_accuracy: float | None) -> bool:
    """Whether a round lost what its teacher round had: its validation accuracy is no better than a constant
    answer's while the teacher's was. (A task no round learns is not a collapse, and is not retried.)"""
    accuracy, before = metrics.get("validation_accuracy"), (teacher or {}).get("validation_accuracy")
    if constant_accuracy is None or not isinstance(accuracy, float) or not isinstance(before, float):
        return False
    return accuracy <= constant_accuracy < before


def set_aside(folder: Path, rounds_dir: Path, number: int) -> Path:
    """Move a collapsed round's files out of its folder into `rounds_dir` (kept for a look), so the round can train
    again there; the final round's folder keeps the rounds' own `rounds_dir`."""
    aside = rounds_dir / f"round_{number}_collapsed_1"
    aside.mkdir(parents=True)
    for entry in folder.iterdir():
        if entry != rounds_dir:
            entry.rename(aside / entry.name)
    return aside


def train_guarded_round(train_round, round_data: dict, folder: Path, rounds_dir: Path, number: int,
                        teacher: dict | None, constant_accuracy: float | None) -> tuple[dict, int, bool]:
    """Train round `number` in `folder`; a round that collapses against its `teacher` round's metrics (a run
    diverging, not a data problem) is set aside in `rounds_dir` and trained once more on its rows in another order.
    Returns its metrics, the attempts it took and whether it collapsed: a second collapse is kept, loudly."""
    in_another_order = lambda: datasets.DatasetDict({**round_data, "train": round_data["train"].shuffle(seed=1)})
    if not (rounds_dir / f"round_{number}_collapsed_1").exists():  # else a resumed job goes on with its retry
        metrics = train_round(datasets.DatasetDict(round_data), folder)
        if not collapsed(metrics, teacher, constant_accuracy):
            return metrics, 1, False
        aside = set_aside(folder, rounds_dir, number)
        logger.warning("Self-training round %d collapsed to a constant answer (validation accuracy %s, its "
                       "teacher's %s); set aside in %s, training it again on its rows in another order.", number,
                       metrics.get("validation_accuracy"), teacher["validation_accuracy"], aside)
    metrics = train_round(in_another_order(), folder)
    again = collapsed(metrics, teacher, constant_accuracy)
    if again:  # twice in a row: the settings, not chance, are at fault
        logger.error("Self-training round %d collapsed again (validation accuracy %s): its classifier answers no "
                     "better than a constant. Lower the learning rate or use fewer rounds.", number,
                     metrics.get("validation_accuracy"))
    return metrics, 2, again


def self_train(train_round, labelled: datasets.DatasetDict, pool: datasets.Dataset, tokenizer, output_dir,
               settings: SelfTrainingArguments, max_length: int | None = None, text_column: str = "text") -> dict:
    """Rounds of self-training around `train_round(dsd, output_dir) -> metrics` (a classifier stage that trains on
    `dsd["train"]` and saves its model in `output_dir`).

    Round 0 trains on the labels alone in `output_dir/self_training/round_0`; round r labels the pool with the
    last round's classifier that did not collapse and trains a new one on the labels plus the pool's `round_share`
    most confident rows; the last round trains in `output_dir` itself, so the stage's folder holds the final
    classifier. Each round's folder resumes as any stage does. A round whose validation accuracy falls to a constant
    answer's while its teacher's was better is trained once more (`train_guarded_round`). Returns the last round's
    metrics with a `self_training` list (one row per round: pseudo-labels added, their accuracy where the pool has
    hidden labels, validation figures, attempts, whether it collapsed)."""
    if (done := finished_stage(output_dir)) is not None:  # every round finished in an earlier run
        return done
    output_dir, history = Path(output_dir), []
    train = labelled["train"]
    features = tokenize_column(pool, tokenizer, text_column=text_column, max_length=max_length or None)
    constant_accuracy = majority_share(labelled["validation"]["label"]) if "validation" in labelled else None
    rounds, rounds_dir = settings.self_training_rounds, output_dir / "self_training"
    metrics, teacher, teacher_dir = None, None, None  # the teacher: the last round that did not collapse
    for number in range(rounds + 1):
        folder = output_dir if number == rounds else rounds_dir / f"round_{number}"
        row = {"round": number, "pseudo_labels": 0, "pseudo_label_accuracy": None}
        round_data = dict(labelled)
        if number:
            probabilities = predict_probabilities(teacher_dir, features, tokenizer)
            quotas = class_quotas(round(round_share(settings, number) * len(pool)), train["label"],
                                  num_classes=probabilities.shape[1])
            rows, labels = select_pseudo_labels(probabilities, quotas)
            row.update(pseudo_labels=len(rows), pseudo_label_accuracy=pseudo_label_accuracy(pool, rows, labels))
            extra = pseudo_labelled(pool, rows, labels, train, text_column)
            round_data["train"] = datasets.concatenate_datasets([train.select_columns([text_column, "label"]), extra])
        if number < rounds:  # only the final classifier is read on test
            round_data.pop("test", None)
        metrics, attempts, lost = train_guarded_round(train_round, round_data, folder, rounds_dir, number, teacher,
                                                      constant_accuracy)
        row.update({k: v for k, v in metrics.items() if k.startswith("validation_") and isinstance(v, float)
                    and not k.endswith(("runtime", "per_second"))})
        row.update(attempts=attempts, collapsed=lost)
        history.append(row)
        logger.warning("Self-training round %d: %d pseudo-labels (accuracy %s), validation %s", number,
                       row["pseudo_labels"], row["pseudo_label_accuracy"], row.get("validation_accuracy"))
        if not row["collapsed"]:
            teacher, teacher_dir = metrics, folder
    metrics = {**metrics, "self_training": history}
    mark_stage_done(output_dir, metrics)  # the rounds' history beside the final classifier's figures
    return metrics
