"""Per-account behaviour features, computed in DuckDB over the ingested Parquet tables.

Every feature here follows a signal named in the public record of state-linked networks
(Twitter's disclosures 2019–2021; Stanford Internet Observatory and ASPI reports on the
China networks; see docs/features.md for the catalogue with sources). Features that only
describe how an archive was *released* (hashed ids, id shape, file layout, absolute dates)
are deliberately absent: organic control sets are collected differently, so a model that
learned them would learn the collection, not the behaviour.

All queries are vectorised SQL: no per-account Python loops, memory bounded by DuckDB.
"""

from __future__ import annotations

import duckdb

from pipeline.config import FeaturesParams
from pipeline.sql import string_list

# Domains grouped the way the research groups them. Lists are short on purpose: they are
# the outlets the China-network reports name, plus common shorteners and platforms.
STATE_MEDIA_DOMAINS = (
    "xinhuanet.com", "news.cn", "chinadaily.com.cn", "cgtn.com", "globaltimes.cn",
    "people.com.cn", "people.cn", "chinanews.com", "cctv.com", "ecns.cn", "china.org.cn",
    "rt.com", "sputniknews.com", "tass.com", "presstv.ir",
)
SHORTENER_DOMAINS = (
    "bit.ly", "ow.ly", "dlvr.it", "tinyurl.com", "goo.gl", "buff.ly", "ift.tt", "t.co", "is.gd",
)
MAINSTREAM_NEWS_DOMAINS = (
    "nytimes.com", "bbc.com", "bbc.co.uk", "reuters.com", "theguardian.com", "cnn.com",
    "washingtonpost.com", "scmp.com", "apnews.com", "wsj.com", "ft.com", "hk01.com",
    "rthk.hk", "hongkongfp.com", "aljazeera.com", "bloomberg.com",
)
SOCIAL_DOMAINS = (
    "youtube.com", "youtu.be", "facebook.com", "instagram.com", "twitter.com", "weibo.com",
    "t.me", "reddit.com",
)

WEB_CLIENTS = ("Twitter Web App", "Twitter Web Client", "TweetDeck", "Twitter Lite")
MOBILE_CLIENTS = ("Twitter for iPhone", "Twitter for Android", "Twitter for iPad", "Twitter for Mac")


def _entropy_sql(table: str, key: str) -> str:
    """Shannon entropy (bits) of `key` per userid in `table`."""
    return f"""
        SELECT userid, -SUM(p * LOG2(p)) AS entropy
        FROM (
            SELECT userid, COUNT(*)::DOUBLE / SUM(COUNT(*)) OVER (PARTITION BY userid) AS p
            FROM {table} WHERE {key} IS NOT NULL GROUP BY userid, {key}
        ) GROUP BY userid
    """


def tweet_features_sql(s: FeaturesParams) -> str:
    """SQL over a view `tw` (tweets joined with account creation date) → one row per userid."""
    off = int(s.local_utc_offset_hours)
    lo, hi = int(s.office_start_hour), int(s.office_end_hour)
    web, mobile = string_list(WEB_CLIENTS), string_list(MOBILE_CLIENTS)
    return f"""
    WITH t AS (
        SELECT userid, tweet_time, is_retweet, tweet_client_name, tweet_language,
               in_reply_to_tweetid, in_reply_to_userid, quoted_tweet_tweetid,
               hashtags, urls, user_mentions, like_count, retweet_count, reply_count, quote_count,
               account_language,
               tweet_time + INTERVAL ({off}) HOUR AS lt
        FROM tw
    ),
    h AS (
        SELECT *, HOUR(lt) AS lh, ISODOW(lt) AS ldow,
               EPOCH(tweet_time) - LAG(EPOCH(tweet_time)) OVER (PARTITION BY userid ORDER BY tweet_time) AS gap
        FROM t
    ),
    base AS (
        SELECT
            userid,
            COUNT(*) AS n_tweets,
            COUNT(DISTINCT CAST(lt AS DATE)) AS active_days,
            (EPOCH(MAX(tweet_time)) - EPOCH(MIN(tweet_time))) / 86400.0 AS active_span_days,
            MIN(tweet_time) AS first_tweet_time,
            MAX(tweet_time) AS last_tweet_time,
            AVG(CASE WHEN ldow <= 5 AND lh >= {lo} AND lh < {hi} THEN 1 ELSE 0 END) AS share_office_hours_local,
            AVG(CASE WHEN ldow >= 6 THEN 1 ELSE 0 END) AS share_weekend_local,
            AVG(CASE WHEN lh < 6 THEN 1 ELSE 0 END) AS share_night_local,
            AVG(CASE WHEN lh >= 19 THEN 1 ELSE 0 END) AS share_evening_local,
            AVG(CASE WHEN lh = 12 THEN 1 ELSE 0 END) AS share_lunch_hour_local,
            AVG(CASE WHEN lh IN (10, 11, 14, 15) THEN 1 ELSE 0 END) / 4.0 AS share_per_office_hour_local,
            MEDIAN(gap) AS gap_median_s,
            AVG(gap) AS gap_mean_s,
            STDDEV_POP(gap) AS gap_std_s,
            AVG(CASE WHEN gap < 60 THEN 1.0 WHEN gap IS NULL THEN NULL ELSE 0.0 END) AS share_gaps_under_1min,
            AVG(CASE WHEN is_retweet THEN 1 ELSE 0 END) AS share_retweets,
            AVG(CASE WHEN NOT COALESCE(is_retweet, FALSE) AND (in_reply_to_tweetid IS NOT NULL OR in_reply_to_userid IS NOT NULL) THEN 1 ELSE 0 END) AS share_replies,
            AVG(CASE WHEN NOT COALESCE(is_retweet, FALSE) AND quoted_tweet_tweetid IS NOT NULL THEN 1 ELSE 0 END) AS share_quotes,
            AVG(CASE WHEN tweet_client_name IN (SELECT UNNEST({web})) THEN 1 ELSE 0 END) AS share_web_client,
            AVG(CASE WHEN tweet_client_name IN (SELECT UNNEST({mobile})) THEN 1 ELSE 0 END) AS share_mobile_client,
            COUNT(DISTINCT tweet_client_name) AS n_clients,
            COUNT(DISTINCT tweet_language) AS n_tweet_languages,
            AVG(CASE WHEN tweet_language LIKE 'zh%' THEN 1 ELSE 0 END) AS share_lang_zh,
            AVG(CASE WHEN tweet_language = 'en' THEN 1 ELSE 0 END) AS share_lang_en,
            AVG(CASE WHEN tweet_language IN ('und', 'qme', 'zxx', 'qht', 'qam') OR tweet_language IS NULL THEN 1 ELSE 0 END) AS share_lang_undetermined,
            AVG(CASE WHEN account_language IS NOT NULL AND tweet_language IS NOT NULL
                     AND split_part(LOWER(tweet_language), '-', 1) = split_part(LOWER(account_language), '-', 1) THEN 1 ELSE 0 END) AS share_lang_matches_profile,
            AVG(COALESCE(LEN(hashtags), 0)) AS hashtags_per_tweet,
            AVG(COALESCE(LEN(urls), 0)) AS urls_per_tweet,
            AVG(COALESCE(LEN(user_mentions), 0)) AS mentions_per_tweet,
            AVG(CASE WHEN NOT COALESCE(is_retweet, FALSE) THEN COALESCE(like_count, 0) END) AS mean_likes_received,
            AVG(CASE WHEN NOT COALESCE(is_retweet, FALSE) THEN COALESCE(retweet_count, 0) END) AS mean_retweets_received,
            AVG(CASE WHEN NOT COALESCE(is_retweet, FALSE) THEN COALESCE(reply_count, 0) + COALESCE(quote_count, 0) END) AS mean_replies_quotes_received,
            AVG(CASE WHEN NOT COALESCE(is_retweet, FALSE) THEN
                     CASE WHEN COALESCE(like_count, 0) + COALESCE(retweet_count, 0) + COALESCE(reply_count, 0) + COALESCE(quote_count, 0) = 0 THEN 1 ELSE 0 END END)
                AS share_zero_engagement
        FROM h GROUP BY userid
    )
    SELECT base.*,
           n_tweets / GREATEST(active_days, 1) AS tweets_per_active_day,
           CASE WHEN gap_std_s + gap_mean_s > 0 THEN (gap_std_s - gap_mean_s) / (gap_std_s + gap_mean_s) END AS burstiness,
           -- Lunch dip: the 12:00 hour against an average office hour; a desk job shows a dip.
           CASE WHEN share_per_office_hour_local > 0 THEN share_lunch_hour_local / share_per_office_hour_local END AS lunch_dip_ratio,
           1.0 - share_retweets - share_replies - share_quotes AS share_originals
    FROM base
    """


def _hour_entropy_sql(offset: int) -> str:
    return f"""
        SELECT userid, -SUM(p * LOG2(p)) AS entropy FROM (
            SELECT userid, COUNT(*)::DOUBLE / SUM(COUNT(*)) OVER (PARTITION BY userid) AS p
            FROM tw GROUP BY userid, HOUR(tweet_time + INTERVAL ({offset}) HOUR)
        ) GROUP BY userid
    """


def entity_features_sql() -> str:
    """Hashtag and URL diversity and URL domain groups, from the list columns of `tw`."""
    groups = {
        "share_urls_state_media": STATE_MEDIA_DOMAINS,
        "share_urls_shortener": SHORTENER_DOMAINS,
        "share_urls_mainstream_news": MAINSTREAM_NEWS_DOMAINS,
        "share_urls_social": SOCIAL_DOMAINS,
    }
    cases = ",\n".join(
        f"AVG(CASE WHEN list_contains({string_list(v)}, domain) "
        f"OR list_has_any({string_list(v)}, [regexp_extract(domain, '([^.]+\\.[^.]+)$', 1)]) THEN 1 ELSE 0 END) AS {k}"
        for k, v in groups.items()
    )
    return f"""
    WITH u AS (
        SELECT userid, LOWER(regexp_extract(url, '^(?:[a-zA-Z]+://)?(?:www\\.)?([^/:?#]+)', 1)) AS domain
        FROM (SELECT userid, UNNEST(urls) AS url FROM tw)
    ),
    ud AS (SELECT userid, COUNT(DISTINCT domain)::DOUBLE / COUNT(*) AS url_domain_diversity, {cases} FROM u GROUP BY userid),
    hs AS (
        SELECT userid, COUNT(DISTINCT LOWER(tag))::DOUBLE / COUNT(*) AS hashtag_diversity
        FROM (SELECT userid, UNNEST(hashtags) AS tag FROM tw) GROUP BY userid
    )
    SELECT a.userid, ud.* EXCLUDE (userid), hs.hashtag_diversity
    FROM (SELECT DISTINCT userid FROM tw) a
    LEFT JOIN ud USING (userid) LEFT JOIN hs USING (userid)
    """


def creation_per_day_sql(source: str = "a") -> str:
    """Accounts created per (population, day) in `source`."""
    return f"""SELECT population, account_creation_date AS d, COUNT(*) AS n
        FROM {source} WHERE account_creation_date IS NOT NULL GROUP BY ALL"""


def creation_batch_day_sql(s: FeaturesParams, per_day: str = "per_day") -> str:
    """(population, d, creation_batch_size) from per-day counts `per_day(population, d, n)`.

    Accounts created within the window of each other in the same population: the networks
    in the public record were registered in batches on single days. A range window over
    per-day counts keeps this linear, however large a batch is. It is population-level, so
    an engine that computes the rest per account partition computes this once and passes
    it in (`profile_features_sql(s, batch_day=...)`).
    """
    w = int(s.batch_window_days)
    return f"""SELECT population, d, SUM(n) OVER (
            PARTITION BY population ORDER BY d
            RANGE BETWEEN INTERVAL ({w}) DAY PRECEDING AND INTERVAL ({w}) DAY FOLLOWING) AS creation_batch_size
        FROM {per_day}"""


def profile_features_sql(s: FeaturesParams, batch_day: str | None = None) -> str:
    """Profile, handle shape and creation-batch features over a view `acc`.

    Handle and name features are NULL for hashed rows: the archive replaces names with the
    id hash there, so their shape says nothing about the account. `batch_day` names a table
    of `creation_batch_day_sql` rows computed over the whole population; without it they
    are computed here from `acc`.
    """
    batch_ctes = (
        f"batch_day AS (SELECT population, d, creation_batch_size FROM {batch_day}),"
        if batch_day
        else f"per_day AS ({creation_per_day_sql('a')}),\n    batch_day AS ({creation_batch_day_sql(s)}),"
    )
    return f"""
    WITH a AS (
        SELECT *,
            CASE WHEN is_hashed AND user_screen_name = userid THEN NULL ELSE user_screen_name END AS handle,
            CASE WHEN is_hashed AND user_display_name = userid THEN NULL ELSE user_display_name END AS dname
        FROM acc
    ),
    chars AS (
        SELECT userid, -SUM(p * LOG2(p)) AS handle_char_entropy FROM (
            SELECT userid, COUNT(*)::DOUBLE / SUM(COUNT(*)) OVER (PARTITION BY userid) AS p
            FROM (SELECT userid, UNNEST(string_split(LOWER(handle), '')) AS c FROM a WHERE handle IS NOT NULL AND handle <> '')
            GROUP BY userid, c
        ) GROUP BY userid
    ),
    {batch_ctes}
    batch AS (
        SELECT a.userid, b.creation_batch_size FROM a
        JOIN batch_day b ON a.population = b.population AND a.account_creation_date = b.d
    )
    SELECT a.userid,
        LN(1 + follower_count) AS log_followers,
        LN(1 + following_count) AS log_following,
        LN((1 + follower_count) / (1 + following_count)) AS log_follower_ratio,
        CASE WHEN follower_count IS NULL THEN NULL WHEN follower_count < 10 THEN 1 ELSE 0 END AS under_ten_followers,
        CASE WHEN COALESCE(user_profile_description, '') <> '' THEN 1 ELSE 0 END AS has_description,
        CASE WHEN COALESCE(user_reported_location, '') <> '' THEN 1 ELSE 0 END AS has_location,
        CASE WHEN COALESCE(user_profile_url, '') <> '' THEN 1 ELSE 0 END AS has_profile_url,
        LENGTH(COALESCE(user_profile_description, '')) AS description_length,
        LENGTH(handle) AS handle_length,
        LENGTH(regexp_replace(handle, '[^0-9]', '', 'g')) AS handle_digits,
        LENGTH(regexp_replace(handle, '[^0-9]', '', 'g'))::DOUBLE / NULLIF(LENGTH(handle), 0) AS handle_digit_share,
        CASE WHEN handle IS NULL THEN NULL WHEN regexp_matches(handle, '[0-9]{{2,}}$') THEN 1 ELSE 0 END AS handle_trailing_digits,
        CASE WHEN handle IS NULL THEN NULL
             WHEN regexp_matches(handle, '[a-z][A-Z][a-z]') AND regexp_matches(handle, '[A-Z].*[A-Z]') THEN 1 ELSE 0 END AS handle_mixed_case,
        chars.handle_char_entropy,
        CASE WHEN handle IS NULL OR dname IS NULL THEN NULL
             WHEN LOWER(regexp_replace(dname, '\\s', '', 'g')) = LOWER(handle) THEN 1 ELSE 0 END AS name_equals_handle,
        CASE WHEN dname IS NULL THEN NULL WHEN regexp_matches(dname, '[\\x{{4e00}}-\\x{{9fff}}]') THEN 1 ELSE 0 END AS name_has_cjk,
        batch.creation_batch_size,
        CASE WHEN is_hashed THEN 1 ELSE 0 END AS is_hashed,
        account_creation_date
    FROM a LEFT JOIN chars USING (userid) LEFT JOIN batch USING (userid)
    """


def compute_behaviour(
    con: duckdb.DuckDBPyConnection, s: FeaturesParams, batch_day: str | None = None
) -> duckdb.DuckDBPyRelation:
    """Join tweet, entity and profile features into one row per account of view `acc`.

    Expects view `acc` (accounts, with a `population` column) and the working table `tw`
    (`tables.materialise_tweets`). Accounts with no tweets keep their profile features;
    tweet features are NULL. `batch_day`: see `profile_features_sql`.
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE f_tweets AS {tweet_features_sql(s)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE f_ent AS {entity_features_sql()}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE f_hour_local AS {_hour_entropy_sql(s.local_utc_offset_hours)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE f_hour_utc AS {_hour_entropy_sql(0)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE f_client AS {_entropy_sql('tw', 'tweet_client_name')}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE f_prof AS {profile_features_sql(s, batch_day)}")
    return con.sql(
        """
        SELECT p.userid,
               p.* EXCLUDE (userid, account_creation_date),
               f.* EXCLUDE (userid, first_tweet_time, last_tweet_time),
               e.* EXCLUDE (userid),
               hl.entropy AS hour_entropy_local,
               hu.entropy AS hour_entropy_utc,
               c.entropy AS client_entropy,
               DATE_DIFF('day', p.account_creation_date, CAST(f.first_tweet_time AS DATE)) AS account_age_at_first_tweet_days,
               DATE_DIFF('day', p.account_creation_date, CAST(f.last_tweet_time AS DATE)) AS account_age_at_last_tweet_days,
               CASE WHEN f.n_tweets IS NULL THEN 1 ELSE 0 END AS no_tweets
        FROM f_prof p
        LEFT JOIN f_tweets f USING (userid)
        LEFT JOIN f_ent e USING (userid)
        LEFT JOIN f_hour_local hl USING (userid)
        LEFT JOIN f_hour_utc hu USING (userid)
        LEFT JOIN f_client c USING (userid)
        ORDER BY p.userid
        """
    )
