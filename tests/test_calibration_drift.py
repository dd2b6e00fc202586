"""Probabilities that travel: calibration across campaigns, ECE, the stacker's campaign-wise
threshold, and the drift check `statelink score` runs before anyone reads a probability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline import drift
from pipeline.config import EvaluateParams, TrainGbmParams
from pipeline.metrics import apply_platt, binary_metrics, expected_calibration_error, threshold_for_precision
from pipeline.models.ensemble import fit_stacker
from pipeline.models.gbm import cross_campaign_calibration, lgb_params, train_gbm


def test_ece_known_answers():
    y = np.array([0, 1] * 50)
    # Every score 0.9 where half are state-linked: off by 0.4 everywhere.
    assert expected_calibration_error(y, np.full(100, 0.9)) == pytest.approx(0.4)
    # Scores equal to each bin's positive share: calibrated.
    y2 = np.array([0] * 9 + [1] + [0] * 3 + [1] * 7)
    s2 = np.array([0.1] * 10 + [0.7] * 10)
    assert expected_calibration_error(y2, s2) == pytest.approx(0.0)
    m = binary_metrics(y2, s2, threshold=0.5, low_prevalence=0.01, fpr_budget=0.01)
    assert m["ece"] == pytest.approx(0.0)
    assert m["organic_flagged_share"] == pytest.approx(3 / 12)


def _campaigns(seed: int = 0, n: int = 300) -> pd.DataFrame:
    """Three campaigns. `signal` means the same everywhere; `shortcut` separates the classes
    inside campaigns a and b, but with opposite signs, and `topic` tells the campaigns apart,
    so an in-distribution model learns "shortcut given topic" and is sure of itself. In c
    the shortcut is noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for ci, campaign in enumerate(("a", "b", "c")):
        y = rng.integers(0, 2, n)
        sign = {"a": 1.0, "b": -1.0, "c": 0.0}[campaign]
        rows.append(pd.DataFrame({
            "userid": [f"{campaign}{i}" for i in range(n)], "campaign": campaign,
            "label": np.where(y == 1, "state_linked", "control"), "fold": rng.integers(0, 3, n),
            "signal": y * 1.0 + rng.normal(0, 1.0, n),
            "shortcut": sign * 3.0 * y + rng.normal(0, 0.5, n),
            "topic": ci + rng.normal(0, 0.05, n),
        }))
    return pd.concat(rows, ignore_index=True)


def test_cross_campaign_calibration_is_honest_on_an_unseen_campaign():
    frame = _campaigns()
    train, unseen = frame[frame.campaign != "c"].reset_index(drop=True), frame[frame.campaign == "c"]
    feats = ["signal", "shortcut", "topic"]
    p, ev = TrainGbmParams(n_estimators=80), EvaluateParams()
    res = train_gbm(train, feats, p, ev)
    assert res.calibrated_on["fit"] == "out-of-fold"
    cross_res, cross = cross_campaign_calibration(res, train, p, ev)
    assert cross_res.calibrated_on["fit"] == "leave-one-campaign-out"
    assert cross_res.calibrated_on["campaigns"] == ["a", "b"]
    # Each campaign's cross score comes from a model trained on the other campaign alone.
    import lightgbm as lgb
    from sklearn.utils.class_weight import compute_sample_weight

    b = train[train.campaign == "b"]
    yb = (b.label == "state_linked").to_numpy().astype(int)
    only_b = lgb.train(lgb_params(p), lgb.Dataset(b[feats].to_numpy(float), yb, weight=compute_sample_weight("balanced", yb),
                                                  feature_name=feats), num_boost_round=res.booster.num_trees())
    a_rows = cross[cross.campaign == "a"]
    np.testing.assert_allclose(a_rows["raw_score"], only_b.predict(train.loc[train.campaign == "a", feats].to_numpy(float)))
    # The threshold is chosen on the cross-campaign scores.
    y = (cross.label == "state_linked").to_numpy().astype(int)
    assert cross_res.threshold == pytest.approx(threshold_for_precision(y, cross["score"].to_numpy(), ev.target_precision,
                                                                        cross["campaign"].to_numpy()))
    # The record gives the label's precision in each campaign left out (here the shortcut
    # flips between campaigns, no score reaches the target in both, and the pooled rule stands).
    by = cross_res.calibrated_on["precision_at_threshold_by_campaign"]
    assert set(by) == {"a", "b"} and all(0 < v < ev.target_precision for v in by.values())
    # On the campaign neither fit saw, the cross-campaign probability is the better calibrated one.
    raw = res.booster.predict(unseen[feats].to_numpy(float))
    yu = (unseen.label == "state_linked").to_numpy().astype(int)
    ece_in = expected_calibration_error(yu, apply_platt(raw, *res.calibration))
    ece_cross = expected_calibration_error(yu, apply_platt(raw, *cross_res.calibration))
    assert ece_cross < ece_in - 0.05
    # The record says what the probability means.
    rec = cross_res.calibrated_on
    assert rec["prevalence"] == pytest.approx(y.mean(), abs=1e-6) and 0 < rec["precision_at_low_prevalence"] < 1


def test_one_training_campaign_keeps_the_out_of_fold_calibration():
    frame = _campaigns()
    train = frame[frame.campaign == "a"].reset_index(drop=True)
    p, ev = TrainGbmParams(n_estimators=40), EvaluateParams()
    res = train_gbm(train, ["signal", "shortcut"], p, ev)
    same, cross = cross_campaign_calibration(res, train, p, ev)
    assert cross is None and same is res and same.calibrated_on["fit"] == "out-of-fold"


def test_stacker_threshold_comes_from_predictions_across_campaigns():
    rng = np.random.default_rng(3)
    n = 400
    y = rng.integers(0, 2, n)
    gbm = np.clip(0.5 + 0.35 * (2 * y - 1) + rng.normal(0, 0.2, n), 0.01, 0.99)
    enc = np.clip(0.5 + 0.2 * (2 * y - 1) + rng.normal(0, 0.2, n), 0.01, 0.99)
    campaigns = np.where(np.arange(n) < n // 2, "a", "b")
    meta, cv = fit_stacker(y, gbm, enc, 0.9, campaigns=campaigns)
    assert meta["cv"] == "leave-one-campaign-out"
    # A campaign's stacked scores come from a stacker fitted on the other campaign only.
    from sklearn.linear_model import LogisticRegression

    from pipeline.models.ensemble import member_matrix

    X = member_matrix(gbm, enc)
    other = LogisticRegression(C=1.0, max_iter=1000).fit(X[campaigns == "b"], y[campaigns == "b"])
    np.testing.assert_allclose(cv[campaigns == "a"], other.predict_proba(X[campaigns == "a"])[:, 1])
    meta2, _ = fit_stacker(y, gbm, enc, 0.9)
    assert meta2["cv"] == "stratified 5-fold"


# ------------------------------------------------------------------ drift


def _features(rng, n, shift=0.0):
    return pd.DataFrame({f"f{i}": rng.normal(shift, 1.0, n) for i in range(8)} | {"count": rng.poisson(3, n).astype(float)})


def test_psi_is_zero_for_the_same_shares_and_grows_with_the_shift():
    assert drift.psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    ref = drift.reference(_features(rng, 4000), ["f0"])
    e = ref["features"]["f0"]
    assert len(e["edges"]) == 9 and sum(e["shares"]) == pytest.approx(1.0) and e["shares"][-1] == 0.0
    small, big = (drift.psi(e["shares"], drift.bin_shares(rng.normal(s, 1, 4000), e["edges"])) for s in (0.2, 1.5))
    assert small < 0.1 < 0.25 < big


def test_drift_check_is_silent_on_the_same_world_and_names_what_moved_in_another():
    rng = np.random.default_rng(1)
    train = _features(rng, 3000)
    feats = list(train.columns)
    ref = drift.reference(train, feats)
    same = drift.check(ref, _features(rng, 500), 0.25, 0.25, 100)
    assert same.checked and not same.out_of_distribution and same.warning is None
    moved = _features(rng, 500)
    for f in ("f0", "f1", "f2"):
        moved[f] = moved[f] + 2.0
    moved.loc[:250, "count"] = np.nan  # missing values are a bin of their own
    other = drift.check(ref, moved, 0.25, 0.25, 100)
    assert other.out_of_distribution and other.major == 4 and other.features == len(feats)
    assert {f for f, _ in other.most_drifted[:4]} == {"f0", "f1", "f2", "count"}
    assert "probabilities are not calibrated for this dump" in other.warning and "f0" in other.warning
    # Too few accounts to judge, or no reference: not checked, and no warning.
    few = drift.check(ref, moved.head(50), 0.25, 0.25, 100)
    assert not few.checked and few.warning is None and "too few" in few.reason
    assert not drift.check(None, moved, 0.25, 0.25, 100).checked


def test_scoring_writes_what_the_probability_means_beside_the_scores(trained_model, tmp_path):
    import json

    from pipeline.config import DriftParams
    from pipeline.score import load_model, meta_path, score_dump

    model = load_model(str(trained_model["model"]))
    out = tmp_path / "scores.parquet"
    rep = score_dump([str(trained_model["raw"] / "covid_2020")], model, out, progress=False,
                     drift=DriftParams(min_accounts=1000))
    meta = json.loads(meta_path(out).read_text())
    assert meta["accounts"] == rep.accounts and meta["threshold"] == pytest.approx(model.bundle.threshold)
    cal = meta["calibration"]
    assert cal["fit"] == "leave-one-campaign-out" and cal["campaigns"] == ["hk_2019", "xinjiang_2021"]
    assert "calibrated on leave-one-campaign-out predictions" in cal["meaning"] and "1%" in cal["meaning"]
    # Fewer accounts than min_accounts: the check says so instead of guessing.
    assert meta["drift"]["checked"] is False and "too few" in meta["drift"]["reason"]
    assert "drift not checked" in rep.summary(with_encoder=False)
