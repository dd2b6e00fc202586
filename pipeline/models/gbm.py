"""LightGBM on the account feature table: grouped out-of-fold training, then one final model.

The model is saved in LightGBM's own text format (no pickles), with the feature list and the
operating threshold beside it in JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.utils.class_weight import compute_sample_weight

from pipeline.config import EvaluateParams, TextNgramParams, TrainGbmParams
from pipeline.io import atomic_path, write_json
from pipeline.metrics import apply_platt, calibration_record, fit_platt, threshold_for_precision


@dataclass
class GbmResult:
    booster: lgb.Booster
    features: list[str]
    oof: pd.DataFrame  # userid, campaign, label, fold, raw_score, score (calibrated)
    best_iterations: list[int]
    threshold: float  # on the calibrated score
    calibration: tuple[float, float]  # Platt slope, intercept
    calibrated_on: dict = field(default_factory=dict)  # calibration_record: what the probability means


def lgb_params(p: TrainGbmParams) -> dict:
    return {
        "objective": "binary",
        "learning_rate": p.learning_rate,
        "num_leaves": p.num_leaves,
        "min_child_samples": p.min_child_samples,
        "feature_fraction": p.feature_fraction,
        "bagging_fraction": p.bagging_fraction,
        "bagging_freq": 1,
        "lambda_l2": p.lambda_l2,
        "seed": p.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 2,
        "verbosity": -1,
    }


def train_gbm(
    frame: pd.DataFrame, features: list[str], p: TrainGbmParams, ev: EvaluateParams
) -> GbmResult:
    """`frame` holds the training accounts with `fold`, `label` and the feature columns."""
    y = (frame["label"] == "state_linked").astype(int).to_numpy()
    X = frame[features].to_numpy(dtype=np.float64)
    params = lgb_params(p)
    oof = np.full(len(frame), np.nan)
    best: list[int] = []
    for k in sorted(frame["fold"].unique()):
        tr, va = frame["fold"].to_numpy() != k, frame["fold"].to_numpy() == k
        dtr = lgb.Dataset(X[tr], y[tr], weight=compute_sample_weight("balanced", y[tr]), feature_name=features, free_raw_data=False)
        dva = lgb.Dataset(X[va], y[va], weight=compute_sample_weight("balanced", y[va]), reference=dtr)
        booster = lgb.train(
            params, dtr, num_boost_round=p.n_estimators, valid_sets=[dva],
            callbacks=[lgb.early_stopping(p.early_stopping_rounds, verbose=False)],
        )
        best.append(booster.best_iteration or p.n_estimators)
        oof[va] = booster.predict(X[va], num_iteration=booster.best_iteration)
    n_rounds = max(1, int(round(float(np.mean(best)))))
    final = lgb.train(
        params, lgb.Dataset(X, y, weight=compute_sample_weight("balanced", y), feature_name=features), num_boost_round=n_rounds
    )
    platt = fit_platt(y, oof)
    calibrated = apply_platt(oof, *platt)
    oof_frame = frame[["userid", "campaign", "label", "fold"]].copy()
    oof_frame["raw_score"] = oof
    oof_frame["score"] = calibrated
    groups = frame["campaign"].to_numpy() if ev.threshold_per_campaign else None
    threshold = threshold_for_precision(y, calibrated, ev.target_precision, groups)
    record = calibration_record(y, calibrated, threshold, ev.low_prevalence, "out-of-fold", sorted(frame["campaign"].unique()),
                                frame["campaign"].to_numpy())
    return GbmResult(final, features, oof_frame, best, threshold, platt, record)


def inner_folds(frame: pd.DataFrame) -> np.ndarray:
    """The split's fold, and for accounts without one (held-out rows) a stable fold from their group."""
    import zlib

    n = max(2, int(frame["fold"].max()) + 1)
    by_group = np.array([zlib.crc32(str(g).encode()) % n for g in frame["group"]])
    return np.where(frame["fold"].to_numpy() >= 0, frame["fold"].to_numpy(), by_group)


def loco_raw(frame: pd.DataFrame, features: list[str], p: TrainGbmParams, n_rounds: int,
             text: TextNgramParams | None = None) -> pd.DataFrame:
    """Leave-one-campaign-out: each campaign of `frame` scored by a model trained on all the
    others (userid, campaign, label, raw_score: the uncalibrated LightGBM score).

    Rounds are fixed to the main model's, so no campaign's own labels tune the model that
    scores it. With `text`, the n-gram score is refitted without the campaign too, and the
    others' scores are made as the main model's are (`text_ngram.training_scores`: across
    campaigns where two or more remain, else out of fold), so the campaign's own vocabulary
    never reaches the model that scores it. A campaign is skipped where the others do not
    hold both classes.
    """
    from pipeline.models import text_ngram

    rows = []
    y = (frame["label"] == "state_linked").astype(int).to_numpy()
    campaigns = frame["campaign"].to_numpy()
    folds = inner_folds(frame) if text is not None else None
    docs = frame["doc"].to_numpy(dtype=object) if text is not None else None
    counts = text_ngram.counts(docs, text) if text is not None else None
    base = frame.drop(columns=[text_ngram.FEATURE], errors="ignore") if text is not None else frame
    for campaign in sorted(set(campaigns)):
        tr, te = campaigns != campaign, campaigns == campaign
        if len(set(y[tr])) < 2:
            continue
        f = base
        if text is not None:
            col = np.full(len(frame), np.nan)
            col[tr], _ = text_ngram.training_scores(docs[tr], y[tr], campaigns[tr], folds[tr], text, c=counts[tr])
            model = text_ngram.fit_ngram(docs[tr], y[tr], text, c=counts[tr])
            col[te] = model.score_counts(counts[te], np.array([bool(d) for d in docs[te]]))
            f = base.assign(**{text_ngram.FEATURE: col})
        X = f[features].to_numpy(dtype=np.float64)
        booster = lgb.train(lgb_params(p), lgb.Dataset(X[tr], y[tr], weight=compute_sample_weight("balanced", y[tr]), feature_name=features),
                            num_boost_round=n_rounds)
        part = frame.loc[te, ["userid", "campaign", "label"]].copy()
        part["raw_score"] = booster.predict(X[te])
        rows.append(part)
    return (pd.concat(rows, ignore_index=True) if rows
            else pd.DataFrame(columns=["userid", "campaign", "label", "raw_score"]))


def train_loco(frame: pd.DataFrame, features: list[str], p: TrainGbmParams, n_rounds: int,
               calibration: tuple[float, float], text: TextNgramParams | None = None) -> pd.DataFrame:
    """`loco_raw` over every labelled campaign (train and held-out), calibrated as the model is:
    the evaluate stage's leave-one-campaign-out figures."""
    out = loco_raw(frame, features, p, n_rounds, text)
    out["score"] = apply_platt(out["raw_score"].to_numpy(dtype=float), *calibration)
    return out.drop(columns=["raw_score"])


def cross_campaign_calibration(result: GbmResult, train: pd.DataFrame, p: TrainGbmParams, ev: EvaluateParams,
                               text: TextNgramParams | None = None) -> tuple[GbmResult, pd.DataFrame | None]:
    """Calibrate and choose the operating point on predictions *across* training campaigns.

    In-distribution folds share a campaign's topics, clients and clock with the accounts
    they score, so a probability fitted on them is too sure off-sample. Here each training
    campaign is scored by a model trained on the other training campaigns only (the held-out
    campaigns stay unseen), and the Platt map and the threshold are fitted on those scores:
    the probability then says what it means for a campaign the model never saw. With fewer
    than two training campaigns that hold both classes there is nothing to leave out, and
    the out-of-fold calibration stands (`result.calibrated_on` says which).

    Returns the recalibrated result (its OOF scores recalibrated too) and the cross-campaign
    predictions (userid, campaign, label, raw_score, score), or None where none were made.
    """
    cross = loco_raw(train, result.features, p, result.booster.num_trees(), text)
    if cross["campaign"].nunique() < 2:
        return result, None
    y = (cross["label"] == "state_linked").to_numpy().astype(int)
    platt = fit_platt(y, cross["raw_score"].to_numpy(dtype=float))
    cross["score"] = apply_platt(cross["raw_score"].to_numpy(dtype=float), *platt)
    campaigns = cross["campaign"].to_numpy()
    threshold = threshold_for_precision(y, cross["score"].to_numpy(), ev.target_precision,
                                        campaigns if ev.threshold_per_campaign else None)
    oof = result.oof.copy()
    oof["score"] = apply_platt(oof["raw_score"].to_numpy(dtype=float), *platt)
    return replace(result, oof=oof, threshold=threshold, calibration=platt,
                   calibrated_on=calibration_record(y, cross["score"].to_numpy(), threshold, ev.low_prevalence,
                                                    "leave-one-campaign-out", sorted(cross["campaign"].unique()),
                                                    campaigns)), cross


def save_gbm(result: GbmResult, out_dir: Path, params: TrainGbmParams, ngram=None,
             ngram_training: str | None = None) -> None:
    """The model folder. `ngram_training`: how the n-gram scores LightGBM trained on were made
    (`text_ngram.training_scores`), recorded in meta.json beside the n-gram model."""
    from pipeline.models import text_ngram

    out_dir.mkdir(parents=True, exist_ok=True)
    if ngram is not None:
        ngram.save(out_dir / text_ngram.FILE)
    else:
        (out_dir / text_ngram.FILE).unlink(missing_ok=True)
    with atomic_path(out_dir / "model.txt") as tmp:
        result.booster.save_model(str(tmp))
    write_json(out_dir / "meta.json", {
        "features": result.features,
        "threshold": result.threshold,
        "calibration": {"method": "platt", "slope": result.calibration[0], "intercept": result.calibration[1],
                        **result.calibrated_on},
        "best_iterations": result.best_iterations,
        "num_trees": result.booster.num_trees(),
        **({"text_ngram_training_scores": ngram_training} if ngram is not None and ngram_training else {}),
        "params": params.model_dump(),
    })
    with atomic_path(out_dir / "oof.parquet") as tmp:
        pq.write_table(pa.Table.from_pandas(result.oof, preserve_index=False), tmp)


def load_gbm(model_dir: Path) -> tuple[lgb.Booster, dict]:
    import json

    meta = json.loads((model_dir / "meta.json").read_text(encoding="utf-8"))
    return lgb.Booster(model_file=str(model_dir / "model.txt")), meta
