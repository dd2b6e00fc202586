"""Coordination features: what accounts do *together*, within one population.

The research on influence operations finds coordination the strongest signal (Pacheco et
al., "Uncovering Coordinated Networks on Social Media", ICWSM 2021: co-retweet, fast
retweet, hashtag sequences, text similarity; Keller et al., "Political Astroturfing on
Twitter", 2020: co-tweeting and co-retweeting within minutes; Twitter's 2019 and 2020
China disclosures and ASPI's "Retweeting through the great firewall", 2020: copy-pasted
text and amplifiers retweeting core accounts). Each family builds ties between accounts
that share *items* (a retweeted tweet, a near-duplicate text bucket, a hashtag sequence,
a URL, a minute of posting); the ties are fused into one graph whose degree, strongest tie
and connected component size become per-account features.

Cost: no all-pairs step. Pairs are only formed inside an item, and items shared by more
than `max_item_accounts` accounts are dropped (popular content is not evidence of
coordination), so the pair count is at most cap × memberships: linear in the data.
Everything runs as DuckDB SQL; connected components use scipy's sparse graph code.

Written once, for every engine: each `*_sql` builder below is one step, reads the tables
it is named, and gives the right rows from any subset of its input that holds every row
of each value of its *key* (named in its docstring). `compute_coordination` runs the
steps in one DuckDB over everything; the Spark engine shuffles rows by each step's key
and runs the same builders in DuckDB on every partition (pipeline/spark_engine.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipeline import canon
from pipeline.config import CoordinationParams

FAMILIES = ("co_retweet", "near_duplicate", "co_hashtag_seq", "co_url", "sync")
# Families whose items are read off single tweets; near-duplicate items need the text groups first.
TWEET_FAMILIES = tuple(f for f in FAMILIES if f != "near_duplicate")

# Strip what copy-pasters change or what carries no content, then compare characters.
# URLs and mentions differ between copies; punctuation, digits and spaces are easy edits.
_NORMALISE = r"(^rt\s+)|(https?://\S+)|(@\w+)|[\s\p{P}\p{S}\d]+"


@dataclass(frozen=True)
class FamilyRule:
    cap: int  # items held by more accounts than this are popular, not coordinated
    min_shared: int  # a pair needs this many shared items to be a tie


def family_rule(p: CoordinationParams, fam: str) -> FamilyRule:
    """A family's item cap and shared-item minimum. A minute is shared by chance far more
    often than a tweet or a URL, so synchronised posting has its own, stricter pair."""
    if fam == "sync":
        return FamilyRule(p.max_sync_accounts, p.min_shared_sync)
    return FamilyRule(p.max_item_accounts, p.min_shared)


def normalised_text_sql(col: str = "tweet_text") -> str:
    """The text near-duplicate matching compares: its match key (canonical, trailing padding
    stripped: pipeline/canon.py) without what copy-pasters change."""
    return f"LOWER(regexp_replace({canon.MATCH_UDF_NAME}({col}), '{_NORMALISE}', '', 'g'))"


# ---------------------------------------------------------------- items

def items_sql(p: CoordinationParams, tw: str = "tw", doc_groups: str = "nd_doc_groups",
              item_times: bool = False) -> dict[str, str]:
    """(population, item, userid, t) membership per family: TWEET_FAMILIES from the working
    table `tw` (row by row: no key), near_duplicate from `doc_groups` (`nd_doc_groups_sql`).

    t: when the account shared the item (epoch seconds). The timed families' window
    (`family_window_s`) reads it, so they always carry it. A family tested against the
    configuration null (its window set to null) carries it only with `item_times`, for the
    network's evidence (pipeline/network.py), which dates every tie by it; left NULL
    otherwise, because computing and aggregating it costs the features ~20 % of the
    coordination time at 1M tweets.

    Synchronised posting's item is a span of `sync_span_minutes`, each account's first post
    in it timed: the pair's posts within `sync_bin_minutes` of each other are tested against
    how often the population's pairs active in the same span post that close.
    """
    span_s = 60 * p.sync_span_minutes
    untimed_t = "EPOCH(tweet_time)::DOUBLE" if item_times else "NULL::DOUBLE"
    hashtag_t = "EPOCH(tweet_time)::DOUBLE" if family_window_s(p, "co_hashtag_seq") is not None else untimed_t
    return {
        "co_retweet": f"""SELECT population, retweet_tweetid AS item, userid, EPOCH(tweet_time)::DOUBLE AS t FROM {tw}
                         WHERE is_retweet AND retweet_tweetid IS NOT NULL""",
        "co_hashtag_seq": f"""SELECT population, array_to_string(list_transform(hashtags, lambda x: LOWER(x)), ' ') AS item, userid,
                                    {hashtag_t} AS t
                             FROM {tw} WHERE LEN(hashtags) >= 2 AND NOT COALESCE(is_retweet, FALSE)""",
        "co_url": f"""SELECT population, LOWER(url) AS item, userid, t FROM (
                        SELECT population, userid, EPOCH(tweet_time)::DOUBLE AS t, UNNEST(urls) AS url FROM {tw}
                        WHERE NOT COALESCE(is_retweet, FALSE))
                     WHERE NOT regexp_matches(url, '^https?://(www\\.)?(twitter\\.com|t\\.co)(/|$)', 'i')""",
        "sync": f"""SELECT population, CAST(FLOOR(EPOCH(tweet_time) / {span_s}) AS VARCHAR) AS item, userid,
                        EPOCH(tweet_time)::DOUBLE AS t FROM {tw}""",
        "near_duplicate": f"SELECT population, grp AS item, userid, t FROM {doc_groups}",
    }


# ---------------------------------------------------------------- pairs and ties
#
# A tie must beat chance: popular items are shared by organic users too (the same viral
# post, the same trending hashtag). Each shared item is weighted by its rarity in the
# population, w = ln(accounts / holders) (IDF, as in the coordination-network literature),
# and a pair's weighted co-sharing is compared with a null model; a pair is a tie only where
# its z-score reaches the one-sided `significance` level, and it still needs the family's
# `min_shared` items and `min_tie_weight`. Two nulls, by what the family's item is:
#
# - Timed (every family by default: `family_window_s`). A community shares the same viral
#   posts, phrases and trending hashtags too, over hours and days, and is active at the same
#   hours of the day; an operation acts within minutes, again and again. Of the weight a pair
#   shares, the share shared within the family's window is tested against p0, the share of
#   the population's other co-sharing pairs that fall within it (a time-shuffled baseline,
#   with a weak prior): z = (S_close - p0 S) / sqrt(p0 (1 - p0) sum w^2). Synchronised
#   posting is the same test on spans of time (a jitter null): posting within a minute of
#   each other, against being active in the same hour.
# - A family whose window is set to null: a configuration null. Each of an account's d items
#   lands on item i with probability n_i / T (n_i holders, T memberships), so
#   E[S] = d_u d_v sum(w n^2) / T^2 and Var[S] ~ d_u d_v sum(w^2 n^2) / T^2. It assumes one
#   well-mixed population: measured on three generated worlds, communities that draw on the
#   same phrase banks and trends beat it as an operation does (docs/features.md).
#
# The self-join runs on integers where one engine sees every account (an account number in
# userid order, a 64-bit hash of population and item), not on strings: at 10M tweets the
# pair rows are what fill memory. `uid` is that number, or the userid itself where accounts
# are spread over partitions; both order pairs (u < v) the same way. The nulls' population
# figures are sums, so an engine that splits the rows adds up its partial sums
# (`population_sums_sql`).

# The time baseline's prior: 1 co-share in 10 within the window, worth 10 pairs of evidence.
PRIOR_CLOSE, PRIOR_PAIRS = 1.0, 10.0


def account_ids_sql(items: str) -> str:
    """An integer per account of `items`, in userid order: (userid, uid)."""
    return f"""SELECT userid, ROW_NUMBER() OVER (ORDER BY userid) AS uid
               FROM (SELECT DISTINCT userid FROM {items} WHERE item IS NOT NULL)"""


def members_sql(items: str, ids: str | None = None) -> str:
    """(population, key, uid, t) of `items(population, item, userid, t)`, one row per account
    and item, t its first share (epoch seconds; only the timed families' pairs read it);
    key: hash of population and item. uid comes from `ids` (`account_ids_sql`), else is the
    userid. Key: item or account."""
    uid, join = ("ids.uid", f" JOIN {ids} ids USING (userid)") if ids else ("i.userid", "")
    return f"""SELECT i.population, hash(i.population, i.item) AS key, {uid} AS uid, MIN(i.t) AS t
               FROM {items} i{join} WHERE i.item IS NOT NULL GROUP BY ALL"""


def items_per_account_sql(members: str) -> str:
    """(population, uid, n_items): how many distinct items each account holds, popular ones
    included (its activity, d, in the configuration null). Key: uid."""
    return f"SELECT population, uid, COUNT(*) AS n_items FROM {members} GROUP BY ALL"


def population_totals_sql(n_items: str) -> str:
    """Per population: accounts holding any item, and memberships (T). Partial totals add up
    (`population_sums_sql`). Row by row."""
    return f"""SELECT population, COUNT(*)::DOUBLE AS n_accounts, SUM(n_items)::DOUBLE AS n_memberships
               FROM {n_items} GROUP BY population"""


# The columns of `population_totals_sql`, for an engine that adds up partial totals.
POPULATION_TOTALS = ("n_accounts", "n_memberships")


def kept_items_sql(members: str, totals: str, cap: int) -> str:
    """Items held by 2..cap accounts, with holders and IDF weight: (population, key, n, w).
    Key: item (`totals` whole)."""
    return f"""SELECT m.population, m.key, COUNT(*)::DOUBLE AS n, LN(ANY_VALUE(t.n_accounts) / COUNT(*)) AS w
               FROM {members} m JOIN {totals} t ON t.population = m.population
               GROUP BY m.population, m.key HAVING COUNT(*) BETWEEN 2 AND {int(cap)}"""


def pair_rows_sql(members: str, kept: str, window_s: float | None) -> str:
    """(population, u, v, w, close), u < v, once per kept item both hold; close: both shared
    it within `window_s` of each other. Key: item."""
    close = "FALSE" if window_s is None else f"COALESCE(ABS(a.t - b.t) <= {float(window_s)}, FALSE)"
    return f"""
        WITH kept AS (SELECT m.population, m.key, m.uid, m.t, k.w FROM {members} m JOIN {kept} k USING (population, key))
        SELECT a.population, a.uid AS u, b.uid AS v, a.w, {close} AS close
        FROM kept a JOIN kept b ON a.key = b.key AND a.uid < b.uid
    """


def null_sums_sql(kept: str, pair_rows: str) -> str:
    """Per population, the nulls' sums: s1 = sum(w n^2) and s2 = sum(w^2 n^2) over kept items
    (configuration), co-sharing pairs and those close in time (time baseline). Partial sums
    add up (`population_sums_sql`). Row by row."""
    return f"""
        SELECT population, SUM(s1) AS s1, SUM(s2) AS s2, SUM(n_pairs) AS n_pairs, SUM(n_close) AS n_close FROM (
            SELECT population, SUM(w * n * n) AS s1, SUM(w * w * n * n) AS s2, 0.0 AS n_pairs, 0.0 AS n_close
            FROM {kept} GROUP BY population
            UNION ALL
            SELECT population, 0.0, 0.0, COUNT(*)::DOUBLE, SUM(close::INT)::DOUBLE FROM {pair_rows} GROUP BY population
        ) GROUP BY population
    """


NULL_SUMS = ("s1", "s2", "n_pairs", "n_close")


def population_sums_sql(partials: str, columns: Sequence[str]) -> str:
    """Partial per-population sums of `columns` (from rows split over partitions), added up. Row by row."""
    return f"SELECT population, {', '.join(f'SUM({c}) AS {c}' for c in columns)} FROM {partials} GROUP BY population"


def pair_counts_sql(pair_rows: str, min_shared: int) -> str:
    """Per pair sharing at least `min_shared` items: (population, u, v, shared, score, score2,
    close_shared, close_score), scores the sums of w and w^2. Key: the pair (or u).
    Both counts are COUNTs, BIGINT (a SUM or COUNT_IF of flags is HUGEINT, which Spark has no
    type for): a partition's rows keep their type, and timed and untimed ties share one."""
    return f"""SELECT population, u, v, COUNT(*) AS shared, SUM(w) AS score, SUM(w * w) AS score2,
                      COUNT(*) FILTER (WHERE close) AS close_shared, SUM(CASE WHEN close THEN w ELSE 0 END) AS close_score
               FROM {pair_rows} GROUP BY ALL HAVING COUNT(*) >= {int(min_shared)}"""


def pair_u_items_sql(pairs: str, n_items: str) -> str:
    """`pairs` with u's item count, n_u. Key: u (`n_items` by uid)."""
    return f"SELECT p.*, n.n_items AS n_u FROM {pairs} p JOIN {n_items} n ON n.uid = p.u"


def tie_weights_sql(pairs_u: str, n_items: str, totals: str, sums: str, p: CoordinationParams, fam: str) -> str:
    """(u, v, shared, weight, z): the pairs of family `fam` that beat its null at
    `p.significance`, with its `min_shared` items shared (within the window, for a timed
    family) and weight = those items / the smaller account's items at least `p.min_tie_weight`.
    Key: v (`n_items` by uid; `totals` and `sums` whole)."""
    z_crit = float(NormalDist().inv_cdf(1.0 - p.significance))
    min_shared = family_rule(p, fam).min_shared
    if family_window_s(p, fam) is not None:
        # p0 from the *other* pairs' co-shares (the pair must not set its own baseline), with a
        # weak prior of 1 close in 10 so that a sparse population still has one.
        p0 = (f"((n_close - close_shared + {PRIOR_CLOSE}) / (n_pairs - shared + {PRIOR_PAIRS}))")
        z = f"(close_score - {p0} * score) / SQRT({p0} * (1 - {p0}) * score2)"
        counted = "close_shared"
    else:
        z = "(score - n_u * n_v * s1 / (big_t * big_t)) / NULLIF(SQRT(n_u * n_v * s2 / (big_t * big_t)), 0)"
        counted = "shared"
    weight = f"{counted} / LEAST(n_u, n_v)::DOUBLE"
    return f"""
        WITH x AS (
            SELECT pu.*, n.n_items AS n_v, t.n_memberships AS big_t, s.s1, s.s2, s.n_pairs, s.n_close
            FROM {pairs_u} pu JOIN {n_items} n ON n.uid = pu.v
            JOIN {totals} t ON t.population = pu.population JOIN {sums} s ON s.population = pu.population),
        z AS (SELECT *, {z} AS z FROM x)
        SELECT u, v, {counted} AS shared, {weight} AS weight, z FROM z
        WHERE {counted} >= {int(min_shared)} AND {weight} >= {float(p.min_tie_weight)} AND z >= {z_crit}
    """


def family_window_s(p: CoordinationParams, fam: str) -> float | None:
    """A family's window in seconds: a pair's items shared this close in time are tested
    against the time baseline. None where the family's window is set to null: its co-sharing
    is tested against the configuration null instead."""
    minutes = {"near_duplicate": p.near_duplicate_window_minutes, "co_hashtag_seq": p.hashtag_window_minutes,
               "sync": p.sync_bin_minutes}.get(fam, p.co_share_window_minutes)
    return None if minutes is None else 60.0 * minutes


def pairs_sql(items: str, fam: str, p: CoordinationParams) -> str:
    """One family's ties over all of `items`, in one query: (u, v, shared, weight, z) by userid."""
    rule, window = family_rule(p, fam), family_window_s(p, fam)
    return f"""
    WITH ids AS ({account_ids_sql(items)}),
    members AS ({members_sql(items, 'ids')}),
    n_items AS ({items_per_account_sql('members')}),
    totals AS ({population_totals_sql('n_items')}),
    kept AS ({kept_items_sql('members', 'totals', rule.cap)}),
    pair_rows AS ({pair_rows_sql('members', 'kept', window)}),
    sums AS ({null_sums_sql('kept', 'pair_rows')}),
    pairs AS ({pair_counts_sql('pair_rows', rule.min_shared)}),
    pairs_u AS ({pair_u_items_sql('pairs', 'n_items')}),
    ties AS ({tie_weights_sql('pairs_u', 'n_items', 'totals', 'sums', p, fam)})
    SELECT iu.userid AS u, iv.userid AS v, shared, weight, z
    FROM ties JOIN ids iu ON iu.uid = ties.u JOIN ids iv ON iv.uid = ties.v
    """


def tie_ends_sql(ties: str) -> str:
    """Both ends of each tie of `ties(u, v, weight, fam)`: (userid, partner, weight, fam). Row by row."""
    return f"""SELECT u AS userid, v AS partner, weight, fam FROM {ties}
               UNION ALL SELECT v, u, weight, fam FROM {ties}"""


def degree_sql(ends: str) -> str:
    """Per account: partners (any family and per family), strongest tie, families tied. Key: userid.

    Ties are first folded per (account, partner) with a bit per family, so each count is a
    plain COUNT/SUM: no COUNT(DISTINCT), which at millions of ties dominated the step.
    """
    bit = " ".join(f"WHEN '{f}' THEN {1 << i}" for i, f in enumerate(FAMILIES))
    per_fam = ", ".join(f"SUM((fams >> {i}) & 1)::BIGINT AS {f}_partners" for i, f in enumerate(FAMILIES))
    return f"""
        WITH pp AS (SELECT userid, partner, MAX(weight) AS w, BIT_OR(CASE fam {bit} END) AS fams FROM {ends} GROUP BY ALL)
        SELECT userid, COUNT(*) AS coord_partners, MAX(w) AS coord_max_tie_weight,
               bit_count(BIT_OR(fams))::BIGINT AS coord_families, {per_fam}
        FROM pp GROUP BY userid
        """


# ---------------------------------------------------------------- near-duplicate text

def nd_docs_sql(p: CoordinationParams, source: str = "tweets t JOIN acc a USING (userid)") -> str:
    """Original tweets' normalised text, long enough to compare: (population, userid, tweetid, t, norm).

    `source` must expose the tweet columns as `t` and the account's `population` as `a`. Row by row.
    """
    # MATERIALIZED: pushed into the subquery, the length filter repeated the expression, so
    # DuckDB ran the text functions twice per tweet (at 10M tweets this query took 23 s, 14 s
    # so; test_canon checks one call per tweet).
    return f"""
        WITH d AS MATERIALIZED (
            SELECT a.population, t.userid, t.tweetid, EPOCH(t.tweet_time)::DOUBLE AS t, {normalised_text_sql('t.tweet_text')} AS norm
            FROM {source}
            WHERE NOT COALESCE(t.is_retweet, FALSE) AND t.tweet_text IS NOT NULL
        )
        SELECT population, userid, tweetid, t, norm FROM d WHERE LENGTH(norm) >= {int(p.min_text_chars)}
    """


def nd_texts_sql(docs: str = "nd_docs", text_id: str = "ROW_NUMBER() OVER ()") -> str:
    """Each distinct text of `docs` once, with an id: (norm, text_id). Key: norm.

    Signatures are computed once per distinct text: copy-paste makes exact repeats common.
    The default id, a row number, is unique over one query; where texts are spread over
    partitions, pass `text_id="norm"`.
    """
    return f"SELECT norm, {text_id} AS text_id FROM (SELECT DISTINCT norm FROM {docs})"


def nd_keys_sql(p: CoordinationParams, texts: str = "nd_texts") -> str:
    """MinHash LSH keys of each distinct text in `texts(norm, text_id)`: (text_id, band, key). Key: text.

    A key depends only on the text, so any engine that runs this SQL gets the same buckets.
    """
    k, n_hash = p.shingle_chars, p.minhash_bands * p.minhash_rows
    mins = ", ".join(f"MIN(hash(h, {j})) AS m{j}" for j in range(n_hash))
    bands = " UNION ALL ".join(
        f"SELECT text_id, {b}::UTINYINT AS band, hash({', '.join(f'm{b * p.minhash_rows + r}' for r in range(p.minhash_rows))}) AS key FROM sig"
        for b in range(p.minhash_bands)
    )
    return f"""
        WITH sh AS (
            SELECT text_id, hash(substr(norm, i, {k})) AS h
            FROM (SELECT *, UNNEST(generate_series(1, LENGTH(norm) - {k} + 1)) AS i FROM {texts})
        ),
        sig AS (SELECT text_id, {mins} FROM sh GROUP BY text_id)
        {bands}
    """


# A text's own label: 63 bits of its hash, so it fits a signed 64-bit column in every engine.
TEXT_LABEL_SQL = "(hash(norm) >> 1)::BIGINT"

# The two keys of min-label propagation: a bucket (LSH band and key) and a text, each within a population.
ND_BUCKET = ("population", "band", "key")
ND_TEXT = ("population", "text_id")


def nd_state_sql(docs: str = "nd_docs", texts: str = "nd_texts", keys: str = "nd_keys") -> str:
    """Propagation's start: each (population, text) on each of its buckets, labelled with the
    text's own label: (population, text_id, band, key, grp). Key: norm (text)."""
    return f"""
        WITH pt AS (SELECT DISTINCT d.population, t.text_id, {TEXT_LABEL_SQL} AS grp FROM {docs} d JOIN {texts} t USING (norm))
        SELECT pt.population, pt.text_id, k.band, k.key, pt.grp FROM pt JOIN {keys} k USING (text_id)
    """


def nd_spread_sql(state: str, by: Sequence[str]) -> str:
    """Each row of `state` takes the smallest label among the rows that share `by`. Key: `by`."""
    cols = ", ".join(by)
    return f"""SELECT s.population, s.text_id, s.band, s.key, m.grp FROM {state} s
               JOIN (SELECT {cols}, MIN(grp) AS grp FROM {state} GROUP BY {cols}) m USING ({cols})"""


def nd_spread_steps(rounds: int) -> list[tuple[str, ...]]:
    """The keys of the `nd_spread_sql` steps of `rounds` rounds, in order; `nd_text_groups_sql` ends the last round."""
    return ([ND_BUCKET, ND_TEXT] * int(rounds))[:-1]


def nd_text_groups_sql(state: str) -> str:
    """Each text's label: (population, text_id, grp). Key: text."""
    return f"SELECT population, text_id, MIN(grp) AS grp FROM {state} GROUP BY ALL"


def nd_groups_sql(rounds: int, state: str = "nd_state") -> str:
    """Near-duplicate group of each distinct text within each population: (population, text_id, grp).

    Texts that share an LSH bucket are near-duplicates. Each text starts with its own label
    (`nd_state_sql`) and, `rounds` times, takes the smallest label found in any of its buckets
    (min-label propagation: to a bucket, then back to its texts), so copies of one text end in
    one group. One group per text, instead of one item per band, is what keeps the pair join
    small: two accounts that share a copied text share one item, not one per band.
    Propagation stops after `rounds` hops rather than closing transitively, so a chain of small
    edits never grows into one giant group. It runs within a population, so an account's
    groups depend only on the accounts it is scored with, as every other coordination item does.
    """
    parts = [f"s0 AS (SELECT * FROM {state})"]
    for i, by in enumerate(nd_spread_steps(rounds), start=1):
        parts.append(f"s{i} AS ({nd_spread_sql(f's{i - 1}', by)})")
    return f"WITH {', '.join(parts)} {nd_text_groups_sql(f's{len(parts) - 1}')}"


def nd_doc_groups_sql(docs: str = "nd_docs", texts: str = "nd_texts", groups: str = "nd_groups") -> str:
    """Each document's group: (population, userid, tweetid, t, grp). Key: text."""
    return f"""SELECT d.population, d.userid, d.tweetid, d.t, g.grp
               FROM {docs} d JOIN {texts} t USING (norm) JOIN {groups} g USING (population, text_id)"""


def near_duplicate_groups(con: duckdb.DuckDBPyConnection, p: CoordinationParams) -> None:
    """Near-duplicate group of each original tweet → table `nd_doc_groups(population, userid, tweetid, t, grp)`."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE nd_docs AS {nd_docs_sql(p)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE nd_texts AS {nd_texts_sql()}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE nd_keys AS {nd_keys_sql(p)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE nd_state AS {nd_state_sql()}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE nd_groups AS {nd_groups_sql(p.near_duplicate_rounds)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE nd_doc_groups AS {nd_doc_groups_sql()}")
    # Only the documents' groups are read from here on. At 10M tweets the steps' tables hold
    # millions of texts, and left in place they crowd the memory limit the pair joins need.
    for table in ("nd_docs", "nd_texts", "nd_keys", "nd_state", "nd_groups"):
        con.execute(f"DROP TABLE {table}")


def near_duplicate_flags_sql(doc_groups: str = "nd_doc_groups") -> str:
    """Per document: 1.0 when its group spans two accounts or more, else 0.0: (userid, near_duplicate).
    Key: group (population, grp)."""
    return f"""
        WITH multi AS (SELECT population, grp FROM {doc_groups} GROUP BY ALL HAVING COUNT(DISTINCT userid) >= 2)
        SELECT d.userid, CASE WHEN m.grp IS NOT NULL THEN 1.0 ELSE 0.0 END AS near_duplicate
        FROM {doc_groups} d LEFT JOIN multi m USING (population, grp)
    """


def near_duplicate_share_sql(flags: str) -> str:
    """(userid, share_posts_near_duplicate). Key: userid."""
    return f"SELECT userid, AVG(near_duplicate) AS share_posts_near_duplicate FROM {flags} GROUP BY userid"


# ---------------------------------------------------------------- fast retweets

def retweet_delays_sql(retweets: str = "tw", originals: str = "tw") -> str:
    """Delay between a retweet and its original, where the original is in the population:
    (userid, orig_userid, orig_tweetid, delay, t), t when the retweet was posted (epoch
    seconds). Key: the original (population, tweetid), which is `retweets.retweet_tweetid`
    and `originals.tweetid`."""
    return f"""
        SELECT r.userid, o.userid AS orig_userid, o.tweetid AS orig_tweetid,
               EPOCH(r.tweet_time) - EPOCH(o.tweet_time) AS delay, EPOCH(r.tweet_time)::DOUBLE AS t
        FROM {retweets} r JOIN {originals} o ON r.retweet_tweetid = o.tweetid AND r.population = o.population
        WHERE r.is_retweet AND r.userid <> o.userid
    """


def fast_retweets_sql(p: CoordinationParams, delays: str = "rt_delays", core_delays: str | None = None) -> str:
    """Per account: how fast it retweets (from `delays`, key userid) and how many of its tweets
    are retweeted fast (from `core_delays`, key orig_userid; by default `delays`)."""
    shares = ", ".join(
        f"AVG(CASE WHEN delay <= {int(s)} THEN 1.0 ELSE 0.0 END) AS share_rt_within_{int(s)}s"
        for s in p.fast_retweet_seconds
    )
    first = int(min(p.fast_retweet_seconds))
    return f"""
    WITH amp AS (SELECT userid, COUNT(*) AS n_rt_in_population, {shares}, MEDIAN(delay) AS rt_delay_median_s
                 FROM {delays} GROUP BY userid),
    core AS (
        SELECT orig_userid AS userid, COUNT(DISTINCT orig_tweetid) AS n_fast_retweeted
        FROM {core_delays or delays} WHERE delay <= {first} GROUP BY orig_userid
    )
    SELECT userid, amp.* EXCLUDE (userid), core.n_fast_retweeted FROM amp FULL JOIN core USING (userid)
    """


# ---------------------------------------------------------------- clusters and the feature table

def tie_clusters(u, v) -> pa.Table:
    """Connected components of the tie graph with edges `u`–`v` (userids):
    (userid, coord_cluster, coord_cluster_size) for every account with a tie."""
    u, v = np.asarray(u, dtype=object), np.asarray(v, dtype=object)
    users, index = np.unique(np.concatenate([u, v]), return_inverse=True)
    ids, sizes = cluster_labels(users, index[: len(u)], index[len(u):])
    return pa.table({"userid": pa.array(users, pa.string()), "coord_cluster": pa.array(ids, pa.string()),
                     "coord_cluster_size": pa.array(sizes, pa.float64())})


def cluster_labels(users, rows, cols) -> tuple[np.ndarray, np.ndarray]:
    """Component id and size per user of `users` (sorted by userid) given edges as index pairs.

    The id is "c:" + the smallest userid in the component, "" for a singleton. Every
    engine calls this, so cluster ids agree wherever accounts are scored.
    """
    n = len(users)
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels)[labels].astype(float)
    # A stable, readable id: the smallest userid in the component (users are sorted).
    first = pd.Series(np.asarray(users, dtype=object)).groupby(labels).transform("first").to_numpy()
    ids = np.where(sizes > 1, np.char.add("c:", first.astype(str)), "")
    return ids, sizes


# Absence of ties is a value, not missing data: no partner is zero partners, no cluster is a
# cluster of one. The strongest tie and the median delay of an account without any stay missing.
ABSENT_VALUES = {"coord_cluster": "", "coord_cluster_size": 1.0}
KEEP_MISSING = ("userid", "rt_delay_median_s", "coord_max_tie_weight")


def coordination_sql(p: CoordinationParams, accounts: str = "acc", ends: str = "coord_ends", flags: str = "nd_flags",
                     delays: str = "rt_delays", core_delays: str | None = None, clusters: str = "coord_clusters") -> str:
    """One row per account of `accounts`, in userid order: degree (`ends`, `tie_ends_sql`),
    near-duplicate share (`flags`), fast retweets (`delays`, `core_delays`) and cluster
    (`clusters`, `tie_clusters`). Key: userid (`core_delays` by orig_userid)."""
    return f"""
        WITH deg AS ({degree_sql(ends)}), nd AS ({near_duplicate_share_sql(flags)}),
        fast AS ({fast_retweets_sql(p, delays, core_delays)})
        SELECT a.userid, deg.* EXCLUDE (userid), nd.share_posts_near_duplicate, fast.* EXCLUDE (userid),
               c.coord_cluster_size, c.coord_cluster
        FROM {accounts} a LEFT JOIN deg USING (userid) LEFT JOIN nd USING (userid)
        LEFT JOIN fast USING (userid) LEFT JOIN {clusters} c USING (userid)
        ORDER BY a.userid
    """


def assemble_coordination(con: duckdb.DuckDBPyConnection, p: CoordinationParams, **tables: str) -> pa.Table:
    """`coordination_sql` over the tables on `con` (names as its keyword arguments), absent values filled."""
    base = con.sql(coordination_sql(p, **tables)).to_arrow_table()
    filled = [c if name in KEEP_MISSING else c.fill_null(ABSENT_VALUES.get(name, 0))
              for name, c in zip(base.column_names, base.columns)]
    return pa.table(filled, names=base.column_names)


def compute_coordination(con: duckdb.DuckDBPyConnection, p: CoordinationParams, item_times: bool = False) -> pa.Table:
    """Per-account coordination features for every account in view `acc` (needs `population`).

    Expects views `acc` and `tweets` and the working table `tw` (`tables.materialise_tweets`). Returns userid, the features, and
    `coord_cluster` (a cluster id; meta, not a feature). `item_times`: every family's items
    keep their times (`items_sql`) and stay on `con` (tables `items_<family>`), for the
    network built from the tables left there; without it they are dropped once used.
    """
    near_duplicate_groups(con, p)
    items = items_sql(p, item_times=item_times)
    edges = []
    for fam in FAMILIES:
        con.execute(f"CREATE OR REPLACE TEMP TABLE items_{fam} AS {items[fam]}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE edges_{fam} AS {pairs_sql(f'items_{fam}', fam, p)}")
        edges.append(f"SELECT u, v, weight, '{fam}' AS fam FROM edges_{fam}")
        if not item_times:  # only the network reads items again; at 10M tweets, left in
            # place, they fill DuckDB's memory limit and the later pair joins spill to disk
            con.execute(f"DROP TABLE items_{fam}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE edges_all AS {' UNION ALL '.join(edges)}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW coord_ends AS {tie_ends_sql('edges_all')}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW nd_flags AS {near_duplicate_flags_sql()}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE rt_delays AS {retweet_delays_sql()}")
    ties = con.sql("SELECT u, v FROM edges_all").to_arrow_table()
    con.register("coord_clusters", tie_clusters(ties.column("u").to_numpy(zero_copy_only=False),
                                                ties.column("v").to_numpy(zero_copy_only=False)))
    try:
        return assemble_coordination(con, p)
    finally:
        con.unregister("coord_clusters")
