"""Metric functions: pure, numpy in, floats out."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit, logit
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)


def threshold_for_precision(y: np.ndarray, score: np.ndarray, target: float, groups: np.ndarray | None = None) -> float:
    """Lowest threshold whose precision reaches `target`; the max-F1 threshold if none does.

    With `groups` (each row's campaign), the lowest score at which the pool and *every* group
    that holds both classes flag accounts at that precision. A pooled threshold can meet the
    target on average while missing it on the campaigns least like the rest: the label's
    precision is a promise about a campaign nobody has seen, so it is kept on each one left
    out. Where no score does that (the profile-only member reaches 0.9 on one campaign only at
    its very top), the pooled rule stands, and the calibration record's per-campaign
    precision shows the shortfall."""
    y, score = np.asarray(y).astype(int), np.asarray(score, dtype=float)
    if groups is not None:
        groups = np.asarray(groups)
        scorable = [g for g in np.unique(groups) if len(set(y[groups == g])) == 2]
        if scorable:
            candidates = np.unique(score)
            ok = np.ones(len(candidates), dtype=bool)
            # The pool too: a campaign of one class has no precision of its own, but its flagged controls count.
            for rows in [np.ones(len(y), dtype=bool)] + [groups == g for g in scorable]:
                s_g = np.sort(score[rows])
                pos = np.sort(score[rows & (y == 1)])
                flagged = len(s_g) - np.searchsorted(s_g, candidates, side="left")
                hits = len(pos) - np.searchsorted(pos, candidates, side="left")
                # hits / flagged >= target, with a margin so 7 / 10 meets 0.7 as in precision_recall_curve. A
                # campaign where nothing is flagged has shown nothing, so it does not pass.
                ok &= (flagged > 0) & (hits >= target * flagged - 1e-9)
            if ok.any():
                return float(candidates[np.argmax(ok)])
    return _pooled_threshold(y, score, target)


def _pooled_threshold(y: np.ndarray, score: np.ndarray, target: float) -> float:
    if y.min() == y.max():
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y, score)
    ok = np.where(precision[:-1] >= target)[0]
    if len(ok):
        return float(thresholds[ok[0]])
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return float(thresholds[int(np.argmax(f1))])


def precision_at_prevalence(y: np.ndarray, pred: np.ndarray, prevalence: float) -> float:
    """Precision if positives were `prevalence` of the population (controls reweighted)."""
    y, pred = np.asarray(y).astype(bool), np.asarray(pred).astype(bool)
    tpr = (pred & y).sum() / max(y.sum(), 1)
    fpr = (pred & ~y).sum() / max((~y).sum(), 1)
    denom = tpr * prevalence + fpr * (1 - prevalence)
    return float(tpr * prevalence / denom) if denom > 0 else float("nan")


def recall_at_fpr(y: np.ndarray, score: np.ndarray, fpr_budget: float) -> float:
    fpr, tpr, _ = roc_curve(y, score)
    ok = fpr <= fpr_budget
    return float(tpr[ok].max()) if ok.any() else 0.0


def binary_metrics(y: np.ndarray, score: np.ndarray, threshold: float, low_prevalence: float, fpr_budget: float) -> dict[str, float]:
    """Every headline metric for one set of labelled scores; NaN where a class is missing."""
    y = np.asarray(y).astype(int)
    score = np.asarray(score, dtype=float)
    pred = score >= threshold
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    both = 0 < y.sum() < len(y)
    out = {
        "n_accounts": float(len(y)),
        "n_state_linked": float(y.sum()),
        "roc_auc": float(roc_auc_score(y, score)) if both else math.nan,
        "pr_auc": float(average_precision_score(y, score)) if both else math.nan,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "precision_at_1pct_prevalence": precision_at_prevalence(y, pred, low_prevalence) if both else math.nan,
        "recall_at_1pct_fpr": recall_at_fpr(y, score, fpr_budget) if both else math.nan,
        "brier": float(brier_score_loss(y, np.clip(score, 0, 1))) if len(y) else math.nan,
        "ece": expected_calibration_error(y, score) if len(y) else math.nan,
        # What a reviewer acting on the label does to real people: organic accounts flagged.
        "organic_flagged_share": fp / int((y == 0).sum()) if (y == 0).any() else math.nan,
    }
    return out


ECE_BINS = 10


def expected_calibration_error(y: np.ndarray, score: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error: over `bins` equal-width score bins, the gap between the
    mean score and the share of state-linked accounts, weighted by the bin's accounts
    (Guo et al. 2017; the reliability diagram's summary)."""
    y, score = np.asarray(y, dtype=float), np.clip(np.asarray(score, dtype=float), 0.0, 1.0)
    if not len(y):
        return math.nan
    idx = np.minimum((score * bins).astype(int), bins - 1)
    n = np.bincount(idx, minlength=bins)
    gap = np.abs(np.bincount(idx, weights=y, minlength=bins) - np.bincount(idx, weights=score, minlength=bins))
    return float(gap.sum() / n.sum())


def clipped_logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities clipped to [1e-6, 1 - 1e-6], so a 0 or 1 stays finite."""
    return logit(np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6))


def fit_platt(y: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """Platt scaling on the logit of out-of-fold scores: returns (slope, intercept).

    Fitted out of fold, so the calibrated scores are honest probabilities for accounts like
    the training ones. Two numbers, stored as JSON beside the model.
    """
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y).astype(int)
    if y.min() == y.max():
        return 1.0, 0.0
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(clipped_logit(score).reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def apply_platt(score: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    return expit(slope * clipped_logit(score) + intercept)


def roc_auc_or_none(y: np.ndarray, score: np.ndarray) -> float | None:
    """ROC-AUC, or None where `y` does not hold exactly two classes (JSON records keep a null)."""
    y = np.asarray(y)
    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else None


def calibration_record(y: np.ndarray, score: np.ndarray, threshold: float, low_prevalence: float, fit: str,
                       campaigns: list[str], groups: np.ndarray | None = None) -> dict:
    """What a calibrated score means, stored beside the model and copied into every output:
    the predictions it was fitted on, the prevalence it is calibrated to, and what the
    label is worth there and at `low_prevalence` (a foreign dump's base rate is unknown).
    With `groups` (each row's campaign), also the label's precision in each campaign."""
    y = np.asarray(y).astype(int)
    pred = np.asarray(score) >= threshold
    tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
    record = {
        "fit": fit,
        "campaigns": [str(c) for c in campaigns],
        "accounts": int(len(y)),
        "prevalence": round(float(y.mean()), 6) if len(y) else None,
        "precision_at_threshold": round(tp / (tp + fp), 6) if tp + fp else None,
        "recall_at_threshold": round(tp / max(int(y.sum()), 1), 6),
        "low_prevalence": low_prevalence,
        "precision_at_low_prevalence": round(precision_at_prevalence(y, pred, low_prevalence), 6),
    }
    if groups is not None:
        groups = np.asarray(groups)
        by = {}
        for g in np.unique(groups):
            flagged = pred[groups == g]
            if flagged.any():
                by[str(g)] = round(float(y[groups == g][flagged].mean()), 6)
        record["precision_at_threshold_by_campaign"] = by
    return record


def paired_bootstrap_pr_auc(y: np.ndarray, a: np.ndarray, b: np.ndarray, n: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of PR-AUC(a) - PR-AUC(b) over `n` resamples of the same rows
    (paired: both scores of a row move together); resamples holding one class are skipped."""
    y = np.asarray(y).astype(int)
    a, b = np.asarray(a, float), np.asarray(b, float)
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        if y[i].min() == y[i].max():
            continue
        diffs.append(average_precision_score(y[i], a[i]) - average_precision_score(y[i], b[i]))
    if not diffs:
        return math.nan, math.nan
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return float(lo), float(hi)
