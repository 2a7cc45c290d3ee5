"""Speed against a transformer: IMDB test reviews per second on this CPU, the same reviews for every system.

Systems: the hf_rnn classifier through `pipeline("text-classification")` (the `full` preset's shapes: embedding
256, one LSTM 512 layer, 20k words; random weights unless `--model` gives the trained one), the same after int8
dynamic quantisation (`torch.ao.quantization.quantize_dynamic`), its ONNX Runtime export (`hf_rnn.export`), a
DistilBERT-base-sized classifier (transformers' `DistilBertConfig` defaults, random weights) through the same
pipeline with the same tokenizer, batch size and truncation, and TF-IDF + logistic regression (scikit-learn,
fitted on the training reviews). Throughput does not depend on the weights; accuracy needs trained ones: the hf_rnn
accuracy rows wait for `--model FOLDER` (a trained classifier folder, e.g. `runs/imdb-full/model`).
"""

import copy
import dataclasses

import numpy as np
import torch
from torch import nn

from common import save_plot, write_results
from suite import not_measured, preset_classifier

NAME = "speed"


@dataclasses.dataclass(frozen=True)
class Settings:
    reviews: int  # timed, the same for every system
    batch: int
    max_length: int
    rounds: int  # interleaved rounds; the best counts (noise from neighbours only ever slows a round down)
    accuracy_reviews: int
    tokenizer_vocab: int
    tokenizer_documents: int | None
    baseline_train_reviews: int | None
    rnn_overrides: dict  # on the full preset's RNNConfig (random-weights model)
    transformer_overrides: dict  # on DistilBertConfig's defaults


SIZES = {
    "smoke": Settings(reviews=16, batch=8, max_length=64, rounds=1, accuracy_reviews=16, tokenizer_vocab=500,
                      tokenizer_documents=200, baseline_train_reviews=200,
                      rnn_overrides=dict(embedding_size=16, hidden_size=32, classifier_hidden_size=8),
                      transformer_overrides=dict(dim=32, hidden_dim=64, n_layers=2, n_heads=2)),
    "full": Settings(reviews=320, batch=32, max_length=512, rounds=2, accuracy_reviews=5000, tokenizer_vocab=20_000,
                     tokenizer_documents=None, baseline_train_reviews=None, rnn_overrides={},
                     transformer_overrides={}),
}


@dataclasses.dataclass
class System:
    name: str
    predict: object  # texts -> predicted label ids
    trained: bool
    detail: str = ""
    seconds: float = float("inf")


def hf_rnn_classifier(ctx, s: Settings):
    """(model, tokenizer, trained?): the --model folder (the smoke run's tiny job), else random preset weights."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import hf_rnn  # noqa: F401  (registers the Auto classes)

    trained = ctx.trained_classifiers()
    if trained:
        folder = trained[0]
        return AutoModelForSequenceClassification.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(
            folder), True
    tokenizer = ctx.word_tokenizer(s.tokenizer_vocab, s.tokenizer_documents)
    return preset_classifier(len(tokenizer), tokenizer.pad_token_id, s.rnn_overrides), tokenizer, False


def transformer_classifier(tokenizer, labels: dict, s: Settings):
    """DistilBERT-base's shapes (66M parameters) with random weights, reading our tokenizer's ids."""
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    config = DistilBertConfig(**s.transformer_overrides, pad_token_id=tokenizer.pad_token_id, num_labels=len(labels),
                              id2label=labels, label2id={name: index for index, name in labels.items()})
    config.vocab_size = max(config.vocab_size, len(tokenizer))
    return DistilBertForSequenceClassification(config).eval()


def pipeline_predict(model, tokenizer, s: Settings):
    from transformers import pipeline

    classify = pipeline("text-classification", model=model, tokenizer=tokenizer, device="cpu")
    label2id = model.config.label2id
    return lambda texts: np.array([label2id[out["label"]] for out in classify(
        texts, batch_size=s.batch, truncation=True, max_length=s.max_length)])


def quantized(model):
    """int8 weights for the recurrent and linear layers, activations quantised on the fly (CPU inference)."""
    return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {nn.LSTM, nn.GRU, nn.Linear},
                                                  dtype=torch.qint8)


def onnx_session(model, folder, threads: int):
    import onnxruntime

    from hf_rnn.export import export_classifier_onnx

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1  # the same 2 cores as torch
    path = export_classifier_onnx(model, folder / "classifier.onnx")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def batches(texts, size: int):
    return (texts[start : start + size] for start in range(0, len(texts), size))


def onnx_logits(session, tokenizer, texts, s: Settings) -> np.ndarray:
    """Tokenise as the pipeline does (same truncation, padding per batch) and run the exported graph."""
    pieces = []
    for chunk in batches(texts, s.batch):
        encoded = tokenizer(chunk, padding=True, truncation=True, max_length=s.max_length, return_tensors="np")
        feed = {name: encoded[name].astype(np.int64) for name in ("input_ids", "attention_mask")}
        pieces.append(session.run(["logits"], feed)[0])
    return np.concatenate(pieces)


@torch.no_grad()
def torch_logits(model, tokenizer, texts, s: Settings) -> np.ndarray:
    pieces = []
    for chunk in batches(texts, s.batch):
        encoded = tokenizer(chunk, padding=True, truncation=True, max_length=s.max_length, return_tensors="pt")
        pieces.append(model(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]).logits.numpy())
    return np.concatenate(pieces)


def time_systems(systems: list[System], texts: list[str], s: Settings):
    """Best of `rounds` interleaved rounds over the same reviews, after one warm-up batch per system."""
    import time

    for system in systems:
        system.predict(texts[: s.batch])
        system.seconds = float("inf")  # a repeated timing starts afresh
    for _ in range(s.rounds):
        for system in systems:
            start = time.perf_counter()
            system.predict(texts)
            system.seconds = min(system.seconds, time.perf_counter() - start)
            print(f"{system.name}: {len(texts) / system.seconds:.1f} reviews/s", flush=True)


def accuracy_cell(system: System, texts, labels, command_hint: str):
    if system.trained:
        return float((system.predict(texts) == np.asarray(labels)).mean())
    return command_hint


def exactness(model, int8_model, session, tokenizer, texts, s: Settings) -> dict:
    """How far int8 and ONNX Runtime move the outputs: on the timed reviews, against PyTorch float32."""
    reference = torch_logits(model, tokenizer, texts, s)
    int8 = torch_logits(int8_model, tokenizer, texts, s)
    exported = onnx_logits(session, tokenizer, texts, s)
    return {"int8": {"max abs logit diff": float(np.abs(int8 - reference).max()),
                     "same label": float((int8.argmax(-1) == reference.argmax(-1)).mean())},
            "onnx": {"max abs logit diff": float(np.abs(exported - reference).max()),
                     "same label": float((exported.argmax(-1) == reference.argmax(-1)).mean())}}


def model_shapes(model) -> str:
    """The classifier's sizes; a published ensemble's: how many classifiers of which sizes, and its bag of words."""
    members = getattr(model, "members", [model])
    config = members[0].config
    shapes = (f"embedding {config.embedding_size}, {config.num_hidden_layers} x {config.cell_type.upper()} "
              f"{config.hidden_size}, vocabulary {config.vocab_size}")
    if members[0] is model:
        return shapes
    bag = " and a bag-of-words model" if getattr(model, "ngram_logistic", None) is not None else ""
    return f"an ensemble of {len(members)} classifier(s) ({shapes}){bag}"


def build_systems(ctx, s: Settings):
    # Imported here: bench_serving's reference imports this module, and scikit-learn would count in its memory.
    from bench_baselines import fit_bag_of_words

    model, tokenizer, trained = hf_rnn_classifier(ctx, s)
    int8_model, session = quantized(model), onnx_session(model, ctx.scratch, ctx.threads)
    train = ctx.imdb()["train"]
    if s.baseline_train_reviews and s.baseline_train_reviews < len(train):
        train = train.shuffle(seed=0).select(range(s.baseline_train_reviews))
    transformer = transformer_classifier(tokenizer, model.config.id2label, s)
    shapes = model_shapes(model)
    systems = [
        System("hf_rnn classifier, float32 (pipeline)", pipeline_predict(model, tokenizer, s), trained, shapes),
        System("hf_rnn classifier, float32, tokenizer + model without the pipeline",
               lambda texts: torch_logits(model, tokenizer, texts, s).argmax(-1), trained,
               "the pipeline's share of the time, and the like-for-like row for ONNX Runtime"),
        System("hf_rnn classifier, int8 dynamic quantisation (pipeline)", pipeline_predict(int8_model, tokenizer, s),
               trained, "torch.ao.quantization.quantize_dynamic: LSTM/GRU and Linear weights int8"),
        System("hf_rnn classifier, ONNX Runtime", lambda texts: onnx_logits(session, tokenizer, texts, s).argmax(-1),
               trained, "hf_rnn.export.export_classifier_onnx, CPUExecutionProvider"),
        System("DistilBERT-base-sized transformer, random weights (pipeline)",
               pipeline_predict(transformer, tokenizer, s), False,
               f"{sum(p.numel() for p in transformer.parameters()) / 1e6:.0f}M parameters, same tokenizer"),
        System("TF-IDF uni+bigram + logistic regression (scikit-learn)",
               fit_bag_of_words(list(train["text"]), train["label"]), True, f"fitted on {len(train):,} training reviews"),
    ]
    return systems, (model, int8_model, session, tokenizer), trained


def rows_for(systems, texts, tokens: int, accuracy_sample, hint: str) -> list[dict]:
    transformer = next(system for system in systems if "DistilBERT" in system.name)
    rows = []
    for system in systems:
        accuracy = ("random weights: speed only" if system is transformer else
                    accuracy_cell(system, list(accuracy_sample["text"]), accuracy_sample["label"], hint))
        rows.append({"system": system.name, "reviews/s": len(texts) / system.seconds,
                     "tokens/s": tokens / system.seconds,
                     "x transformer": transformer.seconds / system.seconds, "accuracy": accuracy,
                     "detail": system.detail})
    return rows


def plot(rows: list[dict]):
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 3.5))
    names = [row["system"].replace(" (pipeline)", "").replace("(scikit-learn)", "") for row in rows]
    axis.barh(names, [row["reviews/s"] for row in rows])
    axis.set(xscale="log", xlabel="IMDB test reviews per second (2 CPU threads, log scale)")
    axis.invert_yaxis()
    return save_plot(figure, NAME)


def describe(s: Settings, reviews: int, tokens: int, threads: int, loads: tuple, trained: bool, words: int) -> str:
    weights = "trained" if trained else ("random (speed only; recurrent biases drawn nonzero as in a trained model: "
                                         "see suite.with_nonzero_biases)")
    return (f"{reviews} IMDB test reviews (seeded sample; {tokens / reviews:.0f} tokens per review after truncation "
            f"to {s.max_length}), batch {s.batch}, {threads} threads (torch and ONNX Runtime); best of {s.rounds} "
            f"interleaved rounds after a warm-up batch. 1-minute load average {loads[0]:.2f} before timing, "
            f"{loads[1]:.2f} after (ours: {threads}). Tokenizer: "
            f"{'the model folder' if trained else f'word-level, {words:,} words trained on the training reviews'}; "
            f"hf_rnn weights: {weights}. Accuracy: on {s.accuracy_reviews:,} test reviews (seeded sample). "
            f"Plot: {NAME}.png.")


def run(ctx):
    s = ctx.pick(SIZES)
    texts = list(ctx.test_sample(s.reviews)["text"])
    systems, (model, int8_model, session, tokenizer), trained = build_systems(ctx, s)
    tokens = sum(len(ids) for ids in tokenizer(texts, truncation=True, max_length=s.max_length)["input_ids"])
    _, load_before, load_after = ctx.timed(lambda: time_systems(systems, texts, s))
    hint = not_measured("the trained full model", "--model FOLDER", NAME)
    rows = rows_for(systems, texts, tokens, ctx.test_sample(s.accuracy_reviews), hint)
    agreement = exactness(model, int8_model, session, tokenizer, texts, s)
    exact_rows = [{"system": name, **values} for name, values in agreement.items()]
    notes = describe(s, len(texts), tokens, ctx.threads, (load_before, load_after), trained, len(tokenizer))
    write_results(NAME, {
        "Throughput, IMDB test reviews (text in, label out)": (
            rows, ["system", "reviews/s", "tokens/s", "x transformer", "accuracy", "detail"]),
        "int8 and ONNX Runtime against PyTorch float32 (timed reviews)": (
            exact_rows, ["system", "max abs logit diff", "same label"]),
    }, notes, raw={"load_before": load_before, "load_after": load_after, "hf_rnn_trained": trained,
                   "settings": dataclasses.asdict(s)})
    plot(rows)
