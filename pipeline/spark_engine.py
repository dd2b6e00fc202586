"""The Spark engine of `statelink score` (`--engine spark`): the same features and model, on a cluster.

The local engine computes features in one DuckDB over everything scored together. Here
the same numbers come from Spark, so a dump larger than one machine can be scored, and
the two engines give the same scores (tests/test_spark.py holds them to 1e-6):

1. Behaviour features are per account. Accounts and tweets are shuffled into partitions
   by hash(userid) and each partition runs the *same* DuckDB SQL as the local engine
   (`compute_behaviour`, `assemble_sql`) in `cogroup(...).applyInArrow`. The one
   population-level piece, creation-batch size, is computed once from per-day counts
   (bounded by populations x days) with the same SQL and handed to every partition.
2. Coordination is cross-account. Per tweet, one `mapInArrow` pass runs the same DuckDB
   SQL for every family's item membership (`coordination._items_sql`), the normalised
   text of near-duplicate candidates (`nd_docs_sql`) and the tweet's epoch; MinHash keys
   are computed once per distinct text with the same DuckDB SQL (`nd_keys_sql`), so the
   hashes are identical, and texts are grouped by the same rounds of min-label propagation
   (`nd_groups_sql`) as Spark group-bys. Pairs, ties, per-account degree, near-duplicate share and fast
   retweets are Spark joins and aggregates written to match the DuckDB SQL clause by
   clause (same caps, thresholds and null handling). Connected components: the distinct
   tie list (bounded by the item caps) is collected to the driver and labelled by the
   same routine as the local engine (`coordination.cluster_labels`).
3. Scoring: feature rows are repartitioned by hash(userid) and each partition is scored
   with the loaded MLflow model's scorer (`score.load_model(...).scorer`) through
   `mapInPandas`, i.e. `serving.score_features`, the pyfunc's own code path.

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
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline.config import CoordinationParams, FeaturesParams, TextParams
from pipeline.errors import ConfigError
from pipeline.features.behaviour import (
    BehaviourSettings,
    compute_behaviour,
    creation_batch_day_sql,
)
from pipeline.features.build import META_COLUMNS, assemble_sql, build_features, to_float
from pipeline.features.coordination import (
    FAMILIES,
    ND_BUCKET_SQL,
    TEXT_LABEL_SQL,
    _items_sql,
    cluster_labels,
    nd_docs_sql,
    nd_keys_sql,
)
from pipeline.features.tables import TW_COLUMNS, materialise_tweets
from pipeline.features.text import compute_text
from pipeline.schema import ACCOUNTS_SCHEMA, TWEETS_SCHEMA

PYSPARK_MISSING = "the Spark engine needs pyspark, which is not installed: run `pip install statelink[spark]`."

# Rows of the per-tweet pass that are not item memberships.
_ND_DOC = "__nd_doc__"
_TWEET = "__tweet__"
_ITEM_FAMILIES = tuple(f for f in FAMILIES if f != "near_duplicate")
_PASS_SCHEMA = pa.schema([
    ("kind", pa.string()), ("population", pa.string()), ("item", pa.string()), ("userid", pa.string()),
    ("tweetid", pa.string()), ("epoch", pa.float64()), ("is_retweet", pa.bool_()),
])
_KEYS_SCHEMA = pa.schema([("norm", pa.string()), ("label", pa.int64()), ("bucket", pa.string())])
SCORE_SCHEMA_DDL = ("userid string, score double, label string, reasons string, coord_cluster string, "
                    "n_tweets_seen long, no_tweets boolean")


def require_pyspark() -> None:
    """Raise one clear sentence when the optional `spark` extra is not installed."""
    try:
        import pyspark  # noqa: F401
        import pyspark.sql  # noqa: F401
    except ImportError:
        raise ConfigError(PYSPARK_MISSING) from None


# ---------------------------------------------------------------- session

def _defaults_master() -> str | None:
    """`spark.master` from spark-defaults.conf, where Spark itself would look for it."""
    dirs = [os.environ.get("SPARK_CONF_DIR"), os.environ.get("SPARK_HOME") and os.path.join(os.environ["SPARK_HOME"], "conf")]
    for d in filter(None, dirs):
        conf = Path(d) / "spark-defaults.conf"
        if conf.exists():
            for line in conf.read_text(encoding="utf-8").splitlines():
                parts = line.strip().split(None, 1)
                if len(parts) == 2 and parts[0] == "spark.master":
                    return parts[1].strip()
    return None


def resolve_master(master: str | None) -> str:
    """--spark-master, else $SPARK_MASTER, else spark-defaults' spark.master, else local[*]."""
    return master or os.environ.get("SPARK_MASTER") or _defaults_master() or "local[*]"


def spark_session(master: str | None = None, shuffle_partitions: int = 8):
    """The active SparkSession if there is one (a notebook's, a test's), else a new one.

    Returns (session, created): the caller stops only a session it created. A local master
    binds to loopback, has no UI and uses this Python for its workers: nothing listens on
    the network and nothing is downloaded.
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    url = resolve_master(master)
    builder = SparkSession.builder.appName("statelink-score").master(url)
    builder = builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
    if url.startswith("local"):
        # Local workers run this interpreter (the one with statelink installed).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = (builder.config("spark.ui.enabled", "false")
                   .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
                   .config("spark.pyspark.python", sys.executable).config("spark.pyspark.driver.python", sys.executable))
    return builder.getOrCreate(), True


# ---------------------------------------------------------------- DuckDB inside partitions

def _duck(tz: str, memory_limit: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"memory_limit": memory_limit, "threads": 1})
    con.execute(f"SET TimeZone = '{tz}'")
    return con


def _behaviour_rows(acc: pa.Table, tweets: pa.Table, batch_day: pa.Table, settings: BehaviourSettings,
                    text: TextParams, tz: str, memory_limit: str) -> pa.Table:
    """Meta, behaviour and text columns for the accounts of one partition: the local engine's SQL."""
    con = _duck(tz, memory_limit)
    try:
        con.register("acc_in", acc)
        con.register("tw_in", tweets)
        con.register("batch_day_in", batch_day)
        con.execute("CREATE VIEW acc AS SELECT * FROM acc_in")
        con.execute("CREATE VIEW tweets AS SELECT * FROM tw_in")
        materialise_tweets(con)
        con.execute(f"CREATE TEMP TABLE beh AS {compute_behaviour(con, settings, 'batch_day_in').sql_query()}")
        compute_text(con, text)
        return _as_double(con.sql(assemble_sql(None)).to_arrow_table())
    finally:
        con.close()


def _tweet_pass(batch: pa.RecordBatch, p: CoordinationParams, tz: str, memory_limit: str) -> pa.Table:
    """Per tweet row: item memberships of every family, near-duplicate documents, epoch."""
    con = _duck(tz, memory_limit)
    try:
        con.register("b", pa.Table.from_batches([batch]))
        con.execute("CREATE VIEW tweets AS SELECT * EXCLUDE (population, account_language) FROM b")
        con.execute("CREATE VIEW acc AS SELECT DISTINCT userid, account_language, population FROM b")
        materialise_tweets(con)
        items = _items_sql(p)
        parts = [
            f"SELECT '{fam}' AS kind, population, item::VARCHAR AS item, userid, NULL::VARCHAR AS tweetid, "
            f"NULL::DOUBLE AS epoch, NULL::BOOLEAN AS is_retweet FROM ({items[fam]})"
            for fam in _ITEM_FAMILIES
        ]
        parts.append(f"SELECT '{_ND_DOC}', population, norm, userid, tweetid, NULL::DOUBLE, NULL::BOOLEAN FROM ({nd_docs_sql(p)})")
        parts.append(f"SELECT '{_TWEET}', population, retweet_tweetid, userid, tweetid, EPOCH(tweet_time), is_retweet FROM tw")
        return con.sql(" UNION ALL ".join(parts)).to_arrow_table().cast(_PASS_SCHEMA)
    finally:
        con.close()


def _text_keys(batch: pa.RecordBatch, p: CoordinationParams, memory_limit: str) -> pa.Table:
    """LSH buckets of distinct normalised texts: the local engine's MinHash SQL."""
    con = _duck("UTC", memory_limit)
    try:
        con.register("b", pa.Table.from_batches([batch]))
        con.execute("CREATE TEMP TABLE nd_texts AS SELECT norm, ROW_NUMBER() OVER () AS text_id FROM b")
        con.execute(f"CREATE TEMP TABLE nd_keys AS {nd_keys_sql(p)}")
        return con.sql(f"SELECT t.norm, {TEXT_LABEL_SQL} AS label, {ND_BUCKET_SQL} AS bucket FROM nd_texts t JOIN nd_keys k USING (text_id)"
                       ).to_arrow_table().cast(_KEYS_SCHEMA)
    finally:
        con.close()


def _as_double(table: pa.Table) -> pa.Table:
    """Features as float64 with no other change: `build.to_float` runs once, on the final rows."""
    cols = [c.cast(pa.float64()) if n not in META_COLUMNS else (c.cast(pa.int64()) if n == "n_tweets_seen" else c)
            for n, c in zip(table.column_names, table.columns)]
    return pa.table(cols, names=table.column_names)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast to what Spark declared (it may use large string types)."""
    return table.select(schema.names).cast(schema)


# ---------------------------------------------------------------- the engine

def _feature_schema(params: FeaturesParams) -> pa.Schema:
    """The local engine's feature table schema, from a run over empty tables."""
    con = duckdb.connect()
    try:
        con.register("a_empty", ACCOUNTS_SCHEMA.empty_table())
        con.register("t_empty", TWEETS_SCHEMA.empty_table())
        return build_features(con, "a_empty", "t_empty", params).schema
    finally:
        con.close()


def _driver_tz() -> str:
    con = duckdb.connect()
    try:
        return con.execute("SELECT current_setting('TimeZone')").fetchall()[0][0]
    finally:
        con.close()


def build_features_spark(spark, accounts_path: Path, tweets_path: Path, params: FeaturesParams, *,
                         partitions: int, memory_limit: str = "2GB"):
    """Spark DataFrame of the feature table: the local engine's rows and columns, same order.

    Returns (DataFrame, persisted DataFrames to unpersist once it is written).
    """
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    settings = BehaviourSettings(
        local_utc_offset_hours=params.local_utc_offset_hours, office_start_hour=params.office_start_hour,
        office_end_hour=params.office_end_hour, batch_window_days=params.batch_window_days,
    )
    cp = params.coordination
    tz = _driver_tz()
    large = spark.conf.get("spark.sql.execution.arrow.useLargeVarTypes", "false").lower() == "true"

    def arrow_of(spark_schema):
        return to_arrow_schema(spark_schema, timezone="UTC", prefers_large_types=large)

    # Scoring population: everything scored together (campaign dropped), as score.py does.
    acc = (spark.read.parquet(str(accounts_path))
           .withColumn("campaign", F.lit(None).cast("string"))
           .withColumn("population", F.coalesce(F.col("campaign"), F.lit("__all__"))))
    tweets = spark.read.parquet(str(tweets_path))
    acc_cols = [f.name for f in ACCOUNTS_SCHEMA] + ["population"]
    tw_cols = [f.name for f in TWEETS_SCHEMA]
    acc = acc.select(*acc_cols)
    tweets = tweets.select(*tw_cols)

    # 1. Creation batches: per-day counts over the whole population, then the same SQL.
    per_day = (acc.where(F.col("account_creation_date").isNotNull())
               .groupBy("population", F.col("account_creation_date").alias("d")).agg(F.count(F.lit(1)).alias("n")))
    con = duckdb.connect()
    try:
        con.register("per_day", per_day.toArrow())
        batch_day = con.sql(creation_batch_day_sql(settings, "per_day")).to_arrow_table()
    finally:
        con.close()

    # 2. Behaviour per account partition, in DuckDB.
    part = F.pmod(F.hash("userid"), F.lit(partitions)).alias("_part")
    empty_acc = pa.schema(list(ACCOUNTS_SCHEMA) + [pa.field("population", pa.string())]).empty_table()
    beh_tw_cols = [*TW_COLUMNS, "tweet_text"]
    empty_tw = TWEETS_SCHEMA.empty_table().select(beh_tw_cols)
    beh_arrow = _behaviour_rows(empty_acc, empty_tw, batch_day, settings, params.text, tz, memory_limit).schema
    beh_spark = from_arrow_schema(beh_arrow)
    beh_out = arrow_of(beh_spark)

    def behaviour(left: pa.Table, right: pa.Table) -> pa.Table:
        if left.num_rows == 0:
            return beh_out.empty_table()
        rows = _behaviour_rows(left.drop_columns(["_part"]), right.drop_columns(["_part"]), batch_day, settings,
                               params.text, tz, memory_limit)
        return _conform(rows, beh_out)

    # Only the columns the behaviour and text SQL read travel in this shuffle.
    beh = (acc.select(part, *acc_cols).groupBy("_part")
           .cogroup(tweets.select(part, *beh_tw_cols).groupBy("_part"))
           .applyInArrow(behaviour, beh_spark))

    # 3. Coordination. One DuckDB pass per tweet row.
    tw_join = tweets.join(acc.select("userid", "account_language", "population"), "userid")
    pass_spark = from_arrow_schema(_PASS_SCHEMA)
    pass_out = arrow_of(pass_spark)

    def tweet_pass(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            if b.num_rows:
                yield from _conform(_tweet_pass(b, cp, tz, memory_limit), pass_out).to_batches()

    from pyspark import StorageLevel

    rows = tw_join.mapInArrow(tweet_pass, pass_spark).persist(StorageLevel.MEMORY_AND_DISK)
    return _coordinate(spark, acc, beh, rows, params, partitions, memory_limit, arrow_of)


def _coordinate(spark, acc, beh, rows, params: FeaturesParams, partitions: int, memory_limit: str, arrow_of):
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    cp = params.coordination
    col = F.col

    # Near-duplicate buckets: keys once per distinct text, joined back to the documents.
    docs = rows.where(col("kind") == _ND_DOC).select("population", "userid", "tweetid", col("item").alias("norm"))
    keys_spark = from_arrow_schema(_KEYS_SCHEMA)
    keys_out = arrow_of(keys_spark)

    def text_keys(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            if b.num_rows:
                yield from _conform(_text_keys(b, cp, memory_limit), keys_out).to_batches()

    keys = docs.select("norm").distinct().repartition(partitions, "norm").mapInArrow(text_keys, keys_spark)
    # `coordination.nd_groups_sql`: min-label propagation over shared buckets within each
    # population, same rounds.
    pkeys = docs.select("population", "norm").distinct().join(keys, "norm").persist(StorageLevel.MEMORY_AND_DISK)
    labels = pkeys.select("population", "norm", col("label").alias("grp")).distinct()
    for _ in range(int(cp.near_duplicate_rounds)):
        per_bucket = (pkeys.select("population", "norm", "bucket").join(labels, ["population", "norm"])
                      .groupBy("population", "bucket").agg(F.min("grp").alias("grp")))
        labels = (pkeys.select("population", "norm", "bucket").join(per_bucket, ["population", "bucket"])
                  .groupBy("population", "norm").agg(F.min("grp").alias("grp")))
    nd_groups = docs.join(labels, ["population", "norm"]).select("population", "userid", "tweetid",
                                                                 col("grp").cast("string").alias("grp"))

    # Item memberships of every family in one frame: ties of all families in one pass.
    items = rows.where(col("kind").isin(*_ITEM_FAMILIES)).select(col("kind").alias("fam"), "population", "item", "userid")
    items = items.unionByName(nd_groups.select(F.lit("near_duplicate").alias("fam"), "population",
                                               col("grp").alias("item"), "userid"))
    edges = _pairs(items, cp)
    edges = edges.persist(StorageLevel.MEMORY_AND_DISK)

    both = edges.select(col("u").alias("userid"), col("v").alias("partner"), "weight", "fam").unionByName(
        edges.select(col("v").alias("userid"), col("u").alias("partner"), "weight", "fam"))
    deg = both.groupBy("userid").agg(
        F.countDistinct("partner").alias("coord_partners"), F.max("weight").alias("coord_max_tie_weight"),
        F.countDistinct("fam").alias("coord_families"),
        *[F.countDistinct(F.when(col("fam") == f, col("partner"))).alias(f"{f}_partners") for f in FAMILIES],
    )

    multi = (nd_groups.groupBy("population", "grp").agg(F.countDistinct("userid").alias("k"))
             .where(col("k") >= 2).select("population", "grp").withColumn("_dup", F.lit(True)))
    nd_share = (nd_groups.join(multi, ["population", "grp"], "left").groupBy("userid")
                .agg(F.avg(F.when(col("_dup").isNotNull(), 1.0).otherwise(0.0)).alias("share_posts_near_duplicate")))

    fast = _fast_retweets(rows, cp)

    # Connected components: the tie list is bounded by the item caps; same routine as local.
    pairs = edges.select("u", "v").distinct().toArrow()
    u, v = pairs.column("u").to_pylist(), pairs.column("v").to_pylist()
    users = sorted(set(u) | set(v))
    index = {x: i for i, x in enumerate(users)}
    ids, sizes = cluster_labels(users, [index[x] for x in u], [index[x] for x in v])
    clusters = spark.createDataFrame(pa.table({
        "userid": pa.array(users, pa.string()), "coord_cluster": pa.array(ids, pa.string()),
        "coord_cluster_size": pa.array(sizes, pa.float64()),
    }), schema="userid string, coord_cluster string, coord_cluster_size double")

    coord = (acc.select("userid").join(deg, "userid", "left").join(nd_share, "userid", "left")
             .join(fast, "userid", "left").join(clusters, "userid", "left"))

    schema = _feature_schema(params)
    beh_names = set(beh.columns)
    keep_null = {"userid", "coord_cluster", "rt_delay_median_s", "coord_max_tie_weight"}
    out = []
    for field in schema:
        name = field.name
        if name in beh_names:
            c = col(f"b.{name}")
        elif name == "coord_cluster":
            c = F.coalesce(col(f"c.{name}"), F.lit(""))
        elif name == "coord_cluster_size":
            c = F.coalesce(col(f"c.{name}"), F.lit(1.0))
        elif name in keep_null:
            c = col(f"c.{name}")
        else:
            c = F.coalesce(col(f"c.{name}"), F.lit(0))
        spark_type = {pa.string(): "string", pa.int64(): "long", pa.float64(): "double"}[field.type]
        out.append(c.cast(spark_type).alias(name))
    assembled = beh.alias("b").join(coord.alias("c"), "userid").select(*out)

    # The local engine's last step, `build.to_float` (float64, rounded), on each batch of rows.
    final_spark = assembled.schema
    final_out = arrow_of(final_spark)

    def finalise(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            yield from _conform(to_float(pa.Table.from_batches([b])), final_out).to_batches()

    return assembled.mapInArrow(finalise, final_spark), [rows, pkeys, edges]


def _pairs(items, cp: CoordinationParams):
    """`coordination._pairs_sql` in Spark, every family at once (keyed by `fam`): (u, v, weight, fam).

    Same caps and thresholds per family as the local engine's loop over families.
    """
    from pyspark.sql import functions as F

    col = F.col
    is_sync = col("fam") == "sync"
    cap = F.when(is_sync, F.lit(int(cp.max_sync_accounts))).otherwise(F.lit(int(cp.max_item_accounts)))
    min_shared = F.when(is_sync, F.lit(int(cp.min_shared_sync))).otherwise(F.lit(int(cp.min_shared)))
    items = items.where(col("item").isNotNull()).select("fam", "population", "item", "userid").distinct()
    sizes = (items.groupBy("fam", "population", "item").agg(F.count(F.lit(1)).alias("k"))
             .where((col("k") >= 2) & (col("k") <= cap)).select("fam", "population", "item"))
    kept = items.join(sizes, ["fam", "population", "item"], "left_semi")
    per_user = items.groupBy("fam", "userid").agg(F.count(F.lit(1)).alias("n_items"))
    a, b = kept.alias("a"), kept.alias("b")
    pairs = (a.join(b, (col("a.fam") == col("b.fam")) & (col("a.population") == col("b.population"))
                    & (col("a.item") == col("b.item")) & (col("a.userid") < col("b.userid")))
             .groupBy(col("a.fam").alias("fam"), col("a.userid").alias("u"), col("b.userid").alias("v"))
             .agg(F.count(F.lit(1)).alias("shared"))
             .where(col("shared") >= min_shared))
    nu = per_user.select("fam", col("userid").alias("u"), col("n_items").alias("nu"))
    nv = per_user.select("fam", col("userid").alias("v"), col("n_items").alias("nv"))
    weight = col("shared") / F.least(col("nu"), col("nv")).cast("double")
    return (pairs.join(nu, ["fam", "u"]).join(nv, ["fam", "v"]).select("u", "v", weight.alias("weight"), "fam")
            .where(col("weight") >= F.lit(float(cp.min_tie_weight))))


def _fast_retweets(rows, cp: CoordinationParams):
    """`coordination._fast_retweets_sql` in Spark (epochs come from DuckDB, so delays agree)."""
    from pyspark.sql import functions as F

    col = F.col
    tw = rows.where(col("kind") == _TWEET).select("population", "userid", "tweetid", col("item").alias("retweet_tweetid"),
                                                  "epoch", "is_retweet")
    r, o = tw.alias("r"), tw.alias("o")
    d = (r.join(o, (col("r.retweet_tweetid") == col("o.tweetid")) & (col("r.population") == col("o.population")))
         .where(col("r.is_retweet") & (col("r.userid") != col("o.userid")))
         .select(col("r.userid").alias("userid"), col("o.userid").alias("orig_userid"),
                 col("o.tweetid").alias("orig_tweetid"), (col("r.epoch") - col("o.epoch")).alias("delay")))
    shares = [F.avg(F.when(col("delay") <= int(s), 1.0).otherwise(0.0)).alias(f"share_rt_within_{int(s)}s")
              for s in cp.fast_retweet_seconds]
    amp = d.groupBy("userid").agg(F.count(F.lit(1)).alias("n_rt_in_population"), *shares,
                                  F.median("delay").alias("rt_delay_median_s"))
    first = int(min(cp.fast_retweet_seconds))
    core = (d.where(col("delay") <= first).groupBy(col("orig_userid").alias("userid"))
            .agg(F.countDistinct("orig_tweetid").alias("n_fast_retweeted")))
    return amp.join(core, "userid", "full")


def score_spark(interim: Path, work: Path, model, *, partitions: int, memory_limit: str, master: str | None = None,
                resume: bool = False, band: tuple[float, float] | None = None) -> dict[str, float]:
    """Features and scores of every account in `interim`, by Spark: `<work>/features/`, `<work>/parts/`.

    `model` is a `score.LoadedModel`; `band` the scoring cascade, as for the local engine.
    Returns seconds per step.
    """
    import shutil
    import time

    from pipeline.score import documents_for
    from pipeline.serving import score_features

    require_pyspark()
    spark, created = spark_session(master, shuffle_partitions=partitions)
    seconds: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        feats = work / "features"
        if not (resume and (feats / "_SUCCESS").exists()):
            shutil.rmtree(feats, ignore_errors=True)
            table, cached = build_features_spark(spark, interim / "accounts.parquet", interim / "tweets.parquet",
                                                 model.features, partitions=partitions, memory_limit=memory_limit)
            try:
                table.write.mode("overwrite").parquet(str(feats))
            finally:
                for c in cached:
                    c.unpersist()
        seconds["features"] = round(time.perf_counter() - t0, 2)

        t0 = time.perf_counter()
        # What the local engine's partitions call, shipped to the executors with the model.
        bundle, docs = model.bundle, documents_for(interim / "tweets.parquet", model)

        def score(frames: Iterator) -> Iterator:
            import pandas as pd

            frames = [f for f in frames if len(f)]
            if frames:
                yield score_features(pd.concat(frames, ignore_index=True), bundle, docs, band)

        parts = work / "parts"
        shutil.rmtree(parts, ignore_errors=True)
        (spark.read.parquet(str(feats)).repartition(partitions, "userid")
         .mapInPandas(score, SCORE_SCHEMA_DDL).write.mode("overwrite").parquet(str(parts)))
        seconds["score"] = round(time.perf_counter() - t0, 2)
    finally:
        if created:
            spark.stop()
    return seconds
