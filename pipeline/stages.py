"""Stage bodies: read inputs, call the pure functions, write outputs. One per dvc.yaml stage."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from pipeline.config import Params
from pipeline.errors import InputError
from pipeline.evaluate import evaluate_predictions, headline_line, plot_curves, score_frame, write_outputs
from pipeline.features.build import feature_columns
from pipeline.models.gbm import load_gbm, save_gbm, train_gbm
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
    frame = _labelled(features_path, split_path)
    train = frame[frame["role"] == "train"].reset_index(drop=True)
    features = model_features(feature_columns(list(frame.columns.drop(["role", "fold", "group"]))), params.train_gbm.exclude_features)
    result = train_gbm(train, features, params.train_gbm, params.evaluate)
    save_gbm(result, out_dir, params.train_gbm)
    return f"trained LightGBM on {len(train)} accounts, {len(features)} features, {result.booster.num_trees()} trees"


def stage_evaluate(
    features_path: Path, split_path: Path, model_dir: Path, metrics_path: Path,
    predictions_path: Path, plots_dir: Path, params: Params, params_path: Path,
) -> str:
    frame = _labelled(features_path, split_path)
    booster, meta = load_gbm(model_dir)
    frame["score"] = score_frame(frame, booster, meta["features"])
    oof = pd.read_parquet(model_dir / "oof.parquet")
    test = frame[frame["role"] == "test"]
    oof = oof.merge(frame[["userid", "main_language"]], on="userid", how="left")
    metrics = evaluate_predictions(test, oof, meta["threshold"], params.evaluate)

    # Per-account predictions: held-out scores from the final model, training scores out of fold.
    cols = ["userid", "campaign", "label", "main_language"]
    predictions = pd.concat([
        test[cols + ["score"]].assign(split="holdout"),
        oof[cols + ["score"]].assign(split="oof"),
    ], ignore_index=True)
    predictions["predicted"] = predictions["score"] >= meta["threshold"]
    write_outputs(metrics, predictions, metrics_path, predictions_path)
    plots = plot_curves(test, plots_dir, "held-out campaigns")
    run_id = log_run(params, params_path, metrics, predictions_path, plots, model_dir, frame, meta)
    return headline_line(metrics) + f"\nMLflow run {run_id}"


def log_run(params: Params, params_path: Path, metrics: dict, predictions_path: Path,
            plots: list[Path], model_dir: Path, frame: pd.DataFrame, meta: dict) -> str:
    root = tracking.repo_root(params_path.resolve().parent)
    mlflow = tracking.setup(params.tracking, root)
    import mlflow.lightgbm
    from mlflow.models import infer_signature

    booster, _ = load_gbm(model_dir)
    example = frame[meta["features"]].head(5).astype("float64")
    with mlflow.start_run(run_name=tracking.run_name(root), tags=tracking.run_tags(root)) as run:
        mlflow.log_params({k: str(v)[:500] for k, v in tracking.flatten(params.model_dump(exclude={"data"})).items()})
        mlflow.log_param("data.n_dumps", len(params.data.dumps))
        mlflow.log_metrics({tracking.metric_key(k): float(v) for k, v in tracking.flatten(metrics).items()})
        mlflow.log_artifact(str(predictions_path), artifact_path="predictions")
        for p in plots:
            mlflow.log_artifact(str(p), artifact_path="plots")
        mlflow.log_artifact(str(params_path), artifact_path="config")
        mlflow.lightgbm.log_model(
            booster, name="gbm",
            signature=infer_signature(example, booster.predict(example.to_numpy())),
            input_example=example,
            pip_requirements=tracking.model_pip_requirements(),
        )
        return run.info.run_id
