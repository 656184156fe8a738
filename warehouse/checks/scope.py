"""What a check of a core table has to look at after a load: the dates the load could have changed.

A check that judges rows from a date on (each adds its own look-back) can skip the history a load
did not touch; meta.changes (warehouse/changes.py) says from which date each write changed a table.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from warehouse.checks.base import table_exists

CHANGES = "meta.changes"


def latest_load_start(
    conn: duckdb.DuckDBPyConnection, run_id: str | None, relation: str = "core.prices_daily"
) -> dt.date | None:
    """The earliest date of `relation` written by run `run_id` or by any write recorded after its
    first one; None when the whole relation has to be checked: no run, no change recorded by it
    (a load that wrote nothing records none, so nothing proves what is new), or a write that could
    not say its dates (changed_from NULL)."""
    if run_id is None or not table_exists(conn, CHANGES):
        return None
    # Writes after the run's first one count too: a later load by hand (no Dagster
    # materialisation, so not the run the checks are told about) changes the table as well.
    found, whole, since = conn.execute(
        f"""
        with first_of_run as (
            select min(change_id) as first_id from {CHANGES} where relation = ? and run_id = ?
        )
        select count(*), count(*) filter (where changed_from is null), min(changed_from)
        from {CHANGES}, first_of_run
        where relation = ? and change_id >= first_of_run.first_id
        """,
        [relation, run_id, relation],
    ).fetchall()[0]
    if not found or whole:
        return None
    return since
