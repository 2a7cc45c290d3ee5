"""The claims table: each lecture claim and each speed/memory goal of issue 16 beside what the suite measured.

Reads the other experiments' JSON results (and bench_models.py's committed `models.json` for padding vs packing);
types no figure in. A claim whose experiment has not run yet, or waits for a trained model, says so. Run last. When
the results are the committed ones (bench/results), the tables in bench/README.md are rewritten from them.
"""

import json
import re
from pathlib import Path

from common import RESULTS_DIR, markdown_table, results_dir, write_results

NAME = "claims"
README = Path(__file__).parent / "README.md"
SOLVED = 0.9  # "remembers at distance d": held-out accuracy at least this (chance is 1 / classes)


def load(name: str, folder: Path | None = None) -> dict | None:
    path = (folder or results_dir()) / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def pct(value) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, float) else str(value)


def accuracy_text(value) -> str:
    """An accuracy, or a short 'not measured yet' (the result file says which command fills it)."""
    return pct(value) if isinstance(value, float) else "not measured yet (needs --model)"


def table(name: str, title: str | None = None) -> list[dict] | None:
    """The rows of one table of an experiment's results (its first one unless `title` names another); None when
    the experiment has not run or the table is empty."""
    results = load(name)
    if results is None:
        return None
    rows = results.get(title) if title else next((v for k, v in results.items() if k not in ("meta", "raw")), None)
    return rows or None


def row(claim: str, measured: str, verdict: str, name: str) -> dict:
    return {"claim": claim, "measured": measured, "verdict": verdict, "source": f"[{name}.md](results/{name}.md)"}


def pending(claim: str, name: str, flags: str = "") -> dict:
    """The row of a claim whose experiment has not run, or waits for a trained model (`flags` name it)."""
    return row(claim, f"not measured yet: python -m bench --size full --only {name}{flags}", "open", name)


LEARNED = 0.6  # test accuracy below which a binary classifier counts as not having learned (chance is 0.5)


def claim_count() -> int:
    """The from-scratch label count the ULMFiT claim is judged at: 10,000, or a smoke sweep's largest count."""
    planned = ((load("label_curve") or {}).get("raw") or {}).get("settings", {}).get("label_counts") or []
    counts = [count for count in planned if count]
    return 10_000 if 10_000 in counts or not counts else max(counts)


def label_curve_claims() -> list[dict]:
    claim = "100 labels + 50k unlabelled reviews match 10k labels from scratch (ULMFiT)"
    overtake = "The pretrained LM beats the bag of words (at which label counts)"
    means = {(r["condition"], r["labels"]): r["mean test accuracy"] for r in table("label_curve", "Summary") or []
             if isinstance(r["mean test accuracy"], float)}
    conditions = {condition for condition, _ in means}
    lm, scratch, bag = ("LM pretrained on train + unlabelled (main job)", "from scratch", "NB-weighted LR")
    if lm not in conditions or scratch not in conditions:
        return [pending(claim, "label_curve", " --run RUN_FOLDER"), pending(overtake, "label_curve", " --run RUN_FOLDER"),
                unlabelled_claim(means)]
    counts = sorted(labels for condition, labels in means if condition == lm)
    few, many = counts[0], claim_count()
    overtake_row = row(overtake, lm_against_bag(means, counts), "measured", "label_curve")
    lm_few = f"LM at {few} labels {pct(means[(lm, few)])}"
    if (scratch, many) not in means:  # only the claim's own count decides it: a smaller one would flatter the LM
        return [row(claim, f"{lm_few}; from scratch at {many:,} labels not measured yet", "open", "label_curve"),
                overtake_row, unlabelled_claim(means)]
    if means[(scratch, many)] < LEARNED:  # a classifier that stayed at chance is no baseline to match
        return [row(claim, f"{lm_few}; from scratch at {many:,} labels {pct(means[(scratch, many)])}: it did not "
                           "learn", "no verdict", "label_curve"), overtake_row, unlabelled_claim(means)]
    target = means[(scratch, many)] - 0.01  # "the same performance": within a point
    holds = means[(lm, few)] >= target
    matched = next((n for n in counts if means[(lm, n)] >= target), None)
    reached = (f"the LM comes within a point of it from {matched:,} labels" if matched
               else "the LM never comes within a point")
    return [row(claim, f"{lm_few}; from scratch at {many:,} labels {pct(means[(scratch, many)])}; {reached}",
                "holds" if holds else "does not hold", "label_curve"),
            overtake_row, unlabelled_claim(means)]


def semi_supervised_claim() -> dict:
    """The lecture's claim again, with the unlabelled reviews in the classifier too (self-training, consistency):
    the best semi-supervised condition at 100 labels against from scratch at the claim's count."""
    claim = ("100 labels + the unlabelled reviews in the classifier too (self-training, curriculum self-training, "
             "consistency) match 10k from scratch")
    semi = {(r["condition"], r["labels"]): r for r in table("semi_supervised", "Summary") or []}
    scratch = {r["labels"]: r["mean test accuracy"] for r in table("label_curve", "Summary") or []
               if r["condition"] == "from scratch" and isinstance(r["mean test accuracy"], float)}
    few, many = min((labels for _, labels in semi), default=None), claim_count()
    if few is None or many not in scratch:
        return pending(claim, "semi_supervised", " --run RUN_FOLDER")
    rows = {condition: semi[(condition, few)] for condition, labels in semi if labels == few}
    best = max(rows.values(), key=lambda r: r["mean test accuracy"])
    measured = "; ".join(f"{name} {pct(r['mean test accuracy'])} ({r['seeds']} seeds)" for name, r in rows.items())
    target = scratch[many] - 0.01  # "the same performance": within a point
    return row(claim, f"at {few} labels: {measured}; from scratch at {many:,} labels {pct(scratch[many])} "
                      f"(label_curve.md)", "holds" if best["mean test accuracy"] >= target else "does not hold",
               "semi_supervised")


def lm_against_bag(means: dict, counts: list[int]) -> str:
    """Where the LM's classifier is ahead of NB-LR and where behind, with the gap: the bag of words may catch up
    as labels grow, so one 'from N labels on' would hide a crossing."""
    lm, bag = "LM pretrained on train + unlabelled (main job)", "NB-weighted LR"
    gaps = {n: means[(lm, n)] - means[(bag, n)] for n in counts if (bag, n) in means}
    ahead = ", ".join(f"{n:,} ({100 * gap:+.1f})" for n, gap in gaps.items() if gap > 0)
    behind = ", ".join(f"{n:,} ({100 * gap:+.1f})" for n, gap in gaps.items() if gap <= 0)
    return f"LM minus NB-LR, points, ahead at: {ahead or 'none'}; behind or level at: {behind or 'none'}"


def unlabelled_claim(means: dict) -> dict:
    """Do the unlabelled reviews teach the LM more than the labelled reviews' own text? The two LMs' classifiers
    at every label count both were measured at."""
    claim = "The 50k unlabelled reviews add to an LM pretrained on the labelled reviews' text alone"
    main, alone = "LM pretrained on train + unlabelled (main job)", "LM pretrained on the labelled reviews' text only"
    counts = sorted(labels for condition, labels in means if condition == main and (alone, labels) in means)
    if not counts:
        return pending(claim, "label_curve", " --run RUN_FOLDER --lm_train_only FOLDER")
    gains = [means[(main, n)] - means[(alone, n)] for n in counts]
    measured = "; ".join(f"{n:,} labels {100 * gain:+.1f} points" for n, gain in zip(counts, gains))
    verdict = "holds" if all(g > 0 for g in gains) else "does not hold" if all(g <= 0 for g in gains) else "mixed"
    return row(claim, f"main LM minus labelled-text LM: {measured}", verdict, "label_curve")


def memory_claim() -> dict:
    claim = "A plain RNN forgets exponentially fast; an LSTM remembers far back"
    rows = table("memory_task")
    if rows is None:
        return pending(claim, "memory_task")
    reach = {}
    for cell in ("rnn", "gru", "lstm"):
        solved = [r["d"] for r in rows if r["cell"] == cell and r["accuracy"] >= SOLVED]
        reach[cell] = max(solved, default=0)
    longest = max(r["d"] for r in rows)
    measured = (f"longest distance recalled with >= {SOLVED:.0%} accuracy (of {longest}): tanh RNN {reach['rnn']}, "
                f"GRU {reach['gru']}, LSTM {reach['lstm']}; the gradient of the right logit at step 0 of an "
                f"untrained model, shortest -> longest d before float32 underflow: "
                + "; ".join(f"{cell} {gradient_decay(rows, cell)}" for cell in ("rnn", "gru", "lstm")))
    holds = reach["lstm"] > reach["rnn"]
    return row(claim, measured, "holds" if holds else "does not hold", "memory_task")


def gradient_decay(rows: list[dict], cell: str) -> str:
    nonzero = [r for r in rows if r["cell"] == cell and r["grad norm at step 0, init"] > 0]
    first, last = nonzero[0], nonzero[-1]
    return (f"{first['grad norm at step 0, init']:.1e} (d={first['d']}) -> {last['grad norm at step 0, init']:.1e} "
            f"(d={last['d']})")


def probe_claim() -> dict:
    claim = 'The LM keeps a cue across a gap ("I grew up in France ... my mother tongue is ___")'
    rows = table("text_probe")
    if rows is None:
        return pending(claim, "text_probe", " --run RUN_FOLDER")
    first, last = rows[0], rows[-1]
    measured = (f"P(right language) {first['P(right word)']:.3f} at d={first['distance']} (x{first['lift']:.1f} over "
                f"no cue), {last['P(right word)']:.3f} at d={last['distance']} (x{last['lift']:.1f}); ranked first "
                f"{pct(first['right word ranked first'])} -> {pct(last['right word ranked first'])} "
                f"(chance {pct(last['chance'])})")
    return row(claim, measured, "measured", "text_probe")


def robustness_claim() -> list[dict]:
    claim = "A bag of words breaks on typos and ignores word order"
    rows = table("robustness")
    if rows is None:
        return [pending(claim, "robustness")]
    models = [name for name in rows[0] if name not in ("perturbation", "rate")]
    out = []
    for model in models:
        if not isinstance(rows[0][model], float):
            out.append(pending(f"{claim}: {model}", "robustness", " --model FOLDER --force"))
            continue
        worst = {}
        for r in rows[1:]:
            if r["rate"] == max(x["rate"] for x in rows if x["perturbation"] == r["perturbation"]):
                worst[r["perturbation"]] = f"{r['perturbation']} at {r['rate']:g}: {pct(r[model])}"
        out.append(row(f"{claim}: {model}", f"clean {pct(rows[0][model])}; " + "; ".join(worst.values()),
                       "measured", "robustness"))
    return out


def subword_claim() -> dict:
    """Typos cost a subword LSTM less than a word-level one (which reads a misspelt word as `<unk>`): each model's
    accuracy drop from clean reviews, averaged over the typo kinds at their highest rate."""
    claim = "Subword tokens keep an LSTM robust to typos where word-level tokens break"
    rows = table("robustness")
    models = [name for name in (rows or [{}])[0] if name.startswith("hf_rnn") and isinstance(rows[0][name], float)]
    subword = [name for name in models if "WordLevel" not in name]
    word = [name for name in models if "WordLevel" in name]
    if not subword or not word:
        return pending(claim, "robustness", " --model WORD_LEVEL_FOLDER --model SUBWORD_FOLDER --force")
    top = max(r["rate"] for r in rows if r["perturbation"] != "word-order shuffle" and r["rate"])
    typos = [r for r in rows if r["rate"] == top and r["perturbation"] != "word-order shuffle"]
    drop = {name: rows[0][name] - sum(r[name] for r in typos) / len(typos) for name in models}
    measured = "; ".join(f"{name.removeprefix('hf_rnn ')} {100 * drop[name]:.1f}" for name in models)
    holds = max(drop[name] for name in subword) < min(drop[name] for name in word)
    return row(claim, f"accuracy lost to typos at rate {top:g} (mean of the {len(typos)} kinds, points): {measured}",
               "holds" if holds else "does not hold", "robustness")


def padding_claim() -> dict:
    claim = '"Pad your batches" rather than pack them (training on a CPU)'
    results = load("models", RESULTS_DIR)  # bench_models.py writes only the committed results
    if results is None:
        return row(claim, "not measured yet: python bench/bench_models.py", "open", "models")
    cases = {r["case"]: r["real tok/s"] for r in results["LSTM classifier: regularisation and padding"]}
    padded = cases["mixed lengths, right-padded (fused kernel)"]
    packed = cases["mixed lengths, PackedSequence (plain nn.LSTM)"]
    measured = (f"mixed lengths, right-padded {padded:,.0f} real tok/s vs PackedSequence {packed:,.0f} "
                f"({padded / packed:.1f}x); right padding is exact at real positions (tests/test_backbone.py)")
    return row(claim, measured, "holds" if padded > packed else "does not hold", "models")


def speed_claims() -> list[dict]:
    results = load("speed")
    goal = "One forward classifier (reviews cut to 512 tokens) >= 20x a DistilBERT-sized transformer's throughput"
    if results is None:
        return [pending(goal, "speed")]
    rows = {r["system"]: r for r in results["Throughput, IMDB test reviews (text in, label out)"]}
    float32 = rows["hf_rnn classifier, float32 (pipeline)"]
    int8 = rows["hf_rnn classifier, int8 dynamic quantisation (pipeline)"]
    onnx = rows["hf_rnn classifier, ONNX Runtime"]
    fast = "holds" if float32["x transformer"] >= 20 else "does not hold"
    return [
        row(goal, f"{float32['reviews/s']:.1f} vs {float32['reviews/s'] / float32['x transformer']:.1f} reviews/s "
                  f"({float32['x transformer']:.1f}x); hf_rnn accuracy: {accuracy_text(float32['accuracy'])}",
            fast if isinstance(float32["accuracy"], float) else f"speed: {fast}; accuracy: open", "speed"),
        row("int8 dynamic quantisation speeds the classifier up",
            f"{int8['reviews/s'] / float32['reviews/s']:.2f}x float32's throughput; accuracy "
            + (f"{pct(int8['accuracy'])} vs float32's {pct(float32['accuracy'])}"
               if isinstance(int8["accuracy"], float) else accuracy_text(int8["accuracy"])),
            "holds" if int8["reviews/s"] > float32["reviews/s"] else "does not hold", "speed"),
        row("ONNX Runtime export runs the classifier, equal to PyTorch within 1e-4",
            f"{onnx['reviews/s']:.1f} reviews/s ({onnx['x transformer']:.1f}x the transformer); max abs logit "
            f"difference {onnx_difference(results):.1e}", "holds" if onnx_difference(results) <= 1e-4 else
            "does not hold", "speed"),
    ]


def published_speed_claim() -> dict:
    """The speed goal for what the main job publishes (an ensemble reading whole reviews), served by the pipeline."""
    goal = "The published model (pipeline, whole reviews) >= 20x a DistilBERT-sized transformer's throughput"
    rows = [r for r in table("serving_speed") or [] if r["system"] == "pipeline, float32"]
    if not rows:
        return row(goal, "not measured yet: python bench/bench_serving.py --model FOLDER", "open", "serving_speed")
    ratio = next(key for key in rows[0] if key.startswith("x reference"))
    measured = "; ".join(f"{Path(r['model']).parent.name}: {r[ratio]:.1f}x" for r in rows)
    return row(goal, measured, "holds" if all(r[ratio] >= 20 for r in rows) else "does not hold", "serving_speed")


def onnx_difference(results: dict) -> float:
    rows = results["int8 and ONNX Runtime against PyTorch float32 (timed reviews)"]
    return next(r["max abs logit diff"] for r in rows if r["system"] == "onnx")


def memory_flat_claim() -> dict:
    claim = "Classifying a long document in chunks keeps memory flat in its length"
    rows = table("peak_memory")
    if rows is None:
        return pending(claim, "peak_memory")
    growth = lambda model: [(r["tokens"], r["growth MiB"]) for r in rows if r["model"] == model and r["status"] == "ran"]
    chunked, one_pass = growth("hf_rnn, chunked (state carried)"), growth("hf_rnn, one pass")
    transformer = [r for r in rows if r["model"].startswith("DistilBERT")]
    longest_ok = max((r["tokens"] for r in transformer if r["status"] == "ran"), default=0)
    measured = (f"peak growth, chunked: {chunked[0][1]:.0f} MiB at {chunked[0][0]:,} tokens -> {chunked[-1][1]:.0f} "
                f"MiB at {chunked[-1][0]:,}; one pass: {one_pass[0][1]:.0f} -> {one_pass[-1][1]:.0f} MiB; the "
                f"transformer runs up to {longest_ok:,} tokens (position table)")
    flat = chunked[-1][1] <= 2 * chunked[0][1] + 16  # within allocator noise of the shortest document's figure
    return row(claim, measured, "holds" if flat else "does not hold", "peak_memory")


def generation_claim() -> dict:
    claim = "Generation with the carried state costs the same per token however long the output"
    rows = table("generation")
    if rows is None:
        return pending(claim, "generation")
    first, last = rows[0], rows[-1]
    measured = (f"cached {first['cached ms/token']:.1f} -> {last['cached ms/token']:.1f} ms/token from "
                f"{first['new tokens']} to {last['new tokens']} new tokens; uncached {first['uncached ms/token']:.1f} "
                f"-> {last['uncached ms/token']:.1f}")
    flat = last["cached ms/token"] <= 1.5 * first["cached ms/token"]
    return row(claim, measured, "holds" if flat else "does not hold", "generation")


def speed_table() -> list[dict]:
    return [{"system": r["system"], "reviews/s": r["reviews/s"], "x transformer": r["x transformer"],
             "accuracy": r["accuracy"] if isinstance(r["accuracy"], float) or r["system"].startswith("DistilBERT")
             else accuracy_text(r["accuracy"])} for r in table("speed") or []]


def rewrite_readme(claims: list[dict], speed: list[dict]):
    """Replace the generated blocks of bench/README.md (between `<!-- name:start -->` and `<!-- name:end -->`)."""
    text = README.read_text()
    blocks = {"claims": markdown_table(claims, ["claim", "measured", "verdict", "source"]),
              "speed": markdown_table(speed, ["system", "reviews/s", "x transformer", "accuracy"])}
    for name, table in blocks.items():
        text = re.sub(rf"(<!-- {name}:start -->\n).*?(\n<!-- {name}:end -->)", lambda m: m[1] + table + m[2], text,
                      flags=re.S)
    README.write_text(text)


def run(ctx):
    claims = [*label_curve_claims(), semi_supervised_claim(), memory_claim(), probe_claim(), *robustness_claim(),
              subword_claim(), padding_claim(), *speed_claims(), published_speed_claim(), memory_flat_claim(),
              generation_claim()]
    speed = speed_table()
    notes = ("Every figure is read from the result file named in its row (written by `python -m bench`; models.md by "
             "bench/bench_models.py). 'open': the experiment has not run or waits for a trained model.")
    write_results(NAME, {"Claims": (claims, ["claim", "measured", "verdict", "source"]),
                         "Speed (from speed.json)": (speed, ["system", "reviews/s", "x transformer", "accuracy"])},
                  notes)
    if results_dir().resolve() == RESULTS_DIR.resolve() and README.is_file():
        rewrite_readme(claims, speed)
