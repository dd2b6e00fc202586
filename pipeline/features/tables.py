"""The shared working table every feature family reads.

Joining tweets to accounts once, keeping only the columns features use (not the text),
is what keeps the families fast: a view would repeat the join in every query.
"""

from __future__ import annotations

import duckdb

TW_COLUMNS = (
    "tweetid", "userid", "tweet_time", "is_retweet", "tweet_client_name", "tweet_language",
    "in_reply_to_tweetid", "in_reply_to_userid", "quoted_tweet_tweetid", "retweet_tweetid",
    "hashtags", "urls", "user_mentions", "like_count", "retweet_count", "reply_count", "quote_count",
)


def materialise_tweets(con: duckdb.DuckDBPyConnection) -> None:
    """Create temp table `tw` from views `tweets` and `acc` (which must carry `population`)."""
    cols = ", ".join(f"t.{c}" for c in TW_COLUMNS)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE tw AS
            SELECT {cols}, a.account_language, a.population
            FROM tweets t JOIN acc a USING (userid)"""
    )
