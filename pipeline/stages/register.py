"""The `register` stage: the MLflow model folder, the pipeline's one MLflow run, the registered model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.config import Params
from pipeline.package import RunFiles, example_input, log_and_register, save_model_folder
from pipeline.serving import model_input


@dataclass(frozen=True)
class Paths:
    files: RunFiles  # what the run logs: ingested tables, models, metrics, predictions, plots, params.yaml
    out: Path  # models/statelink, the MLflow pyfunc folder


def run(params: Params, paths: Paths) -> str:
    files = paths.files
    accounts = pq.read_table(files.interim / "accounts.parquet")
    first = accounts.slice(0, 2)
    tweets = pq.read_table(files.interim / "tweets.parquet", filters=[("userid", "in", first.column("userid").to_pylist())])
    example = example_input(model_input(first, tweets))
    save_model_folder(files.gbm, params.features, example, paths.out, encoder_dir=files.encoder,
                      encoder_params=params.encoder, ensemble_dir=files.ensemble)
    roster = accounts.select(["userid", "campaign", "label"]).to_pandas()
    # The workspace being run: a temp clone for queued `dvc exp run`s, which log to the main store.
    workspace = files.params_file.resolve().parent
    logged = log_and_register(params, files, example, roster, workspace)
    return f"wrote {paths.out}; {logged}\nopen the MLflow UI: statelink ui  (http://127.0.0.1:5000)"
