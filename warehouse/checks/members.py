"""Checks on core.index_members: one row per member and snapshot, sessions only, plausible
snapshots (weights summing to the fund, a member count the index can have), recent snapshots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb
import pandas as pd

from warehouse import calendar
from warehouse.checks.base import CheckOutcome, failing_rows, missing_table, plural, sql_literal, table_exists

TABLE = "core.index_members"

CHECKS = ("unique_key", "session_dates", "weights_sum", "member_counts", "freshness")

# Members an index's fund holds (its equity holdings that trade). The Russell indexes reconstitute
# yearly and shrink between (IWM held 1,911-1,952 members in the files of 2025-2026); the S&P
# indexes keep a fixed count (IVV: 503 members, some companies with two share classes).
DEFAULT_MEMBER_RANGES = {
    "russell_2000": [1500, 2100],
    "russell_3000": [2300, 3100],
    "sp_600": [560, 640],
    "sp_500": [495, 510],
}
# The sample's indexes are small on purpose (warehouse/sources/sample_members.py).
DEFAULT_SAMPLE_RANGE = [20, 80]


def unique_key(conn: duckdb.DuckDBPyConnection, *, table: str = TABLE) -> CheckOutcome:
    """One row per (index_id, as_of_date, ticker) and no NULL in that key."""
    name = "unique_key"
    if not table_exists(conn, table):
        return missing_table(name, table)
    sql = f"""
        select index_id, as_of_date, ticker, count(*) as copies, 'stored ' || count(*) || ' times' as problem
        from {table} group by all having count(*) > 1
        union all
        select index_id, as_of_date, ticker, 1, 'NULL in the key'
        from {table} where index_id is null or as_of_date is null or ticker is null
    """
    total, columns, rows = failing_rows(conn, sql, order_by="as_of_date desc, index_id, ticker")
    summary = (
        f"one row per index, snapshot and member in {table}"
        if not total else f"{plural(total, 'key')} of {table} stored twice or with a NULL"
    )
    return CheckOutcome(name, total == 0, summary, columns, rows, total)


def session_dates(conn: duckdb.DuckDBPyConnection, *, table: str = TABLE) -> CheckOutcome:
    """Every snapshot is dated on an NYSE session: holdings describe a session's close, and a
    snapshot on another day would be the membership of no session (or of the wrong one)."""
    name = "snapshots_on_sessions"
    if not table_exists(conn, table):
        return missing_table(name, table)
    days = conn.execute(
        f"select index_id, as_of_date, count(*) from {table} group by all order by 2 desc, 1"
    ).fetchall()
    bad = [(i, d, n, calendar.closed_reason(d)) for i, d, n in days if not calendar.is_session(d)]
    columns = ["index_id", "as_of_date", "members", "why"]
    summary = (
        f"all {plural(len(days), 'snapshot')} dated on NYSE sessions"
        if not bad else f"{plural(len(bad), 'snapshot')} dated on a day without a session"
    )
    return CheckOutcome(name, not bad, summary, columns, bad[:20], len(bad))


def weights_sum(
    conn: duckdb.DuckDBPyConnection,
    *,
    low: float = 0.97,
    high: float = 1.01,
    table: str = TABLE,
) -> CheckOutcome:
    """The members' weights of each snapshot add up to between `low` and `high` of the fund: the
    rest is cash, futures margin and the rows left out (IWM's members held 99.4-99.7% in the real
    files, IWV's 98.0%). Far below: members are missing from the file; above: some counted twice."""
    name = "weights_sum_to_one"
    if not table_exists(conn, table):
        return missing_table(name, table)
    sql = f"""
        select index_id, as_of_date, count(*) as members, round(sum(weight), 4) as weight_sum,
               count(*) filter (where weight is null) as without_weight
        from {table} group by all
        having sum(weight) is null or sum(weight) < {float(low)!r} or sum(weight) > {float(high)!r}
    """
    total, columns, rows = failing_rows(conn, sql, order_by="as_of_date desc, index_id")
    summary = (
        f"every snapshot's weights sum to between {low} and {high}"
        if not total else f"{plural(total, 'snapshot')} whose weights do not sum to between {low} and {high}"
    )
    return CheckOutcome(name, total == 0, summary, columns, rows, total, {"low": low, "high": high})


def member_counts(
    conn: duckdb.DuckDBPyConnection,
    *,
    ranges: Mapping[str, Sequence[int]] = DEFAULT_MEMBER_RANGES,
    sample_range: Sequence[int] = DEFAULT_SAMPLE_RANGE,
    table: str = TABLE,
) -> CheckOutcome:
    """Each snapshot holds a number of members its index can have (`ranges`: index -> [low,
    high]; the sample's snapshots: `sample_range`). An index without a range is not judged."""
    name = "member_counts_plausible"
    if not table_exists(conn, table):
        return missing_table(name, table)
    cases = [f"when {sql_literal(i)} then [{int(lo)}, {int(hi)}]" for i, (lo, hi) in ranges.items()]
    bound = (
        f"case when source = 'sample' then [{int(sample_range[0])}, {int(sample_range[1])}] "
        + (f"else case index_id {' '.join(cases)} end " if cases else "")
        + "end"
    )
    sql = f"""
        select index_id, as_of_date, source, members, bound[1] as low, bound[2] as high
        from (select index_id, as_of_date, any_value(source) as source, count(*) as members,
                     any_value({bound}) as bound
              from {table} group by index_id, as_of_date)
        where bound is not null and not (members between bound[1] and bound[2])
    """
    total, columns, rows = failing_rows(conn, sql, order_by="as_of_date desc, index_id")
    unjudged = sorted(
        i for (i,) in conn.execute(f"select distinct index_id from {table} where source <> 'sample'").fetchall()
        if i not in ranges
    )
    summary = (
        "every snapshot's member count is within its index's range"
        if not total else f"{plural(total, 'snapshot')} with a member count outside its index's range"
    )
    return CheckOutcome(name, total == 0, summary, columns, rows, total,
                        {"indexes_without_range": ", ".join(unjudged) or "none"})


def freshness(
    conn: duckdb.DuckDBPyConnection,
    *,
    max_age_days: int = 35,
    indexes: Sequence[str] | None = None,
    now: pd.Timestamp | None = None,
    table: str = TABLE,
) -> CheckOutcome:
    """Each index's latest snapshot is at most `max_age_days` calendar days older than the last
    completed session (a monthly snapshot is never older than ~31 days). Older, the breadth of
    the latest sessions is computed over a stale member list."""
    name = "snapshots_recent"
    if not table_exists(conn, table):
        return missing_table(name, table)
    expected = calendar.last_completed_session(now)
    latest = dict(conn.execute(f"select index_id, max(as_of_date) from {table} group by 1").fetchall())
    names = sorted(set(indexes) if indexes is not None else set(latest))
    problems = []
    for index_id in names:
        last = latest.get(index_id)
        if last is None:
            problems.append((index_id, None, expected, None, "no snapshot stored"))
            continue
        age = (expected - last).days
        if age > max_age_days:
            problems.append((index_id, last, expected, age, f"{plural(age, 'day')} old"))
    columns = ["index_id", "latest_snapshot", "last_session", "age_days", "problem"]
    summary = (
        f"every index has a snapshot of the last {max_age_days} days"
        if not problems else f"{plural(len(problems), 'index', 'indexes')} without a recent snapshot: "
        + ", ".join(p[0] for p in problems)
    )
    return CheckOutcome(name, not problems, summary, columns, problems, len(problems),
                        {"last_session": str(expected), "max_age_days": max_age_days})
