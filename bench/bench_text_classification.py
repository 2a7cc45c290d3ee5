"""The general job on data it was not written for, beside bag-of-words baselines on the same split.

    python bench/bench_text_classification.py baselines --dataset ../shared/data/trec --name trec_baselines
    python bench/bench_text_classification.py job --name trec_15m -- --dataset ../shared/data/trec --time_budget 15m
    python bench/bench_text_classification.py table trec_baselines trec_15m ... --name text_classification

`baselines`: TF-IDF (words and word pairs) + logistic regression, and NB-weighted logistic regression (one-vs-rest
for more than two classes), each with its C chosen on the validation cut the job makes (same seed), then fitted on
train and read once on test. `job`: `hf-rnn train` with the arguments after `--`, in a fresh process, timed; its
results.json and budget.json are kept. `table`: one markdown table of several results.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import run_metadata, write_results  # noqa: E402

C_GRID = (1.0, 10.0, 100.0)


def load_split(dataset: str, text_column: str, label_column: str, empty_texts: str = "error", seed: int = 42,
               label_names: str | None = None):
    from hf_rnn.data import load_labelled_texts

    return load_labelled_texts(dataset=dataset, text_columns=text_column.split(","), label_column=label_column,
                               validation_size=0.1, seed=seed, empty_texts=empty_texts,
                               label_names=label_names.split(",") if label_names else None)


def tfidf_features(train, others):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    return vectorizer.fit_transform(train), [vectorizer.transform(texts) for texts in others]


def presence_features(train, others):
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(ngram_range=(1, 2), min_df=2, binary=True)
    return vectorizer.fit_transform(train), [vectorizer.transform(texts) for texts in others]


def fit_logistic(x, y, c, solver="lbfgs"):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=3000, solver=solver).fit(x, y)


def nb_ratio(x, y, positive_class):
    positive = 1.0 + np.asarray(x[y == positive_class].sum(0)).ravel()
    negative = 1.0 + np.asarray(x[y != positive_class].sum(0)).ravel()
    return np.log(positive / positive.sum()) - np.log(negative / negative.sum())


class NBLogistic:
    """NB-weighted logistic regression (Wang & Manning 2012), one-vs-rest: each class scales the features by its own
    log-count ratio and scores with its own binary model."""

    def __init__(self, c):
        self.c = c

    def fit(self, x, y):
        self.classes = np.unique(y)
        self.members = []
        for label in (self.classes[1:] if len(self.classes) == 2 else self.classes):
            ratio = nb_ratio(x, y, label)
            # liblinear: the same L2 logistic regression, several times faster for one binary problem
            self.members.append((ratio, fit_logistic(x.multiply(ratio).tocsr(), (y == label).astype(int), self.c,
                                                     solver="liblinear")))
        return self

    def predict(self, x):
        scores = np.stack([model.decision_function(x.multiply(ratio).tocsr()) for ratio, model in self.members], 1)
        if len(self.classes) == 2:
            return self.classes[(scores[:, 0] > 0).astype(int)]
        return self.classes[scores.argmax(1)]


def chosen_and_tested(make, features, labels) -> dict:
    """C chosen on validation, then one reading of test; seconds of the final fit and prediction."""
    (x_train, (x_valid, x_test)), (y_train, y_valid, y_test) = features, labels
    valid = {c: float((make(c).fit(x_train, y_train).predict(x_valid) == y_valid).mean()) for c in C_GRID}
    best = max(valid, key=valid.get)
    started = time.perf_counter()
    predicted = make(best).fit(x_train, y_train).predict(x_test)
    return {"C": best, "validation_accuracy": valid[best], "test_accuracy": float((predicted == y_test).mean()),
            "fit_s": time.perf_counter() - started}


def baselines(args) -> dict:
    dsd = load_split(args.dataset, args.text_column, args.label_column, args.empty_texts,
                     label_names=args.label_names)
    if args.labelled_fraction:  # the job's own cut: the same labelled rows
        from hf_rnn.data.labelled import hide_labels

        dsd = hide_labels(dsd, args.labelled_fraction, seed=42)
    labels = tuple(np.asarray(dsd[s]["label"]) for s in ("train", "validation", "test"))
    texts = [list(dsd[s]["text"]) for s in ("train", "validation", "test")]
    rows = []
    for name, featurize, make in (("TF-IDF uni+bigram + logistic regression", tfidf_features,
                                   lambda c: _Logistic(c)),
                                  ("NB-weighted logistic regression (uni+bigram presence)", presence_features,
                                   NBLogistic)):
        train, others = featurize(texts[0], texts[1:])
        rows.append({"system": name, **chosen_and_tested(make, (train, others), labels)})
    columns = ["system", "C", "validation_accuracy", "test_accuracy", "fit_s"]
    kept = f", labels of {args.labelled_fraction} of train kept" if args.labelled_fraction else ""
    notes = (f"{args.dataset} (`{args.text_column}` -> `{args.label_column}`, empty texts: {args.empty_texts}{kept}): "
             f"{len(texts[0]):,} train / {len(texts[1]):,} validation (cut from train, seed 42, as "
             f"`hf-rnn train`) / {len(texts[2]):,} test rows. C chosen on validation from {list(C_GRID)}, then "
             "fitted on train and read once on test.")
    write_results(args.name, {"Baselines": (rows, columns)}, notes=notes, raw={"rows": rows})
    return {"rows": rows}


class _Logistic:
    def __init__(self, c):
        self.c = c

    def fit(self, x, y):
        self.model = fit_logistic(x, y, self.c)
        return self

    def predict(self, x):
        return self.model.predict(x)


def job(args, job_args: list[str]) -> dict:
    """`hf-rnn train` in a fresh process (its own memory and threads), timed, with its recorded results."""
    out = Path(args.output_dir)
    command = [sys.executable, "-m", "hf_rnn.cli", "train", "--output_dir", str(out), *job_args]
    started = time.time()
    subprocess.run(command, check=True)
    wall = time.time() - started
    results = json.loads((out / "results.json").read_text())
    budget = json.loads((out / "budget.json").read_text()) if (out / "budget.json").is_file() else None
    published = "ensemble" if "ensemble" in results else "sentiment"
    figures = results[published]
    row = {"system": args.label or " ".join(job_args), "published": published,
           "validation_accuracy": figures.get("validation_accuracy"), "test_accuracy": figures.get("test_accuracy"),
           "test_f1_macro": figures.get("test_f1_macro"), "wall_min": wall / 60,
           "budget_min": budget["budget_s"] / 60 if budget else None,
           "over_budget": (wall > 1.1 * budget["budget_s"]) if budget else None}
    columns = ["system", "published", "validation_accuracy", "test_accuracy", "test_f1_macro", "wall_min",
               "budget_min", "over_budget"]
    notes = f"`hf-rnn train --output_dir {out} {' '.join(job_args)}` in one fresh process; wall time of that process."
    write_results(args.name, {"Job": ([row], columns)}, notes=notes,
                  raw={"row": row, "results": results, "budget": budget, "job_command": command[2:]})
    return row


def table(args) -> dict:
    """One table of the rows of several result files (baselines and jobs of one dataset)."""
    from common import results_dir

    rows = []
    for name in args.sources:
        saved = json.loads((results_dir() / f"{name}.json").read_text())
        raw = saved.get("raw", saved)
        for row in raw.get("rows", [raw.get("row")]):
            rows.append({"source": f"`{name}.md`", **{k: row.get(k) for k in
                                                    ("system", "test_accuracy", "validation_accuracy", "wall_min")}})
    write_results(args.name, {"Results": (rows, ["system", "test_accuracy", "validation_accuracy", "wall_min",
                                                 "source"])}, notes=args.notes or "")
    return {"rows": rows}


FIGURE_PREFIXES = ("validation_", "test_", "eval_perplexity")


def same(args) -> dict:
    """Two jobs' recorded figures, stage by stage: equal or not (timings left out)."""
    first, second = (json.loads((Path(run) / "results.json").read_text()) for run in (args.first, args.second))
    rows = []
    for stage in ("lm", "sentiment", "rating", "lm_backward", "sentiment_backward", "ensemble", "ensemble_rating"):
        if stage not in first and stage not in second:
            continue
        figures = lambda results: {k: v for k, v in results.get(stage, {}).items()
                                   if k.startswith(FIGURE_PREFIXES) and not k.endswith(("runtime", "_per_second"))}
        a, b = figures(first), figures(second)
        rows.append({"stage": stage, "figures": len(a), "equal": a == b,
                     "test_accuracy": a.get("test_accuracy"), "other_test_accuracy": b.get("test_accuracy")})
    write_results(args.name, {"Stages": (rows, ["stage", "figures", "equal", "test_accuracy",
                                                "other_test_accuracy"])},
                  notes=f"`{args.first}/results.json` against `{args.second}/results.json`.", raw={"rows": rows})
    return {"rows": rows}


def label_curve(args) -> dict:
    """Test accuracy against the number of labelled rows: the job with its LM (the rest of train as unlabelled text),
    NB-weighted LR at the same labels, and the job without an LM on every label; a table and a plot."""
    from common import results_dir

    read = lambda name: json.loads((results_dir() / f"{name}.json").read_text())["raw"]
    rows = []
    for fraction, job_name, base_name in zip(args.fractions, args.jobs, args.baselines):
        job_raw, base_raw = read(job_name), read(base_name)
        labels = job_raw["results"]["sentiment"]["train_reviews"]
        nb = next(row for row in base_raw["rows"] if row["system"].startswith("NB"))
        rows.append({"labelled_fraction": fraction, "labels": labels, "hf_rnn_with_lm": job_raw["row"]["test_accuracy"],
                     "nb_lr": nb["test_accuracy"], "sources": f"`{job_name}.md`, `{base_name}.md`"})
    scratch = read(args.scratch)
    scratch_row = {"labels": scratch["results"]["sentiment"]["train_reviews"],
                   "accuracy": scratch["row"]["test_accuracy"]}
    plot = plot_label_curve(rows, scratch_row, results_dir() / f"{args.name}.png")
    write_results(args.name, {"Curve": (rows, ["labelled_fraction", "labels", "hf_rnn_with_lm", "nb_lr",
                                               "sources"])},
                  notes=f"No LM, every label: {scratch_row['accuracy']:.4f} on {scratch_row['labels']:,} labels "
                        f"(`{args.scratch}.md`). The rest of train is unlabelled text for the LM at each fraction."
                        + (f" Plot: `{plot.name}`." if plot else ""),
                  raw={"rows": rows, "scratch": scratch_row})
    return {"rows": rows}


def plot_label_curve(rows: list[dict], scratch: dict, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axes = plt.subplots(figsize=(6, 4))
    labels = [row["labels"] for row in rows]
    axes.plot(labels, [row["hf_rnn_with_lm"] for row in rows], "o-", label="hf_rnn, LM on all text")
    axes.plot(labels, [row["nb_lr"] for row in rows], "s--", label="NB-weighted LR")
    axes.axhline(scratch["accuracy"], color="grey", linestyle=":",
                 label=f"hf_rnn without LM, {scratch['labels']:,} labels")
    axes.set_xscale("log")
    axes.set_xlabel("labelled training rows")
    axes.set_ylabel("test accuracy")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    job_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    base = commands.add_parser("baselines")
    base.add_argument("--dataset", required=True)
    base.add_argument("--text_column", default="text")
    base.add_argument("--label_column", default="label")
    base.add_argument("--empty_texts", default="error", help="as hf-rnn train's")
    base.add_argument("--label_names", help="as hf-rnn train's")
    base.add_argument("--labelled_fraction", type=float, help="as hf-rnn train's: train on this share's labels")
    base.add_argument("--name", required=True)
    run = commands.add_parser("job")
    run.add_argument("--name", required=True)
    run.add_argument("--label", help="the row's name in the table")
    run.add_argument("--output_dir", default=None)
    tab = commands.add_parser("table")
    tab.add_argument("sources", nargs="+")
    tab.add_argument("--name", required=True)
    tab.add_argument("--notes")
    curve = commands.add_parser("curve")
    curve.add_argument("--fractions", type=float, nargs="+", required=True)
    curve.add_argument("--jobs", nargs="+", required=True)
    curve.add_argument("--baselines", nargs="+", required=True)
    curve.add_argument("--scratch", required=True)
    curve.add_argument("--name", required=True)
    compare = commands.add_parser("same")
    compare.add_argument("first")
    compare.add_argument("second")
    compare.add_argument("--name", required=True)
    args = parser.parse_args(argv)
    if args.command == "same":
        return same(args)
    if args.command == "curve":
        return label_curve(args)
    if args.command == "job":
        args.output_dir = args.output_dir or f"runs/bench-{args.name}"
        return job(args, job_args)
    return baselines(args) if args.command == "baselines" else table(args)


if __name__ == "__main__":
    main()
