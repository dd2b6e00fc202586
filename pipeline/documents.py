"""One text document per account: a deterministic sample of its tweets, cleaned, joined.

The sample is drawn in DuckDB so a 10M-row tweets.parquet is never held in Python: every tweet
gets a stable pseudo-random key md5(tweetid | seed); within an account, originals come before
retweets, the first 4 x `tweets_per_account` are cleaned, duplicates (after cleaning) are
dropped, and the first `tweets_per_account` by key are joined, in key order, with newlines.
The key order is the order the tokenizer sees them in, so when a document is cut at
max_length tokens the part kept is still a random sample.

Cleaning removes release artefacts and noise rather than signal (see docs/architecture.md,
"Features exclude release artefacts"): the "RT @handle:" prefix of a retweet is stripped
(the archive hashes handles of small accounts, so the handle says how the data was released),
other @mentions become "@user" for the same reason, URLs (t.co links, random per tweet) become
"URL", HTML entities the archive keeps escaped (&amp; &lt; &gt; &quot;) are unescaped,
whitespace runs collapse to one space, and trailing padding (emoji, symbols, hashtags,
mentions after the last word: `canon.unpadded`) is dropped, as an operation can append it
for free.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa

from pipeline import canon, duck
from pipeline.sql import parquet_source

URL_TOKEN = "URL"
MENTION_TOKEN = "@user"
TWEET_SEPARATOR = "\n"
# Candidates cleaned per sampled tweet: room for duplicates and URL-only tweets to drop out.
OVERSAMPLE = 4

# RE2 syntax (DuckDB). \w is ASCII here, which is what Twitter handles are made of.
_RT_PREFIX = r"^RT @\w+:\s*"
_URL = r"https?://\S+"
_MENTION = r"@\w+"
# A text `canon.unpadded` may change (anything else it returns as it is): its last word is a
# hashtag or mention, or it ends in a symbol, mark or space.
_MAY_BE_PADDED = r"(?:^|\s)[#＃@]\S*$|[^\p{L}\p{N}\p{P}]$"


def _clean_sql(col: str) -> str:
    """SQL expression: the cleaned text of `col` (see the module docstring), from its
    canonical form (pipeline/canon.py: what an operation can vary for free, folded away)."""
    x = f"regexp_replace({canon.UDF_NAME}({col}), '{_RT_PREFIX}', '')"
    x = f"regexp_replace({x}, '{_URL}', ' {URL_TOKEN} ', 'g')"
    x = f"regexp_replace({x}, '{_MENTION}', '{MENTION_TOKEN}', 'g')"
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&amp;", "&")):  # &amp; last
        x = f"replace({x}, '{entity}', '{char}')"
    x = f"regexp_replace({x}, '\\s+', ' ', 'g')"
    return f"trim({x})"


def _unpad_sql(col: str) -> str:
    """SQL expression: `col`, a `_clean_sql` result, without trailing padding (`canon.unpadded`).
    Last, so padding is judged on the text a reader sees (a trailing link is a word, "URL").
    RE2 picks out the few texts that can hold padding, so the Python function sees those
    only (text features at 1M tweets, `bench/features.py`: 9.8 s with it on every text, 8.0 s
    without it, 6.4-6.6 s so, the cleaned text a column of its own CTE). `col`
    must be a column, not an expression: DuckDB would evaluate an expression once per use.
    The CTE that holds the result is MATERIALIZED for the same reason: inlined, the filters
    on `txt` that follow (not empty, not only a link) each repeated the whole expression."""
    return f"CASE WHEN regexp_matches({col}, '{_MAY_BE_PADDED}') THEN {canon.UNPAD_UDF_NAME}({col}) ELSE {col} END"


def sampled_tweets_sql(source: str, tweets_per_account: int, seed: int, ids: str | None = "_statelink_ids") -> str:
    """CTEs ending in `sampled(userid, rt, txt, raw, r)`: each account's cleaned, deduplicated
    sample, `txt` canonical and `raw` the text as posted.

    `r` is the rank (1 = first) in the sample's order; rows with r > tweets_per_account are
    already dropped. With `ids`, only accounts in that table; with None, every account.
    The regex cleaning runs only on each account's first OVERSAMPLE * tweets_per_account
    tweets by key (originals first), not on all of its tweets, so its cost is bounded by the
    number of accounts rather than the size of the dump.
    """
    n = int(tweets_per_account)
    semi = f"SEMI JOIN {ids} AS i ON t.userid = i.userid" if ids else ""
    return f"""
    WITH keyed AS (
        SELECT t.userid, t.tweetid, coalesce(t.is_retweet, FALSE) AS rt, t.tweet_text,
               md5_number(t.tweetid || '|' || {int(seed)}) AS k
        FROM {source} AS t
        {semi}
        WHERE t.tweet_text IS NOT NULL
    ),
    candidates AS (
        SELECT * FROM keyed
        QUALIFY row_number() OVER (PARTITION BY userid ORDER BY rt, k, tweetid) <= {OVERSAMPLE * n}
    ),
    precleaned AS (
        SELECT userid, tweetid, rt, k, tweet_text AS raw, {_clean_sql('tweet_text')} AS pre FROM candidates
    ),
    cleaned AS MATERIALIZED (
        SELECT userid, tweetid, rt, k, raw, {_unpad_sql('pre')} AS txt FROM precleaned
    ),
    distinct_texts AS (
        SELECT * FROM cleaned
        WHERE txt <> '' AND txt <> '{URL_TOKEN}'
        QUALIFY row_number() OVER (PARTITION BY userid, txt ORDER BY rt, k, tweetid) = 1
    ),
    ranked AS (
        SELECT userid, rt, txt, raw, row_number() OVER (PARTITION BY userid ORDER BY rt, k, tweetid) AS r
        FROM distinct_texts
    ),
    sampled AS (SELECT * FROM ranked WHERE r <= {n})
    """


def documents_sql(source: str, tweets_per_account: int, seed: int, max_chars: int, ids: str | None = "_statelink_ids") -> str:
    """The query: one row (userid, doc) per account (of `ids`, if given) that has usable text."""
    return f"""{sampled_tweets_sql(source, tweets_per_account, seed, ids)}
    SELECT userid, left(string_agg(txt, '{TWEET_SEPARATOR}' ORDER BY r), {int(max_chars)}) AS doc
    FROM sampled
    GROUP BY userid
    """


def account_documents(
    con_or_tweets_path,
    userids: Iterable[str],
    tweets_per_account: int,
    seed: int,
    max_chars: int,
) -> dict[str, str]:
    """userid -> document, for every userid asked for, in that order ("" for an account without text).

    `con_or_tweets_path` is a tweets.parquet path (TWEETS_SCHEMA), or an open DuckDB connection
    holding a table or view named `tweets` with at least userid, tweetid, is_retweet and
    tweet_text. Deterministic: the same inputs and seed give the same documents.
    """

    if tweets_per_account < 1 or max_chars < 1:
        raise ValueError("tweets_per_account and max_chars must be positive")
    ids = [str(u) for u in userids]
    if isinstance(con_or_tweets_path, (str, Path)):
        con = duck.connect()
        source = parquet_source(con_or_tweets_path)
        own = True
    else:
        con, source, own = con_or_tweets_path, "tweets", False
        canon.register(con)  # a caller's connection may not have the text functions yet
    try:
        con.register("_statelink_ids", pa.table({"userid": pa.array(sorted(set(ids)), pa.string())}))
        try:
            rows = con.execute(documents_sql(source, tweets_per_account, seed, max_chars)).fetchall()
        finally:
            con.unregister("_statelink_ids")
    finally:
        if own:
            con.close()
    found = dict(rows)
    return {u: found.get(u, "") for u in ids}


def clean_texts(texts: Sequence[str | None]) -> list[str]:
    """Single texts cleaned as documents clean each tweet (the module docstring), for text
    that does not come in a dump (bench/real_text.py); a missing text is "". A text that is
    nothing but a URL stays ("URL"), where a document would drop that tweet: here it is a row
    to score."""
    con = duck.connect()
    try:
        con.register("_statelink_texts", pa.table({"i": pa.array(range(len(texts)), pa.int64()),
                                                   "txt": pa.array(list(texts), pa.string())}))
        # MATERIALIZED, as in `sampled_tweets_sql`: inlined, `pre` was cleaned once per use (3x).
        rows = con.execute(f"WITH p AS MATERIALIZED (SELECT i, {_clean_sql('txt')} AS pre FROM _statelink_texts) "
                           f"SELECT COALESCE({_unpad_sql('pre')}, '') FROM p ORDER BY i").fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]
