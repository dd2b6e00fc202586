"""The feature catalogue names every feature the pipeline computes."""

from __future__ import annotations

import re

from pipeline.config import FeaturesParams
from pipeline.features.columns import feature_columns
from tests.stages import run_features
from tests.conftest import REPO, account, tweet


def test_every_feature_is_in_the_catalogue(write_tables, tmp_path):
    d = write_tables([account("a"), account("b")], [tweet("1", "a", "2020-01-01 00:00"), tweet("2", "b", "2020-01-01 00:05")])
    names = feature_columns(run_features(d, tmp_path / "f.parquet", FeaturesParams()))
    documented = set(re.findall(r"`([a-z0-9_]+)`", (REPO / "docs" / "features.md").read_text(encoding="utf-8")))
    missing = [n for n in names if n not in documented]
    assert not missing, f"docs/features.md lacks {missing}"
    assert len(names) > 70
