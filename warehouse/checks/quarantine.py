"""Rows a load refused (core.quarantine): shown so the refusal is seen, not only counted.

The policy: a row that fails a rule of its table is quarantined by the loader with its reason,
source, run and origin (file and line when the source gives them), and the rest of the batch
loads. So a refused row is a warning about the source, not a fault of the table: this check is
WARN. What is systemic (most of a ticker's batch refused, duplicate keys, an empty or shrunk table)
fails the table's blocking integrity check instead.
"""

from __future__ import annotations

import duckdb

from warehouse.checks.base import CheckOutcome, failing_rows, missing_table, plural, table_exists
from warehouse.load import BATCH_LOG

TABLE = "core.quarantine"


def quarantined(
    conn: duckdb.DuckDBPyConnection, *, target_table: str, run_id: str | None
) -> CheckOutcome:
    """No row meant for `target_table` was quarantined by the load of run `run_id`.

    A row refused again by a later load is not quarantined twice: it carries the run of the latest
    load that refused it, so it is shown for every load that still receives it. For a table whose
    loads are logged per ticker (meta.load_batches), the counts say how many of each ticker's rows
    that load refused."""
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
    counts = {"load_run_id": run_id, "quarantine_reasons": {str(k): int(v) for k, v in reasons.items()}}
    if total and table_exists(conn, BATCH_LOG):
        counts["refused_by_ticker"] = {
            str(part): f"{rejected} of {received}"
            for part, received, rejected in conn.execute(
                f"select part, received, rejected from {BATCH_LOG} where relation = ? and run_id = ? "
                "and part is not null and rejected > 0 order by part",
                [target_table, run_id],
            ).fetchall()
        }
    summary = (
        f"the load of run {run_id} kept every row"
        if not total
        else f"the load of run {run_id} quarantined {plural(total, 'row')} meant for {target_table}"
    )
    return CheckOutcome(name, total == 0, summary, columns, rows, total, counts)
