"""The evaluate stage: score the held-out campaigns, report every metric, draw the plots.

Metrics are reported on the held-out campaigns (the honest number), per campaign and per
main language, and out-of-fold on the training campaigns for comparison.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import EvaluateParams
from pipeline.io import atomic_path, write_json
from pipeline.metrics import binary_metrics

MIN_SLICE = 20  # slices smaller than this are too noisy to report


def _clean(d: dict) -> dict:
    """JSON has no NaN: drop them so `dvc metrics` shows only real numbers."""
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in d.items() if not (isinstance(v, float) and math.isnan(v))}


def slice_metrics(pred: pd.DataFrame, by: str, threshold: float, ev: EvaluateParams) -> dict[str, dict]:
    out = {}
    for key, part in pred.groupby(by, dropna=False):
        if len(part) < MIN_SLICE:
            continue
        y = (part["label"] == "state_linked").to_numpy()
        out[str(key)] = _clean(binary_metrics(y, part["score"].to_numpy(), threshold, ev.low_prevalence, ev.fpr_budget))
    return out


def evaluate_predictions(test: pd.DataFrame, oof: pd.DataFrame, threshold: float, ev: EvaluateParams) -> dict:
    """Metrics dict for held-out predictions `test` and out-of-fold predictions `oof`."""
    def headline(frame: pd.DataFrame) -> dict:
        y = (frame["label"] == "state_linked").to_numpy()
        return _clean(binary_metrics(y, frame["score"].to_numpy(), threshold, ev.low_prevalence, ev.fpr_budget))

    return {
        "threshold": round(float(threshold), 6),
        "holdout": headline(test),
        "oof": headline(oof),
        "holdout_by_campaign": slice_metrics(test, "campaign", threshold, ev),
        "holdout_by_language": slice_metrics(test, "main_language", threshold, ev),
    }


def plot_curves(pred: pd.DataFrame, out_dir: Path, title: str) -> list[Path]:
    """ROC and PR curves as PNG (they render offline in `dvc plots show`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay

    out_dir.mkdir(parents=True, exist_ok=True)
    y = (pred["label"] == "state_linked").to_numpy()
    written = []
    for name, display in (("roc", RocCurveDisplay), ("pr", PrecisionRecallDisplay)):
        fig, ax = plt.subplots(figsize=(5, 4.5), dpi=100)
        for campaign, part in pred.groupby("campaign"):
            yy = (part["label"] == "state_linked").to_numpy()
            if 0 < yy.sum() < len(yy):
                display.from_predictions(yy, part["score"], name=str(campaign), ax=ax)
        if name == "pr":
            ax.axhline(y.mean(), ls=":", c="grey", lw=1)
        ax.set_title(f"{title}: {'ROC' if name == 'roc' else 'precision-recall'}")
        path = out_dir / f"{name}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", bbox_inches="tight")
        plt.close(fig)
        written.append(path)
    return written


def write_outputs(metrics: dict, predictions: pd.DataFrame, metrics_path: Path, predictions_path: Path) -> None:
    write_json(metrics_path, metrics)
    with atomic_path(predictions_path) as tmp:
        pq.write_table(pa.Table.from_pandas(predictions, preserve_index=False), tmp)


def headline_line(metrics: dict) -> str:
    h = metrics["holdout"]
    return (
        f"held-out ROC-AUC {h.get('roc_auc', float('nan')):.3f}  PR-AUC {h.get('pr_auc', float('nan')):.3f}  "
        f"F1 {h['f1']:.3f}  (n={int(h['n_accounts'])}, state-linked {int(h['n_state_linked'])})"
    )
