"""The `split` stage: hold out campaigns and assign grouped folds, the one split every model uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import SplitParams
from pipeline.io import atomic_path
from pipeline.split import make_split


@dataclass(frozen=True)
class Paths:
    accounts: Path  # accounts.parquet from ingest
    out: Path  # split.parquet
    features: Path | None = None  # its coordination clusters group the folds


def run(params: SplitParams, paths: Paths) -> str:
    accounts = pq.read_table(
        paths.accounts, columns=["userid", "campaign", "label", "account_creation_date"]
    ).to_pandas()
    if paths.features is not None:
        clusters = pq.read_table(paths.features, columns=["userid", "coord_cluster"]).to_pandas()
        accounts = accounts.merge(clusters, on="userid", how="left", validate="one_to_one")
    split = make_split(accounts, params)
    with atomic_path(paths.out) as tmp:
        pq.write_table(pa.Table.from_pandas(split, preserve_index=False), tmp)
    counts = split.groupby(["role", "label"]).size().to_dict()
    return "split: " + ", ".join(f"{r}/{lab}={n}" for (r, lab), n in sorted(counts.items()))
