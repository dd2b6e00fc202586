"""Package the trained parts into one MLflow pyfunc model, log the run, register the model."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.config import FeaturesParams, Params
from pipeline.errors import InputError
from pipeline.io import staged_dir

PACKAGE_DIR = Path(__file__).resolve().parent
MODEL_CODE = PACKAGE_DIR / "statelink_model.py"
# Left out of the model's code copy: developer tools (the sample generator, notebook helpers)
# are never run by a registered model, and bytecode differs per machine.
NOT_SHIPPED = ("dev", "__pycache__", "*.pyc")


def shipped_package(workdir: Path) -> Path:
    """A copy of `pipeline/` without the developer tools, for the model's `code_paths`."""
    import shutil

    target = workdir / "code" / PACKAGE_DIR.name
    if not target.exists():
        shutil.copytree(PACKAGE_DIR, target, ignore=shutil.ignore_patterns(*NOT_SHIPPED))
    return target


def shipped_files(root: Path) -> dict[str, str]:
    """relative path -> SHA-256 of every file `shipped_package` copies from (or into) `root`."""
    import fnmatch
    import hashlib

    root = Path(root)
    out = {}
    for f in sorted(root.rglob("*")):
        rel = f.relative_to(root)
        if f.is_file() and not any(fnmatch.fnmatch(part, pat) for part in rel.parts for pat in NOT_SHIPPED):
            out[rel.as_posix()] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def local_artifacts(model_dir: Path) -> dict[str, str] | None:
    """The artifact paths of a statelink model folder whose code copy *is* this package's code
    (file for file), else None.

    Such a folder can be loaded without MLflow (`load_bundle` on these paths): MLflow would
    run the same code on the same files, and importing it is most of the load time (2-3 s of
    ~6 s on two cores). A folder built by another version of statelink returns None and goes
    through MLflow, which runs that folder's own copy of the package.
    """
    import yaml

    model_dir = Path(model_dir)
    try:
        conf = yaml.safe_load((model_dir / "MLmodel").read_text(encoding="utf-8"))
        flavor = conf["flavors"]["python_function"]
        artifacts = {name: model_dir / a["path"] for name, a in flavor["artifacts"].items()}
        code = model_dir / flavor["code"] / PACKAGE_DIR.name
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None
    if Path(str(flavor.get("model_code_path", ""))).name != MODEL_CODE.name or not code.is_dir():
        return None
    if {"gbm", "features_params"} - set(artifacts) or not all(p.exists() for p in artifacts.values()):
        return None
    if shipped_files(code) != shipped_files(PACKAGE_DIR):
        return None
    return {name: str(p) for name, p in artifacts.items()}


def pip_requirements(with_encoder: bool = False) -> list[str]:
    """Explicit, pinned to what trained the model: inference by MLflow is slow and drags in CUDA torch."""
    from importlib.metadata import version

    names = ["mlflow", "lightgbm", "duckdb", "pyarrow", "pandas", "numpy", "scikit-learn", "scipy", "pydantic", "pyyaml",
             "opencc", "confusable-homoglyphs"]
    if with_encoder:
        names += ["torch", "transformers", "tokenizers", "safetensors", "onnxruntime"]
    # torch's local version (+cpu) is not on the public index; pin the release.
    return [f"{n}=={version(n).split('+')[0]}" for n in names]


def example_input(frame: pd.DataFrame, n_accounts: int = 2, max_rows: int = 6) -> pd.DataFrame:
    users = frame["userid"].drop_duplicates().head(n_accounts)
    return frame[frame["userid"].isin(users)].head(max_rows).reset_index(drop=True)


def model_kwargs(gbm_dir: Path, features: FeaturesParams, example: pd.DataFrame, workdir: Path,
                 encoder_dir: Path | None = None, encoder_params=None, ensemble_dir: Path | None = None) -> dict:
    """Arguments shared by save_model and log_model, so the folder and the logged model match.

    With an encoder and an ensemble, the model stacks them; without, it is LightGBM alone.
    """
    from mlflow.models import ModelSignature

    from pipeline.serving import input_schema, output_schema

    params_json = workdir / "features_params.json"
    params_json.write_text(features.model_dump_json(indent=2), encoding="utf-8")
    artifacts = {"gbm": str(gbm_dir), "features_params": str(params_json)}
    with_encoder = encoder_dir is not None and ensemble_dir is not None and (ensemble_dir / "meta.json").exists()
    if with_encoder:
        enc_json = workdir / "encoder_params.json"
        enc_json.write_text(encoder_params.model_dump_json(indent=2), encoding="utf-8")
        artifacts.update({"encoder": str(encoder_dir), "encoder_params": str(enc_json), "ensemble": str(ensemble_dir)})
    return {
        "python_model": str(MODEL_CODE),
        "artifacts": artifacts,
        "code_paths": [str(shipped_package(workdir))],
        "pip_requirements": pip_requirements(with_encoder),
        "signature": ModelSignature(inputs=input_schema(), outputs=output_schema()),
        "input_example": example,
    }


def save_model_folder(gbm_dir: Path, features: FeaturesParams, example: pd.DataFrame, out_dir: Path,
                      **members) -> Path:
    """Write the MLflow model folder atomically (build beside it, then swap in)."""
    import mlflow.pyfunc

    if not (gbm_dir / "model.txt").exists():
        raise InputError(f"{gbm_dir} holds no trained model; run the train_gbm stage first.")
    with tempfile.TemporaryDirectory() as work, staged_dir(out_dir, create=False) as staged:
        mlflow.pyfunc.save_model(path=str(staged), **model_kwargs(gbm_dir, features, example, Path(work), **members))
    return out_dir


def champion_metric(client, name: str, metric: str) -> float | None:
    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        return None
    run = client.get_run(mv.run_id)
    return run.data.metrics.get(metric)


@dataclass(frozen=True)
class RunFiles:
    """The files one pipeline run logs beside its model."""

    interim: Path
    gbm: Path
    metrics: Path
    predictions: Path
    plots: Path
    params_file: Path
    encoder: Path | None = None
    ensemble: Path | None = None


def log_and_register(params: Params, files: RunFiles, example: pd.DataFrame, roster: pd.DataFrame,
                     workspace: Path) -> str:
    """Log the pipeline's one MLflow run (params, metrics, predictions, plots, nested runs per
    model, the model), register the model, and move the champion alias by the register rule."""
    import json

    from pipeline import tracking

    metrics = json.loads(files.metrics.read_text(encoding="utf-8"))
    flat = {tracking.metric_key(k): float(v) for k, v in tracking.flatten(metrics).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}
    predictions = pd.read_parquet(files.predictions)
    meta = json.loads((files.gbm / "meta.json").read_text(encoding="utf-8"))
    tracking.setup(params.tracking, tracking.repo_root(workspace))
    import mlflow
    import mlflow.data
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    name = params.tracking.registered_model
    rule = params.register_
    previous = champion_metric(client, name, rule.metric)
    members = {"encoder_dir": files.encoder, "encoder_params": params.encoder, "ensemble_dir": files.ensemble}
    with mlflow.start_run(run_name=tracking.run_name(workspace), tags=tracking.run_tags(workspace)) as run:
        mlflow.log_params({k: str(v)[:500] for k, v in tracking.flatten(params.model_dump(exclude={"data"}, by_alias=True)).items()})
        mlflow.log_param("data.dumps", json.dumps([d.model_dump() for d in params.data.dumps])[:6000])
        mlflow.log_metrics(flat)
        mlflow.set_tag("statelink.primary_model", metrics.get("primary_model", "gbm"))
        mlflow.log_input(mlflow.data.from_pandas(roster, source=str(files.interim / "accounts.parquet"), name="accounts"),
                         context="training")
        mlflow.log_artifact(str(files.predictions), artifact_path="predictions")
        if rule.predictions_sample_rows:
            sample = predictions.sample(min(len(predictions), rule.predictions_sample_rows), random_state=0)
            mlflow.log_table(sample.reset_index(drop=True), artifact_file="predictions/sample.json")
        for plot in sorted(files.plots.glob("*.png")):
            mlflow.log_artifact(str(plot), artifact_path="plots")
        mlflow.log_artifact(str(files.metrics), artifact_path="metrics")
        mlflow.log_artifact(str(files.params_file), artifact_path="config")
        with mlflow.start_run(run_name="gbm", nested=True, tags={"statelink.model": "gbm"}):
            mlflow.log_params({f"gbm.{k}": v for k, v in params.train_gbm.model_dump().items() if k != "exclude_features"})
            mlflow.log_params({"gbm.n_features": len(meta["features"]), "gbm.num_trees": meta["num_trees"],
                               "gbm.threshold": round(meta["threshold"], 6)})
            mlflow.log_metrics({k: v for k, v in flat.items() if k.startswith(("holdout.", "oof."))})
            mlflow.log_artifact(str(files.gbm / "model.txt"), artifact_path="gbm")
            mlflow.log_artifact(str(files.gbm / "meta.json"), artifact_path="gbm")
        if files.encoder is not None and (files.encoder / "meta.json").exists():
            with mlflow.start_run(run_name="encoder", nested=True, tags={"statelink.model": "encoder"}):
                enc_meta = json.loads((files.encoder / "meta.json").read_text(encoding="utf-8"))
                mlflow.log_params({f"encoder.{k}": str(v)[:500] for k, v in params.encoder.model_dump().items()})
                mlflow.set_tag("encoder.device_used", str(enc_meta.get("device")))
                mlflow.log_metrics({k: v for k, v in flat.items() if k.startswith("models.encoder.")})
                mlflow.log_metrics({f"seconds.{k}": float(v) for k, v in enc_meta.get("seconds", {}).items()})
                mlflow.log_artifact(str(files.encoder / "meta.json"), artifact_path="encoder")
        if files.ensemble is not None and (files.ensemble / "meta.json").exists():
            with mlflow.start_run(run_name="ensemble", nested=True, tags={"statelink.model": "ensemble"}):
                mlflow.log_params({f"ensemble.{k}": v for k, v in params.ensemble.model_dump().items()})
                mlflow.log_metrics({k: v for k, v in flat.items() if k.startswith("models.ensemble.")})
                mlflow.log_artifact(str(files.ensemble / "meta.json"), artifact_path="ensemble")
        with tempfile.TemporaryDirectory() as tmp:
            info = mlflow.pyfunc.log_model(name="statelink", **model_kwargs(files.gbm, params.features, example, Path(tmp), **members))
        version = mlflow.register_model(info.model_uri, name)
        new = flat.get(tracking.metric_key(rule.metric))
        promote = new is not None and (previous is None or new >= previous + rule.min_improvement)
        if promote:
            client.set_registered_model_alias(name, "champion", version.version)
        mlflow.set_tag("statelink.champion", str(promote).lower())
        run_id = run.info.run_id
    verdict = "now champion" if promote else f"champion kept ({rule.metric} {previous:.4f} vs {new:.4f})"
    return f"MLflow run {run_id}; registered {name} v{version.version}, {verdict}"
