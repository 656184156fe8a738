"""The published observations: the shipped file, and how a hand-edited file is read and loaded."""

from __future__ import annotations

import datetime as dt
import json
import textwrap

import pytest

from warehouse import calendar
from warehouse.sources.valuation_files import ValuationFileError, read_valuation_csv
from warehouse.valuations import load_published, published_path, read_published

D = dt.date.fromisoformat
TODAY = D("2026-11-20")
HEADER = "as_of_date,ticker,metric,value,basis,method,publisher,url,notes\n"


def write(tmp_path, body: str, name: str = "published.csv"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def figure(rows, day, ticker, metric):
    match = rows[(rows["as_of_date"] == D(day)) & (rows["ticker"] == ticker)
                 & (rows["metric"] == metric)]
    assert len(match) == 1, (day, ticker, metric)
    return match.iloc[0]


def test_the_shipped_file_holds_the_figures_of_the_rotation_story():
    parsed = read_published(today=TODAY)
    assert parsed.problems == [] and parsed.notes == []
    rows = parsed.rows
    # Russell 2000 at 18.11 and the S&P 500 at 22.3 in early January 2026: a 19% discount.
    assert figure(rows, "2026-01-02", "^RUT", "pe_forward")["value"] == 18.11
    assert figure(rows, "2026-01-02", "^GSPC", "pe_forward")["value"] == 22.3
    discount = figure(rows, "2026-01-02", "^RUT/^GSPC", "pe_discount_forward")
    assert discount["value"] == 0.19 and discount["method"] == "relative"
    assert pytest.approx(0.1879, abs=1e-4) == 1 - 18.11 / 22.3  # the publisher's 19%, rounded
    # ...against a historical 5-10%.
    pair = "^RUT/^GSPC"
    assert figure(rows, "2026-01-02", pair, "pe_discount_norm_low_forward")["value"] == 0.05
    assert figure(rows, "2026-01-02", pair, "pe_discount_norm_high_forward")["value"] == 0.10
    # S&P 500 forward 22x vs S&P SmallCap 600 15x in January 2026.
    assert figure(rows, "2026-01-16", "^GSPC", "pe_forward")["value"] == 22
    assert figure(rows, "2026-01-16", "^SP600", "pe_forward")["value"] == 15.3
    # Russell 2000 forward about 18x vs S&P 500 about 26x at the end of 2025.
    assert figure(rows, "2025-12-31", "^RUT", "pe_forward")["value"] == 18
    assert figure(rows, "2025-12-31", "^GSPC", "pe_forward")["value"] == 26


def test_every_shipped_row_says_who_where_and_how_it_was_read():
    rows = read_published(today=TODAY).rows
    assert rows["publisher"].notna().all()
    assert rows["url"].str.startswith("https://").all()
    assert rows["notes"].notna().all()
    # The dates chosen are sessions, so figures pair with that day's prices.
    assert all(calendar.is_session(day) for day in rows["as_of_date"])
    # The story's vague dates are read in the notes.
    assert "first session of 2026" in figure(rows, "2026-01-02", "^RUT", "pe_forward")["notes"]


def test_the_shipped_file_loads_as_published_rows_and_reloads_unchanged(conn):
    first = load_published(conn, today=TODAY)
    assert first.problems == [] and first.result.inserted == 18 and first.removed == 0
    again = load_published(conn, today=TODAY)
    assert (again.result.inserted, again.result.updated, again.result.unchanged) == (0, 0, 18)
    sources = conn.execute("select distinct source from core.valuations").fetchall()
    assert sources == [("published",)]
    assert first.path == published_path()


def test_a_malformed_row_is_refused_with_its_line_number_and_the_rest_load(tmp_path, conn):
    path = write(tmp_path, """\
        # comment lines and blank lines are skipped

        as_of_date,ticker,metric,value,basis,method,publisher,url,notes
        2026-01-02,^RUT,pe_forward,18.11,forward,unstated,The Money Unlock,,"a note, with a comma"
        2026-01-02,^GSPC,pe_forward,22.3%,forward,unstated,The Money Unlock,,
        01/02/2026,^SP600,pe_forward,15,forward,unstated,Someone,,
        2026-01-02,^SP600,pe,15,forward,unstated,Someone,,
        2026-01-02,^SP600,pe_forward,15,forward,unstated,,,
        2026-01-02,^RUT/^GSPC,pe_discount_forward,0.19,forward,relative,The Money Unlock,,"two
        lines"
        2026-01-02,^RUT,pe_trailing,abc,trailing,unstated,Someone,,
        2027-01-04,^RUT,pe_trailing,20,trailing,unstated,Someone,,
        """)
    load = load_published(conn, path, today=TODAY)
    assert load.problems == [
        f"{path} line 5: value '22.3%' is a percent: write fractions, e.g. 19% as 0.19",
        f"{path} line 6: as_of_date '01/02/2026' is not a date: write it as YYYY-MM-DD",
        f"{path} line 7: metric 'pe' is not <measure>_<basis> with a known measure "
        "(pe, pb, ps, pcf, ev_revenue, ev_ebitda, holdings_pe, holdings_pb, holdings_ps, "
        "holdings_pcf, pe_discount, pe_discount_norm_low, pe_discount_norm_high); e.g. pe_trailing",
        f"{path} line 8: no value for publisher",
        # The quoted note of lines 9-10 spans two lines, so the next row is line 11.
        f"{path} line 11: value 'abc' is not a number",
        f"{path} line 12: as_of_date 2027-01-04 is in the future",
    ]
    stored = conn.execute(
        "select as_of_date, ticker, metric, value, source, notes from core.valuations "
        "order by ticker"
    ).fetchall()
    assert stored == [
        (D("2026-01-02"), "^RUT", "pe_forward", 18.11, "published", "a note, with a comma"),
        (D("2026-01-02"), "^RUT/^GSPC", "pe_discount_forward", 0.19, "published", "two\nlines"),
    ]
    quarantined = conn.execute(
        "select origin, reason, source from core.quarantine order by origin"
    ).fetchall()
    assert [o for o, _, _ in quarantined] == [f"{path}:{n}" for n in (11, 12, 5, 6, 7, 8)]
    assert {s for _, _, s in quarantined} == {"published"}
    payload = json.loads(conn.execute(
        "select payload from core.quarantine where origin = ?", [f"{path}:5"]).fetchone()[0])
    assert payload["value"] == "22.3%"


def test_vocabulary_errors_name_what_to_write(tmp_path):
    path = write(tmp_path, HEADER + """\
        2026-01-02,^RUT,pe_forward,18,trailing,unstated,P,,
        2026-01-02,^RUT,pe_trailing,18,trailing,guessed,P,,
        2026-01-02,^RUT,pe_discount_forward,0.2,forward,relative,P,,
        2026-01-02,^RUT/^GSPC,pe_forward,18,forward,unstated,P,,
        2026-01-02,iwm,pe_trailing,18,trailing,unstated,P,,
        2026-01-02,IWM,pe_trailing,0,trailing,unstated,P,,
        2026-01-02,IWM,pe_trailing,18x,trailing,unstated,P,,
        2026-01-02,IWM,pe_trailing,18,trailing,synthetic,P,,
        2026-02-30,IWM,pe_trailing,18,trailing,unstated,P,,
        2026-01-02,IWM,pe_trailing,18,trailing,unstated,P,,,extra
        2026-01-02,^RUT/^GSPC,pe_discount_trailing,0,trailing,relative,P,,
        """)
    parsed = read_published(path, today=TODAY)
    reasons = [p.split(": ", 1)[1] for p in parsed.problems]
    assert reasons == [
        "metric 'pe_forward' ends in '_forward' but basis is 'trailing': make them agree",
        "method 'guessed' is not one of provider_field, holdings_average, aggregate, "
        "ex_negative_earnings, relative, historical_average, unstated, synthetic",
        "pe_discount_forward is about a pair: ticker must be SMALL/LARGE, e.g. ^RUT/^GSPC, "
        "not '^RUT'",
        "ticker '^RUT/^GSPC' is not a Yahoo symbol (upper case, e.g. IWM or ^RUT)",
        "ticker 'iwm' is not a Yahoo symbol (upper case, e.g. IWM or ^RUT)",
        "value is 0: a ratio of 0 is a missing figure; leave the row out instead",
        "value '18x' has a unit: write the number alone, e.g. 18.11 for 18.11x",
        "method 'synthetic' is reserved for the sample source",
        "as_of_date '2026-02-30' is not a real day",
        "has 10 cells but the header has 9: put a field that contains a comma in double quotes",
    ]
    # A zero discount is a figure (no discount), not a missing one.
    assert parsed.rows[["ticker", "metric", "value"]].values.tolist() == [
        ["^RUT/^GSPC", "pe_discount_trailing", 0.0]]


def test_two_different_figures_for_one_key_are_both_refused(tmp_path):
    path = write(tmp_path, HEADER + """\
        2026-01-02,^RUT,pe_forward,18.11,forward,unstated,A,,
        2026-01-02,^RUT,pe_forward,18.4,forward,unstated,B,,
        2026-01-02,^GSPC,pe_forward,22.3,forward,unstated,A,,
        2026-01-02,^GSPC,pe_forward,22.3,forward,unstated,A,,
        """)
    parsed = read_published(path, today=TODAY)
    assert parsed.problems == [
        f"{path} line 2: line(s) 3 give another figure for the same as_of_date, ticker and metric: "
        "keep one of them",
        f"{path} line 3: line(s) 2 give another figure for the same as_of_date, ticker and metric: "
        "keep one of them",
    ]
    assert parsed.rows[["ticker", "value"]].values.tolist() == [["^GSPC", 22.3]]
    assert parsed.lines == [4]
    assert parsed.notes == [f"{path}: lines 4, 5 repeat one row; kept once"]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("as_of_date,ticker,metric,value,basis,method,source\n", "unknown column(s) ['source']"),
        ("as_of_date,ticker,metric,value,basis\n", "the header lacks the column(s) ['method']"),
        ("# only a comment\n", "no header row"),
    ],
)
def test_a_file_that_cannot_be_read_at_all_raises_naming_it(tmp_path, header, message):
    path = write(tmp_path, header)
    with pytest.raises(ValuationFileError) as err:
        read_valuation_csv(path, today=TODAY)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)


def test_a_missing_file_raises_naming_it(tmp_path):
    with pytest.raises(ValuationFileError, match="no such file"):
        read_published(tmp_path / "absent.csv")


def test_rows_removed_from_the_file_leave_the_warehouse_once_it_loads_cleanly(tmp_path, conn):
    first = write(tmp_path, HEADER + """\
        2026-01-02,^RUT,pe_forward,18.11,forward,unstated,A,,
        2026-01-05,^GSPC,pe_forward,22.3,forward,unstated,A,,
        """)
    load_published(conn, first, today=TODAY)
    # The ^GSPC figure was mis-dated: it moves to 2026-01-02; the next load also has a bad line.
    messy = write(tmp_path, HEADER + """\
        2026-01-02,^RUT,pe_forward,18.11,forward,unstated,A,,
        2026-01-02,^GSPC,pe_forward,22.3,forward,unstated,A,,
        2026-01-02,^SP600,pe_forward,oops,forward,unstated,A,,
        """)
    load = load_published(conn, messy, today=TODAY)
    assert load.removed == 0 and "kept until it loads cleanly" in load.notes[0]
    assert conn.execute("select count(*) from core.valuations").fetchone()[0] == 3
    clean = write(tmp_path, HEADER + """\
        2026-01-02,^RUT,pe_forward,18.11,forward,unstated,A,,
        2026-01-02,^GSPC,pe_forward,22.3,forward,unstated,A,,
        """)
    load = load_published(conn, clean, today=TODAY)
    assert load.removed == 1
    assert conn.execute(
        "select as_of_date, ticker from core.valuations order by ticker").fetchall() == [
        (D("2026-01-02"), "^GSPC"), (D("2026-01-02"), "^RUT")]
