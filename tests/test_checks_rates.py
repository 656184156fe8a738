"""The checks of the rates tables, on the real shape of the 2024 easing cycle.

FRED's target range was 5.25-5.50 until 2024-09-18, then 4.75-5.00 (a 50 bp cut effective
2024-09-19), 4.50-4.75 from 2024-11-08 and 4.25-4.50 from 2024-12-19; DFF sat 7-8 bp above the
lower bound.
"""

import datetime as dt

import pandas as pd
import pytest

from warehouse import rates as rates_db
from warehouse.checks import rates as checks
from warehouse.checks.config import load_config

D = dt.date
RANGES = [  # first day, lower, upper
    (D(2024, 9, 1), 5.25, 5.50),
    (D(2024, 9, 19), 4.75, 5.00),
    (D(2024, 11, 8), 4.50, 4.75),
    (D(2024, 12, 19), 4.25, 4.50),
]
LAST = D(2024, 12, 31)
REFERENCE = """# test reference
effective_date,target_lower,target_upper,change_bp,notes
2024-09-19,4.75,5.00,-50,
2024-11-08,4.50,4.75,-25,
2024-12-19,4.25,4.50,-25,
"""


def days(first, last):
    return [first + dt.timedelta(n) for n in range((last - first).days + 1)]


def insert(conn, rows):
    frame = pd.DataFrame(rows, columns=["series_id", "obs_date", "value"])  # noqa: F841 (read by DuckDB)
    conn.execute(
        "insert into core.rates_daily select series_id, obs_date, value, 'files', now() from frame"
    )


def range_rows(ranges=RANGES, last=LAST):
    rows = []
    for i, (first, lower, upper) in enumerate(ranges):
        end = ranges[i + 1][0] - dt.timedelta(1) if i + 1 < len(ranges) else last
        for day in days(first, end):
            rows += [("DFEDTARL", day, lower), ("DFEDTARU", day, upper), ("DFF", day, lower + 0.08)]
    return rows


@pytest.fixture
def reference(tmp_path):
    path = tmp_path / "fomc_decisions.csv"
    path.write_text(REFERENCE)
    return path


def rebuild(conn, reference):
    rates_db.rebuild_policy_rate_daily(conn, since=D(2024, 9, 1))
    rates_db.rebuild_fomc_decisions(conn)
    rates_db.load_fomc_reference(conn, reference)


@pytest.fixture
def clean(conn, reference):
    insert(conn, range_rows())
    rebuild(conn, reference)
    return conn


def cfg(name):
    return load_config()[f"rates.{name}"]


# --- keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table", ["core.rates_daily", "core.policy_rate_daily", "core.fomc_decisions"]
)
def test_unique_keys_pass_on_clean_tables(clean, table):
    assert checks.unique_keys(clean, table=table).passed


def test_unique_keys_name_a_duplicated_observation(clean):
    # a copy made with CREATE TABLE AS keeps the rows but not the key constraint
    clean.execute("create table _copy as select * from core.rates_daily")
    clean.execute("drop table core.rates_daily")
    clean.execute("create table core.rates_daily as select * from _copy")
    clean.execute(
        "insert into core.rates_daily select * from _copy "
        "where series_id = 'DFF' and obs_date = '2024-10-01'"
    )
    out = checks.unique_keys(clean, table="core.rates_daily")
    assert not out.passed
    assert out.rows == [("DFF", D(2024, 10, 1), 2, "key stored 2 times")]


# --- the target range -----------------------------------------------------------------------


def test_target_range_passes_on_clean_data(clean):
    out = checks.target_range(clean, **cfg("target_range"))
    assert out.passed, out.summary
    assert out.counts["range_days"] == (LAST - D(2024, 9, 1)).days + 1


def test_target_range_names_inverted_wide_and_half_published_days(clean):
    clean.execute(
        "update core.rates_daily set value = 5.50 "
        "where series_id = 'DFEDTARL' and obs_date = '2024-09-05'"
    )
    clean.execute(
        "update core.rates_daily set value = 5.00 "
        "where series_id = 'DFEDTARU' and obs_date = '2024-11-08'"
    )
    clean.execute(
        "delete from core.rates_daily where series_id = 'DFEDTARU' and obs_date = '2024-12-31'"
    )
    out = checks.target_range(clean, **cfg("target_range"))
    assert not out.passed
    assert [(r["obs_date"], r["problem"]) for r in out.records()] == [
        (D(2024, 9, 5), "lower bound not below the upper bound"),
        (D(2024, 11, 8), "range not 25 bp wide"),
        (D(2024, 12, 31), "lower bound without an upper bound"),
    ]
    assert out.records()[1]["width_bp"] == 50


# --- the effective rate ---------------------------------------------------------------------


def test_effective_in_range_passes_on_clean_data(clean):
    out = checks.effective_in_range(clean, **cfg("effective_in_range"))
    assert out.passed, out.summary
    assert out.counts["days_judged"] == 122


def test_effective_in_range_names_a_dff_observation_outside_the_range(clean, reference):
    # the real shape: a hike's effective day with DFF still at the old level, 10 bp below
    clean.execute(
        "update core.rates_daily set value = 4.65 "
        "where series_id = 'DFF' and obs_date = '2024-10-01'"
    )
    # and a spike 3 bp above the upper bound: inside the 5 bp tolerance
    clean.execute(
        "update core.rates_daily set value = 5.03 "
        "where series_id = 'DFF' and obs_date = '2024-10-02'"
    )
    rebuild(clean, reference)
    out = checks.effective_in_range(clean, **cfg("effective_in_range"))
    assert not out.passed
    assert out.rows == [(D(2024, 10, 1), 4.75, 5.00, 4.65, -10.0)]
    assert len(checks.effective_in_range(clean, tolerance_bp=0).rows) == 2


# --- decisions against the shipped reference ------------------------------------------------


def test_decisions_match_the_reference(clean):
    out = checks.decisions_match_reference(clean)
    assert out.passed, out.summary
    assert out.counts["decisions_agreeing"] == 3


def test_decisions_name_an_fomc_change_missing_from_the_data(conn, reference):
    # FRED's series without the 2024-11-08 cut: the range stays 4.75-5.00 until 12-19
    insert(conn, range_rows([RANGES[0], RANGES[1], RANGES[3]]))
    rebuild(conn, reference)
    out = checks.decisions_match_reference(conn)
    assert not out.passed
    assert out.severity is None  # the check's own severity: ERROR, blocking
    assert [(r["effective_date"], r["problem"]) for r in out.records()] == [
        (D(2024, 11, 8), "in the reference, missing from the data"),
        (D(2024, 12, 19), "the data and the reference disagree"),
    ]
    row = out.records()[1]
    assert (row["data_change_bp"], row["reference_change_bp"]) == (-50, -25)
    assert out.counts["disagreements"] == 2


def test_a_change_newer_than_the_reference_is_only_a_warning(conn, tmp_path):
    path = tmp_path / "old_reference.csv"
    path.write_text(REFERENCE.replace("2024-12-19,4.25,4.50,-25,\n", ""))
    insert(conn, range_rows())
    rebuild(conn, path)
    out = checks.decisions_match_reference(conn)
    assert not out.passed
    assert out.severity == "warn"
    assert out.rows[0][0] == D(2024, 12, 19)
    assert out.rows[0][-1].startswith("newer than the reference")


# --- freshness ------------------------------------------------------------------------------


def test_freshness_by_frequency(clean):
    insert(clean, [("CPIAUCSL", D(2024, 11, 1), 316.4), ("DFEDTAR", D(2008, 12, 15), 1.0)])
    series = ["DFF", "DFEDTARL", "DFEDTARU", "DFEDTAR", "CPIAUCSL"]
    out = checks.freshness(clean, series=series, today=D(2025, 1, 3), **cfg("freshness"))
    assert out.passed, out.summary
    assert out.counts["series_judged"] == 4  # DFEDTAR is discontinued


def test_freshness_names_stale_and_missing_series(clean):
    insert(clean, [("CPIAUCSL", D(2024, 11, 1), 316.4)])
    out = checks.freshness(
        clean, series=["DFF", "CPIAUCSL", "DGS10"], today=D(2025, 1, 31), **cfg("freshness")
    )
    assert not out.passed
    assert out.rows == [
        ("CPIAUCSL", "monthly", D(2024, 11, 1), 91, 80, "last observation 91 days old"),
        ("DFF", "daily", D(2024, 12, 31), 31, 7, "last observation 31 days old"),
        ("DGS10", "daily", None, None, 7, "no observations stored"),
    ]


# --- real data (optional: ../shared/realdata) ------------------------------------------------


def test_real_fred_series_against_the_shipped_reference(conn, realdata):
    """FRED's real DFEDTAR, DFEDTARL, DFEDTARU and DFF: the range is sane, the derived decisions
    agree with config/fomc_decisions.csv, and DFF leaves the range (by more than 5 bp) on exactly
    the two hike days the config names."""
    from warehouse.sources.rate_files import FilesRatesSource

    batch = FilesRatesSource(realdata).observations(["DFEDTAR", "DFEDTARL", "DFEDTARU", "DFF"])
    rates_db.load_rates(conn, batch, source="files")
    rates_db.rebuild_policy_rate_daily(conn)
    rates_db.rebuild_fomc_decisions(conn)
    rates_db.load_fomc_reference(conn)
    for name in ("unique_keys",):
        assert checks.unique_keys(conn).passed, name
    target = checks.target_range(conn, **cfg("target_range"))
    assert target.passed, target.rows
    decisions = checks.decisions_match_reference(conn)
    assert decisions.passed, decisions.rows
    effective = checks.effective_in_range(conn, **cfg("effective_in_range"))
    assert not effective.passed
    assert sorted(effective.column("calendar_date")) == [D(2015, 12, 16), D(2016, 12, 14)]
