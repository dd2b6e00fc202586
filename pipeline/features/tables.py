"""The shared working table every feature family reads.

Joining tweets to accounts once, keeping only the columns features use (not the text),
is what keeps the families fast: a view would repeat the join in every query.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb

from pipeline import duck

# The population cross-account features are computed within: the campaign when training,
# everything scored together when scoring (campaign NULL). SQL text, so Spark reads it too.
POPULATION_SQL = "COALESCE(campaign, '__all__')"

TW_COLUMNS = (
    "tweetid", "userid", "tweet_time", "is_retweet", "tweet_client_name", "tweet_language",
    "in_reply_to_tweetid", "in_reply_to_userid", "quoted_tweet_tweetid", "retweet_tweetid",
    "hashtags", "urls", "user_mentions", "like_count", "retweet_count", "reply_count", "quote_count",
)


def materialise_tweets(con: duckdb.DuckDBPyConnection) -> None:
    """Create temp table `tw` from views `tweets` and `acc` (which must carry `population`)."""
    cols = ", ".join(f"t.{c}" for c in TW_COLUMNS)
    con.execute(
        f"""CREATE OR REPLACE TABLE tw AS
            SELECT {cols}, a.account_language, a.population
            FROM tweets t JOIN acc a USING (userid)"""
    )


@contextlib.contextmanager
def connect(memory_limit: str = "4GB", threads: int | None = None, spill_dir: Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection for feature work.

    With `spill_dir`, the database is a file there: temp tables (the working table, item and
    edge tables) are then buffer-managed and spill to disk past `memory_limit`; an in-memory
    database keeps its tables in RAM and runs out of memory on a large dump. The folder is
    removed on exit.
    """
    # Every available core by default (`duck.available_cores`): the features do not depend on it.
    config = {"memory_limit": memory_limit, "threads": threads or duck.available_cores(), "preserve_insertion_order": False}
    if spill_dir is None:
        con = duck.connect(config=config)
    else:
        spill_dir.mkdir(parents=True, exist_ok=True)
        config["temp_directory"] = str(spill_dir / "tmp")
        con = duck.connect(str(spill_dir / "features.duckdb"), config=config)
    try:
        yield con
    finally:
        con.close()
        if spill_dir is not None:
            shutil.rmtree(spill_dir, ignore_errors=True)
