"""Which columns of the feature table are features, and which a model uses.

Kept apart from the SQL, so the model stages depend on the column rules and not on how
features are computed.
"""

from __future__ import annotations

import fnmatch

import pyarrow as pa

# Columns carried beside the features; never fed to a model.
# `doc` is the account's text sample, which the model's fitted n-gram score reads.
META_COLUMNS = ("userid", "campaign", "label", "account_language", "main_language", "n_tweets_seen", "coord_cluster", "doc")


def feature_columns(table: pa.Table | list[str]) -> list[str]:
    names = table.column_names if isinstance(table, pa.Table) else list(table)
    return [c for c in names if c not in META_COLUMNS]


def model_features(candidates: list[str], exclude: list[str]) -> list[str]:
    """The feature columns a model uses: `candidates` less those matching an `exclude` pattern."""
    return [c for c in candidates if not any(fnmatch.fnmatchcase(c, pat) for pat in exclude)]
