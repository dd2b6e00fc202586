"""The data contract: archive columns in, typed Parquet tables out.

Input column names follow the information-operations archive releases (see
docs/architecture.md and ../shared/real-samples). Output schemas are checked at every
stage boundary with `check_schema`, so a stage never reads a table it does not understand.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import InputError

LABELS = ("state_linked", "control")

# The nine profile columns that users files hold and tweets files repeat on every row.
PROFILE_COLUMNS = (
    "user_display_name",
    "user_screen_name",
    "user_reported_location",
    "user_profile_description",
    "user_profile_url",
    "follower_count",
    "following_count",
    "account_creation_date",
    "account_language",
)

USERS_COLUMNS = ("userid", *PROFILE_COLUMNS)
USERS_REQUIRED = ("userid",)

TWEETS_COLUMNS = (
    "tweetid",
    "userid",
    *PROFILE_COLUMNS,
    "tweet_language",
    "tweet_text",
    "tweet_time",
    "tweet_client_name",
    "in_reply_to_userid",
    "in_reply_to_tweetid",
    "quoted_tweet_tweetid",
    "is_retweet",
    "retweet_userid",
    "retweet_tweetid",
    "latitude",
    "longitude",
    "quote_count",
    "reply_count",
    "like_count",
    "retweet_count",
    "hashtags",
    "urls",
    "user_mentions",
)
# poll_choices exists only in releases before 2021; it is optional.
TWEETS_OPTIONAL = ("poll_choices",)
TWEETS_REQUIRED = ("tweetid", "userid", "tweet_time")

_str = pa.string()
_i64 = pa.int64()

ACCOUNTS_SCHEMA = pa.schema(
    [
        pa.field("userid", _str, nullable=False),
        pa.field("user_display_name", _str),
        pa.field("user_screen_name", _str),
        pa.field("user_reported_location", _str),
        pa.field("user_profile_description", _str),
        pa.field("user_profile_url", _str),
        pa.field("follower_count", _i64),
        pa.field("following_count", _i64),
        pa.field("account_creation_date", pa.date32()),
        pa.field("account_language", _str),
        pa.field("is_hashed", pa.bool_()),
        # True when the account came from a users file, False when rebuilt from tweet rows.
        pa.field("from_users_file", pa.bool_()),
        pa.field("campaign", _str),
        pa.field("label", _str),
        pa.field("source_file", _str),
    ]
)

TWEETS_SCHEMA = pa.schema(
    [
        pa.field("tweetid", _str, nullable=False),
        pa.field("userid", _str, nullable=False),
        pa.field("tweet_language", _str),
        pa.field("tweet_text", _str),
        # Parquet has no second unit; milliseconds round-trip exactly.
        pa.field("tweet_time", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("tweet_client_name", _str),
        pa.field("in_reply_to_userid", _str),
        pa.field("in_reply_to_tweetid", _str),
        pa.field("quoted_tweet_tweetid", _str),
        pa.field("is_retweet", pa.bool_()),
        pa.field("retweet_userid", _str),
        pa.field("retweet_tweetid", _str),
        pa.field("latitude", pa.float64()),
        pa.field("longitude", pa.float64()),
        pa.field("quote_count", _i64),
        pa.field("reply_count", _i64),
        pa.field("like_count", _i64),
        pa.field("retweet_count", _i64),
        pa.field("hashtags", pa.list_(_str)),
        pa.field("urls", pa.list_(_str)),
        pa.field("user_mentions", pa.list_(_str)),
        pa.field("poll_choices", _str),
        pa.field("campaign", _str),
        pa.field("label", _str),
        pa.field("source_file", _str),
    ]
)

QUARANTINE_COLUMNS = ("file", "line", "reason", "raw")


def check_schema(path: Path | str, expected: pa.Schema) -> None:
    """Raise InputError unless the Parquet file at `path` has every expected column and type."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist; run the stage that makes it first.")
    actual = pq.read_schema(path)
    for field in expected:
        idx = actual.get_field_index(field.name)
        if idx < 0:
            raise InputError(f"{path} has no column '{field.name}'; it was not written by this version of statelink.")
        got = actual.field(idx).type
        # A timestamp's unit may differ by writer (DuckDB writes microseconds); the zone may not.
        same_time = pa.types.is_timestamp(got) and pa.types.is_timestamp(field.type) and got.tz == field.type.tz
        if not got.equals(field.type) and not same_time:
            raise InputError(
                f"{path} column '{field.name}' is {actual.field(idx).type}, expected {field.type}."
            )
