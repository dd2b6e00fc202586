from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.schema import ACCOUNTS_SCHEMA, TWEETS_SCHEMA

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
_SKIP = {".git", ".venv", "data", "reports", "mlflow.db", "mlartifacts", "mlruns", ".pytest_cache", "__pycache__", "test-artifacts"}
SHARED_SAMPLES = REPO.parent / "shared" / "real-samples"


def _rows_to_table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    return pa.table({n: pa.array(v, type=schema.field(n).type) for n, v in cols.items()}, schema=schema)


def account(userid: str, **kw) -> dict:
    row = {
        "userid": userid, "user_screen_name": f"user_{userid}", "user_display_name": f"User {userid}",
        "follower_count": 100, "following_count": 100, "account_creation_date": date(2015, 1, 1),
        "account_language": "en", "is_hashed": False, "from_users_file": True,
        "campaign": "c1", "label": "control", "source_file": "test",
    }
    row.update(kw)
    return row


def tweet(tweetid: str, userid: str, when: str, **kw) -> dict:
    row = {
        "tweetid": tweetid, "userid": userid,
        "tweet_time": datetime.strptime(when, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc),
        "tweet_language": "en", "tweet_text": "hello", "tweet_client_name": "Twitter for iPhone",
        "is_retweet": False, "hashtags": [], "urls": [], "user_mentions": [],
        "like_count": 0, "retweet_count": 0, "reply_count": 0, "quote_count": 0,
        "campaign": "c1", "label": "control", "source_file": "test",
    }
    row.update(kw)
    return row


@pytest.fixture
def write_tables(tmp_path: Path):
    """Write hand-made accounts and tweets as the ingest stage would."""

    def _write(accounts: list[dict], tweets: list[dict]) -> Path:
        out = tmp_path / "interim"
        out.mkdir(exist_ok=True)
        pq.write_table(_rows_to_table(accounts, ACCOUNTS_SCHEMA), out / "accounts.parquet")
        pq.write_table(_rows_to_table(tweets, TWEETS_SCHEMA), out / "tweets.parquet")
        return out

    return _write


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory):
    """A small real model: sample → ingest → features → split → LightGBM → MLflow folder."""
    import pyarrow.parquet as pq

    from pipeline.config import SampleParams, load_params
    from tests.stages import run_features
    from pipeline.ingest import ingest_dumps
    from pipeline.package import example_input, save_model_folder
    from pipeline.dev.sample import generate_sample
    from pipeline.serving import model_input
    from tests.stages import run_split, sample_dumps
    from tests.stages import train_gbm as stage_train_gbm

    work = tmp_path_factory.mktemp("model")
    params = load_params(REPO / "params.yaml")
    params.split.n_folds = 3
    params.train_gbm.n_estimators = 60
    generate_sample(SampleParams(seed=5, n_accounts=240, tweets_per_account=12), work / "raw")
    dumps = sample_dumps(params, work / "raw")
    ingest_dumps(dumps, work / "interim", params.ingest)
    run_features(work / "interim", work / "features.parquet", params.features)
    run_split(work / "interim" / "accounts.parquet", work / "split.parquet", params.split)
    stage_train_gbm(work / "features.parquet", work / "split.parquet", work / "gbm", params)
    accounts = pq.read_table(work / "interim" / "accounts.parquet").slice(0, 2)
    tweets = pq.read_table(work / "interim" / "tweets.parquet", filters=[("userid", "in", accounts.column("userid").to_pylist())])
    save_model_folder(work / "gbm", params.features, example_input(model_input(accounts, tweets)), work / "statelink")
    return {"dir": work, "model": work / "statelink", "raw": work / "raw", "interim": work / "interim"}


def run_cmd(cmd: list[str], cwd: Path, env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"{' '.join(cmd)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


def _copy_repo(dst: Path) -> None:
    for item in REPO.iterdir():
        if item.name in _SKIP or item.name.endswith(".egg-info") or item.name == "models":
            continue
        if item.is_dir():
            shutil.copytree(item, dst / item.name, ignore=shutil.ignore_patterns("__pycache__", "cache", "tmp"))
        else:
            shutil.copy2(item, dst / item.name)
    (dst / "models").mkdir(exist_ok=True)


@pytest.fixture(scope="session")
def repro_workspace(tmp_path_factory):
    """A temporary copy of the repository after one `dvc repro` on a small sample."""
    import yaml

    work = tmp_path_factory.mktemp("repo")
    _copy_repo(work)
    params = yaml.safe_load((work / "params.yaml").read_text())
    params["sample"]["n_accounts"] = 400
    params["sample"]["tweets_per_account"] = 15
    params["split"]["n_folds"] = 3
    params["shift"]["n_accounts"] = 200
    params["third"]["n_accounts"] = 200
    # The tiny encoder keeps the fine-tuning path real and fast; the real e5 has its own test.
    params["encoder"].update({"base_model": "tiny", "max_length": 48, "max_train_accounts": 96,
                              "max_valid_accounts": 32, "cpu_threads": 1, "eval_batch_size": 32})
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    run_cmd(["git", "init", "-q"], work, env)
    run_cmd(["git", "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A"], work, env)
    run_cmd(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "copy"], work, env)
    first = run_cmd([str(BIN / "dvc"), "repro"], work, env)
    return work, env, first
