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


# The features an account has without any tweet: its users-file row and its creation batch
# (`behaviour.profile_features_sql`). The profile-only member reads these alone.
PROFILE_FEATURES = (
    "log_followers", "log_following", "log_follower_ratio", "under_ten_followers", "has_description",
    "has_location", "has_profile_url", "description_length", "handle_length", "handle_digits",
    "handle_digit_share", "handle_trailing_digits", "handle_mixed_case", "handle_char_entropy",
    "name_equals_handle", "name_has_cjk", "creation_batch_size", "is_hashed",
)


def feature_columns(table: pa.Table | list[str]) -> list[str]:
    names = table.column_names if isinstance(table, pa.Table) else list(table)
    return [c for c in names if c not in META_COLUMNS]


def model_features(candidates: list[str], exclude: list[str]) -> list[str]:
    """The feature columns a model uses: `candidates` less those matching an `exclude` pattern."""
    return [c for c in candidates if not any(fnmatch.fnmatchcase(c, pat) for pat in exclude)]
