"""Helpers the benchmark scripts share."""

from __future__ import annotations

import resource
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def peak_rss_gb() -> float:
    """This process's own peak resident memory, in GB.

    Read from /proc (VmHWM) where it exists: `ru_maxrss` of a child started by fork+exec
    starts from the parent's resident size at the fork, so a benchmark parent that built a
    large dump would inflate every child's figure.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024 / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def world_frame(shift: Path, params, work: Path) -> pd.DataFrame:
    """A world's feature rows (its <campaign>/<label>/ dumps ingested into `work`, features
    built per campaign as the features stage builds the sample's) with label, campaign and a
    grouped fold."""
    import pyarrow.parquet as pq

    from pipeline import duck
    from pipeline.config import SplitParams
    from pipeline.split import make_split
    from pipeline.features.build import build_features
    from pipeline.ingest import ingest_dumps, labelled_dumps

    dumps = labelled_dumps(shift)
    if not dumps:
        raise SystemExit(f"{shift} holds no <campaign>/<label>/ dumps; run `dvc repro shift_sample` first.")
    ingest_dumps(dumps, work, progress=False)
    con = duck.connect()
    try:
        con.register("acc_in", pq.read_table(work / "accounts.parquet"))
        con.register("tw_in", pq.read_table(work / "tweets.parquet"))
        feats = build_features(con, "acc_in", "tw_in", params.features).to_pandas()
    finally:
        con.close()
    accounts = pq.read_table(work / "accounts.parquet", columns=["userid", "account_creation_date"]).to_pandas()
    split = make_split(feats.merge(accounts, on="userid"), SplitParams(holdout_campaigns=[], seed=params.split.seed))
    return feats.merge(split[["userid", "fold", "group"]], on="userid", validate="one_to_one")


def fit_and_score(train: pd.DataFrame, test: pd.DataFrame, params) -> dict:
    """LightGBM fitted as the train_gbm stage fits it (n-gram score, grouped folds, calibration
    and threshold across campaigns) on `train`, scored on `test` with `GbmScorer`."""
    import tempfile

    import numpy as np

    from pipeline.metrics import binary_metrics
    from pipeline.models.fit import fit_gbm_folder
    from pipeline.scoring import GbmScorer

    with tempfile.TemporaryDirectory(prefix="transfer-") as d:
        fit_gbm_folder(train.reset_index(drop=True), params, Path(d))
        scorer = GbmScorer.load(d)
        scores, thresholds = scorer.score(test), scorer.thresholds(test)
    ev = params.evaluate
    y = (test["label"] == "state_linked").to_numpy()
    m = binary_metrics(y, scores, 0.5, ev.low_prevalence, ev.fpr_budget)
    flagged = scores >= thresholds
    return {"accounts": len(test), "pr_auc": m["pr_auc"], "roc_auc": m["roc_auc"], "ece": m["ece"],
            "organic_flagged": float(flagged[~y].mean()) if (~y).any() else float("nan")}
