"""The `train_gbm` stage: LightGBM with grouped out-of-fold scores, calibration and leave-one-campaign-out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Params
from pipeline.features.columns import feature_columns, model_features
from pipeline.io import atomic_path
from pipeline.models import text_ngram
from pipeline.models.gbm import save_gbm, train_gbm, train_loco
from pipeline.split import labelled


@dataclass(frozen=True)
class Paths:
    features: Path  # data/features/features.parquet
    split: Path  # data/split.parquet
    out: Path  # models/gbm: model.txt, meta.json, oof.parquet, loco.parquet (+ the n-gram arrays)


def run(params: Params, paths: Paths) -> str:
    frame = labelled(paths.features, paths.split)
    train = frame[frame["role"] == "train"].reset_index(drop=True)
    features = model_features(feature_columns(list(frame.columns.drop(["role", "fold", "group"]))),
                              params.train_gbm.exclude_features)
    tp = params.train_gbm.text_ngram
    ngram = None
    if tp.enabled:
        y = (train["label"] == "state_linked").to_numpy().astype(int)
        c = text_ngram.counts(train["doc"], tp)
        train[text_ngram.FEATURE] = text_ngram.oof_scores(train["doc"], y, train["fold"].to_numpy(), tp, c=c)
        ngram = text_ngram.fit_ngram(train["doc"], y, tp, c=c)
        features = [*features, text_ngram.FEATURE]
    result = train_gbm(train, features, params.train_gbm, params.evaluate)
    save_gbm(result, paths.out, params.train_gbm, ngram)
    loco = train_loco(frame, features, params.train_gbm, result.booster.num_trees(), result.calibration,
                      tp if tp.enabled else None)
    with atomic_path(paths.out / "loco.parquet") as tmp:
        loco.to_parquet(tmp, index=False)
    return f"trained LightGBM on {len(train)} accounts, {len(features)} features, {result.booster.num_trees()} trees"
