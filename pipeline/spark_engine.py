"""The Spark engine of `statelink score` (`--engine spark`): the same features and model, on a cluster.

The local engine computes features in one DuckDB over everything scored together. Here
the same numbers come from Spark, so a dump larger than one machine can be scored, and
the two engines give the same scores (tests/test_spark.py holds them to 1e-6).

Spark only moves rows; every number is computed by the local engine's own DuckDB SQL.
Each step of pipeline/features/coordination.py names its *key*: the rows it needs
together. A stage here shuffles its input rows by that key (`Stages.run`) and runs the
same SQL builder in a DuckDB on every partition, which then holds every row of each key
value it sees, so it gives exactly the rows the local engine's one query gives:

1. Per tweet (no shuffle): item memberships of the tweet families, with when each was
   shared, and near-duplicate candidate texts (`items_sql`, `nd_docs_sql`).
2. Near-duplicate text: MinHash keys per distinct text (`nd_keys_sql`, by text), rounds
   of min-label propagation (`nd_spread_sql`, by bucket, then by text), each document's
   group (`nd_doc_groups_sql`, by text) and whether its group spans accounts
   (`near_duplicate_flags_sql`, by group).
3. Ties, every family at once: items per account (by account), pairs per kept item
   (`kept_items_sql`, `pair_rows_sql`, by item), pair counts and u's items (by u), weights
   against the null and both ends of each tie (by v). The nulls' population figures
   (`population_totals_sql`, `null_sums_sql`) are sums: each partition emits its partial
   sums, the driver adds them up (`population_sums_sql`) and hands the totals to the
   later steps, like the creation batches of 6.
4. Retweet delays, by original tweet (`retweet_delays_sql`).
5. Connected components: the tie list (bounded by the item caps) is collected to the
   driver and labelled by the local engine's routine (`coordination.tie_clusters`).
6. Per account (by userid): behaviour and text features (`compute_behaviour`,
   `compute_text`; creation batches are population-level, so their per-day counts are
   computed once and handed to every partition), the coordination table
   (`assemble_coordination`) and the feature row (`build.assemble_sql`, `build.to_float`).
7. With `--network`, the coordination network from the intermediates of 1-5
   (`network_spark`), by pipeline/network.py's builders: group texts (by tweet), evidence
   items (by item), each tie's items at either end (by account), one row per tie (by tie)
   with fast retweets (by retweeter and author), and nodes (by account). The edge and node
   rows, bounded by the ties, are collected and finished on the driver by the local
   engine's `network_frames`; score.py adds the scores and writes them, as for the local engine.
8. Scoring: feature rows are repartitioned by userid and each partition is scored with
   the loaded MLflow model's bundle through `mapInPandas`, i.e. `serving.score_features`,
   the pyfunc's own code path, into the score contract (pipeline/contract.py).

Everything is read from and written to Parquet: the ingested tables, the feature table
(`<work>/features/`) and the scored partitions (`<work>/parts/`), which `score.py` then
sorts and writes as the output exactly as for the local engine. On a cluster, the output's
folder must be on storage that the driver and the executors share, and the executors need
statelink installed (`pip install statelink[spark]`).

DuckDB computes time-of-day features in its `TimeZone` setting; every partition uses the
driver's, so executors in another time zone still agree with the local engine.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import duck
from pipeline.config import CoordinationParams, FeaturesParams
from pipeline.contract import spark_ddl
from pipeline.errors import ConfigError
from pipeline.features.behaviour import (
    compute_behaviour,
    creation_batch_day_sql,
    creation_per_day_sql,
)
from pipeline.features.build import assemble_sql, to_float
from pipeline.features.coordination import (
    FAMILIES,
    NULL_SUMS,
    POPULATION_TOTALS,
    TWEET_FAMILIES,
    assemble_coordination,
    family_rule,
    family_window_s,
    items_per_account_sql,
    items_sql,
    kept_items_sql,
    members_sql,
    nd_doc_groups_sql,
    nd_docs_sql,
    nd_keys_sql,
    nd_spread_sql,
    nd_spread_steps,
    nd_state_sql,
    nd_text_groups_sql,
    nd_texts_sql,
    near_duplicate_flags_sql,
    null_sums_sql,
    pair_counts_sql,
    pair_rows_sql,
    pair_u_items_sql,
    population_sums_sql,
    population_totals_sql,
    retweet_delays_sql,
    tie_clusters,
    tie_ends_sql,
    tie_weights_sql,
)
from pipeline.features.tables import POPULATION_SQL, TW_COLUMNS, materialise_tweets
from pipeline.features.text import compute_text
from pipeline.schema import ACCOUNTS_SCHEMA

PYSPARK_MISSING = "the Spark engine needs pyspark, which is not installed: run `pip install statelink[spark]`."
LOCAL_DEFAULT = "local[*]"


def require_pyspark() -> None:
    """Raise one clear sentence when the optional `spark` extra is not installed."""
    try:
        import pyspark
        import pyspark.sql  # noqa: F401
    except ImportError:
        raise ConfigError(PYSPARK_MISSING) from None


# ---------------------------------------------------------------- session

def spark_session(master: str | None = None, shuffle_partitions: int = 8):
    """The active SparkSession if there is one (a notebook's, a test's), else a new one.

    The master: `master` (--spark-master), else $SPARK_MASTER, else what Spark itself loads
    (spark.master of spark-defaults.conf in $SPARK_CONF_DIR or $SPARK_HOME/conf), else
    local[*]. Returns (session, created): the caller stops only a session it created. A
    local master binds to loopback, has no UI and uses this Python for its workers:
    nothing listens on the network and nothing is downloaded.
    """
    require_pyspark()
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    # Progress is ours to show (rich, in score.py); Spark's console bars would interleave with it.
    conf = (SparkConf().setAppName("statelink-score").set("spark.sql.execution.arrow.pyspark.enabled", "true")
            .set("spark.ui.showConsoleProgress", "false"))
    chosen = master or os.environ.get("SPARK_MASTER")
    gateway = None
    if chosen:
        conf.setMaster(chosen)
        url = chosen
    else:
        # Once this process has a JVM, SparkConf() holds what spark-submit loaded; before, start
        # one: spark-submit reads spark-defaults.conf (and sets local[*] when it names no master).
        url = conf.get("spark.master")
        if url is None:
            gateway = launch_gateway(conf)
            url = gateway.jvm.org.apache.spark.SparkConf(True).get("spark.master", LOCAL_DEFAULT)
    if url.startswith("local"):
        # Local workers run this interpreter (the one with statelink installed).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        for key, value in (("spark.ui.enabled", "false"), ("spark.driver.host", "127.0.0.1"),
                           ("spark.driver.bindAddress", "127.0.0.1"), ("spark.sql.shuffle.partitions", str(shuffle_partitions)),
                           ("spark.pyspark.python", sys.executable), ("spark.pyspark.driver.python", sys.executable)):
            conf.set(key, value)
    if gateway is not None:
        SparkContext(conf=conf, gateway=gateway)  # on the JVM started above, not a second one
    else:
        SparkContext.getOrCreate(conf)  # a context without a session (a notebook's) is kept
    return SparkSession.builder.getOrCreate(), True


# ---------------------------------------------------------------- stages: shuffle, then DuckDB

def _duck(tz: str, memory_limit: str) -> duckdb.DuckDBPyConnection:
    con = duck.connect(config={"memory_limit": memory_limit, "threads": 1})
    con.execute(f"SET TimeZone = '{tz}'")
    return con


def _execute(con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table], fn: Callable[[duckdb.DuckDBPyConnection], Any]):
    """`fn(con)` with `tables` registered on `con` under their names; `con` is closed after."""
    try:
        for n, t in tables.items():
            con.register(n, t)
        return fn(con)
    finally:
        con.close()


# DuckDB types Spark has no type for, as the nearest ones it has (values unchanged; the
# SQL only compares them).
_SPARK_TYPES = {pa.uint8(): pa.int16(), pa.uint16(): pa.int32(), pa.uint32(): pa.int64(), pa.uint64(): pa.decimal128(20, 0)}


def _spark_safe(schema: pa.Schema) -> pa.Schema:
    return pa.schema([f.with_type(_SPARK_TYPES.get(f.type, f.type)) for f in schema])


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast to what Spark declared (it may use large string types)."""
    return table.select(schema.names).cast(schema)


Run = Callable[[duckdb.DuckDBPyConnection], "pa.Table | dict[str, pa.Table]"]


@dataclass
class Stages:
    """Runs DuckDB on Spark partitions. `run(inputs, fn)`: each input DataFrame is shuffled by
    its key columns (None: no shuffle, batch by batch; one input only), and `fn(con)` runs on
    every partition with the inputs registered on `con` under their names. `fn` returns a
    table, or a dict of named tables (one DataFrame each). The output schema is `fn`'s on
    empty inputs: DuckDB's types follow from the SQL, not from the rows."""

    partitions: int
    tz: str
    memory_limit: str
    large: bool  # spark.sql.execution.arrow.useLargeVarTypes
    cached: list = field(default_factory=list)

    def arrow(self, spark_schema) -> pa.Schema:
        from pyspark.sql.pandas.types import to_arrow_schema

        return to_arrow_schema(spark_schema, timezone="UTC", prefers_large_types=self.large)

    def run(self, inputs: dict[str, tuple[Any, Sequence[str] | None]], fn: Run, persist: bool = False):
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        names = list(inputs)
        tz, memory_limit = self.tz, self.memory_limit

        def execute(tables: dict[str, pa.Table]):
            return _execute(_duck(tz, memory_limit), tables, fn)

        sample = execute({n: self.arrow(df.schema).empty_table() for n, (df, _) in inputs.items()})
        out = _Outputs(self, sample)
        if len(inputs) == 1 and inputs[names[0]][1] is None:
            name, frame = names[0], inputs[names[0]][0]

            def per_batch(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
                for b in batches:
                    if b.num_rows:
                        yield from out.batches(execute({name: pa.Table.from_batches([b])}))
        else:
            frame = _copartitioned(inputs, self.partitions)

            def per_batch(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
                batches = list(batches)  # the whole partition: every row of its keys
                if batches:
                    yield from out.batches(execute(_unpacked(pa.Table.from_batches(batches), names)))

        frame = frame.mapInArrow(per_batch, out.spark)
        if out.multi or persist:
            frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
            self.cached.append(frame)
        if not out.multi:
            return frame
        return {o: frame.where(F.col("_out") == i).select(f"_o{i}.*") for i, o in enumerate(sample)}


class _Outputs:
    """A stage's Spark schema, from `fn`'s output on empty inputs; several outputs travel as
    one struct column each beside `_out`, the output's number."""

    def __init__(self, stages: Stages, sample: pa.Table | dict[str, pa.Table]):
        from pyspark.sql.pandas.types import from_arrow_schema
        from pyspark.sql.types import ShortType, StructField, StructType

        self.multi = isinstance(sample, dict)
        tables = list(sample.values()) if self.multi else [sample]
        spark = [from_arrow_schema(_spark_safe(t.schema)) for t in tables]
        if self.multi:
            self.spark = StructType([StructField("_out", ShortType()), *[StructField(f"_o{i}", s) for i, s in enumerate(spark)]])
            self.arrow = stages.arrow(self.spark)
            self.structs = [self.arrow.field(f"_o{i}").type for i in range(len(tables))]
            self.schemas = [pa.schema(list(t)) for t in self.structs]
        else:
            self.spark = spark[0]
            self.schemas = [stages.arrow(self.spark)]

    def batches(self, result: pa.Table | dict[str, pa.Table]) -> Iterator[pa.RecordBatch]:
        if not self.multi:
            yield from _conform(result, self.schemas[0]).to_batches()
            return
        for i, table in enumerate(result.values()):
            table, n = _conform(table, self.schemas[i]), table.num_rows
            if n:
                packed = pa.StructArray.from_arrays([c.combine_chunks() for c in table.columns], fields=list(self.schemas[i]))
                cols = [packed if j == i else pa.nulls(n, t) for j, t in enumerate(self.structs)]
                yield pa.RecordBatch.from_arrays([pa.array([i] * n, pa.int16()), *cols], schema=self.arrow)


def _copartitioned(inputs: dict[str, tuple[Any, Sequence[str]]], partitions: int):
    """All inputs in one DataFrame, each row in its partition by a hash of its input's key:
    rows with equal keys meet in one partition, whatever input they come from. Columns:
    `_k` (the hash), `_src` (the input's number) and one struct column per input."""
    from pyspark.sql import functions as F

    frames = []
    for j, (df, key) in enumerate(inputs.values()):
        cols = [F.hash(*[F.col(k) for k in key]).alias("_k"), F.lit(j).alias("_src")]
        cols += [(F.struct(*[F.col(c) for c in df.columns]) if jj == j else F.lit(None).cast(other.schema)).alias(f"_i{jj}")
                 for jj, (other, _) in enumerate(inputs.values())]
        frames.append(df.select(*cols))
    return reduce(lambda a, b: a.unionByName(b), frames).repartition(partitions, "_k")


def _unpacked(table: pa.Table, names: Sequence[str]) -> dict[str, pa.Table]:
    """The inputs of one `_copartitioned` partition, by name."""
    src = table.column("_src")
    return {n: pa.Table.from_struct_array(table.filter(pc.equal(src, j)).column(f"_i{j}").combine_chunks())
            for j, n in enumerate(names)}


def _each_family(con: duckdb.DuckDBPyConnection, tables: Sequence[str],
                 step: Callable[[str], str | dict[str, str]]) -> pa.Table | dict[str, pa.Table]:
    """`step(fam)`'s SQL for each family in turn, over views `<table>_fam` of that family's
    rows of each of `tables`; the rows come back with their `fam`, as one table. A step may
    return several named queries (over tables it made for its family): one table each, by name."""
    parts: dict[str | None, list[pa.Table]] = {}
    for fam in FAMILIES:
        for t in tables:
            con.execute(f"CREATE OR REPLACE TEMP VIEW {t}_fam AS SELECT * EXCLUDE (fam) FROM {t} WHERE fam = '{fam}'")
        queries = step(fam)
        # Run before the next family replaces the views and tables the queries read.
        for name, sql in (queries.items() if isinstance(queries, dict) else [(None, queries)]):
            parts.setdefault(name, []).append(con.sql(f"SELECT '{fam}' AS fam, * FROM ({sql})").to_arrow_table())
    tables_out = {name: pa.concat_tables(p) for name, p in parts.items()}
    return tables_out.pop(None) if None in tables_out else tables_out


def _population_sums(partials, columns: Sequence[str]) -> pa.Table:
    """Partial per-(family, population) sums of `columns`, one row per partition that saw the
    population, added up on the driver by the same SQL: a few rows per family, population
    and partition, so collecting them is cheap. Later steps register the result (as `batch_day`)."""
    return _execute(duck.connect(), {"partials": partials.toArrow()},
                    lambda con: _each_family(con, ["partials"], lambda fam: population_sums_sql("partials_fam", columns)))


def _tagged_items(fam: str, items: str) -> str:
    """One family's `items_sql` rows with their `fam`, in the columns every family shares:
    the families' items differ in type, and as text they share one column (an item's key
    hash changes with it, which items are equal does not); t is DOUBLE for every family."""
    return f"SELECT '{fam}' AS fam, population, item::VARCHAR AS item, userid, t::DOUBLE AS t FROM ({items})"


# ---------------------------------------------------------------- the engine

def _driver_tz() -> str:
    return _execute(duck.connect(), {}, lambda con: con.execute("SELECT current_setting('TimeZone')").fetchall()[0][0])


def build_features_spark(spark, accounts_path: Path, tweets_path: Path, params: FeaturesParams, *,
                         partitions: int, memory_limit: str = "2GB", keep: dict[str, Any] | None = None):
    """Spark DataFrame of the feature table: the local engine's rows and columns, same order.

    Returns (DataFrame, persisted DataFrames to unpersist once it is written). With `keep`
    (a dict), also the intermediates the coordination network is built from, into it
    (`network_spark`): acc, tweets, items (with fam), ties (fam, u, v, shared, weight, z),
    doc_groups, delays, clusters; use them before unpersisting.
    """
    from pyspark.sql import functions as F

    cp = params.coordination
    large = spark.conf.get("spark.sql.execution.arrow.useLargeVarTypes", "false").lower() == "true"
    st = Stages(partitions, _driver_tz(), memory_limit, large)

    # Scoring population: everything scored together (campaign dropped), as score.py does.
    acc = (spark.read.parquet(str(accounts_path)).select(*[f.name for f in ACCOUNTS_SCHEMA])
           .withColumn("campaign", F.lit(None).cast("string"))
           .withColumn("population", F.expr(POPULATION_SQL)))
    # Only the columns the feature SQL reads travel.
    tweets = spark.read.parquet(str(tweets_path)).select(*TW_COLUMNS, "tweet_text")
    # Each tweet with its account's columns, as `materialise_tweets` joins them.
    tw = tweets.join(acc.select("userid", "account_language", "population"), "userid")

    # Creation batches are population-level: per-day counts, then the same SQL on the driver.
    per_day = st.run({"acc": (acc, ["population", "account_creation_date"])}, lambda con: con.sql(creation_per_day_sql("acc")).to_arrow_table())
    batch_day = _execute(duck.connect(), {"per_day": per_day.toArrow()},
                         lambda con: con.sql(creation_batch_day_sql(params, "per_day")).to_arrow_table())

    # 1. Per tweet.
    def tweet_rows(con):
        con.execute("CREATE VIEW tweets AS SELECT * EXCLUDE (account_language, population) FROM tw_in")
        con.execute("CREATE VIEW acc AS SELECT DISTINCT userid, account_language, population FROM tw_in")
        materialise_tweets(con)
        # Items keep their times where the network will read them (`keep`), as locally.
        items = items_sql(cp, item_times=keep is not None)
        tagged = " UNION ALL ".join(_tagged_items(fam, items[fam]) for fam in TWEET_FAMILIES)
        return {"items": con.sql(tagged).to_arrow_table(), "docs": con.sql(nd_docs_sql(cp)).to_arrow_table()}

    per_tweet = st.run({"tw_in": (tw, None)}, tweet_rows)
    docs = per_tweet["docs"]

    # 2. Near-duplicate text. The first step reads only distinct (population, norm) pairs.
    def text_state(con):
        con.execute(f"CREATE TEMP TABLE nd_texts AS {nd_texts_sql(text_id='norm')}")
        con.execute(f"CREATE TEMP TABLE nd_keys AS {nd_keys_sql(cp)}")
        return con.sql(nd_state_sql()).to_arrow_table()

    state = st.run({"nd_docs": (docs.select("population", "norm").distinct(), ["norm"])}, text_state)
    for by in nd_spread_steps(cp.near_duplicate_rounds):
        state = st.run({"nd_state": (state, by)}, lambda con, by=by: con.sql(nd_spread_sql("nd_state", by)).to_arrow_table())

    def doc_groups(con):
        con.execute(f"CREATE TEMP TABLE nd_texts AS {nd_texts_sql(text_id='norm')}")
        con.execute(f"CREATE TEMP TABLE nd_groups AS {nd_text_groups_sql('nd_state')}")
        con.execute(f"CREATE TEMP TABLE nd_doc_groups AS {nd_doc_groups_sql()}")
        nd_items = _tagged_items("near_duplicate", items_sql(cp)["near_duplicate"])
        return {"groups": con.sql("SELECT * FROM nd_doc_groups").to_arrow_table(), "items": con.sql(nd_items).to_arrow_table()}

    grouped = st.run({"nd_docs": (docs, ["population", "norm"]), "nd_state": (state, ["population", "text_id"])}, doc_groups)
    flags = st.run({"nd_doc_groups": (grouped["groups"], ["population", "grp"])},
                   lambda con: con.sql(near_duplicate_flags_sql()).to_arrow_table())

    # 3. Ties, every family at once.
    items = per_tweet["items"].unionByName(grouped["items"])

    # The uid is the userid here (no account numbers): an account's items are spread over the
    # item partitions, and userids order the pairs as the local engine's numbers do.
    members = f"CREATE OR REPLACE TEMP TABLE members AS {members_sql('items_fam')}"

    def n_items(con):
        def step(fam):
            con.execute(members)
            con.execute(f"CREATE OR REPLACE TEMP TABLE n_items AS {items_per_account_sql('members')}")
            # This partition's accounts only: a partial total.
            return {"n_items": "SELECT * FROM n_items", "totals": population_totals_sql("n_items")}
        return _each_family(con, ["items"], step)

    # Items per account first: the item weights need each population's accounts.
    counts = st.run({"items": (items, ["fam", "userid"])}, n_items)
    totals = _population_sums(counts["totals"], POPULATION_TOTALS)

    def pair_rows(con):
        con.register("totals", totals)

        def step(fam):
            con.execute(members)
            con.execute(f"CREATE OR REPLACE TEMP TABLE kept AS {kept_items_sql('members', 'totals_fam', family_rule(cp, fam).cap)}")
            con.execute(f"CREATE OR REPLACE TEMP TABLE pair_rows AS {pair_rows_sql('members', 'kept', family_window_s(cp, fam))}")
            # This partition's items and pairs only: partial sums.
            return {"rows": "SELECT * FROM pair_rows", "sums": null_sums_sql("kept", "pair_rows")}
        return _each_family(con, ["items", "totals"], step)

    rows = st.run({"items": (items, ["fam", "population", "item"])}, pair_rows)
    sums = _population_sums(rows["sums"], NULL_SUMS)

    def pairs_u(con):
        def step(fam):
            counted = pair_counts_sql("pair_rows_fam", family_rule(cp, fam).min_shared)
            return f"WITH pairs AS ({counted}) {pair_u_items_sql('pairs', 'n_items_fam')}"
        return _each_family(con, ["pair_rows", "n_items"], step)

    def ties(con):
        con.register("totals", totals)
        con.register("sums", sums)

        def step(fam):
            return tie_weights_sql("pairs_u_fam", "n_items_fam", "totals_fam", "sums_fam", cp, fam)
        con.register("ties", _each_family(con, ["pairs_u", "n_items", "totals", "sums"], step))
        # Ties whole: the network's evidence starts from them (`network_spark`).
        return {"ties": con.sql("SELECT fam, u, v, shared, weight, z FROM ties").to_arrow_table(),
                "ends": con.sql(tie_ends_sql("ties")).to_arrow_table()}

    half = st.run({"pair_rows": (rows["rows"], ["fam", "u"]), "n_items": (counts["n_items"], ["fam", "uid"])}, pairs_u)
    tied = st.run({"pairs_u": (half, ["fam", "v"]), "n_items": (counts["n_items"], ["fam", "uid"])}, ties)

    # 4. Retweet delays, by original tweet (a retweet without one never joins).
    rt = tw.select("population", "userid", "tweetid", "retweet_tweetid", "is_retweet", "tweet_time")
    delays = st.run({"retweets": (rt.where(F.col("retweet_tweetid").isNotNull()), ["population", "retweet_tweetid"]),
                     "originals": (rt, ["population", "tweetid"])},
                    lambda con: con.sql(retweet_delays_sql("retweets", "originals")).to_arrow_table(), persist=True)

    # 5. Connected components on the driver.
    tie_list = tied["ties"].select("u", "v").distinct().toArrow()
    clusters = spark.createDataFrame(tie_clusters(tie_list.column("u").to_numpy(zero_copy_only=False),
                                                  tie_list.column("v").to_numpy(zero_copy_only=False)))

    # 6. Per account: the feature row.
    def feature_rows(con):
        materialise_tweets(con)
        con.register("batch_day_in", batch_day)
        con.execute(f"CREATE TEMP TABLE beh AS {compute_behaviour(con, params, 'batch_day_in').sql_query()}")
        compute_text(con, params.text)
        con.register("coord", assemble_coordination(con, cp, delays="rt_amp", core_delays="rt_core"))
        return to_float(con.sql(assemble_sql("coord")).to_arrow_table())

    features = st.run({
        "acc": (acc, ["userid"]), "tweets": (tweets, ["userid"]), "coord_ends": (tied["ends"], ["userid"]),
        "nd_flags": (flags, ["userid"]), "rt_amp": (delays, ["userid"]), "rt_core": (delays, ["orig_userid"]),
        "coord_clusters": (clusters, ["userid"]),
    }, feature_rows)
    if keep is not None:
        keep.update(acc=acc, tweets=tweets, items=items, ties=tied["ties"], doc_groups=grouped["groups"],
                    delays=delays, clusters=clusters)
    return features, st.cached


def network_spark(spark, parts: dict[str, Any], p: CoordinationParams, evidence_items: int, *,
                  partitions: int, memory_limit: str = "2GB") -> dict[str, Any]:
    """The coordination network of pipeline/network.py (edges, nodes, clusters) from the
    intermediates `build_features_spark` keeps (`parts`), by the local engine's own builders,
    each on rows shuffled by its key; the edge and node rows (bounded by the ties) are
    collected and finished on the driver (`network.network_frames`), as locally."""
    from pipeline.network import (
        evidence_items_sql,
        fast_retweet_edges_sql,
        nd_doc_texts_sql,
        nd_group_texts_sql,
        network_frames,
        network_nodes_sql,
        tie_evidence_sql,
        tie_items_sql,
        tied_accounts_sql,
    )

    large = spark.conf.get("spark.sql.execution.arrow.useLargeVarTypes", "false").lower() == "true"
    st = Stages(partitions, _driver_tz(), memory_limit, large)
    ties = parts["ties"]
    try:
        # Near-duplicate documents' texts, by tweet; then one per group, where its items are.
        doc_texts = st.run({"nd_doc_groups": (parts["doc_groups"], ["tweetid"]),
                            "tweets": (parts["tweets"].select("tweetid", "tweet_text"), ["tweetid"])},
                           lambda con: con.sql(nd_doc_texts_sql()).to_arrow_table())

        # Evidence items, by item (every family's item is text here, as is a group's item).
        def evidence(con):
            con.execute(f"CREATE TEMP TABLE group_texts AS {nd_group_texts_sql('doc_texts')}")
            return _each_family(con, ["items"], lambda fam: evidence_items_sql(
                fam, "items_fam", p, "group_texts" if fam == "near_duplicate" else None))

        ev = st.run({"items": (parts["items"], ["population", "item"]), "doc_texts": (doc_texts, ["population", "item"])},
                    evidence)

        # Each tie's items at either end, by that end's account.
        def ends(con):
            return {end: _each_family(con, [f"ties_{end}", "evidence"],
                                      lambda fam, end=end: tie_items_sql(f"ties_{end}_fam", "evidence_fam", end))
                    for end in ("u", "v")}

        at = st.run({"ties_u": (ties, ["u"]), "ties_v": (ties, ["v"]), "evidence": (ev, ["userid"])}, ends)

        # One row per tie, by tie; fast retweets, by (retweeter, author), in the same stage.
        def edge_rows(con):
            con.register("co", _each_family(con, ["ties", "u", "v"], lambda fam: tie_evidence_sql(
                fam, "ties_fam", "u_fam", "v_fam", evidence_items)))
            return con.sql(f"SELECT * EXCLUDE (fam) FROM co UNION ALL ({fast_retweet_edges_sql(p, 'delays', evidence_items)})"
                           ).to_arrow_table()

        edges = st.run({"ties": (ties, ["u", "v"]), "u": (at["u"], ["u", "v"]), "v": (at["v"], ["u", "v"]),
                        "delays": (parts["delays"], ["userid", "orig_userid"])}, edge_rows, persist=True)

        # Nodes, by account.
        tied = st.run({"edges": (edges, None)}, lambda con: con.sql(tied_accounts_sql("edges")).to_arrow_table())
        nodes = st.run({"acc": (parts["acc"].select("userid", "follower_count", "account_creation_date"), ["userid"]),
                        "clusters": (parts["clusters"], ["userid"]), "tweets": (parts["tweets"].select("userid"), ["userid"]),
                        "tied": (tied, ["userid"])},
                       lambda con: con.sql(network_nodes_sql("acc", "clusters", "tweets", "tied")).to_arrow_table())
        edge_rows_t, node_rows = edges.toArrow(), nodes.toArrow()
    finally:
        for c in st.cached:
            c.unpersist()
    return _execute(duck.connect(), {"edge_rows": edge_rows_t, "node_rows": node_rows},
                    lambda con: network_frames(con, "edge_rows", "node_rows"))


def score_spark(interim: Path, work: Path, model, *, partitions: int, memory_limit: str, master: str | None = None,
                resume: bool = False, band: tuple[float, float] | None = None,
                network: tuple[dict, int] | None = None) -> dict[str, float]:
    """Features and scores of every account in `interim`, by Spark: `<work>/features/`, `<work>/parts/`.

    `model` is a `score.LoadedModel`; `band` the scoring cascade, as for the local engine;
    `network` ((tables, evidence items)): the coordination network's tables into `tables`
    (`network_spark`), from the features' own intermediates (recomputed when resumed past
    the features). Returns seconds per step.
    """
    import shutil
    import time

    from pipeline.serving import documents_for, score_features

    require_pyspark()
    spark, created = spark_session(master, shuffle_partitions=partitions)
    seconds: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        feats = work / "features"
        done = resume and (feats / "_SUCCESS").exists()
        if not done or network is not None:
            keep: dict[str, Any] | None = {} if network is not None else None
            table, cached = build_features_spark(spark, interim / "accounts.parquet", interim / "tweets.parquet",
                                                 model.features, partitions=partitions, memory_limit=memory_limit, keep=keep)
            try:
                if not done:
                    shutil.rmtree(feats, ignore_errors=True)
                    table.write.mode("overwrite").parquet(str(feats))
                seconds["features"] = round(time.perf_counter() - t0, 2)
                if network is not None:
                    # Before the intermediates are unpersisted: the network reads them.
                    t0 = time.perf_counter()
                    network[0].update(network_spark(spark, keep, model.features.coordination, network[1],
                                                    partitions=partitions, memory_limit=memory_limit))
                    seconds["network"] = round(time.perf_counter() - t0, 2)
            finally:
                for c in cached:
                    c.unpersist()
        else:
            seconds["features"] = round(time.perf_counter() - t0, 2)

        t0 = time.perf_counter()
        # What the local engine's partitions call, shipped to the executors with the model.
        bundle = model.bundle
        docs = documents_for(interim / "tweets.parquet", bundle)

        def score(frames: Iterator) -> Iterator:
            import pandas as pd

            frames = [f for f in frames if len(f)]
            if frames:
                yield score_features(pd.concat(frames, ignore_index=True), bundle, docs, band)

        parts = work / "parts"
        shutil.rmtree(parts, ignore_errors=True)
        (spark.read.parquet(str(feats)).repartition(partitions, "userid")
         .mapInPandas(score, spark_ddl()).write.mode("overwrite").parquet(str(parts)))
        seconds["score"] = round(time.perf_counter() - t0, 2)
    finally:
        if created:
            spark.stop()
    return seconds
