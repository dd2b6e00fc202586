"""`statelink network`: the significant ties with the items behind them, as tables and GraphML."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.config import FeaturesParams
from pipeline.network import FILES, build_network


@pytest.fixture(scope="module")
def network(trained_model, tmp_path_factory):
    from pipeline.ingest import ingest_dumps

    out = tmp_path_factory.mktemp("network")
    raw = trained_model["raw"] / "hk_2019"
    interim = out / "interim"
    # Labels from the dump folders, for the test only (the network command never reads them).
    ingest_dumps([(str(d), "hk_2019", d.name) for d in sorted(raw.iterdir()) if d.is_dir()], interim, progress=False)
    line = build_network([str(interim)], out / "net", FeaturesParams(), evidence_items=5)
    return out, interim, line


def test_writes_the_tables_and_a_graph_that_loads_back(network):
    import networkx as nx

    out, _, line = network
    assert all((out / "net" / f).exists() for f in FILES) and "ties over" in line
    edges = pd.read_parquet(out / "net" / "edges.parquet")
    nodes = pd.read_parquet(out / "net" / "nodes.parquet")
    assert len(edges) and set(edges["trace"]) <= {"co_retweet", "near_duplicate", "co_hashtag_seq", "co_url", "sync",
                                                  "fast_retweet"}
    assert edges["evidence"].map(len).between(1, 5).all()
    assert set(edges["source"]) | set(edges["target"]) == set(nodes["userid"])
    g = nx.read_graphml(out / "net" / "network.graphml")
    assert g.number_of_nodes() == len(nodes) and g.number_of_edges() == len(edges)
    _, attrs = next(iter(g.nodes(data=True)))
    assert set(attrs) == set(nodes.columns) - {"userid"}
    _, _, eattrs = next(iter(g.edges(data=True)))
    # networkx reads a multigraph edge's key back as `id` (the trace).
    assert set(eattrs) - {"id"} == set(edges.columns) - {"source", "target"} and eattrs["id"] == eattrs["trace"]


def test_every_listed_item_is_shared_by_both_accounts(network):
    out, interim, _ = network
    edges = pd.read_parquet(out / "net" / "edges.parquet")
    tw = pq.read_table(interim / "tweets.parquet").to_pandas()
    rts = set(zip(tw.loc[tw["is_retweet"], "userid"], tw.loc[tw["is_retweet"], "retweet_tweetid"]))
    originals = tw[~tw["is_retweet"].fillna(False)]
    tags = set(zip(originals["userid"], [" ".join(h.lower() for h in (x if x is not None else [])) for x in originals["hashtags"]]))
    urls = {(u, x.lower()) for u, xs in zip(originals["userid"], originals["urls"]) for x in (xs if xs is not None else [])}
    authors = dict(zip(tw["tweetid"], tw["userid"]))
    groups = _near_duplicate_groups(interim)
    checked = 0
    for r in edges.itertuples():
        for item in r.evidence:
            if r.trace == "co_retweet":
                assert (r.source, item) in rts and (r.target, item) in rts
            elif r.trace == "co_hashtag_seq":
                assert (r.source, item) in tags and (r.target, item) in tags
            elif r.trace == "co_url":
                assert (r.source, item) in urls and (r.target, item) in urls
            elif r.trace == "fast_retweet":
                assert (r.source, item) in rts and authors[item] == r.target
            elif r.trace == "near_duplicate":
                assert {r.source, r.target} <= groups[int(item)]
            else:
                continue
            checked += 1
    assert checked > 50
    # A near-duplicate tie shows one of its texts.
    nd = edges[edges["trace"] == "near_duplicate"]
    assert nd["example_text"].notna().all() and set(nd["example_text"]) <= set(tw["tweet_text"])


def test_the_operation_is_the_big_cluster(network):
    out, interim, _ = network
    clusters = pd.read_parquet(out / "net" / "clusters.parquet")
    nodes = pd.read_parquet(out / "net" / "nodes.parquet")
    truth = pq.read_table(interim / "accounts.parquet", columns=["userid", "label"]).to_pandas()
    big = clusters.sort_values("size").iloc[-1]
    members = nodes[nodes["cluster"] == big["cluster"]].merge(truth, on="userid")
    assert big["size"] == len(members) >= 10 and (members["label"] == "state_linked").mean() > 0.8
    assert len(big["traces"]) >= 1 and len(big["top_items"]) >= 1


def _near_duplicate_groups(interim) -> dict[int, set[str]]:
    """grp -> accounts with a document in it, recomputed by the features' own SQL."""
    from pipeline.duck import connect
    from pipeline.features.build import build_features
    from pipeline.sql import parquet_source

    con = connect()
    con.execute("CREATE VIEW a AS SELECT * REPLACE (NULL::VARCHAR AS campaign) FROM "
                + parquet_source(interim / "accounts.parquet"))
    build_features(con, "a", parquet_source(interim / "tweets.parquet"), FeaturesParams())
    rows = con.sql("SELECT grp, list(DISTINCT userid) FROM nd_doc_groups GROUP BY grp").fetchall()
    return {int(g): set(us) for g, us in rows}


def test_score_writes_the_network_with_the_scores(trained_model, tmp_path):
    from pipeline.score import load_model, score_dump

    out = tmp_path / "scores.parquet"
    score_dump([str(trained_model["raw"] / "hk_2019")], load_model(str(trained_model["model"])), out, progress=False,
               network=tmp_path / "net", evidence_items=3)
    nodes = pd.read_parquet(tmp_path / "net" / "nodes.parquet")
    scores = pd.read_parquet(out).set_index("userid")
    assert len(nodes) and nodes["score"].notna().all()
    assert (nodes.set_index("userid")["label"] == scores.loc[nodes["userid"], "label"]).all()
    # The nodes' clusters are the scores file's clusters.
    assert (nodes.set_index("userid")["cluster"] == scores.loc[nodes["userid"], "coord_cluster"].fillna("")).all()
    clusters = pd.read_parquet(tmp_path / "net" / "clusters.parquet")
    assert clusters["state_linked_share"].between(0, 1).all()
    assert pd.read_parquet(tmp_path / "net" / "edges.parquet")["evidence"].map(len).le(3).all()
