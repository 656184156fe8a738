"""NYSE sessions, from exchange_calendars' XNYS calendar: it decides which trading days exist."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import exchange_calendars as xc
import pandas as pd

NEW_YORK = "America/New_York"
# Yahoo publishes the final daily bar a little after the close; a bar younger than this is partial.
SETTLE_DELAY = pd.Timedelta(minutes=20)
# exchange_calendars starts 20 years back by default. The warehouse keeps the whole history Yahoo
# has, from ^GSPC's first session (warehouse.universe.EARLIEST_START, the earliest history.start
# allowed). XNYS has no Saturday sessions before 1952, and neither has Yahoo's history.
CALENDAR_START = "1927-12-30"


@lru_cache(maxsize=1)
def nyse() -> xc.ExchangeCalendar:
    return xc.get_calendar("XNYS", start=CALENDAR_START)


def sessions(start: dt.date, end: dt.date) -> list[dt.date]:
    """NYSE sessions from start to end, both inclusive (within the calendar's first and last session)."""
    if end < start:
        return []
    cal = nyse()
    start = max(start, cal.first_session.date())
    end = min(end, cal.last_session.date())
    if end < start:
        return []
    days = cal.sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))
    # Through numpy: ~25,000 sessions since 1927 convert in milliseconds, not a Timestamp at a time.
    return days.values.astype("datetime64[D]").astype(object).tolist()


def is_session(day: dt.date) -> bool:
    return bool(nyse().is_session(pd.Timestamp(day)))


def session_close_utc(day: dt.date) -> pd.Timestamp:
    """When the session closed (early closes included), in UTC."""
    return nyse().session_close(pd.Timestamp(day))


def last_completed_session(now: pd.Timestamp | None = None) -> dt.date:
    """The latest session whose close, plus the time Yahoo needs to settle the bar, has passed."""
    now = _utc(now)
    cal = nyse()
    session = cal.minute_to_past_session(now) if cal.is_open_on_minute(now) else None
    candidate = cal.date_to_session(now.tz_convert(NEW_YORK).date(), direction="previous")
    if session is not None:
        candidate = session
    while cal.session_close(candidate) + SETTLE_DELAY > now:
        candidate = cal.previous_session(candidate)
    return candidate.date()


def shift_sessions(day: dt.date, count: int) -> dt.date:
    """The session `count` sessions before (negative) or after (positive) the session on/before day,
    stopping at the calendar's first or last session (there is no earlier history to shift into)."""
    cal = nyse()
    all_sessions = cal.sessions
    base = max(int(all_sessions.searchsorted(pd.Timestamp(day), side="right")) - 1, 0)
    return all_sessions[min(max(base + count, 0), len(all_sessions) - 1)].date()


def _utc(now: pd.Timestamp | None) -> pd.Timestamp:
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    return now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")


def closed_reason(day: dt.date) -> str:
    """Why the NYSE has no session on `day` ('weekend', the holiday's name, or 'no session')."""
    if day.weekday() >= 5:
        return "weekend"
    cal = nyse()
    stamp = pd.Timestamp(day)
    for calendar_holidays in (cal.regular_holidays,):
        if calendar_holidays is None:
            continue
        named = calendar_holidays.holidays(stamp, stamp, return_name=True)
        if len(named):
            return str(named.iloc[0])
    for when in cal.adhoc_holidays:
        if pd.Timestamp(when).date() == day:
            return "special closure"
    return "no session"
