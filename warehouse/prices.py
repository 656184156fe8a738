"""Loading daily bars into core.prices_daily.

What a bar must pass to be stored (each rule's reason is what core.quarantine says):

- a ticker and a trade_date (a NULL in either refuses the row);
- open, high, low, close, adj_close and volume are not NaN or infinite;
- close and adj_close present and positive; open, high and low positive when given;
- volume not negative;
- high not below low; close and open within [low, high], give or take `ohlc_tolerance` relative
  (vendors round: 0.001 = 0.1%, config/checks.toml [prices.integrity]);
- trade_date an NYSE session (warehouse/calendar.py);
- the batch does not give the same (ticker, trade_date) twice with different values.

A bar failing one of them is quarantined with its reason, source, run, and its file and line when
the source says where it came from; the other bars of its ticker load. A NULL open, high or low (a
close-only source) passes.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import duckdb
import pandas as pd

from warehouse import calendar
from warehouse.load import ORIGIN_COLUMNS, LoadResult, TableSpec, upsert
from warehouse.sources.base import PRICE_COLUMNS, PriceBatch

# The default relative slack of the OHLC rules; the configured one is [prices.integrity]
# ohlc_tolerance in config/checks.toml, which the integrity check uses too.
OHLC_TOLERANCE = 0.001
PRICE_FIELDS = ("open", "high", "low", "close", "adj_close")


def price_rules(ohlc_tolerance: float = OHLC_TOLERANCE) -> tuple[tuple[str, str, str], ...]:
    """(name, reason, SQL predicate over a bar) of every rule of a stored bar, in the order the
    loader applies them (a bar is quarantined with the first reason it matches).

    The NULL key, the NYSE calendar and duplicates are judged by the loader itself (TableSpec)
    and by the integrity check; these rules are the ones over a bar's own values."""
    tol = float(ohlc_tolerance)
    if not (math.isfinite(tol) and 0 <= tol < 1):
        raise ValueError(f"ohlc_tolerance must be a fraction from 0 to 1 (0.001 = 0.1%), not {ohlc_tolerance!r}")
    rules = [
        # isfinite(NULL) is NULL: a missing open, high, low or volume is no error here.
        (f"{c}_not_finite", f"{c} is NaN or infinite", f"not isfinite(cast({c} as double))")
        for c in (*PRICE_FIELDS, "volume")
    ]
    rules += [
        ("close_not_positive", "close is NULL or not positive", "close is null or close <= 0"),
        ("adj_close_not_positive", "adj_close is NULL or not positive", "adj_close is null or adj_close <= 0"),
    ]
    rules += [(f"{c}_not_positive", f"{c} is not positive", f"{c} <= 0") for c in ("open", "high", "low")]
    slack = f"by more than {tol:.2%}"
    rules += [
        ("negative_volume", "volume is negative", "volume < 0"),
        ("high_below_low", "high below low", "high < low"),
        (
            "close_outside_low_high",
            f"close outside [low, high] {slack}",
            f"close < low * (1 - {tol!r}) or close > high * (1 + {tol!r})",
        ),
        (
            "open_outside_low_high",
            f"open outside [low, high] {slack}",
            f"open < low * (1 - {tol!r}) or open > high * (1 + {tol!r})",
        ),
    ]
    return tuple(rules)


def price_spec(ohlc_tolerance: float = OHLC_TOLERANCE) -> TableSpec:
    """How bars are upserted into core.prices_daily, with the OHLC rules at that tolerance."""
    return TableSpec(
        name="core.prices_daily",
        key=("ticker", "trade_date"),
        date_column="trade_date",
        values=("open", "high", "low", "close", "adj_close", "volume"),
        rules=tuple((reason, predicate) for _, reason, predicate in price_rules(ohlc_tolerance)),
        session_column="trade_date",
        batch_log_by="ticker",
    )


PRICES = price_spec()


def configured_tolerance() -> float:
    """[prices.integrity] ohlc_tolerance of config/checks.toml (the default when not set)."""
    from warehouse.checks.config import load_config

    return float(load_config()["prices.integrity"]["ohlc_tolerance"])


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
    """Remove bars of sessions that had not closed (and settled) at `now`: they are not final.

    A bar without a date is kept: the loader quarantines it with its reason."""
    if bars.empty:
        return bars, 0
    last_final = calendar.last_completed_session(now)
    keep = bars["trade_date"].isna() | (bars["trade_date"] <= last_final)
    return bars[keep], int((~keep).sum())


def load_prices(
    conn: duckdb.DuckDBPyConnection,
    batch: PriceBatch,
    *,
    source: str,
    run_id: str | None = None,
    now: pd.Timestamp | None = None,
    ohlc_tolerance: float | None = None,
) -> PriceLoad:
    """Upsert the batch's bars: bars failing a rule are quarantined, the others load.

    `ohlc_tolerance` defaults to [prices.integrity] ohlc_tolerance of config/checks.toml. The
    rows given and refused per ticker are logged in meta.load_batches (see warehouse/load.py)."""
    tolerance = configured_tolerance() if ohlc_tolerance is None else ohlc_tolerance
    columns = [*PRICE_COLUMNS, *(c for c in ORIGIN_COLUMNS if c in batch.bars.columns)]
    bars, held_back = drop_unfinished(batch.bars[columns], now)
    result = upsert(conn, price_spec(tolerance), bars, source=source, run_id=run_id, rejects=batch.rejects)
    dates = bars["trade_date"].dropna()
    return PriceLoad(
        result=result,
        tickers_loaded=sorted(bars["ticker"].dropna().unique().tolist()),
        tickers_failed=dict(sorted(batch.failed.items())),
        first_date=dates.min() if len(dates) else None,
        last_date=dates.max() if len(dates) else None,
        held_back=held_back,
        skipped_blank=batch.skipped_blank,
        notes=list(batch.notes),
    )
