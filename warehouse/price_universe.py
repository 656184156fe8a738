"""Which tickers the prices ingest fetches, and from which date.

The price universe is the tickers configured in config/universe.toml plus every member of a
configured index (core.index_members). A member is needed from the first snapshot that lists it,
less the longest window the models use, so that its first session as a member already has a full
window behind it (a 200-session average, a 52-week high); and up to the session before the first
snapshot that no longer lists it (a member still listed in its index's latest snapshot is needed
to the present).

How a member is fetched depends on what the warehouse holds:
- a member with stored bars is fetched like a configured ticker: the run's range plus the
  re-fetched sessions before it;
- a member with no stored bar (new to the warehouse) has its history backfilled once, from its
  needed start to the last closed session, whatever months the run covers: its history does not
  depend on the run's range, and a backfill that stopped at an old run's end would leave a gap
  no later daily run fills;
- a member whose membership ended before the run's range is not fetched (it has left the index;
  asking for it every day would name every delisted former member as a failure, every day).

The longest window is read from the models themselves: each incremental model declares, over
the parameters of config/models.toml, how many rows before a date its windows need
(`lookback_rows`), so a parameter raised there (high_window = 504) widens the members' history
too, without a second number to keep in step.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import duckdb

from warehouse import calendar, settings

MEMBERS_TABLE = "core.index_members"
# A weekly model's window counts ISO weeks; a week holds at most this many sessions.
SESSIONS_PER_WEEK = 5


# Parameters of config/models.toml named like these count sessions of a window (high_window,
# breadth_sma_long, ...): the floor of the window, should a model's header be unreadable.
WINDOW_PARAM = re.compile(r"_window$|_sma_")


def window_sessions(
    params: dict | None = None, models: Sequence | None = None, on_skip: Callable[[str], None] | None = None
) -> int:
    """Sessions of prices a ticker needs before a date for every model's windows to be full there.

    The largest `lookback_rows` of the incremental models (weekly ones in sessions), evaluated
    over `params` (config/models.toml), and at least the largest window parameter there; plus
    one: the first row of a window is a daily return, which reads the close of the session
    before it. A model file that cannot be read is left out and named through `on_skip`: a mart
    being edited must not stop the ingest of prices (its own build will fail, by name).
    """
    from warehouse import models as sql_models

    params = sql_models.load_params() if params is None else params
    if models is None:
        models = []
        sql_dir = settings.sql_dir()
        for layer in sql_models.LAYERS:
            for path in sorted((sql_dir / layer).glob("*.sql")):
                try:
                    models.append(sql_models.parse_model(path, layer))
                except sql_models.ModelError as exc:
                    if on_skip:
                        on_skip(f"{path.name} left out of the members' history window: {exc}")
    longest = max(
        (v for k, v in params.items() if WINDOW_PARAM.search(k) and isinstance(v, int) and not isinstance(v, bool)),
        default=0,
    )
    with duckdb.connect() as conn:
        for model in models:
            inc = model.incremental
            if inc is None:
                continue
            try:
                text = sql_models._render_params(model, inc.lookback_rows, params)
                rows = int(conn.execute(f"select ({text})::bigint").fetchone()[0])
            except (sql_models.ModelError, duckdb.Error, TypeError) as exc:
                if on_skip:
                    on_skip(f"{model.path.name} left out of the members' history window: lookback_rows: {exc}")
                continue
            longest = max(longest, rows * (SESSIONS_PER_WEEK if inc.grain == "week" else 1))
    return longest + 1


@dataclass(frozen=True)
class MemberSpan:
    """When one member's prices are needed."""

    ticker: str
    indexes: tuple[str, ...]  # the indexes whose snapshots list it
    first_listed: dt.date  # the first snapshot that lists it
    start: dt.date  # first_listed less the longest window (not before the history start)
    until: dt.date | None  # the last session it was a member; None while it still is

    def overlaps(self, first: dt.date, last: dt.date) -> bool:
        return self.start <= last and (self.until is None or self.until >= first)


def members_table_exists(conn: duckdb.DuckDBPyConnection) -> bool:
    schema, name = MEMBERS_TABLE.split(".")
    return bool(
        conn.execute(
            "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, name]
        ).fetchone()[0]
    )


def has_members(conn: duckdb.DuckDBPyConnection) -> bool:
    return members_table_exists(conn) and conn.execute(f"select count(*) > 0 from {MEMBERS_TABLE}").fetchone()[0]


def member_spans(
    conn: duckdb.DuckDBPyConnection, window: int, history_start: dt.date
) -> dict[str, MemberSpan]:
    """Every member of core.index_members and when its prices are needed; {} without the table
    (membership not loaded yet: the configured tickers alone are the universe)."""
    if not members_table_exists(conn):
        return {}
    rows = conn.execute(
        f"""
        with snapshots as (
            select distinct index_id, as_of_date from {MEMBERS_TABLE}
        ),

        next_snapshot as (
            select index_id, as_of_date,
                   lead(as_of_date) over (partition by index_id order by as_of_date) as next_date
            from snapshots
        ),

        listed as (
            select ticker, index_id, min(as_of_date) as first_listed, max(as_of_date) as last_listed
            from {MEMBERS_TABLE}
            where ticker is not null
            group by ticker, index_id
        )

        select l.ticker,
               list(distinct l.index_id order by l.index_id) as indexes,
               min(l.first_listed) as first_listed,
               -- still listed by the latest snapshot of one of its indexes: a member today
               bool_or(n.next_date is null) as current,
               max(n.next_date) as left_on
        from listed as l
        join next_snapshot as n on n.index_id = l.index_id and n.as_of_date = l.last_listed
        group by l.ticker
        order by l.ticker
        """
    ).fetchall()
    spans = {}
    for ticker, indexes, first_listed, current, left_on in rows:
        start = max(calendar.shift_sessions(first_listed, -window), history_start)
        # Not a member from the snapshot that dropped it: needed to the session before that.
        until = None if current else calendar.shift_sessions(left_on - dt.timedelta(days=1), 0)
        spans[ticker] = MemberSpan(ticker, tuple(indexes), first_listed, start, until)
    return spans


def stored_tickers(conn: duckdb.DuckDBPyConnection, tickers: Iterable[str]) -> set[str]:
    """Those of `tickers` with at least one bar in core.prices_daily."""
    wanted = sorted(set(tickers))
    if not wanted:
        return set()
    found = conn.execute(
        "select distinct ticker from core.prices_daily where ticker in (select unnest(?::varchar[]))", [wanted]
    ).fetchall()
    return {t for (t,) in found}


@dataclass(frozen=True)
class FetchGroup:
    """Tickers asked for over one range (a source answers one range per call)."""

    tickers: tuple[str, ...]
    start: dt.date
    end: dt.date
    backfill: bool  # new members' whole needed history, not the run's range


@dataclass
class FetchPlan:
    groups: list[FetchGroup]
    configured: tuple[str, ...]
    members_incremental: tuple[str, ...] = ()  # stored members, fetched over the run's range
    members_backfill: tuple[str, ...] = ()  # members without a stored bar: history from their start
    members_not_due: tuple[str, ...] = ()  # membership outside the run's range
    spans: dict[str, MemberSpan] = field(default_factory=dict)
    window: int = 0  # sessions of history a member needs before its first snapshot

    @property
    def members(self) -> tuple[str, ...]:
        return self.members_incremental + self.members_backfill

    @property
    def tickers(self) -> tuple[str, ...]:
        return self.configured + self.members


def plan_fetch(
    configured: Sequence[str],
    spans: dict[str, MemberSpan],
    stored: set[str],
    run_start: dt.date,
    run_end: dt.date,
    backfill_end: dt.date,
    window: int = 0,
) -> FetchPlan:
    """What to ask the source for: the configured tickers and the stored members over the run's
    range in one group; each set of new members sharing a start from there to `backfill_end`.

    A member is never asked for outside its span: a member that left during the run's range is
    asked for up to its last session as a member (in a group of its own range). Bars after it
    would be new rows dated before the run's last session, and a stored row changed on an older
    date makes every incremental model rebuild from that date.
    """
    configured = tuple(dict.fromkeys(configured))
    is_configured = set(configured)
    incremental, not_due = [], []
    ranged: dict[tuple[dt.date, dt.date], list[str]] = defaultdict(list)
    backfill: dict[tuple[dt.date, dt.date], list[str]] = defaultdict(list)
    for ticker in sorted(spans):
        if ticker in is_configured:
            continue  # fetched as configured, from the run's start (and its whole history when asked)
        span = spans[ticker]
        if ticker in stored:
            if not span.overlaps(run_start, run_end):
                not_due.append(ticker)
                continue
            incremental.append(ticker)
            end = run_end if span.until is None else min(run_end, span.until)
            ranged[(max(run_start, span.start), end)].append(ticker)
            continue
        end = backfill_end if span.until is None else min(backfill_end, span.until)
        if span.start > end:
            not_due.append(ticker)
            continue
        backfill[(span.start, end)].append(ticker)
    groups = []
    with_run = ranged.pop((run_start, run_end), [])
    if configured or with_run:
        groups.append(FetchGroup((*configured, *with_run), run_start, run_end, backfill=False))
    for (start, end), tickers in sorted(ranged.items()):
        groups.append(FetchGroup(tuple(tickers), start, end, backfill=False))
    for (start, end), tickers in sorted(backfill.items()):
        groups.append(FetchGroup(tuple(tickers), start, end, backfill=True))
    return FetchPlan(
        groups=groups,
        configured=configured,
        members_incremental=tuple(incremental),
        members_backfill=tuple(t for g in groups if g.backfill for t in g.tickers),
        members_not_due=tuple(not_due),
        spans=spans,
        window=window,
    )
