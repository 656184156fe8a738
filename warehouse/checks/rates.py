"""Checks on the rates tables: core.rates_daily (FRED observations), core.policy_rate_daily and
core.fomc_decisions (derived from them) against core.fomc_reference (config/fomc_decisions.csv).
"""

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

RATES = "core.rates_daily"
POLICY = "core.policy_rate_daily"
DECISIONS = "core.fomc_decisions"
REFERENCE = "core.fomc_reference"
KEYS = {
    RATES: ("series_id", "obs_date"),
    POLICY: ("calendar_date",),
    DECISIONS: ("effective_date",),
}

CHECKS = (
    "unique_keys",
    "target_range",
    "effective_in_range",
    "decisions_match_reference",
    "freshness",
)


def unique_keys(conn: duckdb.DuckDBPyConnection, *, table: str = RATES) -> CheckOutcome:
    """Every key of the table (series_id and obs_date for core.rates_daily, the date for the
    derived tables) appears once and is not NULL."""
    name = "unique_keys"
    if not table_exists(conn, table):
        return missing_table(name, table)
    key = KEYS[table]
    cols = ", ".join(key)
    null = " or ".join(f"{k} is null" for k in key)
    sql = f"""
        select {cols}, count(*) as copies,
               case when bool_or({null}) then 'NULL in the key'
                    else 'key stored ' || count(*) || ' times' end as problem
        from {table} group by {cols} having count(*) > 1 or bool_or({null})
    """
    total, columns, rows = failing_rows(conn, sql, order_by=cols)
    summary = (
        f"every ({cols}) of {table} is unique"
        if not total
        else f"{plural(total, 'key')} of {table} duplicated or NULL"
    )
    return CheckOutcome(name, total == 0, summary, columns, rows, total)


def target_range(
    conn: duckdb.DuckDBPyConnection,
    *,
    width_bp: float = 25.0,
    tolerance_bp: float = 0.01,
    table: str = RATES,
) -> CheckOutcome:
    """The target range of FRED's DFEDTARL/DFEDTARU: both bounds on every date either has, the
    lower below the upper, and `width_bp` (25 bp) apart; no target value that is not a finite
    number."""
    name = "target_range_sane"
    if not table_exists(conn, table):
        return missing_table(name, table)
    sql = f"""
        with lower_bound as (select obs_date, value from {table} where series_id = 'DFEDTARL'),
        upper_bound as (select obs_date, value from {table} where series_id = 'DFEDTARU'),
        paired as (
            select coalesce(l.obs_date, u.obs_date) as obs_date,
                   l.value as target_lower, u.value as target_upper
            from lower_bound l full join upper_bound u on u.obs_date = l.obs_date
        )
        select obs_date, target_lower, target_upper,
               round((target_upper - target_lower) * 100, 4) as width_bp,
               case when target_lower is null then 'upper bound without a lower bound'
                    when target_upper is null then 'lower bound without an upper bound'
                    when not isfinite(target_lower) or not isfinite(target_upper)
                        then 'a bound is not a finite number'
                    when target_lower >= target_upper then 'lower bound not below the upper bound'
                    else 'range not {width_bp:g} bp wide' end as problem
        from paired
        where target_lower is null or target_upper is null
           or not isfinite(target_lower) or not isfinite(target_upper)
           or target_lower >= target_upper
           or abs((target_upper - target_lower) * 100 - {float(width_bp)!r})
              > {float(tolerance_bp)!r}
        union all
        select obs_date, value, value, 0, 'single target (DFEDTAR) negative or not a finite number'
        from {table} where series_id = 'DFEDTAR' and (not isfinite(value) or value < 0)
    """
    total, columns, rows = failing_rows(conn, sql, order_by="obs_date")
    days = conn.execute(f"select count(*) from {table} where series_id = 'DFEDTARL'").fetchall()[0][
        0
    ]
    summary = (
        f"all {plural(int(days), 'day')} of the target range have lower < upper, "
        f"{width_bp:g} bp apart"
        if not total
        else f"{plural(total, 'day')} with a broken target range"
    )
    return CheckOutcome(name, total == 0, summary, columns, rows, total, {"range_days": int(days)})


def effective_in_range(
    conn: duckdb.DuckDBPyConnection, *, tolerance_bp: float = 5.0, table: str = POLICY
) -> CheckOutcome:
    """The effective fed funds rate (DFF) lies within the target range, give or take `tolerance_bp`,
    on every day of the range era (from 2008-12-16; the single target before it was a level the
    rate moved around, not a range)."""
    name = "effective_in_range"
    if not table_exists(conn, table):
        return missing_table(name, table)
    tol = float(tolerance_bp) / 100.0
    sql = f"""
        select calendar_date, target_lower, target_upper, effective,
               round(case when effective < target_lower then (effective - target_lower) * 100
                          else (effective - target_upper) * 100 end, 2) as outside_by_bp
        from {table}
        where target_kind = 'range' and effective is not null
          and (effective < target_lower - {tol!r} or effective > target_upper + {tol!r})
    """
    total, columns, rows = failing_rows(conn, sql, order_by="calendar_date desc")
    judged = conn.execute(
        f"select count(*) from {table} where target_kind = 'range' and effective is not null"
    ).fetchall()[0][0]
    summary = (
        f"the effective rate is inside the target range (+/- {tolerance_bp:g} bp) on all "
        f"{plural(int(judged), 'day')}"
        if not total
        else f"{plural(total, 'day')} with the effective rate outside the target range by "
        f"more than {tolerance_bp:g} bp"
    )
    return CheckOutcome(
        name, total == 0, summary, columns, rows, total, {"days_judged": int(judged)}
    )


def decisions_match_reference(
    conn: duckdb.DuckDBPyConnection, *, table: str = DECISIONS, reference: str = REFERENCE
) -> CheckOutcome:
    """The target changes derived from FRED (core.fomc_decisions) are the shipped reference's
    (config/fomc_decisions.csv, as core.fomc_reference), over the days core.policy_rate_daily
    covers. A reference change the data lacks, a data change the reference lacks (before the
    reference's last row), or different bounds fail with ERROR; changes newer than the reference's
    last row only mean the file needs a row: WARN."""
    name = "decisions_match_reference"
    for relation in (table, reference, POLICY):
        if not table_exists(conn, relation):
            return missing_table(name, relation)
    first, last = conn.execute(
        f"select min(calendar_date), max(calendar_date) from {POLICY}"
    ).fetchall()[0]
    if first is None:
        return CheckOutcome(name, True, f"{POLICY} is empty: nothing to compare")
    latest_reference = conn.execute(f"select max(effective_date) from {reference}").fetchall()[0][0]
    sql = f"""
        select coalesce(d.effective_date, r.effective_date) as effective_date,
               d.target_lower as data_lower, d.target_upper as data_upper,
               d.change_bp as data_change_bp,
               r.target_lower as reference_lower, r.target_upper as reference_upper,
               r.change_bp as reference_change_bp, r.line_number as reference_line,
               case when d.effective_date is null then 'in the reference, missing from the data'
                    when r.effective_date is null
                        and ({sql_literal(latest_reference)} is null
                             or d.effective_date > {sql_literal(latest_reference)})
                        then 'newer than the reference: add a row to config/fomc_decisions.csv'
                    when r.effective_date is null then 'in the data, missing from the reference'
                    else 'the data and the reference disagree' end as problem
        from {table} d
        full join {reference} r on r.effective_date = d.effective_date
        -- a change on the first day of the history cannot be seen: there is no day before it
        where coalesce(d.effective_date, r.effective_date) > {sql_literal(first)}
          and coalesce(d.effective_date, r.effective_date) <= {sql_literal(last)}
          and (d.effective_date is null or r.effective_date is null
               or abs(d.target_lower - r.target_lower) > 1e-9
               or abs(d.target_upper - r.target_upper) > 1e-9
               or d.change_bp <> r.change_bp)
    """
    total, columns, rows = failing_rows(conn, sql, order_by="effective_date")
    newer = conn.execute(
        f"select count(*) from ({sql}) where starts_with(problem, 'newer')"
    ).fetchall()[0][0]
    agreed = conn.execute(
        f"select count(*) from {table} d join {reference} r using (effective_date) "
        f"where effective_date > {sql_literal(first)} and effective_date <= {sql_literal(last)} "
        "and abs(d.target_lower - r.target_lower) <= 1e-9 "
        "and abs(d.target_upper - r.target_upper) <= 1e-9 "
        "and d.change_bp = r.change_bp"
    ).fetchall()[0][0]
    serious = total - int(newer)
    counts = {
        "decisions_agreeing": int(agreed),
        "disagreements": serious,
        "newer_than_reference": int(newer),
        "compared_from": str(first),
        "compared_until": str(last),
    }
    if not total:
        summary = (
            f"all {plural(int(agreed), 'change')} from {first} to {last} agree with the reference"
        )
    elif serious:
        summary = (
            f"{plural(serious, 'change')} where the data and config/fomc_decisions.csv disagree"
        )
    else:
        summary = (
            f"{plural(int(newer), 'change')} newer than config/fomc_decisions.csv: "
            "add them to the file"
        )
    return CheckOutcome(
        name,
        total == 0,
        summary,
        columns,
        rows,
        total,
        counts,
        severity=None if serious or not total else "warn",
    )


DEFAULT_MAX_AGE = {"daily": 7, "weekly": 14, "monthly": 80}
DEFAULT_FREQUENCIES = {"CPIAUCSL": "monthly", "UNRATE": "monthly"}


def freshness(
    conn: duckdb.DuckDBPyConnection,
    *,
    max_age_days: Mapping[str, int] = DEFAULT_MAX_AGE,
    frequencies: Mapping[str, str] = DEFAULT_FREQUENCIES,
    discontinued: Sequence[str] = ("DFEDTAR",),
    series: Sequence[str] | None = None,
    today: dt.date | None = None,
    table: str = RATES,
) -> CheckOutcome:
    """Each series' latest observation is recent for its frequency: at most `max_age_days`
    [frequency] calendar days before today (New York), the frequency from `frequencies` (daily when
    not named). Series FRED no longer publishes (`discontinued`) are not judged."""
    name = "rates_fresh"
    if not table_exists(conn, table):
        return missing_table(name, table)
    today = today or pd.Timestamp.now(tz=calendar.NEW_YORK).date()
    latest = dict(
        conn.execute(f"select series_id, max(obs_date) from {table} group by 1").fetchall()
    )
    names = sorted(set(series) if series is not None else set(latest))
    problems, judged = [], 0
    for series_id in names:
        if series_id in discontinued:
            continue
        judged += 1
        frequency = frequencies.get(series_id, "daily")
        limit = int(max_age_days.get(frequency, max_age_days.get("daily", 7)))
        last = latest.get(series_id)
        if last is None:
            problems.append((series_id, frequency, None, None, limit, "no observations stored"))
            continue
        age = (today - last).days
        if age > limit:
            problems.append(
                (series_id, frequency, last, age, limit, f"last observation {age} days old")
            )
    columns = [
        "series_id",
        "frequency",
        "latest_observation",
        "age_days",
        "max_age_days",
        "problem",
    ]
    counts = {"today_new_york": str(today), "series_judged": judged, "series_stale": len(problems)}
    summary = (
        f"all {plural(judged, 'series', 'series')} have a recent observation for their frequency"
        if not problems
        else f"{plural(len(problems), 'series', 'series')} stale: "
        + ", ".join(p[0] for p in problems)
    )
    return CheckOutcome(name, not problems, summary, columns, problems[:20], len(problems), counts)
