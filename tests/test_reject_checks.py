"""The boundaries that decide a check's verdict: a look-back of exactly N sessions judges the N-th
last session and not the one before it.

The bars are made so that one session alone stands out: the ETF gains 0.1% every session; its
index gains the same except on one session, when it gains 0.1% and jumps 2% (and stays there), so
that session's gap is 1.001 * 1.02 - 1 - 0.001 = 2.002% and every other session's is 0.
"""

import datetime as dt

import pandas as pd
import pytest

from warehouse import calendar
from warehouse.checks import prices as checks

D = dt.date
SESSIONS = calendar.sessions(D(2024, 1, 2), D(2024, 1, 31))  # 21 sessions


def insert(conn, ticker, closes):
    conn.executemany(
        "insert into core.prices_daily values (?, ?, null, null, null, ?, ?, null, 'files', now())",
        [(ticker, day, close, close) for day, close in zip(SESSIONS, closes, strict=True)],
    )


def counted(outcome, *keys):
    """These counts of an outcome (a check may report more)."""
    return tuple(outcome.counts[k] for k in keys)


def pair_with_a_gap(conn, from_end):
    """IWM and ^RUT whose returns differ on the `from_end`-th last session only."""
    jump_at = len(SESSIONS) - from_end
    insert(conn, "IWM", [100 * 1.001**i for i in range(len(SESSIONS))])
    insert(conn, "^RUT", [2000 * 1.001**i * (1.02 if i >= jump_at else 1.0) for i in range(len(SESSIONS))])
    return SESSIONS[jump_at]


@pytest.mark.parametrize("n", [1, 5, 20])
def test_tracking_judges_exactly_the_last_n_common_sessions(conn, n):
    day = pair_with_a_gap(conn, from_end=n)
    pairs = {"IWM": "^RUT"}
    at_n = checks.tracking(conn, pairs=pairs, max_gap=0.01, lookback_sessions=n)
    assert not at_n.passed
    assert [(r["etf"], r["trade_date"]) for r in at_n.records()] == [("IWM", day)]
    assert at_n.records()[0]["gap"] == pytest.approx(0.001 - (1.001 * 1.02 - 1))
    assert at_n.summary.endswith(f"(the last {n} common sessions)")
    if n > 1:
        before = checks.tracking(conn, pairs=pairs, max_gap=0.01, lookback_sessions=n - 1)
        assert before.passed and before.failing == 0
        assert before.summary == f"1 ETF track their index within 1.00% a day over the last {n - 1} common sessions"
    # 0 judges every session
    assert checks.tracking(conn, pairs=pairs, max_gap=0.01, lookback_sessions=0).failing == 1


def test_tracking_counts_common_sessions_only(conn):
    # The index misses the last two sessions: the look-back counts back from the last session both have.
    day = pair_with_a_gap(conn, from_end=5)
    conn.execute("delete from core.prices_daily where ticker = '^RUT' and trade_date >= ?", [SESSIONS[-2]])
    pairs = {"IWM": "^RUT"}
    assert [r["trade_date"] for r in checks.tracking(conn, pairs=pairs, lookback_sessions=3).records()] == [day]
    assert checks.tracking(conn, pairs=pairs, lookback_sessions=2).passed


def test_tracking_gap_threshold_is_strict(conn):
    pair_with_a_gap(conn, from_end=3)
    gap = 1.001 * 1.02 - 1 - 0.001
    pairs = {"IWM": "^RUT"}
    assert not checks.tracking(conn, pairs=pairs, max_gap=gap * 0.999, lookback_sessions=0).passed
    assert checks.tracking(conn, pairs=pairs, max_gap=gap * 1.001, lookback_sessions=0).passed


def test_tracking_without_both_sides_of_a_pair_checks_nothing(conn):
    insert(conn, "IWM", [100.0] * len(SESSIONS))
    out = checks.tracking(conn, pairs={"IWM": "^RUT", "SPY": "^GSPC"})
    assert out.passed and counted(out, "pairs_checked", "pairs_without_data") == (0, "IWM/^RUT, SPY/^GSPC")
    assert out.summary == "no ETF of the configured pairs has data with its index"


@pytest.mark.parametrize("n", [1, 6])
def test_outliers_judge_exactly_the_last_n_sessions(conn, n):
    # One 30% jump (beyond max_abs_return 25%) on the n-th last session, flat elsewhere.
    jump_at = len(SESSIONS) - n
    insert(conn, "IWM", [100.0 * (1.3 if i >= jump_at else 1.0) for i in range(len(SESSIONS))])
    at_n = checks.outliers(conn, lookback_sessions=n)
    assert [(r["ticker"], r["trade_date"], r["problem"]) for r in at_n.records()] == [
        ("IWM", SESSIONS[jump_at], "beyond 25%")]
    assert at_n.records()[0]["daily_return"] == pytest.approx(0.3)
    if n > 1:
        assert checks.outliers(conn, lookback_sessions=n - 1).passed
    assert checks.outliers(conn, lookback_sessions=0).failing == 1


# --- every check's name, its verdict on a missing table, and its defaults -------------------------

CHECK_NAMES = {
    "integrity": "prices_integrity", "completeness": "prices_calendar_complete", "freshness": "prices_fresh",
    "stale_bars": "prices_no_stale_bars", "outliers": "prices_outliers", "tracking": "prices_etf_tracks_index",
    "adjustment": "prices_adjustment_plausible",
}


@pytest.mark.parametrize("check", sorted(CHECK_NAMES))
def test_every_check_fails_by_name_on_a_missing_table(conn, check):
    conn.execute("drop table core.prices_daily")
    out = getattr(checks, check)(conn)
    assert (out.name, out.passed, out.failing) == (CHECK_NAMES[check], False, 0)
    assert out.summary == "core.prices_daily does not exist: load it first"


def insert_bars(conn, ticker, bars):
    """(open, high, low, close, adj_close) per session, from the first session on."""
    conn.executemany(
        "insert into core.prices_daily values (?, ?, ?, ?, ?, ?, ?, null, 'files', now())",
        [(ticker, day, *bar) for day, bar in zip(SESSIONS, bars, strict=False)],
    )


def test_stale_bars_by_default_name_three_identical_sessions_and_not_two(conn):
    moving = [(10.0 + i, 11.0 + i, 9.0 + i, 10.5 + i, 10.5 + i) for i in range(8)]
    three = moving[:3] + [moving[3]] * 3 + moving[6:]  # sessions 4, 5, 6 identical
    insert_bars(conn, "IWM", three)
    out = checks.stale_bars(conn)
    assert (out.name, out.passed, out.failing) == ("prices_no_stale_bars", False, 1)
    assert out.summary == "1 run of an identical bar over 3+ sessions (2 repeated bars)"
    assert counted(out, "repeated_bars") == (2,)
    assert [(r["ticker"], r["first_session"], r["last_session"], r["sessions"]) for r in out.records()] == [
        ("IWM", SESSIONS[3], SESSIONS[5], 3)]
    conn.execute("delete from core.prices_daily")
    insert_bars(conn, "IWM", moving[:3] + [moving[3]] * 2 + moving[5:])
    clean = checks.stale_bars(conn)
    assert (clean.passed, clean.summary) == (True, "no bar repeats over 3 or more sessions")
    assert counted(clean, "repeated_bars") == (0,)


def ratio_bars(ratios):
    """Bars whose close is 100 and adj_close / close follows `ratios`."""
    return [(None, None, None, 100.0, 100.0 * r) for r in ratios]


@pytest.mark.parametrize(("ratios", "passed", "problem"), [
    ([0.9, 0.9, 0.95, 0.95], True, None),  # +5.6%: a dividend
    ([0.9, 0.9, 0.9002, 0.9002], True, None),  # +0.02%: rounding, below the 0.05% tolerance
    ([0.8, 0.8, 0.9, 0.9], False, "adj_close / close rose by more than a dividend and not by a split ratio"),  # +12.5%
    ([0.9, 0.9, 0.85, 0.85], False, "adj_close / close fell: not a dividend, not a split ratio"),
    ([0.25, 0.25, 0.5, 0.5], True, None),  # x2: a split
    ([0.5, 0.5, 0.25, 0.25], True, None),  # /2: a reverse split
    ([0.5, 0.5, 1.0 / 1.45, 1.0 / 1.45], False, "adj_close / close rose by more than a dividend and not by a split ratio"),
], ids=["dividend", "rounding", "too big", "fall", "split", "reverse split", "1.45x"])
def test_the_adjustment_check_with_its_defaults(conn, ratios, passed, problem):
    insert_bars(conn, "IWM", ratio_bars(ratios))
    out = checks.adjustment(conn)
    assert (out.name, out.passed) == ("prices_adjustment_plausible", passed)
    events = 0 if abs(ratios[2] / ratios[1] - 1) <= 0.0005 else 1
    if passed:
        assert out.summary == f"all {events} change{'s' if events != 1 else ''} of adj_close / close are " \
                              "dividend- or split-shaped"
        assert counted(out, "factor_changes", "implausible_changes") == (events, 0)
    else:
        assert out.summary == "1 change of adj_close / close on no plausible dividend or split day"
        assert counted(out, "factor_changes", "implausible_changes") == (1, 1)
        assert [(r["trade_date"], r["problem"]) for r in out.records()] == [(SESSIONS[2], problem)]


def test_more_than_thirteen_dividends_in_a_year_is_a_drifting_factor(conn):
    ratios = [1.01 ** -(20 - i) if i < 15 else 1.01 ** -6 for i in range(21)]  # 14 rises of 1%, in January
    insert_bars(conn, "IWM", ratio_bars(ratios))
    out = checks.adjustment(conn)
    assert counted(out, "factor_changes", "implausible_changes") == (14, 14)
    assert {r["problem"] for r in out.records()} == {"14 dividend-like changes in 2024 (more than 13): a drifting factor"}
    insert_bars(conn, "SPY", ratio_bars(ratios[:14]))  # 13 rises: allowed
    assert checks.adjustment(conn).failing == 14


def test_split_ratios_run_from_five_quarters_to_a_hundred():
    ratios = checks._split_ratios()
    assert ratios[:6] == [1.25, 4 / 3, 1.5, 5 / 3, 1.75, 2.0]
    assert ratios[-1] == 100.0 and 99.75 in ratios and 1.4 not in ratios
    assert len(ratios) == len(set(ratios))


def test_freshness_reads_a_naive_now_as_utc_and_defaults_to_the_clock(conn):
    insert_bars(conn, "IWM", ratio_bars([1.0] * len(SESSIONS)))
    out = checks.freshness(conn, now=pd.Timestamp("2024-01-31 23:00"))
    assert (out.name, out.passed) == ("prices_fresh", True)
    assert out.summary == "all 1 tickers are at the last completed NYSE session, 2024-01-31"
    assert counted(out, "expected_session", "checked_at_new_york", "tickers_checked", "tickers_lagging",
                   "latest_stored_session") == ("2024-01-31", "2024-01-31 18:00 EST", 1, 0, "2024-01-31")
    before = pd.Timestamp.now(tz="America/New_York").floor("min")
    now = checks.freshness(conn)
    after = pd.Timestamp.now(tz="America/New_York")
    stamp = pd.Timestamp(now.counts["checked_at_new_york"].rsplit(" ", 1)[0]).tz_localize("America/New_York")
    assert before <= stamp <= after


# A Monday; the NYSE sessions before it: Fri 2024-10-11, Thu 10-10, Wed 10-09, Tue 10-08, Mon 10-07.
SCOPE = D(2024, 10, 14)


@pytest.mark.parametrize(("look_back", "first_read"), [(0, SCOPE), (1, D(2024, 10, 11)), (5, D(2024, 10, 7))])
def test_a_scoped_check_reads_exactly_its_look_back_sessions_before_the_scope(conn, look_back, first_read):
    conn.execute("create table _days (trade_date date)")
    conn.execute("insert into _days values (date '2024-01-02'), (date '2024-10-15')")
    assert checks._read_from(conn, "_days", SCOPE, look_back) == first_read


def test_a_scoped_check_reads_everything_when_the_look_back_reaches_the_first_row_or_none_is_stored(conn):
    conn.execute("create table _days (trade_date date)")
    assert checks._read_from(conn, "_days", SCOPE, 5) is None  # empty
    conn.execute("insert into _days values (date '2024-10-07'), (date '2024-10-15')")
    assert checks._read_from(conn, "_days", SCOPE, 5) is None  # the 5th session back is the first row
    assert checks._read_from(conn, "_days", SCOPE, 4) == D(2024, 10, 8)
    assert checks._read_from(conn, "_days", None, 5) is None  # not scoped
