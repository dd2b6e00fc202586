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
from pipeline.reasons import top_reasons


@dataclass
class GbmScorer:
    booster: lgb.Booster
    features: list[str]
    threshold: float
    slope: float
    intercept: float

    @classmethod
    def load(cls, model_dir: Path | str) -> "GbmScorer":
        model_dir = Path(model_dir)
        meta = json.loads((model_dir / "meta.json").read_text(encoding="utf-8"))
        cal = meta.get("calibration", {"slope": 1.0, "intercept": 0.0})
        return cls(lgb.Booster(model_file=str(model_dir / "model.txt")), meta["features"],
                   float(meta["threshold"]), float(cal["slope"]), float(cal["intercept"]))

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
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
