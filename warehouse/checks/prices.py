"""Checks on core.prices_daily: integrity, the NYSE calendar, freshness, stale bars, outliers,
ETF-index tracking and the adjustment factor.

Each function reads the table and returns a CheckOutcome; thresholds are keyword arguments whose
values come from config/checks.toml ([prices.<check>]).

Fault isolation: a bad bar never reaches the table. The loader quarantines it (warehouse/prices.py
says the rules) and loads the rest of its ticker; `no_rows_quarantined` (WARN) shows it and
`completeness` (WARN) names the hole it leaves. `integrity` (ERROR, blocking) fails only on what is
systemic: a key stored twice, a stored row that breaks a load rule (the loader was bypassed), an
empty or shrunk table, a ticker whose last load was mostly refused.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction

import duckdb
import pandas as pd
import pyarrow as pa

from warehouse import calendar
from warehouse.checks.base import (
    MAX_ROWS,
    CheckOutcome,
    failing_rows,
    missing_table,
    plural,
    sql_literal,
    table_exists,
)
from warehouse.load import BATCH_LOG
from warehouse.prices import price_rules

TABLE = "core.prices_daily"
QUARANTINE = "core.quarantine"
CHECKS = (
    "integrity",
    "completeness",
    "freshness",
    "stale_bars",
    "outliers",
    "tracking",
    "adjustment",
)
BAR = "ticker, trade_date, open, high, low, close, adj_close, volume"


def integrity(
    conn: duckdb.DuckDBPyConnection,
    since: dt.date | None = None,
    *,
    ohlc_tolerance: float = 0.001,
    max_rejected_share: float = 0.5,
    min_batch_rows: int = 5,
    table: str = TABLE,
) -> CheckOutcome:
    """Systemic faults only; one bad bar is the loader's business (it quarantines the bar, and
    `no_rows_quarantined` and the completeness check warn). Fails when:

    - a (ticker, trade_date) is stored more than once;
    - a stored row breaks a rule the loader enforces (warehouse/prices.py price_rules at
      `ohlc_tolerance`, a NULL key, a date that is no NYSE session): the table was written
      without the loader;
    - the table is empty, or holds fewer rows than after the last load (rows deleted by hand);
    - the last load of a ticker (meta.load_batches) refused more than `max_rejected_share` of the
      rows it was given, counted for batches of at least `min_batch_rows` rows: the source is
      broken for that ticker, not one bar.

    With `since`, the keys and rules are judged on the rows dated `since` or later (and rows with
    no date), but only while the table holds exactly the rows its last logged load left: any other
    count means a write outside the loader, which can be at any date, and the whole table is
    judged. The table's size and the loads' refusals are always judged whole."""
    name = "prices_integrity"
    if not table_exists(conn, table):
        return missing_table(name, table)
    if not 0 <= max_rejected_share <= 1:
        raise ValueError(f"max_rejected_share must be a fraction from 0 to 1, not {max_rejected_share!r}")
    rules = price_rules(ohlc_tolerance)
    stored, first, last = conn.execute(
        f"select count(*), min(trade_date), max(trade_date) from {table}"
    ).fetchall()[0]
    systemic = _systemic_problems(conn, table, stored, max_rejected_share, min_batch_rows)
    scope = since if since is not None and _rows_after_last_load(conn, table) == stored else None
    problems = {
        "duplicated_key": "n > 1",
        "null_key": "ticker is null or trade_date is null",
        **{key: predicate for key, _, predicate in rules},
        "non_session": "_off_session",
    }
    texts = {
        "duplicated_key": "'(ticker, trade_date) stored ' || n || ' times'",
        "null_key": "'NULL in the key'",
        **{key: sql_literal(reason) for key, reason, _ in rules},
        "non_session": "'not an NYSE session'",
    }
    counts: dict[str, int] = dict.fromkeys(problems, 0)
    total, columns, rows = 0, [*BAR.split(", "), "problem"], []
    if first is not None:
        cal = calendar.nyse()
        cal_first, cal_last = cal.first_session.date(), cal.last_session.date()
        _session_table(conn, first if scope is None else max(first, scope), last)
        rows_read = table
        if scope is not None:
            # Two scans, not one with an OR, so the date filter can skip row groups.
            rows_read = (
                f"(select * from {table} where trade_date >= {sql_literal(scope)} "
                f"union all select * from {table} where trade_date is null)"
            )
        # A key stored twice is found by an aggregate joined back, not by a window over every
        # row: the window sorts the whole table, the aggregate only hashes its keys.
        repeated = (
            f"select ticker, trade_date, count(*) as n from {rows_read} as r "
            "group by ticker, trade_date having count(*) > 1"
        )
        try:
            base = (
                f"(select p.*, coalesce(d.n, 1) as n, "
                f"s.session is null and p.trade_date between {sql_literal(cal_first)} "
                f"and {sql_literal(cal_last)} as _off_session "
                f"from {rows_read} p left join _nyse_sessions s on s.session = p.trade_date "
                f"left join ({repeated}) d on d.ticker is not distinct from p.ticker "
                f"and d.trade_date is not distinct from p.trade_date) as t"
            )
            problem = (
                "concat_ws('; ', "
                + ", ".join(f"case when {p} then {texts[k]} end" for k, p in problems.items())
                + ")"
            )
            any_problem = " or ".join(f"({p})" for p in problems.values())
            flags = ", ".join(f"coalesce({p}, false) as _p{i}" for i, p in enumerate(problems.values()))
            # Materialised once: the failing rows, their count and the counts by problem all
            # read the same few rows instead of judging the table three times.
            conn.execute(
                f"create or replace temp table _failing as "
                f"select {BAR}, {problem} as problem, {flags} from {base} where {any_problem}"
            )
            total, columns, rows = failing_rows(
                conn, f"select {BAR}, problem from _failing", order_by="ticker, trade_date"
            )
            found = conn.execute(
                "select " + ", ".join(f"count(*) filter (where _p{i})" for i in range(len(problems)))
                + " from _failing"
            ).fetchall()[0]
            counts = {k: int(v) for k, v in zip(problems, found, strict=True)}
        finally:
            conn.execute("drop table if exists _nyse_sessions")
            conn.execute("drop table if exists _failing")
    # Systemic problems first: a row of the failing table names the ticker, the problem says why.
    blank = (None,) * (len(columns) - 2)
    rows = ([(ticker, *blank, text) for ticker, text in systemic] + rows)[:MAX_ROWS]
    total += len(systemic)
    counts["batches_mostly_rejected"] = sum(1 for ticker, _ in systemic if ticker is not None)
    found = [f"{v} {k.replace('_', ' ')}" for k, v in counts.items() if v]
    # the metadata's context, not problems: left out of the summary
    counts["rows_stored"] = int(stored)
    counts["checked_from"] = _checked_from(scope)
    if not total:
        summary = (
            f"{plural(int(stored), 'row')}, every key once, every row within the load rules, "
            "no load mostly refused"
        )
    elif systemic and len(systemic) == total:
        summary = "; ".join(text if ticker is None else f"{ticker}: {text}" for ticker, text in systemic[:3])
    else:
        summary = f"{plural(total, 'problem')}: " + ", ".join(found)
    return CheckOutcome(name, total == 0, summary, columns, rows, total, counts)


def _rows_after_last_load(conn: duckdb.DuckDBPyConnection, table: str) -> int | None:
    """How many rows the table held after its last logged load; None before the first one."""
    if not table_exists(conn, BATCH_LOG):
        return None
    last = conn.execute(
        f"select table_rows from {BATCH_LOG} where relation = ? and part is null "
        "order by loaded_at desc limit 1",
        [table],
    ).fetchall()
    return last[0][0] if last else None


def _systemic_problems(
    conn: duckdb.DuckDBPyConnection, table: str, stored: int, max_share: float, min_rows: int
) -> list[tuple[str | None, str]]:
    """(ticker or None, problem) for an empty or shrunk table and for tickers whose last load was
    mostly refused, from meta.load_batches (absent before the first logged load)."""
    out: list[tuple[str | None, str]] = []
    if stored == 0:
        out.append((None, f"{table} is empty"))
    if not table_exists(conn, BATCH_LOG):
        return out
    last = conn.execute(
        f"select table_rows, run_id from {BATCH_LOG} where relation = ? and part is null "
        "order by loaded_at desc limit 1",
        [table],
    ).fetchall()
    if last and last[0][0] is not None and stored < last[0][0]:
        out.append((
            None,
            f"{table} holds {plural(int(stored), 'row')}, {int(last[0][0]) - int(stored)} fewer than after "
            f"its last load (run {last[0][1]}): rows were deleted outside the loader",
        ))
    for ticker, run_id, received, rejected in conn.execute(
        f"select part, run_id, received, rejected from {BATCH_LOG} "
        "where relation = ? and part is not null and received >= ? and rejected > ? * received "
        "order by part",
        [table, int(min_rows), float(max_share)],
    ).fetchall():
        out.append((
            ticker,
            f"the last load (run {run_id}) refused {rejected} of {received} rows "
            f"({rejected / received:.0%}, more than {max_share:.0%}): the source is broken for this ticker",
        ))
    return out


def _session_table(conn: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date) -> None:
    cal_first = calendar.nyse().first_session.date()
    days = calendar.sessions(max(first, cal_first), last)
    conn.execute("create or replace temp table _nyse_sessions (session date primary key)")
    if days:
        frame = pa.table({"session": pa.array(days, type=pa.date32())})
        conn.register("_nyse_sessions_in", frame)
        try:
            conn.execute("insert into _nyse_sessions select session from _nyse_sessions_in")
        finally:
            conn.unregister("_nyse_sessions_in")


# `since` (the first date a check judges; None: the whole table) comes before the `*` of each check:
# config/checks.toml sets only keyword-only arguments, and the scope is the run's, not a threshold.
def _read_from(
    conn: duckdb.DuckDBPyConnection, table: str, since: dt.date | None, look_back: int
) -> dt.date | None:
    """The first date a check judging rows from `since` on has to read: `look_back` NYSE sessions
    earlier. None (read everything) without `since`, or when that is no later than the table's
    first date or the calendar's: the whole table would be read anyway."""
    if since is None:
        return None
    start = calendar.shift_sessions(since, -int(look_back)) if look_back > 0 else since
    if start <= calendar.nyse().first_session.date():
        return None
    first = conn.execute(f"select min(trade_date) from {table}").fetchall()[0][0]
    return None if first is None or start <= first else start


def _ticker_list(tickers: Sequence[str]) -> str:
    return ", ".join(sql_literal(t) for t in tickers) or "null"


def _with_history(
    conn: duckdb.DuckDBPyConnection, table: str, where: str, read_from: dt.date, boundary: dt.date, need: int
) -> str:
    """A subquery of the rows of `table` matching `where` from `read_from` on, plus the whole
    history of each ticker with fewer than `need` of them before `boundary`: a gap puts that
    ticker's look-back further back than read_from."""
    # The tickers are resolved first and inlined, so each scan is a plain date or ticker filter
    # the row groups' zone maps can skip on, not a join over the whole table.
    short = [
        t
        for (t,) in conn.execute(
            f"select ticker from {table} where {where} and trade_date >= {sql_literal(read_from)} "
            f"group by ticker having count(*) filter (where trade_date < {sql_literal(boundary)}) "
            f"< {int(need)} order by ticker"
        ).fetchall()
    ]
    rows = f"select * from {table} where {where} and trade_date >= {sql_literal(read_from)}"
    if short:
        rows += (
            f" union all select * from {table} where {where} "
            f"and trade_date < {sql_literal(read_from)} and ticker in ({_ticker_list(short)})"
        )
    return f"({rows})"


def _materialise(conn: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The failing rows of `sql` in a temp table, read by the rows, the count and the counts by
    problem alike: the query runs once instead of once for each."""
    conn.execute(f"create or replace temp table _failing as {sql}")
    return "select * from _failing"


def _checked_from(since: dt.date | None) -> str:
    return "whole table" if since is None else str(since)


def completeness(
    conn: duckdb.DuckDBPyConnection, since: dt.date | None = None, *, table: str = TABLE
) -> CheckOutcome:
    """Every NYSE session between a ticker's first and last stored date has a row (holidays and
    early closes as exchange_calendars' XNYS knows them), and no row falls on a non-session.

    A session missing because the loader quarantined its bar is named with the reason and origin
    (file and line) of its latest quarantine row: the hole a refused bar leaves is reported here.

    With `since`, only missing sessions after each ticker's last bar before `since` (a bar from
    `since` on can open a hole back to it) and rows dated `since` or later are judged, exactly as
    in the whole table."""
    name = "prices_calendar_complete"
    if not table_exists(conn, table):
        return missing_table(name, table)
    first, last = conn.execute(f"select min(trade_date), max(trade_date) from {table}").fetchall()[
        0
    ]
    if first is None:
        return CheckOutcome(name, True, f"{table} is empty: nothing to compare with the calendar")
    cal_first = calendar.nyse().first_session.date()
    # Per ticker, the first date whose holes are judged: its first bar, or with `since` its last
    # bar before `since` (a ticker without a bar from `since` on has no hole in the scope).
    scoped_from = sql_literal(since)
    read_from = _read_from(conn, table, since, 1)
    # A ticker's bar of the session before `since` is its last bar before it; only tickers
    # without one are read further back.
    spanned = table if read_from is None else _with_history(conn, table, "true", read_from, since, 1)
    spans = (
        f"select ticker, min(trade_date) as judged_from, max(trade_date) as last_date "
        f"from {table} group by ticker"
        if since is None
        else f"select ticker, coalesce(max(trade_date) filter (where trade_date < {scoped_from}), "
        f"min(trade_date)) as judged_from, max(trade_date) as last_date from {spanned} as r "
        f"group by ticker having max(trade_date) >= {scoped_from}"
    )
    session_from = first
    if since is not None:
        session_from = conn.execute(
            f"select coalesce(min(judged_from), {scoped_from}) from ({spans})"
        ).fetchall()[0][0]
    rows_from = "" if since is None else f"and t.trade_date >= {sql_literal(session_from)}"
    extra_from = "" if since is None else f"and trade_date >= {scoped_from}"
    _session_table(conn, session_from, last)
    try:
        if table_exists(conn, QUARANTINE):
            refused = (
                f"select key, arg_max(reason || coalesce(', ' || origin, ''), quarantined_at) as why "
                f"from {QUARANTINE} where target_table = {sql_literal(table)} group by key"
            )
        else:
            refused = "select null::varchar as key, null::varchar as why where false"
        sql = f"""
            with spans as ({spans}),
            refused as ({refused}),
            holes as (
                select spans.ticker, s.session as trade_date
                from spans
                join _nyse_sessions s on s.session between spans.judged_from and spans.last_date
                where not exists (
                    select 1 from {table} t
                    where t.ticker = spans.ticker and t.trade_date = s.session {rows_from}
                )
            ),
            missing as (
                select h.ticker, h.trade_date,
                       'missing session' || coalesce(' (quarantined: ' || r.why || ')', '') as problem
                from holes h
                left join refused r on r.key = h.ticker || ' ' || cast(h.trade_date as varchar)
            ),
            extra as (
                select ticker, trade_date, 'row on a non-session' as problem
                from {table}
                where trade_date >= {sql_literal(max(cal_first, session_from))} {extra_from}
                  and trade_date not in (select session from _nyse_sessions)
            )
            select * from missing union all select * from extra
        """
        sql = _materialise(conn, sql)
        total, columns, rows = failing_rows(conn, sql, order_by="ticker, trade_date")
        missing, extra, gappy, quarantined = conn.execute(
            f"select count(*) filter (where problem like 'missing session%'), "
            f"count(*) filter (where problem not like 'missing session%'), "
            f"count(distinct ticker) filter (where problem like 'missing session%'), "
            f"count(*) filter (where problem like 'missing session (quarantined%') from ({sql})"
        ).fetchall()[0]
    finally:
        conn.execute("drop table if exists _nyse_sessions")
        conn.execute("drop table if exists _failing")
    # Name the closure of a row on a non-session: 'Good Friday', 'weekend', ...
    rows = [
        (
            t,
            d,
            p if p.startswith("missing session") else f"row on a non-session ({calendar.closed_reason(d)})",
        )
        for t, d, p in rows
    ]
    counts = {
        "missing_sessions": int(missing),
        "rows_on_non_sessions": int(extra),
        "tickers_with_gaps": int(gappy),
        "missing_sessions_quarantined": int(quarantined),
        "checked_from": _checked_from(since),
    }
    summary = (
        f"every ticker has every NYSE session from its first to its last stored date "
        f"({first} .. {last})"
        if not total
        else f"{plural(int(missing), 'missing session')} ({plural(int(gappy), 'ticker')}; "
        f"{int(quarantined)} of them quarantined at load), {plural(int(extra), 'row')} on non-sessions"
    )
    return CheckOutcome(name, total == 0, summary, columns, rows, total, counts)


def freshness(
    conn: duckdb.DuckDBPyConnection,
    *,
    max_lag_sessions: int = 0,
    tickers: Sequence[str] | None = None,
    now: pd.Timestamp | None = None,
    table: str = TABLE,
) -> CheckOutcome:
    """Each ticker's latest stored session is the last NYSE session that has closed (and settled)
    at `now`, New York time, give or take `max_lag_sessions`. A ticker of `tickers` with no row at
    all lags too; a bar for a session that had not closed at `now` is named as well."""
    name = "prices_fresh"
    if not table_exists(conn, table):
        return missing_table(name, table)
    expected = calendar.last_completed_session(now)
    latest = dict(
        conn.execute(f"select ticker, max(trade_date) from {table} group by ticker").fetchall()
    )
    names = sorted(set(tickers) if tickers is not None else set(latest))
    problems = []
    for ticker in names:
        last = latest.get(ticker)
        if last is None:
            problems.append((ticker, None, expected, None, "no rows stored"))
        elif last < expected:
            behind = len(calendar.sessions(last + dt.timedelta(days=1), expected))
            if behind > max_lag_sessions:
                problems.append(
                    (ticker, last, expected, behind, f"{plural(behind, 'session')} behind")
                )
        elif last > expected:
            ahead = len(calendar.sessions(expected + dt.timedelta(days=1), last))
            problems.append(
                (ticker, last, expected, -ahead, "bar of a session that has not closed yet")
            )
    stamp = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    counts = {
        "expected_session": str(expected),
        "checked_at_new_york": stamp.tz_convert(calendar.NEW_YORK).strftime("%Y-%m-%d %H:%M %Z"),
        "tickers_checked": len(names),
        "tickers_lagging": len(problems),
        "latest_stored_session": str(max(latest.values())) if latest else None,
    }
    columns = ["ticker", "latest_session", "expected_session", "sessions_behind", "problem"]
    summary = (
        f"all {len(names)} tickers are at the last completed NYSE session, {expected}"
        if not problems
        else f"{plural(len(problems), 'ticker')} not at the last completed NYSE session "
        f"{expected}: "
        + ", ".join(p[0] for p in problems[:10])
        + (" ..." if len(problems) > 10 else "")
    )
    return CheckOutcome(name, not problems, summary, columns, problems[:20], len(problems), counts)


def stale_bars(
    conn: duckdb.DuckDBPyConnection,
    since: dt.date | None = None,
    *,
    min_sessions: int = 3,
    table: str = TABLE,
) -> CheckOutcome:
    """No run of `min_sessions` or more consecutive stored sessions of a ticker with an identical
    bar (open, high, low, close): a source repeating its last bar instead of publishing new ones.

    With `since`, only runs reaching `since` or later are judged, exactly as in the whole table
    (a run that began earlier is named with its first session)."""
    name = "prices_no_stale_bars"
    if not table_exists(conn, table):
        return missing_table(name, table)
    source = table
    read_from = _read_from(conn, table, since, min_sessions)
    if read_from is not None:
        # A run reaching the scope ends with a bar equal to the one before it. Only tickers with
        # such a bar in the scope, or with no bar between read_from and since (their previous bar
        # is further back), can have one; their whole history gives the run's true first session.
        same = " and ".join(
            f"{c} is not distinct from lag({c}) over w" for c in ("open", "high", "low", "close")
        )
        candidates = [
            t
            for (t,) in conn.execute(
                f"""
                select ticker from (
                    select ticker, trade_date, {same} as repeats
                    from {table} where trade_date >= {sql_literal(read_from)}
                    window w as (partition by ticker order by trade_date)
                )
                group by ticker
                having bool_or(repeats and trade_date >= {sql_literal(since)})
                    or min(trade_date) >= {sql_literal(since)}
                    or {int(min_sessions)} < 2
                order by ticker
                """
            ).fetchall()
        ]
        source = f"(select * from {table} where ticker in ({_ticker_list(candidates)}))"
    scoped = "" if since is None else f"and max(trade_date) >= {sql_literal(since)}"
    sql = f"""
        with marked as (
            select ticker, trade_date, open, high, low, close,
                   open is not distinct from lag(open) over w
                   and high is not distinct from lag(high) over w
                   and low is not distinct from lag(low) over w
                   and close = lag(close) over w as repeats
            from {source}
            window w as (partition by ticker order by trade_date)
        ),
        runs as (
            select *, sum(case when repeats then 0 else 1 end)
                over (partition by ticker order by trade_date rows unbounded preceding) as run_id
            from marked
        )
        select ticker, min(trade_date) as first_session, max(trade_date) as last_session,
               count(*) as sessions, any_value(open) as open, any_value(high) as high,
               any_value(low) as low, any_value(close) as close
        from runs group by ticker, run_id having count(*) >= {int(min_sessions)}
        {scoped}
    """
    try:
        sql = _materialise(conn, sql)
        total, columns, rows = failing_rows(conn, sql, order_by="ticker, first_session")
        repeated = conn.execute(f"select coalesce(sum(sessions - 1), 0) from ({sql})").fetchall()[0][0]
    finally:
        conn.execute("drop table if exists _failing")
    summary = (
        f"no bar repeats over {min_sessions} or more sessions"
        if not total
        else f"{plural(total, 'run')} of an identical bar over {min_sessions}+ sessions "
        f"({plural(int(repeated), 'repeated bar')})"
    )
    counts = {"repeated_bars": int(repeated), "checked_from": _checked_from(since)}
    return CheckOutcome(name, total == 0, summary, columns, rows, total, counts)


ACCEPTED = re.compile(r"^(?:(\S+)\s+)?(\d{4}-\d{2}-\d{2})$")


def _accepted(accepted: Sequence[str]) -> tuple[list[dt.date], list[tuple[str, dt.date]]]:
    days, pairs = [], []
    for item in accepted:
        m = ACCEPTED.match(str(item).strip())
        if not m:
            raise ValueError(
                f"accepted outlier {item!r}: write 'YYYY-MM-DD' or 'TICKER YYYY-MM-DD'"
            )
        day = dt.date.fromisoformat(m[2])
        (pairs.append((m[1], day)) if m[1] else days.append(day))
    return days, pairs


def outliers(
    conn: duckdb.DuckDBPyConnection,
    since: dt.date | None = None,
    *,
    vol_multiple: float = 10.0,
    vol_window: int = 63,
    min_periods: int = 20,
    max_abs_return: float = 0.25,
    lookback_sessions: int = 63,
    accepted: Sequence[str] = (),
    table: str = TABLE,
) -> CheckOutcome:
    """Daily returns of adj_close (so a split in the raw close is no jump) beyond `vol_multiple`
    times the ticker's volatility over the previous `vol_window` returns (once `min_periods` exist),
    or beyond `max_abs_return`. Only each ticker's last `lookback_sessions` sessions are judged
    (0: all); `accepted` lists moves known to be real ('YYYY-MM-DD' or 'TICKER YYYY-MM-DD').
    With `since`, only returns dated `since` or later are judged, exactly as in the whole table."""
    name = "prices_outliers"
    if not table_exists(conn, table):
        return missing_table(name, table)
    days, pairs = _accepted(accepted)
    # A return's volatility reads the vol_window returns before it, so vol_window + 1 bars.
    need = max(int(vol_window), 0) + 1
    source, scoped = table, ""
    read_from = _read_from(conn, table, since, need)
    if read_from is not None:
        source = _with_history(conn, table, "adj_close > 0", read_from, since, need)
    if since is not None:
        scoped = f"and trade_date >= {sql_literal(since)}"
    day_list = "[" + ", ".join(sql_literal(d) for d in days) + "]::date[]"
    pair_list = (
        " or ".join(
            f"(ticker = {sql_literal(t)} and trade_date = {sql_literal(d)})" for t, d in pairs
        )
        or "false"
    )
    window = f"rows between {int(vol_window)} preceding and 1 preceding"
    sql = f"""
        with returns as (
            select ticker, trade_date, close, adj_close,
                   lag(trade_date) over w as previous_session,
                   adj_close / lag(adj_close) over w - 1 as ret,
                   row_number() over (partition by ticker order by trade_date desc) as from_end
            from {source}
            where adj_close > 0
            window w as (partition by ticker order by trade_date)
        ),
        judged as (
            select *, stddev_samp(ret) over v as vol, count(ret) over v as vol_n
            from returns
            window v as (partition by ticker order by trade_date {window})
        )
        select ticker, previous_session, trade_date, adj_close, ret as daily_return,
               vol as rolling_vol, ret / nullif(vol, 0) as vol_multiple,
               case when abs(ret) > {float(max_abs_return)!r}
                    then 'beyond ' || {sql_literal(f"{max_abs_return:.0%}")}
                    else 'beyond {float(vol_multiple):g}x rolling volatility' end as problem
        from judged
        where ret is not null
          and (abs(ret) > {float(max_abs_return)!r}
               or (vol_n >= {int(min_periods)} and vol > 0
                   and abs(ret) > {float(vol_multiple)!r} * vol))
          and ({int(lookback_sessions)} = 0 or from_end <= {int(lookback_sessions)})
          and not list_contains({day_list}, trade_date)
          and not ({pair_list})
          {scoped}
    """
    try:
        total, columns, rows = failing_rows(
            conn, _materialise(conn, sql), order_by="abs(daily_return) desc, ticker, trade_date"
        )
    finally:
        conn.execute("drop table if exists _failing")
    scope = (
        "all sessions"
        if not lookback_sessions
        else f"the last {lookback_sessions} sessions of each ticker"
    )
    summary = (
        f"no daily return beyond {vol_multiple:g}x its volatility or {max_abs_return:.0%} "
        f"in {scope}"
        if not total
        else f"{plural(total, 'daily return')} beyond {vol_multiple:g}x volatility or "
        f"{max_abs_return:.0%} in {scope}"
    )
    counts = {"accepted_moves": len(accepted), "checked_from": _checked_from(since)}
    return CheckOutcome(name, total == 0, summary, columns, rows, total, counts)


DEFAULT_PAIRS = {"IWM": "^RUT", "SPY": "^GSPC", "QQQ": "^NDX", "IJR": "^SP600"}


def tracking(
    conn: duckdb.DuckDBPyConnection,
    since: dt.date | None = None,
    *,
    pairs: Mapping[str, str] = DEFAULT_PAIRS,
    max_gap: float = 0.01,
    lookback_sessions: int = 252,
    table: str = TABLE,
) -> CheckOutcome:
    """Each ETF's daily return (adj_close) against its index's on their common sessions: a gap
    above `max_gap` (0.01 = one percentage point) is named. Judges the last `lookback_sessions`
    common sessions of each pair (0: all); with `since`, only those dated `since` or later."""
    name = "prices_etf_tracks_index"
    if not table_exists(conn, table):
        return missing_table(name, table)
    wanted = sorted({*pairs, *pairs.values()})
    present = {
        t
        for (t,) in conn.execute(
            f"select distinct ticker from {table} where ticker in (select unnest(?::varchar[]))",
            [wanted],
        ).fetchall()
    }
    checked = {etf: index for etf, index in pairs.items() if etf in present and index in present}
    unchecked = sorted(f"{etf}/{index}" for etf, index in pairs.items() if etf not in checked)
    counts = {
        "pairs_checked": len(checked),
        "pairs_without_data": ", ".join(unchecked) or "none",
        "checked_from": _checked_from(since),
    }
    if not checked:
        return CheckOutcome(
            name, True, "no ETF of the configured pairs has data with its index", counts=counts
        )
    values = ", ".join(f"({sql_literal(e)}, {sql_literal(i)})" for e, i in sorted(checked.items()))
    names = ", ".join(sql_literal(t) for t in sorted({*checked, *checked.values()}))
    # The pairs' few tickers are read whole: their history is small, and a pair's previous common
    # session can lie any distance before `since`.
    scoped = "" if since is None else f"and trade_date >= {sql_literal(since)}"
    sql = f"""
        with pairs(etf, index_ticker) as (values {values}),
        bars as (select ticker, trade_date, adj_close from {table} where ticker in ({names})),
        joined as (
            select pairs.etf, pairs.index_ticker, e.trade_date,
                   e.adj_close as etf_close, i.adj_close as index_close
            from pairs
            join bars e on e.ticker = pairs.etf
            join bars i on i.ticker = pairs.index_ticker and i.trade_date = e.trade_date
        ),
        returns as (
            select etf, index_ticker, lag(trade_date) over w as previous_session, trade_date,
                   etf_close / lag(etf_close) over w - 1 as etf_return,
                   index_close / lag(index_close) over w - 1 as index_return,
                   row_number() over (partition by etf, index_ticker order by trade_date desc)
                       as from_end
            from joined
            window w as (partition by etf, index_ticker order by trade_date)
        )
        select etf, index_ticker, previous_session, trade_date, etf_return, index_return,
               etf_return - index_return as gap
        from returns
        where abs(etf_return - index_return) > {float(max_gap)!r}
          and ({int(lookback_sessions)} = 0 or from_end <= {int(lookback_sessions)})
          {scoped}
    """
    try:
        total, columns, rows = failing_rows(conn, _materialise(conn, sql), order_by="trade_date desc, etf")
    finally:
        conn.execute("drop table if exists _failing")
    scope = (
        "all common sessions"
        if not lookback_sessions
        else f"the last {lookback_sessions} common sessions"
    )
    summary = (
        f"{plural(len(checked), 'ETF')} track their index within {max_gap:.2%} a day over {scope}"
        if not total
        else f"{plural(total, 'session')} where an ETF's return differs from its index's by more "
        f"than {max_gap:.2%} ({scope})"
    )
    return CheckOutcome(name, total == 0, summary, columns, rows, total, counts)


def _split_ratios(max_denominator: int = 4, max_ratio: int = 100) -> list[float]:
    """Ratios n/m a split (or, inverted, a reverse split) can have: 2, 3, 3/2, 5/4, 10, 20, ..."""
    out = {
        Fraction(n, m)
        for m in range(1, max_denominator + 1)
        for n in range(m + 1, max_ratio * m + 1)
        if Fraction(n, m) >= Fraction(5, 4)
    }
    return sorted(float(f) for f in out)


def adjustment(
    conn: duckdb.DuckDBPyConnection,
    since: dt.date | None = None,
    *,
    tolerance: float = 0.0005,
    max_dividend: float = 0.10,
    max_events_per_year: int = 13,
    split_tolerance: float = 0.01,
    table: str = TABLE,
) -> CheckOutcome:
    """adj_close / close may change only on plausible dividend or split days. Going from one stored
    session to the next, the ratio is unchanged (within `tolerance`, rounding), rises by at most
    `max_dividend` (an ex-dividend day: earlier prices are scaled down), or moves by a split ratio
    (2, 3, 3/2, 10, ... or its inverse, within `split_tolerance`). A fall, a rise that is neither,
    or more than `max_events_per_year` dividend-like changes in a year (a drifting factor) fail.
    With `since`, only changes dated `since` or later are judged (and counted), exactly as in the
    whole table: the year of `since` is read from its start, for the count of a year's changes."""
    name = "prices_adjustment_plausible"
    if not table_exists(conn, table):
        return missing_table(name, table)
    ratios = "[" + ", ".join(repr(r) for r in _split_ratios()) + "]::double[]"
    tol, split_tol = float(tolerance), float(split_tolerance)
    priced = "close > 0 and adj_close > 0"
    source = f"(select * from {table} where {priced})"
    year_start = None if since is None else dt.date(since.year, 1, 1)
    read_from = _read_from(conn, table, year_start, 1)
    if read_from is not None:
        # The year's first change compares with the bar before it.
        source = _with_history(conn, table, priced, read_from, year_start, 1)
    scoped = "" if since is None else f"and trade_date >= {sql_literal(since)}"
    sql = f"""
        with factors as (
            select ticker, trade_date, close, adj_close, adj_close / close as ratio
            from {source}
        ),
        changes as (
            select ticker, lag(trade_date) over w as previous_session, trade_date,
                   lag(ratio) over w as previous_ratio, ratio
            from factors
            window w as (partition by ticker order by trade_date)
        ),
        events as (
            select *, ratio / previous_ratio - 1 as change,
                   ratio / previous_ratio > 1
                       and ratio / previous_ratio <= 1 + {float(max_dividend)!r} as dividend_like,
                   len(list_filter({ratios}, lambda r:
                       abs(ratio / previous_ratio / r - 1) <= {split_tol!r}
                       or abs(ratio / previous_ratio * r - 1) <= {split_tol!r})) > 0 as split_like
            from changes
            where previous_ratio is not null and abs(ratio / previous_ratio - 1) > {tol!r}
        ),
        judged as (
            select *, count(*) filter (where dividend_like)
                over (partition by ticker, year(trade_date)) as dividends_in_year
            from events
        )
        select ticker, previous_session, trade_date, previous_ratio, ratio, change,
               case when dividend_like and dividends_in_year > {int(max_events_per_year)}
                        then dividends_in_year || ' dividend-like changes in ' || year(trade_date)
                             || ' (more than {int(max_events_per_year)}): a drifting factor'
                    when change < 0 then 'adj_close / close fell: not a dividend, not a split ratio'
                    else 'adj_close / close rose by more than a dividend and not by a split ratio'
               end as problem
        from judged
        where not split_like
          and (not dividend_like or dividends_in_year > {int(max_events_per_year)})
          {scoped}
    """
    try:
        total, columns, rows = failing_rows(conn, _materialise(conn, sql), order_by="ticker, trade_date")
    finally:
        conn.execute("drop table if exists _failing")
    events = conn.execute(
        f"""
        with f as (
            select ticker, trade_date, adj_close / close as ratio from {source}
        ),
        c as (
            select trade_date,
                   ratio / lag(ratio) over (partition by ticker order by trade_date) - 1 as change
            from f
        )
        select count(*) filter (where abs(change) > {tol!r}) from c where true {scoped}
        """
    ).fetchall()[0][0]
    counts = {
        "factor_changes": int(events),
        "implausible_changes": total,
        "checked_from": _checked_from(since),
    }
    summary = (
        f"all {plural(int(events), 'change')} of adj_close / close are dividend- or split-shaped"
        if not total
        else f"{plural(total, 'change')} of adj_close / close on no plausible dividend or split day"
    )
    return CheckOutcome(name, total == 0, summary, columns, rows, total, counts)
