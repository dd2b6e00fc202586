"""The `train_gbm` stage: LightGBM with grouped out-of-fold scores, calibration across
training campaigns, leave-one-campaign-out scores and the drift reference."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Params
from pipeline.io import atomic_path
from pipeline.models.fit import fit_gbm_folder
from pipeline.models.gbm import train_loco
from pipeline.split import labelled


@dataclass(frozen=True)
class Paths:
    features: Path  # data/features/features.parquet
    split: Path  # data/split.parquet
    # models/gbm: model.txt, meta.json, oof.parquet, cross.parquet (training campaigns, each
    # scored by a model of the others: the calibration's data), loco.parquet, reference.json
    # (the training features' deciles: pipeline/drift.py), the n-gram arrays, and profile/:
    # the profile-only member, a model folder of its own.
    out: Path


def run(params: Params, paths: Paths) -> str:
    frame = labelled(paths.features, paths.split)
    train = frame[frame["role"] == "train"].reset_index(drop=True)
    fitted = fit_gbm_folder(train, params, paths.out)
    result, tp = fitted.main, params.train_gbm.text_ngram
    loco = train_loco(frame, fitted.features, params.train_gbm, result.booster.num_trees(), result.calibration,
                      tp if tp.enabled else None)
    with atomic_path(paths.out / "loco.parquet") as tmp:
        loco.to_parquet(tmp, index=False)
    cal = result.calibrated_on
    return (f"trained LightGBM on {len(train)} accounts, {len(fitted.features)} features, {result.booster.num_trees()} trees; "
            f"calibrated {cal['fit']} over {', '.join(cal['campaigns'])} (threshold {result.threshold:.3f}); "
            + (f"profile-only member on {len(fitted.profile.features)} features (threshold {fitted.profile.threshold:.3f})"
               if fitted.profile is not None else "no profile-only member (no profile feature left by exclude_features)"))
