"""The score output's contract: its columns, in order, and their types, written once.

Every engine and format derives its declaration from `SCORE_COLUMNS`: the Parquet parts
and output (`arrow_schema`), the MLflow model's signature (`mlflow_schema`) and the
Spark engine's scoring UDF (`spark_ddl`), so the CLI, the pyfunc and Spark cannot drift.
"""

from __future__ import annotations

import pyarrow as pa

# name -> type, in output order. Types are named as MLflow's DataType names them.
SCORE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("userid", "string"),
    ("score", "double"),
    ("label", "string"),
    ("reasons", "string"),
    ("coord_cluster", "string"),
    ("n_tweets_seen", "long"),
    ("no_tweets", "boolean"),
)

OUTPUT_COLUMNS = [name for name, _ in SCORE_COLUMNS]
# Free-text columns: a spreadsheet could run them as formulas, so CSV output guards them.
TEXT_COLUMNS = tuple(name for name, kind in SCORE_COLUMNS if kind == "string")

_ARROW = {"string": pa.string(), "double": pa.float64(), "long": pa.int64(), "boolean": pa.bool_()}


def arrow_schema() -> pa.Schema:
    return pa.schema([(name, _ARROW[kind]) for name, kind in SCORE_COLUMNS])


def mlflow_schema():
    """The MLflow signature's output schema."""
    from mlflow.types import ColSpec, DataType, Schema

    return Schema([ColSpec(DataType[kind], name) for name, kind in SCORE_COLUMNS])


def spark_ddl() -> str:
    """The schema as a Spark DDL string (Spark's DDL reads these type names as they are)."""
    return ", ".join(f"{name} {kind}" for name, kind in SCORE_COLUMNS)
