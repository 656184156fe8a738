"""Asset checks of core/prices_daily; the logic is warehouse/checks/prices.py."""

import datetime as dt

import dagster as dg
import duckdb

from pipelines.defs.checks.common import (
    ERROR,
    WARN,
    CheckDef,
    RunInfo,
    asset_checks,
    no_rows_quarantined,
    schema_matches_ddl,
)
from warehouse.checks import prices
from warehouse.checks.scope import latest_load_start
from warehouse.universe import load_universe

PRICES_KEY = dg.AssetKey(["core", "prices_daily"])
TABLE = "core.prices_daily"


def _tickers() -> list[str]:
    return list(load_universe().tickers)


def _since(conn: duckdb.DuckDBPyConnection, run: RunInfo) -> dt.date | None:
    """The first date the latest load of the table changed (None: judge the whole table)."""
    # Looked up once per check run: every check of the run must judge the same scope.
    if "prices_since" not in run.extra:
        run.extra["prices_since"] = latest_load_start(conn, run.load_run_id, TABLE)
    return run.extra["prices_since"]


CHECKS = [
    CheckDef(
        "prices_integrity",
        lambda conn, cfg, run: prices.integrity(conn, _since(conn, run), **cfg),
        ERROR,
        blocking=True,
        config_key="prices.integrity",
        description=(
            "Protects every mart from systemic faults in the bars, not from one bad bar (the loader "
            "quarantines those with their reason, file and line; see no_rows_quarantined). Fails "
            "when a (ticker, trade_date) is stored twice; when a stored row breaks a load rule (NULL "
            "key, NaN/infinite or non-positive price, high below low, open or close outside [low, "
            "high] beyond ohlc_tolerance, negative volume, a date that is not an NYSE session), "
            "which only happens when the table was written without the loader; when the table is "
            "empty or holds fewer rows than after its last load; or when the last load of a ticker "
            "refused more than max_rejected_share of its rows (batches of min_batch_rows or more). "
            "Keys and load rules are judged on the dates the latest load changed (checked_from in "
            "the metadata), and on the whole table whenever its row count differs from the one its "
            "last load logged (a write outside the loader can be at any date); size and refusals "
            "are always judged whole. "
            "ERROR and blocking: only what depends on core/prices_daily is stopped while it fails. "
            "When it fails: the failing_rows name the ticker or the bar. A mostly refused ticker has "
            "a broken file or source (core.quarantine gives the reasons and lines): fix it and "
            "re-materialise the partition. Duplicated or rule-breaking rows were written by hand: "
            "delete them and re-run the partition. A shrunk table: re-run the partitions that lost rows."
        ),
    ),
    schema_matches_ddl(TABLE, "10_prices.sql"),
    CheckDef(
        "prices_calendar_complete",
        lambda conn, cfg, run: prices.completeness(conn, _since(conn, run), **cfg),
        WARN,
        config_key="prices.completeness",
        description=(
            "Protects returns and windows from silent gaps: every NYSE session (exchange_calendars "
            "XNYS: holidays, special closures and early closes) between a ticker's first and last "
            "stored date has a row, and no row is dated on a non-session. A session missing because its "
            "bar was quarantined at load is named with the reason and the file and line. WARN: a source can "
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
        lambda conn, cfg, run: prices.stale_bars(conn, _since(conn, run), **cfg),
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
        lambda conn, cfg, run: prices.outliers(conn, _since(conn, run), **cfg),
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
        lambda conn, cfg, run: prices.tracking(conn, _since(conn, run), **cfg),
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
        lambda conn, cfg, run: prices.adjustment(conn, _since(conn, run), **cfg),
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
        why=(
            "NaN, infinite, NULL or non-positive prices, high below low, open or close outside [low, high] "
            "beyond ohlc_tolerance, negative volume, a date that is not an NYSE session, an unparseable "
            "date, one key twice with different values; the rest of the ticker loads"
        ),
        fix=(
            "fix the rows at the source (the origin column names the file and line) and re-run the "
            "partition; prices_calendar_complete shows the hole each one leaves."
        ),
    ),
]

prices_checks = asset_checks(PRICES_KEY, CHECKS, name="core__prices_daily__checks")
