"""The daily run at index size, at a tiny size: the phases run, the figures are theirs, the daily
run is the schedule's incremental path (a new member backfilled, every incremental model updated
from the new session only). No timing is asserted: the machine decides those."""

import datetime as dt
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # bench/ is not an installed package
    sys.path.insert(0, str(ROOT))

from bench import members_daily  # noqa: E402
from warehouse import calendar  # noqa: E402

D = dt.date
MEMBERS = 20


def month_ends(first: D, last: D) -> list[D]:
    """The last session of each whole month from `first` to `last`, counted on the calendar."""
    by_month: dict[tuple[int, int], D] = {}
    for day in calendar.sessions(first, last + dt.timedelta(days=40)):
        by_month[(day.year, day.month)] = day
    return sorted(d for d in by_month.values() if first <= d <= last)


def test_snapshots_fall_on_the_last_session_of_each_month():
    # 2024-03-29 is Good Friday: March's last session is the 28th.
    expected = [D(2024, 1, 31), D(2024, 2, 29), D(2024, 3, 28)]
    assert members_daily.snapshot_dates(D(2024, 1, 2), D(2024, 4, 15)) == expected
    assert members_daily.snapshot_dates(D(2024, 1, 2), D(2024, 4, 15)) == month_ends(D(2024, 1, 2), D(2024, 4, 15))


def test_membership_keeps_its_size_and_changes_a_few_members_a_month_more_in_june():
    dates = month_ends(D(2024, 3, 1), D(2024, 7, 31))  # March to July
    extra = ((D(2024, 8, 1), 0), (D(2024, 8, 2), 1))
    plan = members_daily.membership(300, dates, extra)
    assert [d for d, _ in plan] == [*dates, D(2024, 8, 1), D(2024, 8, 2)]
    assert all(len(members) == 300 and len(set(members)) == 300 for _, members in plan)
    left = [len(set(a) - set(b)) for (_, a), (_, b) in zip(plan, plan[1:], strict=False)]
    # April, May: 2; June: 150 (the reconstitution); July: 2; the plain day: 0; the newcomer day: 1
    assert left == [2, 2, 150, 2, 0, 1]
    assert members_daily.membership(300, dates, extra) == plan  # deterministic


@pytest.fixture(scope="module")
def result() -> dict:
    return members_daily.measure(members=MEMBERS, years=1, snapshot_years=1)


def test_the_ratio_is_the_daily_run_over_the_full_build(result):
    full = result["full"]["seconds"]
    assert full > 0
    for name in ("daily", "newcomer"):
        day = result[name]
        assert day["seconds"] == pytest.approx(day["ingest_seconds"] + day["build_seconds"])
        assert day["ratio"] == pytest.approx(day["seconds"] / full)
        assert 0 <= day["source_seconds"] <= day["ingest_seconds"]
    assert result["ratio"] == result["daily"]["ratio"]
    assert result["met"] == (result["ratio"] <= 0.05)
    assert all(result[p]["peak_rss_mb"] > 0 for p in members_daily.PHASES)


def test_the_warehouse_holds_the_index_as_planned(result):
    setup = result["setup"]
    start, last, plain_day, new_day = members_daily.days(1)
    assert calendar.shift_sessions(last, 1) == plain_day and calendar.shift_sessions(plain_day, 1) == new_day
    first = max(start, calendar.shift_sessions(last, -252))
    ends = month_ends(first, last)
    assert setup["snapshots"] == len(ends)
    assert setup["member_rows"] == MEMBERS * len(ends)
    assert setup["members_latest"] == MEMBERS
    # each month after the first replaces 2 members; a June all 20 (150 asked, 20 there)
    assert setup["members_ever"] == MEMBERS + sum(min(150 if d.month == 6 else 2, MEMBERS) for d in ends[1:])


def test_the_newcomer_is_backfilled_and_the_plain_day_backfills_nothing(result):
    for name, backfilled in (("daily", 0), ("newcomer", 1)):
        prices = result[name]["ingest_metadata"]["core/prices_daily"]
        assert prices["members_backfilled"] == backfilled
        assert prices["members_failed"] == {}
        assert prices["members_fetched"] >= MEMBERS  # those of the day, and those that left during the run


def test_the_plain_day_inserts_one_bar_per_ticker_due(result):
    prices = result["daily"]["ingest_metadata"]["core/prices_daily"]
    # the configured tickers and the members of the day; none that left before the day
    assert prices["rows_inserted"] == len(members_daily.CONFIGURED) + MEMBERS


def test_the_plain_day_updates_every_incremental_model_incrementally(result):
    daily = result["daily"]
    incremental = sorted(
        f"{path.parent.name}/{path.stem}" for path in (ROOT / "sql").glob("*/*.sql")
        if "\nincremental:" in path.read_text()
    )
    assert incremental, "no incremental model found under sql/"
    modes = daily["mode_by_model"]
    assert {name: modes.get(name) for name in incremental} == dict.fromkeys(incremental, "incremental")
