"""Experiments side by side in the MLflow UI, checked in a real headless browser."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import BIN, REPO, run_cmd

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "test-artifacts"
BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def two_experiments(repro_workspace, tmp_path_factory):
    src, env, _ = repro_workspace
    work = tmp_path_factory.mktemp("exp") / "repo"
    shutil.copytree(src, work, symlinks=True)
    run_cmd([str(BIN / "dvc"), "exp", "run", "-S", "train_gbm.learning_rate=0.1", "-n", "lr-0-1"], work, env)
    return work, env


def _runs(work: Path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{work / 'mlflow.db'}")
    exp = client.get_experiment_by_name("statelink")
    runs = [r for r in client.search_runs([exp.experiment_id]) if "mlflow.parentRunId" not in r.data.tags]
    return exp, runs


def test_dvc_experiment_logs_its_own_tagged_run(two_experiments):
    work, _ = two_experiments
    _, runs = _runs(work)
    by_name = {r.info.run_name: r for r in runs}
    assert len(runs) == 2 and "lr-0-1" in by_name
    assert by_name["lr-0-1"].data.tags["dvc_exp_name"] == "lr-0-1"
    assert by_name["lr-0-1"].data.params["train_gbm.learning_rate"] == "0.1"
    others = [r for r in runs if r.info.run_name != "lr-0-1"]
    assert others[0].data.params["train_gbm.learning_rate"] == "0.05"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def _renderings(v: float) -> set[str]:
    """How a metric value may appear on the page: significant digits, fixed decimals, truncated."""
    out = {f"{v:.{n}g}" for n in range(3, 8)} | {f"{v:.{n}f}" for n in range(2, 7)}
    return out | {repr(v)[:n] for n in range(4, 8)}


def test_mlflow_ui_shows_both_runs_side_by_side(two_experiments, tmp_path):
    work, env = two_experiments
    exp, runs = _runs(work)
    port = _free_port()
    # Own process group: the MLflow server's workers are children of the CLI; stop them all.
    ui = subprocess.Popen([str(BIN / "statelink"), "ui", "--port", str(port), "--params", "params.yaml"], cwd=work, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_http(f"http://127.0.0.1:{port}/health")
        ids = json.dumps([r.info.run_id for r in runs]).replace(" ", "")
        url = (f"http://127.0.0.1:{port}/#/compare-runs?runs={urllib.parse.quote(ids)}"
               f"&experiments={urllib.parse.quote(json.dumps([exp.experiment_id]))}")
        profile = tmp_path / "chrome"
        common = [CHROMIUM, *BROWSER_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=25000", "--window-size=1400,1100"]
        # The UI rounds for display; accept its usual roundings, never a bare "1" or "0".
        pr = {x for r in runs for x in _renderings(r.data.metrics["holdout.pr_auc"]) if len(x) >= 4}

        def rendered(dom: str) -> bool:
            return all(r.info.run_name in dom for r in runs) and any(v in dom for v in pr)

        dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
        if not rendered(dom):  # a loaded machine can outrun the virtual time budget: one slower try
            slow = [*common[:-2], "--virtual-time-budget=60000", common[-1]]
            dom = subprocess.run([*slow, "--dump-dom", url], capture_output=True, text=True, timeout=180).stdout
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "mlflow-compare-runs.png"
        subprocess.run([*common, f"--screenshot={shot}", url], capture_output=True, timeout=120)
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        try:
            ui.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(ui.pid, signal.SIGKILL)
    (ARTIFACTS / "mlflow-compare-runs.html").write_text(dom, encoding="utf-8")  # to read when this fails
    for r in runs:
        assert r.info.run_name in dom, f"run {r.info.run_name} not shown"
    assert "holdout.pr_auc" in dom
    assert any(v in dom for v in pr), "the headline metric's value is not shown"
    assert shot.exists() and shot.stat().st_size > 10_000
