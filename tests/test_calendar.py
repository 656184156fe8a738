import datetime as dt

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
