"""Stage runs for tests that want the stage's output table back, through the stage modules."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import FeaturesParams, Params, SplitParams


def sample_dumps(params: Params, raw: Path) -> list[tuple[str, str, str]]:
    """params' training dumps that the bundled sample generator writes, re-rooted at `raw`.

    The shifted world's dumps are training dumps too; fixtures that generate only the sample
    (faster) train on its campaigns alone.
    """
    prefix = "data/raw/sample/"
    return [(str(raw / d.path[len(prefix):]), d.campaign, d.label) for d in params.data.dumps if d.path.startswith(prefix)]


def run_features(interim: Path, out: Path, params: FeaturesParams) -> pa.Table:
    from pipeline.stages import features

    features.run(params, features.Paths(interim=interim, out=out))
    return pq.read_table(out)


def run_split(accounts: Path, out: Path, params: SplitParams, features_path: Path | None = None) -> pd.DataFrame:
    from pipeline.stages import split

    split.run(params, split.Paths(accounts=accounts, out=out, features=features_path))
    return pq.read_table(out).to_pandas()


def train_gbm(features_path: Path, split_path: Path, out: Path, params: Params) -> str:
    from pipeline.stages import train_gbm as stage

    return stage.run(params, stage.Paths(features=features_path, split=split_path, out=out))
