"""Where the shifted world's gap comes from: the same model, trained on one set of campaigns
and worlds, scored on another.

    python bench/transfer.py [--shift data/raw/shift] [--features data/features/features.parquet]
                             [--split data/split.parquet] [--third data/raw/third [--only-worlds]]

Every row fits LightGBM as the train_gbm stage does (`models.fit.fit_gbm_folder`: the
n-gram text score of its training rows across campaigns, grouped folds, cross-campaign
calibration) on its training
set, and scores its test set with `GbmScorer` (LightGBM only: the encoder is left out, so a
row takes seconds). The rows:

- the sample's training campaigns -> its held-out campaign (what `dvc repro` reports);
- the sample's training campaigns -> the shifted world (the evaluate stage's `shift`);
- inside the shifted world, one campaign -> the other, both ways: what its own features can
  reach across campaigns when the world is the one trained on;
- the shifted world -> the sample's held-out campaign (the gap the other way);
- the sample's training campaigns plus one shifted campaign -> the other shifted campaign;
- with `--third <folder>` (another world's <campaign>/<label>/ dumps, written by a third
  generator or a labelled real release): each world alone -> the third; the sample plus the
  shifted world -> the third, with the n-gram score and calibration fitted across campaigns
  or across *worlds* (`as_worlds`: each world one group, so the score LightGBM trains on
  never saw its world's wording); the sample plus the third -> the shifted world, both ways;
  the two foreign worlds -> the sample's held-out campaign; the sample plus the shifted
  world -> the held-out campaign (what a two-world model costs in distribution). Columns
  add the organic share flagged at the model's own threshold and ECE.

The shifted world's features are built per campaign (each campaign its own population, as
the features stage builds the sample's), and its folds are grouped as `split.make_split`
groups the sample's. It also prints the single-feature ROC-AUCs whose direction flips
between the worlds, and the share of each test set's accounts that an isolation forest on
the training rows calls outliers (whether a per-account "unknown" could see the shift). Figures are PR-AUC and ROC-AUC; nothing here is tuned on a test set.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import fit_and_score, world_frame  # noqa: E402

from pipeline.config import load_params  # noqa: E402
from pipeline.models.fit import model_feature_list  # noqa: E402
from pipeline.split import labelled  # noqa: E402


def as_worlds(frame: pd.DataFrame, world: str) -> pd.DataFrame:
    """The frame with its world as its campaign: the n-gram score of its training rows and the
    calibration are then fitted across *worlds* (leave one world out), not across campaigns."""
    return frame.assign(campaign=world)


def flips(a: pd.DataFrame, b: pd.DataFrame, features: list[str], margin: float = 0.05) -> pd.DataFrame:
    """Features whose single-feature ROC-AUC is at least `margin` from 0.5 on both sides of it."""
    from sklearn.metrics import roc_auc_score

    rows = []
    for f in features:
        auc = [roc_auc_score(x["label"] == "state_linked", x[f].fillna(-1.0)) for x in (a, b)]
        if min(abs(v - 0.5) for v in auc) >= margin and (auc[0] - 0.5) * (auc[1] - 0.5) < 0:
            rows.append({"feature": f, "sample": round(auc[0], 3), "shifted": round(auc[1], 3)})
    return pd.DataFrame(rows, columns=["feature", "sample", "shifted"])


def outlier_shares(train: pd.DataFrame, others: dict[str, pd.DataFrame], features: list[str]) -> dict[str, float]:
    """Per-account novelty: an isolation forest on the training rows, cut at their 99th
    percentile; the share of each other set's rows beyond it (about 1 % where nothing moved)."""
    from sklearn.ensemble import IsolationForest

    x = lambda f: f[features].fillna(-1.0).to_numpy(dtype=np.float64)  # noqa: E731
    forest = IsolationForest(n_estimators=200, random_state=0).fit(x(train))
    cut = np.quantile(-forest.score_samples(x(train)), 0.99)
    return {name: float((-forest.score_samples(x(f)) > cut).mean()) for name, f in others.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shift", type=Path, default=Path("data/raw/shift"))
    ap.add_argument("--third", type=Path, default=Path("data/raw/third"),
                    help="a third world's <campaign>/<label>/ dumps (default: the third_sample stage's); "
                         "adds the two-world rows where it exists")
    ap.add_argument("--only-worlds", action="store_true", help="only the rows that involve the third world")
    ap.add_argument("--features", type=Path, default=Path("data/features/features.parquet"))
    ap.add_argument("--split", type=Path, default=Path("data/split.parquet"))
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    params = load_params(args.params)
    sample = labelled(args.features, args.split)
    s_train, s_test = sample[sample["role"] == "train"], sample[sample["role"] == "test"]
    with tempfile.TemporaryDirectory(prefix="transfer-shift-") as tmp:
        world = world_frame(args.shift, params, Path(tmp))
    # The pipeline trains on the shifted world's campaigns too (params.yaml data.dumps): the
    # "sample" rows here are the sample's own campaigns only, so each world stays one world.
    sample = sample[~sample["campaign"].isin(world["campaign"].unique())]
    s_train, s_test = sample[sample["role"] == "train"], sample[sample["role"] == "test"]
    a, b = sorted(world["campaign"].unique())
    wa, wb = world[world["campaign"] == a], world[world["campaign"] == b]
    rows = [
        ("sample training campaigns", "sample held-out campaign", s_train, s_test),
        ("sample training campaigns", "shifted world", s_train, world),
        (f"shifted {a}", f"shifted {b}", wa, wb),
        (f"shifted {b}", f"shifted {a}", wb, wa),
        ("shifted world", "sample held-out campaign", world, s_test),
        (f"sample training campaigns + shifted {a}", f"shifted {b}", pd.concat([s_train, wa]), wb),
    ]
    if args.third is not None and args.third.is_dir():
        with tempfile.TemporaryDirectory(prefix="transfer-third-") as tmp:
            third = world_frame(args.third, params, Path(tmp))
        both = lambda x, nx, z, nz: pd.concat([as_worlds(x, nx), as_worlds(z, nz)])  # noqa: E731
        worlds = [
            ("sample training campaigns", "third world", s_train, third),
            ("shifted world", "third world", world, third),
            ("sample training campaigns + shifted world (folds by campaign)", "third world",
             pd.concat([s_train, world]), third),
            ("sample training campaigns + shifted world (folds by world)", "third world",
             both(s_train, "sample", world, "shifted"), third),
            ("third world", "shifted world", third, world),
            ("sample training campaigns + third world (folds by campaign)", "shifted world",
             pd.concat([s_train, third]), world),
            ("sample training campaigns + third world (folds by world)", "shifted world",
             both(s_train, "sample", third, "third"), world),
            ("shifted world + third world (folds by world)", "sample held-out campaign",
             both(world, "shifted", third, "third"), s_test),
            ("sample training campaigns + shifted world (folds by world)", "sample held-out campaign",
             both(s_train, "sample", world, "shifted"), s_test),
        ]
        rows = worlds if args.only_worlds else rows + worlds
    print("| trained on | scored | accounts | PR-AUC | ROC-AUC | organic flagged | ECE |\n|---|---|---|---|---|---|---|")
    for name_tr, name_te, tr, te in rows:
        r = fit_and_score(tr, te, params)
        print(f"| {name_tr} | {name_te} | {r['accounts']} | {r['pr_auc']:.3f} | {r['roc_auc']:.3f} "
              f"| {r['organic_flagged']:.1%} | {r['ece']:.3f} |", flush=True)
    features = model_feature_list(s_train, params)
    flipped = flips(s_train, world, [f for f in features if f in world.columns])
    print(f"\n{len(flipped)} of {len(features)} features point the other way in the shifted world "
          "(single-feature ROC-AUC at least 0.05 from 0.5 in both):")
    print(flipped.sort_values("feature").to_string(index=False) if len(flipped) else "(none)")
    shares = outlier_shares(s_train, {"sample held-out campaign": s_test, "shifted world": world},
                            [f for f in features if f in world.columns])
    print("\nper-account outliers (isolation forest on the training rows, cut at their 99th percentile): "
          + ", ".join(f"{k} {v:.1%}" for k, v in shares.items()))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
