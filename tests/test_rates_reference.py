"""The shipped FOMC reference (config/fomc_decisions.csv): its rows, checks, and real FRED data."""

import datetime as dt

import pytest

from warehouse.checks.rates import decisions_match_reference
from warehouse.fomc_reference import ReferenceError, read_reference
from warehouse.rates import (
    load_fomc_reference,
    load_rates,
    rebuild_fomc_decisions,
    rebuild_policy_rate_daily,
)
from warehouse.sources.rates import open_rates_source

D = dt.date
HEADER = "effective_date,target_lower,target_upper,change_bp,notes\n"


def test_the_shipped_file_holds_the_2024_2025_cuts_as_published():
    decisions = read_reference()
    latest = [
        (d.effective_date, d.target_lower, d.target_upper, d.change_bp) for d in decisions[-7:]
    ]
    assert latest == [
        (D(2023, 7, 27), 5.25, 5.50, 25),
        (D(2024, 9, 19), 4.75, 5.00, -50),
        (D(2024, 11, 8), 4.50, 4.75, -25),
        (D(2024, 12, 19), 4.25, 4.50, -25),
        (D(2025, 9, 18), 4.00, 4.25, -25),
        (D(2025, 10, 30), 3.75, 4.00, -25),
        (D(2025, 12, 11), 3.50, 3.75, -25),
    ]


def test_the_shipped_file_spans_1990_to_december_2025_with_a_point_target_before_the_range():
    decisions = read_reference()
    assert decisions[0].effective_date == D(1990, 7, 13) and decisions[0].target_upper == 8.0
    single = [d for d in decisions if d.effective_date < D(2008, 12, 16)]
    ranged = [d for d in decisions if d.effective_date >= D(2008, 12, 16)]
    assert all(d.target_lower == d.target_upper for d in single)
    assert all(round((d.target_upper - d.target_lower) * 100) == 25 for d in ranged)
    switch = ranged[0]
    assert (switch.effective_date, switch.target_lower, switch.target_upper, switch.change_bp) == (
        D(2008, 12, 16),
        0.0,
        0.25,
        -75,
    )
    # The 2020 emergency cuts, dated the day after each announcement.
    assert [
        (d.effective_date, d.change_bp) for d in decisions if d.effective_date.year == 2020
    ] == [(D(2020, 3, 4), -50), (D(2020, 3, 16), -100)]


def write(tmp_path, body: str):
    path = tmp_path / "fomc.csv"
    path.write_text("# comment line\n" + HEADER + body)
    return path


def test_malformed_rows_are_reported_by_line_all_at_once(tmp_path):
    path = write(
        tmp_path,
        (
            "2024-09-19,4.75,5.00,-50,fine\n"  # line 3
            "2024-13-01,4.50,4.75,-25,\n"  # line 4: no such month
            "2024-11-08,4.50,4.75,-25,\n"  # line 5: fine
            "2024-12-19,4.25,4.50,-50,\n"  # line 6: 4.75 -> 4.50 is -25, not -50
            "2025-09-18,4.25,4.00,-25,\n"  # line 7: lower above upper
            "2025-10-30,3.75,four,-25,\n"  # line 8: not a number
            "2024-12-01,4.25,4.50,-25,\n"  # line 9: not after line 6
            "2025-12-11,3.50,3.75,-25,a note, with a comma\n"  # line 10: unquoted comma
        ),
    )
    with pytest.raises(ReferenceError) as err:
        read_reference(path)
    message = str(err.value)
    assert f"{path}: 6 problem(s)" in message
    for expected in [
        f"{path} line 4: effective_date '2024-13-01' is not a YYYY-MM-DD date",
        f"{path} line 6: change_bp -50 does not match the move of the upper bound "
        "from 4.75 (line 5) to 4.50, -25 bp",
        f"{path} line 7: target_lower 4.25 is above target_upper 4.0",
        f"{path} line 8: target_upper 'four' is not a number",
        f"{path} line 9: 2024-12-01 is not after 2024-12-19 (line 6)",
        f"{path} line 10: expected 5 cells",
    ]:
        assert expected in message


def test_a_wrong_header_is_refused(tmp_path):
    path = tmp_path / "fomc.csv"
    path.write_text("date,lower,upper\n2024-09-19,4.75,5.00\n")
    with pytest.raises(
        ReferenceError, match=r"line 1: the header must be effective_date,target_lower"
    ):
        read_reference(path)


def test_loading_replaces_the_table_so_a_deleted_row_disappears(conn, tmp_path):
    path = write(tmp_path, '2024-09-19,4.75,5.00,-50,"cut, the first"\n2024-11-08,4.50,4.75,-25,\n')
    assert load_fomc_reference(conn, path) == 2
    assert conn.execute(
        "select effective_date, notes, line_number from core.fomc_reference order by 1"
    ).fetchall() == [(D(2024, 9, 19), "cut, the first", 3), (D(2024, 11, 8), None, 4)]
    write(tmp_path, "2024-09-19,4.75,5.00,-50,\n")
    assert load_fomc_reference(conn, path) == 1
    assert conn.execute("select count(*) from core.fomc_reference").fetchone()[0] == 1


def test_a_bad_file_leaves_the_table_as_it_was(conn, tmp_path):
    load_fomc_reference(conn, write(tmp_path, "2024-09-19,4.75,5.00,-50,\n"))
    with pytest.raises(ReferenceError):
        load_fomc_reference(
            conn, write(tmp_path, "2024-09-19,4.75,5.00,-55,\n2024-11-08,x,4.75,-25,\n")
        )
    assert conn.execute("select count(*) from core.fomc_reference").fetchone()[0] == 1


@pytest.mark.realdata
def test_decisions_derived_from_real_fred_data_match_the_shipped_reference(conn, realdata):
    batch = open_rates_source("files", realdata).observations(
        ["DFEDTAR", "DFEDTARL", "DFEDTARU", "DFF"]
    )
    assert batch.failed == {}
    load_rates(conn, batch, source="files")
    rebuild_policy_rate_daily(conn)
    rebuild_fomc_decisions(conn)
    load_fomc_reference(conn)

    outcome = decisions_match_reference(conn)
    # The real DFEDTARU ends 2025-12-10: every published change up to then is confirmed, no other.
    assert (outcome.counts["compared_from"], outcome.counts["compared_until"]) == ("1990-01-01", "2025-12-10")
    assert outcome.passed and outcome.failing == 0
    covered = [d for d in read_reference() if d.effective_date <= D(2025, 12, 10)]
    assert outcome.counts["decisions_agreeing"] == len(covered) == 108
    derived = conn.execute(
        "select effective_date, target_lower, target_upper, change_bp "
        "from core.fomc_decisions order by 1"
    ).fetchall()
    assert derived == [
        (d.effective_date, d.target_lower, d.target_upper, d.change_bp) for d in covered
    ]
    # The continuous history: the single target to 2008-12-15, the range after, every day.
    first, last, count, single_until = conn.execute(
        "select min(calendar_date), max(calendar_date), count(*), "
        "max(calendar_date) filter (where target_kind = 'single') from core.policy_rate_daily"
    ).fetchone()
    assert (first, last, single_until) == (D(1990, 1, 1), D(2025, 12, 10), D(2008, 12, 15))
    assert count == (last - first).days + 1
