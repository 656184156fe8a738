"""The claims file's rules (warehouse/claims.py), one at a time: what a row becomes, what each
refusal says, how the report of many bad rows is cut, and what load_claims stores. No model is
built: these run in milliseconds, so every mutant of the reader can be tried against them.
"""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import pytest

from warehouse import claims
from warehouse.claims import HEADER, Claim, ClaimsError, MetricKind, load_claims, precision_of, read_claims
from warehouse.db import DDL_DIR

D = dt.date
HEADER_LINE = ",".join(HEADER)
GOOD = "a,P,x,,close,^RUT,,2026-01-08,2603.90,0.005,"


def write(tmp_path, *lines: str, header: str = HEADER_LINE):
    path = tmp_path / "claims.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def one(tmp_path, line: str) -> Claim:
    (claim,) = read_claims(write(tmp_path, line))
    return claim


def problems(tmp_path, *lines: str) -> list[str]:
    """The reported problems, each without its 'path line n: ' prefix."""
    path = write(tmp_path, *lines)
    with pytest.raises(ClaimsError) as err:
        read_claims(path)
    head, *rest = str(err.value).split("\n")
    assert head == f"{path}: {len(rest)} bad row(s); fix them and run again:"
    return [re.sub(rf"^{re.escape(str(path))} line \d+: ", "", r) for r in rest]


# --------------------------------------------------------------------------------- what a row is


def test_every_cell_of_a_full_row_is_kept(tmp_path):
    line = ('c1,Pub,http://x,2026-01-05,upside_to_target,IWM,,2026-01-09,0.125,0.0005,my reading,'
            '"the words, quoted",at_least,0.2,250')
    assert one(tmp_path, line) == Claim(
        claim_id="c1", publisher="Pub", source_ref="http://x", published_on=D(2026, 1, 5),
        metric="upside_to_target", subject="IWM", start_date=None, as_of_date=D(2026, 1, 9),
        claimed_value=0.125, tolerance=0.0005, reading="my reading", line=2, words="the words, quoted",
        comparison="at_least", close_tolerance=0.2, target_level=250.0, precision=0.001,
    )


def test_a_row_of_the_ten_required_cells_takes_the_defaults(tmp_path):
    claim = one(tmp_path, " 1a , P , x ,,fed_change_bp,, 2025-09-01 , 2025-12-11 ,-75, 0 ")
    assert claim == Claim(
        claim_id="1a", publisher="P", source_ref="x", published_on=None, metric="fed_change_bp", subject=None,
        start_date=D(2025, 9, 1), as_of_date=D(2025, 12, 11), claimed_value=-75.0, tolerance=0.0, reading=None,
        line=2, words=None, comparison="about", close_tolerance=None, target_level=None, precision=1.0,
    )


def test_lines_are_numbered_in_the_file_comments_and_blanks_included(tmp_path):
    path = write(tmp_path, "# a comment", "", "   # an indented comment", "   ", GOOD, "b" + GOOD[1:])
    assert [(c.claim_id, c.line) for c in read_claims(path)] == [("a", 6), ("b", 7)]


def test_a_header_after_comments_with_a_bom_and_spaces_is_read(tmp_path):
    path = tmp_path / "claims.csv"
    header = ", ".join(HEADER)
    path.write_text(f"# claims\n{header}\n{GOOD}\n", encoding="utf-8-sig")
    assert [(c.claim_id, c.line) for c in read_claims(path)] == [("a", 3)]


def test_a_header_without_rows_is_no_claims(tmp_path):
    assert read_claims(write(tmp_path)) == []


@pytest.mark.parametrize(("cell", "unit"), [
    ("2603.90", 0.01), ("0.023", 0.001), ("3", 1.0), ("-75", 1.0), ("1E+2", 1.0), ("2.5e-3", 0.0001), ("x", 1.0),
])
def test_precision_is_the_unit_of_the_last_digit_written(cell, unit):
    assert precision_of(cell) == unit


def test_a_claim_keeps_the_precision_of_its_value_as_written(tmp_path):
    assert one(tmp_path, GOOD).precision == 0.01
    assert one(tmp_path, GOOD.replace("2603.90", "2604")).precision == 1.0


def test_optional_start_date_may_be_given_or_left_out(tmp_path):
    assert one(tmp_path, "a,P,x,,max_close,^RUT,,2026-01-09,2700,0.005,").start_date is None
    given = one(tmp_path, "a,P,x,,max_close,^RUT,2026-01-08,2026-01-09,2700,0.005,")
    assert given.start_date == D(2026, 1, 8)  # the day before as_of_date is allowed


@pytest.mark.parametrize("comparison", ["about", "at_least", "at_most", "above", "below"])
def test_every_comparison_is_accepted(tmp_path, comparison):
    assert one(tmp_path, GOOD + f",,{comparison}").comparison == comparison


@pytest.mark.parametrize(("metric", "subject"), [
    ("outperformance_streak", "^RUT/^GSPC"), ("fred_yoy", "CPIAUCSL"), ("fred_yoy", "T10"), ("close", "BRK-B"),
])
def test_subjects_of_each_kind_are_accepted(tmp_path, metric, subject):
    assert one(tmp_path, f"a,P,x,,{metric},{subject},,2026-01-09,1,0,").subject == subject


def test_metric_kinds_are_grouped_by_their_family_model():
    assert claims.metrics_of("macro") == ["fed_target_lower", "fed_target_upper", "fed_cuts_in_cycle",
                                          "fed_bp_cut_in_cycle", "fed_change_bp", "fred_yoy", "curve_change"]
    assert claims.metrics_of("breadth") == ["share_advancing", "years_since_broader"]
    assert claims.metrics_of("nothing") == []


def test_a_metric_kind_joins_its_description_into_one_line():
    assert claims._kind("prices", "ticker", "none", "price", "two\n        lines") == MetricKind(
        "prices", "ticker", "none", "price", "two lines", False)
    assert claims._kind("prices", None, "none", "price", "d", needs_target=True).needs_target is True


# ---------------------------------------------------------------------------------- refusals


def test_a_missing_file_is_refused(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(ClaimsError, match=f"^{re.escape(str(path))}: the claims file does not exist$"):
        read_claims(path)


def test_a_file_of_comments_only_is_refused(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text("# nothing yet\n\n", encoding="utf-8")
    with pytest.raises(ClaimsError, match=f"^{re.escape(str(path))}: no header and no rows$"):
        read_claims(path)


def test_a_wrong_header_is_refused_with_its_line_and_the_expected_one(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text("# claims\nclaim,publisher\n", encoding="utf-8")
    expected = f"{path} line 2: the header must be {HEADER_LINE}, got claim,publisher"
    with pytest.raises(ClaimsError, match=f"^{re.escape(expected)}$"):
        read_claims(path)


def test_ten_and_fifteen_cells_are_the_bounds(tmp_path):
    cells = f"expected 10 to 15 cells ({HEADER_LINE}), found {{}}; quote a cell that holds a comma"
    assert problems(tmp_path, "a,P,x,,close,^RUT,,2026-01-09,2100") == [cells.format(9)]
    assert problems(tmp_path, GOOD + ",,about,,,") == [cells.format(16)]
    assert one(tmp_path, GOOD + ",,about,0.2,").close_tolerance == 0.2  # 15 cells


@pytest.mark.parametrize("claim_id", ["_a", "A", "a-b", "a b", ""])
def test_a_claim_id_is_lowercase_letters_digits_and_underscores(tmp_path, claim_id):
    assert problems(tmp_path, claim_id + GOOD[1:]) == [
        f"claim_id {claim_id!r} must be lowercase letters, digits and '_', starting with a letter or digit"]


def test_publisher_and_source_must_be_said(tmp_path):
    assert problems(tmp_path, "a,,,,close,^RUT,,2026-01-09,2100,0.005,") == [
        "publisher is empty; say who published the claim and where",
        "source_ref is empty; say who published the claim and where",
    ]


def test_dates_are_iso_dates(tmp_path):
    assert problems(tmp_path, "a,P,x,2026-13-01,price_return,^RUT,1/2/2026,2026-01-09,0.01,0,") == [
        "published_on '2026-13-01' is not a YYYY-MM-DD date",
        "start_date '1/2/2026' is not a YYYY-MM-DD date",
    ]


def test_the_dates_a_metric_needs_must_be_given(tmp_path):
    assert problems(tmp_path, "a,P,x,,price_return,^RUT,,,0.01,0,") == [
        "start_date is empty; write a YYYY-MM-DD date",
        "as_of_date is empty; write a YYYY-MM-DD date",
    ]


def test_start_date_must_be_before_as_of_date(tmp_path):
    assert problems(tmp_path, "a,P,x,,price_return,^RUT,2026-01-10,2026-01-09,0.01,0,") == [
        "start_date 2026-01-10 is not before as_of_date 2026-01-09"]
    assert problems(tmp_path, "a,P,x,,price_return,^RUT,2026-01-09,2026-01-09,0.01,0,") == [
        "start_date 2026-01-09 is not before as_of_date 2026-01-09"]


def test_a_metric_without_a_start_refuses_one(tmp_path):
    assert problems(tmp_path, "a,P,x,,close,^RUT,2026-01-02,2026-01-09,2100,0.005,") == [
        "metric close has no start_date; leave it empty"]


def test_an_unknown_metric_lists_the_known_ones_and_its_value_has_no_unit(tmp_path):
    assert problems(tmp_path, "a,P,x,,closing,^RUT,,2026-01-09,high,0.005,") == [
        f"metric 'closing' is not one of {', '.join(claims.METRICS)}",
        "claimed_value 'high' is not a number",
    ]


@pytest.mark.parametrize(("metric", "subject", "problem"), [
    ("close", "", "metric close needs a ticker as subject (a Yahoo symbol such as ^RUT or IWM), got 'nothing'"),
    ("close", "rut", "metric close needs a ticker as subject (a Yahoo symbol such as ^RUT or IWM), got 'rut'"),
    ("outperformance_streak", "", "metric outperformance_streak needs a pair SMALL/LARGE as subject "
     "(e.g. ^RUT/^GSPC), got 'nothing'"),
    ("outperformance_streak", "^RUT", "metric outperformance_streak needs a pair SMALL/LARGE as subject "
     "(e.g. ^RUT/^GSPC), got '^RUT'"),
    ("fred_yoy", "", "metric fred_yoy needs a FRED series id as subject (e.g. CPIAUCSL), got 'nothing'"),
    ("fred_yoy", "cpi", "metric fred_yoy needs a FRED series id as subject (e.g. CPIAUCSL), got 'cpi'"),
    ("fred_yoy", "C", "metric fred_yoy needs a FRED series id as subject (e.g. CPIAUCSL), got 'C'"),
    ("fed_target_lower", "^RUT", "metric fed_target_lower takes no subject; leave it empty, got '^RUT'"),
])
def test_each_metric_needs_its_kind_of_subject(tmp_path, metric, subject, problem):
    assert problems(tmp_path, f"a,P,x,,{metric},{subject},,2026-01-09,1,0,") == [problem]


def test_values_are_plain_numbers_in_the_metrics_unit(tmp_path):
    assert problems(tmp_path, 'a,P,x,,price_return,^RUT,2025-12-31,2026-01-09,4.69%,"1,000",') == [
        "claimed_value '4.69%' is a percent: write fractions, e.g. 4.69% as 0.0469",
        "tolerance '1,000' has a thousands separator: write 2603.90, not 2,603.90",
    ]
    assert problems(tmp_path, "a,P,x,,close,^RUT,,2026-01-09,nan,inf,") == [
        "claimed_value 'nan' is not a number (unit: price)",
        "tolerance 'inf' is not a number (unit: price)",
    ]


def test_a_tolerance_may_be_zero_but_not_negative(tmp_path):
    assert one(tmp_path, "a,P,x,,close,^RUT,,2026-01-09,2100,0,").tolerance == 0.0
    assert problems(tmp_path, "a,P,x,,close,^RUT,,2026-01-09,2100,-0.5,") == ["tolerance -0.5 is negative"]


def test_an_unknown_comparison_lists_the_known_ones(tmp_path):
    assert problems(tmp_path, GOOD + ",,approx") == [
        "comparison 'approx' is not one of about, at_least, at_most, above, below"]


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.1"])
def test_a_close_tolerance_is_strictly_between_0_and_1(tmp_path, value):
    assert problems(tmp_path, GOOD + f",,about,{value}") == [
        f"close_tolerance {float(value)} is relative to the claimed value: between 0 and 1 (0.2 is within 20%)"]


def test_a_close_tolerance_that_is_no_number_is_refused(tmp_path):
    assert problems(tmp_path, GOOD + ",,about,near") == ["close_tolerance 'near' is not a number (unit: relative)"]


def test_a_price_target_is_given_exactly_for_the_upside_metric(tmp_path):
    upside = "a,P,x,,upside_to_target,IWM,,2026-01-09,0.1,0,"
    assert problems(tmp_path, upside) == ["metric upside_to_target needs target_level (the price target)"]
    assert problems(tmp_path, upside + ",,,,lots") == ["target_level 'lots' is not a number (unit: price)"]
    assert problems(tmp_path, GOOD + ",,,,250") == ["metric close has no target_level; leave it empty"]


def test_a_bad_row_does_not_reserve_its_claim_id(tmp_path):
    # line 2 is refused, so line 3 is the first 'a' and no duplicate
    assert problems(tmp_path, "a,P,x,,close,^RUT,,someday,2100,0.005,", GOOD) == [
        "as_of_date 'someday' is not a YYYY-MM-DD date"]


def test_a_claim_id_used_twice_names_the_first_line(tmp_path):
    assert problems(tmp_path, GOOD, "b" + GOOD[1:], GOOD) == ["claim_id 'a' is already used on line 2"]


def test_twenty_problems_are_listed_and_the_rest_counted(tmp_path):
    bad = [f"r{i},P,x,,close,^RUT,,2026-01-09,2100,-1," for i in range(23)]
    path = write(tmp_path, *bad)
    with pytest.raises(ClaimsError) as err:
        read_claims(path)
    lines = str(err.value).split("\n")
    assert lines[0] == f"{path}: 23 bad row(s); fix them and run again:"
    assert lines[1:21] == [f"{path} line {n}: tolerance -1.0 is negative" for n in range(2, 22)]
    assert lines[21:] == ["... and 3 more"]


def test_exactly_twenty_problems_are_all_listed(tmp_path):
    assert len(problems(tmp_path, *[f"r{i},P,x,,close,^RUT,,2026-01-09,2100,-1," for i in range(20)])) == 20


# ------------------------------------------------------------------------------------ loading


@pytest.fixture
def conn():
    c = duckdb.connect()
    for ddl in ("05_changes.sql", "40_claims.sql"):  # meta.changes, core.published_claims
        c.execute((DDL_DIR / ddl).read_text(encoding="utf-8"))
    yield c
    c.close()


def stored(conn) -> list[tuple]:
    return conn.execute("select * from core.published_claims order by line_number").fetchall()


def test_load_stores_every_cell_typed_and_returns_the_count(conn, tmp_path):
    path = write(tmp_path, GOOD, "# skip", "u,Q,y,2026-01-02,upside_to_target,IWM,,2026-01-09,0.125,0.0005,"
                 "r,w,at_least,0.2,250")
    assert load_claims(conn, path) == 2
    assert stored(conn) == [
        ("a", "P", "x", None, "close", "^RUT", None, D(2026, 1, 8), 2603.9, 0.005, None, None, "about", None, None,
         0.01, 2),
        ("u", "Q", "y", D(2026, 1, 2), "upside_to_target", "IWM", None, D(2026, 1, 9), 0.125, 0.0005, "r", "w",
         "at_least", 0.2, 250.0, 0.001, 4),
    ]


def test_an_unchanged_file_records_one_change_and_a_new_one_replaces_the_rows(conn, tmp_path):
    path = write(tmp_path, GOOD)
    load_claims(conn, path, run_id="r1")
    load_claims(conn, path, run_id="r2")
    load_claims(conn, write(tmp_path, "b" + GOOD[1:]), run_id="r3")
    assert conn.execute("select changed_from, run_id from meta.changes where relation = 'core.published_claims' "
                        "order by change_id").fetchall() == [(None, "r1"), (None, "r3")]
    assert [r[0] for r in stored(conn)] == ["b"]


def test_a_table_of_an_older_shape_is_made_again(conn, tmp_path):
    conn.execute("drop table core.published_claims")
    conn.execute("create table core.published_claims (claim_id varchar, claimed_value double)")
    conn.execute("insert into core.published_claims values ('old', 1)")
    assert load_claims(conn, write(tmp_path, GOOD)) == 1
    columns = [r[0] for r in conn.execute("describe core.published_claims").fetchall()]
    assert columns == [*HEADER, "claimed_precision", "line_number"]
    assert [r[0] for r in stored(conn)] == ["a"]


def test_a_bad_file_leaves_the_stored_claims(conn, tmp_path):
    load_claims(conn, write(tmp_path, GOOD))
    with pytest.raises(ClaimsError):
        load_claims(conn, write(tmp_path, GOOD.replace("^RUT", "rut")))
    assert [r[0] for r in stored(conn)] == ["a"]


def test_the_rows_handed_to_duckdb_are_not_left_on_the_connection(conn, tmp_path):
    load_claims(conn, write(tmp_path, GOOD))
    with pytest.raises(duckdb.CatalogException, match="_claims"):
        conn.execute("select * from _claims")
