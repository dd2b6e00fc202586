"""Feature-family ablation: which family carries the signal, and which one travels.

    python bench/ablation.py [--features data/features/features.parquet] [--split data/split.parquet]
                             [--third data/raw/third]

LightGBM is fitted as the train_gbm stage fits it (`models.fit.fit_gbm_folder`: the n-gram
text score of its training rows across campaigns, grouped folds, calibration and threshold
across campaigns) on the pipeline's own training accounts (`dvc repro` first), once per
family set: behaviour only (profile, activity, clock, clients: the walking skeleton's
family), + coordination, + the text features (lexicons, script mix, camouflage), + the
n-gram text score (the shipped LightGBM), and the text features with the n-gram score alone.
Each fit scores the held-out campaign and the third world (features built per campaign, as
`bench/transfer.py` builds them; `evaluate` scores that world as one dump, so its figures
differ a little). Columns: PR-AUC, the organic share flagged at the fit's own threshold, ECE.
Nothing here is tuned on a test set.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import fit_and_score, world_frame  # noqa: E402

from pipeline.config import load_params  # noqa: E402
from pipeline.features.text import TEXT_FEATURES  # noqa: E402
from pipeline.models.fit import model_feature_list  # noqa: E402
from pipeline.split import labelled  # noqa: E402

COORDINATION = (
    "coord_partners", "coord_max_tie_weight", "coord_families", "co_retweet_partners", "near_duplicate_partners",
    "co_hashtag_seq_partners", "co_url_partners", "sync_partners", "share_posts_near_duplicate", "n_rt_in_population",
    "share_rt_within_60s", "share_rt_within_600s", "rt_delay_median_s", "n_fast_retweeted", "coord_cluster_size",
)


def family_sets(features: list[str]) -> dict[str, tuple[list[str], bool]]:
    """name -> (the features the fit may read, whether it adds the n-gram text score)."""
    behaviour = [f for f in features if f not in COORDINATION and f not in TEXT_FEATURES]
    return {
        "behaviour only": (behaviour, False),
        "+ coordination": ([f for f in features if f not in TEXT_FEATURES], False),
        "+ text features": (features, False),
        "+ n-gram text score (the shipped LightGBM)": (features, True),
        "text features and n-gram score alone": ([f for f in features if f in TEXT_FEATURES], True),
    }


def restricted(params, features: list[str], keep: list[str], ngram: bool):
    """params whose LightGBM reads `keep` only (the rest excluded), with or without the n-gram score."""
    gbm = params.train_gbm
    drop = [f for f in features if f not in keep]
    return params.model_copy(update={"train_gbm": gbm.model_copy(update={
        "exclude_features": [*gbm.exclude_features, *drop],
        "text_ngram": gbm.text_ngram.model_copy(update={"enabled": ngram})})})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--features", type=Path, default=Path("data/features/features.parquet"))
    ap.add_argument("--split", type=Path, default=Path("data/split.parquet"))
    ap.add_argument("--third", type=Path, default=Path("data/raw/third"))
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    params = load_params(args.params)
    frame = labelled(args.features, args.split)
    train, test = frame[frame["role"] == "train"], frame[frame["role"] == "test"]
    if not args.third.is_dir():
        raise SystemExit(f"{args.third} holds no third world; run `dvc repro third_sample` first.")
    with tempfile.TemporaryDirectory(prefix="ablation-third-") as tmp:
        third = world_frame(args.third, params, Path(tmp))
    features = model_feature_list(train, params)
    print("| features | n | held-out PR-AUC | organic flagged | ECE | third world PR-AUC | organic flagged | ECE |\n"
          "|---|---|---|---|---|---|---|---|")
    for name, (keep, ngram) in family_sets(features).items():
        p = restricted(params, features, keep, ngram)
        held, far = fit_and_score(train, test, p), fit_and_score(train, third, p)
        print(f"| {name} | {len(keep) + int(ngram)} | {held['pr_auc']:.3f} | {held['organic_flagged']:.1%} | {held['ece']:.3f} "
              f"| {far['pr_auc']:.3f} | {far['organic_flagged']:.1%} | {far['ece']:.3f} |", flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
