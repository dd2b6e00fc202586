"""The coordination network with its evidence: the ties the features are built from, kept.

A score with three reasons is where a reviewer starts; a takedown or a paper needs the
posts behind each tie. After `features.coordination.compute_coordination` has run on a
DuckDB connection, its tables are still there: each family's significant ties
(`edges_<family>`: u, v, shared, weight, z), its items (`items_<family>`: population,
item, userid, t), the near-duplicate groups and the retweet delays. This module turns them
into three tables and a graph file, by SQL steps the Spark engine runs too:

- edges: one row per significant tie per trace, with its weight, its z against the null
  model (`docs/features.md`, "Coordination"), the items shared, the first and last time
  either account shared one of them, and up to `evidence_items` of those items, closest in
  time first: `evidence` the ids to join on (tweet ids, URLs, hashtag sequences, spans of posting,
  near-duplicate group ids), `evidence_text` beside it what to read for each (a
  near-duplicate group's text, the item itself for the others), `example_text` a
  near-duplicate tie's first text. Fast retweets (a retweet within
  `fast_retweet_seconds[0]` of the original, both accounts in the dump) are a directed trace
  of their own: weight = how many, no null model, dated by the retweets;
- nodes: every account with a tie: its cluster, followers, creation date, tweets seen, and
  score and label when the dump was scored;
- clusters: per coordination cluster, its size, its traces, its most shared items (as text),
  its time span and the share of its accounts labelled state-linked;
- network.graphml: the same nodes and edges for Gephi or Cytoscape, written by networkx.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from pipeline.config import CoordinationParams
from pipeline.features.coordination import FAMILIES, family_rule
from pipeline.io import atomic_path

FAST_RETWEET = "fast_retweet"
TRACES = (*FAMILIES, FAST_RETWEET)
FILES = ("edges.parquet", "nodes.parquet", "clusters.parquet", "network.graphml")


# ---------------------------------------------------------------- the evidence, step by step
#
# Written once for both engines, as the features are (pipeline/features/coordination.py):
# each builder reads the tables it is named and names its *key*, the rows it needs together.
# `network_tables` runs them in the DuckDB the features ran in; the Spark engine shuffles
# rows by each key and runs the same builders on its partitions (`spark_engine.network_spark`),
# then both finish on one machine (`network_frames`): the edges and nodes are bounded by the
# ties, which the item caps bound.

SHOWN_CHARS = 140  # a cluster's top item as text: about a tweet's worth, on one line


def shown_item_sql(fam: str, p: CoordinationParams, col: str = "item") -> str:
    """A family's item as the evidence lists it (VARCHAR, from either engine's item column):
    a span of synchronised posting (`sync_span_minutes`) as its start in UTC, not its
    number (the tie's times say the minutes); the others as they are (a tweet id, a URL, a
    hashtag sequence, a near-duplicate group's id). Row by row."""
    if fam == "sync":
        # make_timestamp: a TIMESTAMP (UTC) whatever the connection's TimeZone.
        return (f"strftime(make_timestamp(CAST({col} AS BIGINT) * {60 * int(p.sync_span_minutes) * 1_000_000}), "
                f"'%Y-%m-%d %H:%M UTC')")
    return f"CAST({col} AS VARCHAR)"


def nd_doc_texts_sql(doc_groups: str = "nd_doc_groups", tweets: str = "tweets") -> str:
    """Each near-duplicate document's raw text, under its group as an evidence item:
    (population, item, text). Key: tweetid (`doc_groups` and `tweets` by tweetid)."""
    return f"""SELECT g.population, CAST(g.grp AS VARCHAR) AS item, t.tweet_text AS text
               FROM {doc_groups} g JOIN {tweets} t USING (tweetid)"""


def nd_group_texts_sql(doc_texts: str) -> str:
    """One text per near-duplicate group: the smallest of its texts, so the same in either
    engine and whatever the row order: (population, item, text). Key: the group (population, item)."""
    return f"SELECT population, item, MIN(text) AS text FROM {doc_texts} GROUP BY ALL"


def evidence_items_sql(fam: str, items: str, p: CoordinationParams, texts: str | None = None) -> str:
    """One family's evidence items per holder, from `items(population, item, userid, t)`
    (`items_sql`): (population, item, userid, t, text).

    Only items the tie rule counted are evidence: those held by 2..cap accounts (a popular
    item is no evidence of coordination). item as shown (`shown_item_sql`), t the holder's
    first share, text what to read for it: the group's text (`texts`, `nd_group_texts_sql`)
    for a near-duplicate group, the item itself otherwise. Key: the item (population, item;
    `texts` by the same)."""
    cap = family_rule(p, fam).cap
    join, text = (f"LEFT JOIN {texts} x USING (population, item)", "COALESCE(x.text, it.item)") if texts else ("", "it.item")
    return f"""
        WITH it AS (SELECT population, {shown_item_sql(fam, p)} AS item, userid, t FROM {items} WHERE item IS NOT NULL),
        held AS (SELECT population, item FROM it GROUP BY ALL HAVING COUNT(DISTINCT userid) BETWEEN 2 AND {int(cap)})
        SELECT it.population, it.item, it.userid, MIN(it.t) AS t, {text} AS text
        FROM it JOIN held USING (population, item) {join}
        GROUP BY ALL
    """


def tie_items_sql(ties: str, evidence: str, end: str) -> str:
    """Each tie of `ties(u, v, ...)` with the evidence items (`evidence_items_sql`) its `end`
    ("u" or "v") holds: (u, v, population, item, t, text), t when that end first shared it.
    Key: that end's userid (`ties` by `end`, `evidence` by userid)."""
    if end not in ("u", "v"):
        raise ValueError(f"end must be 'u' or 'v', not {end!r}")
    return f"SELECT e.u, e.v, k.population, k.item, k.t, k.text FROM {ties} e JOIN {evidence} k ON k.userid = e.{end}"


def tie_evidence_sql(fam: str, ties: str, a: str, b: str, evidence_items: int) -> str:
    """One row per tie of `ties(u, v, shared, weight, z)` of family `fam`, with the items both
    ends hold (`a`, `b`: `tie_items_sql` at u and at v): the first and last time either shared
    one (epoch seconds) and up to `evidence_items` of them, the items shared closest in time
    first (a timed tie counts those within its window), their texts in the same order:
    (source, target, trace, weight, z, shared_items, first_t, last_t, evidence, evidence_text).
    Key: the tie (u, v)."""
    order = "ABS(a.t - b.t) NULLS LAST, a.item"
    n = int(evidence_items)
    return f"""
        SELECT e.u AS source, e.v AS target, '{fam}' AS trace, e.weight, e.z, e.shared AS shared_items,
               MIN(LEAST(a.t, b.t)) AS first_t, MAX(GREATEST(a.t, b.t)) AS last_t,
               list(a.item ORDER BY {order})[1:{n}] AS evidence, list(a.text ORDER BY {order})[1:{n}] AS evidence_text
        FROM {ties} e
        JOIN {a} a ON a.u = e.u AND a.v = e.v
        JOIN {b} b ON b.u = e.u AND b.v = e.v AND b.population = a.population AND b.item = a.item
        GROUP BY e.u, e.v, e.weight, e.z, e.shared
    """


def fast_retweet_edges_sql(p: CoordinationParams, delays: str = "rt_delays", evidence_items: int = 10) -> str:
    """Directed fast-retweet edges (retweeter -> original author) from `delays`
    (`retweet_delays_sql`): retweets within `fast_retweet_seconds[0]` of the original, at
    least `min_shared` of them; weight = how many (no null model), dated by the retweets, the
    originals retweeted as evidence (their text: the ids). The columns of `tie_evidence_sql`.
    Key: the pair (userid, orig_userid)."""
    within = int(min(p.fast_retweet_seconds))
    n = int(evidence_items)
    return f"""
        SELECT userid AS source, orig_userid AS target, '{FAST_RETWEET}' AS trace, COUNT(*)::DOUBLE AS weight,
               NULL::DOUBLE AS z, COUNT(*) AS shared_items, MIN(t) AS first_t, MAX(t) AS last_t,
               list_sort(list(orig_tweetid))[1:{n}] AS evidence, list_sort(list(orig_tweetid))[1:{n}] AS evidence_text
        FROM {delays} WHERE delay BETWEEN 0 AND {within} GROUP BY userid, orig_userid
        HAVING COUNT(*) >= {int(p.min_shared)}
    """


def tied_accounts_sql(edge_rows: str) -> str:
    """Both ends of every edge row: (userid), repeats kept. Row by row."""
    return f"SELECT source AS userid FROM {edge_rows} UNION ALL SELECT target FROM {edge_rows}"


def network_nodes_sql(accounts: str = "acc", clusters: str = "coord", tweets: str = "tweets", tied: str = "net_tied") -> str:
    """Every account of `accounts` with a tie (`tied`, `tied_accounts_sql`): its cluster
    (`clusters(userid, coord_cluster)`, '' for none), followers, creation date and tweets seen:
    (userid, cluster, followers, created, tweets_seen). Key: userid."""
    return f"""
        SELECT a.userid, COALESCE(c.coord_cluster, '') AS cluster, a.follower_count AS followers,
               a.account_creation_date AS created, COALESCE(n.n, 0) AS tweets_seen
        FROM {accounts} a LEFT JOIN {clusters} c USING (userid)
        LEFT JOIN (SELECT userid, COUNT(*) AS n FROM {tweets} GROUP BY userid) n USING (userid)
        WHERE a.userid IN (SELECT userid FROM {tied})
    """


def network_edges_sql(edge_rows: str) -> str:
    """The edges table from every trace's rows (`tie_evidence_sql`, `fast_retweet_edges_sql`):
    times as timestamps, a near-duplicate tie's first text as its example, in (trace, source,
    target) order. Whole table: on one machine in either engine."""
    return f"""
        SELECT source, target, trace, weight, z, shared_items,
               to_timestamp(first_t) AS first_time, to_timestamp(last_t) AS last_time, evidence, evidence_text,
               CASE WHEN trace = 'near_duplicate' THEN evidence_text[1] END AS example_text
        FROM {edge_rows} ORDER BY trace, source, target
    """


def network_frames(con: duckdb.DuckDBPyConnection, edge_rows: str, nodes: str) -> dict[str, pd.DataFrame]:
    """edges, nodes and clusters from the edge rows and node rows on `con` (either engine's)."""
    edges = con.sql(network_edges_sql(edge_rows)).df()
    nodes_df = con.sql(f"SELECT * FROM {nodes} ORDER BY userid").df()
    return {"edges": edges, "nodes": nodes_df, "clusters": cluster_table(edges, nodes_df)}


def network_tables(con: duckdb.DuckDBPyConnection, p: CoordinationParams, evidence_items: int) -> dict[str, pd.DataFrame]:
    """edges, nodes and clusters from the tables `compute_coordination` left on `con`
    (`items_<fam>`, `edges_<fam>`, `nd_doc_groups`, `rt_delays`; views `acc`, `tweets`, table `coord`)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE net_doc_texts AS {nd_doc_texts_sql()}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE net_group_texts AS {nd_group_texts_sql('net_doc_texts')}")
    parts = []
    for fam in FAMILIES:
        texts = "net_group_texts" if fam == "near_duplicate" else None
        parts.append(f"""
            WITH ev AS ({evidence_items_sql(fam, f'items_{fam}', p, texts)}),
            a AS ({tie_items_sql(f'edges_{fam}', 'ev', 'u')}), b AS ({tie_items_sql(f'edges_{fam}', 'ev', 'v')})
            {tie_evidence_sql(fam, f'edges_{fam}', 'a', 'b', evidence_items)}""")
    parts.append(fast_retweet_edges_sql(p, "rt_delays", evidence_items))
    con.execute("CREATE OR REPLACE TEMP TABLE net_edge_rows AS " + " UNION ALL ".join(f"({q})" for q in parts))
    con.execute(f"CREATE OR REPLACE TEMP VIEW net_tied AS {tied_accounts_sql('net_edge_rows')}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE net_nodes AS {network_nodes_sql('acc', 'coord', 'tweets', 'net_tied')}")
    return network_frames(con, "net_edge_rows", "net_nodes")


def _shown(text) -> str:
    """An item as a cluster lists it: on one line, at most SHOWN_CHARS characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= SHOWN_CHARS else flat[: SHOWN_CHARS - 1] + "…"


def cluster_table(edges: pd.DataFrame, nodes: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    """Per cluster (the connected components of the significant ties, as `coord_cluster`):
    size, traces, most shared items, time span, share labelled state-linked.

    Items are counted by their id (`evidence`) over the cluster's ties, most shared first
    (then by id, so the order never depends on the rows'), and listed as text
    (`evidence_text`: a near-duplicate group as its text, the others as they are)."""
    cl = nodes[nodes["cluster"] != ""]
    of = dict(zip(cl["userid"], cl["cluster"]))
    e = edges.assign(cluster=edges["source"].map(of))
    e = e[e["cluster"].notna() & (e["cluster"] == edges["target"].map(of))]
    rows = []
    for cid, members in cl.groupby("cluster"):
        ce = e[e["cluster"] == cid]
        counts: dict[str, int] = {}
        text: dict[str, str] = {}
        for ev, tx in zip(ce["evidence"], ce["evidence_text"]):
            for i, t in zip(ev, tx):
                counts[i] = counts.get(i, 0) + 1
                text.setdefault(i, t)
        best = sorted(counts, key=lambda i: (-counts[i], i))[:top]
        rows.append({
            "cluster": cid, "size": len(members), "ties": len(ce),
            "traces": sorted(ce["trace"].unique().tolist()),
            "top_items": [_shown(text[i]) for i in best],
            "first_time": ce["first_time"].min(), "last_time": ce["last_time"].max(),
            "state_linked_share": (float((members["label"] == "state_linked").mean())
                                   if "label" in members else None),
        })
    return pd.DataFrame(rows, columns=["cluster", "size", "ties", "traces", "top_items", "first_time", "last_time",
                                       "state_linked_share"])


def to_graph(edges: pd.DataFrame, nodes: pd.DataFrame):
    """A networkx MultiDiGraph: one edge per tie per trace (co-sharing ties point from the
    smaller userid), attributes as GraphML can hold them (lists joined by ' | ')."""
    import networkx as nx

    g = nx.MultiDiGraph()
    for r in nodes.to_dict("records"):
        g.add_node(r["userid"], **{k: _graphml_value(v) for k, v in r.items() if k != "userid"})
    for r in edges.to_dict("records"):
        g.add_edge(r["source"], r["target"], key=r["trace"],
                   **{k: _graphml_value(v) for k, v in r.items() if k not in ("source", "target")})
    return g


def _graphml_value(v):
    """GraphML holds strings, numbers and booleans only; a missing value is an empty string."""
    import numpy as np

    if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
        return ""
    if isinstance(v, (list, tuple, np.ndarray)):
        return " | ".join(str(x) for x in v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (int, float, str)):
        return v
    return str(v)


def write_network(tables: dict[str, pd.DataFrame], out: Path) -> list[Path]:
    """The three Parquet tables and network.graphml into `out`, each written atomically."""
    import networkx as nx

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("edges", "nodes", "clusters"):
        with atomic_path(out / f"{name}.parquet") as tmp:
            tables[name].to_parquet(tmp, index=False)
        written.append(out / f"{name}.parquet")
    with atomic_path(out / "network.graphml") as tmp:
        nx.write_graphml(to_graph(tables["edges"], tables["nodes"]), str(tmp))
    written.append(out / "network.graphml")
    return written


def with_scores(tables: dict[str, pd.DataFrame], scores: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """The tables with each node's score and label (userid, score, label), clusters recomputed."""
    if scores is None:
        return tables
    nodes = tables["nodes"].drop(columns=["score", "label"], errors="ignore").merge(
        scores[["userid", "score", "label"]], on="userid", how="left")
    return {"edges": tables["edges"], "nodes": nodes, "clusters": cluster_table(tables["edges"], nodes)}


def interim_network(interim: Path, features, evidence_items: int, work: Path, memory_limit: str = "4GB") -> dict[str, pd.DataFrame]:
    """The network of ingested tables, everything in one population as `statelink score` has it."""
    from pipeline.features.build import build_features
    from pipeline.features.tables import connect
    from pipeline.sql import parquet_source

    with connect(memory_limit, spill_dir=work / "duckdb") as con:
        con.execute("CREATE VIEW acc_src AS SELECT * REPLACE (NULL::VARCHAR AS campaign) FROM "
                    + parquet_source(interim / "accounts.parquet"))
        # Its coordination tables (`edges_*`, `items_*`, `coord`) stay on the connection.
        build_features(con, "acc_src", parquet_source(interim / "tweets.parquet"), features, item_times=True)
        return network_tables(con, features.coordination, evidence_items)


def ingested(inputs: list[str], work: Path, ingest=None, progress: bool = False) -> Path:
    """The folder of ingested tables for `inputs`: the one given, or the dump ingested under `work`."""
    from pipeline.config import IngestParams
    from pipeline.ingest import ingest_dumps

    first = Path(inputs[0])
    if len(inputs) == 1 and (first / "accounts.parquet").exists() and (first / "tweets.parquet").exists():
        return first
    # No params.yaml (`ingest` None): the defaults, as `statelink score` reads without one.
    ingest_dumps([(i, None, None) for i in inputs], work / "interim", ingest or IngestParams(), progress=progress)
    return work / "interim"


def build_network(inputs: list[str], out: Path, features, evidence_items: int, *, scores: Path | None = None,
                  ingest=None, memory_limit: str = "4GB", progress: bool = False) -> str:
    """`statelink network`: ingest the dump (or take ingested tables), compute its ties and
    write the network; `scores` (a `statelink score` output) adds score and label."""
    import shutil

    out = Path(out)
    work = out.parent / f".{out.name}.work"
    shutil.rmtree(work, ignore_errors=True)
    try:
        interim = ingested(inputs, work, ingest, progress)
        tables = interim_network(interim, features, evidence_items, work, memory_limit)
        tables = with_scores(tables, read_scores(scores) if scores else None)
        write_network(tables, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    e, c = tables["edges"], tables["clusters"]
    return (f"wrote {out}: {len(e):,} ties over {len(tables['nodes']):,} accounts "
            f"({', '.join(f'{t} {n:,}' for t, n in e['trace'].value_counts().sort_index().items())}), "
            f"{len(c):,} clusters; open network.graphml in Gephi or Cytoscape")


def read_scores(path: Path) -> pd.DataFrame:
    """userid, score, label of a `statelink score` output (.parquet or .csv)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path, usecols=["userid", "score", "label"], dtype={"userid": str})
    return pd.read_parquet(path, columns=["userid", "score", "label"])
