"""The `evaluate` stage: held-out, out-of-fold and leave-one-campaign-out metrics per model, the
third world (never trained on) scored as one foreign dump; plots."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import drift
from pipeline.config import Params
from pipeline.evaluate import (
    draw_plots, evaluate_models, headline, headline_line, member_contribution, shift_metrics, write_outputs,
)
from pipeline.ingest import ingest_dumps, labelled_dumps
from pipeline.scoring import GbmScorer
from pipeline.serving import make_bundle, score_tables
from pipeline.split import labelled


@dataclass(frozen=True)
class Paths:
    features: Path
    split: Path
    gbm: Path  # models/gbm
    metrics: Path  # reports/metrics.json
    predictions: Path  # reports/predictions.parquet
    plots: Path  # reports/plots/*.png
    encoder: Path | None = None  # adds encoder metrics
    ensemble: Path | None = None  # the primary model when given
    shift: Path | None = None  # data/raw/third: a world the model never saw (metrics "shift")


def _read_predictions(path: Path, lang: pd.DataFrame) -> pd.DataFrame:
    return pd.read_parquet(path).merge(lang, on="userid", how="left")


def score_shifted(params: Params, paths: Paths) -> tuple[pd.DataFrame, float, drift.DriftReport]:
    """The foreign world (data/raw/third) scored as `statelink score` scores a dump (one population, the cascade
    as configured), each account with the label of the folder it came from; the threshold;
    and the drift check `statelink score` would print."""
    dumps = labelled_dumps(paths.shift)
    with_encoder = paths.encoder is not None and paths.ensemble is not None and (paths.ensemble / "meta.json").exists()
    bundle = make_bundle(paths.gbm, params.features, paths.encoder if with_encoder else None, params.encoder,
                         paths.ensemble if with_encoder else None)
    band = tuple(params.score.cascade_band) if params.score.cascade else None
    with tempfile.TemporaryDirectory(prefix=".shift-", dir=paths.metrics.parent if paths.metrics.parent.exists() else None) as tmp:
        ingest_dumps(dumps, Path(tmp), progress=False)
        accounts = pq.read_table(Path(tmp) / "accounts.parquet")
        truth = accounts.select(["userid", "label"]).to_pandas()
        # Scored as a foreign dump: no campaign, so coordination runs across everything in it.
        unlabelled = accounts.set_column(accounts.schema.get_field_index("campaign"), "campaign",
                                         pa.nulls(accounts.num_rows, pa.string()))
        feats: list[pd.DataFrame] = []
        scored = score_tables(unlabelled, pq.read_table(Path(tmp) / "tweets.parquet"), bundle, band=band, features=feats)
    report = dump_drift_of(feats[0], bundle.scorer.reference, params)
    # Each account's own operating threshold (the profile-only member's where it posted nothing).
    thresholds = pd.DataFrame({"userid": feats[0]["userid"], "threshold": bundle.thresholds(feats[0])})
    out = scored.drop(columns=["label"]).merge(truth, on="userid", validate="one_to_one").merge(thresholds, on="userid")
    if bundle.encoder is not None:
        # The same accounts without the encoder: what stacking it adds on a foreign world.
        # LightGBM's calibrated score only (`score_features` would also rebuild its reasons).
        alone = pd.DataFrame({"userid": feats[0]["userid"].to_numpy(), "gbm_score": bundle.scorer.score(feats[0])})
        out = out.merge(alone, on="userid", validate="one_to_one")
    return out, out["threshold"].to_numpy(), report


def dump_drift_of(frame: pd.DataFrame, reference: dict | None, params: Params) -> drift.DriftReport:
    d = params.score.drift
    return drift.check(reference, frame, d.major_psi, d.max_major_share, d.min_accounts)


def drift_metrics(report: drift.DriftReport) -> dict:
    """The drift check as numbers (MLflow metrics take numbers only)."""
    out = {"out_of_distribution": float(report.out_of_distribution), "features_shifted": float(report.major),
           "features": float(report.features)}
    if report.median_psi is not None:
        out["median_psi"] = round(report.median_psi, 6)
    return out


def run(params: Params, paths: Paths) -> str:
    frame = labelled(paths.features, paths.split)
    scorer = GbmScorer.load(paths.gbm)
    frame["score"] = scorer.score(frame)
    lang = frame[["userid", "main_language"]]
    test = frame[frame["role"] == "test"]
    loco_path = paths.gbm / "loco.parquet"
    loco = _read_predictions(loco_path, lang) if loco_path.exists() else None
    preds = {"gbm": {"test": test, "oof": _read_predictions(paths.gbm / "oof.parquet", lang), "loco": loco,
                     "threshold": scorer.threshold}}
    primary = "gbm"
    if paths.ensemble is not None and (paths.ensemble / "meta.json").exists() and paths.encoder is not None:
        ens = json.loads((paths.ensemble / "meta.json").read_text(encoding="utf-8"))
        preds["encoder"] = {"test": _read_predictions(paths.encoder / "holdout.parquet", lang),
                            # Accounts the encoder never scored out of fold (no text) have no score.
                            "oof": pd.read_parquet(paths.encoder / "oof.parquet").dropna(subset=["score"])
                                     .merge(lang, on="userid", how="left"),
                            "threshold": ens["encoder_threshold"]}
        preds["ensemble"] = {"test": _read_predictions(paths.ensemble / "holdout.parquet", lang),
                             "oof": _read_predictions(paths.ensemble / "oof.parquet", lang), "threshold": ens["threshold"]}
        primary = "ensemble"
    metrics = evaluate_models(preds, primary, params.evaluate)
    # The drift check `statelink score` runs: silent on the held-out campaign, it should speak on a foreign world.
    metrics["drift"] = {"holdout": drift_metrics(dump_drift_of(test, scorer.reference, params))}
    if paths.shift is not None:
        shifted, threshold, shift_drift = score_shifted(params, paths)
        metrics["shift"] = shift_metrics(shifted, threshold, params.evaluate)
        metrics["drift"]["shift"] = drift_metrics(shift_drift)
        no_posts = shifted[shifted["no_tweets"]]
        if len(no_posts) and no_posts["label"].nunique() == 2:
            metrics["shift"]["no_tweets"] = headline(no_posts, no_posts["threshold"].to_numpy(), params.evaluate)
    if primary == "ensemble":
        # What the encoder adds to LightGBM: on the held-out campaign, and on the third world.
        both = preds["ensemble"]["test"]  # its `gbm` column: LightGBM's score as the stacker got it
        y = (both["label"] == "state_linked").to_numpy()
        metrics["contribution"] = {"encoder": {"holdout": member_contribution(y, both["score"], both["gbm"])}}
        if paths.shift is not None and "gbm_score" in shifted:
            ys = (shifted["label"] == "state_linked").to_numpy()
            metrics["contribution"]["encoder"]["shift"] = member_contribution(ys, shifted["score"], shifted["gbm_score"])
    if scorer.profile is not None:
        # The profile-only member on every held-out account, as if none had posted.
        only = test.assign(score=scorer.profile.score(test))
        metrics["profile_only"] = {"threshold": round(scorer.profile.threshold, 6),
                                   "holdout": headline(only, scorer.profile.threshold, params.evaluate)}

    # Per-account predictions: held-out scores from the final models, training scores out of fold.
    cols = ["userid", "campaign", "label", "main_language", "score"]
    predictions = pd.concat([
        part[cols].assign(split=split, model=name, predicted=part["score"] >= p["threshold"])
        for name, p in preds.items() for split, part in (("holdout", p["test"]), ("oof", p["oof"]))
    ], ignore_index=True)
    write_outputs(metrics, predictions, paths.metrics, paths.predictions)
    held = predictions[predictions["split"] == "holdout"].assign(primary=lambda f: f["model"] == primary)
    draw_plots(held, paths.plots, preds[primary]["threshold"], scorer.booster, scorer.features, scorer.matrix(test))
    return headline_line(metrics)
