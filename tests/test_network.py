"""`statelink network`: the significant ties with the items behind them, as tables and GraphML."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.config import FeaturesParams
from pipeline.network import FILES, SHOWN_CHARS, build_network

# Looser ties than the defaults, so the small sample has every timed and untimed trace but
# co-URL: co-retweet, hashtag sequences, synchronised minutes, fast retweets, near-duplicates.
LOOSE = {"min_shared": 1, "min_shared_sync": 1, "max_sync_accounts": 8, "significance": 0.2, "min_tie_weight": 0.0,
         "co_share_window_minutes": None, "near_duplicate_window_minutes": None, "hashtag_window_minutes": None}


def loose_params() -> FeaturesParams:
    params = FeaturesParams()
    for k, v in LOOSE.items():
        setattr(params.coordination, k, v)
    return params


@pytest.fixture(scope="module")
def network(trained_model, tmp_path_factory):
    from pipeline.ingest import ingest_dumps

    out = tmp_path_factory.mktemp("network")
    raw = trained_model["raw"] / "hk_2019"
    interim = out / "interim"
    # Labels from the dump folders, for the test only (the network command never reads them).
    ingest_dumps([(str(d), "hk_2019", d.name) for d in sorted(raw.iterdir()) if d.is_dir()], interim, progress=False)
    # The sample's operation copies its lines over weeks, not within the hour: under the
    # default windows it forms no cluster here. The network is read under the configuration
    # null for text and hashtags (both windows null), which it beats.
    params = FeaturesParams()
    params.coordination.near_duplicate_window_minutes = params.coordination.hashtag_window_minutes = None
    line = build_network([str(interim)], out / "net", params, evidence_items=5)
    return out, interim, line


@pytest.fixture(scope="module")
def loose(network):
    """The same dump's network with looser ties: (edges, clusters, tweets, interim)."""
    out, interim, _ = network
    build_network([str(interim)], out / "loose", loose_params(), evidence_items=5)
    return (pd.read_parquet(out / "loose" / "edges.parquet"), pd.read_parquet(out / "loose" / "clusters.parquet"),
            pq.read_table(interim / "tweets.parquet").to_pandas(), interim)


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


def _near_duplicate_groups(interim, params: FeaturesParams | None = None, texts: bool = False) -> dict[int, set[str]]:
    """grp -> accounts with a document in it (or, with `texts`, the documents' raw texts),
    recomputed by the features' own SQL."""
    from pipeline.duck import connect
    from pipeline.features.build import build_features
    from pipeline.sql import parquet_source

    con = connect()
    con.execute("CREATE VIEW a AS SELECT * REPLACE (NULL::VARCHAR AS campaign) FROM "
                + parquet_source(interim / "accounts.parquet"))
    build_features(con, "a", parquet_source(interim / "tweets.parquet"), params or FeaturesParams())
    col, src = ("t.tweet_text", "nd_doc_groups g JOIN tweets t USING (tweetid)") if texts else ("g.userid", "nd_doc_groups g")
    rows = con.sql(f"SELECT grp, list(DISTINCT {col}) FROM {src} GROUP BY grp").fetchall()
    return {int(g): set(us) for g, us in rows}


def _first_shares(tw: pd.DataFrame, trace: str) -> dict[tuple[str, str], pd.Timestamp]:
    """(userid, item as the evidence lists it) -> when the account first shared it, from the raw tweets."""
    originals = tw[~tw["is_retweet"].fillna(False)]
    if trace == "co_hashtag_seq":
        pairs = [(u, " ".join(h.lower() for h in hs), t) for u, hs, t in
                 zip(originals["userid"], originals["hashtags"], originals["tweet_time"]) if hs is not None and len(hs) >= 2]
    elif trace == "sync":
        span = f"{FeaturesParams().coordination.sync_span_minutes}min"  # the span an item is
        pairs = [(u, t.floor(span).strftime("%Y-%m-%d %H:%M UTC"), t) for u, t in zip(tw["userid"], tw["tweet_time"])]
    else:  # fast_retweet: the retweet of the original, by the retweeter
        rts = tw[tw["is_retweet"].fillna(False)]
        pairs = list(zip(rts["userid"], rts["retweet_tweetid"], rts["tweet_time"]))
    first: dict[tuple[str, str], pd.Timestamp] = {}
    for u, item, t in pairs:
        first[(u, item)] = min(first.get((u, item), t), t)
    return first


def test_every_trace_is_dated_by_the_shares_of_its_items(loose):
    edges, _, tw, _ = loose
    # Both engines turn epoch seconds (a double) back into a timestamp: within a millisecond.
    ms = pd.Timedelta(milliseconds=1)
    checked = {}
    for trace in ("co_hashtag_seq", "sync", "fast_retweet"):
        first = _first_shares(tw, trace)
        shown = edges[edges["trace"] == trace]
        assert len(shown), trace
        assert shown["first_time"].notna().all() and shown["last_time"].notna().all(), trace
        assert (shown["first_time"] <= shown["last_time"]).all(), trace
        for r in shown.itertuples():
            sharers = (r.source, r.target) if trace != "fast_retweet" else (r.source,)
            times = [first[(u, item)] for item in r.evidence for u in sharers]
            # Every listed item was shared by each end within the tie's span, and the span
            # starts and ends at a share of an item both hold.
            assert r.first_time - ms <= min(times) and max(times) <= r.last_time + ms, (trace, r)
            held = [t for (u, item), t in first.items() if u in sharers]
            assert any(abs(t - r.first_time) <= ms for t in held) and any(abs(t - r.last_time) <= ms for t in held)
        checked[trace] = len(shown)
    # Nothing is undated now, whatever the trace.
    assert edges["first_time"].notna().all() and edges["last_time"].notna().all()
    assert min(checked.values()) >= 1


def test_near_duplicate_evidence_reads_as_the_groups_texts(loose):
    edges, clusters, tw, interim = loose
    texts = _near_duplicate_groups(interim, loose_params(), texts=True)
    assert (edges["evidence"].map(len) == edges["evidence_text"].map(len)).all()
    nd = edges[edges["trace"] == "near_duplicate"]
    assert len(nd) > 10
    for r in nd.itertuples():
        for grp, text in zip(r.evidence, r.evidence_text):
            # One text per group, chosen by the data alone: its smallest.
            assert text in texts[int(grp)] and text == min(texts[int(grp)])
        assert r.example_text == r.evidence_text[0]
    others = edges[edges["trace"] != "near_duplicate"]
    assert len(others) and all(list(a) == list(b) for a, b in zip(others["evidence"], others["evidence_text"]))
    assert others["example_text"].isna().all()

    # A cluster tied by near-duplicate text alone lists its texts (on one line, cut), not group ids.
    shown = {" ".join(t.split()) for t in tw["tweet_text"].dropna()}
    only_nd = clusters[clusters["traces"].map(lambda t: list(t) == ["near_duplicate"])]
    assert len(only_nd)
    for items in only_nd["top_items"]:
        assert len(items) >= 1
        for item in items:
            assert len(item) <= SHOWN_CHARS and not item.lstrip("-").isdigit()
            assert item in shown or (item.endswith("…") and any(s.startswith(item[:-1]) for s in shown))


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


def test_a_raw_dump_without_ingest_settings_is_read_with_the_defaults(trained_model, tmp_path):
    # `statelink network DUMP` without a params.yaml: ingest settings None.
    line = build_network([str(trained_model["raw"] / "hk_2019")], tmp_path / "net", FeaturesParams(), evidence_items=3,
                         ingest=None)
    assert "ties over" in line and (tmp_path / "net" / "edges.parquet").exists()
    assert not (tmp_path / ".net.work").exists()


def test_item_times_change_no_feature(loose):
    """The features leave untimed items undated (cheaper); the network dates them. Either
    way the feature table is the same, to the bit, under ties loose enough for every trace."""
    from pipeline.duck import connect
    from pipeline.features.build import build_features
    from pipeline.sql import parquet_source

    interim = loose[3]
    tables = []
    for item_times in (False, True):
        con = connect()
        con.execute("CREATE VIEW a AS SELECT * REPLACE (NULL::VARCHAR AS campaign) FROM "
                    + parquet_source(interim / "accounts.parquet"))
        tables.append(build_features(con, "a", parquet_source(interim / "tweets.parquet"), loose_params(), item_times))
        left = con.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE table_name = 'items_co_hashtag_seq'").fetchone()[0]
        assert left == item_times  # the network's items stay on the connection; the features drop theirs
        if item_times:
            assert con.execute("SELECT COUNT(t) FROM items_co_hashtag_seq").fetchone()[0] > 0  # and they are dated
        con.close()
    assert tables[0].num_rows > 0 and tables[0].equals(tables[1])
