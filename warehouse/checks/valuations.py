"""Checks on core.valuations: one snapshot per day and key, plausible values, fresh snapshots."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import duckdb
import pandas as pd

from warehouse import calendar
from warehouse.checks.base import (
    CheckOutcome,
    failing_rows,
    missing_table,
    plural,
    sql_literal,
    table_exists,
)
from warehouse.valuation_terms import MEASURES, split_metric

TABLE = "core.valuations"
# Rows of config/published_valuations.csv: figures people published, not snapshots.
PUBLISHED = "published"

CHECKS = ("one_snapshot_per_day", "bounds", "freshness")

DEFAULT_BOUNDS = {
    "pe": [0.0, 200.0],
    "holdings_pe": [0.0, 200.0],
    "pb": [0.0, 100.0],
    "holdings_pb": [0.0, 100.0],
    "ps": [0.0, 100.0],
    "holdings_ps": [0.0, 100.0],
    "pcf": [0.0, 200.0],
    "holdings_pcf": [0.0, 200.0],
    "ev_revenue": [0.0, 100.0],
    "ev_ebitda": [0.0, 200.0],
    "pe_discount": [-1.0, 1.0],
    "pe_discount_norm_low": [-1.0, 1.0],
    "pe_discount_norm_high": [-1.0, 1.0],
}


def one_snapshot_per_day(conn: duckdb.DuckDBPyConnection, *, table: str = TABLE) -> CheckOutcome:
    """One row per (as_of_date, ticker, metric, source), no NULL in that key, and one snapshot per
    day and (ticker, metric) across the snapshot sources (live, files, sample): two snapshots of
    one day leave a model to pick one figure at random. Published rows sit beside snapshots by
    design and are left out of the second rule."""
    name = "one_snapshot_per_day"
    if not table_exists(conn, table):
        return missing_table(name, table)
    sql = f"""
        select as_of_date, ticker, metric,
               string_agg(distinct source, ', ' order by source) as sources,
               count(*) as copies, 'stored ' || count(*) || ' times for one source' as problem
        from {table} group by as_of_date, ticker, metric, source having count(*) > 1
        union all
        select as_of_date, ticker, metric, string_agg(source, ', ' order by source), count(*),
               'snapshots from ' || count(*) || ' sources for one day'
        from {table} where source <> {sql_literal(PUBLISHED)}
        group by as_of_date, ticker, metric having count(distinct source) > 1
        union all
        select as_of_date, ticker, metric, source, 1, 'NULL in the key'
        from {table} where as_of_date is null or ticker is null or metric is null or source is null
    """
    total, columns, rows = failing_rows(conn, sql, order_by="as_of_date desc, ticker, metric")
    summary = (
        f"one snapshot per day and key in {table}"
        if not total
        else f"{plural(total, 'key')} of {table} with more than one figure per day"
    )
    return CheckOutcome(name, total == 0, summary, columns, rows, total)


def bounds(
    conn: duckdb.DuckDBPyConnection,
    *,
    limits: Mapping[str, Sequence[float]] = DEFAULT_BOUNDS,
    table: str = TABLE,
) -> CheckOutcome:
    """Every value lies strictly inside the plausible bounds of its measure (`limits`: measure ->
    [low, high], e.g. pe = [0, 200]). A measure without limits is not judged (counted)."""
    name = "values_plausible"
    if not table_exists(conn, table):
        return missing_table(name, table)
    for measure, pair in limits.items():
        if measure not in MEASURES or len(pair) != 2 or not pair[0] < pair[1]:
            raise ValueError(
                f"valuation bounds {measure} = {pair!r}: use a known measure and [low, high]"
            )
    metrics = [m for (m,) in conn.execute(f"select distinct metric from {table}").fetchall()]
    cases, unbounded = [], []
    for metric in metrics:
        parts = split_metric(metric)
        measure = parts[0] if parts else None
        if measure in limits:
            low, high = limits[measure]
            cases.append(f"when {sql_literal(metric)} then [{float(low)!r}, {float(high)!r}]")
        else:
            unbounded.append(metric)
    counts = {"metrics_without_bounds": ", ".join(sorted(unbounded)) or "none"}
    if not cases:
        return CheckOutcome(name, True, "no metric with bounds is stored", counts=counts)
    sql = f"""
        select as_of_date, ticker, metric, source, value, bound[1] as low, bound[2] as high
        from (select *, case metric {" ".join(cases)} end as bound from {table})
        where bound is not null and not (value > bound[1] and value < bound[2])
    """
    total, columns, rows = failing_rows(conn, sql, order_by="as_of_date desc, ticker, metric")
    judged = conn.execute(
        f"select count(*) from (select case metric {' '.join(cases)} end as bound "
        f"from {table}) where bound is not null"
    ).fetchall()[0][0]
    counts["values_judged"] = int(judged)
    summary = (
        f"all {plural(int(judged), 'value')} inside their measure's bounds"
        if not total
        else f"{plural(total, 'value')} outside the plausible bounds of their measure"
    )
    return CheckOutcome(name, total == 0, summary, columns, rows, total, counts)


def freshness(
    conn: duckdb.DuckDBPyConnection,
    *,
    max_lag_sessions: int = 1,
    tickers: Sequence[str] | None = None,
    now: pd.Timestamp | None = None,
    table: str = TABLE,
) -> CheckOutcome:
    """Each ticker's latest snapshot (any source but published) is of the last completed NYSE
    session, New York time, or at most `max_lag_sessions` sessions older."""
    name = "snapshots_fresh"
    if not table_exists(conn, table):
        return missing_table(name, table)
    expected = calendar.last_completed_session(now)
    latest = dict(
        conn.execute(
            f"select ticker, max(as_of_date) from {table} where source <> {sql_literal(PUBLISHED)} "
            "and not contains(ticker, '/') group by 1"
        ).fetchall()
    )
    names = sorted(set(tickers) if tickers is not None else set(latest))
    problems = []
    for ticker in names:
        last = latest.get(ticker)
        if last is None:
            problems.append((ticker, None, expected, None, "no snapshot stored"))
            continue
        behind = (
            len(calendar.sessions(last + dt.timedelta(days=1), expected)) if last < expected else 0
        )
        if behind > max_lag_sessions:
            problems.append((ticker, last, expected, behind, f"{plural(behind, 'session')} behind"))
    columns = ["ticker", "latest_snapshot", "expected_session", "sessions_behind", "problem"]
    counts = {
        "expected_session": str(expected),
        "tickers_checked": len(names),
        "tickers_lagging": len(problems),
    }
    summary = (
        f"all {plural(len(names), 'ticker')} have a snapshot of {expected}"
        + (f" (or up to {max_lag_sessions} sessions before)" if max_lag_sessions else "")
        if not problems
        else f"{plural(len(problems), 'ticker')} without a recent snapshot: "
        + ", ".join(p[0] for p in problems[:10])
    )
    return CheckOutcome(name, not problems, summary, columns, problems[:20], len(problems), counts)
