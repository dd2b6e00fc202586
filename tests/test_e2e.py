"""One end-to-end `dvc repro` on a small sample, in a temporary copy of the repository."""

from __future__ import annotations

import json

import pytest

from tests.conftest import BIN, run_cmd

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def repro(repro_workspace):
    return repro_workspace


def test_repro_reports_holdout_metrics(repro):
    work, _, first = repro
    metrics = json.loads((work / "reports/metrics.json").read_text())
    h = metrics["holdout"]
    assert 0.5 < h["roc_auc"] <= 1.0 and 0 < h["pr_auc"] <= 1.0
    assert "covid_2020" in metrics["holdout_by_campaign"]
    assert "held-out (ensemble) ROC-AUC" in first.stdout
    assert set(metrics["models"]["gbm"]["loco"]) == {"hk_2019", "covid_2020", "xinjiang_2021", "zero_covid_2022", "strait_2023"}
    assert set(metrics["models"]) == {"gbm", "encoder", "ensemble"} and metrics["primary_model"] == "ensemble"
    for name in ("gbm", "encoder", "ensemble"):
        assert 0 < metrics["models"][name]["holdout"]["pr_auc"] <= 1
        assert "covid_2020" in metrics["models"][name]["holdout_by_campaign"]
    # The third world (never trained on), scored as one foreign dump by the primary model, beside them.
    shift = metrics["shift"]
    assert shift["n_accounts"] == 200 and 0 < shift["n_state_linked"] < 200 and 0 < shift["pr_auc"] <= 1
    assert all(0 <= shift[k] <= 1 for k in ("organic_flagged_share", "organic_in_cluster_share", "state_linked_in_cluster_share"))
    # What the encoder adds to LightGBM, on both evaluation sets, said in the card either way.
    for where in ("holdout", "shift"):
        c = metrics["contribution"]["encoder"][where]
        assert c["difference_95ci_low"] <= c["pr_auc_difference"] <= c["difference_95ci_high"]
        assert c["adds"] == (c["difference_95ci_low"] > 0)
        assert abs(c["pr_auc_with"] - c["pr_auc_without"] - c["pr_auc_difference"]) < 1e-5
    assert abs(c["pr_auc_with"] - shift["pr_auc"]) < 1e-5
    card = (work / "docs/model-card.md").read_text()
    assert "A third world (never trained on)" in card and "Organic accounts flagged at the operating point" in card
    assert "## What each member adds" in card
    for plot in ("roc.png", "pr.png", "calibration.png", "confusion.png", "score_hist.png", "importance.png", "shap_summary.png"):
        assert (work / "reports/plots" / plot).read_bytes()[:4] == b"\x89PNG"


def test_repro_logs_one_mlflow_run_with_model_and_predictions(repro):
    work, _, _ = repro
    import mlflow
    import pandas as pd
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{work / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("statelink")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, "one MLflow run per pipeline execution"
    run = parents[0]
    nested = {r.info.run_name for r in runs if r.data.tags.get("mlflow.parentRunId") == run.info.run_id}
    assert nested == {"gbm", "encoder", "ensemble"}
    assert "holdout.roc_auc" in run.data.metrics and "holdout_by_campaign.covid_2020.pr_auc" in run.data.metrics
    assert run.data.params["train_gbm.learning_rate"] == "0.05"
    assert len(run.data.tags["git_commit"]) == 40
    assert run.data.tags["statelink.champion"] == "true"
    arts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"predictions", "plots", "config", "metrics"} <= arts
    preds = client.download_artifacts(run.info.run_id, "predictions/predictions.parquet", str(work / "dl"))
    frame = pd.read_parquet(preds)
    assert {"userid", "campaign", "label", "score"} <= set(frame.columns)
    assert frame["score"].between(0, 1).all()
    assert run.inputs.dataset_inputs and run.inputs.dataset_inputs[0].dataset.name == "accounts"
    # The registered model is the champion and loads as a pyfunc.
    mv = client.get_model_version_by_alias("statelink", "champion")
    assert mv.run_id == run.info.run_id
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model("models:/statelink@champion")
    assert [c.name for c in model.metadata.get_input_schema().inputs][:2] == ["userid", "user_display_name"]


def test_model_folder_scores_a_raw_dump_like_the_stages(repro):
    """The registered model is the refit (register.refit_all): it scores a raw dump exactly as
    the refit's folders do in-process; and the evaluated folders score it as `evaluate` did."""
    work, _, _ = repro
    import mlflow.pyfunc
    import pandas as pd
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from pipeline.config import load_params
    from pipeline.serving import make_bundle, model_input, score_tables

    params = load_params(work / "params.yaml")
    accounts = pq.read_table(work / "data/interim/accounts.parquet")
    held = accounts.filter(pc.equal(accounts.column("campaign"), "covid_2020"))
    tweets = pq.read_table(work / "data/interim/tweets.parquet", filters=[("campaign", "=", "covid_2020")])
    out = mlflow.pyfunc.load_model(str(work / "models/statelink")).predict(model_input(held, tweets))
    assert list(out.columns) == ["userid", "score", "label", "reasons", "coord_cluster", "n_tweets_seen", "no_tweets"]
    enc = work / "models/encoder/classifier"
    refit = score_tables(held, tweets, make_bundle(work / "models/refit/gbm", params.features, enc, params.encoder,
                                                   work / "models/refit/ensemble"))
    both = refit.merge(out, on="userid", suffixes=("_refit", "_model"))
    assert len(both) == held.num_rows
    # int8 encoder inference in a fresh process: equal up to float noise.
    assert (both["score_refit"] - both["score_model"]).abs().max() < 1e-6
    flagged = out[out["label"] == "state_linked"]
    assert len(flagged) and flagged["reasons"].str.len().gt(0).all()
    # The evaluated fit, served the same way, gives the evaluate stage's held-out scores.
    served = score_tables(held, tweets, make_bundle(work / "models/gbm", params.features, enc, params.encoder,
                                                    work / "models/ensemble"))
    evaluated = pd.read_parquet(work / "reports/predictions.parquet").query("split == 'holdout' and model == 'ensemble'")
    same = evaluated.merge(served, on="userid", suffixes=("_eval", "_served"))
    assert len(same) == held.num_rows and (same["score_eval"] - same["score_served"]).abs().max() < 1e-6
    # The refit learnt from the held-out campaign too: it is a different model.
    assert (same.set_index("userid")["score_served"] - both.set_index("userid")["score_model"]).abs().max() > 1e-3
    record = json.loads((work / "models/refit/refit.json").read_text())
    assert record["refit_all"] and "covid_2020" in record["campaigns"]
    assert "## Which fit is which" in (work / "docs/model-card.md").read_text()


def test_drift_warning_speaks_on_a_foreign_world_and_not_on_the_held_out_campaign(repro):
    work, env, _ = repro
    metrics = json.loads((work / "reports/metrics.json").read_text())
    assert metrics["drift"]["holdout"]["out_of_distribution"] == 0
    assert metrics["drift"]["shift"]["out_of_distribution"] == 1
    for name, dump, warns in (("third", "data/raw/third", True), ("held", "data/raw/sample/covid_2020", False)):
        out = work / f"{name}.parquet"
        res = run_cmd([str(BIN / "statelink"), "score", dump, "--out", str(out), "--no-progress"], work, env)
        assert ("probabilities are not calibrated for this dump" in res.stderr) is warns, res.stderr
        meta = json.loads((work / f"{name}.parquet.meta.json").read_text())
        assert meta["drift"]["checked"] and meta["drift"]["out_of_distribution"] is warns
        assert meta["calibration"]["fit"] == "leave-one-campaign-out" and meta["calibration"]["meaning"]
        # The label's precision in each training campaign left out, the lowest one named in words.
        by = meta["calibration"]["precision_at_threshold_by_campaign"]
        assert set(by) == set(meta["calibration"]["campaigns"]) and "lowest in one campaign" in meta["calibration"]["meaning"]
        if warns:
            assert meta["drift"]["warning"] and meta["drift"]["most_drifted"]


def test_cascade_runs_the_encoder_only_inside_the_band(repro):
    work, _, _ = repro
    import dataclasses

    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from pipeline.score import load_model
    from pipeline.serving import score_tables

    bundle = load_model(str(work / "models/statelink")).bundle
    accounts = pq.read_table(work / "data/interim/accounts.parquet")
    held = accounts.filter(pc.equal(accounts.column("campaign"), "covid_2020"))
    tweets = pq.read_table(work / "data/interim/tweets.parquet", filters=[("campaign", "=", "covid_2020")])
    gbm = score_tables(held, tweets, dataclasses.replace(bundle, encoder=None, ensemble=None)).set_index("userid")["score"]
    lo, hi = (float(q) for q in np.quantile(gbm, [0.25, 0.75]))
    full_stats, casc_stats = {}, {}
    full = score_tables(held, tweets, bundle, stats=full_stats).set_index("userid")["score"]
    casc = score_tables(held, tweets, bundle, band=(lo, hi), stats=casc_stats).set_index("userid")["score"]
    inside = gbm.between(lo, hi)
    assert 0 < inside.sum() < len(gbm)
    assert full_stats["encoder_accounts"] == len(gbm) and casc_stats["encoder_accounts"] == int(inside.sum())
    # Inside the band: the stacked score, as with the encoder everywhere; outside: LightGBM's.
    assert (casc[inside.index[inside]] - full[inside.index[inside]]).abs().max() == 0
    assert (casc[inside.index[~inside]] - gbm[~inside]).abs().max() == 0
    assert (full[~inside] - gbm[~inside]).abs().max() > 0  # the encoder does move scores


def test_second_repro_is_a_no_op(repro):
    work, env, _ = repro
    res = run_cmd([str(BIN / "dvc"), "repro"], work, env)
    assert "didn't change" in res.stdout or "up to date" in res.stdout.lower()
