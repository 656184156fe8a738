"""Daily bars for every ticker of the universe into core.prices_daily: the configured tickers and
every member of a configured index (warehouse/price_universe.py decides which, from which date)."""


import datetime as dt
from collections import Counter

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from pipelines.defs.metadata import WRITER_POOL, active_metadata, table_metadata
from pipelines.defs.partitions import month_key, monthly_partitions, source_first_date
from pipelines.defs.resources import MarketSourceResource
from pipelines.defs.retries import transient_only
from warehouse import calendar, price_universe, settings
from warehouse.db import ensure_schema
from warehouse.prices import load_prices
from warehouse.sources.base import PriceBatch, Source
from warehouse.sources.live import TRANSIENT
from warehouse.universe import EARLIEST_START, Universe, load_universe


def partition_days(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """The first and last calendar day (New York) of the partition or partition range of the run."""
    window = context.partition_time_window
    first = pd.Timestamp(window.start).tz_convert(calendar.NEW_YORK).date()
    last = (pd.Timestamp(window.end).tz_convert(calendar.NEW_YORK) - pd.Timedelta(days=1)).date()
    return first, last


@dg.asset(
    key=["core", "prices_daily"],
    # The members whose prices are fetched come from core.index_members; without that table (not
    # loaded yet) the configured tickers alone are fetched.
    deps=[dg.AssetKey(["core", "index_members"])],
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WRITER_POOL,
    kinds={"duckdb", "yfinance"},
    owners=["team:data-engineering"],
    tags={"domain": "prices"},
    retry_policy=dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL),
    metadata=table_metadata("core.prices_daily"),
    description=(
        "Daily bars (raw and adjusted close) of every ticker in config/universe.toml and every member "
        "of a configured index (core.index_members), one row per ticker and NYSE session. A member is "
        "fetched from its first snapshot less the longest window the models use; a member with no "
        "stored bar has that history backfilled once, then it is fetched like the rest; members that "
        "fail (delisted, renamed) are named in members_failed and do not fail the run. Each run "
        "loads its partition range plus the sessions before it (history.refetch_sessions) so "
        "revised or partial bars are corrected; bars of a session that has not closed are not "
        "stored. Rows that fail validation go to core.quarantine. "
        "A run that covers the first month loads the whole history the source has; rows before "
        "history.start are left out and counted per ticker (rows_left_out_before_start). "
        "months_without_rows names the run's months the source had no rows for, and each month's "
        "materialisation says how many it got (rows_in_month)."
    ),
)
@transient_only
def prices_daily(
    context: dg.AssetExecutionContext,
    duckdb: DuckDBResource,
    market_source: MarketSourceResource,
) -> dg.MaterializeResult:
    universe = load_universe()
    first_day, last_day = partition_days(context)
    # The current month's partition ends in the future: stop at the last session that closed.
    sessions = calendar.sessions(first_day, min(last_day, calendar.last_completed_session()))
    if not sessions:
        reason = calendar.closed_reason(first_day) if first_day == last_day else "no session"
        context.log.info(f"No NYSE session from {first_day} to {last_day} ({reason}): nothing to load.")
        return dg.MaterializeResult(metadata={**active_metadata(), "rows_written": 0, "skipped_reason": reason})

    source = market_source.prices()
    fetch_from = fetch_start(universe, source, first_day, sessions[0])
    with duckdb.get_connection() as conn:
        ensure_schema(conn)
        plan = plan_members(conn, universe, fetch_from, sessions[-1], context.log)
    context.log.info(
        f"Fetching {len(plan.configured)} configured tickers and {len(plan.members_incremental)} index "
        f"members from the {source.name} source, "
        f"{fetch_from} to {sessions[-1]} ({len(sessions)} sessions of the run's months, "
        + ("from the whole history the source has)" if first_day <= universe.history_start
           else f"+ {universe.refetch_sessions} re-fetched)")
    )
    if plan.members_backfill:
        context.log.info(
            f"Backfilling {len(plan.members_backfill)} index members new to the warehouse, each from its "
            f"first snapshot less {plan.window} sessions (the longest window of the models), in "
            f"{sum(g.backfill for g in plan.groups)} ranges"
        )
    if plan.members_not_due:
        context.log.info(f"{len(plan.members_not_due)} index members not fetched: their membership (less the "
                         f"window before it) lies outside {fetch_from} to {sessions[-1]}")
    batch = fetch_groups(source, plan.groups)
    for note in batch.notes:
        context.log.info(note)
    left_out = leave_out_before(batch, universe.history_start)
    for line in left_out_lines(left_out, universe):
        context.log.warning(line)
    with duckdb.get_connection() as conn:
        ensure_schema(conn)
        load = load_prices(conn, batch, source=source.name, run_id=context.run_id)

    member_failed = {t: why for t, why in load.tickers_failed.items() if t in plan.spans and t not in plan.configured}
    for ticker, why in load.tickers_failed.items():
        if ticker in member_failed:
            span = plan.spans[ticker]
            context.log.warning(
                f"{ticker}: index member ({', '.join(span.indexes)}, first listed {span.first_listed}) not loaded: "
                f"{why}. Not fatal: a delisted or renamed member fails until a snapshot of core.index_members "
                "drops it or maps it to its new symbol"
            )
        else:
            context.log.warning(f"{ticker}: not loaded: {why}")
    if not load.tickers_loaded:
        raise dg.Failure(
            description=f"No ticker loaded from the {source.name} source ({fetch_from} to {sessions[-1]} asked for).",
            metadata={"tickers_failed": dg.MetadataValue.json(load.tickers_failed)},
            # A time-out, a 5xx or a rate limit may pass on the retry; an unknown symbol will not.
            allow_retries=any(TRANSIENT.search(why) for why in load.tickers_failed.values()),
        )
    r = load.result
    history = history_metadata(context, batch, left_out, universe, load.first_date, load.last_date, sessions[-1])
    return dg.MaterializeResult(
        metadata={
            **active_metadata(),
            **history,
            "source": source.name,
            "rows_inserted": r.inserted,
            "rows_updated": r.updated,
            "rows_unchanged": r.unchanged,
            "rows_quarantined": r.quarantined,
            "quarantine_reasons": dg.MetadataValue.json(r.quarantine_reasons),
            "rows_skipped_blank": load.skipped_blank,
            "bars_held_back_unfinished": load.held_back,
            "tickers_loaded": len(load.tickers_loaded),
            "tickers_failed": dg.MetadataValue.json(load.tickers_failed),
            **member_metadata(plan, load.tickers_loaded, member_failed),
            "first_date": str(load.first_date),
            "last_date": str(load.last_date),
            "dagster/row_count": conn_rowcount(duckdb),
        }
    )


def plan_members(
    conn, universe: Universe, fetch_from: dt.date, last_session: dt.date, log=None
) -> price_universe.FetchPlan:
    """The configured tickers over the run's range, and the index members as
    warehouse/price_universe.py decides: stored ones over the run's range, new ones backfilled."""
    # The models' windows are read only when there are members to size: a run of the configured
    # tickers alone never depends on the SQL files.
    window = price_universe.window_sessions(on_skip=log.warning if log else None) if (
        price_universe.has_members(conn)) else 0
    spans = price_universe.member_spans(conn, window, universe.history_start)
    stored = price_universe.stored_tickers(conn, [t for t in spans if t not in set(universe.tickers)])
    # A new member's history is fetched to the last closed session even when the run covers older
    # months: it is fetched once, and a later daily run asks only for its own month.
    backfill_end = max(last_session, calendar.last_completed_session())
    return price_universe.plan_fetch(universe.tickers, spans, stored, fetch_from, last_session, backfill_end, window)


def fetch_groups(source: Source, groups: list[price_universe.FetchGroup]) -> PriceBatch:
    """Every group's bars from the source, as one batch (loaded in one transaction)."""
    batches = [source.daily_bars(list(g.tickers), g.start, g.end) for g in groups]
    if len(batches) == 1:
        return batches[0]
    with_rows = [b.bars for b in batches if len(b.bars)]
    bars = pd.concat(with_rows, ignore_index=True) if with_rows else batches[0].bars
    rejects = [b.rejects for b in batches if len(b.rejects)]
    merged = PriceBatch(bars=bars, rejects=pd.concat(rejects, ignore_index=True) if rejects else batches[0].rejects)
    for b in batches:
        merged.failed.update(b.failed)
        merged.skipped_blank += b.skipped_blank
        merged.notes.extend(b.notes)
    return merged


def member_metadata(plan: price_universe.FetchPlan, loaded: list[str], failed: dict[str, str]) -> dict:
    """How the index members fared: fetched over the run's range, backfilled, failed by name."""
    got = set(loaded)
    return {
        "members_fetched": sum(t in got for t in plan.members_incremental),
        "members_backfilled": sum(t in got for t in plan.members_backfill),
        "members_failed": dg.MetadataValue.json(dict(sorted(failed.items()))),
        "members_not_due": len(plan.members_not_due),
        "member_window_sessions": plan.window,
    }


def conn_rowcount(duckdb: DuckDBResource) -> int:
    with duckdb.get_connection() as conn:
        return conn.execute("select count(*) from core.prices_daily").fetchone()[0]


# --- history: where a run starts, what it leaves out, which months got no rows -----------------


def fetch_start(universe: Universe, source: Source, first_day: dt.date, first_session: dt.date) -> dt.date:
    """The first day the run asks the source for.

    A run that covers the first partition asks for the whole history the source has (from the
    earliest date it knows of, at latest EARLIEST_START), so a file loads from its first row and the
    rows before a configured history.start can be counted before they are left out. Any other run
    asks from history.refetch_sessions sessions before its first session (not before the start).
    """
    if first_day <= universe.history_start:
        known = source_first_date(source, universe.tickers)
        return min(EARLIEST_START, known) if known else EARLIEST_START
    return max(calendar.shift_sessions(first_session, -universe.refetch_sessions), universe.history_start)


def leave_out_before(batch: PriceBatch, start: dt.date) -> dict[str, int]:
    """Drop the batch's bars dated before `start`, in place; the count left out per ticker."""
    bars = batch.bars
    before = bars["trade_date"] < start
    if not before.any():
        return {}
    counts = bars.loc[before, "ticker"].value_counts()
    batch.bars = bars[~before].reset_index(drop=True)
    return {str(t): int(n) for t, n in sorted(counts.items())}


def start_reason(universe: Universe) -> str:
    """Why rows before the history start are not kept, in words, with the file to change."""
    try:
        where = universe.path.resolve().relative_to(settings.PROJECT_ROOT)
    except ValueError:
        where = universe.path
    if universe.start_configured:
        return f"history.start in {where}"
    return f"the warehouse's history starts on {EARLIEST_START}, the first session of its NYSE calendar"


def left_out_lines(left_out: dict[str, int], universe: Universe) -> list[str]:
    """One line per ticker: '^GSPC: 15,530 rows before 1990-01-02 left out (history.start in ...)'."""
    why = start_reason(universe)
    return [f"{t}: {n:,} rows before {universe.history_start} left out ({why})" for t, n in left_out.items()]


def month_rows(bars) -> Counter:
    """Rows per monthly partition key."""
    per_month: Counter = Counter()
    for day, n in bars["trade_date"].value_counts().items():
        per_month[month_key(day)] += int(n)
    return per_month


def history_metadata(
    context: dg.AssetExecutionContext,
    batch: PriceBatch,
    left_out: dict[str, int],
    universe: Universe,
    first_loaded: dt.date | None,
    last_loaded: dt.date | None,
    last_session: dt.date,
) -> dict:
    """What the run's months hold: the months of its range the source returned no rows for (also
    as rows_in_month on each partition's own materialisation), the rows left out before the
    history start, and the first and last date loaded. Logged too."""
    per_month = month_rows(batch.bars)
    keys = context.partition_keys
    empty = [k for k in keys if not per_month.get(k)]
    for key in keys:
        context.add_asset_metadata({"rows_in_month": per_month.get(key, 0)}, partition_key=key)
    context.log.info(f"Loaded bars dated {first_loaded} to {last_loaded}")
    if empty:
        # The current month before its first close: no row yet is no gap.
        open_months = [k for k in empty if k > month_key(last_session)]
        context.log.warning(
            f"{len(empty)} of the run's {len(keys)} months got no rows from the source: {month_spans(empty)}"
            + (f" ({month_spans(open_months)}: no session has closed in it yet)" if open_months else "")
        )
    return {
        "history_start": str(universe.history_start),
        "months_without_rows": dg.MetadataValue.json(empty),
        "rows_left_out_before_start": dg.MetadataValue.json(left_out),
    }


def month_spans(keys: list[str]) -> str:
    """Consecutive month keys as spans: '1927-12 .. 2014-12 (1045 months), 2020-03'."""
    spans: list[list[str]] = []
    for key in keys:
        if spans and _next_month(spans[-1][-1]) == key:
            spans[-1].append(key)
        else:
            spans.append([key])
    return ", ".join(
        span[0][:7] if len(span) == 1 else f"{span[0][:7]} .. {span[-1][:7]} ({len(span)} months)" for span in spans
    )


def _next_month(key: str) -> str:
    year, month = int(key[:4]), int(key[5:7])
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}-01"

