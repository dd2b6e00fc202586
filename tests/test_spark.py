"""`statelink score --engine spark`: the same features and scores as the local engine.

One SparkSession (local[2], loopback, no UI) is shared by the whole test session: starting
one takes 8-16 s. The engine picks up the active session instead of starting its own.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipeline import duck
from pipeline.cli import app
from pipeline.contract import arrow_schema, spark_ddl
from pipeline.errors import ConfigError, InputError
from pipeline.score import load_model, score_dump
from tests.conftest import REPO

HAS_PYSPARK = importlib.util.find_spec("pyspark") is not None
needs_spark = pytest.mark.skipif(not HAS_PYSPARK, reason="pyspark is not installed (pip install statelink[spark])")
TWO_CAMPAIGNS = ("hk_2019", "covid_2020")


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    # Workers run this interpreter (the venv's), not whatever `python3` is on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        SparkSession.builder.master("local[2]").appName("statelink-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4").config("spark.default.parallelism", "2")
        .config("spark.pyspark.python", sys.executable).config("spark.pyspark.driver.python", sys.executable)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", "1g").config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def model(trained_model):
    return load_model(str(trained_model["model"]))


@pytest.fixture(scope="module")
def interim(trained_model, tmp_path_factory):
    """Two campaigns ingested together, so coordination crosses dumps."""
    from pipeline.ingest import ingest_dumps

    out = tmp_path_factory.mktemp("spark") / "interim"
    ingest_dumps([(str(trained_model["raw"] / c), None, None) for c in TWO_CAMPAIGNS], out)
    return out


def _assert_same_scores(local: pd.DataFrame, other: pd.DataFrame) -> float:
    assert list(other.columns) == list(local.columns)
    assert sorted(other["userid"]) == sorted(local["userid"]) and other["userid"].is_unique
    both = local.merge(other, on="userid", suffixes=("_local", "_spark"))
    diff = float((both["score_local"] - both["score_spark"]).abs().max())
    assert diff < 1e-6
    for c in ("label", "coord_cluster", "n_tweets_seen", "no_tweets", "reasons"):
        assert (both[f"{c}_local"] == both[f"{c}_spark"]).all(), c
    return diff


def _local_features(interim, params) -> pa.Table:
    """The local engine's feature table for scoring `interim` (campaigns dropped, as score.py does)."""
    from pipeline.features.build import build_features
    from pipeline.sql import parquet_source

    con = duck.connect(config={"threads": 2})  # with the canon() UDFs the feature SQL calls
    con.execute(f"CREATE VIEW acc_src AS SELECT * REPLACE (NULL::VARCHAR AS campaign) FROM {parquet_source(interim / 'accounts.parquet')}")
    try:
        return build_features(con, "acc_src", parquet_source(interim / "tweets.parquet"), params)
    finally:
        con.close()


def _assert_same_features(local: pa.Table, spark_feats: pa.Table) -> None:
    """Same rows, columns and types. Coordination runs the same DuckDB SQL on whole keys in both
    engines, so its columns agree to the bit; behaviour aggregates (means, deviations) add floats
    in partition order, so those agree to 1e-12."""
    assert spark_feats.column_names == local.column_names
    assert [(f.name, f.type) for f in spark_feats.schema] == [(f.name, f.type) for f in local.schema]
    assert spark_feats.column("userid").equals(local.column("userid"))
    coordination = set(local.column_names[local.column_names.index("coord_partners"):])
    for name in local.column_names:
        a, b = local.column(name).to_pandas(), spark_feats.column(name).to_pandas()
        if pa.types.is_floating(local.schema.field(name).type) and name not in coordination:
            assert np.allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-12, atol=1e-12, equal_nan=True), name
        else:
            assert a.equals(b), name


@pytest.mark.slow
@needs_spark
@pytest.mark.usefixtures("spark")
def test_spark_reads_parquet_and_gives_the_local_features_and_scores(model, interim, tmp_path):
    from pipeline.spark_engine import score_spark

    work = tmp_path / "work"
    work.mkdir()
    net: dict = {}
    seconds = score_spark(interim, work, model, partitions=4, memory_limit="1GB", network=(net, 10))
    assert "network" in seconds and len(net["edges"])

    local = _local_features(interim, model.features)
    _assert_same_features(local, pq.read_table(work / "features").sort_by("userid"))
    # Under the model's timed windows the small sample holds few ties; the engines' agreement
    # on clusters is checked under looser ties in test_spark_network_is_the_local_network.

    # Scores: the parts, in the score contract, then the output file written from them exactly as score_dump does.
    from pipeline.score import ScoreReport, concat_parts, score_dump

    assert pq.read_table(work / "parts").schema.equals(arrow_schema())
    scored = pd.read_parquet(work / "parts")
    out = tmp_path / "spark.parquet"
    concat_parts(work, out, ScoreReport())
    local_out = tmp_path / "local.parquet"
    score_dump([str(interim)], model, local_out, partitions=3, progress=False, network=tmp_path / "net")
    local_scores, spark_scores = pd.read_parquet(local_out), pd.read_parquet(out)
    diff = _assert_same_scores(local_scores, spark_scores)
    _assert_same_scores(local_scores, scored[list(local_scores.columns)])
    assert list(spark_scores["userid"]) == list(local_scores["userid"])  # same order: score, then userid

    # The network as `score --network` writes it (with the scores), from either engine.
    from pipeline.network import read_scores, with_scores

    spark_net = with_scores(net, read_scores(out))
    for name, key in (("edges", ["trace", "source", "target"]), ("nodes", ["userid"]), ("clusters", ["cluster"])):
        _assert_same_table(pd.read_parquet(tmp_path / "net" / f"{name}.parquet"),
                           pd.read_parquet(_written(spark_net[name], tmp_path / f"spark_{name}.parquet")), key)
    print(f"\nmax abs score difference, local vs spark: {diff:.3g} over {len(local_scores)} accounts")


@pytest.mark.slow
@needs_spark
def test_other_settings_and_partitions_give_the_local_features(spark, model, interim, tmp_path):
    """More propagation rounds (three spread stages), looser pairs and another partition count."""
    from pipeline.spark_engine import build_features_spark

    params = model.features.model_copy(deep=True)
    params.coordination.near_duplicate_rounds = 2
    params.coordination.min_shared = 1
    params.coordination.max_sync_accounts = 8
    frame, cached = build_features_spark(spark, interim / "accounts.parquet", interim / "tweets.parquet", params,
                                         partitions=3, memory_limit="1GB")
    frame.write.parquet(str(tmp_path / "features"))
    for c in cached:
        c.unpersist()
    local = _local_features(interim, params)
    assert local.column("coord_partners").to_numpy().sum() > _local_features(interim, model.features).column(
        "coord_partners").to_numpy().sum()  # the looser settings make more ties
    _assert_same_features(local, pq.read_table(tmp_path / "features").sort_by("userid"))


def _written(frame: pd.DataFrame, path) -> str:
    """`frame` as `write_network` writes it: the Parquet round trip, so types compare alike."""
    frame.to_parquet(path, index=False)
    return str(path)


def _assert_same_table(local: pd.DataFrame, other: pd.DataFrame, key: list[str]) -> None:
    """Same columns, types and rows after sorting by `key`: floats to 1e-9 relative (DuckDB
    adds them in thread order, run to run), lists and everything else exactly."""
    assert list(other.columns) == list(local.columns)
    assert dict(other.dtypes) == dict(local.dtypes)
    a, b = (t.sort_values(key, ignore_index=True) for t in (local, other))
    assert len(a) == len(b)
    for c in a.columns:
        x, y = a[c], b[c]
        if x.dtype.kind == "f":
            assert np.allclose(x.to_numpy(float), y.to_numpy(float), rtol=1e-9, atol=0, equal_nan=True), c
        elif len(x) and isinstance(x.dropna().iloc[0] if x.notna().any() else None, (list, np.ndarray)):
            assert [None if v is None else list(v) for v in x] == [None if v is None else list(v) for v in y], c
        else:
            assert x.equals(y), c


@pytest.mark.slow
@needs_spark
def test_spark_network_is_the_local_network(spark, model, interim, tmp_path):
    """Every trace's ties with their evidence, texts and times, the nodes and the clusters,
    from either engine; looser ties than the model's so that five traces show."""
    from pipeline.network import interim_network
    from pipeline.spark_engine import build_features_spark, network_spark

    params = model.features.model_copy(deep=True)
    for k, v in {"min_shared": 1, "min_shared_sync": 1, "max_sync_accounts": 8, "significance": 0.2,
                 "min_tie_weight": 0.0, "co_share_window_minutes": None, "near_duplicate_window_minutes": None,
                 "hashtag_window_minutes": None}.items():
        setattr(params.coordination, k, v)
    local = interim_network(interim, params, 4, tmp_path / "work", memory_limit="1GB")
    keep: dict = {}
    feats, cached = build_features_spark(spark, interim / "accounts.parquet", interim / "tweets.parquet", params,
                                         partitions=3, memory_limit="1GB", keep=keep)
    try:
        other = network_spark(spark, keep, params.coordination, 4, partitions=3, memory_limit="1GB")
        # Coordination crosses the two dumps, and the engines agree on its features and clusters.
        local_feats = _local_features(interim, params)
        _assert_same_features(local_feats, feats.toArrow().sort_by("userid"))
        assert any(local_feats.column("coord_cluster").to_pylist()), "the sample should hold coordinated clusters"
    finally:
        for c in cached:
            c.unpersist()
    assert {"co_retweet", "near_duplicate", "co_hashtag_seq", "sync", "fast_retweet"} <= set(local["edges"]["trace"])
    assert len(local["clusters"]) >= 1 and local["edges"]["evidence"].map(len).le(4).all()
    _assert_same_table(local["edges"], other["edges"], ["trace", "source", "target"])
    _assert_same_table(local["nodes"], other["nodes"], ["userid"])
    _assert_same_table(local["clusters"], other["clusters"], ["cluster"])


@needs_spark
def test_the_spark_udf_declares_the_score_contract(spark):
    from pyspark.sql.pandas.types import from_arrow_schema

    assert spark.createDataFrame([], spark_ddl()).schema == from_arrow_schema(arrow_schema())


_SHOW_MASTERS = """
import os
from pipeline.spark_engine import spark_session
seen = []
for option, env in ((None, None), (None, "local[2]"), ("local[3]", "local[2]")):
    if env:
        os.environ["SPARK_MASTER"] = env
    session, created = spark_session(option)
    seen.append(session.sparkContext.master)
    session.stop()
print("masters:", *seen)
"""


def _masters(conf_dir) -> list[str]:
    """The masters a fresh interpreter gets with `conf_dir` as SPARK_CONF_DIR, for: nothing
    given, $SPARK_MASTER, --spark-master and $SPARK_MASTER."""
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_MASTER", "MASTER", "PYSPARK_SUBMIT_ARGS")}
    res = subprocess.run([sys.executable, "-c", _SHOW_MASTERS], check=False, cwd=REPO, capture_output=True, text=True, timeout=600,
                         env={**env, "SPARK_CONF_DIR": str(conf_dir)})
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout.split("masters:")[-1].split()


@pytest.mark.slow
@needs_spark
def test_master_is_the_option_then_spark_master_then_spark_defaults_then_local(tmp_path):
    # A fresh interpreter each: spark-defaults.conf is read when the JVM starts.
    configured, bare = tmp_path / "configured", tmp_path / "bare"
    configured.mkdir()
    bare.mkdir()
    (configured / "spark-defaults.conf").write_text("# the cluster's defaults\nspark.master   local[1]\n", encoding="utf-8")
    assert _masters(configured) == ["local[1]", "local[2]", "local[3]"]
    assert _masters(bare) == ["local[*]", "local[2]", "local[3]"]


@pytest.mark.slow
@needs_spark
@pytest.mark.usefixtures("spark")
def test_cli_spark_engine_writes_the_same_csv_as_local(model, tmp_path):
    """The whole command: raw dump in, CSV out (spreadsheet-safe), row for row as the local engine."""
    import csv

    dump = tmp_path / "dump"
    dump.mkdir()
    header = ["userid", "user_display_name", "user_screen_name", "user_reported_location", "user_profile_description",
              "user_profile_url", "follower_count", "following_count", "account_creation_date", "account_language"]
    with open(dump / "x_users.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL)
        w.writerow(header)
        w.writerow(["=HYPERLINK(1)", "n", "h", "", "", "", "3", "40", "2019-08-01", "zh-cn"])
        w.writerow(["12345", "n2", "h2", "", "", "", "300", "40", "2012-08-01", "en"])
        w.writerow(["12346", "n3", "h3", "", "", "", "30", "400", "2019-08-01", "zh-cn"])
    local_out, spark_out = tmp_path / "local.csv", tmp_path / "spark.csv"
    score_dump([str(dump)], model, local_out, partitions=2, progress=False, network=tmp_path / "net_local")
    res = CliRunner().invoke(app, ["score", str(dump), "--model", model.source, "--out", str(spark_out),
                                   "--engine", "spark", "--partitions", "2", "--memory-limit", "1GB", "--no-progress",
                                   "--network", str(tmp_path / "net_spark")])
    assert res.exit_code == 0, res.output
    assert "scored 3 accounts" in res.output
    local, spark_df = pd.read_csv(local_out, keep_default_na=False), pd.read_csv(spark_out, keep_default_na=False)
    assert "'=HYPERLINK(1)" in set(spark_df["userid"])
    _assert_same_scores(local, spark_df)
    assert list(spark_df["userid"]) == list(local["userid"])
    # --network from the Spark engine: three accounts share nothing, so no ties, in the same empty tables.
    from pipeline.network import FILES

    assert all((tmp_path / "net_spark" / f).exists() for f in FILES)
    for name, key in (("edges", ["trace", "source", "target"]), ("nodes", ["userid"]), ("clusters", ["cluster"])):
        spark_t = pd.read_parquet(tmp_path / "net_spark" / f"{name}.parquet")
        assert len(spark_t) == 0
        _assert_same_table(pd.read_parquet(tmp_path / "net_local" / f"{name}.parquet"), spark_t, key)
    assert not list(tmp_path.glob(".*"))  # work folder and lock are gone


@pytest.mark.slow
@needs_spark
def test_bad_input_gives_the_same_clear_error(model, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    errors = {}
    for engine in ("local", "spark"):
        with pytest.raises(InputError) as exc:
            score_dump([str(empty)], model, tmp_path / f"o_{engine}.parquet", progress=False, engine=engine)
        errors[engine] = str(exc.value)
    assert errors["local"] == errors["spark"] and str(empty) in errors["spark"]

    bad = tmp_path / "bad"
    bad.mkdir()
    pq.write_table(pa.table({"userid": ["1"]}), bad / "accounts.parquet")
    pq.write_table(pa.table({"userid": ["1"]}), bad / "tweets.parquet")
    with pytest.raises(InputError, match="has no column"):
        score_dump([str(bad)], model, tmp_path / "b.parquet", progress=False, engine="spark")
    with pytest.raises(ConfigError, match=".parquet or .csv"):
        score_dump([str(empty)], model, tmp_path / "o.txt", progress=False, engine="spark")


def test_engine_options_are_checked(model, tmp_path):
    with pytest.raises(ConfigError, match="--engine must be one of"):
        score_dump([str(tmp_path)], model, tmp_path / "o.parquet", progress=False, engine="dask")
    with pytest.raises(ConfigError, match="needs --engine spark"):
        score_dump([str(tmp_path)], model, tmp_path / "o.parquet", progress=False, spark_master="local[2]")


def test_missing_pyspark_is_one_sentence(monkeypatch):
    from pipeline.spark_engine import require_pyspark

    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(ConfigError, match=r"pip install statelink\[spark\]"):
        require_pyspark()
