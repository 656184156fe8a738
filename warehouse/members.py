"""Loading index member snapshots into core.index_members.

A snapshot (one index, one session) is written whole: a load replaces the stored snapshot of the
same index and date, so a member that left is gone from it, and loading the same snapshot twice
changes nothing (no row rewritten, no change recorded). All the snapshots of one load go in one
transaction: a failure leaves the table as it was. A load that wrote something records a change
of core.index_members from the earliest snapshot date it wrote (meta.changes), for the
incremental models, and logs its rows per index in meta.load_batches.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from warehouse import calendar, changes
from warehouse.db import claim_flavour, transaction
from warehouse.load import BATCH_LOG, BATCH_LOG_DDL
from warehouse.sources.members import MEMBER_COLUMNS, Snapshot

TABLE = "core.index_members"
COLUMNS = ["index_id", "as_of_date", *MEMBER_COLUMNS, "source"]


@dataclass
class MembersLoad:
    inserted: dict[str, int] = field(default_factory=dict)  # index -> new snapshots
    replaced: dict[str, int] = field(default_factory=dict)  # index -> stored snapshots that changed
    unchanged: dict[str, int] = field(default_factory=dict)  # index -> snapshots already stored as they are
    rows_written: int = 0
    rows_deleted: int = 0
    changed_from: dt.date | None = None  # earliest snapshot date written; None: nothing written
    left_out: dict[str, dict[str, int]] = field(default_factory=dict)  # index -> reason -> rows
    unmapped: dict[str, list[str]] = field(default_factory=dict)  # index -> members not loaded
    class_share_candidates: dict[str, list[str]] = field(default_factory=dict)  # index -> to check

    @property
    def written(self) -> int:
        return sum(self.inserted.values()) + sum(self.replaced.values())


def _check(snapshots: Sequence[Snapshot]) -> None:
    """Refuse a batch the sources should never give: a snapshot twice, a non-session date, a
    member twice or without a ticker."""
    seen: set[tuple[str, dt.date]] = set()
    for s in snapshots:
        where = f"{s.index_id} snapshot of {s.as_of_date} ({s.origin})"
        if s.key in seen:
            raise ValueError(f"{where}: the batch holds this snapshot twice")
        seen.add(s.key)
        if not calendar.is_session(s.as_of_date):
            raise ValueError(f"{where}: {s.as_of_date} is not an NYSE session ({calendar.closed_reason(s.as_of_date)})")
        tickers = s.members["ticker"]
        if tickers.isna().any() or (tickers == "").any():
            raise ValueError(f"{where}: a member without a ticker")
        repeated = tickers[tickers.duplicated()].tolist()
        if repeated:
            raise ValueError(f"{where}: members listed twice: {', '.join(sorted(set(repeated))[:10])}")


def _arrow(snapshots: Sequence[Snapshot], source: str) -> pa.Table:
    index_ids, dates, columns = [], [], {c: [] for c in MEMBER_COLUMNS}
    for s in snapshots:
        n = len(s.members)
        index_ids += [s.index_id] * n
        dates += [s.as_of_date] * n
        for c in MEMBER_COLUMNS:
            values = s.members[c].tolist()
            columns[c] += [None if v is None or v != v else v for v in values]  # NaN -> NULL
    return pa.table({
        "index_id": pa.array(index_ids, pa.string()),
        "as_of_date": pa.array(dates, pa.date32()),
        "ticker": pa.array(columns["ticker"], pa.string()),
        "holding_ticker": pa.array(columns["holding_ticker"], pa.string()),
        "name": pa.array(columns["name"], pa.string()),
        "sector": pa.array(columns["sector"], pa.string()),
        "weight": pa.array(columns["weight"], pa.float64()),
        "source": pa.array([source] * len(index_ids), pa.string()),
    })


def load_snapshots(
    conn: duckdb.DuckDBPyConnection,
    snapshots: Sequence[Snapshot],
    *,
    source: str,
    run_id: str | None = None,
    now: dt.datetime | None = None,
) -> MembersLoad:
    """Replace each snapshot's stored version (index_id, as_of_date) with it, in one transaction."""
    now = now or dt.datetime.now(dt.UTC)
    _check(snapshots)
    result = MembersLoad()
    for s in snapshots:
        reasons = result.left_out.setdefault(s.index_id, {})
        for reason, count in Counter(s.left_out).items():
            reasons[reason] = reasons.get(reason, 0) + int(count)
        if s.unmapped:
            result.unmapped.setdefault(s.index_id, []).extend(f"{s.as_of_date}: {u}" for u in s.unmapped)
        if s.class_share_candidates:
            found = result.class_share_candidates.setdefault(s.index_id, [])
            found += [c for c in s.class_share_candidates if c not in found]
    if not snapshots:
        return result
    incoming = _arrow(snapshots, source)
    cols = ", ".join(COLUMNS)
    with transaction(conn):
        claim_flavour(conn, source)
        conn.register("_members_in", incoming)
        try:
            # The snapshots whose stored rows differ from the incoming ones in any way (a new
            # snapshot differs from its absent stored version).
            conn.execute(
                "create or replace temp table _members_keys as "
                "select distinct index_id, as_of_date from _members_in"
            )
            conn.execute(
                f"""
                create or replace temp table _members_stored as
                select {cols} from {TABLE} t semi join _members_keys k using (index_id, as_of_date)
                """
            )
            conn.execute(
                f"""
                create or replace temp table _members_changed as
                with differing as (
                    (select {cols} from _members_in except all select {cols} from _members_stored)
                    union all
                    (select {cols} from _members_stored except all select {cols} from _members_in)
                )
                select d.index_id, d.as_of_date, bool_or(s.index_id is not null) as was_stored
                from (select distinct index_id, as_of_date from differing) d
                left join (select distinct index_id, as_of_date from _members_stored) s using (index_id, as_of_date)
                group by all
                """
            )
            counts = conn.execute(
                "select k.index_id, c.index_id is not null, coalesce(c.was_stored, false), count(*) "
                "from _members_keys k left join _members_changed c using (index_id, as_of_date) group by all"
            ).fetchall()
            for index_id, changed, was_stored, n in counts:
                bucket = result.unchanged if not changed else result.replaced if was_stored else result.inserted
                bucket[index_id] = bucket.get(index_id, 0) + int(n)
            # A snapshot older than its index's first stored one (or an index's first) changes the
            # sessions before it too when members are projected back (index_breadth_membership), and
            # an incremental build cannot reach behind the date it is given: the whole table changed.
            reaches_back = conn.execute(
                f"""
                select count(*) from _members_changed c
                where c.as_of_date < coalesce(
                    (select min(t.as_of_date) from {TABLE} t where t.index_id = c.index_id), 'infinity'::date)
                """
            ).fetchall()[0][0]
            result.rows_deleted = conn.execute(
                f"delete from {TABLE} t using _members_changed c "
                "where t.index_id = c.index_id and t.as_of_date = c.as_of_date"
            ).fetchall()[0][0]
            result.rows_written = conn.execute(
                f"insert into {TABLE} ({cols}, loaded_at) select {', '.join('i.' + c for c in COLUMNS)}, ? "
                "from _members_in i join _members_changed c using (index_id, as_of_date)",
                [now],
            ).fetchall()[0][0]
            result.changed_from = conn.execute("select min(as_of_date) from _members_changed").fetchall()[0][0]
            if result.changed_from is not None:
                changes.record(conn, TABLE, None if reaches_back else result.changed_from, run_id)
            _log_batch(conn, incoming, run_id, now)
            for temp in ("_members_changed", "_members_stored", "_members_keys"):
                conn.execute(f"drop table {temp}")
        finally:
            conn.unregister("_members_in")
    return result


def _log_batch(conn: duckdb.DuckDBPyConnection, incoming: pa.Table, run_id: str | None, now) -> None:
    """One line per index of this load (its member rows given) and one for the whole load, in
    meta.load_batches beside the other tables' loads. Nothing is refused here: the rows a
    source left out are counted by reason in the run's metadata."""
    conn.execute(BATCH_LOG_DDL)
    per_index = conn.execute("select index_id, count(*) from _members_in group by 1").fetchall()
    conn.execute(
        f"delete from {BATCH_LOG} where relation = ? "
        "and (part is null or part in (select distinct index_id from _members_in))",
        [TABLE],
    )
    for index_id, rows in per_index:
        conn.execute(f"insert into {BATCH_LOG} values (?, ?, ?, ?, 0, null, ?)", [TABLE, index_id, run_id, rows, now])
    table_rows = conn.execute(f"select count(*) from {TABLE}").fetchall()[0][0]
    conn.execute(
        f"insert into {BATCH_LOG} values (?, null, ?, ?, 0, ?, ?)", [TABLE, run_id, incoming.num_rows, table_rows, now]
    )


def stored_snapshots(conn: duckdb.DuckDBPyConnection) -> dict[str, set[dt.date]]:
    """Index id -> the snapshot dates core.index_members holds."""
    out: dict[str, set[dt.date]] = {}
    for index_id, day in conn.execute(f"select distinct index_id, as_of_date from {TABLE}").fetchall():
        out.setdefault(index_id, set()).add(day)
    return out


def summary(conn: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """Index id -> snapshots held, first and latest snapshot date, members in the latest."""
    rows = conn.execute(
        f"""
        with per as (select index_id, as_of_date, count(*) as members from {TABLE} group by all)
        select index_id, count(*), min(as_of_date), max(as_of_date), arg_max(members, as_of_date)
        from per group by 1 order by 1
        """
    ).fetchall()
    return {
        r[0]: {"snapshots": int(r[1]), "first": str(r[2]), "latest": str(r[3]), "members_latest": int(r[4])}
        for r in rows
    }
