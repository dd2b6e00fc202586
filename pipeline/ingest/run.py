"""One ingest run: discover every dump's files, read each into the sink, and write the four
outputs all or nothing."""

from __future__ import annotations

import contextlib
import csv
import gzip
import json
import time
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from pipeline.config import DumpSpec, IngestParams
from pipeline.errors import ConfigError, InputError
from pipeline.ingest.csvfile import read_csv
from pipeline.ingest.decode import refuse_wrong_encoding, utf8_stream
from pipeline.ingest.discover import (
    JSON_EXT,
    Source,
    SplitHeaders,
    discover,
    ext_of,
    file_source,
    zip_sources,
)
from pipeline.ingest.jsonl import read_jsonl
from pipeline.ingest.sink import Dump, FileReport, Sink, output_error
from pipeline.io import atomic_path
from pipeline.schema import LABELS, QUARANTINE_COLUMNS, TWEETS_SCHEMA


@dataclass
class IngestReport:
    files: list[FileReport]
    accounts: int
    tweets: int
    quarantined: int
    out_dir: Path
    skipped: list[str] = field(default_factory=list)  # 'path (why)' for files not read
    warnings: list[str] = field(default_factory=list)
    accounts_from_users_files: int = 0
    accounts_rebuilt_from_tweets: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["out_dir"] = str(self.out_dir)
        d["tweet_rows_per_second"] = round(self.tweets / self.seconds) if self.seconds > 0 else None
        return d


def ingest_dumps(
    dumps: Iterable[DumpSpec | tuple[str, str | None, str | None] | str],
    out_dir: Path | str,
    params: IngestParams = IngestParams(),
    progress: bool = False,
) -> IngestReport:
    """Read every dump and write accounts.parquet, tweets.parquet, quarantine.csv and
    ingest_report.json into `out_dir`, all or nothing.

    A dump is a DumpSpec, a (path, campaign, label) tuple, or a bare path (unlabelled:
    campaign and label None).
    """
    started = time.perf_counter()
    specs = [_as_dump(d) for d in dumps]
    if not specs:
        raise ConfigError("No dumps to ingest; give at least one dump path.")
    out_dir = Path(out_dir)
    # Discover everything first, so a bad path fails before any work is done.
    plan = [(dump, *discover(dump.path)) for dump in specs]

    shown = _Progress(progress, files=sum(len(files) for _dump, files, _skipped in plan))
    try:
        with contextlib.ExitStack() as stack:
            # Renames happen in reverse order of entry: the report appears last, so its
            # presence means the other three files are complete and from the same run.
            report_tmp = stack.enter_context(atomic_path(out_dir / "ingest_report.json"))
            accounts_tmp = stack.enter_context(atomic_path(out_dir / "accounts.parquet"))
            tweets_tmp = stack.enter_context(atomic_path(out_dir / "tweets.parquet"))
            quarantine_tmp = stack.enter_context(atomic_path(out_dir / "quarantine.csv"))

            with shown:
                sink = _read_all(plan, quarantine_tmp, tweets_tmp, out_dir, params, shown)
            accounts = sink.build_accounts()
            pq.write_table(accounts, accounts_tmp, compression="zstd")
            report = IngestReport(
                files=sink.file_reports,
                accounts=accounts.num_rows,
                tweets=sink.tweets_written,
                quarantined=sink.quarantined,
                out_dir=out_dir,
                skipped=sink.skipped,
                warnings=sink.warnings,
                accounts_from_users_files=sink.n_from_users,
                accounts_rebuilt_from_tweets=accounts.num_rows - sink.n_from_users,
                seconds=round(time.perf_counter() - started, 3),
            )
            report_tmp.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            # Everything is written; the renames follow. Drop a previous run's report first, so
            # that a rename failing part-way leaves no report vouching for a mixed set of files.
            (out_dir / "ingest_report.json").unlink(missing_ok=True)
    except OSError as exc:  # reads raise InputError; what is left is writing the outputs
        raise output_error(exc, out_dir) from exc
    shown.say(
        f"ingest: {report.accounts} accounts, {report.tweets} tweets, {report.quarantined} rows "
        f"quarantined -> {out_dir}"
    )
    return report


def _as_dump(d: Any) -> Dump:
    if isinstance(d, DumpSpec):
        return Dump(d.path, d.campaign, d.label)
    if isinstance(d, (str, Path)):
        return Dump(str(d), None, None)
    if isinstance(d, tuple) and len(d) == 3:
        path, campaign, label = d
        if label is not None and label not in LABELS:
            raise ConfigError(f"Dump {path}: label '{label}' is not one of {', '.join(LABELS)}.")
        return Dump(str(path), campaign, label)
    raise ConfigError(f"Dump {d!r} is not a DumpSpec, a path or a (path, campaign, label) tuple.")


class _Progress:
    """What a run shows on stderr when asked to: a line per file read, the tweets written so
    far and a last summary line. Counts and file names only, never row content."""

    def __init__(self, enabled: bool, files: int) -> None:
        console = Console(stderr=True)
        self._enabled = enabled
        # A bar over the files found, where it can be redrawn; a log gets the counts as lines.
        self._live = enabled and console.is_terminal
        self._bar = Progress(
            TextColumn("ingest"), BarColumn(), MofNCompleteColumn(), TextColumn("files,"),
            TextColumn("{task.fields[tweets]} tweets written"), TimeElapsedColumn(),
            console=console, disable=not self._live, transient=True,
        )
        self._task = self._bar.add_task("ingest", total=files, tweets=0)

    def __enter__(self) -> Self:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def say(self, line: str) -> None:
        if self._enabled:
            # File names may hold '[': no markup; long ones stay on one line in a log.
            self._bar.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def tweets_written(self, n: int) -> None:
        if self._live:
            self._bar.update(self._task, tweets=n)
        else:
            self.say(f"ingest: {n} tweets written")

    def file_done(self) -> None:
        self._bar.advance(self._task)


def _read_all(
    plan: list[tuple[Dump, list[tuple[Path, str]], list[str]]],
    quarantine_path: Path,
    tweets_path: Path,
    out_dir: Path,
    params: IngestParams,
    shown: _Progress,
) -> Sink:
    with open(quarantine_path, "w", encoding="utf-8", errors="backslashreplace", newline="") as qfh:
        quarantine_writer = csv.writer(qfh)
        quarantine_writer.writerow(QUARANTINE_COLUMNS)
        tweets_writer = pq.ParquetWriter(tweets_path, TWEETS_SCHEMA, compression="zstd")
        try:
            sink = Sink(quarantine_writer, tweets_writer, out_dir, params.batch_rows, on_flush=shown.tweets_written)
            headers = SplitHeaders()
            for dump, files, skipped in plan:
                sink.skipped.extend(skipped)
                for path, kind in files:
                    if kind == "zip":
                        _read_zip(sink, dump, path, params, headers, shown)
                    else:
                        _read_source(sink, dump, file_source(path, kind), params, headers, shown)
                    shown.file_done()
            sink.flush_tweets()  # the last, partial batch
        finally:
            tweets_writer.close()
    return sink


def _read_zip(sink: Sink, dump: Dump, path: Path, params: IngestParams, headers: SplitHeaders, shown: _Progress) -> None:
    read_any = False
    with contextlib.closing(zip_sources(path, sink.skipped)) as members:
        for source in members:
            _read_source(sink, dump, source, params, headers, shown)
            read_any = True
    if not read_any:
        sink.warnings.append(f"{path} holds no users or tweets files.")


def _read_source(
    sink: Sink, dump: Dump, source: Source, params: IngestParams, headers: SplitHeaders, shown: _Progress
) -> None:
    label = source.label
    out = sink.file(dump, label, source.kind)
    try:
        with source.open() as raw_fh:
            fh, encoding = utf8_stream(raw_fh)
            if encoding:
                out.warn(f"{label} is {encoding.upper()} (byte-order mark); decoded it.")
            if ext_of(source.name) in JSON_EXT:
                read_jsonl(fh, out, source.kind, params.max_field_chars)
            else:
                read_csv(fh, out, source.kind, params.max_field_chars, headers)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise InputError(f"{label} is not a valid gzip stream or is truncated ({exc}).") from exc
    except zipfile.BadZipFile as exc:
        raise InputError(f"{label} is a corrupt zip member ({exc}).") from exc
    except OSError as exc:
        raise InputError(f"{label} cannot be read: {exc}.") from exc
    report = out.report
    refuse_wrong_encoding(label, out.bad_utf8, report.rows_read + report.rows_quarantined)
    sink.file_reports.append(report)
    repeated = f", {report.header_rows} repeated header rows skipped" if report.header_rows else ""
    shown.say(f"ingest: {label}: {report.rows_read} rows read, {report.rows_quarantined} quarantined{repeated}")
