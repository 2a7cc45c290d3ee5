"""Configuration of hf_rnn's recurrent models (tanh RNN, LSTM, GRU).

This file ships to the Hub next to every checkpoint: it imports only transformers' public API.
"""

from transformers import PretrainedConfig

CELL_TYPES = ("rnn", "lstm", "gru")
POOLINGS = ("last", "mean", "max", "concat")
LM_LOSSES = ("full", "sampled")
PROBLEM_TYPES = (None, "regression", "single_label_classification", "multi_label_classification")
DROPOUT_FIELDS = (
    "embedding_dropout",
    "input_dropout",
    "hidden_dropout",
    "weight_dropout",
    "output_dropout",
    "classifier_dropout",
)


class RNNConfig(PretrainedConfig):
    r"""The one place an hf_rnn architecture is defined.

    The same backbone serves text (``vocab_size`` tokens through an embedding table) and numeric signals
    (``input_size`` channels through a linear input projection). Defaults follow ULMFiT's AWD-LSTM, scaled down.

    Args:
        cell_type (`str`, *optional*, defaults to `"lstm"`): recurrent cell, one of `"rnn"` (tanh), `"lstm"`, `"gru"`.
        vocab_size (`int`, *optional*, defaults to 30000): number of tokens; ignored when `input_size` is set.
        input_size (`int`, *optional*): number of channels of continuous inputs (`input_values` of shape
            `[batch, time, input_size]`). When set, a linear projection replaces the token embedding.
        embedding_size (`int`, *optional*, defaults to 400): width of the token embedding / input projection.
        hidden_size (`int`, *optional*, defaults to 1152): width of each recurrent layer (per direction).
        num_hidden_layers (`int`, *optional*, defaults to 3): number of stacked recurrent layers.
        bidirectional (`bool`, *optional*, defaults to `False`): run every layer in both directions
            (classifiers only: a language model may not see the future).
        embedding_dropout (`float`, *optional*, defaults to 0.0): word dropout; drops whole rows of the embedding
            table, so a dropped word is zero at all its positions (AWD-LSTM's `embed_p`).
        input_dropout (`float`, *optional*, defaults to 0.0): locked (same mask at every time step) dropout on the
            embedded inputs (`input_p`).
        hidden_dropout (`float`, *optional*, defaults to 0.0): locked dropout between recurrent layers (`hidden_p`).
        weight_dropout (`float`, *optional*, defaults to 0.0): DropConnect on the hidden-to-hidden matrices
            (`weight_p`). At 0 the fused kernel runs untouched.
        output_dropout (`float`, *optional*, defaults to 0.0): locked dropout on the last layer's outputs before
            the language-model head (`output_p`).
        tie_word_embeddings (`bool`, *optional*, defaults to `True`): share the input embedding with the LM output
            layer. When the last layer's width differs from `embedding_size`, the head projects to
            `embedding_size` first.
        classifier_pooling (`str`, *optional*, defaults to `"concat"`): how a sequence becomes one vector:
            `"last"`, `"mean"`, `"max"` over real tokens, or `"concat"` of the three (ULMFiT).
        classifier_hidden_size (`int`, *optional*, defaults to 50): width of the classifier's hidden layer;
            0 for a single linear layer.
        classifier_dropout (`float`, *optional*, defaults to 0.1): dropout on the pooled features.
        lm_loss (`str`, *optional*, defaults to `"full"`): training loss of the language model. `"sampled"` scores the
            target against `num_sampled` log-uniformly sampled words instead of the whole vocabulary (sampled
            softmax, corrected for the sampling probability): several times faster on a CPU. Evaluation, perplexity
            and `generate()` always use the exact full softmax.
        num_sampled (`int`, *optional*, defaults to 1024): negatives per batch for `lm_loss="sampled"`.
        classifier_chunk_size (`int`, *optional*, defaults to 0): classify long sequences in chunks of this many
            steps with the state carried (0 = one pass). Memory stays bounded for a review of any length.
        classifier_grad_chunks (`int`, *optional*, defaults to 0): with chunking, only the last this-many chunks
            are backpropagated through (0 = all); earlier chunks run without building a graph.
        ngram_buckets (`int`, *optional*, defaults to 0): classifiers only. With buckets > 0 a bag of n-grams sits
            beside the recurrent pooling (fastText): the mean embedding of a row's words and of its word pairs,
            hashed into this many buckets, joins the pooled features. It is computed from `input_ids` inside the
            model, so it ships with the checkpoint. 0 = off. Trained by gradient with the network; not the ensemble's
            separate bag-of-words member (`NgramLogisticArguments.ngram_logistic_buckets`).
        ngram_embedding_size (`int`, *optional*, defaults to 16): width of the n-gram bag's vectors.
        auxiliary_label_names (`list[str]`, *optional*): classifiers only. Names of the classes of a second head on
            the same features (e.g. the ten star ratings beside positive/negative), trained together with the first
            in one fine-tune: `labels` then has shape `(batch, 2)`, (main class, auxiliary class). The first head
            stays `logits`, so `pipeline()` serves it; the second is `auxiliary_logits`.
        auxiliary_loss_weight (`float`, *optional*, defaults to 1.0): weight of the second head's loss.
        regression_target_mean (`float`, *optional*, defaults to 0.0), regression_target_std (`float`, *optional*,
            defaults to 1.0): for `problem_type="regression"`, the training targets' mean and spread. The head
            learns the standardised target `(y - mean) / std` and its outputs are mapped back, so logits are in the
            target's own units (e.g. stars 1-10) while the MSE it trains on stays near 1: raw 1-10 targets give a
            loss near 12 with gradients to match, which diverged at ULMFiT's learning rate of 1e-2.
        reverse_text (`bool`, *optional*, defaults to `False`): a backward model (ULMFiT's second direction): it reads
            every text from its last real token back to its first. Callers always pass text in its natural order, and
            each forward reverses every row's real tokens in place (padding stays where it is, left or right), so a
            text gives the same result alone or in a padded batch. Per-position outputs (an LM's `logits`, the
            backbone's `last_hidden_state`) are in the order the model read them (`logits[:, t]` scores the token it
            reads at `t + 1`, as for a forward model); an LM reverses its `labels` with the inputs, so its loss is
            that of reading the text backward. A sequence classifier reverses the whole review before
            `classifier_chunk_size` cuts it, and its n-gram bag reads the reversed ids. `generate()` reads the prompt
            backward and writes the text that precedes it (see `RNNForCausalLM.generate`). A call that continues
            from a `cache` continues backward: pass the text that precedes the previous call's. For LM training
            with the state carried across batches, build the blocks with `lm_blocks(..., reverse_text=True)`: its
            streams step backward through the text, so each row continues the previous batch's row in the model's
            reading order. Token inputs only (not `input_size`); a classifier initialised from a backward language
            model inherits the flag.
        initializer_range (`float`, *optional*, defaults to 0.1): half-width of the uniform init of embeddings
            and recurrent weights (AWD-LSTM style).
        pad_token_id, bos_token_id, eos_token_id (`int`, *optional*): special token ids.
        use_cache (`bool`, *optional*, defaults to `True`): return the final recurrent state (the generation cache).
    """

    model_type = "hf_rnn"
    # Trainer's evaluation gathers every output but these: the state and per-layer outputs are not predictions.
    keys_to_ignore_at_inference = ["cache", "hidden_states"]

    def __init__(
        self,
        cell_type="lstm",
        vocab_size=30000,
        input_size=None,
        embedding_size=400,
        hidden_size=1152,
        num_hidden_layers=3,
        bidirectional=False,
        embedding_dropout=0.0,
        input_dropout=0.0,
        hidden_dropout=0.0,
        weight_dropout=0.0,
        output_dropout=0.0,
        tie_word_embeddings=True,
        classifier_pooling="concat",
        classifier_hidden_size=50,
        classifier_dropout=0.1,
        lm_loss="full",
        num_sampled=1024,
        classifier_chunk_size=0,
        classifier_grad_chunks=0,
        ngram_buckets=0,
        ngram_embedding_size=16,
        auxiliary_label_names=None,
        auxiliary_loss_weight=1.0,
        regression_target_mean=0.0,
        regression_target_std=1.0,
        reverse_text=False,
        initializer_range=0.1,
        pad_token_id=0,
        bos_token_id=None,
        eos_token_id=None,
        use_cache=True,
        **kwargs,
    ):
        self.cell_type = cell_type
        self.vocab_size = vocab_size
        self.input_size = input_size
        self.embedding_size = embedding_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.bidirectional = bidirectional
        self.embedding_dropout = embedding_dropout
        self.input_dropout = input_dropout
        self.hidden_dropout = hidden_dropout
        self.weight_dropout = weight_dropout
        self.output_dropout = output_dropout
        self.tie_word_embeddings = tie_word_embeddings
        self.classifier_pooling = classifier_pooling
        self.classifier_hidden_size = classifier_hidden_size
        self.classifier_dropout = classifier_dropout
        self.lm_loss = lm_loss
        self.num_sampled = num_sampled
        self.classifier_chunk_size = classifier_chunk_size
        self.classifier_grad_chunks = classifier_grad_chunks
        self.ngram_buckets = ngram_buckets
        self.ngram_embedding_size = ngram_embedding_size
        self.auxiliary_label_names = list(auxiliary_label_names) if auxiliary_label_names else None
        self.auxiliary_loss_weight = auxiliary_loss_weight
        self.regression_target_mean = regression_target_mean
        self.regression_target_std = regression_target_std
        self.reverse_text = reverse_text
        self.initializer_range = initializer_range
        self.pad_token_id = pad_token_id
        self.bos_token_id = bos_token_id
        self.eos_token_id = eos_token_id
        self.use_cache = use_cache
        super().__init__(**kwargs)
        self.validate_architecture()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """Width of the backbone's per-token outputs (both directions concatenated)."""
        return self.hidden_size * self.num_directions

    def validate_architecture(self):
        """Raise a ValueError naming the first invalid field and what is allowed."""
        if self.cell_type not in CELL_TYPES:
            raise ValueError(f"cell_type={self.cell_type!r} is not supported; use one of {CELL_TYPES}.")
        for name in ("embedding_size", "hidden_size", "num_hidden_layers"):
            _require_positive_int(name, getattr(self, name))
        if self.input_size is None:
            _require_positive_int("vocab_size", self.vocab_size)
        else:
            _require_positive_int("input_size", self.input_size)
        for name in DROPOUT_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ValueError(f"{name}={value!r} must be a probability in [0, 1).")
        if self.classifier_pooling not in POOLINGS:
            raise ValueError(f"classifier_pooling={self.classifier_pooling!r} is not supported; use one of {POOLINGS}.")
        if not isinstance(self.classifier_hidden_size, int) or self.classifier_hidden_size < 0:
            raise ValueError(f"classifier_hidden_size={self.classifier_hidden_size!r} must be an int >= 0 (0 = linear).")
        if self.lm_loss not in LM_LOSSES:
            raise ValueError(f"lm_loss={self.lm_loss!r} is not supported; use one of {LM_LOSSES}.")
        _require_positive_int("num_sampled", self.num_sampled)
        for name in ("classifier_chunk_size", "classifier_grad_chunks"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}={value!r} must be an int >= 0 (0 = off).")
        self._validate_classifier_extras()
        if not isinstance(self.regression_target_std, (int, float)) or not self.regression_target_std > 0:
            raise ValueError(f"regression_target_std={self.regression_target_std!r} must be a number > 0.")
        if not isinstance(self.regression_target_mean, (int, float)) or self.regression_target_mean != self.regression_target_mean:
            raise ValueError(f"regression_target_mean={self.regression_target_mean!r} must be a finite number.")
        self._validate_reading_direction()
        if self.classifier_chunk_size and self.bidirectional:
            raise ValueError("classifier_chunk_size needs bidirectional=False: a backward pass cannot carry its state "
                             "across chunks. Set classifier_chunk_size=0 or bidirectional=False.")
        if self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"problem_type={self.problem_type!r} is not supported; use one of {PROBLEM_TYPES}.")
        if self.input_size is None and self.pad_token_id is not None and not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"pad_token_id={self.pad_token_id} must lie in [0, vocab_size={self.vocab_size}).")

    def _validate_reading_direction(self):
        if not isinstance(self.reverse_text, bool):
            raise ValueError(f"reverse_text={self.reverse_text!r} must be True (a backward model) or False.")
        if self.reverse_text and self.input_size is not None:
            raise ValueError("reverse_text=True reads token sequences backward; a model of continuous signals "
                             "(input_size) cannot take it: set reverse_text=False.")
        if self.reverse_text and self.bidirectional:
            raise ValueError("reverse_text=True with bidirectional=True reads each text both ways already: the "
                             "reversal changes nothing but the output order. Set one of them to False.")

    def _validate_classifier_extras(self):
        if not isinstance(self.ngram_buckets, int) or self.ngram_buckets < 0:
            raise ValueError(f"ngram_buckets={self.ngram_buckets!r} must be an int >= 0 (0 = no n-gram bag).")
        _require_positive_int("ngram_embedding_size", self.ngram_embedding_size)
        if self.ngram_buckets and self.input_size is not None:
            raise ValueError("ngram_buckets needs token inputs (vocab_size), not continuous input_size: set it to 0.")
        names = self.auxiliary_label_names
        if names is not None and (len(names) < 2 or not all(isinstance(n, str) for n in names)):
            raise ValueError(f"auxiliary_label_names={names!r} must name at least two classes (a list of str).")
        if not isinstance(self.auxiliary_loss_weight, (int, float)) or not self.auxiliary_loss_weight > 0:
            raise ValueError(f"auxiliary_loss_weight={self.auxiliary_loss_weight!r} must be a number > 0.")


def _require_positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer.")


class RNNEnsembleConfig(PretrainedConfig):
    r"""Several hf_rnn sequence classifiers served as one model, e.g. ULMFiT's forward and backward classifiers
    (`reverse_text=True`). The ensemble's class probabilities are the average of its members' (ULMFiT averages
    probabilities, not logits); an auxiliary head (e.g. star ratings) is averaged the same way.

    Args:
        members (`list` of `RNNConfig` or `dict`): each member's config, in order. The members read one tokenizer's
            ids and answer with one set of labels: they share `vocab_size`, `pad_token_id`, `id2label` and
            `auxiliary_label_names`, and are all single-label or all multi-label classifiers (an average of
            probabilities is no regression).
        ngram_logistic (`dict`, *optional*): a bag-of-words member's sizes (`vocab_size`, `buckets`, `num_labels`,
            `num_auxiliary_labels`), the arguments of `NgramLogisticRegression`; None: members only.
        ngram_logistic_weight (`float`, *optional*, defaults to 0.0): that member's share of the averaged class
            probabilities, in [0, 1); the recurrent members share the rest equally.
        ngram_logistic_auxiliary_weight (`float`, *optional*, defaults to 0.0): its share of the second head's
            (e.g. the star rating's) averaged probabilities, in [0, 1).
        kwargs: [`PretrainedConfig`] fields. `id2label`/`label2id` default to the members', so `pipeline()` reads
            the same labels from the ensemble as from each member.
    """

    model_type = "hf_rnn_ensemble"
    keys_to_ignore_at_inference = ["hidden_states"]

    def __init__(self, members=None, ngram_logistic=None, ngram_logistic_weight=0.0,
                 ngram_logistic_auxiliary_weight=0.0, **kwargs):
        self.members = [m.to_dict() if isinstance(m, PretrainedConfig) else dict(m) for m in members or []]
        self.ngram_logistic = dict(ngram_logistic) if ngram_logistic else None
        self.ngram_logistic_weight = ngram_logistic_weight
        self.ngram_logistic_auxiliary_weight = ngram_logistic_auxiliary_weight
        configs = self.member_configs()
        _check_members_agree(configs)
        _check_ngram_member(self.ngram_logistic, (ngram_logistic_weight, ngram_logistic_auxiliary_weight), configs)
        if configs:
            kwargs.setdefault("id2label", configs[0].id2label)
            kwargs.setdefault("label2id", configs[0].label2id)
            kwargs.setdefault("problem_type", configs[0].problem_type or "single_label_classification")
        super().__init__(**kwargs)

    def member_configs(self) -> list[RNNConfig]:
        """The members' configs, built from the dicts this config holds."""
        return [RNNConfig.from_dict(member) for member in self.members]

    @property
    def auxiliary_label_names(self) -> list[str] | None:
        """The members' second head's classes (shared by all), so the ensemble serves that head as a member does."""
        return self.members[0].get("auxiliary_label_names") if self.members else None


NGRAM_MEMBER_FIELDS = ("vocab_size", "buckets", "num_labels", "num_auxiliary_labels")


def _check_ngram_member(bag: dict | None, weights: tuple[float, float], configs: list[RNNConfig]):
    """An ensemble's n-gram member reads the members' ids and answers their heads, with weights in [0, 1)."""
    for name, weight in zip(("ngram_logistic_weight", "ngram_logistic_auxiliary_weight"), weights):
        if not isinstance(weight, (int, float)) or not 0 <= weight < 1:
            raise ValueError(f"{name}={weight!r} must be in [0, 1): the n-gram model's share of the averaged "
                             "probabilities (0: members only).")
    if not bag:
        return
    if sorted(bag) != sorted(NGRAM_MEMBER_FIELDS):
        raise ValueError(f"ngram_logistic={bag!r} must give exactly {list(NGRAM_MEMBER_FIELDS)}.")
    if configs:
        aux = len(configs[0].auxiliary_label_names or [])
        expected = dict(vocab_size=configs[0].vocab_size, num_labels=configs[0].num_labels)
        if any(bag[name] != value for name, value in expected.items()) or bag["num_auxiliary_labels"] not in (0, aux):
            raise ValueError(f"The n-gram model {bag} must read the members' vocabulary and answer their heads "
                             f"({expected}, num_auxiliary_labels 0 or {aux}): fit it with the members' tokenizer "
                             "and target.")


def _check_members_agree(configs: list[RNNConfig]):
    """An ensemble's members share their tokenizer and labels and classify single-label: else a ValueError."""
    for name in ("vocab_size", "pad_token_id", "id2label", "auxiliary_label_names"):
        values = [getattr(config, name) for config in configs]
        if any(value != values[0] for value in values):
            raise ValueError(f"Ensemble members must share {name} (one tokenizer, one set of labels); got {values}. "
                             "Fine-tune every member with the same tokenizer and target.")
    kinds = {config.problem_type or "single_label_classification" for config in configs}
    if "regression" in kinds or len(kinds) > 1:
        raise ValueError(f"An ensemble averages class probabilities; members with problem types {sorted(kinds)} "
                         "cannot be averaged. Ensemble classifiers of one kind (single-label or multi-label) only.")
