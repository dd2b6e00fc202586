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
                "model-card", "score", "ui"):
        assert cmd in text
