"""Every DuckDB connection the package opens: with the text functions its SQL calls.

The feature SQL reads canonical text through `canon()` and `canon_match()`
(pipeline/canon.py), Python functions registered on each connection. Opening connections
here, and only here, is what lets the local engine, scoring, the MLflow model and every
Spark partition run the same SQL.
"""

from __future__ import annotations

import os

import duckdb

from pipeline import canon

THREADS_ENV = "STATELINK_THREADS"


def available_cores() -> int:
    """Threads scoring may use: every core this process may run on (its CPU affinity, which
    containers and `taskset` narrow), or `STATELINK_THREADS` where set (a shared machine).
    Scores never depend on it: DuckDB's sums are rounded (`features.build.to_float`) and the
    encoder's fast path scores each document alone."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if raw:
        try:
            n = int(raw)
        except ValueError:
            from pipeline.errors import ConfigError

            raise ConfigError(f"{THREADS_ENV}={raw!r} is not a whole number of threads.") from None
        if n < 1:
            from pipeline.errors import ConfigError

            raise ConfigError(f"{THREADS_ENV} must be at least 1, not {n}.")
        return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def connect(database: str = ":memory:", config: dict | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(database, config=config or {})
    canon.register(con)
    return con
