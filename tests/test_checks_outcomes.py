"""The whole outcome of a price check, not only its verdict: the name the UI shows, the one-line
summary, the failing rows' columns and the counts written into the check's metadata. A check that
passes or fails rightly but says the wrong thing misleads whoever reads it in the UI.

Every expected summary and count is written out by hand from the rows each test stores.
"""

import datetime as dt

import pandas as pd

from warehouse.checks import prices as checks
from warehouse.prices import load_prices, price_rules
from warehouse.sources.base import PriceBatch

D = dt.date
AFTER = pd.Timestamp("2024-07-01 12:00", tz="UTC")
BAR_COLUMNS = ["ticker", "trade_date", "open", "high", "low", "close", "adj_close", "volume"]
# The ten sessions from June 3rd to June 14th, 2024 (no holiday among them).
JUNE = [D(2024, 6, d) for d in (3, 4, 5, 6, 7, 10, 11, 12, 13, 14)]


def bars(ticker: str, days=JUNE) -> pd.DataFrame:
    return pd.DataFrame({
        "ticker": ticker, "trade_date": days, "open": 100.0, "high": 101.0, "low": 99.0, "close": 100.0,
        "adj_close": 100.0, "volume": 1e6,
    })


def load(conn, *tickers: str) -> None:
    load_prices(conn, PriceBatch(pd.concat([bars(t) for t in tickers], ignore_index=True)), source="files",
                run_id="run-1", now=AFTER)


def drop_primary_key(conn) -> None:
    """The table as a copy made with CREATE TABLE AS: a key can then be stored twice."""
    conn.execute("create table _copy as select * from core.prices_daily")
    conn.execute("drop table core.prices_daily")
    conn.execute("create table core.prices_daily as select * from _copy")
    conn.execute("drop table _copy")


def no_problem_counts() -> dict:
    """integrity's count of every problem it looks for, all 0."""
    names = ["duplicated_key", "null_key", *(name for name, _, _ in price_rules()), "non_session"]
    return dict.fromkeys(names, 0)


def test_integrity_on_clean_rows_says_so_in_full(conn):
    load(conn, "IWM", "SPY")
    out = checks.integrity(conn)
    assert (out.name, out.passed, out.failing, out.rows) == ("prices_integrity", True, 0, [])
    assert out.summary == "20 rows, every key once, every row within the load rules, no load mostly refused"
    assert out.columns == [*BAR_COLUMNS, "problem"]
    assert out.counts == {**no_problem_counts(), "batches_mostly_rejected": 0, "rows_stored": 20,
                          "checked_from": "whole table"}


def test_integrity_on_an_empty_table_counts_nothing_and_names_the_table(conn):
    out = checks.integrity(conn)
    assert (out.name, out.passed, out.failing) == ("prices_integrity", False, 1)
    assert out.summary == "core.prices_daily is empty"
    assert out.rows == [(None,) * 8 + ("core.prices_daily is empty",)]
    assert out.columns == [*BAR_COLUMNS, "problem"]
    assert out.counts == {**no_problem_counts(), "batches_mostly_rejected": 0, "rows_stored": 0,
                          "checked_from": "whole table"}


def test_integrity_summary_counts_row_problems_beside_a_shrunk_table(conn):
    load(conn, "IWM")
    drop_primary_key(conn)
    conn.execute("delete from core.prices_daily where trade_date >= '2024-06-13'")  # 8 rows left of 10
    conn.execute("insert into core.prices_daily select * from core.prices_daily where trade_date = '2024-06-03'")
    out = checks.integrity(conn)
    # 9 rows stored against 10 after the last load; the repeated key is two failing rows
    assert (out.passed, out.failing) == (False, 3)
    assert out.summary == "3 problems: 2 duplicated key"
    assert [r[-1] for r in out.rows] == [
        "core.prices_daily holds 9 rows, 1 fewer than after its last load (run run-1): rows were deleted "
        "outside the loader",
        "(ticker, trade_date) stored 2 times",
        "(ticker, trade_date) stored 2 times",
    ]
    assert out.counts == {**no_problem_counts(), "duplicated_key": 2, "batches_mostly_rejected": 0,
                          "rows_stored": 9, "checked_from": "whole table"}


def test_integrity_summary_with_systemic_problems_only_names_them(conn):
    load(conn, "IWM")
    conn.execute("delete from core.prices_daily where trade_date = '2024-06-14'")
    out = checks.integrity(conn)
    assert (out.passed, out.failing) == (False, 1)
    assert out.summary == (
        "core.prices_daily holds 9 rows, 1 fewer than after its last load (run run-1): rows were deleted "
        "outside the loader")


def test_integrity_judges_rows_from_since_when_the_table_is_as_the_last_load_left_it(conn):
    load(conn, "IWM")
    out = checks.integrity(conn, D(2024, 6, 12))
    assert out.passed
    assert out.counts["checked_from"] == "2024-06-12"
    assert out.summary == "10 rows, every key once, every row within the load rules, no load mostly refused"


def test_the_rejected_share_must_be_a_fraction(conn):
    load(conn, "IWM")
    for share in (-0.01, 1.01):
        try:
            checks.integrity(conn, max_rejected_share=share)
        except ValueError as exc:
            assert str(exc) == f"max_rejected_share must be a fraction from 0 to 1, not {share!r}"
        else:
            raise AssertionError(f"max_rejected_share={share} was accepted")
    # both ends are fractions
    assert checks.integrity(conn, max_rejected_share=0).passed
    assert checks.integrity(conn, max_rejected_share=1).passed


def test_completeness_of_an_empty_table_passes_and_says_why(conn):
    out = checks.completeness(conn)
    assert (out.name, out.passed, out.failing) == ("prices_calendar_complete", True, 0)
    assert out.summary == "core.prices_daily is empty: nothing to compare with the calendar"


def damaged_june(conn) -> None:
    """IWM and SPY over the ten June sessions; IWM then loses June 5th and 6th and gains a row on
    Saturday June 8th (written past the loader)."""
    load(conn, "IWM", "SPY")
    conn.execute("delete from core.prices_daily where ticker = 'IWM' and trade_date in ('2024-06-05', '2024-06-06')")
    conn.execute("insert into core.prices_daily values ('IWM', '2024-06-08', null, null, null, 100, 100, null, "
                 "'files', now())")


COMPLETE = "every ticker has every NYSE session from its first to its last stored date (2024-06-03 .. 2024-06-14)"


def test_completeness_on_whole_sessions_says_so_in_full(conn):
    load(conn, "IWM", "SPY")
    out = checks.completeness(conn)
    assert (out.name, out.passed, out.failing, out.rows) == ("prices_calendar_complete", True, 0, [])
    assert out.summary == COMPLETE
    assert out.counts == {"missing_sessions": 0, "rows_on_non_sessions": 0, "tickers_with_gaps": 0,
                          "missing_sessions_quarantined": 0, "checked_from": "whole table"}


def test_completeness_names_each_hole_and_the_weekend_row(conn):
    damaged_june(conn)
    out = checks.completeness(conn)
    assert (out.passed, out.failing) == (False, 3)
    assert out.summary == "2 missing sessions (1 ticker; 0 of them quarantined at load), 1 row on non-sessions"
    assert out.columns == ["ticker", "trade_date", "problem"]
    assert out.rows == [("IWM", D(2024, 6, 5), "missing session"), ("IWM", D(2024, 6, 6), "missing session"),
                        ("IWM", D(2024, 6, 8), "row on a non-session (weekend)")]
    assert out.counts == {"missing_sessions": 2, "rows_on_non_sessions": 1, "tickers_with_gaps": 1,
                          "missing_sessions_quarantined": 0, "checked_from": "whole table"}


def test_completeness_from_since_judges_holes_after_each_tickers_last_bar_before_it(conn):
    damaged_june(conn)
    # IWM's last bar before June 7th is June 4th: both holes and the Saturday row are in scope
    scoped = checks.completeness(conn, D(2024, 6, 7))
    assert (scoped.failing, scoped.counts["checked_from"]) == (3, "2024-06-07")
    # before June 10th its last bar is the Saturday row itself: no hole after it, and the row is
    # dated before `since`, so it is not judged
    later = checks.completeness(conn, D(2024, 6, 10))
    assert (later.passed, later.failing, later.summary) == (True, 0, COMPLETE)
    assert later.counts["checked_from"] == "2024-06-10"


def jumped(conn) -> None:
    """IWM flat at 100 but for an adjusted close of 130 from June 12th on: a +30% day; SPY flat."""
    frame = pd.concat([bars("IWM"), bars("SPY")], ignore_index=True)
    frame.loc[(frame["ticker"] == "IWM") & (frame["trade_date"] >= D(2024, 6, 12)), "adj_close"] = 130.0
    load_prices(conn, PriceBatch(frame), source="files", run_id="run-1", now=AFTER)


def test_outliers_on_flat_prices_say_so_in_full(conn):
    load(conn, "IWM", "SPY")
    out = checks.outliers(conn)
    assert (out.name, out.passed, out.failing, out.rows) == ("prices_outliers", True, 0, [])
    assert out.summary == ("no daily return beyond 10x its volatility or 25% in the last 63 sessions of "
                           "each ticker")
    assert out.counts == {"accepted_moves": 0, "checked_from": "whole table"}
    assert checks.outliers(conn, lookback_sessions=0).summary == (
        "no daily return beyond 10x its volatility or 25% in all sessions")
    assert checks.outliers(conn, D(2024, 6, 12)).counts == {"accepted_moves": 0, "checked_from": "2024-06-12"}


def test_outliers_name_the_jump_and_accept_it_when_listed(conn):
    jumped(conn)
    out = checks.outliers(conn)
    assert (out.passed, out.failing) == (False, 1)
    assert out.summary == "1 daily return beyond 10x volatility or 25% in the last 63 sessions of each ticker"
    assert out.columns == ["ticker", "previous_session", "trade_date", "adj_close", "daily_return", "rolling_vol",
                           "vol_multiple", "problem"]
    (row,) = out.records()
    assert (row["ticker"], row["previous_session"], row["trade_date"]) == ("IWM", D(2024, 6, 11), D(2024, 6, 12))
    assert row["daily_return"] == 130 / 100 - 1
    assert row["problem"] == "beyond 25%"
    # a move listed as real: by ticker and date, or by date for every ticker; another ticker's
    # listing does not cover it
    for accepted in (["IWM 2024-06-12"], ["2024-06-12"], ["SPY 2024-06-12", "IWM 2024-06-12"]):
        listed = checks.outliers(conn, accepted=accepted)
        assert listed.passed and listed.counts["accepted_moves"] == len(accepted)
    assert not checks.outliers(conn, accepted=["SPY 2024-06-12", "IWM 2024-06-11"]).passed
    assert checks.outliers(conn, accepted=["2024-06-11", "2024-06-12"]).passed
    # judged from the day after the jump, the jump is out of scope
    assert checks.outliers(conn, D(2024, 6, 13)).passed
    assert not checks.outliers(conn, D(2024, 6, 12)).passed


MONDAY_MORNING = pd.Timestamp("2024-06-17 12:00", tz="UTC")  # 08:00 in New York: Friday is the last session


def test_freshness_on_current_tickers_says_so_in_full(conn):
    load(conn, "IWM", "SPY")
    for now in (MONDAY_MORNING, pd.Timestamp("2024-06-17 12:00")):  # a naive time is UTC
        out = checks.freshness(conn, now=now)
        assert (out.name, out.passed, out.failing, out.rows) == ("prices_fresh", True, 0, [])
        assert out.summary == "all 2 tickers are at the last completed NYSE session, 2024-06-14"
        assert out.columns == ["ticker", "latest_session", "expected_session", "sessions_behind", "problem"]
        assert out.counts == {"expected_session": "2024-06-14", "checked_at_new_york": "2024-06-17 08:00 EDT",
                              "tickers_checked": 2, "tickers_lagging": 0, "latest_stored_session": "2024-06-14"}


def test_freshness_names_a_lagging_and_a_missing_ticker(conn):
    load(conn, "IWM", "SPY")
    conn.execute("delete from core.prices_daily where ticker = 'IWM' and trade_date >= '2024-06-13'")
    out = checks.freshness(conn, tickers=["IWM", "SPY", "QQQ"], now=MONDAY_MORNING)
    assert (out.passed, out.failing) == (False, 2)
    assert out.summary == "2 tickers not at the last completed NYSE session 2024-06-14: IWM, QQQ"
    assert out.rows == [("IWM", D(2024, 6, 12), D(2024, 6, 14), 2, "2 sessions behind"),
                        ("QQQ", None, D(2024, 6, 14), None, "no rows stored")]
    assert out.counts["tickers_checked"] == 3 and out.counts["tickers_lagging"] == 2
    # one session behind is within a lag of one
    conn.execute("insert into core.prices_daily values ('IWM', '2024-06-13', 100, 101, 99, 100, 100, 1e6, "
                 "'files', now())")
    assert checks.freshness(conn, tickers=["IWM"], max_lag_sessions=1, now=MONDAY_MORNING).passed
    assert not checks.freshness(conn, tickers=["IWM"], max_lag_sessions=0, now=MONDAY_MORNING).passed


def test_freshness_lists_ten_lagging_tickers_and_keeps_twenty_rows(conn):
    load(conn, "IWM")
    tickers = [f"T{i:02d}" for i in range(21)]
    out = checks.freshness(conn, tickers=tickers, now=MONDAY_MORNING)
    assert out.failing == 21 and len(out.rows) == 20
    assert out.summary == ("21 tickers not at the last completed NYSE session 2024-06-14: "
                           "T00, T01, T02, T03, T04, T05, T06, T07, T08, T09 ...")
    ten = checks.freshness(conn, tickers=tickers[:10], now=MONDAY_MORNING)
    assert ten.summary.endswith(": T00, T01, T02, T03, T04, T05, T06, T07, T08, T09")
    eleven = checks.freshness(conn, tickers=tickers[:11], now=MONDAY_MORNING)
    assert eleven.summary.endswith(": T00, T01, T02, T03, T04, T05, T06, T07, T08, T09 ...")


def test_freshness_of_an_empty_table_names_every_wanted_ticker(conn):
    out = checks.freshness(conn, tickers=["IWM"], now=MONDAY_MORNING)
    assert (out.passed, out.rows) == (False, [("IWM", None, D(2024, 6, 14), None, "no rows stored")])
    assert out.counts["latest_stored_session"] is None


def rising(ticker: str) -> pd.DataFrame:
    """A bar that changes every session: 100, 101, ... for open, high, low and close alike."""
    frame = bars(ticker)
    for column in ("open", "high", "low", "close", "adj_close"):
        frame[column] = [100.0 + i for i in range(len(frame))]
    return frame


def test_stale_bars_name_the_run_of_an_identical_bar_in_full(conn):
    # IWM repeats one bar over all ten sessions; SPY's bar changes every session
    load_prices(conn, PriceBatch(pd.concat([bars("IWM"), rising("SPY")], ignore_index=True)), source="files",
                run_id="run-1", now=AFTER)
    out = checks.stale_bars(conn)
    assert (out.name, out.passed, out.failing) == ("prices_no_stale_bars", False, 1)
    assert out.summary == "1 run of an identical bar over 3+ sessions (9 repeated bars)"
    assert out.columns == ["ticker", "first_session", "last_session", "sessions", "open", "high", "low", "close"]
    assert out.rows == [("IWM", D(2024, 6, 3), D(2024, 6, 14), 10, 100.0, 101.0, 99.0, 100.0)]
    assert out.counts == {"repeated_bars": 9, "checked_from": "whole table"}
    # judged from June 12th, the run reaches it and is named from its first session
    scoped = checks.stale_bars(conn, D(2024, 6, 12))
    assert scoped.rows == out.rows
    assert scoped.counts == {"repeated_bars": 9, "checked_from": "2024-06-12"}


def test_stale_bars_on_changing_bars_say_so(conn):
    load_prices(conn, PriceBatch(rising("SPY")), source="files", run_id="run-1", now=AFTER)
    out = checks.stale_bars(conn, min_sessions=2)
    assert (out.passed, out.summary) == (True, "no bar repeats over 2 or more sessions")
    assert out.counts == {"repeated_bars": 0, "checked_from": "whole table"}


def test_tracking_says_which_pairs_it_could_check(conn):
    load(conn, "IWM", "^RUT", "SPY")
    pairs = {"IWM": "^RUT", "SPY": "^GSPC"}
    out = checks.tracking(conn, pairs=pairs)
    assert (out.name, out.passed, out.failing) == ("prices_etf_tracks_index", True, 0)
    assert out.summary == "1 ETF track their index within 1.00% a day over the last 252 common sessions"
    assert out.counts == {"pairs_checked": 1, "pairs_without_data": "SPY/^GSPC", "checked_from": "whole table"}
    both = checks.tracking(conn, D(2024, 6, 12), pairs={"IWM": "^RUT"}, lookback_sessions=0)
    assert both.summary == "1 ETF track their index within 1.00% a day over all common sessions"
    assert both.counts == {"pairs_checked": 1, "pairs_without_data": "none", "checked_from": "2024-06-12"}
    nothing = checks.tracking(conn, pairs={"QQQ": "^NDX"})
    assert (nothing.name, nothing.passed, nothing.summary) == (
        "prices_etf_tracks_index", True, "no ETF of the configured pairs has data with its index")
    assert nothing.counts == {"pairs_checked": 0, "pairs_without_data": "QQQ/^NDX", "checked_from": "whole table"}


def test_tracking_names_a_session_where_the_etf_left_its_index(conn):
    frame = pd.concat([bars("IWM"), bars("^RUT")], ignore_index=True)
    frame.loc[(frame["ticker"] == "^RUT") & (frame["trade_date"] >= D(2024, 6, 12)), "adj_close"] = 102.0
    load_prices(conn, PriceBatch(frame), source="files", run_id="run-1", now=AFTER)
    out = checks.tracking(conn, pairs={"IWM": "^RUT"})
    assert (out.passed, out.failing) == (False, 1)
    assert out.summary == ("1 session where an ETF's return differs from its index's by more than 1.00% "
                           "(the last 252 common sessions)")
    (row,) = out.records()
    assert (row["etf"], row["previous_session"], row["trade_date"]) == ("IWM", D(2024, 6, 11), D(2024, 6, 12))
    assert row["gap"] == 0 - (102 / 100 - 1)


def test_adjustment_on_an_unchanged_factor_says_so_in_full(conn):
    load(conn, "IWM")
    out = checks.adjustment(conn)
    assert (out.name, out.passed, out.failing) == ("prices_adjustment_plausible", True, 0)
    assert out.summary == "all 0 changes of adj_close / close are dividend- or split-shaped"
    assert out.counts == {"factor_changes": 0, "implausible_changes": 0, "checked_from": "whole table"}


def test_adjustment_names_a_falling_factor_and_judges_it_from_since(conn):
    frame = bars("IWM")
    frame.loc[frame["trade_date"] >= D(2024, 6, 12), "adj_close"] = 99.0  # adj_close / close falls 1%
    load_prices(conn, PriceBatch(frame), source="files", run_id="run-1", now=AFTER)
    out = checks.adjustment(conn)
    assert (out.passed, out.failing) == (False, 1)
    assert out.summary == "1 change of adj_close / close on no plausible dividend or split day"
    assert [(r["trade_date"], r["problem"]) for r in out.records()] == [
        (D(2024, 6, 12), "adj_close / close fell: not a dividend, not a split ratio")]
    assert out.counts == {"factor_changes": 1, "implausible_changes": 1, "checked_from": "whole table"}
    assert checks.adjustment(conn, D(2024, 6, 12)).counts == {
        "factor_changes": 1, "implausible_changes": 1, "checked_from": "2024-06-12"}
    after = checks.adjustment(conn, D(2024, 6, 13))
    assert (after.passed, after.summary) == (True, "all 0 changes of adj_close / close are dividend- or split-shaped")
    assert after.counts == {"factor_changes": 0, "implausible_changes": 0, "checked_from": "2024-06-13"}


def test_stale_bars_from_since_judge_only_the_runs_that_reach_it(conn):
    # IWM repeats a bar June 3rd to 5th and again June 12th to 14th, changing in between
    frame = bars("IWM")
    closes = [100.0, 100.0, 100.0, 101.0, 102.0, 103.0, 104.0, 105.0, 105.0, 105.0]
    for column in ("open", "high", "low", "close", "adj_close"):
        frame[column] = closes
    load_prices(conn, PriceBatch(frame), source="files", run_id="run-1", now=AFTER)
    whole = checks.stale_bars(conn)
    assert [(r[0], r[1], r[2], r[3]) for r in whole.rows] == [
        ("IWM", D(2024, 6, 3), D(2024, 6, 5), 3), ("IWM", D(2024, 6, 12), D(2024, 6, 14), 3)]
    assert whole.summary == "2 runs of an identical bar over 3+ sessions (4 repeated bars)"
    scoped = checks.stale_bars(conn, D(2024, 6, 12))
    assert scoped.rows == [("IWM", D(2024, 6, 12), D(2024, 6, 14), 3, 105.0, 105.0, 105.0, 105.0)]
    assert scoped.summary == "1 run of an identical bar over 3+ sessions (2 repeated bars)"


def test_integrity_names_a_null_key(conn):
    load(conn, "IWM")
    drop_primary_key(conn)  # the DDL's NOT NULL would refuse it
    conn.execute("insert into core.prices_daily values (null, '2024-06-14', 100, 101, 99, 100, 100, 1e6, 'files', "
                 "now())")
    out = checks.integrity(conn)
    assert [(r["ticker"], r["problem"]) for r in out.records()] == [(None, "NULL in the key")]
    assert out.summary == "1 problem: 1 null key"
