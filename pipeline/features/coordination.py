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
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipeline.config import CoordinationParams

FAMILIES = ("co_retweet", "near_duplicate", "co_hashtag_seq", "co_url", "sync")

# Strip what copy-pasters change or what carries no content, then compare characters.
# URLs and mentions differ between copies; punctuation, digits and spaces are easy edits.
_NORMALISE = r"(^RT\s+)|(https?://\S+)|(@\w+)|[\s\p{P}\p{S}\d]+"


def normalised_text_sql(col: str = "tweet_text") -> str:
    return f"LOWER(regexp_replace({col}, '{_NORMALISE}', '', 'g'))"


def _items_sql(p: CoordinationParams) -> dict[str, str]:
    """(population, item, userid) membership per family, over view `tw`."""
    bin_s = 60 * p.sync_bin_minutes
    return {
        "co_retweet": "SELECT population, retweet_tweetid AS item, userid FROM tw WHERE is_retweet AND retweet_tweetid IS NOT NULL",
        "co_hashtag_seq": """SELECT population, array_to_string(list_transform(hashtags, lambda x: LOWER(x)), ' ') AS item, userid
                             FROM tw WHERE LEN(hashtags) >= 2 AND NOT COALESCE(is_retweet, FALSE)""",
        "co_url": """SELECT population, LOWER(url) AS item, userid FROM (
                        SELECT population, userid, UNNEST(urls) AS url FROM tw WHERE NOT COALESCE(is_retweet, FALSE))
                     WHERE NOT regexp_matches(url, '^https?://(www\\.)?(twitter\\.com|t\\.co)(/|$)', 'i')""",
        "sync": f"SELECT population, CAST(FLOOR(EPOCH(tweet_time) / {bin_s}) AS VARCHAR) AS item, userid FROM tw",
        "near_duplicate": "SELECT population, grp AS item, userid FROM nd_doc_groups",
    }


def _pairs_sql(items_table: str, cap: int, min_shared: int, min_weight: float) -> str:
    """Account pairs sharing at least `min_shared` items, weight = shared / smaller account's items.

    The self-join runs on integers (an account number in userid order, a 64-bit hash of
    population and item), not on strings: at 10M tweets the pair rows are what fill memory.
    """
    return f"""
    WITH ids AS (
        SELECT userid, ROW_NUMBER() OVER (ORDER BY userid) AS uid
        FROM (SELECT DISTINCT userid FROM {items_table} WHERE item IS NOT NULL)
    ),
    items AS (
        SELECT DISTINCT hash(t.population, t.item) AS key, ids.uid
        FROM {items_table} t JOIN ids USING (userid) WHERE t.item IS NOT NULL
    ),
    sizes AS (SELECT key FROM items GROUP BY key HAVING COUNT(*) BETWEEN 2 AND {int(cap)}),
    kept AS (SELECT i.* FROM items i SEMI JOIN sizes s ON i.key = s.key),
    per_user AS (SELECT uid, COUNT(*) AS n_items FROM items GROUP BY uid),
    pairs AS (
        SELECT a.uid AS u, b.uid AS v, COUNT(*) AS shared
        FROM kept a JOIN kept b ON a.key = b.key AND a.uid < b.uid
        GROUP BY ALL HAVING COUNT(*) >= {int(min_shared)}
    )
    SELECT iu.userid AS u, iv.userid AS v, shared, shared / LEAST(nu.n_items, nv.n_items)::DOUBLE AS weight
    FROM pairs
    JOIN per_user nu ON nu.uid = pairs.u JOIN per_user nv ON nv.uid = pairs.v
    JOIN ids iu ON iu.uid = pairs.u JOIN ids iv ON iv.uid = pairs.v
    WHERE shared / LEAST(nu.n_items, nv.n_items)::DOUBLE >= {float(min_weight)}
    """


def nd_docs_sql(p: CoordinationParams, source: str = "tweets t JOIN acc a USING (userid)") -> str:
    """Original tweets' normalised text, long enough to compare: (population, userid, tweetid, norm).

    `source` must expose the tweet columns as `t` and the account's `population` as `a`.
    """
    return f"""
        SELECT population, userid, tweetid, norm FROM (
            SELECT a.population, t.userid, t.tweetid, {normalised_text_sql('t.tweet_text')} AS norm
            FROM {source}
            WHERE NOT COALESCE(t.is_retweet, FALSE) AND t.tweet_text IS NOT NULL
        ) WHERE LENGTH(norm) >= {int(p.min_text_chars)}
    """


def nd_keys_sql(p: CoordinationParams, texts: str = "nd_texts") -> str:
    """MinHash LSH keys of each distinct text in `texts(norm, text_id)`: (text_id, band, key).

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


# One LSH bucket, as text: band and key.
ND_BUCKET_SQL = "k.band::VARCHAR || ':' || k.key::VARCHAR"

# A text's own label: 63 bits of its hash, so it fits a signed 64-bit column in every engine.
TEXT_LABEL_SQL = "(hash(norm) >> 1)::BIGINT"


def nd_groups_sql(rounds: int, keys: str = "nd_keys", texts: str = "nd_texts", docs: str = "nd_docs") -> str:
    """Near-duplicate group of each distinct text within each population: (population, text_id, grp).

    Texts that share an LSH bucket are near-duplicates. Each text starts with its own label
    and, `rounds` times, takes the smallest label found in any of its buckets (min-label
    propagation), so copies of one text end in one group. One group per text, instead of
    one item per band, is what keeps the pair join small: two accounts that share a copied
    text share one item, not one per band. Propagation stops after `rounds` hops rather
    than closing transitively, so a chain of small edits never grows into one giant group.
    It runs within a population, so an account's groups depend only on the accounts it is
    scored with, as every other coordination item does.
    """
    parts = [
        f"pt AS (SELECT DISTINCT d.population, t.text_id, {TEXT_LABEL_SQL} AS grp FROM {docs} d JOIN {texts} t USING (norm))",
        f"pk AS (SELECT pt.population, pt.text_id, k.band, k.key FROM pt JOIN {keys} k USING (text_id))",
        "l0 AS (SELECT population, text_id, grp FROM pt)",
    ]
    for r in range(1, int(rounds) + 1):
        parts.append(f"b{r} AS (SELECT pk.population, pk.band, pk.key, MIN(l.grp) AS grp FROM pk JOIN l{r - 1} l USING (population, text_id) GROUP BY ALL)")
        parts.append(f"l{r} AS (SELECT pk.population, pk.text_id, MIN(b.grp) AS grp FROM pk JOIN b{r} b USING (population, band, key) GROUP BY ALL)")
    return f"WITH {', '.join(parts)} SELECT population, text_id, grp FROM l{int(rounds)}"


def near_duplicate_groups(con: duckdb.DuckDBPyConnection, p: CoordinationParams) -> None:
    """Near-duplicate group of each original tweet → table `nd_doc_groups(population, userid, tweetid, grp)`."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE nd_docs AS {nd_docs_sql(p)}")
    # Signatures are computed once per distinct text: copy-paste makes exact repeats common.
    con.execute("CREATE OR REPLACE TEMP TABLE nd_texts AS SELECT norm, ROW_NUMBER() OVER () AS text_id FROM (SELECT DISTINCT norm FROM nd_docs)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE nd_keys AS {nd_keys_sql(p)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE nd_groups AS {nd_groups_sql(p.near_duplicate_rounds)}")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE nd_doc_groups AS
        SELECT d.population, d.userid, d.tweetid, g.grp
        FROM nd_docs d JOIN nd_texts t USING (norm) JOIN nd_groups g USING (population, text_id)
        """
    )


def _fast_retweets_sql(p: CoordinationParams) -> str:
    """Delay between a retweet and its original, where the original is in the population."""
    shares = ", ".join(
        f"AVG(CASE WHEN delay <= {int(s)} THEN 1.0 ELSE 0.0 END) AS share_rt_within_{int(s)}s"
        for s in p.fast_retweet_seconds
    )
    first = int(min(p.fast_retweet_seconds))
    return f"""
    WITH d AS (
        SELECT r.userid, o.userid AS orig_userid, o.tweetid AS orig_tweetid,
               EPOCH(r.tweet_time) - EPOCH(o.tweet_time) AS delay
        FROM tw r JOIN tw o ON r.retweet_tweetid = o.tweetid AND r.population = o.population
        WHERE r.is_retweet AND r.userid <> o.userid
    ),
    amp AS (SELECT userid, COUNT(*) AS n_rt_in_population, {shares}, MEDIAN(delay) AS rt_delay_median_s FROM d GROUP BY userid),
    core AS (
        SELECT orig_userid AS userid, COUNT(DISTINCT orig_tweetid) AS n_fast_retweeted
        FROM d WHERE delay <= {first} GROUP BY orig_userid
    )
    SELECT a.userid, amp.* EXCLUDE (userid), core.n_fast_retweeted
    FROM (SELECT DISTINCT userid FROM tw) a LEFT JOIN amp USING (userid) LEFT JOIN core USING (userid)
    """


def compute_coordination(con: duckdb.DuckDBPyConnection, p: CoordinationParams) -> pa.Table:
    """Per-account coordination features for every account in view `acc` (needs `population`).

    Expects views `acc` and `tweets` and the working table `tw` (`tables.materialise_tweets`). Returns userid, the features, and
    `coord_cluster` (a cluster id; meta, not a feature).
    """
    near_duplicate_groups(con, p)
    items = _items_sql(p)
    edges = []
    for fam in FAMILIES:
        cap = p.max_sync_accounts if fam == "sync" else p.max_item_accounts
        min_shared = p.min_shared_sync if fam == "sync" else p.min_shared
        con.execute(f"CREATE OR REPLACE TEMP TABLE items_{fam} AS {items[fam]}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE edges_{fam} AS {_pairs_sql(f'items_{fam}', cap, min_shared, p.min_tie_weight)}")
        edges.append(f"SELECT u, v, weight, '{fam}' AS fam FROM edges_{fam}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE edges_all AS {' UNION ALL '.join(edges)}")

    con.execute(f"CREATE OR REPLACE TEMP TABLE coord_deg AS {degree_sql('edges_all')}")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE nd_share AS
        WITH multi AS (SELECT population, grp FROM nd_doc_groups GROUP BY ALL HAVING COUNT(DISTINCT userid) >= 2)
        SELECT d.userid, AVG(CASE WHEN m.grp IS NOT NULL THEN 1.0 ELSE 0.0 END) AS share_posts_near_duplicate
        FROM nd_doc_groups d LEFT JOIN multi m USING (population, grp) GROUP BY d.userid
        """
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE fast_rt AS {_fast_retweets_sql(p)}")

    clusters, sizes = _clusters(con)
    base = con.sql(
        """SELECT a.userid, d.* EXCLUDE (userid), n.share_posts_near_duplicate, f.* EXCLUDE (userid)
           FROM acc a LEFT JOIN coord_deg d USING (userid) LEFT JOIN nd_share n USING (userid)
           LEFT JOIN fast_rt f USING (userid) ORDER BY a.userid"""
    ).to_arrow_table()
    base = base.append_column("coord_cluster_size", pa.array(sizes, pa.float64()))
    base = base.append_column("coord_cluster", pa.array(clusters, pa.string()))
    # Absence of ties is a value (zero), not missing data.
    filled = [
        c.fill_null(0) if name not in ("userid", "coord_cluster", "rt_delay_median_s", "coord_max_tie_weight") else c
        for name, c in zip(base.column_names, base.columns)
    ]
    return pa.table(filled, names=base.column_names)


def degree_sql(edges: str) -> str:
    """Per account: partners (any family and per family), strongest tie, families tied.

    Ties are first folded per (account, partner) with a bit per family, so each count is a
    plain COUNT/SUM: no COUNT(DISTINCT), which at millions of ties dominated the step.
    """
    bit = " ".join(f"WHEN '{f}' THEN {1 << i}" for i, f in enumerate(FAMILIES))
    per_fam = ", ".join(f"SUM((fams >> {i}) & 1)::BIGINT AS {f}_partners" for i, f in enumerate(FAMILIES))
    return f"""
        WITH e AS (SELECT u AS userid, v AS partner, weight, fam FROM {edges}
                   UNION ALL SELECT v, u, weight, fam FROM {edges}),
        pp AS (SELECT userid, partner, MAX(weight) AS w, BIT_OR(CASE fam {bit} END) AS fams FROM e GROUP BY ALL)
        SELECT userid, COUNT(*) AS coord_partners, MAX(w) AS coord_max_tie_weight,
               bit_count(BIT_OR(fams))::BIGINT AS coord_families, {per_fam}
        FROM pp GROUP BY userid
        """


def _clusters(con: duckdb.DuckDBPyConnection) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of the fused tie graph, in userid order; singletons are clusters of one."""
    con.execute("CREATE OR REPLACE TEMP TABLE uidx AS SELECT userid, (ROW_NUMBER() OVER (ORDER BY userid) - 1)::BIGINT AS i FROM acc")
    users = con.sql("SELECT userid FROM uidx ORDER BY i").fetchnumpy()["userid"]
    e = con.sql("SELECT a.i AS r, b.i AS c FROM edges_all JOIN uidx a ON a.userid = u JOIN uidx b ON b.userid = v").fetchnumpy()
    return cluster_labels(users, e["r"], e["c"])


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
