"""`statelink score --engine spark`: the same features and scores as the local engine.

One SparkSession (local[2], loopback, no UI) is shared by the whole test session: starting
one takes 8-16 s. The engine picks up the active session instead of starting its own.
"""

from __future__ import annotations

import importlib.util
import sys

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.errors import ConfigError, InputError
from pipeline.score import load_model, score_dump

HAS_PYSPARK = importlib.util.find_spec("pyspark") is not None
needs_spark = pytest.mark.skipif(not HAS_PYSPARK, reason="pyspark is not installed (pip install statelink[spark])")
TWO_CAMPAIGNS = ("hk_2019", "covid_2020")


@pytest.fixture(scope="session")
def spark():
    import os

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


@pytest.mark.slow
@needs_spark
@pytest.mark.usefixtures("spark")
def test_spark_reads_parquet_and_gives_the_local_features_and_scores(model, interim, tmp_path):
    from pipeline.features.build import build_features, parquet_source
    from pipeline.spark_engine import score_spark

    work = tmp_path / "work"
    work.mkdir()
    score_spark(interim, work, model, partitions=4, memory_limit="1GB")

    con = duckdb.connect(config={"threads": 2})
    con.execute(f"CREATE VIEW acc_src AS SELECT * REPLACE (NULL::VARCHAR AS campaign) FROM {parquet_source(interim / 'accounts.parquet')}")
    local = build_features(con, "acc_src", parquet_source(interim / "tweets.parquet"), model.features)
    con.close()
    spark_feats = pq.read_table(work / "features").sort_by("userid")
    assert spark_feats.column_names == local.column_names
    assert [(f.name, f.type) for f in spark_feats.schema] == [(f.name, f.type) for f in local.schema]
    assert spark_feats.column("userid").equals(local.column("userid"))
    for name in local.column_names:
        a, b = local.column(name).to_pandas(), spark_feats.column(name).to_pandas()
        if pa.types.is_floating(local.schema.field(name).type):
            assert np.allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-12, atol=1e-12, equal_nan=True), name
        else:
            assert a.equals(b), name
    # Coordination crosses the two dumps and the engines agree on it.
    clusters = local.column("coord_cluster").to_pylist()
    assert any(clusters), "the sample should hold coordinated clusters"

    # Scores: the parts, then the output file written from them exactly as score_dump does.
    from pipeline.score import ScoreReport, _stage_concat, score_dump

    scored = pd.read_parquet(work / "parts")
    out = tmp_path / "spark.parquet"
    _stage_concat(work, out, 4, ScoreReport())
    local_out = tmp_path / "local.parquet"
    score_dump([str(interim)], model, local_out, partitions=3, progress=False)
    local_scores, spark_scores = pd.read_parquet(local_out), pd.read_parquet(out)
    diff = _assert_same_scores(local_scores, spark_scores)
    _assert_same_scores(local_scores, scored[list(local_scores.columns)])
    assert list(spark_scores["userid"]) == list(local_scores["userid"])  # same order: score, then userid
    print(f"\nmax abs score difference, local vs spark: {diff:.3g} over {len(local_scores)} accounts")


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
    score_dump([str(dump)], model, local_out, partitions=2, progress=False)
    res = CliRunner().invoke(app, ["score", str(dump), "--model", model.source, "--out", str(spark_out),
                                   "--engine", "spark", "--partitions", "2", "--memory-limit", "1GB", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "scored 3 accounts" in res.output
    local, spark_df = pd.read_csv(local_out, keep_default_na=False), pd.read_csv(spark_out, keep_default_na=False)
    assert "'=HYPERLINK(1)" in set(spark_df["userid"])
    _assert_same_scores(local, spark_df)
    assert list(spark_df["userid"]) == list(local["userid"])
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
