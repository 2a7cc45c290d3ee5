"""An ensemble of hf_rnn sequence classifiers served as one model folder (ULMFiT's forward + backward classifiers).

This file ships to the Hub next to the ensemble's weights (``trust_remote_code=True``): it imports only torch,
transformers' public API and its siblings ``configuration_rnn.py`` and ``modeling_rnn.py``.
"""

import math

import torch
from torch import nn
from transformers import PreTrainedModel

from .configuration_rnn import RNNEnsembleConfig
from .modeling_rnn import (SHIPPED_FILES, RNNForSequenceClassification, RNNSequenceClassifierOutput, classifier_loss,
                           hashed_ngrams, save_with_code)

# Written into the ensemble's saved config: it loads through these Auto classes, with or without hf_rnn installed.
ENSEMBLE_AUTO_MAP = {
    "AutoConfig": "configuration_rnn.RNNEnsembleConfig",
    "AutoModelForSequenceClassification": "modeling_rnn_ensemble.RNNEnsembleForSequenceClassification",
}
ENSEMBLE_SHIPPED_FILES = (*SHIPPED_FILES, "modeling_rnn_ensemble.py")


def average_probabilities(logits: list[torch.Tensor], multi_label: bool = False) -> torch.Tensor:
    """log of the members' mean class probabilities: `(batch, classes)` scores whose softmax is that mean, so
    `pipeline()` and argmax read the ensemble as they read one classifier. `multi_label`: each label's own
    probability (sigmoid) is averaged instead, and the scores are its logit, whose sigmoid is that mean."""
    if multi_label:
        mean = torch.stack([scores.float().sigmoid() for scores in logits]).mean(0)  # [B, C]
        return torch.logit(mean, eps=1e-7).to(logits[0].dtype)
    log_probs = torch.stack([scores.float().log_softmax(-1) for scores in logits])  # [M, B, C]
    return (log_probs.logsumexp(0) - math.log(len(logits))).to(logits[0].dtype)  # [B, C]


def with_ngram_model(members: torch.Tensor, ngram_logits: torch.Tensor | None, ngram_weight: float) -> torch.Tensor:
    """log of `(1 - w)` x the members' averaged probabilities (`members`, log-probabilities as `average_probabilities`
    gives them) + `w` x the n-gram model's: the ensemble's output when it holds an [`NgramLogisticRegression`]."""
    if ngram_logits is None or not ngram_weight:
        return members
    weighted = [members.float() + math.log1p(-ngram_weight),
                ngram_logits.float().log_softmax(-1) + math.log(ngram_weight)]
    return torch.stack(weighted).logsumexp(0).to(members.dtype)  # logaddexp, in an operator ONNX exports


def first_occurrences(ids: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """`[B, N]` bool: True at the first real occurrence of each id in its row, so a feature counts once whatever
    the order of the row or its padding."""
    masked = ids.masked_fill(~real, -1)  # padding sorts first and is never a first occurrence
    order = masked.argsort(dim=1)  # any order within equal ids: exactly one of them is marked (and ONNX exports it)
    ordered = masked.gather(1, order)
    first = torch.cat([ordered[:, :1] >= 0, (ordered[:, 1:] != ordered[:, :-1]) & (ordered[:, 1:] >= 0)], dim=1)
    return torch.zeros_like(first).scatter(1, order, first)


class NgramLogisticRegression(nn.Module):
    """A linear model over which words and word pairs a review contains (binary features, hashed as
    [`hashed_ngrams`] hashes them): the ensemble's bag-of-words member.

    Its weights come from a convex fit outside the model (`hf_rnn.training.fit_ngram_logistic`: NB-weighted logistic
    regression for the classes, Wang & Manning 2012, and multinomial logistic regression for a second head), which no
    gradient-trained head matches for a bag of a million features in seconds. Inside the model it ships with the
    ensemble and reads the ids its members read.

    Args:
        vocab_size: rows for single words (the tokenizer's vocabulary).
        buckets: rows for hashed word pairs.
        num_labels: the classes' scores (the first head).
        num_auxiliary_labels: the second head's scores (0: none).
    """

    def __init__(self, vocab_size: int, buckets: int, num_labels: int, num_auxiliary_labels: int = 0):
        super().__init__()
        self.vocab_size, self.buckets, self.num_labels = vocab_size, buckets, num_labels
        self.scores = nn.EmbeddingBag(vocab_size + buckets, num_labels + num_auxiliary_labels, mode="sum")
        self.bias = nn.Parameter(torch.zeros(num_labels + num_auxiliary_labels))

    def forward(self, input_ids, attention_mask=None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`(logits, auxiliary_logits)`: `(batch, num_labels)` and `(batch, num_auxiliary_labels)` or None."""
        ids, real = hashed_ngrams(input_ids, attention_mask, self.vocab_size, self.buckets)  # [B, 2T-1]
        present = first_occurrences(ids, real).to(self.scores.weight.dtype)
        scores = self.scores(ids, per_sample_weights=present) + self.bias  # [B, C + A]
        auxiliary = scores[:, self.num_labels:] if scores.size(1) > self.num_labels else None
        return scores[:, : self.num_labels], auxiliary


class RNNEnsembleForSequenceClassification(PreTrainedModel):
    """Several [`RNNForSequenceClassification`] members behind one forward: each reads the same ids (a backward member
    reverses them itself) and the ensemble averages their class probabilities. `logits` are the log of that average,
    so `softmax(logits)` is the averaged distribution; `auxiliary_logits` likewise when every member has the second
    head. With `labels` the loss is the members' loss on the averaged probabilities (for evaluation). With
    `config.ngram_logistic` it also holds an [`NgramLogisticRegression`] whose probabilities take the share
    `config.ngram_logistic_weight` of the mixture (`config.ngram_logistic_auxiliary_weight` of the second head's),
    the members the rest.

    Build it from trained members with [`~RNNEnsembleForSequenceClassification.from_members`]; save and load it as
    any model (`save_pretrained` writes the code too, so `trust_remote_code=True` loads it without hf_rnn).
    """

    config_class = RNNEnsembleConfig
    config: RNNEnsembleConfig
    base_model_prefix = "ensemble"
    main_input_name = "input_ids"
    _no_split_modules = ["RNNLayer"]
    accepts_loss_kwargs = False

    def __init__(self, config: RNNEnsembleConfig):
        super().__init__(config)
        member_configs = config.member_configs()
        if not member_configs:
            raise ValueError("RNNEnsembleConfig has no members: pass members=[config, ...] (each an RNNConfig of a "
                             "sequence classifier), or build the ensemble with from_members(model, ...).")
        self.members = nn.ModuleList(RNNForSequenceClassification(member) for member in member_configs)
        bag = config.ngram_logistic
        self.ngram_logistic = NgramLogisticRegression(**bag) if bag else None
        self.post_init()

    @classmethod
    def from_members(cls, *members: RNNForSequenceClassification, ngram_logistic: NgramLogisticRegression | None = None,
                     ngram_logistic_weight: float = 0.0,
                     ngram_logistic_auxiliary_weight: float = 0.0) -> "RNNEnsembleForSequenceClassification":
        """An ensemble holding copies of trained classifiers' weights, in the order given.

        Args:
            members: [`RNNForSequenceClassification`] models sharing a tokenizer and labels (e.g. a forward and a
                backward classifier).
            ngram_logistic: a fitted bag-of-words member reading the same ids (optional).
            ngram_logistic_weight: its share of the averaged class probabilities, in [0, 1).
            ngram_logistic_auxiliary_weight: its share of the second head's, in [0, 1).
        """
        bag = None if ngram_logistic is None else dict(
            vocab_size=ngram_logistic.vocab_size, buckets=ngram_logistic.buckets,
            num_labels=ngram_logistic.num_labels,
            num_auxiliary_labels=ngram_logistic.bias.numel() - ngram_logistic.num_labels)
        shares = dict(ngram_logistic_weight=ngram_logistic_weight,
                      ngram_logistic_auxiliary_weight=ngram_logistic_auxiliary_weight) if bag else {}
        ensemble = cls(RNNEnsembleConfig(members=[member.config for member in members], ngram_logistic=bag, **shares))
        for slot, member in zip(ensemble.members, members):
            slot.load_state_dict(member.state_dict())
        if bag:
            ensemble.ngram_logistic.load_state_dict(ngram_logistic.state_dict())
        return ensemble.to(members[0].device)

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, labels=None, return_dict=None,
                **kwargs) -> RNNSequenceClassifierOutput:
        r"""The inputs of [`RNNForSequenceClassification.forward`], read by every member.

        labels: as a member takes them (`(batch,)` class ids, or `(batch, 2)` with an auxiliary head)."""
        outputs = [member(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                          return_dict=True, **kwargs) for member in self.members]
        multi_label = self.config.problem_type == "multi_label_classification"
        logits = average_probabilities([out.logits for out in outputs], multi_label)  # [B, C]
        auxiliary = [out.auxiliary_logits for out in outputs]
        auxiliary_logits = average_probabilities(auxiliary) if all(a is not None for a in auxiliary) else None
        if self.ngram_logistic is not None:  # the bag reads the ids as given: it has no direction
            if input_ids is None:
                raise ValueError("This ensemble holds an n-gram model, which reads token ids: pass input_ids, not "
                                 "inputs_embeds.")
            bag_logits, bag_auxiliary = self.ngram_logistic(input_ids, attention_mask)
            logits = with_ngram_model(logits, bag_logits, self.config.ngram_logistic_weight)
            if auxiliary_logits is not None:
                auxiliary_logits = with_ngram_model(auxiliary_logits, bag_auxiliary,
                                                    self.config.ngram_logistic_auxiliary_weight)
        loss = None if labels is None else classifier_loss(self.members[0].config, logits, auxiliary_logits, labels)
        output = RNNSequenceClassifierOutput(loss=loss, logits=logits, auxiliary_logits=auxiliary_logits)
        return output if (self.config.return_dict if return_dict is None else return_dict) else output.to_tuple()

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Save weights and a config whose `auto_map` names the ensemble, plus the code for `trust_remote_code`."""
        save_with_code(super().save_pretrained, self.config, ENSEMBLE_AUTO_MAP, ENSEMBLE_SHIPPED_FILES,
                       save_directory, *args, **kwargs)
