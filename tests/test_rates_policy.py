"""core.policy_rate_daily and core.fomc_decisions from hand-made FRED series, checked by hand."""

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from warehouse.checks.rates import decisions_match_reference
from warehouse.rates import (
    fetch_starts,
    latest_easing_cycle,
    latest_policy,
    load_fomc_reference,
    load_rates,
    rebuild_fomc_decisions,
    rebuild_policy_rate_daily,
)
from warehouse.sources.rates import RateBatch

QUERY = Path(__file__).resolve().parents[1] / "sql" / "queries" / "fed_target_and_cuts.sql"
D = dt.date


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(n) for n in range((last - first).days + 1)]


def load(conn, series: dict[str, list[tuple[dt.date, float]]], source="files"):
    rows = [(s, d, v) for s, obs in series.items() for d, v in obs]
    frame = pd.DataFrame.from_records(rows, columns=["series_id", "obs_date", "value"])
    return load_rates(conn, RateBatch(frame), source=source)


def policy(conn, first, last):
    return conn.execute(
        "select calendar_date, target_lower, target_upper, target_mid, target_kind, effective, "
        "effective_in_range, effective_spread_bp from core.policy_rate_daily "
        "where calendar_date between ? and ? order by 1",
        [first, last],
    ).fetchall()


def decisions(conn):
    return conn.execute(
        "select effective_date, previous_lower, previous_upper, target_lower, target_upper, "
        "change_bp, "
        "direction, cycle_start, target_kind from core.fomc_decisions order by 1"
    ).fetchall()


@pytest.fixture
def splice(conn):
    """DFEDTAR to 2008-12-15 (with the 2008-10-29 cut), the range from 2008-12-16, some DFF."""
    load(
        conn,
        {
            "DFEDTAR": [
                (d, 1.5 if d < D(2008, 10, 29) else 1.0)
                for d in days(D(2008, 10, 27), D(2008, 12, 15))
            ],
            "DFEDTARL": [(d, 0.0) for d in days(D(2008, 12, 16), D(2008, 12, 20))],
            "DFEDTARU": [(d, 0.25) for d in days(D(2008, 12, 16), D(2008, 12, 20))],
            "DFF": [(D(2008, 12, 15), 1.0), (D(2008, 12, 16), 0.16), (D(2008, 12, 17), 0.30)],
        },
    )
    rebuild_policy_rate_daily(conn)
    rebuild_fomc_decisions(conn)
    return conn


def test_the_single_target_and_the_range_splice_into_one_daily_history(splice):
    # 27 Oct to 20 Dec 2008: 5 + 30 + 20 calendar days.
    assert splice.execute(
        "select count(*), min(calendar_date), max(calendar_date) from core.policy_rate_daily"
    ).fetchone() == (55, D(2008, 10, 27), D(2008, 12, 20))
    assert policy(splice, D(2008, 12, 15), D(2008, 12, 18)) == [
        # DFEDTAR as both bounds; the effective rate equalled the point target that day.
        (D(2008, 12, 15), 1.0, 1.0, 1.0, "single", 1.0, True, 0.0),
        (D(2008, 12, 16), 0.0, 0.25, 0.125, "range", 0.16, True, 3.5),
        (D(2008, 12, 17), 0.0, 0.25, 0.125, "range", 0.30, False, 17.5),  # above the range
        (D(2008, 12, 18), 0.0, 0.25, 0.125, "range", None, None, None),  # no DFF that day
    ]


def test_decisions_are_dated_on_the_day_they_took_effect(splice):
    assert decisions(splice) == [
        (D(2008, 10, 29), 1.5, 1.5, 1.0, 1.0, -50, "cut", D(2008, 10, 29), "single"),
        # From the 1.00 point target to 0-0.25: the upper bound fell 75 bp (the lower 100).
        (D(2008, 12, 16), 1.0, 1.0, 0.0, 0.25, -75, "cut", D(2008, 10, 29), "range"),
    ]


def test_a_stale_single_target_after_the_range_starts_is_ignored(conn):
    load(
        conn,
        {
            "DFEDTAR": [
                (d, 1.0) for d in days(D(2008, 12, 13), D(2008, 12, 18))
            ],  # runs on past the splice
            "DFEDTARL": [(d, 0.0) for d in days(D(2008, 12, 16), D(2008, 12, 18))],
            "DFEDTARU": [(d, 0.25) for d in days(D(2008, 12, 16), D(2008, 12, 18))],
        },
    )
    rebuild_policy_rate_daily(conn)
    rows = policy(conn, D(2008, 12, 15), D(2008, 12, 18))
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [
        (D(2008, 12, 15), 1.0, 1.0, "single"),
        (D(2008, 12, 16), 0.0, 0.25, "range"),
        (D(2008, 12, 17), 0.0, 0.25, "range"),
        (D(2008, 12, 18), 0.0, 0.25, "range"),
    ]


def test_the_history_starts_in_1990_with_the_target_then_in_force(conn):
    load(conn, {"DFEDTAR": [(D(1989, 12, 20), 8.25), (D(1990, 1, 2), 8.25), (D(1990, 1, 3), 8.0)]})
    rebuild_policy_rate_daily(conn)
    rebuild_fomc_decisions(conn)
    rows = policy(conn, D(1980, 1, 1), D(1999, 1, 1))
    # 1 January 1990 has no observation: it keeps the target set on 20 December 1989.
    assert [(r[0], r[2]) for r in rows] == [
        (D(1990, 1, 1), 8.25),
        (D(1990, 1, 2), 8.25),
        (D(1990, 1, 3), 8.0),
    ]
    assert [(d[0], d[5]) for d in decisions(conn)] == [(D(1990, 1, 3), -25)]


@pytest.fixture
def cycle(conn):
    """A hike in July 2023, the cuts of September and November 2024; FRED skipped 2024-09-18."""
    lower = {
        D(2023, 7, 26): 5.0,
        D(2023, 7, 27): 5.25,
        D(2024, 9, 17): 5.25,
        D(2024, 9, 19): 4.75,
        D(2024, 9, 20): 4.75,
        D(2024, 11, 7): 4.75,
        D(2024, 11, 8): 4.5,
        D(2024, 11, 10): 4.5,
    }
    load(
        conn,
        {
            "DFEDTARL": list(lower.items()),
            "DFEDTARU": [(d, v + 0.25) for d, v in lower.items()],
            "DFF": [(D(2024, 9, 18), 5.33), (D(2024, 9, 19), 4.83), (D(2024, 11, 8), 4.58)],
        },
    )
    rebuild_policy_rate_daily(conn)
    rebuild_fomc_decisions(conn)
    return conn


def test_a_day_fred_skipped_keeps_the_target_and_the_change_keeps_its_date(cycle):
    rows = policy(cycle, D(2024, 9, 17), D(2024, 9, 19))
    assert [(r[0], r[1], r[2], r[5], r[6]) for r in rows] == [
        (D(2024, 9, 17), 5.25, 5.5, None, None),
        (D(2024, 9, 18), 5.25, 5.5, 5.33, True),
        (D(2024, 9, 19), 4.75, 5.0, 4.83, True),
    ]
    assert decisions(cycle) == [
        (D(2023, 7, 27), 5.0, 5.25, 5.25, 5.5, 25, "hike", D(2023, 7, 27), "range"),
        (D(2024, 9, 19), 5.25, 5.5, 4.75, 5.0, -50, "cut", D(2024, 9, 19), "range"),
        (D(2024, 11, 8), 4.75, 5.0, 4.5, 4.75, -25, "cut", D(2024, 9, 19), "range"),
    ]
    assert latest_easing_cycle(cycle) == [
        (D(2024, 9, 19), -50, 4.75, 5.0),
        (D(2024, 11, 8), -25, 4.5, 4.75),
    ]


def test_latest_policy_reports_the_last_day_and_the_last_effective_rate(cycle):
    assert latest_policy(cycle) == {
        "date": D(2024, 11, 10),
        "target_lower": 4.5,
        "target_upper": 4.75,
        "target_mid": 4.625,
        "target_kind": "range",
        "effective_date": D(2024, 11, 8),
        "effective": 4.58,
        "effective_in_range": True,
    }


def test_rebuilding_is_idempotent_and_follows_the_data(cycle):
    before = decisions(cycle)
    rebuild_policy_rate_daily(cycle)
    rebuild_fomc_decisions(cycle)
    assert decisions(cycle) == before
    # FRED revises the November range away: the decision disappears on the next rebuild.
    cycle.execute(
        "update core.rates_daily set value = value + 0.25 where obs_date >= '2024-11-08' "
        "and series_id in ('DFEDTARL', 'DFEDTARU')"
    )
    rebuild_policy_rate_daily(cycle)
    rebuild_fomc_decisions(cycle)
    assert [d[0] for d in decisions(cycle)] == [D(2023, 7, 27), D(2024, 9, 19)]


def test_the_question_is_answered_by_one_query(cycle):
    query = QUERY.read_text()
    cycle.execute("set variable day = date '2024-09-18'")
    assert cycle.execute(query).fetchall() == [
        ("asked day", D(2024, 9, 18), "5.25-5.50", 5.25, 5.5, None, 5.33, True),
        ("cut", D(2024, 9, 19), "4.75-5.00", 4.75, 5.0, -50, 4.83, True),
        ("cut", D(2024, 11, 8), "4.50-4.75", 4.5, 4.75, -25, 4.58, True),
    ]
    cycle.execute("reset variable day")
    asked = cycle.execute(query).fetchall()[0]
    assert asked[:3] == ("asked day", D(2024, 11, 10), "4.50-4.75")  # the latest day by default


def test_the_query_shows_a_single_target_as_one_number(splice):
    splice.execute("set variable day = date '2008-11-01'")
    assert splice.execute(QUERY.read_text()).fetchall()[0] == (
        "asked day",
        D(2008, 11, 1),
        "1.00",
        1.0,
        1.0,
        None,
        None,
        None,
    )


def write_reference(tmp_path, rows: str) -> Path:
    path = tmp_path / "fomc_decisions.csv"
    path.write_text(
        "# a hand-made reference\neffective_date,target_lower,target_upper,change_bp,notes\n" + rows
    )
    return path


def test_the_check_finds_a_decision_dated_a_day_early(cycle, tmp_path):
    path = write_reference(
        tmp_path,
        "2023-07-27,5.25,5.50,25,\n2024-09-18,4.75,5.00,-50,announced day\n"
        "2024-11-08,4.50,4.75,-25,\n2025-01-30,4.25,4.50,-25,after the data\n",
    )
    load_fomc_reference(cycle, path)
    outcome = decisions_match_reference(cycle)
    assert outcome.counts["decisions_agreeing"] == 2 and not outcome.passed
    assert outcome.severity is None  # a real disagreement: ERROR, blocking
    assert [(r["effective_date"], r["problem"], r["reference_line"]) for r in outcome.records()] == [
        (D(2024, 9, 18), "in the reference, missing from the data", 4),
        (D(2024, 9, 19), "in the data, missing from the reference", None),
    ]
    assert outcome.counts["newer_than_reference"] == 0  # 2025-01-30 is after the data: not compared


def test_the_check_names_a_decision_newer_than_the_reference(cycle, tmp_path):
    load_fomc_reference(
        cycle, write_reference(tmp_path, "2023-07-27,5.25,5.50,25,\n2024-09-19,4.75,5.00,-50,\n")
    )
    outcome = decisions_match_reference(cycle)
    # Only newer than the file: the file needs a row, a warning rather than a block.
    assert outcome.counts["decisions_agreeing"] == 2 and outcome.severity == "warn"
    assert [(r["effective_date"], r["problem"]) for r in outcome.records()] == [
        (D(2024, 11, 8), "newer than the reference: add a row to config/fomc_decisions.csv")
    ]


def test_the_check_finds_different_bounds(cycle, tmp_path):
    load_fomc_reference(
        cycle,
        write_reference(
            tmp_path,
            "2023-07-27,5.25,5.50,25,\n2024-09-19,4.50,5.00,-50,\n2024-11-08,4.50,4.75,-25,\n",
        ),
    )
    records = decisions_match_reference(cycle).records()
    assert [(r["effective_date"], r["problem"], r["reference_lower"], r["data_lower"], r["reference_line"])
            for r in records] == [(D(2024, 9, 19), "the data and the reference disagree", 4.5, 4.75, 4)]


def test_fetch_starts_go_back_the_revision_window_from_the_last_observation(cycle):
    assert fetch_starts(cycle, ["DFEDTARL", "DFF", "DGS10"], 30) == {
        "DFEDTARL": D(2024, 10, 11),  # last stored 2024-11-10
        "DFF": D(2024, 10, 9),  # last stored 2024-11-08
        "DGS10": None,  # never loaded: the whole history
    }


def test_cycle_start_splits_cuts_more_than_the_gap_apart(conn):
    """The easing-cycle rule in core.fomc_decisions: a hike run is one cycle; a cut after a hike,
    or more than easing_cycle_gap_days (180) after the previous cut, starts one. Day counts by hand:
    2024-12-19 -> 2025-06-17 is 12 + 31 + 28 + 31 + 30 + 31 + 17 = 180 days (same cycle),
    2025-06-17 -> 2025-12-16 is 13 + 31 + 31 + 30 + 31 + 30 + 16 = 182 days (a new one)."""
    upper = {
        D(2024, 12, 1): 4.75,
        D(2024, 12, 19): 4.5,  # cut: the first change of the history starts a cycle
        D(2025, 6, 17): 4.25,  # 180 days later: the same cycle
        D(2025, 12, 16): 4.0,  # 182 days later: a new cycle
        D(2026, 1, 5): 4.25,  # hike: its own run
        D(2026, 1, 20): 4.5,  # hike: the same run
        D(2026, 2, 3): 4.25,  # cut after a hike, 49 days after the last cut: a new cycle
    }
    lower_by_day, current = [], None
    for day in days(D(2024, 12, 1), D(2026, 2, 10)):
        current = upper.get(day, current)
        lower_by_day.append((day, current - 0.25))
    load(conn, {"DFEDTARL": lower_by_day, "DFEDTARU": [(d, v + 0.25) for d, v in lower_by_day]})
    rebuild_policy_rate_daily(conn)
    rebuild_fomc_decisions(conn)
    starts = [(d[0], d[7]) for d in decisions(conn)]
    assert starts == [
        (D(2024, 12, 19), D(2024, 12, 19)),
        (D(2025, 6, 17), D(2024, 12, 19)),
        (D(2025, 12, 16), D(2025, 12, 16)),
        (D(2026, 1, 5), D(2026, 1, 5)),
        (D(2026, 1, 20), D(2026, 1, 5)),
        (D(2026, 2, 3), D(2026, 2, 3)),
    ]
    assert [c[0] for c in latest_easing_cycle(conn)] == [D(2026, 2, 3)]
    # a 200-day gap bridges the 182 days: one cycle from 2024-12-19
    rebuild_fomc_decisions(conn, gap_days=200)
    assert [d[7] for d in decisions(conn)][:3] == [D(2024, 12, 19)] * 3
