"""Stacking: LightGBM and the encoder, combined by a small logistic model fitted out of fold.

Inputs are held-out scores of both members on the training campaigns: LightGBM's across
campaigns (each campaign scored by a model of the other campaigns: `gbm.cross_campaign_calibration`),
the encoder's out of fold; so the stacker never sees a member score made by a model that
trained on that account. Its output is a calibrated probability (logistic regression on
member logits is Platt scaling in two dimensions), and its operating threshold comes from
its own predictions across campaigns: fitted on one training campaign, scoring another.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneGroupOut, StratifiedKFold, cross_val_predict

from pipeline.config import EnsembleParams, EvaluateParams
from pipeline.metrics import calibration_record, clipped_logit, threshold_for_precision

MEMBERS = ("gbm", "encoder")


def member_matrix(gbm: np.ndarray, encoder: np.ndarray) -> np.ndarray:
    return np.column_stack([clipped_logit(gbm), clipped_logit(encoder)])


def fit_stacker(y: np.ndarray, gbm: np.ndarray, encoder: np.ndarray, target_precision: float, c: float = 1.0,
                seed: int = 0, campaigns: np.ndarray | None = None, threshold_per_campaign: bool = True,
                ) -> tuple[dict, np.ndarray]:
    """Returns the stacker as JSON-able numbers and its cross-validated scores on the inputs:
    leave one campaign out where `campaigns` holds two or more that each hold both classes,
    else stratified 5-fold. The threshold reaches `target_precision` in every campaign when
    `threshold_per_campaign` (metrics.threshold_for_precision)."""
    X = member_matrix(gbm, encoder)
    y = np.asarray(y).astype(int)
    lr = LogisticRegression(C=c, max_iter=1000)
    by_campaign = campaigns is not None and _both_classes_per_group(y, np.asarray(campaigns)) >= 2
    folds = (LeaveOneGroupOut().split(X, y, campaigns) if by_campaign
             else StratifiedKFold(n_splits=5, shuffle=True, random_state=seed).split(X, y))
    cv = cross_val_predict(lr, X, y, cv=list(folds), method="predict_proba")[:, 1]
    lr.fit(X, y)
    meta = {
        "members": list(MEMBERS),
        "coef": [float(v) for v in lr.coef_[0]],
        "intercept": float(lr.intercept_[0]),
        "threshold": threshold_for_precision(y, cv, target_precision,
                                             campaigns if campaigns is not None and threshold_per_campaign else None),
        "cv": "leave-one-campaign-out" if by_campaign else "stratified 5-fold",
    }
    return meta, cv


def _both_classes_per_group(y: np.ndarray, groups: np.ndarray) -> int:
    """How many groups hold both classes (a group left out must be scorable and leave both behind)."""
    return sum(len(set(y[groups == g])) == 2 for g in np.unique(groups))


def apply_stacker(meta: dict, gbm: np.ndarray, encoder: np.ndarray) -> np.ndarray:
    """Stacked probability; where the encoder did not score an account (NaN), the calibrated
    LightGBM score stands alone (the scoring cascade relies on this)."""
    gbm = np.asarray(gbm, dtype=float)
    encoder = np.asarray(encoder, dtype=float)
    z = meta["intercept"] + member_matrix(gbm, np.nan_to_num(encoder, nan=0.5)) @ np.asarray(meta["coef"])
    stacked = expit(z)
    return np.where(np.isnan(encoder), gbm, stacked)


def join_members(gbm: pd.DataFrame, encoder: pd.DataFrame) -> pd.DataFrame:
    """userid, campaign, label, gbm, encoder — accounts both members scored."""
    g = gbm[["userid", "campaign", "label", "score"]].rename(columns={"score": "gbm"})
    e = encoder[["userid", "score"]].rename(columns={"score": "encoder"})
    both = g.merge(e, on="userid", how="inner", validate="one_to_one")
    return both[both["gbm"].notna() & both["encoder"].notna()].reset_index(drop=True)


def stack(members: pd.DataFrame, encoder_scores: pd.DataFrame, p: EnsembleParams, ev: EvaluateParams) -> tuple[dict, np.ndarray]:
    """The stacker's meta (weights, threshold, what its probability means, the encoder's own
    threshold for the reasons) from `join_members` rows of held-out member scores, and its
    predictions across campaigns. `encoder_scores`: every held-out encoder score (userid, label, score)."""
    y = (members["label"] == "state_linked").to_numpy().astype(int)
    campaigns = members["campaign"].to_numpy()
    meta, cv = fit_stacker(y, members["gbm"].to_numpy(), members["encoder"].to_numpy(), ev.target_precision,
                           p.c, p.seed, campaigns, ev.threshold_per_campaign)
    meta["calibrated_on"] = calibration_record(
        y, cv, meta["threshold"], ev.low_prevalence,
        "leave-one-campaign-out" if meta["cv"] == "leave-one-campaign-out" else "out-of-fold",
        sorted(members["campaign"].unique()), campaigns)
    enc = encoder_scores.dropna(subset=["score"])
    enc_groups = enc["campaign"].to_numpy() if ev.threshold_per_campaign and "campaign" in enc else None
    meta["encoder_threshold"] = threshold_for_precision(
        (enc["label"] == "state_linked").to_numpy().astype(int), enc["score"].to_numpy(), ev.target_precision, enc_groups)
    return meta, cv

