"""Every DuckDB connection the package opens: with the text functions its SQL calls.

The feature SQL reads canonical text through `canon()` and `canon_match()`
(pipeline/canon.py), Python functions registered on each connection. Opening connections
here, and only here, is what lets the local engine, scoring, the MLflow model and every
Spark partition run the same SQL.
"""

from __future__ import annotations

import duckdb

from pipeline import canon


def connect(database: str = ":memory:", config: dict | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(database, config=config or {})
    canon.register(con)
    return con
