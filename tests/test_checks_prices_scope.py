"""The checks of core.prices_daily scoped to what the latest load changed (`since`).

A scoped call must name exactly the failures of the whole-table call that fall in its scope, and
nothing before it; a failure whose look-back crosses the scope's start is still found whole.
Clean data is the synthetic sample on real NYSE sessions, 2023 and 2024.
"""

import datetime as dt

import pandas as pd
import pytest

from warehouse import calendar, changes
from warehouse.checks import prices as checks
from warehouse.checks.config import load_config
from warehouse.checks.scope import latest_load_start
from warehouse.prices import load_prices
from warehouse.sources.sample import SampleSource

D = dt.date
AFTER_2024 = pd.Timestamp("2025-01-02 12:00", tz="UTC")
TICKERS = ["IWM", "^RUT", "SPY", "^GSPC"]
# A Monday; the sessions before it: Fri 2024-10-11, Thu 10-10, Wed 10-09, Tue 10-08, Mon 10-07.
SINCE = D(2024, 10, 14)


def defaults(name: str, **changed) -> dict:
    return {**load_config()[f"prices.{name}"], **changed}


@pytest.fixture
def clean(conn):
    batch = SampleSource().daily_bars(TICKERS, D(2023, 1, 3), D(2024, 12, 31))
    load_prices(conn, batch, source="sample", now=AFTER_2024, run_id="run-full")
    return conn


def session(day: dt.date, shift: int) -> dt.date:
    return calendar.shift_sessions(day, shift)


def both(fn, conn, **kw):
    """(the whole-table outcome, the outcome scoped to SINCE)."""
    return fn(conn, **kw), fn(conn, since=SINCE, **kw)


def repeat_bar(conn, ticker, source_day, days):
    for day in days:
        conn.execute(
            """
            update core.prices_daily t
            set open = s.open, high = s.high, low = s.low, close = s.close,
                adj_close = s.adj_close, volume = s.volume
            from core.prices_daily s
            where s.ticker = t.ticker and s.trade_date = ? and t.ticker = ? and t.trade_date = ?
            """,
            [source_day, ticker, day],
        )


def keys(outcome, *columns):
    """The columns of the failing rows; floats to 12 digits, as a window's sum over fewer rows
    may round the last bit differently."""
    return [tuple(round(r[c], 12) if isinstance(r[c], float) else r[c] for c in columns) for r in outcome.records()]


# --- the scope of the latest load -------------------------------------------------------------


def test_latest_load_start_is_the_earliest_date_the_run_and_later_writes_changed(clean):
    changes.record(clean, "core.prices_daily", D(2024, 12, 30), "run-a")
    changes.record(clean, "core.prices_daily", D(2024, 12, 2), "run-a")  # a second partition
    changes.record(clean, "marts.returns_daily", D(2020, 1, 2), "run-a")  # another relation
    assert latest_load_start(clean, "run-a") == D(2024, 12, 2)
    # a write after the run's, by hand or another process, widens the scope
    changes.record(clean, "core.prices_daily", D(2024, 11, 1), None)
    assert latest_load_start(clean, "run-a") == D(2024, 11, 1)
    # the first load wrote the whole table from its first date
    assert latest_load_start(clean, "run-full") == D(2023, 1, 3)


def test_latest_load_start_is_none_when_nothing_proves_what_changed(clean):
    assert latest_load_start(clean, None) is None
    assert latest_load_start(clean, "no-such-run") is None
    changes.record(clean, "core.prices_daily", D(2024, 12, 30), "run-b")
    changes.record(clean, "core.prices_daily", None, "run-b")  # a write without its dates
    assert latest_load_start(clean, "run-b") is None


def test_a_real_load_of_one_session_scopes_to_that_session(clean):
    batch = SampleSource().daily_bars(TICKERS, D(2024, 12, 31), D(2024, 12, 31))
    batch.bars.loc[:, "close"] = batch.bars["close"] * 1.001  # a revised bar: the load writes it
    batch.bars.loc[:, ["high", "adj_close"]] = batch.bars[["high", "adj_close"]] * 1.001
    load_prices(clean, batch, source="sample", now=AFTER_2024, run_id="run-daily")
    assert latest_load_start(clean, "run-daily") == D(2024, 12, 31)


# --- integrity --------------------------------------------------------------------------------


def invert_high_low(conn, ticker, day):
    conn.execute(
        "update core.prices_daily set high = low, low = high where ticker = ? and trade_date = ?",
        [ticker, day],
    )


def test_integrity_scoped_finds_a_bad_row_in_the_scope_as_the_whole_table_does(clean):
    invert_high_low(clean, "SPY", SINCE)
    invert_high_low(clean, "IWM", D(2024, 12, 31))
    full, scoped = both(checks.integrity, clean, **defaults("integrity"))
    assert keys(scoped, "ticker", "trade_date", "problem") == keys(full, "ticker", "trade_date", "problem")
    assert keys(scoped, "ticker", "trade_date") == [("IWM", D(2024, 12, 31)), ("SPY", SINCE)]
    assert scoped.counts["checked_from"] == "2024-10-14"
    assert full.counts["checked_from"] == "whole table"


def test_integrity_scoped_leaves_out_a_bad_row_before_the_scope(clean):
    invert_high_low(clean, "SPY", session(SINCE, -1))
    full, scoped = both(checks.integrity, clean, **defaults("integrity"))
    assert keys(full, "ticker", "trade_date") == [("SPY", D(2024, 10, 11))]
    assert scoped.passed and scoped.failing == 0


def test_integrity_judges_the_whole_table_after_a_write_outside_the_loader(clean):
    # one more row than the last load left: written by hand, at any date
    clean.execute("create table _copy as select * from core.prices_daily")
    clean.execute("drop table core.prices_daily")
    clean.execute("create table core.prices_daily as select * from _copy")
    clean.execute(
        "insert into core.prices_daily select * from _copy where ticker = 'IWM' and trade_date = '2023-03-28'"
    )
    scoped = checks.integrity(clean, since=SINCE, **defaults("integrity"))
    assert scoped.counts["checked_from"] == "whole table"
    assert scoped.counts["duplicated_key"] == 2
    assert keys(scoped, "ticker", "trade_date") == [("IWM", D(2023, 3, 28))] * 2


# --- completeness -----------------------------------------------------------------------------


def drop_rows(conn, ticker, days):
    for day in days:
        conn.execute("delete from core.prices_daily where ticker = ? and trade_date = ?", [ticker, day])


def test_completeness_scoped_finds_a_hole_in_the_scope_as_the_whole_table_does(clean):
    drop_rows(clean, "SPY", [D(2024, 11, 5)])
    clean.execute(
        "insert into core.prices_daily select ticker, date '2024-11-28', open, high, low, close, "
        "adj_close, volume, source, loaded_at from core.prices_daily "
        "where ticker = 'IWM' and trade_date = '2024-11-27'"
    )  # Thanksgiving
    full, scoped = both(checks.completeness, clean)
    assert keys(scoped, "ticker", "trade_date", "problem") == keys(full, "ticker", "trade_date", "problem")
    assert keys(scoped, "ticker", "trade_date") == [("IWM", D(2024, 11, 28)), ("SPY", D(2024, 11, 5))]


def test_completeness_scoped_leaves_out_a_hole_before_the_scope(clean):
    drop_rows(clean, "SPY", [session(SINCE, -2)])
    full, scoped = both(checks.completeness, clean)
    assert keys(full, "ticker", "trade_date") == [("SPY", D(2024, 10, 10))]
    assert scoped.passed and scoped.counts["missing_sessions"] == 0


def test_completeness_scoped_finds_a_hole_reaching_back_from_the_scope(clean):
    # SPY's last bar before the scope is 2024-10-09: a bar from SINCE on opens the hole after it
    drop_rows(clean, "SPY", [session(SINCE, -2), session(SINCE, -1)])
    full, scoped = both(checks.completeness, clean)
    assert (
        keys(scoped, "ticker", "trade_date")
        == keys(full, "ticker", "trade_date")
        == [
            ("SPY", D(2024, 10, 10)),
            ("SPY", D(2024, 10, 11)),
        ]
    )
    # a hole with a bar after it still before the scope is not the load's doing
    drop_rows(clean, "IWM", [session(SINCE, -3)])
    assert checks.completeness(clean, since=SINCE).failing == 2


# --- stale bars -------------------------------------------------------------------------------


def test_stale_bars_scoped_find_a_run_in_the_scope_as_the_whole_table_does(clean):
    repeat_bar(clean, "IWM", D(2024, 11, 8), [D(2024, 11, 11), D(2024, 11, 12)])
    full, scoped = both(checks.stale_bars, clean, **defaults("stale_bars"))
    assert (
        keys(scoped, "ticker", "first_session", "last_session", "sessions")
        == keys(full, "ticker", "first_session", "last_session", "sessions")
        == [("IWM", D(2024, 11, 8), D(2024, 11, 12), 3)]
    )
    assert scoped.counts["repeated_bars"] == full.counts["repeated_bars"] == 2


def test_stale_bars_scoped_leave_out_a_run_that_ended_before_the_scope(clean):
    # the run ends on the session before SINCE
    repeat_bar(clean, "IWM", D(2024, 10, 9), [D(2024, 10, 10), D(2024, 10, 11)])
    full, scoped = both(checks.stale_bars, clean, **defaults("stale_bars"))
    assert keys(full, "ticker", "last_session") == [("IWM", D(2024, 10, 11))]
    assert scoped.passed and scoped.counts["repeated_bars"] == 0


def test_stale_bars_scoped_find_a_run_of_exactly_min_sessions_ending_on_the_scope_start(clean):
    # two of its three sessions lie before SINCE: judged from SINCE alone it is one bar
    repeat_bar(clean, "SPY", D(2024, 10, 10), [D(2024, 10, 11), SINCE])
    full, scoped = both(checks.stale_bars, clean, **defaults("stale_bars"))
    assert (
        keys(scoped, "ticker", "first_session", "sessions")
        == keys(full, "ticker", "first_session", "sessions")
        == [("SPY", D(2024, 10, 10), 3)]
    )


def test_stale_bars_scoped_name_a_long_run_from_its_true_first_session(clean):
    # 30 sessions of one bar reaching into the scope, and a gap in its history: the scoped call
    # names it from its first session, as the whole table does
    first = D(2024, 9, 3)
    days = calendar.sessions(session(first, 1), session(SINCE, 1))
    repeat_bar(clean, "^GSPC", first, days)
    drop_rows(clean, "^GSPC", [session(SINCE, -2), session(SINCE, -1)])
    full, scoped = both(checks.stale_bars, clean, **defaults("stale_bars"))
    assert (
        keys(scoped, "ticker", "first_session", "last_session", "sessions")
        == keys(full, "ticker", "first_session", "last_session", "sessions")
        == [("^GSPC", first, D(2024, 10, 15), len(days) - 1)]
    )


# --- outliers ---------------------------------------------------------------------------------


def print_high(conn, ticker, day, factor):
    conn.execute(
        "update core.prices_daily set adj_close = adj_close * ?, close = close * ? where ticker = ? and trade_date = ?",
        [factor, factor, ticker, day],
    )


def test_outliers_scoped_find_a_bad_print_in_the_scope_as_the_whole_table_does(clean):
    print_high(clean, "SPY", D(2024, 11, 5), 1.5)
    print_high(clean, "IWM", SINCE, 1.5)
    kw = defaults("outliers", lookback_sessions=0)
    full, scoped = both(checks.outliers, clean, **kw)
    assert sorted(keys(scoped, "ticker", "trade_date", "rolling_vol", "problem")) == sorted(
        keys(full, "ticker", "trade_date", "rolling_vol", "problem")
    )
    assert sorted(keys(scoped, "ticker", "trade_date")) == [
        ("IWM", SINCE),
        ("IWM", D(2024, 10, 15)),
        ("SPY", D(2024, 11, 5)),
        ("SPY", D(2024, 11, 6)),
    ]


def test_outliers_scoped_leave_out_a_bad_print_before_the_scope(clean):
    print_high(clean, "SPY", session(SINCE, -2), 1.5)  # the jump and the fall back, both before
    full, scoped = both(checks.outliers, clean, **defaults("outliers"))
    assert keys(full, "ticker", "trade_date") == [("SPY", D(2024, 10, 10)), ("SPY", D(2024, 10, 11))]
    assert scoped.passed


@pytest.mark.parametrize("gap", [False, True])
def test_outliers_scoped_judge_the_scope_start_against_its_whole_volatility_window(clean, gap):
    # A 30% move on SINCE, judged against exactly vol_window earlier returns (min_periods of
    # them): with one return short it would not be judged at all. Those returns need the
    # vol_window + 1 bars before SINCE, the oldest on 2024-10-04.
    window = calendar.sessions(session(SINCE, -6), session(SINCE, -1))
    assert window[0] == D(2024, 10, 4)
    clean.execute(
        "update core.prices_daily set adj_close = adj_close * 1.3 where ticker = '^GSPC' and trade_date >= ?",
        [SINCE],
    )
    if gap:  # two sessions missing: the six bars reach further back
        drop_rows(clean, "^GSPC", [session(SINCE, -3), session(SINCE, -2)])
    kw = defaults("outliers", vol_window=5, min_periods=5, max_abs_return=0.5)
    full, scoped = both(checks.outliers, clean, **kw)
    assert keys(full, "ticker", "trade_date") == [("^GSPC", SINCE)]
    assert keys(scoped, "ticker", "trade_date", "rolling_vol", "vol_multiple") == keys(
        full, "ticker", "trade_date", "rolling_vol", "vol_multiple"
    )
    # the same move judged with a window of one return more (vol_window=6) needs one bar more
    kw6 = {**kw, "vol_window": 6, "min_periods": 6}
    assert keys(checks.outliers(clean, since=SINCE, **kw6), "rolling_vol") == keys(
        checks.outliers(clean, **kw6), "rolling_vol"
    )


# --- tracking ---------------------------------------------------------------------------------


def test_tracking_scoped_finds_a_gap_in_the_scope_as_the_whole_table_does(clean):
    # an index print 3% too high: its ETF lags it that day and leads it the next
    print_high(clean, "^RUT", SINCE, 1.03)
    kw = defaults("tracking", lookback_sessions=0)
    full, scoped = both(checks.tracking, clean, **kw)
    assert keys(scoped, "etf", "trade_date", "gap") == [
        k for k in keys(full, "etf", "trade_date", "gap") if k[1] >= SINCE
    ]
    assert keys(scoped, "etf", "trade_date") == [("IWM", D(2024, 10, 15)), ("IWM", SINCE)]


def test_tracking_scoped_leaves_out_a_gap_before_the_scope(clean):
    print_high(clean, "^GSPC", session(SINCE, -2), 1.03)
    full, scoped = both(checks.tracking, clean, **defaults("tracking"))
    assert keys(full, "etf", "trade_date") == [("SPY", D(2024, 10, 11)), ("SPY", D(2024, 10, 10))]
    assert scoped.passed


# --- adjustment -------------------------------------------------------------------------------


def test_adjustment_scoped_finds_a_falling_factor_in_the_scope_as_the_whole_table_does(clean):
    # the factor falls on SINCE itself: the change compares with the bar before the scope
    clean.execute(
        "update core.prices_daily set adj_close = adj_close * 0.996 where ticker = 'SPY' and trade_date >= ?",
        [SINCE],
    )
    full, scoped = both(checks.adjustment, clean, **defaults("adjustment"))
    assert (
        keys(scoped, "ticker", "previous_session", "trade_date", "problem")
        == keys(full, "ticker", "previous_session", "trade_date", "problem")
        == [("SPY", D(2024, 10, 11), SINCE, "adj_close / close fell: not a dividend, not a split ratio")]
    )


def test_adjustment_scoped_leaves_out_a_falling_factor_before_the_scope(clean):
    clean.execute(
        "update core.prices_daily set adj_close = adj_close * 0.996 where ticker = 'SPY' and trade_date >= '2024-05-10'"
    )
    full, scoped = both(checks.adjustment, clean, **defaults("adjustment"))
    assert keys(full, "ticker", "trade_date") == [("SPY", D(2024, 5, 10))]
    assert scoped.passed


def drift(conn, ticker, days):
    """adj_close up 0.1% on each of `days` and kept there: a dividend-sized change each day."""
    for day in days:
        conn.execute(
            "update core.prices_daily set adj_close = adj_close * 1.001 where ticker = ? and trade_date >= ?",
            [ticker, day],
        )


def test_adjustment_scoped_counts_the_year_of_the_scope_from_its_start(clean):
    # 10 dividend-sized changes in January and 4 from SINCE on: 14 in 2024, more than 13. From
    # SINCE alone the year would hold 4; the scoped call names the 4 in its scope.
    january = calendar.sessions(D(2024, 1, 2), D(2024, 1, 31))[1:11]
    autumn = calendar.sessions(SINCE, D(2024, 12, 31))[:4]
    drift(clean, "IWM", january + autumn)
    full, scoped = both(checks.adjustment, clean, **defaults("adjustment"))
    assert full.failing > 14  # the sample's dividends count too
    assert keys(scoped, "ticker", "trade_date", "problem") == [
        k for k in keys(full, "ticker", "trade_date", "problem") if k[1] >= SINCE
    ]
    assert [d for _, d in keys(scoped, "ticker", "trade_date")][:4] == autumn
    assert "dividend-like changes in 2024" in scoped.records()[0]["problem"]
