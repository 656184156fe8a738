"""The change log: which dates of which relation each write touched.

Every writer records one row per write (`record`); an incremental SQL model reads the rows its
inputs gained since its last build (`pending`) to know the first date it has to rebuild. A write
that cannot say which dates it touched records NULL, and its readers then build in full.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

from warehouse.lake import is_lake


def record(
    conn: duckdb.DuckDBPyConnection,
    relation: str,
    changed_from: dt.date | None,
    run_id: str | None = None,
) -> int:
    """Append a change of `relation` from `changed_from` on (None: all of it); its change_id.

    Call it inside the writer's transaction, so the change and its record commit together.
    """
    change_id = latest_id(conn) + 1
    conn.execute(
        "insert into meta.changes values (?, ?, ?, ?, current_timestamp)",
        [change_id, relation, changed_from, run_id],
    )
    if is_lake(conn):
        # Two lake writers that both reach here conflict on this row at commit and one retries
        # (warehouse/lake.py): without it both could take the same id, and a model built between
        # their commits would never see the second one's change.
        conn.execute("update meta.change_head set last_id = ?", [change_id])
    return change_id


def latest_id(conn: duckdb.DuckDBPyConnection) -> int:
    return conn.execute("select coalesce(max(change_id), 0) from meta.changes").fetchall()[0][0]


@dataclass(frozen=True)
class Pending:
    """What the inputs of a relation gained after a given change."""

    changed: bool  # any write at all
    everything: bool  # some write could not say its dates
    since: dt.date | None  # the earliest date written, when not everything


def pending(conn: duckdb.DuckDBPyConnection, relations: Iterable[str], after_id: int) -> Pending:
    relations = sorted(set(relations))
    if not relations:
        return Pending(False, False, None)
    rows, whole, since = conn.execute(
        """
        select count(*), count(*) filter (where changed_from is null), min(changed_from)
        from meta.changes
        where change_id > ? and relation in (select unnest(?::varchar[]))
        """,
        [after_id, relations],
    ).fetchall()[0]
    return Pending(rows > 0, whole > 0, since)
