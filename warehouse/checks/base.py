"""What every data-quality check returns, and the helpers the checks share.

A check is a plain function: a DuckDB connection and its thresholds in, a `CheckOutcome` out.
Dagster (pipelines/defs/checks/) only turns outcomes into asset-check results, so each check can
be run and tested without it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

# Failing rows kept in an outcome (and shown in the Dagster UI); the count covers them all.
MAX_ROWS = 20


@dataclass
class CheckOutcome:
    """The result of one check: did it pass, which rows failed (the first MAX_ROWS) and counts."""

    name: str
    passed: bool
    summary: str  # one line, e.g. "2 duplicated keys, 1 inverted high/low"
    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)  # the first MAX_ROWS failing rows
    failing: int = 0  # how many rows (or keys, runs, ...) failed in all
    counts: dict[str, Any] = field(default_factory=dict)  # further numbers for the metadata
    # When a check can fail in a milder way (e.g. the reference is only behind the data):
    # 'error' or 'warn'. None means the check's own severity.
    severity: str | None = None

    def records(self) -> list[dict]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def column(self, name: str) -> list:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]


def failing_rows(
    conn: duckdb.DuckDBPyConnection,
    sql: str,
    params: Sequence | None = None,
    *,
    order_by: str,
    limit: int = MAX_ROWS,
) -> tuple[int, list[str], list[tuple]]:
    """(how many rows `sql` returns, its column names, its first `limit` rows by `order_by`)."""
    params = list(params or [])
    total = conn.execute(f"select count(*) from ({sql}) as _all", params).fetchall()[0][0]
    cursor = conn.execute(
        f"select * from ({sql}) as _all order by {order_by} limit {int(limit)}", params
    )
    columns = [d[0] for d in cursor.description]
    return int(total), columns, cursor.fetchall()


def table_exists(conn: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, name = relation.split(".", 1)
    return bool(
        conn.execute(
            "select count(*) from duckdb_tables() where schema_name = ? and table_name = ? "
            "and database_name = current_database()",
            [schema, name],
        ).fetchall()[0][0]
        or conn.execute(
            "select count(*) from duckdb_views() where schema_name = ? and view_name = ? "
            "and database_name = current_database()",
            [schema, name],
        ).fetchall()[0][0]
    )


def missing_table(name: str, relation: str) -> CheckOutcome:
    return CheckOutcome(name, False, f"{relation} does not exist: load it first", failing=0)


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def sql_literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"not a finite number: {value}")
        return repr(value)
    if isinstance(value, dt.date):
        return f"date '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def markdown_table(
    columns: Sequence[str], rows: Sequence[Sequence], total: int | None = None
) -> str:
    """The rows as a markdown table, with a line saying how many more there were."""
    if not rows:
        return "_no failing rows_"

    def cell(v: Any) -> str:
        if v is None:
            return "NULL"
        if isinstance(v, float):
            return f"{v:.6g}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    if total is not None and total > len(rows):
        lines.append(f"\n_first {len(rows)} of {total} shown_")
    return "\n".join(lines)
