"""The `ensemble` stage: stack LightGBM and the encoder on held-out member scores; score the held-out accounts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import Params
from pipeline.io import atomic_path, write_json
from pipeline.models.ensemble import apply_stacker, join_members, stack
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
    # LightGBM's scores across training campaigns (cross.parquet; out of fold where there was
    # one training campaign only): the stacker learns how far a member travels.
    gbm_held = paths.gbm / "cross.parquet"
    oof = join_members(pd.read_parquet(gbm_held if gbm_held.exists() else paths.gbm / "oof.parquet"), enc_oof)
    held = join_members(test, pd.read_parquet(paths.encoder / "holdout.parquet"))
    meta, cv = stack(oof, enc_oof, params.ensemble, params.evaluate)
    paths.out.mkdir(parents=True, exist_ok=True)
    write_json(paths.out / "meta.json", meta)
    oof_out = oof.assign(score=cv)
    # As in serving: an account without tweets keeps the profile-only member's score (no text to read).
    no_text = held["userid"].isin(test.loc[test["n_tweets_seen"] == 0, "userid"]).to_numpy()
    encoder = np.where(no_text, np.nan, held["encoder"].to_numpy())
    held_out = held.assign(score=apply_stacker(meta, held["gbm"].to_numpy(), encoder))
    for name, table in (("oof.parquet", oof_out), ("holdout.parquet", held_out)):
        with atomic_path(paths.out / name) as tmp:
            table.to_parquet(tmp, index=False)
    w = ", ".join(f"{m} {c:+.2f}" for m, c in zip(meta["members"], meta["coef"]))
    return f"stacked {len(oof)} held-out member scores: logit weights {w}; threshold {meta['threshold']:.3f} ({meta['cv']})"
