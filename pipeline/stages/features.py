"""The `features` stage: behaviour, coordination and text features, one row per account."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.config import FeaturesParams
from pipeline.features.build import build_features
from pipeline.features.columns import feature_columns
from pipeline.features.tables import connect
from pipeline.io import atomic_path
from pipeline.schema import ACCOUNTS_SCHEMA, TWEETS_SCHEMA, check_schema
from pipeline.sql import parquet_source


@dataclass(frozen=True)
class Paths:
    interim: Path  # accounts.parquet and tweets.parquet from ingest
    out: Path  # the feature table


def run(params: FeaturesParams, paths: Paths, memory_limit: str = "4GB") -> str:
    accounts, tweets = paths.interim / "accounts.parquet", paths.interim / "tweets.parquet"
    check_schema(accounts, ACCOUNTS_SCHEMA)
    check_schema(tweets, TWEETS_SCHEMA)
    # DuckDB spills beside the output, on the same disk as the data rather than /tmp.
    out_dir = paths.out.parent
    spill = Path(tempfile.mkdtemp(prefix=".features-", dir=out_dir if out_dir.exists() else None))
    with connect(memory_limit, spill_dir=spill) as con:
        table = build_features(con, parquet_source(accounts), parquet_source(tweets), params)
    with atomic_path(paths.out) as tmp:
        pq.write_table(table, tmp)
    return f"wrote {table.num_rows} accounts x {len(feature_columns(table))} features to {paths.out}"
