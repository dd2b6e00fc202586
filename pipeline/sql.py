"""SQL text helpers shared by every module that writes SQL (DuckDB and Spark SQL alike)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def literal(value: str) -> str:
    """A single-quoted SQL string literal; embedded quotes are doubled, as both engines expect."""
    return "'" + value.replace("'", "''") + "'"


def string_list(values: Iterable[str]) -> str:
    """A SQL list literal of strings: `['a', 'b']`."""
    return "[" + ", ".join(literal(v) for v in values) + "]"


def parquet_source(path: str | Path) -> str:
    """DuckDB's table function over one Parquet file or glob."""
    return "read_parquet(" + literal(str(path)) + ")"
