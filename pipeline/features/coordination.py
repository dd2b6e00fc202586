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

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipeline.config import CoordinationParams

FAMILIES = ("co_retweet", "near_duplicate", "co_hashtag_seq", "co_url", "sync")
# Families whose items are read off single tweets; near-duplicate items need the text groups first.
TWEET_FAMILIES = tuple(f for f in FAMILIES if f != "near_duplicate")

# Strip what copy-pasters change or what carries no content, then compare characters.
# URLs and mentions differ between copies; punctuation, digits and spaces are easy edits.
_NORMALISE = r"(^RT\s+)|(https?://\S+)|(@\w+)|[\s\p{P}\p{S}\d]+"


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
    return f"LOWER(regexp_replace({col}, '{_NORMALISE}', '', 'g'))"


# ---------------------------------------------------------------- items

def items_sql(p: CoordinationParams, tw: str = "tw", doc_groups: str = "nd_doc_groups") -> dict[str, str]:
    """(population, item, userid) membership per family: TWEET_FAMILIES from the working
    table `tw` (row by row: no key), near_duplicate from `doc_groups` (`nd_doc_groups_sql`)."""
    bin_s = 60 * p.sync_bin_minutes
    return {
        "co_retweet": f"SELECT population, retweet_tweetid AS item, userid FROM {tw} WHERE is_retweet AND retweet_tweetid IS NOT NULL",
        "co_hashtag_seq": f"""SELECT population, array_to_string(list_transform(hashtags, lambda x: LOWER(x)), ' ') AS item, userid
                             FROM {tw} WHERE LEN(hashtags) >= 2 AND NOT COALESCE(is_retweet, FALSE)""",
        "co_url": f"""SELECT population, LOWER(url) AS item, userid FROM (
                        SELECT population, userid, UNNEST(urls) AS url FROM {tw} WHERE NOT COALESCE(is_retweet, FALSE))
                     WHERE NOT regexp_matches(url, '^https?://(www\\.)?(twitter\\.com|t\\.co)(/|$)', 'i')""",
        "sync": f"SELECT population, CAST(FLOOR(EPOCH(tweet_time) / {bin_s}) AS VARCHAR) AS item, userid FROM {tw}",
        "near_duplicate": f"SELECT population, grp AS item, userid FROM {doc_groups}",
    }


# ---------------------------------------------------------------- pairs and ties
#
# The self-join runs on integers where one engine sees every account (an account number in
# userid order, a 64-bit hash of population and item), not on strings: at 10M tweets the
# pair rows are what fill memory. `uid` is that number, or the userid itself where accounts
# are spread over partitions; both order pairs (u < v) the same way.

def account_ids_sql(items: str) -> str:
    """An integer per account of `items`, in userid order: (userid, uid)."""
    return f"""SELECT userid, ROW_NUMBER() OVER (ORDER BY userid) AS uid
               FROM (SELECT DISTINCT userid FROM {items} WHERE item IS NOT NULL)"""


def members_sql(items: str, ids: str | None = None) -> str:
    """Distinct (key, uid) of `items(population, item, userid)`; key: hash of population and item.

    uid comes from `ids` (`account_ids_sql`), else is the userid. Key: item or account
    (distinct rows: any key that keeps equal rows together).
    """
    if ids is None:
        return f"SELECT DISTINCT hash(population, item) AS key, userid AS uid FROM {items} WHERE item IS NOT NULL"
    return f"""SELECT DISTINCT hash(t.population, t.item) AS key, ids.uid
               FROM {items} t JOIN {ids} ids USING (userid) WHERE t.item IS NOT NULL"""


def pair_rows_sql(members: str, cap: int) -> str:
    """(u, v), u < v, once per item of `members` both hold, among items held by 2..cap accounts. Key: item."""
    return f"""
        WITH sizes AS (SELECT key FROM {members} GROUP BY key HAVING COUNT(*) BETWEEN 2 AND {int(cap)}),
        kept AS (SELECT m.* FROM {members} m SEMI JOIN sizes s ON m.key = s.key)
        SELECT a.uid AS u, b.uid AS v FROM kept a JOIN kept b ON a.key = b.key AND a.uid < b.uid
    """


def pair_counts_sql(pair_rows: str, min_shared: int) -> str:
    """(u, v, shared): pairs sharing at least `min_shared` items. Key: the pair (or u)."""
    return f"SELECT u, v, COUNT(*) AS shared FROM {pair_rows} GROUP BY ALL HAVING COUNT(*) >= {int(min_shared)}"


def items_per_account_sql(members: str) -> str:
    """(uid, n_items): how many distinct items each account holds, popular ones included. Key: uid."""
    return f"SELECT uid, COUNT(*) AS n_items FROM {members} GROUP BY uid"


def pair_u_items_sql(pairs: str, n_items: str) -> str:
    """`pairs` with u's item count, n_u. Key: u (`n_items` by uid)."""
    return f"SELECT p.*, n.n_items AS n_u FROM {pairs} p JOIN {n_items} n ON n.uid = p.u"


def tie_weights_sql(pairs_u: str, n_items: str, min_weight: float) -> str:
    """(u, v, shared, weight), weight = shared / the smaller account's items, at least `min_weight`.
    Key: v (`n_items` by uid)."""
    weight = "p.shared / LEAST(p.n_u, n.n_items)::DOUBLE"
    return f"""SELECT p.u, p.v, p.shared, {weight} AS weight
               FROM {pairs_u} p JOIN {n_items} n ON n.uid = p.v WHERE {weight} >= {float(min_weight)}"""


def pairs_sql(items: str, rule: FamilyRule, min_weight: float) -> str:
    """One family's ties over all of `items`, in one query: (u, v, shared, weight) by userid."""
    return f"""
    WITH ids AS ({account_ids_sql(items)}),
    members AS ({members_sql(items, 'ids')}),
    pair_rows AS ({pair_rows_sql('members', rule.cap)}),
    pairs AS ({pair_counts_sql('pair_rows', rule.min_shared)}),
    n_items AS ({items_per_account_sql('members')}),
    pairs_u AS ({pair_u_items_sql('pairs', 'n_items')}),
    ties AS ({tie_weights_sql('pairs_u', 'n_items', min_weight)})
    SELECT iu.userid AS u, iv.userid AS v, shared, weight
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
    """Original tweets' normalised text, long enough to compare: (population, userid, tweetid, norm).

    `source` must expose the tweet columns as `t` and the account's `population` as `a`. Row by row.
    """
    return f"""
        SELECT population, userid, tweetid, norm FROM (
            SELECT a.population, t.userid, t.tweetid, {normalised_text_sql('t.tweet_text')} AS norm
            FROM {source}
            WHERE NOT COALESCE(t.is_retweet, FALSE) AND t.tweet_text IS NOT NULL
        ) WHERE LENGTH(norm) >= {int(p.min_text_chars)}
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
    """Each document's group: (population, userid, tweetid, grp). Key: text."""
    return f"""SELECT d.population, d.userid, d.tweetid, g.grp
               FROM {docs} d JOIN {texts} t USING (norm) JOIN {groups} g USING (population, text_id)"""


def near_duplicate_groups(con: duckdb.DuckDBPyConnection, p: CoordinationParams) -> None:
    """Near-duplicate group of each original tweet → table `nd_doc_groups(population, userid, tweetid, grp)`."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE nd_docs AS {nd_docs_sql(p)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE nd_texts AS {nd_texts_sql()}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE nd_keys AS {nd_keys_sql(p)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE nd_state AS {nd_state_sql()}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE nd_groups AS {nd_groups_sql(p.near_duplicate_rounds)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE nd_doc_groups AS {nd_doc_groups_sql()}")


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
    (userid, orig_userid, orig_tweetid, delay). Key: the original (population, tweetid),
    which is `retweets.retweet_tweetid` and `originals.tweetid`."""
    return f"""
        SELECT r.userid, o.userid AS orig_userid, o.tweetid AS orig_tweetid,
               EPOCH(r.tweet_time) - EPOCH(o.tweet_time) AS delay
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


def compute_coordination(con: duckdb.DuckDBPyConnection, p: CoordinationParams) -> pa.Table:
    """Per-account coordination features for every account in view `acc` (needs `population`).

    Expects views `acc` and `tweets` and the working table `tw` (`tables.materialise_tweets`). Returns userid, the features, and
    `coord_cluster` (a cluster id; meta, not a feature).
    """
    near_duplicate_groups(con, p)
    items = items_sql(p)
    edges = []
    for fam in FAMILIES:
        con.execute(f"CREATE OR REPLACE TEMP TABLE items_{fam} AS {items[fam]}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE edges_{fam} AS {pairs_sql(f'items_{fam}', family_rule(p, fam), p.min_tie_weight)}")
        edges.append(f"SELECT u, v, weight, '{fam}' AS fam FROM edges_{fam}")
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
