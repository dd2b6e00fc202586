"""The features stage: ingested tables in, one feature row per account out."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import FeaturesParams
from pipeline.features.behaviour import compute_behaviour
from pipeline.features.coordination import compute_coordination
from pipeline.features.columns import META_COLUMNS
from pipeline.features.tables import POPULATION_SQL, materialise_tweets
from pipeline.features.text import TEXT_FEATURES, compute_text

def build_features(
    con: duckdb.DuckDBPyConnection, accounts: str, tweets: str, params: FeaturesParams, item_times: bool = False
) -> pa.Table:
    """Feature table for the accounts in `accounts`, from the tweets in `tweets`.

    Both are SQL table expressions on `con` (`read_parquet('...')` or a registered table).
    The population for cross-account features (creation batches, coordination) is the
    campaign when accounts carry one, else everything scored together. `item_times`: the
    coordination tables left on `con` date every item, for the network (pipeline/network.py).
    """
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW acc AS
            SELECT *, {POPULATION_SQL} AS population FROM {accounts}"""
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW tweets AS SELECT * FROM {tweets}")
    materialise_tweets(con)
    con.execute(f"CREATE OR REPLACE TEMP TABLE beh AS {compute_behaviour(con, params).sql_query()}")
    compute_text(con, params.text)
    coord = compute_coordination(con, params.coordination, item_times)
    con.register("coord_arrow", coord)
    con.execute("CREATE OR REPLACE TEMP TABLE coord AS SELECT * FROM coord_arrow")
    con.unregister("coord_arrow")
    table = con.sql(assemble_sql("coord")).to_arrow_table()
    return to_float(table)


def assemble_sql(coord: str | None = "coord") -> str:
    """One row per account of `acc`: meta columns, behaviour table `beh`, text table `txt`, then the `coord` table.

    Without `coord`, the meta, behaviour and text columns only (an engine that adds coordination
    later, in the same column order).
    """
    coord_cols = ", c.* EXCLUDE (userid)" if coord else ""
    text_cols = ", ".join(f"x.{c}" for c in TEXT_FEATURES)
    coord_join = f" JOIN {coord} c USING (userid)" if coord else ""
    return f"""WITH ml AS (
               SELECT userid, FIRST(tweet_language ORDER BY n DESC, tweet_language) AS main_language
               FROM (SELECT userid, tweet_language, COUNT(*) AS n FROM tweets
                     WHERE tweet_language IS NOT NULL GROUP BY ALL) GROUP BY userid)
           SELECT a.userid, a.campaign, a.label, a.account_language,
                  COALESCE(ml.main_language, a.account_language) AS main_language,
                  COALESCE(b.n_tweets, 0) AS n_tweets_seen, COALESCE(x.doc, '') AS doc, b.* EXCLUDE (userid),
                  {text_cols}{coord_cols}
           FROM acc a JOIN beh b USING (userid) LEFT JOIN txt x USING (userid){coord_join} LEFT JOIN ml USING (userid)
           ORDER BY a.userid"""


def to_float(table: pa.Table) -> pa.Table:
    """Cast every feature to float64 so the model's input schema is one stable type."""
    cols = []
    for name in table.column_names:
        col = table.column(name)
        if name == "n_tweets_seen":
            cols.append(col.cast(pa.int64()))
        elif name in META_COLUMNS:
            cols.append(col)
        else:
            # DuckDB's parallel aggregates add floats in no fixed order; rounding to 1e-9
            # makes two runs on the same data byte-identical (differences are ~1e-16).
            cols.append(pc.round(col.cast(pa.float64()), 9))
    return pa.table(cols, names=table.column_names)
