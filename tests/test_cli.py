"""What `statelink --help` tells a new user."""

from __future__ import annotations

from typer.testing import CliRunner

from pipeline.cli import app


def _help(*args: str) -> str:
    res = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "400", "TERM": "dumb"})
    assert res.exit_code == 0, res.output
    return " ".join(res.output.split())


def test_spark_extra_is_named_in_full():
    # Rich markup once swallowed the bracketed extra and told users to `pip install statelink`.
    assert "statelink[spark]" in _help("score")


def test_features_help_names_every_family():
    text = _help("features")
    assert all(word in text for word in ("behaviour", "coordination", "text"))


def test_every_stage_command_is_listed():
    text = _help()
    for cmd in ("sample", "ingest", "features", "split", "train-gbm", "encoder", "ensemble", "evaluate", "register",
                "model-card", "score", "ui", "refit", "network", "report"):
        assert cmd in text


def test_network_command_writes_its_files(trained_model, tmp_path):
    res = CliRunner().invoke(app, ["network", str(trained_model["interim"]), "--out", str(tmp_path / "net"), "--no-progress",
                                   "--params", str(tmp_path / "absent.yaml")])
    assert res.exit_code == 0, res.output
    assert "ties over" in res.output and "network.graphml" in res.output
    assert {p.name for p in (tmp_path / "net").iterdir()} == {"edges.parquet", "nodes.parquet", "clusters.parquet",
                                                            "network.graphml"}
