"""Daily bars for every ticker of the universe into core.prices_daily."""


import datetime as dt

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from pipelines.defs.metadata import WRITER_POOL, table_metadata
from pipelines.defs.partitions import monthly_partitions
from pipelines.defs.resources import MarketSourceResource
from warehouse import calendar
from warehouse.db import ensure_schema
from warehouse.prices import load_prices
from warehouse.universe import load_universe


def partition_days(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """The first and last calendar day (New York) of the partition or partition range of the run."""
    window = context.partition_time_window
    first = pd.Timestamp(window.start).tz_convert(calendar.NEW_YORK).date()
    last = (pd.Timestamp(window.end).tz_convert(calendar.NEW_YORK) - pd.Timedelta(days=1)).date()
    return first, last


@dg.asset(
    key=["core", "prices_daily"],
    group_name="ingest",
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WRITER_POOL,
    kinds={"duckdb", "yfinance"},
    owners=["team:data-engineering"],
    tags={"domain": "prices"},
    retry_policy=dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL),
    metadata=table_metadata("core.prices_daily"),
    description=(
        "Daily bars (raw and adjusted close) of every ticker in config/universe.toml, one row per "
        "ticker and NYSE session. Each run loads its partition range plus the sessions before it "
        "(history.refetch_sessions) so revised or partial bars are corrected; bars of a session "
        "that has not closed are not stored. Rows that fail validation go to core.quarantine."
    ),
)
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
        return dg.MaterializeResult(metadata={"rows_written": 0, "skipped_reason": reason})

    fetch_from = calendar.shift_sessions(sessions[0], -universe.refetch_sessions)
    source = market_source.prices()
    context.log.info(
        f"Fetching {len(universe.tickers)} tickers from the {source.name} source, "
        f"{fetch_from} to {sessions[-1]} ({len(sessions)} sessions + {universe.refetch_sessions} re-fetched)"
    )
    batch = source.daily_bars(universe.tickers, fetch_from, sessions[-1])
    for note in batch.notes:
        context.log.info(note)
    with duckdb.get_connection() as conn:
        ensure_schema(conn)
        load = load_prices(conn, batch, source=source.name, run_id=context.run_id)

    for ticker, why in load.tickers_failed.items():
        context.log.warning(f"{ticker}: not loaded: {why}")
    if not load.tickers_loaded:
        raise dg.Failure(
            description=f"No ticker loaded from the {source.name} source.",
            metadata={"tickers_failed": dg.MetadataValue.json(load.tickers_failed)},
        )
    r = load.result
    return dg.MaterializeResult(
        metadata={
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
            "first_date": str(load.first_date),
            "last_date": str(load.last_date),
            "dagster/row_count": conn_rowcount(duckdb),
        }
    )


def conn_rowcount(duckdb: DuckDBResource) -> int:
    with duckdb.get_connection() as conn:
        return conn.execute("select count(*) from core.prices_daily").fetchone()[0]
