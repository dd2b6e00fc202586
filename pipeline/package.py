"""Package the trained parts into one MLflow pyfunc model, log the run, register the model."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from pipeline.config import FeaturesParams
from pipeline.errors import InputError

PACKAGE_DIR = Path(__file__).resolve().parent
MODEL_CODE = PACKAGE_DIR / "statelink_model.py"


def pip_requirements(with_encoder: bool = False) -> list[str]:
    """Explicit, pinned to what trained the model: inference by MLflow is slow and drags in CUDA torch."""
    from importlib.metadata import version

    names = ["mlflow", "lightgbm", "duckdb", "pyarrow", "pandas", "numpy", "scikit-learn", "scipy", "pydantic", "pyyaml"]
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
        "code_paths": [str(PACKAGE_DIR)],
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
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=f".{out_dir.name}.") as tmp:
        tmp = Path(tmp)
        staged = tmp / "model"
        mlflow.pyfunc.save_model(path=str(staged), **model_kwargs(gbm_dir, features, example, tmp, **members))
        old = tmp / "old"
        if out_dir.exists():
            out_dir.rename(old)
        staged.rename(out_dir)
    return out_dir


def champion_metric(client, name: str, metric: str) -> float | None:
    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        return None
    run = client.get_run(mv.run_id)
    return run.data.metrics.get(metric)
