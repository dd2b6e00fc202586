"""The `evaluate` stage: held-out, out-of-fold and leave-one-campaign-out metrics per model; plots."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.config import EvaluateParams
from pipeline.evaluate import draw_plots, evaluate_models, headline_line, write_outputs
from pipeline.scoring import GbmScorer
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


def _read_predictions(path: Path, lang: pd.DataFrame) -> pd.DataFrame:
    return pd.read_parquet(path).merge(lang, on="userid", how="left")


def run(params: EvaluateParams, paths: Paths) -> str:
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
    metrics = evaluate_models(preds, primary, params)

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
