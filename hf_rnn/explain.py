"""Why a saved classifier said what it said: each word's share of the predicted label, and the running opinion.

- Attributions: captum's integrated gradients on the output of every recurrent member's embedding layer
  (`LayerIntegratedGradients`, baseline: the padding token at every position), and occlusion (captum's
  `FeatureAblation`, one word left out at a time) for an ensemble's bag-of-words member, which has no embedding to
  take gradients through. Both explain the log-odds of the predicted label (a regression model: its rating).
- The running opinion of a model that reads forward: the classifier's scores on every prefix of the text, from ONE
  pass of the backbone. The per-position outputs are pooled cumulatively (last, running max, running mean, as
  `classifier_pooling` asks), the n-gram bag likewise, and the head scores every prefix's pooled vector, which is
  what the model's forward computes on that prefix alone (tested).

captum is an optional dependency (`pip install "hf_rnn[explain]"`); the PNG plot needs matplotlib (`hf_rnn[plot]`);
the HTML needs nothing.
"""

from __future__ import annotations

import html
import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .inference import check_text_classifier, load_classifier, predict_reviews

INSTALL_HINT = 'pip install "hf_rnn[explain]"'
DEFAULT_MAX_LENGTH = 1000  # tokens explained per text: IG runs n_steps copies of the text forward and backward
DEFAULT_STEPS = 16  # integrated-gradients steps (Gauss-Legendre): the completeness gap is reported as `delta`
OCCLUSION_ROWS = 256  # bag-of-words rows per occlusion batch, to bound memory on long texts


@dataclass
class Explanation:
    """One text, explained.

    Attributes:
        text: the text read (cut after `max_length` tokens; see `tokens_total`).
        words: its words as the tokenizer split them (punctuation is a word of its own).
        spans: `(start, end)` characters of each word in `text`.
        label: the predicted label (a regression model: `"rating"`).
        scores: every label's probability (multi-label: each label's own probability; regression: the rating).
        attributions: each word's share of the predicted label's log-odds (regression: of the rating);
            positive pushes toward the label. The recurrent path's shares (integrated gradients) sum to the output
            minus the output with padding embeddings everywhere, up to `delta`; an n-gram bag's share of a word is
            how much the output drops when the bag no longer sees it (occlusion).
        running: the scores after each word (the classifier on the text up to and including it), or None with
            `running_note` saying why (a model that reads backward or both ways has no opinion on a prefix).
        prediction: what `hf-rnn predict` says for the text (label, score; stars as `rating` for a rating head).
        method: how the attributions were computed.
        delta: integrated gradients' completeness gap on the recurrent path (0 for exact; grows as steps shrink).
        tokens_read, tokens_total: tokens explained and in the whole text (special tokens included).
    """

    text: str
    words: list[str]
    spans: list[tuple[int, int]]
    label: str
    scores: dict[str, float]
    attributions: list[float]
    running: list[dict[str, float]] | None
    prediction: dict
    method: str
    delta: float | None = None
    tokens_read: int = 0
    tokens_total: int = 0
    running_note: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def rating(self) -> float | None:
        """Stars (1-10) where the model has a rating head or is a rating model, else None."""
        return self.prediction.get("rating")

    def top_words(self, k: int = 5) -> dict[str, list[tuple[str, float]]]:
        """The `k` words that pushed most toward the predicted label (`"for"`) and most against it (`"against"`)."""
        ranked = sorted(zip(self.words, self.attributions), key=lambda pair: pair[1])
        return {"for": [p for p in reversed(ranked[-k:]) if p[1] > 0], "against": [p for p in ranked[:k] if p[1] < 0]}

    def running_curve(self) -> list[float] | None:
        """The running score of the predicted label after each word (regression: the running rating)."""
        return None if self.running is None else [step[self.label] for step in self.running]

    def top_moves(self, k: int = 5) -> dict[str, list[tuple[str, float]]]:
        """The `k` words after which the running score of the predicted label rose most (`"up"`) and fell most
        (`"down"`), with the change; empty without a running opinion."""
        curve = self.running_curve()
        if curve is None:
            return {"up": [], "down": []}
        moves = sorted(zip(self.words, [curve[0] - self.running_start] + [b - a for a, b in zip(curve, curve[1:])]),
                       key=lambda pair: pair[1])
        return {"up": [p for p in reversed(moves[-k:]) if p[1] > 0], "down": [p for p in moves[:k] if p[1] < 0]}

    @property
    def running_start(self) -> float:
        """The score the first word moves from: an even split between the labels (regression: the first rating)."""
        curve = self.running_curve()
        if self.label == "rating" or not self.scores:
            return curve[0] if curve else 0.0
        return 1.0 / len(self.scores)

    def turning_points(self) -> list[int]:
        """Indices of the words after which the running opinion's most likely label changed."""
        if self.running is None or self.label == "rating":
            return []
        best = [max(step, key=step.get) for step in self.running]
        return [i for i in range(1, len(best)) if best[i] != best[i - 1]]

    def to_dict(self) -> dict:
        """A JSON-ready dict (the CLI's `--json` line)."""
        return {**asdict(self), "spans": [list(span) for span in self.spans]}


def load_explainer(model_dir: str, device=None):
    """The text-classification pipeline `explain` takes (see `hf_rnn.inference.load_classifier`).

    Raises:
        FileNotFoundError, ValueError: no such folder, or it holds a language model or another kind of model.
    """
    return load_classifier(model_dir, device=device)


def explain(classifier, texts: str | list[str], max_length: int = DEFAULT_MAX_LENGTH, n_steps: int = DEFAULT_STEPS,
            batch_size: int | None = None) -> Explanation | list[Explanation]:
    """Explain a classifier's prediction on each text: word attributions and, for forward models, the running opinion.

    Args:
        classifier: a pipeline from `load_explainer` / `load_classifier` (an hf_rnn classifier or ensemble).
        texts: one text (returns one `Explanation`) or a list of texts (returns a list).
        max_length: tokens read per text; a longer text is explained on its first `max_length` tokens, and the
            explanation says so (`tokens_total`, `notes`). Time and memory grow linearly with it.
        n_steps: integrated-gradients steps per text.
        batch_size: integrated-gradients steps run in one forward pass (default: all `n_steps`): lower it to bound
            memory on long texts.

    Raises:
        ValueError: an empty text, a text of only words the model does not know, or a `max_length` < 1.
        ImportError: captum is not installed.
    """
    if max_length < 1 or n_steps < 1:
        raise ValueError(f"max_length={max_length} and n_steps={n_steps} must be >= 1.")
    single = isinstance(texts, str)
    batch = [texts] if single else list(texts)
    model = classifier.model.eval()
    explanations = []
    for index, text in enumerate(batch):
        where = "" if single else f"text {index}: "
        try:
            explanations.append(_explain_one(classifier, model, text, max_length, n_steps, batch_size or n_steps))
        except ValueError as error:
            raise ValueError(f"{where}{error}") from None
    return explanations[0] if single else explanations


def _explain_one(classifier, model, text, max_length, n_steps, batch_size) -> Explanation:
    encoded = encode(classifier.tokenizer, text, max_length)
    ids = torch.tensor([encoded.ids], device=model.device)  # [1, T]
    words, spans, last_tokens = group_words(encoded, text)
    read = text[: spans[-1][1]] if encoded.total > len(encoded.ids) else text
    with torch.no_grad():
        logits = model(input_ids=ids).logits.float()  # [1, C]
    target = score_function(model.config, int(logits[0].argmax()))
    token_attributions, delta, method = attribute(model, ids, target, n_steps, batch_size)
    running, note = running_logits(model, ids)
    label, scores = named_scores(model.config, logits)[0]
    notes = [] if encoded.total == len(encoded.ids) else [
        f"the text has {encoded.total} tokens; the first {len(encoded.ids)} were read (max_length={max_length})"]
    if not token_attributions.any():
        notes.append("every word's share is 0: the model's output does not change with the words it reads "
                     "(an untrained or collapsed model?)")
    return Explanation(
        text=read, words=words, spans=spans, label=label, scores=scores,
        attributions=[float(token_attributions[tokens].sum()) for tokens in _word_token_sets(encoded)],
        running=None if running is None else [named_scores(model.config, running[[i]])[0][1] for i in last_tokens],
        prediction=predict_reviews(classifier, [read])[0], method=method, delta=delta, tokens_read=len(encoded.ids),
        tokens_total=encoded.total, running_note=note, notes=notes)


# --- the text -----------------------------------------------------------------------------------------------------


@dataclass
class Encoded:
    """A text's tokens as the model reads them, cut to `max_length`: ids, character offsets, word index per token
    (None for special tokens), and the uncut token count."""

    ids: list[int]
    offsets: list[tuple[int, int]]
    word_ids: list[int | None]
    total: int


def encode(tokenizer, text: str, max_length: int) -> Encoded:
    """The tokenizer's encoding of `text`, its first `max_length` tokens kept (whatever the tokenizer's own
    truncation side: the explanation reads the text from its start, as the running opinion does).

    Raises:
        ValueError: the text is empty or whitespace, or every word in it is unknown to the vocabulary.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the text is empty: give a sentence or a review to explain.")
    encoding = tokenizer(text, return_offsets_mapping=True, verbose=False)
    total = len(encoding["input_ids"])
    kept = Encoded(encoding["input_ids"][:max_length], [tuple(o) for o in encoding["offset_mapping"][:max_length]],
                   encoding.word_ids()[:max_length], total)
    real = [i for i, word in enumerate(kept.word_ids) if word is not None]
    if not real:
        raise ValueError("the text holds no word the tokenizer keeps: give a sentence or a review to explain.")
    if all(kept.ids[i] == tokenizer.unk_token_id for i in real):
        raise ValueError(f"every word of the text is unknown to the model's vocabulary (read as "
                         f"{tokenizer.unk_token}): the model sees no word, so there is nothing to explain. "
                         "Is the text in the language the model was trained on?")
    return kept


def _word_token_sets(encoded: Encoded) -> list[list[int]]:
    """The token indices of each word, in order (special tokens, whose word id is None, belong to no word)."""
    groups: dict[int, list[int]] = {}
    for index, word in enumerate(encoded.word_ids):
        if word is not None:
            groups.setdefault(word, []).append(index)
    return list(groups.values())


def group_words(encoded: Encoded, text: str) -> tuple[list[str], list[tuple[int, int]], list[int]]:
    """Words (as written in `text`), their character spans, and the index of each word's last token."""
    words, spans, last_tokens = [], [], []
    for tokens in _word_token_sets(encoded):
        start, end = encoded.offsets[tokens[0]][0], encoded.offsets[tokens[-1]][1]
        words.append(text[start:end])
        spans.append((start, end))
        last_tokens.append(tokens[-1])
    return words, spans, last_tokens


def named_scores(config, logits: torch.Tensor) -> list[tuple[str, dict[str, float]]]:
    """Each row of `[N, C]` logits as (predicted label, every label's score) with the config's label names."""
    if config.problem_type == "regression":
        return [("rating", {"rating": float(row[0])}) for row in logits]
    probs = logits.float().sigmoid() if config.problem_type == "multi_label_classification" else logits.float().softmax(-1)
    names = [config.id2label.get(i, str(i)) for i in range(logits.size(-1))]
    return [(names[int(row.argmax())], dict(zip(names, map(float, row)))) for row in probs]


def score_function(config, label: int):
    """`logits [N, C] -> [N]`: what the attributions explain: the predicted label's log-odds, `log p - log(1 - p)`
    (a confident model's log-probability is flat, its gradient 0 in float32; the log-odds keep a slope), its logit
    for multi-label, the value for regression."""
    if config.problem_type == "regression":
        return lambda logits: logits[:, 0]
    if config.problem_type == "multi_label_classification":
        return lambda logits: logits[:, label]
    return lambda logits: log_odds(logits, label)


def log_odds(logits: torch.Tensor, label: int) -> torch.Tensor:
    """`[N]`: `log p_label - log(sum of the other labels' p)` from `[N, C]` logits, in log space throughout."""
    log_probs = logits.float().log_softmax(-1)
    others = log_probs.masked_fill(torch.arange(logits.size(-1), device=logits.device) == label, float("-inf"))
    return log_probs[:, label] - others.logsumexp(-1)


# --- attributions --------------------------------------------------------------------------------------------------


def _captum():
    try:
        import captum.attr
    except ImportError as err:
        raise ImportError(f"Explanations need captum, an optional dependency: {INSTALL_HINT}") from err
    return captum.attr


def recurrent_members(model) -> list:
    """The `RNNForSequenceClassification` models inside `model` (itself, or an ensemble's members)."""
    return list(model.members) if hasattr(model, "members") else [model]


def attribute(model, ids: torch.Tensor, target, n_steps: int, batch_size: int) -> tuple[torch.Tensor, float, str]:
    """Each token's attribution `[T]` to `target(model(ids).logits)`, integrated gradients' completeness gap on the
    recurrent path, and the method's name.

    The recurrent path (embeddings -> RNN -> pooling) is explained by integrated gradients with every n-gram bag held
    at the whole text; the bags (a classifier's `NgramBag`, an ensemble's bag-of-words member) by occlusion with the
    recurrent path held. The two add up to one attribution per token."""
    members = recurrent_members(model)
    layers = [member.model.embeddings for member in members]
    forward = lambda input_ids: target(model(input_ids=input_ids).logits)  # noqa: E731  [N]
    with warnings.catch_warnings():  # "each layer not solely dependent on another": members are parallel
        warnings.simplefilter("ignore", UserWarning)
        ig = _captum().LayerIntegratedGradients(forward, layers)
    pad = members[0].config.pad_token_id
    baseline = torch.full_like(ids, pad if pad is not None else 0)  # [1, T]
    per_layer = ig.attribute(ids, baselines=baseline, n_steps=n_steps, internal_batch_size=batch_size)
    attributions = torch.zeros(ids.size(1), device=ids.device)
    for member, layer_attr in zip(members, per_layer):
        layer_attr = layer_attr[0] if isinstance(layer_attr, tuple) else layer_attr  # [1, T, E]
        per_token = layer_attr.sum(-1)[0].detach()  # [T], in the member's reading order
        # A backward member embeds the row reversed (one unpadded row: a flip), so its attributions are flipped back.
        attributions += per_token.flip(0) if member.config.reverse_text else per_token
    delta = completeness_gap(model, layers, ids, baseline, target, float(attributions.sum()))
    method = f"integrated gradients on the embedding output ({n_steps} steps, padding-token baseline)"
    occluded = bag_occlusion(model, ids, target)
    if occluded is not None:
        attributions += occluded
        method += " + occlusion of each word for the bag-of-words features"
    return attributions.cpu(), delta, method


def completeness_gap(model, layers, ids, baseline, target, total: float) -> float:
    """`f(text) - f(text with the baseline's embeddings) - sum of attributions`: 0 when integrated gradients is
    exact. The bags read the text in both terms, as they do along the integration path."""
    with torch.no_grad():
        full = float(target(model(input_ids=ids).logits)[0])
        baseline_embeddings = [layer(baseline) for layer in layers]  # all padding: the same read either way
        hooks = [layer.register_forward_hook(lambda module, args, output, b=b: b)
                 for layer, b in zip(layers, baseline_embeddings)]
        try:
            empty = float(target(model(input_ids=ids).logits)[0])
        finally:
            for hook in hooks:
                hook.remove()
    return full - empty - total


def bag_occlusion(model, ids: torch.Tensor, target) -> torch.Tensor | None:
    """`[T]`: how much `target` drops when the n-gram bags (every classifier's `NgramBag`, an ensemble's
    bag-of-words member) no longer see each word (the word and the pairs it is in), the recurrent path held at the
    whole text (captum `FeatureAblation`); None for a model without bags."""
    from .models.rnn.modeling_rnn_ensemble import average_probabilities, with_ngram_model

    members = recurrent_members(model)
    ensemble_bag = getattr(model, "ngram_logistic", None)
    if ensemble_bag is None and all(member.ngrams is None for member in members):
        return None
    with torch.no_grad():
        pooled = [recurrent_features(member, ids) for member in members]  # [1, F] each

        def forward(present):  # [N, T] 1 = the bags see the word
            rows = len(present)
            logits = [head_logits(member, features.expand(rows, -1), ids.expand(rows, -1), present)
                      for member, features in zip(members, pooled)]
            if ensemble_bag is None and len(logits) == 1 and not hasattr(model, "members"):
                return target(logits[0])
            mixed = average_probabilities(logits)
            if ensemble_bag is not None:
                bag_logits, _ = ensemble_bag(ids.expand(rows, -1), present)
                mixed = with_ngram_model(mixed, bag_logits, model.config.ngram_logistic_weight)
            return target(mixed)

        ablation = _captum().FeatureAblation(forward)
        attributions = ablation.attribute(torch.ones_like(ids), baselines=0, perturbations_per_eval=OCCLUSION_ROWS)
    return attributions[0].float()


def recurrent_features(classifier, ids: torch.Tensor) -> torch.Tensor:
    """`[1, F]`: a classifier's pooled backbone outputs for one unpadded row (read backward by a backward model)."""
    row = ids.flip(1) if classifier.config.reverse_text else ids
    hidden = classifier.model(input_ids=row, use_cache=False, return_dict=True, already_reversed=True)
    return classifier.pooler(hidden.last_hidden_state)


def head_logits(classifier, features, ids, present) -> torch.Tensor:
    """`[N, C]`: a classifier's logits from pooled features `[N, F]` and its n-gram bag of `ids` `[N, T]` where
    `present` `[N, T]` is 1 (its forward, from the pooling on)."""
    if classifier.ngrams is not None:
        if classifier.config.reverse_text:  # its bag reads the reversed ids, pairs included
            ids, present = ids.flip(1), present.flip(1)
        features = torch.cat([features, classifier.ngrams(ids, present)], dim=-1)  # [N, F + D]
    logits = classifier.classifier(features)
    if classifier.config.problem_type == "regression":
        logits = logits * classifier.config.regression_target_std + classifier.config.regression_target_mean
    return logits


# --- the running opinion -------------------------------------------------------------------------------------------


def reads_forward(config) -> bool:
    """Whether a classifier's opinion after each word is defined by the words so far (a forward, one-way model)."""
    return not config.reverse_text and not config.bidirectional


def running_logits(model, ids: torch.Tensor) -> tuple[torch.Tensor | None, str]:
    """`[T, C]` logits the classifier gives every prefix `ids[:, : t + 1]` of one unpadded row, from one pass, and a
    note; `(None, why)` for a model with no forward reading. An ensemble's running opinion comes from the members
    that read forward (and its bag of words); the note names what is left out."""
    members = recurrent_members(model)
    forward_members = [member for member in members if reads_forward(member.config)]
    if not forward_members:
        why = "reads every text both ways" if members[0].config.bidirectional else "reads every text from its end"
        return None, f"no running opinion: the model {why}, so its opinion after a word depends on the words after it."
    with torch.no_grad():
        logits = [prefix_logits(member, ids) for member in forward_members]
        if not hasattr(model, "members"):
            return logits[0], ""
        from .models.rnn.modeling_rnn_ensemble import average_probabilities, with_ngram_model

        mixed = average_probabilities(logits)
        if model.ngram_logistic is not None:
            mixed = with_ngram_model(mixed, prefix_bag_logits(model.ngram_logistic, ids),
                                     model.config.ngram_logistic_weight)
    left_out = len(members) - len(forward_members)
    note = (f"the running opinion is that of the {len(forward_members)} forward member(s)"
            f"{' and the bag of words' if model.ngram_logistic is not None else ''}; {left_out} member(s) reading "
            "backward have no opinion on a prefix.") if left_out else ""
    return mixed, note


def prefix_logits(classifier, ids: torch.Tensor) -> torch.Tensor:
    """`[T, C]`: a forward `RNNForSequenceClassification`'s logits on every prefix of one unpadded row `[1, T]`."""
    config = classifier.config
    hidden = classifier.model(input_ids=ids, use_cache=False, return_dict=True).last_hidden_state[0]  # [T, H]
    features = prefix_pooling(hidden, config.classifier_pooling)  # [T, F]
    if classifier.ngrams is not None:
        features = torch.cat([features, prefix_ngram_bag(classifier.ngrams, ids)], dim=-1)  # [T, F + D]
    logits = classifier.classifier(features)  # [T, C]
    if config.problem_type == "regression":  # as the model's forward: the head predicts the standardised target
        logits = logits * config.regression_target_std + config.regression_target_mean
    return logits


def prefix_pooling(hidden: torch.Tensor, pooling: str) -> torch.Tensor:
    """`[T, H] -> [T, F]`: the `SequencePooler` vector of every prefix, cumulatively (concat = last, max, mean)."""
    counts = torch.arange(1, hidden.size(0) + 1, device=hidden.device, dtype=torch.float32)[:, None]  # [T, 1]
    pooled = {"last": hidden, "max": hidden.cummax(0).values,
              "mean": (hidden.cumsum(0) / counts).to(hidden.dtype)}
    if pooling == "concat":
        return torch.cat([pooled["last"], pooled["max"], pooled["mean"]], dim=-1)  # [T, 3H]
    return pooled[pooling]


def prefix_ngram_bag(bag, ids: torch.Tensor) -> torch.Tensor:
    """`[T, D]`: a classifier's `NgramBag` vector of every prefix: the mean of its words' and word pairs' vectors."""
    from .models.rnn.modeling_rnn import hashed_ngrams

    length = ids.size(1)
    hashed, _ = hashed_ngrams(ids, None, bag.vocab_size, bag.buckets)  # [1, 2T-1]: words, then pairs
    vectors = bag.bag.weight[hashed[0]]  # [2T-1, D]
    # Prefix t holds words 0..t and pairs (0,1)..(t-1,t): 2t + 1 entries.
    summed = vectors[:length].cumsum(0) + _shifted_cumsum(vectors[length:])
    counts = torch.arange(length, device=ids.device, dtype=vectors.dtype)[:, None] * 2 + 1
    return summed / counts


def prefix_bag_logits(bag, ids: torch.Tensor) -> torch.Tensor:
    """`[T, C]`: an ensemble's `NgramLogisticRegression` scores of every prefix (each word and pair counted once,
    at its earliest occurrence, which is in a prefix exactly when the word is)."""
    from .models.rnn.modeling_rnn import hashed_ngrams

    length = ids.size(1)
    hashed, _ = hashed_ngrams(ids, None, bag.vocab_size, bag.buckets)  # [1, 2T-1]
    rows = bag.scores.weight[hashed[0]] * earliest_occurrences(hashed[0])[:, None]  # [2T-1, C + A]
    scores = rows[:length].cumsum(0) + _shifted_cumsum(rows[length:]) + bag.bias  # [T, C + A]
    return scores[:, : bag.num_labels]


def earliest_occurrences(ids: torch.Tensor) -> torch.Tensor:
    """`[N]` float: 1 at the first position of each distinct id (a stable sort keeps equal ids in order)."""
    order = ids.argsort(stable=True)
    ordered = ids[order]
    first = torch.cat([torch.ones(1, dtype=torch.bool, device=ids.device), ordered[1:] != ordered[:-1]])
    return torch.zeros_like(first).scatter(0, order, first).float()


def _shifted_cumsum(rows: torch.Tensor) -> torch.Tensor:
    """`[T-1, D] -> [T, D]`: row t is the sum of rows before t (pair j joins prefix t once j < t)."""
    return torch.cat([rows.new_zeros(1, rows.size(1)), rows.cumsum(0)])


# --- pictures ------------------------------------------------------------------------------------------------------


def word_colour(value: float, scale: float) -> str:
    """A CSS background: green toward the predicted label, red against, stronger for a larger share."""
    strength = 0.0 if scale <= 0 else min(1.0, abs(value) / scale)
    rgb = "22, 163, 74" if value > 0 else "220, 38, 38"
    return f"rgba({rgb}, {0.08 + 0.72 * strength:.2f})" if strength > 0 else "transparent"


def explanation_html(explanation: Explanation, title: bool = True) -> str:
    """The text with each word coloured by its attribution (an HTML fragment; inline styles, no script)."""
    scale = max((abs(a) for a in explanation.attributions), default=0.0)
    parts, position = [], 0
    for word, (start, end), value in zip(explanation.words, explanation.spans, explanation.attributions):
        parts.append(html.escape(explanation.text[position:start]))
        parts.append(f'<span class="hf-rnn-word" style="background:{word_colour(value, scale)};'
                     f'border-radius:3px;padding:0 1px" title="{value:+.3f}">{html.escape(word)}</span>')
        position = end
    parts.append(html.escape(explanation.text[position:]))
    body = f'<div class="hf-rnn-text" style="line-height:1.9;white-space:pre-wrap">{"".join(parts)}</div>'
    if not title:
        return body
    label = html.escape(explanation.label)
    head = (f'<p class="hf-rnn-label"><b>{label}</b> ({_headline_score(explanation)}): '
            f'<span style="background:{word_colour(1, 1)}">green</span> words pushed toward {label}, '
            f'<span style="background:{word_colour(-1, 1)}">red</span> against.</p>')
    return head + body + "".join(f"<p><i>{html.escape(note)}</i></p>" for note in explanation.notes)


def _headline_score(explanation: Explanation) -> str:
    value = explanation.scores[explanation.label]
    return f"{value:.2f} stars" if explanation.label == "rating" else f"{value:.0%}"


def save_html(explanations: Explanation | list[Explanation], path) -> Path:
    """Write a standalone HTML page of coloured texts; returns `path`."""
    items = [explanations] if isinstance(explanations, Explanation) else explanations
    page = ('<!doctype html><html><head><meta charset="utf-8"><title>hf_rnn explanation</title></head>'
            '<body style="font-family:sans-serif;max-width:50em;margin:2em auto">'
            + "<hr>".join(explanation_html(item) for item in items) + "</body></html>")
    Path(path).write_text(page, encoding="utf-8")
    return Path(path)


MAX_TICK_WORDS = 60  # more words than this: label only every n-th word and the turning points


def plot_running(explanation: Explanation, path=None):
    """The running opinion over the text: the predicted label's score after each word, the words under the curve
    and a mark where the most likely label changes. Saved as PNG when `path` is given; returns the figure.

    Raises:
        ValueError: the model has no running opinion (`explanation.running_note` says why).
        ImportError: matplotlib is not installed.
    """
    from .plotting import new_figure

    curve = explanation.running_curve()
    if curve is None:
        raise ValueError(explanation.running_note)
    count = len(curve)
    fig = new_figure(figsize=(min(18.0, max(6.0, 0.22 * min(count, MAX_TICK_WORDS) + 2)), 3.6))
    ax = fig.subplots()
    ax.plot(range(count), curve, "-o", markersize=2.5, color="#2563eb")
    is_rating = explanation.label == "rating"
    if not is_rating:
        ax.axhline(0.5 if len(explanation.scores) == 2 else 1 / len(explanation.scores), color="grey", lw=0.8, ls=":")
        ax.set_ylim(-0.02, 1.02)
    turns = explanation.turning_points()
    for turn in turns:
        ax.axvline(turn, color="#dc2626", lw=0.8, alpha=0.6)
    step = max(1, math.ceil(count / MAX_TICK_WORDS))
    ticks = sorted(set(range(0, count, step)) | set(turns))
    ax.set_xticks(ticks, [explanation.words[i] for i in ticks], rotation=70, fontsize=7)
    ax.set_xlim(-0.5, count - 0.5)
    ax.set(ylabel="rating" if is_rating else f"P({explanation.label})",
           title=f"Running opinion: {explanation.label} after each word" + (" (red: it turns)" if turns else ""))
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def check_explainable(model_dir: str) -> None:
    """Raise a one-line ValueError unless `model_dir` holds a text classifier (a language model, a time-series
    model: see `hf_rnn.inference.check_text_classifier`)."""
    check_text_classifier(model_dir)


# --- the command line ----------------------------------------------------------------------------------------------


def main(argv=None) -> None:
    """`hf-rnn explain MODEL "text" ...`: the top words both ways (attributions, and the moves of the running
    opinion), optionally an HTML page of coloured words, a running-opinion PNG per text, or JSON lines."""
    import argparse
    import json

    from .cli import read_lines

    parser = argparse.ArgumentParser(prog="hf-rnn explain", description="Which words made a saved classifier say "
                                     "what it said, and its opinion after each word.")
    parser.add_argument("model", help="folder of a saved hf_rnn classifier or ensemble (or a Hub id)")
    parser.add_argument("texts", nargs="*", help="texts; none: read --file or stdin, one text per line")
    parser.add_argument("--file", help="a text file with one text per line")
    parser.add_argument("--top", type=int, default=5, help="words to print each way")
    parser.add_argument("--max_length", type=int, default=DEFAULT_MAX_LENGTH, help="tokens read per text")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="integrated-gradients steps")
    parser.add_argument("--batch_size", type=int, default=None, help="integrated-gradients steps per forward pass")
    parser.add_argument("--html", help="write the coloured texts to this HTML file")
    parser.add_argument("--plot", help="write the running opinion to this PNG (several texts: NAME-1.png, ...)")
    parser.add_argument("--json", action="store_true", help="print one JSON line per text instead")
    args = parser.parse_args(argv)
    texts = args.texts or read_lines(args.file)
    if not texts:
        parser.error("no text given: pass texts as arguments, --file, or lines on stdin")
    try:
        explanations = explain(load_explainer(args.model), texts, args.max_length, args.steps, args.batch_size)
        plots = _write_plots(explanations, args.plot) if args.plot else []
    except ImportError as error:
        raise SystemExit(f"hf-rnn: error: {error}") from None
    for explanation in explanations:
        print(json.dumps(explanation.to_dict()) if args.json else describe(explanation, args.top))
    if args.html:
        print(f"coloured words: {save_html(explanations, args.html)}")
    for path in plots:
        print(f"running opinion: {path}")


def _write_plots(explanations: list[Explanation], path: str) -> list[Path]:
    target = Path(path)
    paths = [target] if len(explanations) == 1 else [target.with_name(f"{target.stem}-{i}{target.suffix}")
                                                      for i in range(1, len(explanations) + 1)]
    written = []
    for explanation, out in zip(explanations, paths):
        if explanation.running is not None:
            plot_running(explanation, out)
            written.append(out)
    return written


def describe(explanation: Explanation, top: int = 5) -> str:
    """The plain-text report `hf-rnn explain` prints for one text."""
    label, stars = explanation.label, explanation.rating
    text = explanation.text if len(explanation.text) <= 70 else explanation.text[:67] + "..."
    lines = [f"{label} {_headline_score(explanation)}" + (f", {stars:g} stars" if stars is not None and label != "rating"
                                                          else "") + f": {text!r}"]
    words = explanation.top_words(top)
    lines.append(f"  words for {label}:     " + _pairs(words["for"]))
    lines.append(f"  words against {label}: " + _pairs(words["against"]))
    if explanation.running is None:
        lines.append(f"  running opinion: {explanation.running_note}")
    else:
        moves = explanation.top_moves(top)
        lines.append(f"  running opinion rose most after:  " + _pairs(moves["up"]))
        lines.append(f"  running opinion fell most after:  " + _pairs(moves["down"]))
        lines.append(f"  running opinion: {_story(explanation)}")
        if explanation.running_note:
            lines.append(f"  ({explanation.running_note})")
    lines += [f"  note: {note}" for note in explanation.notes]
    return "\n".join(lines)


def _pairs(pairs) -> str:
    return ", ".join(f"{word} {value:+.3f}" for word, value in pairs) or "-"


def _story(explanation: Explanation) -> str:
    """Where the running opinion starts, where it turns, where it ends."""
    running, words = explanation.running, explanation.words
    best = [max(step, key=step.get) for step in running]
    told = [f"{best[0]} after {words[0]!r}"]
    turns = explanation.turning_points()
    told += [f"{best[i]} after {words[i]!r} (word {i + 1})" for i in turns[:6]]
    if len(turns) > 6:
        told.append(f"... {len(turns) - 6} more turns")
    final = running[-1][best[-1]]
    told.append(f"{best[-1]} {final:.0%} at the end" if explanation.label != "rating" else f"{final:.2f} at the end")
    return " -> ".join(told)
