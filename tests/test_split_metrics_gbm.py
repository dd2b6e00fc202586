"""Split, metrics and LightGBM training on small synthetic frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import EvaluateParams, SplitParams, TrainGbmParams
from pipeline.errors import ConfigError
from pipeline.metrics import (
    binary_metrics, calibration_record, precision_at_prevalence, recall_at_fpr, threshold_for_precision,
)
from pipeline.models.gbm import load_gbm, save_gbm, train_gbm
from pipeline.split import make_split


def _accounts(n_per=60, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for campaign in ("a", "b", "c"):
        for i in range(n_per):
            label = "state_linked" if i % 2 else "control"
            # IO accounts come in creation batches of ten.
            day = pd.Timestamp("2017-08-30") + pd.Timedelta(days=int(i // 10)) if label == "state_linked" else \
                pd.Timestamp("2010-01-01") + pd.Timedelta(days=int(rng.integers(0, 3000)))
            rows.append({"userid": f"{campaign}{i}", "campaign": campaign, "label": label, "account_creation_date": day.date()})
    return pd.DataFrame(rows)


def test_split_holds_out_campaigns_and_keeps_batches_in_one_fold():
    acc = _accounts()
    s = make_split(acc, SplitParams(holdout_campaigns=["c"], n_folds=3))
    assert set(s.loc[s.role == "test", "campaign"]) == {"c"}
    assert (s.loc[s.role == "test", "fold"] == -1).all()
    train = s[s.role == "train"]
    assert set(train["fold"]) == {0, 1, 2}
    # Every creation batch sits in exactly one fold.
    assert (train.groupby("group")["fold"].nunique() == 1).all()
    # Deterministic by seed.
    assert s.equals(make_split(acc, SplitParams(holdout_campaigns=["c"], n_folds=3)))


def test_split_rejects_unknown_or_total_holdout():
    acc = _accounts()
    with pytest.raises(ConfigError, match="not among"):
        make_split(acc, SplitParams(holdout_campaigns=["zz"]))
    with pytest.raises(ConfigError, match="nothing is left"):
        make_split(acc, SplitParams(holdout_campaigns=["a", "b", "c"]))


def test_metrics_known_answers():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9])
    m = binary_metrics(y, s, threshold=0.5, low_prevalence=0.01, fpr_budget=0.01)
    assert m["precision"] == pytest.approx(3 / 4)
    assert m["recall"] == pytest.approx(3 / 4)
    assert m["roc_auc"] == pytest.approx(15 / 16)
    # 1 % prevalence: tpr .75, fpr .25 → .0075 / (.0075 + .2475)
    assert m["precision_at_1pct_prevalence"] == pytest.approx(0.0075 / 0.255)
    assert recall_at_fpr(y, s, 0.0) == pytest.approx(0.75)
    # At 50 % prevalence, with balanced classes, it equals plain precision.
    assert precision_at_prevalence(y, s >= 0.5, 0.5) == pytest.approx(3 / 4)
    assert threshold_for_precision(y, s, 1.0) == pytest.approx(0.7)


def test_threshold_reaches_the_target_in_every_campaign_not_only_on_their_pool():
    # Campaign a separates cleanly; in campaign b two controls score 0.5 and 0.6. Pooled, 0.5
    # gives precision 10/12 >= 0.8, but in b alone only 2/4: the label would break its promise there.
    ya, sa = np.array([0] * 6 + [1] * 8), np.array([0.1] * 6 + [0.9] * 8)
    yb, sb = np.array([0, 0, 0, 1, 1]), np.array([0.2, 0.5, 0.6, 0.7, 0.8])
    y, s = np.concatenate([ya, yb]), np.concatenate([sa, sb])
    groups = np.array(["a"] * len(ya) + ["b"] * len(yb))
    pooled = threshold_for_precision(y, s, 0.8)
    assert pooled == pytest.approx(0.5)
    per = threshold_for_precision(y, s, 0.8, groups)
    assert per == pytest.approx(0.7)
    for g in ("a", "b"):
        flagged = (s >= per) & (groups == g)
        assert y[flagged].mean() >= 0.8
    # A campaign of one class has no precision of its own, but its flagged controls still
    # count in the pool: with b all controls, 0.7 keeps the pool at 8 / 10.
    y_c = np.concatenate([ya, np.zeros(5, int)])
    t_c = threshold_for_precision(y_c, s, 0.8, np.array(["a"] * len(ya) + ["c"] * len(yb)))
    assert t_c == pytest.approx(0.7) and y_c[s >= t_c].mean() >= 0.8
    # The threshold is the lowest score that keeps every campaign at the target, not the
    # strictest campaign's own (0.9 here, which would flag nobody in b).
    assert threshold_for_precision(ya, sa, 0.8) == pytest.approx(0.9)
    # Where no score keeps every campaign at the target, the pooled rule stands: at 0.9 only a
    # flags anything, and a threshold that flags nothing in b has shown nothing there.
    yb_hard = np.array([0, 0, 1, 1, 0])  # b's top score is a control
    y_hard = np.concatenate([ya, yb_hard])
    assert threshold_for_precision(y_hard, s, 0.8, groups) == pytest.approx(threshold_for_precision(y_hard, s, 0.8))
    rec = calibration_record(y, s, per, 0.01, "leave-one-campaign-out", ["a", "b"], groups)
    assert rec["precision_at_threshold_by_campaign"] == {"a": 1.0, "b": 1.0}
    assert calibration_record(y, s, pooled, 0.01, "x", ["a", "b"], groups)["precision_at_threshold_by_campaign"]["b"] == 0.5


def test_gbm_learns_a_signal_and_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    n = 400
    y = rng.integers(0, 2, n)
    frame = pd.DataFrame({
        "userid": [f"u{i}" for i in range(n)], "campaign": "a",
        "label": np.where(y == 1, "state_linked", "control"),
        "fold": rng.integers(0, 3, n),
        "signal": y + rng.normal(0, 0.7, n),
        "noise": rng.normal(0, 1, n),
    })
    res = train_gbm(frame, ["signal", "noise"], TrainGbmParams(n_estimators=50), EvaluateParams())
    from sklearn.metrics import roc_auc_score

    assert not np.isnan(res.oof["score"]).any()
    assert roc_auc_score(y, res.oof["score"]) > 0.8
    save_gbm(res, tmp_path, TrainGbmParams(n_estimators=50))
    booster, meta = load_gbm(tmp_path)
    X = frame[["signal", "noise"]].to_numpy()
    np.testing.assert_allclose(booster.predict(X), res.booster.predict(X))
    assert meta["features"] == ["signal", "noise"] and 0 < meta["threshold"] < 1
    assert not list(tmp_path.glob(".*.tmp"))  # no temp files left behind


def test_split_keeps_coordination_clusters_together_transitively():
    acc = _accounts()
    # Three control accounts with unrelated creation dates, chained by one cluster id,
    # plus an IO account that shares a batch with one of them via the cluster.
    acc.loc[acc.userid.isin(["a0", "a2", "a4"]), "label"] = "control"
    acc["coord_cluster"] = ""
    acc.loc[acc.userid.isin(["a0", "a2", "a4", "a1"]), "coord_cluster"] = "c:a0"
    s = make_split(acc, SplitParams(holdout_campaigns=["c"], n_folds=3))
    linked = s[s.userid.isin(["a0", "a2", "a4", "a1"])]
    assert linked["group"].nunique() == 1 and linked["fold"].nunique() == 1
    # a1's whole creation batch (a1, a3, a5, a7, a9) joins the same group through a1.
    batch = s[s.userid.isin(["a3", "a5", "a7", "a9"])]
    assert set(batch["group"]) == set(linked["group"])
