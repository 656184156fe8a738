"""Asset checks of core/prices_daily; the logic is warehouse/checks/prices.py."""

import dagster as dg

from pipelines.defs.checks.common import (
    ERROR,
    WARN,
    CheckDef,
    asset_checks,
    no_rows_quarantined,
    schema_matches_ddl,
)
from warehouse.checks import prices
from warehouse.universe import load_universe

PRICES_KEY = dg.AssetKey(["core", "prices_daily"])
TABLE = "core.prices_daily"


def _tickers() -> list[str]:
    return list(load_universe().tickers)


CHECKS = [
    CheckDef(
        "prices_integrity",
        lambda conn, cfg, run: prices.integrity(conn, **cfg),
        ERROR,
        blocking=True,
        config_key="prices.integrity",
        description=(
            "Protects every mart from corrupt bars: one row per (ticker, trade_date), close and "
            "adj_close present and positive, low <= min(open, close) <= max(open, close) <= high "
            "(within ohlc_tolerance), volume not negative. ERROR and blocking: the marts are not "
            "built while it fails. When it fails: the failing_rows name each bad bar; fix the "
            "source file (files source) or delete the rows and re-run the partition (live), then "
            "re-materialise core/prices_daily."
        ),
    ),
    schema_matches_ddl(TABLE, "10_prices.sql"),
    CheckDef(
        "prices_calendar_complete",
        lambda conn, cfg, run: prices.completeness(conn, **cfg),
        WARN,
        config_key="prices.completeness",
        description=(
            "Protects returns and windows from silent gaps: every NYSE session (exchange_calendars "
            "XNYS: holidays, special closures and early closes) between a ticker's first and last "
            "stored date has a row, and no row is dated on a non-session. WARN: a source can "
            "legitimately lack a day (a halt), and the marts still compute across a gap. When it "
            "fails: re-run the month's partition; a row on a holiday usually means the source's "
            "dates are shifted (time zone) - check the file or the source."
        ),
    ),
    CheckDef(
        "prices_fresh",
        lambda conn, cfg, run: prices.freshness(conn, tickers=_tickers(), **cfg),
        WARN,
        config_key="prices.freshness",
        description=(
            "Protects the 'latest' figures from being stale: every ticker of config/universe.toml "
            "has a bar of the last completed NYSE session at run time (New York time, early closes "
            "included); lagging tickers are named. A bar of a session still open is named too. "
            "WARN: the marts stay correct up to their latest date. When it fails: materialise the "
            "current month's partition of core/prices_daily; a ticker that keeps lagging was "
            "probably delisted or renamed at the source."
        ),
    ),
    CheckDef(
        "prices_no_stale_bars",
        lambda conn, cfg, run: prices.stale_bars(conn, **cfg),
        WARN,
        config_key="prices.stale_bars",
        description=(
            "Protects returns from a source that repeats its last bar: no run of min_sessions or "
            "more consecutive sessions with identical open, high, low and close (e.g. a Friday bar "
            "served again on Monday, Tuesday, Wednesday). WARN: an illiquid ticker can really not "
            "trade. When it fails: re-fetch those sessions (re-run their partitions) and compare "
            "with another source."
        ),
    ),
    CheckDef(
        "prices_outliers",
        lambda conn, cfg, run: prices.outliers(conn, **cfg),
        WARN,
        config_key="prices.outliers",
        description=(
            "Protects the metrics from bad prints: daily returns of adj_close beyond "
            "vol_multiple x "
            "the ticker's rolling volatility or beyond max_abs_return (25%), named. adj_close is "
            "used so a split in the raw close is no jump. WARN: real markets move. When it fails: "
            "compare the bar with another source; a real move goes into [prices.outliers] "
            "accepted, "
            "a bad print is fixed at the source and the partition re-run."
        ),
    ),
    CheckDef(
        "prices_etf_tracks_index",
        lambda conn, cfg, run: prices.tracking(conn, **cfg),
        WARN,
        config_key="prices.tracking",
        description=(
            "Protects the ETF/index pairs (IWM vs ^RUT, SPY vs ^GSPC, QQQ vs ^NDX, IJR vs ^SP600) "
            "from a stale or mislabelled series: each ETF's daily return against its index's on "
            "their common sessions, gaps above max_gap named. WARN: ETFs trade at a premium or "
            "discount on wild days. When it fails on many days in a row, one side is stale or "
            "wrong: look at both tickers' bars around those dates."
        ),
    ),
    CheckDef(
        "prices_adjustment_plausible",
        lambda conn, cfg, run: prices.adjustment(conn, **cfg),
        WARN,
        config_key="prices.adjustment",
        description=(
            "Protects total returns (adj_close) from a broken adjustment: adj_close / close "
            "changes "
            "only as a dividend (a small rise) or a split (a ratio like 2, 3, 3/2 or its inverse) "
            "would change it, at most max_events_per_year dividend-like times a year. WARN. When "
            "it fails: the source revised its adjustment for part of the history only; reload the "
            "ticker's whole history from one download."
        ),
    ),
    no_rows_quarantined(
        TABLE,
        what="rows",
        why="NULL or non-positive close, unparseable date, one key twice with different values",
        fix="fix the rows at the source (the origin column names the file and line) and re-run the partition.",
    ),
]

prices_checks = asset_checks(PRICES_KEY, CHECKS, name="core__prices_daily__checks")
