"""The coordination network with its evidence: the ties the features are built from, kept.

A score with three reasons is where a reviewer starts; a takedown or a paper needs the
posts behind each tie. After `features.coordination.compute_coordination` has run on a
DuckDB connection, its tables are still there: each family's significant ties
(`edges_<family>`: u, v, shared, weight, z) and its items (`items_<family>`: population,
item, userid, t). This module turns them into three tables and a graph file:

- edges: one row per significant tie per trace, with its weight, its z against the null
  model (`docs/features.md`, "Coordination"), the items shared, the first and last time
  either account shared one of them, and up to `evidence_items` of those items (tweet ids,
  URLs, hashtag sequences, minutes, near-duplicate groups with one example text). Fast
  retweets (a retweet within `fast_retweet_seconds[0]` of the original, both accounts in
  the dump) are a directed trace of their own: weight = how many, no null model;
- nodes: every account with a tie: its cluster, followers, creation date, tweets seen, and
  score and label when the dump was scored;
- clusters: per coordination cluster, its size, its traces, its most shared items, its time
  span and the share of its accounts labelled state-linked;
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


def edges_sql(fam: str, p: CoordinationParams, evidence_items: int) -> str:
    """One family's ties with their shared items, from `edges_<fam>` and `items_<fam>`.

    Only items the tie rule counted are evidence: those held by 2..cap accounts (a popular
    item is no evidence of coordination)."""
    cap = family_rule(p, fam).cap
    # A minute of posting reads as the minute, not its bin number.
    shown = (f"strftime(to_timestamp(CAST(item AS BIGINT) * {60 * int(p.sync_bin_minutes)}), '%Y-%m-%d %H:%M UTC')"
             if fam == "sync" else "CAST(item AS VARCHAR)")
    example = ("ANY_VALUE(x.example)" if fam == "near_duplicate" else "NULL::VARCHAR")
    ex_join = ("LEFT JOIN (SELECT CAST(grp AS VARCHAR) AS item, MIN(t.tweet_text) AS example "
               "FROM nd_doc_groups g JOIN tweets t USING (tweetid) GROUP BY grp) x ON x.item = a.item"
               if fam == "near_duplicate" else "")
    return f"""
        WITH it AS (SELECT population, {shown} AS item, userid, t FROM items_{fam} WHERE item IS NOT NULL),
        held AS (SELECT population, item FROM it GROUP BY ALL HAVING COUNT(DISTINCT userid) BETWEEN 2 AND {int(cap)}),
        kept AS (SELECT it.* FROM it JOIN held USING (population, item)),
        a AS (SELECT e.u, e.v, k.population, k.item, MIN(k.t) AS t FROM edges_{fam} e JOIN kept k ON k.userid = e.u GROUP BY ALL),
        b AS (SELECT e.u, e.v, k.population, k.item, MIN(k.t) AS t FROM edges_{fam} e JOIN kept k ON k.userid = e.v GROUP BY ALL)
        SELECT e.u AS source, e.v AS target, '{fam}' AS trace, e.weight, e.z, e.shared AS shared_items,
               to_timestamp(MIN(LEAST(a.t, b.t))) AS first_time, to_timestamp(MAX(GREATEST(a.t, b.t))) AS last_time,
               -- the items shared closest in time first (a timed tie counts those within its window)
               list(a.item ORDER BY ABS(a.t - b.t) NULLS LAST, a.item)[1:{int(evidence_items)}] AS evidence,
               {example} AS example_text
        FROM edges_{fam} e
        JOIN a ON a.u = e.u AND a.v = e.v
        JOIN b ON b.u = e.u AND b.v = e.v AND b.population = a.population AND b.item = a.item
        {ex_join}
        GROUP BY e.u, e.v, e.weight, e.z, e.shared
    """


def fast_retweet_sql(p: CoordinationParams, evidence_items: int) -> str:
    """Directed fast-retweet edges (retweeter -> original author) from `rt_delays`."""
    within = int(min(p.fast_retweet_seconds))
    return f"""
        SELECT userid AS source, orig_userid AS target, '{FAST_RETWEET}' AS trace, COUNT(*)::DOUBLE AS weight,
               NULL::DOUBLE AS z, COUNT(*) AS shared_items, NULL::TIMESTAMPTZ AS first_time, NULL::TIMESTAMPTZ AS last_time,
               list_sort(list(orig_tweetid))[1:{int(evidence_items)}] AS evidence, NULL::VARCHAR AS example_text
        FROM rt_delays WHERE delay BETWEEN 0 AND {within} GROUP BY userid, orig_userid
        HAVING COUNT(*) >= {int(p.min_shared)}
    """


def network_tables(con: duckdb.DuckDBPyConnection, p: CoordinationParams, evidence_items: int) -> dict[str, pd.DataFrame]:
    """edges, nodes and clusters from the tables `compute_coordination` left on `con`
    (and views `acc`, `tweets`, table `coord`)."""
    parts = [edges_sql(f, p, evidence_items) for f in FAMILIES] + [fast_retweet_sql(p, evidence_items)]
    edges = con.sql(" UNION ALL ".join(f"({q})" for q in parts) + " ORDER BY trace, source, target").df()
    nodes = con.sql("""
        SELECT a.userid, c.coord_cluster AS cluster, a.follower_count AS followers, a.account_creation_date AS created,
               COALESCE(n.n, 0) AS tweets_seen
        FROM acc a JOIN coord c USING (userid)
        LEFT JOIN (SELECT userid, COUNT(*) AS n FROM tweets GROUP BY userid) n USING (userid)
        ORDER BY a.userid""").df()
    tied = set(edges["source"]) | set(edges["target"])
    nodes = nodes[nodes["userid"].isin(tied)].reset_index(drop=True)
    nodes["cluster"] = nodes["cluster"].fillna("")
    return {"edges": edges, "nodes": nodes, "clusters": cluster_table(edges, nodes)}


def cluster_table(edges: pd.DataFrame, nodes: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    """Per cluster (the connected components of the significant ties, as `coord_cluster`):
    size, traces, most shared items, time span, share labelled state-linked."""
    cl = nodes[nodes["cluster"] != ""]
    of = dict(zip(cl["userid"], cl["cluster"]))
    e = edges.assign(cluster=edges["source"].map(of))
    e = e[e["cluster"].notna() & (e["cluster"] == edges["target"].map(of))]
    rows = []
    for cid, members in cl.groupby("cluster"):
        ce = e[e["cluster"] == cid]
        items = pd.Series([i for ev in ce["evidence"] for i in ev], dtype=object)
        rows.append({
            "cluster": cid, "size": len(members), "ties": len(ce),
            "traces": sorted(ce["trace"].unique().tolist()),
            "top_items": items.value_counts().head(top).index.tolist() if len(items) else [],
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
        build_features(con, "acc_src", parquet_source(interim / "tweets.parquet"), features)
        return network_tables(con, features.coordination, evidence_items)


def ingested(inputs: list[str], work: Path, ingest=None, progress: bool = False) -> Path:
    """The folder of ingested tables for `inputs`: the one given, or the dump ingested under `work`."""
    from pipeline.ingest import ingest_dumps

    first = Path(inputs[0])
    if len(inputs) == 1 and (first / "accounts.parquet").exists() and (first / "tweets.parquet").exists():
        return first
    ingest_dumps([(i, None, None) for i in inputs], work / "interim", ingest, progress=progress)
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
