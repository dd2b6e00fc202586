"""Stage bodies: read inputs, call the pure functions, write outputs. One per dvc.yaml stage."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from pipeline.config import Params
from pipeline.errors import InputError
from pipeline.evaluate import draw_plots, evaluate_models, headline_line, write_outputs
from pipeline.features.build import feature_columns
from pipeline.io import atomic_path
from pipeline.models.gbm import save_gbm, train_gbm, train_loco
from pipeline.scoring import GbmScorer
from pipeline import tracking


def _labelled(features_path: Path, split_path: Path) -> pd.DataFrame:
    feats = pq.read_table(features_path).to_pandas()
    split = pq.read_table(split_path, columns=["userid", "role", "fold", "group"]).to_pandas()
    frame = feats.merge(split, on="userid", how="inner", validate="one_to_one")
    if len(frame) != len(split):
        raise InputError(f"{split_path} names {len(split) - len(frame)} accounts that {features_path} lacks; re-run the features stage.")
    return frame


def model_features(candidates: list[str], exclude: list[str]) -> list[str]:
    return [c for c in candidates if not any(fnmatch.fnmatchcase(c, pat) for pat in exclude)]


def stage_train_gbm(features_path: Path, split_path: Path, out_dir: Path, params: Params) -> str:
    from pipeline.models import text_ngram

    frame = _labelled(features_path, split_path)
    train = frame[frame["role"] == "train"].reset_index(drop=True)
    features = model_features(feature_columns(list(frame.columns.drop(["role", "fold", "group"]))), params.train_gbm.exclude_features)
    tp = params.train_gbm.text_ngram
    ngram = None
    if tp.enabled:
        y = (train["label"] == "state_linked").to_numpy().astype(int)
        c = text_ngram.counts(train["doc"], tp)
        train[text_ngram.FEATURE] = text_ngram.oof_scores(train["doc"], y, train["fold"].to_numpy(), tp, c=c)
        ngram = text_ngram.fit_ngram(train["doc"], y, tp, c=c)
        features = [*features, text_ngram.FEATURE]
    result = train_gbm(train, features, params.train_gbm, params.evaluate)
    save_gbm(result, out_dir, params.train_gbm, ngram)
    loco = train_loco(frame, features, params.train_gbm, result.booster.num_trees(), result.calibration,
                      tp if tp.enabled else None)
    with atomic_path(out_dir / "loco.parquet") as tmp:
        loco.to_parquet(tmp, index=False)
    return f"trained LightGBM on {len(train)} accounts, {len(features)} features, {result.booster.num_trees()} trees"


def stage_ensemble(features_path: Path, split_path: Path, gbm_dir: Path, encoder_dir: Path, out_dir: Path,
                   params: Params) -> str:
    """Stack LightGBM and the encoder on their out-of-fold scores; score the held-out accounts."""
    from pipeline.io import write_json
    from pipeline.metrics import threshold_for_precision
    from pipeline.models.ensemble import apply_stacker, fit_stacker, join_members

    frame = _labelled(features_path, split_path)
    test = frame[frame["role"] == "test"].copy()
    test["score"] = GbmScorer.load(gbm_dir).score(test)
    oof = join_members(pd.read_parquet(gbm_dir / "oof.parquet"), pd.read_parquet(encoder_dir / "oof.parquet"))
    held = join_members(test, pd.read_parquet(encoder_dir / "holdout.parquet"))
    y = (oof["label"] == "state_linked").to_numpy().astype(int)
    meta, cv = fit_stacker(y, oof["gbm"].to_numpy(), oof["encoder"].to_numpy(), params.evaluate.target_precision,
                           params.ensemble.c, params.ensemble.seed)
    enc_oof = pd.read_parquet(encoder_dir / "oof.parquet").dropna(subset=["score"])
    meta["encoder_threshold"] = threshold_for_precision(
        (enc_oof["label"] == "state_linked").to_numpy().astype(int), enc_oof["score"].to_numpy(), params.evaluate.target_precision)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "meta.json", meta)
    oof_out = oof.assign(score=cv)
    held_out = held.assign(score=apply_stacker(meta, held["gbm"].to_numpy(), held["encoder"].to_numpy()))
    for name, table in (("oof.parquet", oof_out), ("holdout.parquet", held_out)):
        with atomic_path(out_dir / name) as tmp:
            table.to_parquet(tmp, index=False)
    w = ", ".join(f"{m} {c:+.2f}" for m, c in zip(meta["members"], meta["coef"]))
    return f"stacked {len(oof)} out-of-fold accounts: logit weights {w}; threshold {meta['threshold']:.3f}"


def stage_evaluate(
    features_path: Path, split_path: Path, model_dir: Path, metrics_path: Path,
    predictions_path: Path, plots_dir: Path, params: Params, params_path: Path,
    encoder_dir: Path | None = None, ensemble_dir: Path | None = None,
) -> str:
    frame = _labelled(features_path, split_path)
    scorer = GbmScorer.load(model_dir)
    frame["score"] = scorer.score(frame)
    lang = frame[["userid", "main_language"]]
    test = frame[frame["role"] == "test"]
    oof = pd.read_parquet(model_dir / "oof.parquet").merge(lang, on="userid", how="left")
    loco_path = model_dir / "loco.parquet"
    loco = pd.read_parquet(loco_path).merge(lang, on="userid", how="left") if loco_path.exists() else None
    preds = {"gbm": {"test": test, "oof": oof, "loco": loco, "threshold": scorer.threshold}}
    primary = "gbm"
    if ensemble_dir is not None and (ensemble_dir / "meta.json").exists() and encoder_dir is not None:
        import json

        ens = json.loads((ensemble_dir / "meta.json").read_text(encoding="utf-8"))
        with_lang = lambda f: f.merge(lang, on="userid", how="left")  # noqa: E731
        enc_oof = pd.read_parquet(encoder_dir / "oof.parquet").dropna(subset=["score"])
        preds["encoder"] = {"test": with_lang(pd.read_parquet(encoder_dir / "holdout.parquet")),
                            "oof": with_lang(enc_oof), "threshold": ens["encoder_threshold"]}
        preds["ensemble"] = {"test": with_lang(pd.read_parquet(ensemble_dir / "holdout.parquet")),
                             "oof": with_lang(pd.read_parquet(ensemble_dir / "oof.parquet")), "threshold": ens["threshold"]}
        primary = "ensemble"
    metrics = evaluate_models(preds, primary, params.evaluate)

    # Per-account predictions: held-out scores from the final models, training scores out of fold.
    cols = ["userid", "campaign", "label", "main_language", "score"]
    predictions = pd.concat([
        part[cols].assign(split=split, model=name, predicted=part["score"] >= p["threshold"])
        for name, p in preds.items() for split, part in (("holdout", p["test"]), ("oof", p["oof"]))
    ], ignore_index=True)
    write_outputs(metrics, predictions, metrics_path, predictions_path)
    held = predictions[predictions["split"] == "holdout"].assign(primary=lambda f: f["model"] == primary)
    draw_plots(held, plots_dir, preds[primary]["threshold"], scorer.booster, scorer.features, scorer.matrix(test))
    return headline_line(metrics)


def stage_register(
    interim_dir: Path, gbm_dir: Path, metrics_path: Path, predictions_path: Path, plots_dir: Path,
    out_dir: Path, params: Params, params_path: Path, encoder_dir: Path | None = None, ensemble_dir: Path | None = None,
) -> str:
    """Package models/statelink, log the pipeline's one MLflow run, register the model."""
    import json
    import tempfile

    from pipeline.package import champion_metric, example_input, model_kwargs, save_model_folder
    from pipeline.serving import model_input

    accounts = pq.read_table(interim_dir / "accounts.parquet")
    first = accounts.slice(0, 2)
    tweets = pq.read_table(interim_dir / "tweets.parquet", filters=[("userid", "in", first.column("userid").to_pylist())])
    example = example_input(model_input(first, tweets))
    members = {"encoder_dir": encoder_dir, "encoder_params": params.encoder, "ensemble_dir": ensemble_dir}
    save_model_folder(gbm_dir, params.features, example, out_dir, **members)

    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    flat = {tracking.metric_key(k): float(v) for k, v in tracking.flatten(metrics).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}
    predictions = pd.read_parquet(predictions_path)
    meta = json.loads((gbm_dir / "meta.json").read_text(encoding="utf-8"))
    here = params_path.resolve().parent  # the workspace being run (a temp clone for queued experiments)
    root = tracking.repo_root(here)
    tracking.setup(params.tracking, root)
    import mlflow
    import mlflow.data
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    name = params.tracking.registered_model
    previous = champion_metric(client, name, params.register_.metric)
    with mlflow.start_run(run_name=tracking.run_name(here), tags=tracking.run_tags(here)) as run:
        mlflow.log_params({k: str(v)[:500] for k, v in tracking.flatten(params.model_dump(exclude={"data"}, by_alias=True)).items()})
        mlflow.log_param("data.dumps", json.dumps([d.model_dump() for d in params.data.dumps])[:6000])
        mlflow.log_metrics(flat)
        mlflow.set_tag("statelink.primary_model", metrics.get("primary_model", "gbm"))
        roster = accounts.select(["userid", "campaign", "label"]).to_pandas()
        mlflow.log_input(mlflow.data.from_pandas(roster, source=str(interim_dir / "accounts.parquet"), name="accounts"), context="training")
        mlflow.log_artifact(str(predictions_path), artifact_path="predictions")
        if params.register_.predictions_sample_rows:
            sample = predictions.sample(min(len(predictions), params.register_.predictions_sample_rows), random_state=0)
            mlflow.log_table(sample.reset_index(drop=True), artifact_file="predictions/sample.json")
        for plot in sorted(plots_dir.glob("*.png")):
            mlflow.log_artifact(str(plot), artifact_path="plots")
        mlflow.log_artifact(str(metrics_path), artifact_path="metrics")
        mlflow.log_artifact(str(params_path), artifact_path="config")
        with mlflow.start_run(run_name="gbm", nested=True, tags={"statelink.model": "gbm"}):
            mlflow.log_params({f"gbm.{k}": v for k, v in params.train_gbm.model_dump().items() if k != "exclude_features"})
            mlflow.log_params({"gbm.n_features": len(meta["features"]), "gbm.num_trees": meta["num_trees"],
                               "gbm.threshold": round(meta["threshold"], 6)})
            mlflow.log_metrics({k: v for k, v in flat.items() if k.startswith(("holdout.", "oof."))})
            mlflow.log_artifact(str(gbm_dir / "model.txt"), artifact_path="gbm")
            mlflow.log_artifact(str(gbm_dir / "meta.json"), artifact_path="gbm")
        if encoder_dir is not None and (encoder_dir / "meta.json").exists():
            with mlflow.start_run(run_name="encoder", nested=True, tags={"statelink.model": "encoder"}):
                enc_meta = json.loads((encoder_dir / "meta.json").read_text(encoding="utf-8"))
                mlflow.log_params({f"encoder.{k}": str(v)[:500] for k, v in params.encoder.model_dump().items()})
                mlflow.set_tag("encoder.device_used", str(enc_meta.get("device")))
                mlflow.log_metrics({k: v for k, v in flat.items() if k.startswith("models.encoder.")})
                mlflow.log_metrics({f"seconds.{k}": float(v) for k, v in enc_meta.get("seconds", {}).items()})
                mlflow.log_artifact(str(encoder_dir / "meta.json"), artifact_path="encoder")
        if ensemble_dir is not None and (ensemble_dir / "meta.json").exists():
            with mlflow.start_run(run_name="ensemble", nested=True, tags={"statelink.model": "ensemble"}):
                mlflow.log_params({f"ensemble.{k}": v for k, v in params.ensemble.model_dump().items()})
                mlflow.log_metrics({k: v for k, v in flat.items() if k.startswith("models.ensemble.")})
                mlflow.log_artifact(str(ensemble_dir / "meta.json"), artifact_path="ensemble")
        with tempfile.TemporaryDirectory() as tmp:
            info = mlflow.pyfunc.log_model(name="statelink", **model_kwargs(gbm_dir, params.features, example, Path(tmp), **members))
        version = mlflow.register_model(info.model_uri, name)
        new = flat.get(tracking.metric_key(params.register_.metric))
        promote = new is not None and (previous is None or new >= previous + params.register_.min_improvement)
        if promote:
            client.set_registered_model_alias(name, "champion", version.version)
        mlflow.set_tag("statelink.champion", str(promote).lower())
        run_id = run.info.run_id
    verdict = "now champion" if promote else f"champion kept ({params.register_.metric} {previous:.4f} vs {new:.4f})"
    return (
        f"wrote {out_dir}; MLflow run {run_id}; registered {name} v{version.version}, {verdict}\n"
        f"open the MLflow UI: statelink ui  (http://127.0.0.1:5000)"
    )
