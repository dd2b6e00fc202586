"""One split file that every model uses, so no model ever sees another's test accounts.

Held-out campaigns are the honest test: the model never saw the operation it is scored on,
as with a new archive release. Inside the training campaigns, folds are grouped by creation
batch (same campaign, label and creation day) and by coordination cluster, transitively,
so batch-registered or coordinated near-twins never straddle a fold boundary.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sklearn.model_selection import StratifiedGroupKFold

from pipeline.config import SplitParams
from pipeline.errors import ConfigError, InputError


def group_keys(accounts: pd.DataFrame) -> pd.Series:
    """Group per account: accounts linked by a creation batch (campaign, label, creation day)
    or by a coordination cluster share a group, transitively; the rest are their own group.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(accounts)
    date = accounts["account_creation_date"].astype("string")
    batch = ("b|" + accounts["campaign"].astype("string") + "|" + accounts["label"].astype("string") + "|" + date)
    keys = [batch]
    if "coord_cluster" in accounts:
        cl = accounts["coord_cluster"].astype("string")
        keys.append(("c|" + cl).where(cl.fillna("") != "", pd.NA))
    # Bipartite graph accounts — keys; its components are the groups.
    codes, rows = [], []
    for k in keys:
        ok = k.notna().to_numpy()
        codes.append(k[ok].to_numpy())
        rows.append(np.nonzero(ok)[0])
    all_keys = np.concatenate(codes) if codes else np.array([])
    uniq, key_idx = np.unique(all_keys.astype(str), return_inverse=True)
    r = np.concatenate(rows)
    graph = coo_matrix((np.ones(len(r)), (r, n + key_idx)), shape=(n + len(uniq), n + len(uniq)))
    _, labels = connected_components(graph, directed=False)
    return pd.Series([f"g{lab}" for lab in labels[:n]], index=accounts.index)


def make_split(accounts: pd.DataFrame, params: SplitParams) -> pd.DataFrame:
    """Assign each labelled account a role (train/test) and, for train, a grouped fold."""
    if accounts["label"].isna().any():
        raise InputError("the split needs labelled accounts; ingest through params.yaml data.dumps.")
    campaigns = set(accounts["campaign"].unique())
    missing = [c for c in params.holdout_campaigns if c not in campaigns]
    if missing:
        raise ConfigError(
            f"split.holdout_campaigns names {missing}, which are not among the ingested campaigns {sorted(campaigns)}."
        )
    if not campaigns - set(params.holdout_campaigns):
        raise ConfigError("split.holdout_campaigns holds out every campaign; nothing is left to train on.")
    out = accounts[["userid", "campaign", "label"]].copy()
    out["group"] = group_keys(accounts).to_numpy()
    out["role"] = np.where(out["campaign"].isin(params.holdout_campaigns), "test", "train")
    out["fold"] = -1
    train = out["role"] == "train"
    y = (out.loc[train, "label"] == "state_linked").astype(int).to_numpy()
    for cls in (0, 1):
        if (y == cls).sum() < params.n_folds:
            raise InputError(
                f"the training campaigns have fewer than {params.n_folds} accounts of one class; add data or lower split.n_folds."
            )
    sgkf = StratifiedGroupKFold(n_splits=params.n_folds, shuffle=True, random_state=params.seed)
    folds = np.full(train.sum(), -1)
    for k, (_, test_idx) in enumerate(sgkf.split(np.zeros(len(y)), y, out.loc[train, "group"])):
        folds[test_idx] = k
    out.loc[train, "fold"] = folds
    return out.sort_values("userid").reset_index(drop=True)


def labelled(features_path: Path, split_path: Path) -> pd.DataFrame:
    """The feature table joined with the split (role, fold, group); every split account must have features."""
    feats = pq.read_table(features_path).to_pandas()
    split = pq.read_table(split_path, columns=["userid", "role", "fold", "group"]).to_pandas()
    frame = feats.merge(split, on="userid", how="inner", validate="one_to_one")
    if len(frame) != len(split):
        raise InputError(f"{split_path} names {len(split) - len(frame)} accounts that {features_path} lacks; re-run the features stage.")
    return frame
