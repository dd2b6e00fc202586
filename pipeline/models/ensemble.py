"""Stacking: LightGBM and the encoder, combined by a small logistic model fitted out of fold.

Inputs are out-of-fold scores of both members on the training campaigns, so the stacker
never sees a member score made by a model that trained on that account. The stacker's own
operating threshold comes from its cross-validated predictions. Its output is a calibrated
probability (logistic regression on member logits is Platt scaling in two dimensions).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from pipeline.metrics import clipped_logit, threshold_for_precision

MEMBERS = ("gbm", "encoder")


def member_matrix(gbm: np.ndarray, encoder: np.ndarray) -> np.ndarray:
    return np.column_stack([clipped_logit(gbm), clipped_logit(encoder)])


def fit_stacker(y: np.ndarray, gbm: np.ndarray, encoder: np.ndarray, target_precision: float, c: float = 1.0,
                seed: int = 0) -> tuple[dict, np.ndarray]:
    """Returns the stacker as JSON-able numbers and its cross-validated scores on the inputs."""
    X = member_matrix(gbm, encoder)
    y = np.asarray(y).astype(int)
    lr = LogisticRegression(C=c, max_iter=1000)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    cv = cross_val_predict(lr, X, y, cv=folds, method="predict_proba")[:, 1]
    lr.fit(X, y)
    meta = {
        "members": list(MEMBERS),
        "coef": [float(v) for v in lr.coef_[0]],
        "intercept": float(lr.intercept_[0]),
        "threshold": threshold_for_precision(y, cv, target_precision),
    }
    return meta, cv


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
