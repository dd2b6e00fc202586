"""The `refit` stage: the model that is registered, fitted again on every labelled campaign.

Evaluation needs a campaign the model never saw; a model for new dumps should learn from
every operation there is. So, after `evaluate` has measured the fit on the training
campaigns, this stage (with `register.refit_all`, the default) fits LightGBM, its n-gram
score, its profile-only member and the stacker again on all labelled campaigns, the
held-out ones included, with the same parameters; calibration and thresholds again come
from leave-one-campaign-out predictions, now over every campaign. The encoder is not
refitted (a CPU fine-tune costs minutes per fit): the stacker reads its held-out and
out-of-fold scores, so its weights still come from scores of accounts the encoder never
trained on. The figures in reports/metrics.json stay those of the evaluated fit, and the
model card says so; `refit.json` records what was refitted on what.

Without `refit_all`, the evaluated folders are copied as they are, so `register` always
reads `models/refit/`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.config import Params
from pipeline.io import atomic_path, staged_dir, write_json
from pipeline.models.ensemble import join_members, stack
from pipeline.models.fit import fit_gbm_folder
from pipeline.models.gbm import inner_folds
from pipeline.split import labelled


@dataclass(frozen=True)
class Paths:
    features: Path
    split: Path
    gbm: Path  # models/gbm: the evaluated fit
    encoder: Path  # models/encoder/classifier: oof.parquet and holdout.parquet
    ensemble: Path  # models/ensemble: the evaluated stacker
    out: Path  # models/refit: gbm/, ensemble/, refit.json


def run(params: Params, paths: Paths) -> str:
    with staged_dir(paths.out) as tmp:
        if not params.register_.refit_all:
            shutil.copytree(paths.gbm, tmp / "gbm")
            if (paths.ensemble / "meta.json").exists():
                shutil.copytree(paths.ensemble, tmp / "ensemble")
            write_json(tmp / "refit.json", {"refit_all": False})
            return f"register.refit_all is off: {paths.out} holds the evaluated fit"
        frame = labelled(paths.features, paths.split)
        # Held-out accounts have no fold in the split: they get a stable fold from their group,
        # so creation batches and coordination clusters still stay on one side of each fold.
        frame["fold"] = inner_folds(frame)
        fitted = fit_gbm_folder(frame, params, tmp / "gbm")
        record = {
            "refit_all": True,
            "campaigns": sorted(frame["campaign"].unique()),
            "accounts": len(frame),
            "gbm": {"trees": fitted.main.booster.num_trees(), "threshold": fitted.main.threshold,
                    "calibrated_on": fitted.main.calibrated_on},
            "profile": ({"threshold": fitted.profile.threshold, "calibrated_on": fitted.profile.calibrated_on}
                        if fitted.profile is not None else None),
            "encoder": "not refitted: trained on the training campaigns only (models/encoder/classifier)",
        }
        if (paths.ensemble / "meta.json").exists():
            enc = pd.concat([pd.read_parquet(paths.encoder / "oof.parquet"), pd.read_parquet(paths.encoder / "holdout.parquet")],
                            ignore_index=True)
            members = join_members(pd.read_parquet(tmp / "gbm" / "cross.parquet"), enc)
            meta, cv = stack(members, enc, params.ensemble, params.evaluate)
            (tmp / "ensemble").mkdir()
            write_json(tmp / "ensemble" / "meta.json", meta)
            with atomic_path(tmp / "ensemble" / "oof.parquet") as part:
                members.assign(score=cv).to_parquet(part, index=False)
            record["ensemble"] = {"threshold": meta["threshold"], "coef": meta["coef"], "calibrated_on": meta["calibrated_on"]}
        write_json(tmp / "refit.json", record)
    return (f"refitted on {len(frame)} accounts of {', '.join(record['campaigns'])}: LightGBM {record['gbm']['trees']} trees, "
            f"threshold {record['gbm']['threshold']:.3f}" + (f"; stacker threshold {record['ensemble']['threshold']:.3f}"
                                                            if "ensemble" in record else ""))
