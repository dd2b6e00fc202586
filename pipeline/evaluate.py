"""The evaluate stage: every metric per model, per held-out campaign and per language; plots.

Headline numbers are the held-out campaigns (never trained on), for the final model.
Beside them: out-of-fold on the training campaigns (grouped folds) and leave-one-campaign-
out (each campaign scored by a model trained on the others).
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
from pipeline.metrics import binary_metrics, paired_bootstrap_pr_auc

MIN_SLICE = 20  # slices smaller than this are too noisy to report


def _clean(d: dict) -> dict:
    """JSON has no NaN: drop them so `dvc metrics` shows only real numbers."""
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in d.items() if not (isinstance(v, float) and math.isnan(v))}


def headline(frame: pd.DataFrame, threshold: float | np.ndarray, ev: EvaluateParams) -> dict:
    """Every headline metric of `frame` (label, score); `threshold`: one, or one per row."""
    y = (frame["label"] == "state_linked").to_numpy()
    return _clean(binary_metrics(y, frame["score"].to_numpy(), threshold, ev.low_prevalence, ev.fpr_budget))


def slice_metrics(pred: pd.DataFrame, by: str, threshold: float, ev: EvaluateParams) -> dict[str, dict]:
    return {
        str(key): headline(part, threshold, ev)
        for key, part in pred.groupby(by, dropna=False)
        if len(part) >= MIN_SLICE
    }


def model_metrics(test: pd.DataFrame, oof: pd.DataFrame, loco: pd.DataFrame | None, threshold: float, ev: EvaluateParams) -> dict:
    out = {
        "threshold": round(float(threshold), 6),
        "holdout": headline(test, threshold, ev),
        "oof": headline(oof, threshold, ev),
        "holdout_by_campaign": slice_metrics(test, "campaign", threshold, ev),
        "holdout_by_language": slice_metrics(test, "main_language", threshold, ev),
    }
    if loco is not None and len(loco):
        out["loco"] = slice_metrics(loco, "campaign", threshold, ev)
    return out


def shift_metrics(scored: pd.DataFrame, threshold: float | np.ndarray, ev: EvaluateParams) -> dict:
    """Metrics on a world the model never saw (`scored`: label, score, coord_cluster per
    account, scored as one dump), as for the held-out campaign, and what an analyst sees
    first (the organic share flagged, in every headline) and the shares of each class inside a
    coordination cluster."""
    y = (scored["label"] == "state_linked").to_numpy()
    in_cluster = (scored["coord_cluster"].fillna("") != "").to_numpy()
    return headline(scored, threshold, ev) | _clean({
        "state_linked_in_cluster_share": float(in_cluster[y].mean()) if y.any() else math.nan,
        "organic_in_cluster_share": float(in_cluster[~y].mean()) if (~y).any() else math.nan,
    })


def member_contribution(y: np.ndarray, with_member: np.ndarray, without: np.ndarray, boot: int = 1000) -> dict:
    """What a stacked member adds on one evaluation set: PR-AUC with and without it, their
    difference and its paired bootstrap 95 % interval; `adds` is False unless the interval's
    lower end is above 0 (a member that adds nothing is said to, not hidden)."""
    from sklearn.metrics import average_precision_score

    y = np.asarray(y).astype(int)
    if len(y) == 0 or y.min() == y.max():
        return {}
    w, wo = float(average_precision_score(y, with_member)), float(average_precision_score(y, without))
    lo, hi = paired_bootstrap_pr_auc(y, with_member, without, boot)
    return _clean({"pr_auc_with": w, "pr_auc_without": wo, "pr_auc_difference": w - wo,
                   "difference_95ci_low": lo, "difference_95ci_high": hi}) | {"adds": bool(lo > 0), "n_accounts": int(len(y))}


def evaluate_models(preds: dict[str, dict], primary: str, ev: EvaluateParams) -> dict:
    """`preds[model]` holds test/oof/loco frames and a threshold; the primary model's numbers
    are also the top-level headline keys (what `dvc metrics show` leads with)."""
    per_model = {
        name: model_metrics(p["test"], p["oof"], p.get("loco"), p["threshold"], ev) for name, p in preds.items()
    }
    top = dict(per_model[primary])
    top["primary_model"] = primary
    top["models"] = {name: {"holdout": m["holdout"], "oof": m["oof"], "holdout_by_campaign": m["holdout_by_campaign"],
                            "holdout_by_language": m["holdout_by_language"], **({"loco": m["loco"]} if "loco" in m else {})}
                     for name, m in per_model.items()}
    return top


def write_outputs(metrics: dict, predictions: pd.DataFrame, metrics_path: Path, predictions_path: Path) -> None:
    write_json(metrics_path, metrics)
    with atomic_path(predictions_path) as tmp:
        pq.write_table(pa.Table.from_pandas(predictions, preserve_index=False), tmp)


def headline_line(metrics: dict) -> str:
    h = metrics["holdout"]
    line = (
        f"held-out ({metrics['primary_model']}) ROC-AUC {h.get('roc_auc', float('nan')):.3f}  PR-AUC {h.get('pr_auc', float('nan')):.3f}  "
        f"F1 {h['f1']:.3f}  (n={int(h['n_accounts'])}, state-linked {int(h['n_state_linked'])})"
    )
    others = [f"{name} PR-AUC {m['holdout'].get('pr_auc', float('nan')):.3f}" for name, m in metrics["models"].items()
              if name != metrics["primary_model"]]
    return line + (f"; {', '.join(others)}" if others else "")


def draw_plots(pred: pd.DataFrame, out_dir: Path, threshold: float, booster=None, features: list[str] | None = None,
               X: np.ndarray | None = None) -> list[Path]:
    """Every evaluation plot from held-out predictions (`model`, `campaign`, `label`, `score`)."""
    from pipeline import plots

    primary = pred[pred["model"] == pred["model"].iloc[0]] if "primary" not in pred else pred[pred["primary"]]
    y = (primary["label"] == "state_linked").to_numpy().astype(int)
    written = [
        plots.curve(pred, out_dir / "roc.png", "roc", "held-out campaigns"),
        plots.curve(pred, out_dir / "pr.png", "pr", "held-out campaigns"),
        plots.calibration(pred, out_dir / "calibration.png"),
        plots.confusion(y, (primary["score"] >= threshold).astype(int).to_numpy(), out_dir / "confusion.png", threshold),
        plots.score_histogram(primary, out_dir / "score_hist.png", threshold),
    ]
    if booster is not None and features is not None and X is not None:
        written.append(plots.importance(features, booster.feature_importance("gain"), out_dir / "importance.png"))
        written.append(plots.shap_summary(features, booster.predict(X, pred_contrib=True), X, out_dir / "shap_summary.png"))
    return written
