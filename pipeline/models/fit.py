"""One LightGBM model folder from a labelled frame: what `train_gbm` fits on the training
campaigns and `refit` fits again on every labelled campaign, written once for both.

The folder (see pipeline/stages/train_gbm.py) holds the main model with its n-gram text score,
its calibration across campaigns and the predictions it was fitted on (cross.parquet), the
drift reference of its training features, and the profile-only member in `profile/`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline import drift
from pipeline.config import Params
from pipeline.features.columns import PROFILE_FEATURES, feature_columns, model_features
from pipeline.io import atomic_path, write_json
from pipeline.models import text_ngram
from pipeline.models.gbm import GbmResult, cross_campaign_calibration, save_gbm, train_gbm
from pipeline.scoring import PROFILE_DIR


@dataclass
class FittedFolder:
    main: GbmResult
    profile: GbmResult | None  # None where no profile feature is left to fit on
    features: list[str]  # the main model's, the n-gram score included where enabled


def model_feature_list(frame: pd.DataFrame, params: Params) -> list[str]:
    """The feature table's columns a model reads (params.train_gbm.exclude_features left out)."""
    return model_features(feature_columns([c for c in frame.columns if c not in ("role", "fold", "group")]),
                          params.train_gbm.exclude_features)


def fit_gbm_folder(frame: pd.DataFrame, params: Params, out: Path) -> FittedFolder:
    """Fit on `frame` (labelled accounts with a grouped `fold` each) and write the folder `out`."""
    frame = frame.reset_index(drop=True).copy()
    features = model_feature_list(frame, params)
    tp = params.train_gbm.text_ngram
    ngram, ngram_fit = None, None
    if tp.enabled:
        y = (frame["label"] == "state_linked").to_numpy().astype(int)
        c = text_ngram.counts(frame["doc"], tp)
        frame[text_ngram.FEATURE], ngram_fit = text_ngram.training_scores(
            frame["doc"], y, frame["campaign"].to_numpy(), frame["fold"].to_numpy(), tp, c=c)
        ngram = text_ngram.fit_ngram(frame["doc"], y, tp, c=c)
        features = [*features, text_ngram.FEATURE]
    result = train_gbm(frame, features, params.train_gbm, params.evaluate)
    result, cross = cross_campaign_calibration(result, frame, params.train_gbm, params.evaluate,
                                               tp if tp.enabled else None)
    save_gbm(result, out, params.train_gbm, ngram, ngram_fit)
    with atomic_path(out / "cross.parquet") as tmp:
        (cross if cross is not None else result.oof.drop(columns=["fold"])).to_parquet(tmp, index=False)
    # The n-gram score is the model's own output on a document, not a property of the dump.
    write_json(out / drift.REFERENCE_FILE, drift.reference(frame, [f for f in features if f != text_ngram.FEATURE]))
    profile = fit_profile_member(frame, features, params, out / PROFILE_DIR)
    return FittedFolder(result, profile, features)


def fit_profile_member(frame: pd.DataFrame, features: list[str], params: Params, out: Path) -> GbmResult | None:
    """The member for accounts without tweets: the same accounts, profile and creation-batch
    features only (those of the main model's features that an account has without posting),
    calibrated across campaigns like the main model. Saved to `out`. None where
    `exclude_features` leaves no profile feature: there is nothing to fit, and the main model
    scores accounts without tweets (`GbmScorer` does without a member)."""
    cols = [f for f in PROFILE_FEATURES if f in features]
    if not cols:
        shutil.rmtree(out, ignore_errors=True)  # a member from an earlier fit would not match this one
        return None
    result = train_gbm(frame, cols, params.train_gbm, params.evaluate)
    result, _ = cross_campaign_calibration(result, frame, params.train_gbm, params.evaluate)
    save_gbm(result, out, params.train_gbm)
    return result
