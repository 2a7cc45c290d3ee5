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
                           save_with_code)

# Written into the ensemble's saved config: it loads through these Auto classes, with or without hf_rnn installed.
ENSEMBLE_AUTO_MAP = {
    "AutoConfig": "configuration_rnn.RNNEnsembleConfig",
    "AutoModelForSequenceClassification": "modeling_rnn_ensemble.RNNEnsembleForSequenceClassification",
}
ENSEMBLE_SHIPPED_FILES = (*SHIPPED_FILES, "modeling_rnn_ensemble.py")


def average_probabilities(logits: list[torch.Tensor]) -> torch.Tensor:
    """log of the members' mean class probabilities: `(batch, classes)` scores whose softmax is that mean, so
    `pipeline()` and argmax read the ensemble as they read one classifier."""
    log_probs = torch.stack([scores.float().log_softmax(-1) for scores in logits])  # [M, B, C]
    return (log_probs.logsumexp(0) - math.log(len(logits))).to(logits[0].dtype)  # [B, C]


class RNNEnsembleForSequenceClassification(PreTrainedModel):
    """Several [`RNNForSequenceClassification`] members behind one forward: each reads the same ids (a backward member
    reverses them itself) and the ensemble averages their class probabilities. `logits` are the log of that average,
    so `softmax(logits)` is the averaged distribution; `auxiliary_logits` likewise when every member has the second
    head. With `labels` the loss is the members' loss on the averaged probabilities (for evaluation).

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
        self.post_init()

    @classmethod
    def from_members(cls, *members: RNNForSequenceClassification) -> "RNNEnsembleForSequenceClassification":
        """An ensemble holding copies of trained classifiers' weights, in the order given.

        Args:
            members: [`RNNForSequenceClassification`] models sharing a tokenizer and labels (e.g. a forward and a
                backward classifier).
        """
        ensemble = cls(RNNEnsembleConfig(members=[member.config for member in members]))
        for slot, member in zip(ensemble.members, members):
            slot.load_state_dict(member.state_dict())
        return ensemble.to(members[0].device)

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, labels=None, return_dict=None,
                **kwargs) -> RNNSequenceClassifierOutput:
        r"""The inputs of [`RNNForSequenceClassification.forward`], read by every member.

        labels: as a member takes them (`(batch,)` class ids, or `(batch, 2)` with an auxiliary head)."""
        outputs = [member(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                          return_dict=True, **kwargs) for member in self.members]
        logits = average_probabilities([out.logits for out in outputs])  # [B, C]
        auxiliary = [out.auxiliary_logits for out in outputs]
        auxiliary_logits = average_probabilities(auxiliary) if all(a is not None for a in auxiliary) else None
        loss = None if labels is None else classifier_loss(self.members[0].config, logits, auxiliary_logits, labels)
        output = RNNSequenceClassifierOutput(loss=loss, logits=logits, auxiliary_logits=auxiliary_logits)
        return output if (self.config.return_dict if return_dict is None else return_dict) else output.to_tuple()

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Save weights and a config whose `auto_map` names the ensemble, plus the code for `trust_remote_code`."""
        save_with_code(super().save_pretrained, self.config, ENSEMBLE_AUTO_MAP, ENSEMBLE_SHIPPED_FILES,
                       save_directory, *args, **kwargs)
