"""`statelink score`: every account of a dump scored, with reasons, bounded memory, resumable.

Steps, each leaving its result in a work folder beside the output so an interrupted run
resumes from what finished (`--resume`):
1. ingest the inputs (or take ingested Parquet tables as they are);
2. features for all accounts in DuckDB (coordination needs everyone scored together;
   DuckDB spills to disk past `memory_limit`, so the dump never sits in Python objects);
3. score accounts partition by partition (hash of userid), each partition written atomically;
4. compare the dump's features with the model's training reference (pipeline/drift.py);
5. concatenate the partitions into the output, atomically, and write `<out>.meta.json`
   beside it: what the probability is calibrated to, the drift check, the counts.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import duck
from pipeline.config import DriftParams, FeaturesParams, IngestParams
from pipeline.contract import OUTPUT_COLUMNS, TEXT_COLUMNS, arrow_schema
from pipeline.errors import ConfigError, InputError, StatelinkError
from pipeline.io import atomic_path, write_json
from pipeline.schema import ACCOUNTS_SCHEMA, TWEETS_SCHEMA, check_schema

SAFE_URI_SCHEMES = ("models:/", "runs:/")


@dataclass
class ScoreReport:
    accounts: int = 0
    flagged: int = 0
    no_tweets: int = 0
    tweets: int = 0
    quarantined: int = 0
    partitions: int = 0
    resumed_partitions: int = 0
    # Accounts the encoder scored (the rest kept LightGBM's score: the cascade); None: not counted (Spark).
    encoder_accounts: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    detail: dict[str, float] = field(default_factory=dict)
    out: Path | None = None
    drift: object = None  # pipeline.drift.DriftReport

    @property
    def warning(self) -> str | None:
        """What the CLI prints as a warning: the dump is out of the training distribution."""
        return self.drift.warning if self.drift is not None else None

    def summary(self, with_encoder: bool) -> str:
        """The one line the CLI prints after a run."""
        secs = sum(self.seconds.values())
        encoder = (f", {self.encoder_accounts:,} read by the text encoder"
                   if self.encoder_accounts is not None and with_encoder else "")
        resumed = (f" (resumed {self.resumed_partitions} of {self.partitions} partitions)"
                   if self.resumed_partitions else "")
        drift = ""
        if self.drift is not None:
            d = self.drift
            drift = (f"; drift: {d.major} of {d.features} features shifted (PSI > threshold)"
                     + (", out of distribution" if d.out_of_distribution else "") if d.checked else f"; drift not checked: {d.reason}")
        return (f"scored {self.accounts:,} accounts ({self.tweets:,} tweets) in {secs:.1f} s: "
                f"{self.flagged:,} flagged at the operating point, {self.no_tweets:,} scored from profile only, "
                f"{self.quarantined:,} rows quarantined{encoder}{drift}; wrote {self.out}{resumed}")


@dataclass
class LoadedModel:
    bundle: object  # pipeline.serving.Bundle
    source: str

    @property
    def scorer(self):
        return self.bundle.scorer

    @property
    def features(self) -> FeaturesParams:
        return self.bundle.features


def load_model(model: str) -> LoadedModel:
    """A local MLflow model folder, or a `models:/` / `runs:/` URI in the configured store.

    Other URI schemes are refused: an MLflow model is code, so it is loaded only from the
    tracking store the user configured or a path the user names. A local folder whose code
    copy is this package's own is loaded without importing MLflow (`package.local_artifacts`).
    """
    path = Path(model)
    if path.exists():
        if not (path / "MLmodel").exists():
            raise InputError(f"{path} is not an MLflow model folder (no MLmodel file); run `dvc repro` to build models/statelink.")
        from pipeline.package import local_artifacts

        artifacts = local_artifacts(path)
        if artifacts is not None:
            from pipeline.serving import load_bundle

            try:
                return LoadedModel(load_bundle(artifacts), str(path))
            except StatelinkError:
                raise
            except Exception as exc:  # a damaged artefact: one sentence, as MLflow's path says it
                raise InputError(f"could not load the model '{model}': {exc}") from exc
        uri = str(path)
    elif model.startswith(SAFE_URI_SCHEMES):
        uri = model
    else:
        raise ConfigError(
            f"model '{model}' is neither a local MLflow model folder nor a models:/ or runs:/ URI of the configured tracking store."
        )
    import warnings

    import mlflow.pyfunc

    try:
        # MLflow's advice on type hints is for whoever logs a model, not for the analyst loading
        # one. It sets its own warning filters inside, so the warnings are caught and the others
        # passed on.
        with warnings.catch_warnings(record=True) as caught:
            loaded = mlflow.pyfunc.load_model(uri)
        for w in caught:
            if "Add type hints to the `predict` method" not in str(w.message):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    except Exception as exc:  # MLflow raises many types; the user needs one sentence
        raise InputError(f"could not load the model '{model}': {exc}") from exc
    inner = loaded.unwrap_python_model()
    if not hasattr(inner, "bundle"):
        raise InputError(f"'{model}' is not a statelink model.")
    return LoadedModel(inner.bundle, uri)


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Refuse a second scoring run on the same output path instead of corrupting it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lock_path = out.parent / f".{out.name}.lock"
    with open(lock_path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StatelinkError(f"another statelink run is writing {out}; wait for it or choose another --out.") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    lock_path.unlink(missing_ok=True)


def formula_safe_sql(col: str) -> str:
    """A text cell a spreadsheet would run as a formula gets a leading quote (CSV injection)."""
    return f"CASE WHEN regexp_matches({col}, '^[=+\\-@\\t\\r]') THEN '''' || {col} ELSE {col} END AS {col}"


def _ingested_tables(path: Path) -> bool:
    return path.is_dir() and (path / "accounts.parquet").exists() and (path / "tweets.parquet").exists()


def _progress(total: int, enabled: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TextColumn("accounts"),
        TextColumn("{task.fields[rate]:>8} accounts/s"), TimeRemainingColumn(), disable=not enabled, transient=True,
    )


ENGINES = ("local", "spark")


def score_dump(
    inputs: list[str], model: LoadedModel, out: Path, *, partitions: int = 8, memory_limit: str = "4GB",
    resume: bool = False, progress: bool = True, ingest: IngestParams | None = None,
    engine: str = "local", spark_master: str | None = None, cascade: tuple[float, float] | None = None,
    drift: DriftParams | None = None, network: Path | None = None, evidence_items: int = 10,
) -> ScoreReport:
    """Score every account of the dump; `engine` "spark" computes features and scores with Spark
    (pipeline/spark_engine.py), with the same results. Ingest and the final write are shared."""
    if partitions < 1:
        raise ConfigError("--partitions must be at least 1.")
    if engine not in ENGINES:
        raise ConfigError(f"--engine must be one of {', '.join(ENGINES)}, not '{engine}'.")
    if spark_master and engine != "spark":
        raise ConfigError("--spark-master needs --engine spark.")
    if engine == "spark":
        from pipeline.spark_engine import require_pyspark

        require_pyspark()
    out = Path(out)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise ConfigError(f"--out {out} must end in .parquet or .csv.")
    report = ScoreReport(out=out)
    work = out.parent / f".{out.name}.work"
    with output_lock(out):
        if work.exists() and not resume:
            shutil.rmtree(work)
        work.mkdir(parents=True, exist_ok=True)
        interim = _stage_ingest(inputs, work, resume, ingest or IngestParams(), report, progress)
        # With --network, either engine fills `net` with the network's tables as it computes the features.
        net: dict = {}
        if engine == "spark":
            from pipeline.spark_engine import score_spark

            report.partitions = partitions
            report.seconds.update(score_spark(interim, work, model, partitions=partitions, memory_limit=memory_limit,
                                              master=spark_master, resume=resume, band=cascade,
                                              network=(net, evidence_items) if network is not None else None))
        else:
            feats = _stage_features(interim, work, model, resume, memory_limit, report,
                                    (net, evidence_items) if network is not None else None)
            _stage_partitions(feats, interim, work, model, partitions, resume, progress, memory_limit, report, cascade)
        features = work / "features.parquet" if engine == "local" else work / "features" / "*.parquet"
        report.drift = dump_drift(f"read_parquet('{features}')", model.bundle, drift or DriftParams())
        concat_parts(work, out, report)
        if network is not None:
            _write_network(net, out, network, work, model, interim, memory_limit, evidence_items)
        write_json(meta_path(out), output_meta(report, model))
        shutil.rmtree(work, ignore_errors=True)
    return report


def meta_path(out: Path) -> Path:
    """The metadata written beside a scores file: `<out>.meta.json`."""
    return out.with_name(out.name + ".meta.json")


def dump_drift(features_sql: str, bundle, params: DriftParams):
    """The drift check (pipeline/drift.py) of a feature table, on a reservoir sample of at most
    `params.sample_rows` accounts (deciles need no more; the table may not fit in memory)."""
    from pipeline import drift

    ref = bundle.scorer.reference
    con = duck.connect()
    try:
        total = con.execute(f"SELECT COUNT(*) FROM {features_sql}").fetchone()[0]
        cols = ", ".join(f'"{f}"' for f in (ref or {}).get("features", {}))
        frame = (con.execute(f"SELECT {cols} FROM {features_sql} USING SAMPLE reservoir({int(params.sample_rows)} ROWS) "
                             "REPEATABLE (7)").df() if cols and total else None)
    finally:
        con.close()
    import pandas as pd

    report = drift.check(ref, frame if frame is not None else pd.DataFrame(index=range(total)),
                         params.major_psi, params.max_major_share, params.min_accounts)
    report.accounts = int(total)
    return report


def _lowest_campaign(cal: dict, fmt) -> str:
    """" (lowest in one campaign: 90%, strait_2023)" where the record has the label's precision per campaign."""
    by = cal.get("precision_at_threshold_by_campaign") or {}
    if not by:
        return ""
    worst = min(by, key=by.get)
    return f" (lowest in one campaign: {fmt(by[worst])}, {worst})"


def output_meta(report: ScoreReport, model: LoadedModel) -> dict:
    """`<out>.meta.json`: how to read the scores file."""
    bundle = model.bundle
    cal = bundle.calibrated_on or {}
    meaning = None
    if cal.get("prevalence") is not None:
        pct = (lambda v: "unknown" if v is None else f"{v:.0%}")
        meaning = (f"score is a probability calibrated on {cal['fit']} predictions over {', '.join(cal['campaigns'])}, "
                   f"where {cal['prevalence']:.0%} of accounts were state-linked; a dump with another base rate shifts it. "
                   f"At the threshold the label's precision was {pct(cal.get('precision_at_threshold'))} there"
                   f"{_lowest_campaign(cal, pct)}, and would be "
                   f"{pct(cal.get('precision_at_low_prevalence'))} where {cal['low_prevalence']:.0%} of accounts are state-linked.")
    return {
        "model": model.source,
        "threshold": bundle.threshold,
        "calibration": cal | ({"meaning": meaning} if meaning else {}),
        "drift": report.drift.to_dict() if report.drift is not None else None,
        "accounts": report.accounts, "flagged": report.flagged, "no_tweets": report.no_tweets,
        "tweets": report.tweets, "quarantined": report.quarantined,
        "encoder_accounts": report.encoder_accounts,
    }


def _stage_ingest(inputs, work: Path, resume: bool, params: IngestParams, report: ScoreReport, progress: bool) -> Path:
    from pipeline.ingest import ingest_dumps

    t0 = time.perf_counter()
    if len(inputs) == 1 and _ingested_tables(Path(inputs[0])):
        interim = Path(inputs[0])
        check_schema(interim / "accounts.parquet", ACCOUNTS_SCHEMA)
        check_schema(interim / "tweets.parquet", TWEETS_SCHEMA)
    else:
        interim = work / "interim"
        if not (resume and (interim / "ingest_report.json").exists()):
            ingest_dumps([(p, None, None) for p in inputs], interim, params, progress=progress)
        rep = json.loads((interim / "ingest_report.json").read_text(encoding="utf-8"))
        report.quarantined = int(rep.get("quarantined", 0))
    report.seconds["ingest"] = round(time.perf_counter() - t0, 2)
    report.tweets = pq.ParquetFile(interim / "tweets.parquet").metadata.num_rows
    if pq.ParquetFile(interim / "accounts.parquet").metadata.num_rows == 0:
        raise InputError(f"the dump {' '.join(inputs)} holds no accounts; nothing to score.")
    return interim


def _write_network(net: dict, out: Path, folder: Path, work: Path, model: LoadedModel, interim: Path,
                   memory_limit: str, evidence_items: int) -> None:
    """`--network`: the dump's coordination network, its nodes and clusters with the scores."""
    from pipeline.network import interim_network, read_scores, with_scores, write_network

    # Resumed past the local engine's features step: the ties are computed again from the
    # ingested tables (the Spark engine always fills `net`).
    tables = net if "edges" in net else interim_network(interim, model.features, evidence_items, work, memory_limit)
    write_network(with_scores(tables, read_scores(out)), folder)


def _stage_features(interim: Path, work: Path, model: LoadedModel, resume: bool, memory_limit: str, report: ScoreReport,
                    network: tuple[dict, int] | None = None) -> Path:
    """Features of every account (`work/features.parquet`); with `network` ((tables, evidence
    items)), the coordination network's tables from the same connection, into tables."""
    from pipeline.features.build import build_features
    from pipeline.sql import parquet_source

    t0 = time.perf_counter()
    feats = work / "features.parquet"
    if not (resume and feats.exists()):
        from pipeline.features.tables import connect

        # A file-backed database in the work folder: the working tables spill past the limit.
        with connect(memory_limit, spill_dir=work / "duckdb") as con:
            # Scoring population: everything scored together, whatever campaigns it holds.
            con.execute(f"CREATE VIEW acc_src AS SELECT * REPLACE (NULL::VARCHAR AS campaign) FROM {parquet_source(interim / 'accounts.parquet')}")
            table = build_features(con, "acc_src", parquet_source(interim / "tweets.parquet"), model.features,
                                   item_times=network is not None)
            if network is not None:
                from pipeline.network import network_tables

                network[0].update(network_tables(con, model.features.coordination, network[1]))
        with atomic_path(feats) as tmp:
            pq.write_table(table, tmp)
    report.seconds["features"] = round(time.perf_counter() - t0, 2)
    return feats


def _stage_partitions(feats: Path, interim: Path, work: Path, model: LoadedModel, n: int, resume: bool, progress: bool,
                      memory_limit: str, report: ScoreReport, band: tuple[float, float] | None = None) -> None:
    from pipeline.serving import documents_for, score_features

    docs = documents_for(interim / "tweets.parquet", model.bundle)
    t0 = time.perf_counter()
    parts = work / "parts"
    parts.mkdir(exist_ok=True)
    con = duck.connect(config={"memory_limit": memory_limit, "threads": duck.available_cores()})
    total = con.execute(f"SELECT COUNT(*) FROM read_parquet('{feats}')").fetchone()[0]
    report.partitions = n
    report.encoder_accounts = 0
    inner: dict[str, float] = {}
    done_accounts = 0
    with _progress(total, progress) as bar:
        task = bar.add_task("score", total=total, rate="-")
        for k in range(n):
            target = parts / f"part-{k:05d}.parquet"
            stats_path = target.with_suffix(".json")
            if resume and target.exists():
                report.resumed_partitions += 1
                rows = pq.ParquetFile(target).metadata.num_rows
                stats = json.loads(stats_path.read_text(encoding="utf-8")) if stats_path.exists() else {}
            else:
                frame = con.execute(
                    f"SELECT * FROM read_parquet('{feats}') WHERE hash(userid) % {n} = {k} ORDER BY userid"
                ).df()
                stats = {}
                table = (pa.Table.from_pandas(score_features(frame, model.bundle, docs, band, stats),
                                              schema=arrow_schema(), preserve_index=False)
                         if len(frame) else arrow_schema().empty_table())
                write_json(stats_path, stats)  # before the part: a finished part always has its stats
                with atomic_path(target) as tmp:
                    pq.write_table(table, tmp)
                rows = table.num_rows
            report.encoder_accounts += int(stats.get("encoder_accounts", 0))
            for key in ("seconds_gbm", "seconds_documents", "seconds_encoder"):
                inner[key] = inner.get(key, 0.0) + float(stats.get(key, 0.0))
            done_accounts += rows
            rate = done_accounts / max(time.perf_counter() - t0, 1e-9)
            bar.update(task, advance=rows, rate=f"{rate:,.0f}")
    con.close()
    report.seconds["score"] = round(time.perf_counter() - t0, 2)
    # Where the scoring time went (inside "score"; resumed parts count their first run).
    report.detail = {k.replace("seconds_", "score_") + "_s": round(v, 2) for k, v in inner.items()}


def concat_parts(work: Path, out: Path, report: ScoreReport) -> None:
    """The scored parts under `<work>/parts/` (either engine's) into `out`: sorted by score,
    most suspicious first; written by DuckDB straight to a temp file."""
    t0 = time.perf_counter()
    con = duck.connect()
    src = f"read_parquet('{work}/parts/part-*.parquet')"
    report.accounts, report.flagged, report.no_tweets = con.execute(
        f"SELECT COUNT(*), COUNT(*) FILTER (label = 'state_linked'), COUNT(*) FILTER (no_tweets) FROM {src}"
    ).fetchone()
    csv = out.suffix.lower() == ".csv"
    cols = ", ".join(formula_safe_sql(c) if csv and c in TEXT_COLUMNS else c for c in OUTPUT_COLUMNS)
    with atomic_path(out) as tmp:
        fmt = "(FORMAT csv, HEADER true)" if csv else "(FORMAT parquet)"
        con.execute(f"COPY (SELECT {cols} FROM {src} ORDER BY score DESC, userid) TO '{tmp}' {fmt}")
    con.close()
    report.seconds["write"] = round(time.perf_counter() - t0, 2)
