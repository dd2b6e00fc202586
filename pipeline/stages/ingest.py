"""The `ingest` stage: archive dumps (CSV, gz, zip, parts, JSONL) into typed Parquet tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import DumpSpec, IngestParams
from pipeline.ingest import ingest_dumps


@dataclass(frozen=True)
class Paths:
    # params.yaml `data.dumps` (labelled), or (path, None, None) for unlabelled dumps.
    dumps: Sequence[DumpSpec | tuple[str, str | None, str | None]]
    out: Path  # accounts.parquet, tweets.parquet, quarantine.csv, ingest_report.json


def run(params: IngestParams, paths: Paths, *, progress: bool = True) -> str:
    report = ingest_dumps(paths.dumps, paths.out, params, progress=progress)
    lines = [f"{'file':<70} {'read':>9} {'quarantined':>12}"]
    for f in report.files:
        lines.append(f"{str(f.file)[-70:]:<70} {f.rows_read:>9} {f.rows_quarantined:>12}")
    lines.append(
        f"{report.accounts} accounts, {report.tweets} tweets, {report.quarantined} rows quarantined "
        f"(see {paths.out / 'quarantine.csv'})"
    )
    return "\n".join(lines)
