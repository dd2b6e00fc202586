"""Feature-family ablation: held-out PR-AUC of LightGBM with behaviour features only (the
walking skeleton's family), + coordination, + the text features, + the fitted n-gram text
score (out of fold for training rows, as `train_gbm` does), on the pipeline's own feature
table and split (run `dvc repro` first).

    python bench/ablation.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

REPO = Path(__file__).resolve().parents[1]

COORDINATION = (
    "coord_partners", "coord_max_tie_weight", "coord_families", "co_retweet_partners", "near_duplicate_partners",
    "co_hashtag_seq_partners", "co_url_partners", "sync_partners", "share_posts_near_duplicate", "n_rt_in_population",
    "share_rt_within_60s", "share_rt_within_600s", "rt_delay_median_s", "n_fast_retweeted", "coord_cluster_size",
)


def main() -> None:
    import sys

    sys.path.insert(0, str(REPO))
    from pipeline.config import load_params
    from pipeline.features.columns import feature_columns
    from pipeline.models.gbm import train_gbm
    from pipeline.features.text import TEXT_FEATURES
    from pipeline.models import text_ngram
    from pipeline.features.columns import model_features

    params = load_params(REPO / "params.yaml")
    feats = pd.read_parquet(REPO / "data/features/features.parquet")
    split = pd.read_parquet(REPO / "data/split.parquet")[["userid", "role", "fold"]]
    frame = feats.merge(split, on="userid")
    all_features = model_features(feature_columns(list(feats.columns)), params.train_gbm.exclude_features)
    behaviour = [f for f in all_features if f not in COORDINATION and f not in TEXT_FEATURES]
    families = {
        "behaviour only": behaviour,
        "behaviour + coordination": [f for f in all_features if f not in TEXT_FEATURES],
        "+ text features": all_features,
        "+ n-gram text score": [*all_features, text_ngram.FEATURE],
        "text only": [*TEXT_FEATURES, text_ngram.FEATURE],
    }
    train = frame[frame.role == "train"].reset_index(drop=True)
    test = frame[frame.role == "test"].copy()
    y = (test.label == "state_linked").astype(int)
    tp = params.train_gbm.text_ngram
    ytr = (train.label == "state_linked").to_numpy().astype(int)
    train[text_ngram.FEATURE] = text_ngram.oof_scores(train["doc"], ytr, train["fold"].to_numpy(), tp)
    test[text_ngram.FEATURE] = text_ngram.fit_ngram(train["doc"], ytr, tp).score(test["doc"])
    for name, cols in families.items():
        res = train_gbm(train, cols, params.train_gbm, params.evaluate)
        s = res.booster.predict(test[cols].to_numpy(float))
        print(f"{name:<26} {len(cols):>3} features  held-out ROC-AUC {roc_auc_score(y, s):.4f}  PR-AUC {average_precision_score(y, s):.4f}")


if __name__ == "__main__":
    main()
