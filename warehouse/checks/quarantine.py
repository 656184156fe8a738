"""Rows a load refused (core.quarantine): shown so the refusal is seen, not only counted."""

from __future__ import annotations

import duckdb

from warehouse.checks.base import CheckOutcome, failing_rows, missing_table, plural, table_exists

TABLE = "core.quarantine"


def quarantined(
    conn: duckdb.DuckDBPyConnection, *, target_table: str, run_id: str | None
) -> CheckOutcome:
    """No row meant for `target_table` was quarantined by the load of run `run_id`."""
    name = "no_rows_quarantined"
    if run_id is None:
        return CheckOutcome(name, True, f"{target_table} has not been loaded yet")
    if not table_exists(conn, TABLE):
        return missing_table(name, TABLE)
    sql = (
        f"select key, reason, origin, payload, source, run_id, quarantined_at from {TABLE} "
        "where target_table = ? and run_id = ?"
    )
    total, columns, rows = failing_rows(conn, sql, [target_table, run_id], order_by="key, reason")
    reasons = dict(
        conn.execute(
            f"select reason, count(*) from {TABLE} where target_table = ? and run_id = ? "
            "group by 1 order by 1",
            [target_table, run_id],
        ).fetchall()
    )
    summary = (
        f"the load of run {run_id} kept every row"
        if not total
        else f"the load of run {run_id} quarantined {plural(total, 'row')} meant for {target_table}"
    )
    return CheckOutcome(
        name,
        total == 0,
        summary,
        columns,
        rows,
        total,
        {"load_run_id": run_id, "quarantine_reasons": {str(k): int(v) for k, v in reasons.items()}},
    )
