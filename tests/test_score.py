"""`statelink score`: output, resume, locking, spreadsheet safety, bad input."""

from __future__ import annotations

import csv
import threading

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.contract import OUTPUT_COLUMNS, arrow_schema, mlflow_schema
from pipeline.errors import ConfigError, InputError, StatelinkError
from pipeline.score import load_model, output_lock, score_dump

HEADER = ["userid", "user_display_name", "user_screen_name", "user_reported_location", "user_profile_description",
          "user_profile_url", "follower_count", "following_count", "account_creation_date", "account_language"]


@pytest.fixture(scope="module")
def model(trained_model):
    return load_model(str(trained_model["model"]))


def test_scores_every_account_sorted_with_reasons(model, trained_model, tmp_path):
    out = tmp_path / "scores.parquet"
    rep = score_dump([str(trained_model["raw"] / "covid_2020")], model, out, partitions=3, progress=False)
    df = pd.read_parquet(out)
    assert list(df.columns) == ["userid", "score", "label", "reasons", "coord_cluster", "n_tweets_seen", "no_tweets"]
    assert pq.read_schema(out).equals(arrow_schema())  # the score contract, types included
    assert rep.accounts == len(df) == df["userid"].nunique() > 0
    assert df["score"].is_monotonic_decreasing and df["score"].between(0, 1).all()
    assert set(df["label"]) <= {"state_linked", "not_flagged"}
    assert rep.flagged == (df["label"] == "state_linked").sum()
    assert not list(tmp_path.glob(".*"))  # work folder and lock are gone


def test_the_model_signature_declares_the_score_contract(trained_model):
    from mlflow.models import get_model_info

    outputs = get_model_info(str(trained_model["model"])).signature.outputs
    assert outputs.input_names() == OUTPUT_COLUMNS
    assert outputs.to_json() == mlflow_schema().to_json()


def test_same_scores_as_the_pyfunc_model(model, trained_model, tmp_path):
    import mlflow.pyfunc

    from pipeline.serving import model_input

    out = tmp_path / "s.parquet"
    score_dump([str(trained_model["raw"] / "hk_2019")], model, out, partitions=2, progress=False)
    interim = tmp_path / ".s.parquet.work"  # removed after success: re-ingest for the pyfunc
    from pipeline.ingest import ingest_dumps

    ingest_dumps([(str(trained_model["raw"] / "hk_2019"), None, None)], interim)
    frame = model_input(pq.read_table(interim / "accounts.parquet"), pq.read_table(interim / "tweets.parquet"))
    direct = mlflow.pyfunc.load_model(str(trained_model["model"])).predict(frame)
    both = pd.read_parquet(out).merge(direct, on="userid", suffixes=("_cli", "_pyfunc"))
    assert len(both) == len(direct)
    assert (both["score_cli"] - both["score_pyfunc"]).abs().max() < 1e-9
    assert (both["reasons_cli"] == both["reasons_pyfunc"]).all()


def test_a_model_built_by_this_code_loads_without_mlflow(trained_model):
    """Its code copy is this package's: load_model skips MLflow (most of the load time), and
    test_same_scores_as_the_pyfunc_model then compares that path with MLflow's own."""
    import subprocess
    import sys

    from pipeline.package import local_artifacts

    assert local_artifacts(trained_model["model"]) is not None
    probe = ("import sys; from pipeline.score import load_model; m = load_model(sys.argv[1]); "
             "print(m.source, m.scorer.threshold, 'mlflow' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", probe, str(trained_model["model"])], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    source, threshold, imported = res.stdout.split()
    assert source == str(trained_model["model"]) and 0 < float(threshold) < 1 and imported == "False"


def test_a_model_with_other_code_goes_through_mlflow(trained_model, tmp_path):
    import shutil

    from pipeline.package import local_artifacts

    same, other = tmp_path / "same", tmp_path / "other"
    shutil.copytree(trained_model["model"], same)
    shutil.copytree(trained_model["model"], other)
    serving = other / "code" / "pipeline" / "serving.py"
    # The folder's own copy, changed: a model built by another version of statelink.
    serving.write_text(serving.read_text(encoding="utf-8") + "\nBUILT_BY_ANOTHER_VERSION = True\n", encoding="utf-8")
    assert local_artifacts(same) is not None and local_artifacts(other) is None
    loaded = load_model(str(other))
    assert loaded.source == str(other) and loaded.scorer.threshold == load_model(str(same)).scorer.threshold
    # MLflow's advice to whoever logs a model ("Add type hints ...") is not shown to the analyst.
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-W", "default", "-c",
                          "import sys; from pipeline.score import load_model; load_model(sys.argv[1]); print('loaded')",
                          str(other)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == "loaded", res.stderr[-2000:]
    assert "type hints" not in res.stderr
    # A damaged artefact is one sentence naming the model, not a traceback, on either path.
    for folder in (same, other):
        (folder / "artifacts" / "gbm" / "model.txt").write_text("not a LightGBM model\n", encoding="utf-8")
        with pytest.raises(StatelinkError, match=str(folder)):
            load_model(str(folder))


def test_resume_after_an_interruption(model, trained_model, tmp_path, monkeypatch):
    dump = [str(trained_model["raw"] / "xinjiang_2021")]
    clean = tmp_path / "clean.parquet"
    score_dump(dump, model, clean, partitions=4, progress=False)

    out = tmp_path / "out.parquet"
    from pipeline import serving

    real, calls = serving.score_features, {"n": 0}

    def flaky(frame, bundle, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the run is killed while scoring partition 3
        return real(frame, bundle, *args)

    monkeypatch.setattr(serving, "score_features", flaky)
    with pytest.raises(KeyboardInterrupt):
        score_dump(dump, model, out, partitions=4, progress=False)
    assert not out.exists()  # nothing half-written
    monkeypatch.setattr(serving, "score_features", real)
    rep = score_dump(dump, model, out, partitions=4, progress=False, resume=True)
    assert rep.resumed_partitions == 2
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(clean))


def test_second_run_on_the_same_output_is_refused(tmp_path):
    out = tmp_path / "x.parquet"
    held = threading.Event()
    release = threading.Event()

    def hold():
        with output_lock(out):
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(10)
    try:
        with pytest.raises(StatelinkError, match="another statelink run"), output_lock(out):
            pass
    finally:
        release.set()
        t.join()


def test_csv_output_is_safe_in_a_spreadsheet_and_profile_only_accounts_are_flagged(model, tmp_path):
    dump = tmp_path / "dump"
    dump.mkdir()
    with open(dump / "x_users.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL)
        w.writerow(HEADER)
        w.writerow(["=HYPERLINK(1)", "n", "h", "", "", "", "3", "40", "2019-08-01", "zh-cn"])
        w.writerow(["12345", "n2", "h2", "", "", "", "300", "40", "2012-08-01", "en"])
    out = tmp_path / "s.csv"
    rep = score_dump([str(dump)], model, out, progress=False)
    with open(out, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    ids = {r["userid"] for r in rows}
    assert "'=HYPERLINK(1)" in ids and "12345" in ids
    assert rep.no_tweets == 2
    assert all(r["reasons"].startswith("no tweets in the dump") for r in rows)


def test_bad_input_is_one_clear_sentence(model, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError):
        score_dump([str(empty)], model, tmp_path / "o.parquet", progress=False)
    with pytest.raises(ConfigError, match="neither a local MLflow model folder"):
        load_model("https://example.org/model")
    with pytest.raises(InputError, match="not an MLflow model folder"):
        load_model(str(tmp_path))
    with pytest.raises(ConfigError, match=".parquet or .csv"):
        score_dump([str(empty)], model, tmp_path / "o.txt", progress=False)


def test_cli_score_prints_a_summary(trained_model, tmp_path):
    res = CliRunner().invoke(app, ["score", str(trained_model["raw"] / "covid_2020"), "--model", str(trained_model["model"]),
                                   "--out", str(tmp_path / "s.parquet"), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "scored" in res.output and "flagged" in res.output
    res = CliRunner().invoke(app, ["score", str(tmp_path / "missing"), "--model", str(trained_model["model"]), "--out", str(tmp_path / "t.parquet")])
    assert res.exit_code == 2 and "error:" in res.output and "Traceback" not in res.output


def test_scoring_threads_follow_the_cores_or_the_override(monkeypatch):
    import os

    from pipeline import duck
    from pipeline.errors import ConfigError

    monkeypatch.delenv(duck.THREADS_ENV, raising=False)
    assert duck.available_cores() == len(os.sched_getaffinity(0))
    monkeypatch.setenv(duck.THREADS_ENV, "3")
    assert duck.available_cores() == 3
    for bad in ("0", "two"):
        monkeypatch.setenv(duck.THREADS_ENV, bad)
        with pytest.raises(ConfigError, match=duck.THREADS_ENV):
            duck.available_cores()
