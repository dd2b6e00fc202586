"""Same seed, same data, same results: ingest, features, split and LightGBM, run twice.

Uses the session fixture `trained_model` (tests/conftest.py), whose folder holds the
ingested tables, features.parquet and split.parquet of a small sample.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def params():
    from pipeline.config import load_params

    p = load_params(REPO / "params.yaml")
    p.split.n_folds = 3  # as trained_model builds it
    p.train_gbm.n_estimators = 60
    return p


def test_ingest_twice_gives_identical_tables(trained_model, params, tmp_path: Path) -> None:
    from pipeline.ingest import ingest_dumps
    from tests.stages import sample_dumps

    raw = trained_model["raw"]
    dumps = sample_dumps(params, raw)
    for run in ("a", "b"):
        ingest_dumps(dumps, tmp_path / run, params.ingest)
    for name in ("accounts.parquet", "tweets.parquet", "quarantine.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    rep = [json.loads((tmp_path / r / "ingest_report.json").read_text()) for r in ("a", "b")]
    for r in rep:  # timings differ by nature; everything else must not
        r.pop("seconds"), r.pop("tweet_rows_per_second"), r.pop("out_dir")
    assert rep[0] == rep[1]


def test_features_twice_are_byte_identical(trained_model, params, tmp_path: Path) -> None:
    from tests.stages import run_features

    a = run_features(trained_model["interim"], tmp_path / "a.parquet", params.features)
    b = run_features(trained_model["interim"], tmp_path / "b.parquet", params.features)
    assert a.num_rows > 0 and a.equals(b)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    # and the same as the features the fixture's model was trained on
    assert pq.read_table(trained_model["dir"] / "features.parquet").equals(a)


def test_split_twice_is_identical(trained_model, params, tmp_path: Path) -> None:
    from tests.stages import run_split

    accounts = trained_model["interim"] / "accounts.parquet"
    a = run_split(accounts, tmp_path / "a.parquet", params.split)
    b = run_split(accounts, tmp_path / "b.parquet", params.split)
    assert a.equals(b)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_lightgbm_twice_gives_identical_model_and_scores(trained_model, params, tmp_path: Path) -> None:
    from pipeline.scoring import GbmScorer
    from tests.stages import train_gbm as stage_train_gbm

    feats, split = trained_model["dir"] / "features.parquet", trained_model["dir"] / "split.parquet"
    for run in ("a", "b"):
        stage_train_gbm(feats, split, tmp_path / run, params)
    a, b = tmp_path / "a", tmp_path / "b"
    assert (a / "model.txt").read_bytes() == (b / "model.txt").read_bytes()
    assert json.loads((a / "meta.json").read_text()) == json.loads((b / "meta.json").read_text())
    assert pq.read_table(a / "oof.parquet").equals(pq.read_table(b / "oof.parquet"))
    frame = pq.read_table(feats).to_pandas()
    sa, sb = GbmScorer.load(a).score(frame), GbmScorer.load(b).score(frame)
    assert len(sa) == len(frame) and np.array_equal(sa, sb)
    # the fixture's model (trained earlier in this session, same seed and data) agrees too
    assert (trained_model["dir"] / "gbm" / "model.txt").read_bytes() == (a / "model.txt").read_bytes()
