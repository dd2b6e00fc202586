"""Helpers for the notebooks in notebooks/: loading, tidy summaries and figures.

The notebooks stay thin: each cell calls one function here, so the logic is tested and
shared, and a notebook never re-implements what the pipeline computes. Data comes from
the pipeline's own functions (ingest, coordination, scoring, evaluation); these helpers
only reshape it for a person to look at.

Every plotting function returns a `matplotlib.figure.Figure` built without pyplot, so a
figure is displayed exactly once (as the cell's value, or with `display(fig)`) and the
module works headless (tests, CI).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

LABEL_COLOURS = {"state_linked": "#c0392b", "control": "#2e86c1", "unlabelled": "#7f8c8d"}
FAMILY_COLOURS = {"co_retweet": "#8e44ad", "near_duplicate": "#d35400", "co_hashtag_seq": "#16a085",
                  "co_url": "#2c3e50", "sync": "#f1c40f"}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# The same domain rule as the URL features (pipeline/features/behaviour.py).
_DOMAIN = re.compile(r"^(?:[a-zA-Z]+://)?(?:www\.)?([^/:?#]+)")
_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
              "Source Han Sans SC", "SimHei", "Microsoft YaHei", "PingFang SC", "Arial Unicode MS")


# --------------------------------------------------------------------------- setup

def find_repo_root(start: Path | str | None = None) -> Path:
    """The nearest folder at or above `start` (default: the cwd) that holds dvc.yaml."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").exists():
            return folder
    raise FileNotFoundError(f"no dvc.yaml at or above {here}; open the notebook inside the statelink repository.")


def setup_matplotlib() -> str | None:
    """Readable defaults; a CJK-capable fallback font when one is installed (Chinese hashtags).

    Returns the CJK font used, or None (CJK text then shows as boxes, without warnings).
    """
    import matplotlib
    from matplotlib import font_manager

    matplotlib.rcParams.update({"figure.dpi": 90, "axes.spines.top": False, "axes.spines.right": False,
                                "axes.titlesize": 10, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8,
                                "legend.fontsize": 8})
    installed = {f.name for f in font_manager.fontManager.ttflist}
    cjk = next((f for f in _CJK_FONTS if f in installed), None)
    if cjk:
        matplotlib.rcParams["font.family"] = ["DejaVu Sans", cjk]
    warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
    warnings.filterwarnings("ignore", message=r".*missing from (current )?font")
    # Noise in a notebook: tqdm without ipywidgets, MLflow's type-hint advice, download bars.
    warnings.filterwarnings("ignore", message=r".*IProgress not found")
    warnings.filterwarnings("ignore", message=r".*Add type hints to the `predict` method")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return cjk


def load_params(path: Path | str = "params.yaml"):
    from pipeline.config import load_params as _load

    return _load(path)


def _figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] = (8, 3.5), **kw):
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _label(series: pd.Series) -> pd.Series:
    return series.fillna("unlabelled").astype(str)


# --------------------------------------------------------------------------- 01: explore a dump

def load_tables(params, interim: Path | str = "data/interim") -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Accounts and tweets as the pipeline reads them: `data/interim` if the ingest stage ran,
    else the dumps listed in params.yaml ingested now with `ingest_dumps` (into a temp folder).

    Returns (accounts, tweets, where they came from).
    """
    from pipeline.ingest import ingest_dumps

    interim = Path(interim)
    if not ((interim / "accounts.parquet").exists() and (interim / "tweets.parquet").exists()):
        out = Path(tempfile.mkdtemp(prefix="statelink-nb-"))
        ingest_dumps(params.data.dumps, out, params.ingest)
        interim = out
    accounts = pd.read_parquet(interim / "accounts.parquet")
    tweets = pd.read_parquet(interim / "tweets.parquet")
    for frame in (accounts, tweets):
        frame["label"] = _label(frame["label"])
        frame["campaign"] = frame["campaign"].fillna("(none)")
    return accounts, tweets, str(interim)


def ingest_summary(interim: Path | str) -> pd.DataFrame:
    """Rows read and quarantined per file, from ingest_report.json (empty if there is none)."""
    path = Path(interim) / "ingest_report.json"
    if not path.exists():
        return pd.DataFrame(columns=["file", "kind", "rows_read", "rows_quarantined"])
    report = json.loads(path.read_text(encoding="utf-8"))
    frame = pd.DataFrame(report.get("files", []))
    return frame[[c for c in ("file", "kind", "rows_read", "rows_quarantined") if c in frame.columns]]


def campaign_counts(accounts: pd.DataFrame, tweets: pd.DataFrame) -> pd.DataFrame:
    """Accounts and tweets per campaign and label."""
    acc = accounts.groupby(["campaign", "label"]).size().rename("accounts")
    tw = tweets.groupby(["campaign", "label"]).size().rename("tweets")
    return pd.concat([acc, tw], axis=1).fillna(0).astype(int).reset_index()


def weekly_activity(tweets: pd.DataFrame) -> pd.DataFrame:
    """Per week, campaign and label: tweets and distinct active accounts."""
    week = tweets["tweet_time"].dt.tz_convert(None).dt.to_period("W").dt.start_time
    frame = tweets.assign(week=week)
    return (frame.groupby(["campaign", "label", "week"])
            .agg(tweets=("tweetid", "size"), active_accounts=("userid", "nunique")).reset_index())


def plot_weekly_activity(weekly: pd.DataFrame, skip_share: float = 0.05) -> "Figure":  # noqa: F821
    """Tweets and active accounts per week, one panel per campaign, one line per label.

    Each panel starts where the campaign's earliest `skip_share` of tweets ends, so a thin
    tail of old history (repurposed accounts) does not squeeze the active period.
    """
    import matplotlib.dates as mdates

    campaigns = sorted(weekly["campaign"].unique())
    fig, axes = _figure(2, len(campaigns), size=(3.6 * len(campaigns), 5), sharey="row")
    for j, camp in enumerate(campaigns):
        part = weekly[weekly["campaign"] == camp]
        per_week = part.groupby("week")["tweets"].sum().sort_index()
        share = (per_week.cumsum() / max(per_week.sum(), 1)).to_numpy()
        start = per_week.index[min(int(np.searchsorted(share, skip_share)), len(per_week) - 1)]
        pad = pd.Timedelta(weeks=2)
        for ax in axes[:, j]:
            ax.set_xlim(start - pad, per_week.index.max() + pad)
            locator = mdates.AutoDateLocator(maxticks=6)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        for label, g in part.groupby("label"):
            colour = LABEL_COLOURS.get(label)
            axes[0, j].plot(g["week"], g["tweets"], color=colour, label=label, lw=1.2)
            axes[1, j].plot(g["week"], g["active_accounts"], color=colour, label=label, lw=1.2)
        axes[0, j].set_title(camp)
    axes[0, 0].set_ylabel("tweets per week")
    axes[1, 0].set_ylabel("active accounts per week")
    axes[0, 0].legend()
    return fig


def hour_weekday_share(tweets: pd.DataFrame, utc_offset_hours: int) -> dict[str, np.ndarray]:
    """Per label, a 7 × 24 array (weekday × local hour) of the share of that label's tweets."""
    local = tweets["tweet_time"].dt.tz_convert(None) + pd.Timedelta(hours=utc_offset_hours)
    frame = pd.DataFrame({"label": tweets["label"].to_numpy(), "dow": local.dt.dayofweek.to_numpy(),
                          "hour": local.dt.hour.to_numpy()})
    out = {}
    for label, g in frame.groupby("label"):
        grid = np.zeros((7, 24))
        np.add.at(grid, (g["dow"].to_numpy(), g["hour"].to_numpy()), 1)
        out[str(label)] = grid / max(grid.sum(), 1)
    return out


def plot_hour_heatmaps(shares: dict[str, np.ndarray], utc_offset_hours: int,
                       office: tuple[int, int] | None = None) -> "Figure":  # noqa: F821
    """One weekday × hour heatmap per label, in the operators' local time."""
    labels = sorted(shares)
    fig, axes = _figure(1, len(labels), size=(5 * len(labels), 2.8))
    vmax = max(float(s.max()) for s in shares.values()) if shares else 1.0
    image = None
    for ax, label in zip(axes[0], labels):
        image = ax.imshow(shares[label], aspect="auto", cmap="magma_r", vmin=0, vmax=vmax)
        ax.set_title(f"{label}: share of tweets (UTC{utc_offset_hours:+d})")
        ax.set_yticks(range(7), WEEKDAYS)
        ax.set_xticks(range(0, 24, 3))
        ax.set_xlabel("local hour")
        if office:
            ax.axvline(office[0] - 0.5, color="k", lw=0.8, ls="--")
            ax.axvline(office[1] - 0.5, color="k", lw=0.8, ls="--")
    if image is not None:
        fig.colorbar(image, ax=list(axes[0]), shrink=0.8)
    return fig


def creation_per_day(accounts: pd.DataFrame) -> pd.DataFrame:
    """Accounts created per day, campaign and label (the raw material of creation batches)."""
    frame = accounts.dropna(subset=["account_creation_date"])
    day = pd.to_datetime(frame["account_creation_date"])
    return frame.assign(day=day).groupby(["campaign", "label", "day"]).size().rename("accounts").reset_index()


def plot_creation_batches(per_day: pd.DataFrame, top: int = 3) -> "Figure":  # noqa: F821
    """Accounts created per day, one panel per campaign; the `top` busiest state-linked days annotated."""
    campaigns = sorted(per_day["campaign"].unique())
    fig, axes = _figure(len(campaigns), 1, size=(9, 2.2 * len(campaigns)))
    for ax, camp in zip(axes[:, 0], campaigns):
        part = per_day[per_day["campaign"] == camp]
        for label, g in part.groupby("label"):
            ax.vlines(g["day"], 0, g["accounts"], color=LABEL_COLOURS.get(label), lw=1.2, label=label, alpha=0.8)
        busiest = part[part["label"] == "state_linked"].nlargest(top, "accounts")
        for _, row in busiest.iterrows():
            ax.annotate(f"{row['day']:%Y-%m-%d}: {row['accounts']}", (row["day"], row["accounts"]),
                        fontsize=7, xytext=(3, 0), textcoords="offset points")
        ax.set_title(f"{camp}: accounts created per day")
        ax.set_ylabel("accounts")
    axes[0, 0].legend(loc="upper left")
    return fig


def url_domain(url: str | None) -> str | None:
    """The host of a URL, without `www.`, lower-case (the URL features' rule)."""
    if not url:
        return None
    m = _DOMAIN.match(url)
    return m.group(1).lower() if m and m.group(1) else None


def top_values(tweets: pd.DataFrame, what: str, n: int = 10) -> pd.DataFrame:
    """The `n` most frequent values per label, with their share of that label's tweets.

    `what` is `hashtags`, `domains`, or a tweet column (`tweet_client_name`, `tweet_language`).
    Hashtags are case-folded; domains come from the `urls` lists.
    """
    if what == "hashtags":
        frame = tweets[["label", "hashtags"]].explode("hashtags").dropna()
        values = frame["hashtags"].astype(str).str.lower()
    elif what == "domains":
        frame = tweets[["label", "urls"]].explode("urls").dropna()
        values = frame["urls"].map(url_domain)
    else:
        frame = tweets[["label", what]]
        values = frame[what].fillna("(none)").astype(str)
    frame = pd.DataFrame({"label": frame["label"].to_numpy(), "value": values.to_numpy()}).dropna()
    totals = tweets.groupby("label").size()
    counts = frame.groupby(["label", "value"]).size().rename("n").reset_index()
    counts["share_of_tweets"] = counts["n"] / counts["label"].map(totals)
    counts = counts.sort_values(["label", "n", "value"], ascending=[True, False, True])
    return counts.groupby("label").head(n).reset_index(drop=True)


def plot_top_values(tables: dict[str, pd.DataFrame]) -> "Figure":  # noqa: F821
    """Horizontal bars: for each table (a title → `top_values` output), one panel per label."""
    labels = sorted({lab for t in tables.values() for lab in t["label"].unique()})
    fig, axes = _figure(len(tables), max(len(labels), 1), size=(5 * max(len(labels), 1), 2.9 * len(tables)))
    for i, (title, table) in enumerate(tables.items()):
        for j, label in enumerate(labels):
            ax = axes[i, j]
            part = table[table["label"] == label].iloc[::-1]
            if part.empty:
                ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes)
                ax.set_axis_off()
            else:
                ax.barh(part["value"].str.slice(0, 40), part["share_of_tweets"], color=LABEL_COLOURS.get(label))
                ax.set_xlabel("share of tweets")
            ax.set_title(f"{title} — {label}")
    return fig


def coordination_edges(interim: Path | str, features_params) -> pd.DataFrame:
    """The fused coordination graph's edges `(u, v, weight, fam)`, recomputed by the
    pipeline's own coordination code over the ingested tables (population = campaign)."""
    from pipeline import duck
    from pipeline.features.coordination import compute_coordination
    from pipeline.features.tables import POPULATION_SQL, materialise_tweets
    from pipeline.sql import parquet_source

    interim = Path(interim)
    con = duck.connect(config={"threads": 2})
    try:
        con.execute(f"""CREATE TEMP VIEW acc AS SELECT *, {POPULATION_SQL} AS population
                        FROM {parquet_source(interim / 'accounts.parquet')}""")
        con.execute(f"CREATE TEMP VIEW tweets AS SELECT * FROM {parquet_source(interim / 'tweets.parquet')}")
        materialise_tweets(con)
        compute_coordination(con, features_params.coordination)
        return con.sql("SELECT u, v, weight, fam FROM edges_all ORDER BY u, v, fam").df()
    finally:
        con.close()


def coordination_clusters(accounts: pd.DataFrame, edges: pd.DataFrame) -> pd.DataFrame:
    """Cluster id and size per account, by the same connected-components rule as the features."""
    from pipeline.features.coordination import cluster_labels

    users = np.sort(accounts["userid"].astype(str).unique())
    index = pd.Series(np.arange(len(users)), index=users)
    ids, sizes = cluster_labels(users, index.reindex(edges["u"]).to_numpy(), index.reindex(edges["v"]).to_numpy())
    return pd.DataFrame({"userid": users, "coord_cluster": ids, "cluster_size": sizes.astype(int)})


def largest_clusters(clusters: pd.DataFrame, accounts: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    """The `k` largest clusters: size, campaign(s) and label mix."""
    frame = clusters[clusters["coord_cluster"] != ""].merge(accounts[["userid", "campaign", "label"]], on="userid")
    if frame.empty:
        return pd.DataFrame(columns=["coord_cluster", "size", "campaigns", "state_linked", "control", "unlabelled"])
    mix = pd.crosstab(frame["coord_cluster"], frame["label"])
    for col in ("state_linked", "control", "unlabelled"):
        if col not in mix:
            mix[col] = 0
    summary = frame.groupby("coord_cluster").agg(size=("userid", "size"),
                                                 campaigns=("campaign", lambda s: ", ".join(sorted(set(s)))))
    summary = summary.join(mix[["state_linked", "control", "unlabelled"]])
    return summary.sort_values(["size"], ascending=False).head(k).reset_index()


def cluster_subgraph(edges: pd.DataFrame, members: Iterable[str], max_nodes: int = 150) -> pd.DataFrame:
    """Edges inside one cluster, cut to its `max_nodes` best-connected accounts (keeps drawing fast)."""
    members = set(members)
    inside = edges[edges["u"].isin(members) & edges["v"].isin(members)]
    degree = pd.concat([inside["u"], inside["v"]]).value_counts()
    keep = set(degree.sort_index().sort_values(ascending=False, kind="stable").index[:max_nodes])
    return inside[inside["u"].isin(keep) & inside["v"].isin(keep)].reset_index(drop=True)


def _layout(edges: pd.DataFrame, seed: int = 0) -> dict[str, np.ndarray]:
    nodes = sorted(set(edges["u"]) | set(edges["v"]))
    try:
        import networkx as nx

        graph = nx.Graph()
        graph.add_nodes_from(nodes)
        graph.add_weighted_edges_from(edges[["u", "v", "weight"]].itertuples(index=False, name=None))
        return {k: np.asarray(v) for k, v in nx.spring_layout(graph, seed=seed, iterations=60).items()}
    except ImportError:  # networkx comes with dvc; without it, a circle still shows the ties
        angles = np.linspace(0, 2 * np.pi, len(nodes), endpoint=False)
        return {n: np.array([np.cos(a), np.sin(a)]) for n, a in zip(nodes, angles)}


def plot_clusters(edges: pd.DataFrame, clusters: pd.DataFrame, accounts: pd.DataFrame, top: pd.DataFrame,
                  max_nodes: int = 150, seed: int = 0) -> "Figure":  # noqa: F821
    """The largest coordination clusters as networks: nodes coloured by label, edges by tie family."""
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    n = max(len(top), 1)
    fig, axes = _figure(1, n, size=(4.6 * n, 4.6))
    labels = accounts.set_index("userid")["label"]
    for ax, row in zip(axes[0], top.itertuples(index=False)):
        members = clusters.loc[clusters["coord_cluster"] == row.coord_cluster, "userid"]
        sub = cluster_subgraph(edges, members, max_nodes)
        pos = _layout(sub, seed)
        for fam, g in sub.groupby("fam"):
            segs = [(pos[u], pos[v]) for u, v in zip(g["u"], g["v"])]
            ax.add_collection(LineCollection(segs, colors=FAMILY_COLOURS.get(fam, "grey"), linewidths=0.4, alpha=0.35))
        nodes = list(pos)
        xy = np.array([pos[u] for u in nodes]) if nodes else np.zeros((0, 2))
        colours = [LABEL_COLOURS.get(labels.get(u, "unlabelled"), "grey") for u in nodes]
        ax.scatter(xy[:, 0], xy[:, 1], s=12, c=colours, edgecolors="white", linewidths=0.3, zorder=3)
        shown = f"{len(nodes)} of {row.size}" if len(nodes) < row.size else f"{row.size}"
        ax.set_title(f"{row.campaigns}: {shown} accounts\n{row.coord_cluster[:18]}…", fontsize=9)
        ax.set_axis_off()
        ax.autoscale_view()
    handles = [Line2D([], [], marker="o", ls="", color=c, label=lab) for lab, c in LABEL_COLOURS.items()]
    handles += [Line2D([], [], color=c, label=f) for f, c in FAMILY_COLOURS.items()]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=7, frameon=False)
    return fig


# --------------------------------------------------------------------------- 02: compare experiments

def use_tracking_store(params, root: Path | str | None = None) -> str:
    """Point MLflow at the project's store (MLFLOW_TRACKING_URI wins); returns the URI."""
    from pipeline import tracking

    tracking.quiet_mlflow()
    import mlflow

    root = tracking.repo_root(Path(root) if root else Path.cwd())
    uri = tracking.resolve_tracking_uri(params.tracking, root)
    mlflow.set_tracking_uri(uri)
    return uri


def pipeline_runs(experiment: str = "statelink") -> pd.DataFrame:
    """The pipeline's parent runs (one per `dvc repro` / `dvc exp run`), newest first.

    Adds `experiment_label`: the DVC experiment name if the run has one, else its run name
    (suffixed with the run id where names repeat).
    """
    import mlflow

    runs = mlflow.search_runs(experiment_names=[experiment], order_by=["attributes.start_time DESC"])
    if runs.empty:
        raise LookupError(f"no runs in the MLflow experiment '{experiment}' at {mlflow.get_tracking_uri()}; "
                          "run `dvc repro` (or `dvc exp run`) first.")
    if "tags.mlflow.parentRunId" in runs.columns:
        runs = runs[runs["tags.mlflow.parentRunId"].isna()]
    exp_name = runs["tags.dvc_exp_name"] if "tags.dvc_exp_name" in runs.columns else pd.Series(None, index=runs.index)
    label = exp_name.fillna(runs.get("tags.mlflow.runName", pd.Series("run", index=runs.index))).astype(str)
    dup = label.duplicated(keep=False)
    label[dup] = label[dup] + " (" + runs.loc[dup, "run_id"].str.slice(0, 6) + ")"
    return runs.assign(experiment_label=label.to_numpy()).reset_index(drop=True)


def varying_params(runs: pd.DataFrame) -> list[str]:
    """Parameter columns whose value differs between runs (what the experiments changed)."""
    cols = [c for c in runs.columns if c.startswith("params.")]
    return [c for c in cols if runs[c].astype(str).nunique(dropna=False) > 1]


def compare_runs(runs: pd.DataFrame, metrics: Sequence[str] = ("holdout.pr_auc", "holdout.roc_auc", "holdout.f1",
                                                               "holdout.precision_at_1pct_prevalence", "oof.pr_auc"),
                 params: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per run: its label, the chosen metrics and the parameters that vary."""
    params = list(params) if params is not None else varying_params(runs)
    metric_cols = [f"metrics.{m}" for m in metrics if f"metrics.{m}" in runs.columns]
    cols = ["experiment_label", "run_id", "start_time", *metric_cols, *[p for p in params if p in runs.columns]]
    table = runs[cols].copy()
    table.columns = [c.removeprefix("metrics.").removeprefix("params.") for c in cols]
    return table


def plot_run_metrics(table: pd.DataFrame, metrics: Sequence[str]) -> "Figure":  # noqa: F821
    """Grouped bars: each metric for each run."""
    metrics = [m for m in metrics if m in table.columns]
    fig, axes = _figure(1, 1, size=(max(6, 1.6 * len(metrics) * max(len(table), 1) ** 0.5), 3.4))
    ax = axes[0, 0]
    width = 0.8 / max(len(table), 1)
    x = np.arange(len(metrics))
    for i in range(len(table)):
        row = table.iloc[i]
        ax.bar(x + i * width, [row[m] for m in metrics], width, label=row["experiment_label"])
    ax.set_xticks(x + width * (len(table) - 1) / 2, metrics, rotation=15)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("held-out and out-of-fold metrics per run")
    return fig


def run_predictions(run_id: str, model: str | None = None) -> pd.DataFrame:
    """The per-account predictions a run logged (`predictions/predictions.parquet`),
    for one `model` if given (else all models the run evaluated)."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="predictions/predictions.parquet", dst_path=tmp)
        frame = pd.read_parquet(path)
    if model is not None and "model" in frame.columns:
        frame = frame[frame["model"] == model].reset_index(drop=True)
    return frame


def best_runs(runs: pd.DataFrame, metric: str = "holdout.pr_auc", n: int = 3) -> pd.DataFrame:
    """The `n` runs with the highest `metric` (runs without it last)."""
    col = f"metrics.{metric}"
    if col not in runs.columns:
        return runs.head(n)
    return runs.sort_values(col, ascending=False, na_position="last").head(n).reset_index(drop=True)


def primary_model_of(run: pd.Series) -> str:
    """The model a run reported as primary (tag `statelink.primary_model`; gbm in older runs)."""
    tag = run.get("tags.statelink.primary_model")
    return str(tag) if isinstance(tag, str) and tag else "gbm"


def plot_pr_curves(predictions: dict[str, pd.DataFrame], split: str = "holdout") -> "Figure":  # noqa: F821
    """Precision–recall curve per run (title → predictions), with each run's operating point."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig, axes = _figure(1, 1, size=(5.5, 4.2))
    ax = axes[0, 0]
    for name, pred in predictions.items():
        part = pred[pred["split"] == split]
        y = (part["label"] == "state_linked").to_numpy()
        if part.empty or y.all() or not y.any():
            continue
        precision, recall, _ = precision_recall_curve(y, part["score"])
        line, = ax.plot(recall, precision, lw=1.3, label=f"{name} (AP {average_precision_score(y, part['score']):.3f})")
        if "predicted" in part:
            flagged = part["predicted"].to_numpy().astype(bool)
            tp = (flagged & y).sum()
            ax.plot(tp / y.sum(), tp / max(flagged.sum(), 1), "o", color=line.get_color(), ms=5)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(f"precision–recall on the {split} accounts (dot: operating threshold)")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="lower left")
    return fig


def champion(name: str = "statelink", alias: str = "champion", fallback: Path | str | None = "models/statelink"):
    """(pyfunc model, where it came from) for `models:/NAME@ALIAS` in the current store.

    A registered model is code: one packaged by an older statelink may not load beside the
    code in this process. Then the latest local model folder (`fallback`) is loaded instead,
    and the description says why.
    """
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    uri = f"models:/{name}@{alias}"
    try:
        version = MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        version, problem = None, f"no {uri} in this store ({type(exc).__name__})"
    if version is not None:
        try:
            return mlflow.pyfunc.load_model(uri), f"{uri}: version {version.version} from run {version.run_id}"
        except Exception as exc:  # noqa: BLE001 - any load failure falls back, with the reason shown
            problem = f"{uri} (version {version.version}) does not load with this code: {type(exc).__name__}: {exc}"
    if fallback is None or not (Path(fallback) / "MLmodel").exists():
        raise RuntimeError(problem)
    return mlflow.pyfunc.load_model(str(fallback)), f"{fallback} (the latest run's model), because {problem}"


def accounts_of(accounts: pd.DataFrame, tweets: pd.DataFrame, campaign: str | None = None,
                limit: int | None = None, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accounts (one campaign, optionally a random `limit` of them) and their tweets."""
    acc = accounts if campaign is None else accounts[accounts["campaign"] == campaign]
    if limit is not None and len(acc) > limit:
        acc = acc.sample(limit, random_state=seed)
    return acc, tweets[tweets["userid"].isin(acc["userid"])]


def score_with_pyfunc(model, accounts: pd.DataFrame, tweets: pd.DataFrame) -> pd.DataFrame:
    """Score raw accounts and tweets with a statelink pyfunc; the true label joined for comparison.

    Coordination is computed among the accounts scored together, so score a whole
    population (a campaign, a dump), not a handful of accounts.
    """
    from pipeline.serving import model_input

    out = model.predict(model_input(accounts, tweets))
    truth = accounts[["userid", "campaign", "label"]].rename(columns={"label": "true_label"})
    return out.merge(truth, on="userid", how="left").sort_values("score", ascending=False).reset_index(drop=True)


def plot_score_by_label(scored: pd.DataFrame, threshold: float | None = None, label_col: str = "true_label",
                        title: str = "scores by true label") -> "Figure":  # noqa: F821
    """Score histograms, one per true label, with the operating threshold."""
    fig, axes = _figure(1, 1, size=(6, 3))
    ax = axes[0, 0]
    bins = np.linspace(0, 1, 41)
    for label, g in scored.groupby(label_col):
        ax.hist(g["score"], bins=bins, alpha=0.6, color=LABEL_COLOURS.get(label), label=f"{label} ({len(g)})")
    if threshold is not None:
        ax.axvline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:.3f}")
    ax.set_xlabel("score")
    ax.set_ylabel("accounts")
    ax.set_title(title)
    ax.legend()
    return fig


# --------------------------------------------------------------------------- 03: error analysis

def run_metrics(metrics_path: Path | str = "reports/metrics.json") -> dict:
    return json.loads(Path(metrics_path).read_text(encoding="utf-8"))


def operating_threshold(metrics: dict) -> float:
    """The primary model's operating threshold in the latest run."""
    return float(metrics["threshold"])


def primary_predictions(predictions: pd.DataFrame, metrics: dict) -> pd.DataFrame:
    """The rows of the primary model (predictions hold one row per account and model)."""
    if "model" not in predictions.columns:
        return predictions
    primary = metrics.get("primary_model") or predictions["model"].iloc[0]
    return predictions[predictions["model"] == primary].reset_index(drop=True)


def errors(predictions: pd.DataFrame, n: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(highest-scoring controls, lowest-scoring state-linked accounts) — the likeliest false
    positives and false negatives of the latest run."""
    controls = predictions[predictions["label"] == "control"].nlargest(n, "score")
    io = predictions[predictions["label"] == "state_linked"].nsmallest(n, "score")
    return controls.reset_index(drop=True), io.reset_index(drop=True)


def explain_accounts(model_dir: Path | str, interim: Path | str, userids: Iterable[str],
                     band: tuple[float, float] | None = None) -> pd.DataFrame:
    """Score accounts with the packaged model (models/statelink) and return its reasons.

    The accounts are scored with everyone in their campaigns, as in training, so the
    coordination features see the same population. `band` is the scoring cascade
    (`score.cascade_band`): the text encoder runs only where LightGBM is unsure. The score is
    the final model's; an account trained on has an out-of-fold score in predictions.parquet.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from pipeline.score import load_model
    from pipeline.serving import score_tables

    userids = list(dict.fromkeys(userids))
    loaded = load_model(str(model_dir))
    accounts = pq.read_table(Path(interim) / "accounts.parquet")
    chosen = accounts.filter(pc.is_in(accounts["userid"], value_set=pa.array(userids)))
    campaigns = [c for c in set(chosen.column("campaign").to_pylist()) if c is not None]
    if campaigns:
        accounts = accounts.filter(pc.is_in(accounts["campaign"], value_set=pa.array(campaigns)))
    tweets = pq.read_table(Path(interim) / "tweets.parquet",
                           filters=[("userid", "in", accounts.column("userid").to_pylist())])
    scored = score_tables(accounts, tweets, loaded.bundle, band=band).set_index("userid")
    return scored.loc[[u for u in userids if u in scored.index]].reset_index()


def with_reasons(errors_frame: pd.DataFrame, explained: pd.DataFrame) -> pd.DataFrame:
    """An errors table with the model's reasons and context columns beside the logged score."""
    extra = explained[["userid", "score", "reasons", "coord_cluster", "n_tweets_seen"]].rename(
        columns={"score": "score_final_model"})
    out = errors_frame.merge(extra, on="userid", how="left")
    cols = ["userid", "campaign", "label", "main_language", "split", "score", "score_final_model", "reasons",
            "n_tweets_seen", "coord_cluster"]
    return out[[c for c in cols if c in out.columns]]


def sample_tweets(tweets: pd.DataFrame, userids: Iterable[str], per_account: int = 3, seed: int = 0) -> pd.DataFrame:
    """A few tweets of each account (originals first), with time, client and language."""
    userids = list(dict.fromkeys(userids))
    part = tweets[tweets["userid"].isin(userids)].copy()
    part["_original"] = ~part["is_retweet"].fillna(False).astype(bool)
    part["_r"] = np.random.default_rng(seed).random(len(part))
    part = part.sort_values(["userid", "_original", "_r"], ascending=[True, False, True])
    part = part.groupby("userid").head(per_account)
    part["userid"] = pd.Categorical(part["userid"], categories=userids, ordered=True)
    cols = ["userid", "tweet_time", "tweet_language", "tweet_client_name", "is_retweet", "tweet_text"]
    return part.sort_values(["userid", "tweet_time"])[cols].reset_index(drop=True)


AGE_BINS = (-np.inf, 30, 180, 365, 3 * 365, np.inf)
AGE_LABELS = ("< 1 month", "1–6 months", "6–12 months", "1–3 years", "> 3 years")
AGE_ORDER = (*AGE_LABELS, "unknown (no tweets)")


def account_age_bins(features: pd.DataFrame) -> pd.DataFrame:
    """userid → account age when it first posted in the dump, binned (from the feature table)."""
    age = features["account_age_at_first_tweet_days"]
    binned = pd.cut(age, AGE_BINS, labels=AGE_LABELS, right=False).astype(object).fillna("unknown (no tweets)")
    return pd.DataFrame({"userid": features["userid"].to_numpy(), "account_age": binned.to_numpy()})


def slice_table(predictions: pd.DataFrame, by: str, threshold: float, evaluate_params,
                order: Sequence[str] | None = None) -> pd.DataFrame:
    """Metrics per slice (the evaluate stage's own `slice_metrics`; slices under 20 accounts are
    left out), in `order` if given (other slices after it)."""
    from pipeline.evaluate import slice_metrics

    rows = slice_metrics(predictions, by, threshold, evaluate_params)
    if order is not None:
        rank = {k: i for i, k in enumerate(order)}
        rows = dict(sorted(rows.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = by
    for col in ("n_accounts", "n_state_linked"):
        if col in table:
            table[col] = table[col].astype(int)
    return table.reset_index()


def plot_slices(tables: dict[str, pd.DataFrame], metrics: Sequence[str] = ("precision", "recall", "pr_auc")) -> "Figure":  # noqa: F821
    """One panel per slicing (title → `slice_table` output): grouped bars of the metrics per slice."""
    fig, axes = _figure(1, len(tables), size=(4.8 * len(tables), 3.6))
    for ax, (title, table) in zip(axes[0], tables.items()):
        key = table.columns[0]
        x = np.arange(len(table))
        width = 0.8 / len(metrics)
        for i, m in enumerate(metrics):
            values = table[m] if m in table else pd.Series(np.nan, index=table.index)
            ax.bar(x + i * width, values, width, label=m)
        names = [f"{k}\n(n={n})" for k, n in zip(table[key], table.get("n_accounts", [""] * len(table)))]
        ax.set_xticks(x + width * (len(metrics) - 1) / 2, names, rotation=30, ha="right", fontsize=7)
        ax.set_ylim(0, 1.05)
        ax.set_title(title)
    axes[0, 0].legend(loc="lower left", fontsize=7)
    return fig


def plot_score_strips(predictions: pd.DataFrame, by: str, threshold: float,
                      order: Sequence[str] | None = None) -> "Figure":  # noqa: F821
    """Every account's score as a dot, per slice and label: where the errors sit."""
    present = set(predictions[by].astype(str))
    keys = [k for k in (order or []) if k in present] + sorted(present - set(order or []))
    fig, axes = _figure(1, 1, size=(max(6, 1.2 * len(keys)), 3.6))
    ax = axes[0, 0]
    rng = np.random.default_rng(0)
    for i, key in enumerate(keys):
        part = predictions[predictions[by].astype(str) == key]
        for offset, label in ((-0.18, "control"), (0.18, "state_linked")):
            g = part[part["label"] == label]
            ax.scatter(i + offset + rng.uniform(-0.12, 0.12, len(g)), g["score"], s=4, alpha=0.5,
                       color=LABEL_COLOURS[label], label=label if i == 0 else None)
    ax.axhline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:.3f}")
    ax.set_xticks(range(len(keys)), keys, rotation=20)
    ax.set_ylabel("score")
    ax.set_title(f"scores by {by}: red below or blue above the line are errors")
    ax.legend(fontsize=7, loc="center right")
    return fig
