"""Loading daily bars into core.prices_daily."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from warehouse import calendar
from warehouse.load import LoadResult, TableSpec, upsert
from warehouse.sources.base import PRICE_COLUMNS, PriceBatch

PRICES = TableSpec(
    name="core.prices_daily",
    key=("ticker", "trade_date"),
    date_column="trade_date",
    values=("open", "high", "low", "close", "adj_close", "volume"),
    rules=(
        ("close is NULL or not positive", "close is null or not (close > 0)"),
        ("adj_close is NULL or not positive", "adj_close is null or not (adj_close > 0)"),
    ),
)


@dataclass
class PriceLoad:
    result: LoadResult
    tickers_loaded: list[str]
    tickers_failed: dict[str, str]
    first_date: dt.date | None
    last_date: dt.date | None
    held_back: int  # bars of sessions not closed yet, not stored
    skipped_blank: int
    notes: list[str]


def drop_unfinished(bars: pd.DataFrame, now: pd.Timestamp | None = None) -> tuple[pd.DataFrame, int]:
    """Remove bars of sessions that had not closed (and settled) at `now`: they are not final."""
    if bars.empty:
        return bars, 0
    last_final = calendar.last_completed_session(now)
    keep = bars["trade_date"] <= last_final
    return bars[keep], int((~keep).sum())


def load_prices(
    conn: duckdb.DuckDBPyConnection,
    batch: PriceBatch,
    *,
    source: str,
    run_id: str | None = None,
    now: pd.Timestamp | None = None,
) -> PriceLoad:
    bars, held_back = drop_unfinished(batch.bars[PRICE_COLUMNS], now)
    result = upsert(conn, PRICES, bars, source=source, run_id=run_id, rejects=batch.rejects)
    dates = bars["trade_date"]
    return PriceLoad(
        result=result,
        tickers_loaded=sorted(bars["ticker"].unique().tolist()),
        tickers_failed=dict(sorted(batch.failed.items())),
        first_date=dates.min() if len(dates) else None,
        last_date=dates.max() if len(dates) else None,
        held_back=held_back,
        skipped_blank=batch.skipped_blank,
        notes=list(batch.notes),
    )
