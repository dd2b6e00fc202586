"""Is a dump like the accounts the model learnt from? A drift check at scoring time.

The calibrated score is a probability only for accounts like the training ones. A foreign
dump (another release format, another platform era, another operation) can still be
*ranked* well while every probability is off: on the shifted world the median organic
account scored 0.74. So the model stores a reference of its training features, and
`statelink score` compares the dump with it before anyone reads a probability.

The comparison is the population-stability index per feature (Yurdakul 2018; the credit-
scoring convention: < 0.1 stable, 0.1-0.25 moderate, > 0.25 a major shift). Bins are the
training deciles of each feature, plus one bin for missing values. A dump is *out of
distribution* when more than `max_major_share` of the model's features shift by more than
`major_psi`: one campaign's topic lexicon or cluster sizes always move (on the bundled
held-out campaign, 8 of 79 features), a foreign world moves most of them (55 of 79).
PSI of a small sample is biased upwards (about bins / n even without drift), so a dump
with fewer than `min_accounts` accounts is not judged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

REFERENCE_FILE = "reference.json"  # in the LightGBM model folder
REFERENCE_BINS = 10
# A bin the reference never filled still gets this share, so log(q / p) stays finite.
_FLOOR = 1e-4


def reference(frame: pd.DataFrame, features: Sequence[str], bins: int = REFERENCE_BINS) -> dict:
    """Per feature of `frame` (the training accounts): decile edges and the share of accounts
    in each bin (the last bin: missing). JSON-able; stored beside the model."""
    out = {}
    for f in features:
        x = frame[f].to_numpy(dtype=float)
        seen = x[~np.isnan(x)]
        edges = np.unique(np.quantile(seen, np.linspace(0, 1, bins + 1)[1:-1])) if len(seen) else np.array([])
        out[f] = {"edges": [float(e) for e in edges], "shares": [float(s) for s in bin_shares(x, edges)]}
    return {"bins": bins, "accounts": len(frame), "features": out}


def bin_shares(x: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Share of `x` in each bin cut at `edges` (right-closed, as `reference` cuts), then missing."""
    x = np.asarray(x, dtype=float)
    nan = np.isnan(x)
    counts = np.bincount(np.searchsorted(np.asarray(edges, dtype=float), x[~nan], side="right"),
                         minlength=len(edges) + 1).astype(float)
    counts = np.append(counts, nan.sum())
    return counts / max(len(x), 1)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population-stability index of `actual` bin shares against `expected`."""
    p = np.clip(np.asarray(expected, dtype=float), _FLOOR, None)
    q = np.clip(np.asarray(actual, dtype=float), _FLOOR, None)
    return float(np.sum((q - p) * np.log(q / p)))


@dataclass
class DriftReport:
    checked: bool  # False: too few accounts, or a model without a reference
    out_of_distribution: bool
    accounts: int
    features: int = 0
    major: int = 0  # features with PSI above major_psi
    median_psi: float | None = None
    most_drifted: list[tuple[str, float]] = field(default_factory=list)
    reason: str = ""

    @property
    def warning(self) -> str | None:
        """The one sentence the CLI prints, or None when the dump looks like the training data."""
        if not self.out_of_distribution:
            return None
        names = ", ".join(f"{f} (PSI {v:.2f})" for f, v in self.most_drifted[:5])
        return (f"this dump is out of the training distribution ({self.major} of {self.features} features shifted, "
                f"most: {names}): scores rank accounts, but probabilities are not calibrated for this dump.")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["most_drifted"] = [{"feature": f, "psi": round(v, 4)} for f, v in self.most_drifted]
        d["warning"] = self.warning
        return d


def check(ref: dict | None, frame: pd.DataFrame, major_psi: float, max_major_share: float, min_accounts: int,
          top: int = 10) -> DriftReport:
    """Compare the dump's feature frame with the stored reference (see the module docstring)."""
    n = len(frame)
    if not ref:
        return DriftReport(False, False, n, reason="the model stores no training reference (trained by an older version)")
    if n < min_accounts:
        return DriftReport(False, False, n, reason=f"fewer than {min_accounts} accounts: too few to judge drift")
    values = {f: psi(r["shares"], bin_shares(frame[f].to_numpy(dtype=float), r["edges"]))
              for f, r in ref["features"].items() if f in frame.columns}
    ranked = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
    major = sum(v > major_psi for v in values.values())
    ood = bool(values) and major > max_major_share * len(values)
    return DriftReport(True, ood, n, len(values), major, float(np.median(list(values.values()))) if values else None,
                       [(f, round(v, 4)) for f, v in ranked[:top]])
