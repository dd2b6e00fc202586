from __future__ import annotations

import os
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.schema import ACCOUNTS_SCHEMA, TWEETS_SCHEMA

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

REPO = Path(__file__).resolve().parents[1]
SHARED_SAMPLES = REPO.parent / "shared" / "real-samples"


def _rows_to_table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    return pa.table({n: pa.array(v, type=schema.field(n).type) for n, v in cols.items()}, schema=schema)


def account(userid: str, **kw) -> dict:
    row = {
        "userid": userid, "user_screen_name": f"user_{userid}", "user_display_name": f"User {userid}",
        "follower_count": 100, "following_count": 100, "account_creation_date": date(2015, 1, 1),
        "account_language": "en", "is_hashed": False, "from_users_file": True,
        "campaign": "c1", "label": "control", "source_file": "test",
    }
    row.update(kw)
    return row


def tweet(tweetid: str, userid: str, when: str, **kw) -> dict:
    row = {
        "tweetid": tweetid, "userid": userid,
        "tweet_time": datetime.strptime(when, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc),
        "tweet_language": "en", "tweet_text": "hello", "tweet_client_name": "Twitter for iPhone",
        "is_retweet": False, "hashtags": [], "urls": [], "user_mentions": [],
        "like_count": 0, "retweet_count": 0, "reply_count": 0, "quote_count": 0,
        "campaign": "c1", "label": "control", "source_file": "test",
    }
    row.update(kw)
    return row


@pytest.fixture
def write_tables(tmp_path: Path):
    """Write hand-made accounts and tweets as the ingest stage would."""

    def _write(accounts: list[dict], tweets: list[dict]) -> Path:
        out = tmp_path / "interim"
        out.mkdir(exist_ok=True)
        pq.write_table(_rows_to_table(accounts, ACCOUNTS_SCHEMA), out / "accounts.parquet")
        pq.write_table(_rows_to_table(tweets, TWEETS_SCHEMA), out / "tweets.parquet")
        return out

    return _write
