"""Scoring with a trained LightGBM: calibrated score, label at the operating point, reasons.

The evaluate stage, the MLflow pyfunc model and `statelink score` all call `GbmScorer`,
so the same account gets the same score wherever it is scored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from pipeline.metrics import apply_platt
from pipeline.models.text_ngram import FEATURE as NGRAM_FEATURE
from pipeline.models.text_ngram import FILE as NGRAM_FILE
from pipeline.models.text_ngram import NgramModel
from pipeline.reasons import top_reasons


@dataclass
class GbmScorer:
    booster: lgb.Booster
    features: list[str]
    threshold: float
    slope: float
    intercept: float
    ngram: NgramModel | None = None  # the fitted text feature, read from the `doc` column

    @classmethod
    def load(cls, model_dir: Path | str) -> "GbmScorer":
        model_dir = Path(model_dir)
        meta = json.loads((model_dir / "meta.json").read_text(encoding="utf-8"))
        cal = meta.get("calibration", {"slope": 1.0, "intercept": 0.0})
        ngram = NgramModel.load(model_dir / NGRAM_FILE) if NGRAM_FEATURE in meta["features"] else None
        return cls(lgb.Booster(model_file=str(model_dir / "model.txt")), meta["features"],
                   float(meta["threshold"]), float(cal["slope"]), float(cal["intercept"]), ngram)

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        if self.ngram is not None:
            if "doc" not in frame.columns:
                from pipeline.errors import InputError

                raise InputError("the feature table lacks the `doc` column the text score needs; rebuild it with this version's features stage.")
            # Always from the document: a precomputed column could be an out-of-fold score.
            frame = frame.assign(**{NGRAM_FEATURE: self.ngram.score(frame["doc"].fillna(""))})
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            from pipeline.errors import InputError

            raise InputError(f"the feature table lacks {missing[:5]}; it was built by another version of statelink.")
        return frame[self.features].to_numpy(dtype=np.float64)

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(self.matrix(frame))

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return apply_platt(self.raw(frame), self.slope, self.intercept)

    def score_with_reasons(self, frame: pd.DataFrame, k: int = 3) -> pd.DataFrame:
        X = self.matrix(frame)
        score = apply_platt(self.booster.predict(X), self.slope, self.intercept)
        contrib = self.booster.predict(X, pred_contrib=True)
        return pd.DataFrame({
            "userid": frame["userid"].to_numpy(),
            "score": score,
            "label": np.where(score >= self.threshold, "state_linked", "not_flagged"),
            "reasons": top_reasons(contrib, self.features, k),
        })
