"""MLflow tracking: one run per pipeline execution, in the repository's own store by default."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.config import TrackingParams

def quiet_mlflow() -> None:
    """Telemetry off, before mlflow is imported anywhere in this process."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")


def repo_root(start: Path | None = None) -> Path:
    """The main work tree, also from a `dvc exp run --queue` temp workspace.

    Queued experiments run in a temporary clone under `<repo>/.dvc/tmp/exps/`; their runs
    belong in the main repository's store, beside the runs of `dvc repro`.
    """
    start = (start or Path.cwd()).resolve()
    marker = f"{Path('.dvc', 'tmp', 'exps')}"
    if marker in str(start):
        return Path(str(start).split(marker)[0])
    try:
        common = subprocess.run(
            ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
            cwd=start, capture_output=True, text=True, check=True,
        ).stdout.strip()
        return Path(common).parent
    except (subprocess.CalledProcessError, FileNotFoundError):
        return start.resolve()


def resolve_tracking_uri(params: TrackingParams, root: Path) -> str:
    """MLFLOW_TRACKING_URI wins; a relative sqlite path is anchored at the repository root."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or params.tracking_uri
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str((root / uri[len(prefix):]).resolve())
    return uri


def git_commit(root: Path) -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown"


def flatten(d: Mapping[str, Any], prefix: str = "", sep: str = ".") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{sep}{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(flatten(v, key, sep))
        else:
            out[key] = v
    return out


def metric_key(key: str) -> str:
    """MLflow metric names allow letters, digits, _ - . / and space only."""
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in key)


def setup(params: TrackingParams, root: Path):
    quiet_mlflow()
    import mlflow

    mlflow.set_tracking_uri(resolve_tracking_uri(params, root))
    if mlflow.get_experiment_by_name(params.experiment) is None:
        # Artifacts beside the store, not wherever the process happened to start.
        artifacts = (root / "mlartifacts").resolve()
        location = artifacts.as_uri() if mlflow.get_tracking_uri().startswith("sqlite") else None
        mlflow.create_experiment(params.experiment, artifact_location=location)
    mlflow.set_experiment(params.experiment)
    return mlflow


def use_store(params: TrackingParams, workspace: Path) -> None:
    """Point MLflow at the project's store, for `models:/` and `runs:/` model URIs."""
    quiet_mlflow()
    import mlflow

    mlflow.set_tracking_uri(resolve_tracking_uri(params, repo_root(workspace)))


def run_tags(root: Path) -> dict[str, str]:
    tags = {"git_commit": git_commit(root), "statelink.entry": "dvc"}
    exp = os.environ.get("DVC_EXP_NAME")
    if exp:
        tags["dvc_exp_name"] = exp
    return tags


def run_name(root: Path) -> str:
    return os.environ.get("DVC_EXP_NAME") or f"repro-{git_commit(root)[:8]}"
