"""Evaluation plots as PNG: they render offline in `dvc plots show` and in MLflow.

Each function takes plain arrays and a path, draws one figure and writes it atomically.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.io import atomic_path


@contextmanager
def _figure(path: Path, size=(5.5, 4.5)) -> Iterator:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size, dpi=100)
    try:
        yield fig, ax
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", bbox_inches="tight")
    finally:
        plt.close(fig)


def _y(frame: pd.DataFrame) -> np.ndarray:
    return (frame["label"] == "state_linked").to_numpy().astype(int)


def curve(pred: pd.DataFrame, path: Path, kind: str, title: str) -> Path:
    """ROC (kind='roc') or precision-recall (kind='pr') curves, one line per model and campaign."""
    from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay

    display = RocCurveDisplay if kind == "roc" else PrecisionRecallDisplay
    with _figure(path) as (_, ax):
        for (model, campaign), part in pred.groupby(["model", "campaign"]):
            y = _y(part)
            if 0 < y.sum() < len(y):
                display.from_predictions(y, part["score"], name=f"{model} · {campaign}", ax=ax)
        ax.set_title(f"{title}: {'ROC' if kind == 'roc' else 'precision-recall'}")
    return path


def calibration(pred: pd.DataFrame, path: Path, bins: int = 10) -> Path:
    from sklearn.calibration import calibration_curve

    with _figure(path) as (_, ax):
        ax.plot([0, 1], [0, 1], ls=":", c="grey", lw=1)
        for model, part in pred.groupby("model"):
            y = _y(part)
            if 0 < y.sum() < len(y):
                frac, mean = calibration_curve(y, part["score"], n_bins=bins, strategy="quantile")
                ax.plot(mean, frac, marker="o", label=str(model))
        ax.set_xlabel("mean predicted score")
        ax.set_ylabel("share state-linked")
        ax.set_title("calibration (held-out campaigns)")
        ax.legend(loc="upper left")
    return path


def confusion(y: np.ndarray, pred: np.ndarray, path: Path, threshold: float) -> Path:
    from sklearn.metrics import ConfusionMatrixDisplay

    with _figure(path, (4.5, 4)) as (_, ax):
        ConfusionMatrixDisplay.from_predictions(y, pred, display_labels=["control", "state-linked"], ax=ax, colorbar=False)
        ax.set_title(f"held-out at threshold {threshold:.3f}")
    return path


def score_histogram(pred: pd.DataFrame, path: Path, threshold: float) -> Path:
    with _figure(path) as (_, ax):
        bins = np.linspace(0, 1, 31)
        for label, part in pred.groupby("label"):
            ax.hist(part["score"], bins=bins, alpha=0.6, label=str(label), density=True)
        ax.axvline(threshold, c="k", ls="--", lw=1, label="operating point")
        ax.set_xlabel("score")
        ax.set_title("held-out score by class")
        ax.legend()
    return path


def importance(names: list[str], gains: np.ndarray, path: Path, top: int = 20) -> Path:
    order = np.argsort(gains)[::-1][:top][::-1]
    with _figure(path, (6, 6)) as (_, ax):
        ax.barh([names[i] for i in order], gains[order] / max(gains.sum(), 1e-12))
        ax.set_xlabel("share of total gain")
        ax.set_title("LightGBM feature importance")
    return path


def shap_summary(names: list[str], contrib: np.ndarray, X: np.ndarray, path: Path, top: int = 15) -> Path:
    """Beeswarm-style summary: SHAP value per account, coloured by the feature's rank."""
    values = contrib[:, : len(names)]
    order = np.argsort(np.abs(values).mean(axis=0))[::-1][:top][::-1]
    rng = np.random.default_rng(0)
    with _figure(path, (7, 6)) as (fig, ax):
        for row, j in enumerate(order):
            x = X[:, j]
            ranks = pd.Series(x).rank(pct=True).fillna(0.5).to_numpy()
            sc = ax.scatter(values[:, j], row + rng.uniform(-0.3, 0.3, len(x)), c=ranks, cmap="coolwarm", s=6, alpha=0.7)
        ax.set_yticks(range(len(order)), [names[j] for j in order])
        ax.axvline(0, c="grey", lw=1)
        ax.set_xlabel("SHAP value (log-odds contribution)")
        ax.set_title("SHAP summary (held-out accounts)")
        fig.colorbar(sc, ax=ax, label="feature value (rank)")
    return path


# --------------------------------------------------------------------------- report figures
#
# The triage report (pipeline/report.py) embeds its figures in one HTML file, so these return
# PNG bytes instead of writing a path.

@contextmanager
def _png(size=(5.0, 3.6)) -> Iterator:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size, dpi=90)
    buf = io.BytesIO()
    out: dict = {}
    try:
        yield fig, ax, out
        fig.savefig(buf, format="png", bbox_inches="tight")
        out["png"] = buf.getvalue()
    finally:
        plt.close(fig)


def cluster_network_png(edges: pd.DataFrame, labels: dict[str, str]) -> bytes:
    """One cluster's ties drawn (networkx spring layout, seed 0): flagged accounts red, one
    line per tied pair, thicker for more traces."""
    import networkx as nx

    g = nx.Graph()
    for r in edges.itertuples():
        w = g.get_edge_data(r.source, r.target, {"w": 0})["w"]
        g.add_edge(r.source, r.target, w=w + 1)
    with _png() as (fig, ax, out):
        pos = nx.spring_layout(g, seed=0)
        colours = ["#c0392b" if labels.get(n) == "state_linked" else "#7f8c8d" for n in g.nodes]
        nx.draw_networkx_edges(g, pos, ax=ax, width=[0.5 + 0.7 * d["w"] for _, _, d in g.edges(data=True)], alpha=0.4)
        nx.draw_networkx_nodes(g, pos, ax=ax, node_size=40, node_color=colours)
        ax.set_axis_off()
        ax.set_title(f"{g.number_of_nodes()} accounts, {g.number_of_edges()} tied pairs (red: flagged)")
    return out["png"]


def timeline_png(times: pd.Series) -> bytes:
    """Tweets per day of a cluster's accounts."""
    with _png((5.0, 2.6)) as (fig, ax, out):
        days = pd.to_datetime(times, utc=True).dt.floor("D").value_counts().sort_index()
        ax.bar(days.index, days.to_numpy(), width=1.0, color="#2c3e50")
        ax.set_ylabel("tweets per day")
        fig.autofmt_xdate()
    return out["png"]


def weekday_hour_png(times: pd.Series, utc_offset_hours: int) -> bytes:
    """Tweets by weekday and hour in the operators' time zone (office hours show as a block)."""
    local = pd.to_datetime(times, utc=True) + pd.Timedelta(hours=utc_offset_hours)
    grid = np.zeros((7, 24))
    np.add.at(grid, (local.dt.dayofweek.to_numpy(), local.dt.hour.to_numpy()), 1)
    with _png((5.0, 2.6)) as (fig, ax, out):
        im = ax.imshow(grid, aspect="auto", cmap="viridis")
        ax.set_yticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
        ax.set_xticks(range(0, 24, 3))
        ax.set_xlabel(f"hour (UTC{utc_offset_hours:+d})")
        fig.colorbar(im, ax=ax, label="tweets")
    return out["png"]
