"""The `ensemble` stage: stack LightGBM and the encoder on out-of-fold scores; score the held-out accounts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.config import Params
from pipeline.io import atomic_path, write_json
from pipeline.metrics import threshold_for_precision
from pipeline.models.ensemble import apply_stacker, fit_stacker, join_members
from pipeline.scoring import GbmScorer
from pipeline.split import labelled


@dataclass(frozen=True)
class Paths:
    features: Path
    split: Path
    gbm: Path  # models/gbm
    encoder: Path  # models/encoder/classifier
    out: Path  # models/ensemble: meta.json, oof.parquet, holdout.parquet


def run(params: Params, paths: Paths) -> str:
    frame = labelled(paths.features, paths.split)
    test = frame[frame["role"] == "test"].copy()
    test["score"] = GbmScorer.load(paths.gbm).score(test)
    enc_oof = pd.read_parquet(paths.encoder / "oof.parquet")
    oof = join_members(pd.read_parquet(paths.gbm / "oof.parquet"), enc_oof)
    held = join_members(test, pd.read_parquet(paths.encoder / "holdout.parquet"))
    y = (oof["label"] == "state_linked").to_numpy().astype(int)
    target = params.evaluate.target_precision
    meta, cv = fit_stacker(y, oof["gbm"].to_numpy(), oof["encoder"].to_numpy(), target,
                           params.ensemble.c, params.ensemble.seed)
    enc_oof = enc_oof.dropna(subset=["score"])
    meta["encoder_threshold"] = threshold_for_precision(
        (enc_oof["label"] == "state_linked").to_numpy().astype(int), enc_oof["score"].to_numpy(), target)
    paths.out.mkdir(parents=True, exist_ok=True)
    write_json(paths.out / "meta.json", meta)
    oof_out = oof.assign(score=cv)
    held_out = held.assign(score=apply_stacker(meta, held["gbm"].to_numpy(), held["encoder"].to_numpy()))
    for name, table in (("oof.parquet", oof_out), ("holdout.parquet", held_out)):
        with atomic_path(paths.out / name) as tmp:
            table.to_parquet(tmp, index=False)
    w = ", ".join(f"{m} {c:+.2f}" for m, c in zip(meta["members"], meta["coef"]))
    return f"stacked {len(oof)} out-of-fold accounts: logit weights {w}; threshold {meta['threshold']:.3f}"
