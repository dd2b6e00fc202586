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

from pipeline.drift import REFERENCE_FILE
from pipeline.metrics import apply_platt
from pipeline.models.text_ngram import FEATURE as NGRAM_FEATURE
from pipeline.models.text_ngram import FILE as NGRAM_FILE
from pipeline.models.text_ngram import NgramModel
from pipeline.reasons import top_reasons


PROFILE_DIR = "profile"  # the profile-only member, a model folder inside the LightGBM one


@dataclass
class GbmScorer:
    booster: lgb.Booster
    features: list[str]
    threshold: float
    slope: float
    intercept: float
    ngram: NgramModel | None = None  # the fitted text feature, read from the `doc` column
    calibrated_on: dict | None = None  # what the probability means (metrics.calibration_record)
    reference: dict | None = None  # the training features' deciles, for the drift check (pipeline/drift.py)
    # The profile-only member (`profile/` in the model folder): scores accounts without tweets.
    profile: "GbmScorer | None" = None

    @classmethod
    def load(cls, model_dir: Path | str) -> "GbmScorer":
        model_dir = Path(model_dir)
        meta = json.loads((model_dir / "meta.json").read_text(encoding="utf-8"))
        cal = meta.get("calibration", {"slope": 1.0, "intercept": 0.0})
        ngram = NgramModel.load(model_dir / NGRAM_FILE) if NGRAM_FEATURE in meta["features"] else None
        ref_path = model_dir / REFERENCE_FILE
        reference = json.loads(ref_path.read_text(encoding="utf-8")) if ref_path.exists() else None
        calibrated_on = {k: v for k, v in cal.items() if k not in ("method", "slope", "intercept")} or None
        profile = cls.load(model_dir / PROFILE_DIR) if (model_dir / PROFILE_DIR / "meta.json").exists() else None
        return cls(lgb.Booster(model_file=str(model_dir / "model.txt")), meta["features"],
                   float(meta["threshold"]), float(cal["slope"]), float(cal["intercept"]), ngram, calibrated_on,
                   reference, profile)

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

    def profile_only(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows the profile-only member scores: accounts without a tweet, where there is one."""
        if self.profile is None or "n_tweets_seen" not in frame.columns:
            return np.zeros(len(frame), bool)
        return frame["n_tweets_seen"].fillna(0).to_numpy() == 0

    def thresholds(self, frame: pd.DataFrame) -> np.ndarray:
        """The operating threshold of each row: the profile-only member's for accounts without tweets."""
        out = np.full(len(frame), self.threshold)
        if self.profile is not None:
            out[self.profile_only(frame)] = self.profile.threshold
        return out

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return self.score_with_reasons(frame, k=0)["score"].to_numpy()

    def score_with_reasons(self, frame: pd.DataFrame, k: int = 3) -> pd.DataFrame:
        """Calibrated score, label at the row's threshold, and up to `k` reasons: the features
        that exist for the account and pushed its score up. Accounts without tweets are
        scored by the profile-only member, so no reason speaks of posts they never made."""
        X = self.matrix(frame)
        score = apply_platt(self.booster.predict(X), self.slope, self.intercept)
        reasons = top_reasons(self.booster.predict(X, pred_contrib=True), self.features, k, values=X) if k else [""] * len(frame)
        only = self.profile_only(frame)
        if only.any():
            sub = self.profile.score_with_reasons(frame.loc[only], k)
            score[only] = sub["score"].to_numpy()
            reasons = np.asarray(reasons, dtype=object)
            reasons[only] = sub["reasons"].to_numpy()
        return pd.DataFrame({
            "userid": frame["userid"].to_numpy(),
            "score": score,
            "label": np.where(score >= self.thresholds(frame), "state_linked", "not_flagged"),
            "reasons": list(reasons),
        })
