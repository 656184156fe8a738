import datetime as dt
import time

import pandas as pd

from warehouse import calendar


def test_sessions_skip_weekends_and_holidays():
    # 2025-12-22 (Mon) .. 2026-01-02 (Fri): Christmas and New Year's Day are closed.
    got = calendar.sessions(dt.date(2025, 12, 22), dt.date(2026, 1, 2))
    expected = [dt.date(2025, 12, d) for d in (22, 23, 24, 26, 29, 30, 31)] + [dt.date(2026, 1, 2)]
    assert got == expected


def test_national_day_of_mourning_is_no_session():
    assert not calendar.is_session(dt.date(2025, 1, 9))
    assert calendar.closed_reason(dt.date(2025, 1, 9)) == "special closure"
    assert calendar.closed_reason(dt.date(2025, 12, 25)) == "Christmas"
    assert calendar.closed_reason(dt.date(2026, 11, 21)) == "weekend"


def test_last_completed_session_waits_for_the_close_and_settling():
    # A normal day closes at 16:00 New York (21:00 UTC in November).
    assert calendar.last_completed_session(pd.Timestamp("2026-11-20 21:10", tz="UTC")) == dt.date(2026, 11, 19)
    assert calendar.last_completed_session(pd.Timestamp("2026-11-20 21:30", tz="UTC")) == dt.date(2026, 11, 20)
    # Saturday: Friday's session.
    assert calendar.last_completed_session(pd.Timestamp("2026-11-21 15:00", tz="UTC")) == dt.date(2026, 11, 20)
    # The day after Thanksgiving closes early, at 13:00 New York (18:00 UTC).
    assert calendar.last_completed_session(pd.Timestamp("2025-11-28 18:30", tz="UTC")) == dt.date(2025, 11, 28)
    assert calendar.last_completed_session(pd.Timestamp("2025-11-28 18:10", tz="UTC")) == dt.date(2025, 11, 26)


def test_shift_sessions_counts_sessions_not_days():
    # Ten sessions before 2026-01-02 cross Christmas and New Year: 2025-12-17.
    assert calendar.shift_sessions(dt.date(2026, 1, 2), -10) == dt.date(2025, 12, 17)
    assert calendar.shift_sessions(dt.date(2026, 1, 3), -1) == dt.date(2025, 12, 31)


# --- the whole history: from 1927-12-30, ^GSPC's first session at Yahoo ---------------------------


def test_the_calendar_starts_on_the_first_session_yahoo_has():
    # A range that starts before the calendar gives its sessions from the first one on.
    got = calendar.sessions(dt.date(1927, 12, 1), dt.date(1928, 1, 6))
    assert got == [dt.date(1927, 12, 30)] + [dt.date(1928, 1, d) for d in (2, 3, 4, 5, 6)]
    assert calendar.nyse().first_session.date() == dt.date(1927, 12, 30)


def test_old_closures_are_known_and_there_are_no_saturday_sessions():
    assert not calendar.is_session(dt.date(1933, 3, 6))  # the bank holiday of March 1933
    assert calendar.is_session(dt.date(1933, 3, 15))  # the exchange reopened
    assert not calendar.is_session(dt.date(1963, 11, 25))  # President Kennedy's funeral
    assert not calendar.is_session(dt.date(1968, 6, 12))  # a paperwork-crisis Wednesday
    assert not calendar.is_session(dt.date(2001, 9, 11)) and calendar.is_session(dt.date(2001, 9, 17))
    days = calendar.sessions(dt.date(1927, 12, 30), dt.date(1952, 12, 31))
    assert not [d for d in days if d.weekday() >= 5]  # Yahoo's history has no Saturday bars either


def test_sessions_over_the_whole_history_are_quick():
    calendar.nyse()  # built once per process
    started = time.perf_counter()
    days = calendar.sessions(dt.date(1927, 12, 30), dt.date(2026, 11, 30))
    elapsed = time.perf_counter() - started
    assert days[0] == dt.date(1927, 12, 30) and days[-1] == dt.date(2026, 11, 30)
    assert all(isinstance(d, dt.date) for d in days[:5]) and days == sorted(set(days))
    assert elapsed < 0.5  # ~25,000 sessions; a few milliseconds measured


def test_shift_sessions_stops_at_the_first_session():
    # Ten sessions before 1928-01-03 would be before the calendar's (and Yahoo's) first session.
    assert calendar.shift_sessions(dt.date(1928, 1, 3), -10) == dt.date(1927, 12, 30)
    assert calendar.shift_sessions(dt.date(1928, 1, 3), -1) == dt.date(1928, 1, 2)
