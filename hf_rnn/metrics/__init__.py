"""evaluate metric modules shipped inside the package, so scripts run offline (`evaluate.load(path)`)."""

from pathlib import Path

import evaluate

METRICS_DIR = Path(__file__).parent


def load_metric(name: str) -> evaluate.EvaluationModule:
    """Load one of hf_rnn's metric modules by name from the installed package (no Hub access needed).

    Args:
        name: `"sentiment_metrics"` (accuracy, F1) or `"rating_metrics"` (MAE, RMSE, exact, within-one).
    """
    path = METRICS_DIR / name
    if not (path / f"{name}.py").is_file():
        available = sorted(p.name for p in METRICS_DIR.iterdir() if (p / f"{p.name}.py").is_file())
        raise ValueError(f"Unknown metric {name!r}; hf_rnn ships {available}.")
    return evaluate.load(str(path))
