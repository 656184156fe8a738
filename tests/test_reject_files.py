"""Every refusal of the file readers (prices, FRED series, valuations), with what it says.

A reader refuses at two levels: a file it cannot read at all raises, naming the file (the files
source then fails that ticker or series by name and loads the others); a row it cannot read is
rejected with the file and line (quarantined with the batch) or, when a cell is blank, skipped and
counted. Expected adjusted prices are worked out by hand in the comments.
"""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from warehouse.load import rejects_frame
from warehouse.prices import load_prices
from warehouse.sources.base import PriceBatch
from warehouse.sources.files import FilesSource
from warehouse.sources.price_file import PriceFileError, read_price_file
from warehouse.sources.rate_files import FilesRatesSource, FredCsvError, parse_fred_csv, read_fred_file
from warehouse.sources.valuation_files import FilesValuationSource, ValuationFileError, read_valuation_csv

D = dt.date
AFTER = dt.datetime(2024, 3, 30, tzinfo=dt.UTC)


def write(path, text, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding=encoding)
    return path


# --- price files: the file as a whole -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        (b"Date,Close\n2024-01-02,370\n2024-01-03,\xff\xfe\n", "not a text CSV file (invalid start byte)"),
        ("Date,Close,Close\n2024-01-02,1,1\n", "the header names ['close'] more than once"),
        # Two spellings of one column are the same column twice.
        ("Date,Close,Last\n2024-01-02,1,1\n", "the header names ['close'] more than once"),
        ("timestamp,Date,Close\n2024-01-02,2024-01-02,1\n", "the header names ['date'] more than once"),
        ("Date,Open,Volume\n2024-01-02,1,5\n", "no close column (looked for Close, Adj Close or Adjusted_close"),
        ("Symbol,Close\nDIA,370\n", "no date column (looked for Date, timestamp or datetime"),
    ],
    ids=["empty", "not utf-8", "duplicate header", "close spelt twice", "date spelt twice",
         "no close column", "no date column"],
)
def test_a_price_file_that_cannot_be_read_is_refused_by_name(tmp_path, text, message):
    path = write(tmp_path / "prices" / "DIA.csv", text)
    with pytest.raises(PriceFileError) as err:
        read_price_file(path, "DIA")
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_a_refused_price_file_fails_its_ticker_and_the_others_load(tmp_path):
    write(tmp_path / "prices" / "DIA.csv", b"Date,Close\n2024-01-02,\xff\n")
    write(tmp_path / "prices" / "SPY.csv", "Date,Close,Close\n2024-01-02,1,1\n")
    write(tmp_path / "prices" / "IWM.csv", "Date,Close\n2024-01-02,199.5\n")
    batch = FilesSource(tmp_path).daily_bars(["DIA", "SPY", "IWM"], D(2024, 1, 1), D(2024, 1, 31))
    assert batch.tickers == ["IWM"]
    assert sorted(batch.failed) == ["DIA", "SPY"]
    assert "not a text CSV file" in batch.failed["DIA"]
    assert "more than once" in batch.failed["SPY"]


def test_a_header_without_rows_gives_no_bars_and_no_error(tmp_path):
    path = write(tmp_path / "prices" / "DIA.csv", "Date,Open,High,Low,Close,Adj Close,Volume\n")
    parsed = read_price_file(path, "DIA")
    assert len(parsed.bars) == 0 and parsed.rejects == [] and parsed.skipped_blank == 0


# --- price files: rows ----------------------------------------------------------------------------


def test_a_non_numeric_cell_rejects_its_row_with_file_and_line(tmp_path):
    path = write(tmp_path / "prices" / "DIA.csv",
                 "Date,Close,Volume\n2024-01-02,370,100\n2024-01-03,37O.5,100\n2024-01-04,371,1,000\n"
                 "2024-01-05,372,100\n")
    parsed = read_price_file(path, "DIA")
    assert parsed.bars["trade_date"].tolist() == [D(2024, 1, 2), D(2024, 1, 4), D(2024, 1, 5)]
    # "371,1,000": a thousands separator splits the volume; the extra cell is no column's, so the
    # row reads as close 371 and volume 1.
    assert parsed.bars["volume"].tolist() == [100.0, 1.0, 100.0]
    assert [(r["key"], r["reason"], r["origin"]) for r in parsed.rejects] == [
        ("DIA 2024-01-03", "a number cannot be read (DIA.csv line 3)", f"{path} line 3")]
    assert parsed.rejects[0]["payload"] == {"date": "2024-01-03", "close": "37O.5", "volume": "100"}


def test_blank_cells_and_short_rows_are_skipped_and_counted_never_zero(tmp_path):
    path = write(tmp_path / "prices" / "DIA.csv",
                 "Date,Open,Close,Volume\n2024-01-02,1,370,5\n2024-01-03,1,NaN,5\n2024-01-04,1,n/a,5\n"
                 "2024-01-05,1,-,5\n2024-01-08,1\n2024-01-09,1,None,5\n2024-01-10,1,371,5\n")
    parsed = read_price_file(path, "DIA")
    assert parsed.skipped_blank == 5
    assert parsed.rejects == []
    assert parsed.bars[["trade_date", "close"]].values.tolist() == [[D(2024, 1, 2), 370.0], [D(2024, 1, 10), 371.0]]


@pytest.mark.parametrize(("cell", "reason"), [
    ("inf", "close is NaN or infinite"),
    ("-Infinity", "close is NaN or infinite"),
    ("1e999", "close is NaN or infinite"),  # overflows to +inf when read
    ("0", "close is NULL or not positive"),
    ("-370", "close is NULL or not positive"),
])
def test_an_infinite_or_non_positive_close_in_a_file_is_quarantined_with_its_line(conn, tmp_path, cell, reason):
    path = write(tmp_path / "prices" / "DIA.csv",
                 f"Date,Close\n2024-01-02,370\n2024-01-03,{cell}\n2024-01-04,371\n")
    parsed = read_price_file(path, "DIA", with_origin=True)
    out = load_prices(conn, PriceBatch(parsed.bars, rejects=rejects_frame(parsed.rejects)),
                      source="files", run_id="run-1", now=AFTER)
    assert (out.result.inserted, out.result.quarantined) == (2, 1)
    assert conn.execute("select key, reason, origin from core.quarantine").fetchall() == [
        ("DIA 2024-01-03", reason, f"{path} line 3")]


def test_an_adj_close_only_file_gives_the_adjusted_close_as_both(tmp_path):
    path = write(tmp_path / "prices" / "VBR.csv", "Date,Adj Close\n2024-01-03,181.25\n2024-01-02,180.5\n")
    bars = read_price_file(path, "VBR").bars
    assert bars[["trade_date", "close", "adj_close"]].values.tolist() == [
        [D(2024, 1, 2), 180.5, 180.5], [D(2024, 1, 3), 181.25, 181.25]]
    assert bars[["open", "high", "low", "volume"]].isna().all().all()


def test_a_history_with_several_dividends_and_a_split_rebuilds_every_traded_close(tmp_path):
    """Traded closes (split-adjusted, as Yahoo's Close) 50, 51, 52, 50, 53, 52.5, 54; a 2:1 split on
    day 4 (already in every price of history(), so it changes nothing here); dividends on day 3
    (0.51 = 1% of the day-2 close 51) and day 6 (1.06 = 2% of the day-5 close 53).

    Yahoo's factors: day 3: 1 - 0.51 / 51 = 0.99; day 6: 1 - 1.06 / 53 = 0.98. A row is multiplied
    by every factor of a later ex-date: days 1-2 by 0.99 * 0.98 = 0.9702, days 3-5 by 0.98, days
    6-7 by 1. So history() writes 48.51, 49.4802, 50.96, 49.0, 51.94, 52.5, 54.0, and the opens
    (traded close - 0.5) 48.0249, 48.9951, 50.47, 48.51, 51.45, 52.0, 53.5.
    """
    rows = [
        ("2024-03-11", 48.0249, 48.51, 0.0, 0.0),
        ("2024-03-12", 48.9951, 49.4802, 0.0, 0.0),
        ("2024-03-13", 50.47, 50.96, 0.51, 0.0),
        ("2024-03-14", 48.51, 49.0, 0.0, 2.0),
        ("2024-03-15", 51.45, 51.94, 0.0, 0.0),
        ("2024-03-18", 52.0, 52.5, 1.06, 0.0),
        ("2024-03-19", 53.5, 54.0, 0.0, 0.0),
    ]
    text = "Date,Open,High,Low,Close,Volume,Dividends,Stock Splits\n" + "".join(
        f"{day} 00:00:00-04:00,{o},{c},{o},{c},1000,{div},{split}\n" for day, o, c, div, split in rows)
    parsed = read_price_file(write(tmp_path / "prices" / "VBR.csv", text), "VBR")
    assert parsed.layout == "history csv"
    np.testing.assert_allclose(parsed.bars["close"], [50.0, 51.0, 52.0, 50.0, 53.0, 52.5, 54.0], rtol=1e-12)
    np.testing.assert_allclose(parsed.bars["adj_close"], [48.51, 49.4802, 50.96, 49.0, 51.94, 52.5, 54.0], rtol=1e-12)
    np.testing.assert_allclose(parsed.bars["open"], [49.5, 50.5, 51.5, 49.5, 52.5, 52.0, 53.5], rtol=1e-12)
    np.testing.assert_allclose(parsed.bars["high"], parsed.bars["close"], rtol=1e-12)
    assert list(parsed.bars.columns) == ["ticker", "trade_date", "open", "high", "low", "close", "adj_close", "volume"]


def test_a_history_without_dividends_keeps_its_prices(tmp_path):
    text = ("Date,Open,High,Low,Close,Volume,Dividends,Stock Splits\n"
            "2024-03-11 00:00:00-04:00,10,11,9,10.5,1000,0.0,0.0\n"
            "2024-03-12 00:00:00-04:00,10.5,11.5,10,11,1000,0.0,4.0\n")
    bars = read_price_file(write(tmp_path / "prices" / "X.csv", text), "X").bars
    assert bars[["open", "high", "low", "close", "adj_close"]].values.tolist() == [
        [10.0, 11.0, 9.0, 10.5, 10.5], [10.5, 11.5, 10.0, 11.0, 11.0]]


# --- FRED series files ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("", "no data: it is empty"),
    ("\n\n  \n", "no data: it is empty"),
    ("observation_date\n2024-01-02\n", "not a FRED CSV of DFF"),
    ("observation_date,DFF,DFF\n2024-01-02,5.33,5.33\n", "not a FRED CSV of DFF"),
    ("observation_date,observation_date\n2024-01-02,2024-01-02\n", "the value column is 'observation_date', not DFF"),
    ("series,DFF\n2024-01-02,5.33\n", "expected the header 'observation_date,DFF' or 'DATE,DFF'"),
])
def test_a_fred_file_that_cannot_be_read_is_refused_by_name(text, message):
    with pytest.raises(FredCsvError) as err:
        parse_fred_csv(text, "DFF", "fred/DFF.csv")
    assert str(err.value).startswith("fred/DFF.csv: ") and message in str(err.value)


def test_a_fred_file_that_is_not_utf8_fails_its_series_by_name(tmp_path):
    path = write(tmp_path / "fred" / "DFF.csv", b"observation_date,DFF\n2024-01-02,5\xb73\n")
    write(tmp_path / "fred" / "DGS10.csv", "observation_date,DGS10\n2024-01-02,3.95\n")
    with pytest.raises(FredCsvError, match=r"DFF.csv: not a text CSV file \(invalid start byte\)"):
        read_fred_file(path, "DFF")
    batch = FilesRatesSource(tmp_path).observations(["DFF", "DGS10"])
    assert batch.series == ["DGS10"] and list(batch.failed) == ["DFF"]
    assert batch.failed["DFF"].startswith(f"{path}: not a text CSV file")


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999", "5,33", "five"])
def test_a_fred_value_that_is_not_a_finite_number_is_rejected_with_its_line(cell):
    text = f'observation_date,DFF\n2024-01-02,5.33\n2024-01-03,"{cell}"\n2024-01-04,5.31\n'
    parsed = parse_fred_csv(text, "DFF", "fred/DFF.csv")
    assert parsed.observations["value"].tolist() == [5.33, 5.31]
    assert [(r["key"], r["origin"], r["reason"]) for r in parsed.rejects] == [
        ("DFF 2024-01-03", "fred/DFF.csv line 3", f"the value {cell!r} is not a number (fred/DFF.csv line 3)")]
    assert parsed.missing_dates == []


def test_fred_rows_with_a_missing_or_unreadable_date_or_cell_count():
    text = ("DATE,DFF\n2024-01-02,5.33\n2024-01-03,.\n2024-01-04,\n2/30/2024,5.3\n2024-01-05\n"
            "2024-01-08,5.32,x\n1/9/2024,5.31\n")
    parsed = parse_fred_csv(text, "DFF", "f.csv")
    assert parsed.layout == "older fredgraph csv"
    assert [(str(d), v) for d, v in zip(parsed.observations["obs_date"], parsed.observations["value"],
                                        strict=True)] == [("2024-01-02", 5.33), ("2024-01-09", 5.31)]
    assert parsed.missing_dates == [D(2024, 1, 3), D(2024, 1, 4)]
    assert [(r["key"], r["reason"]) for r in parsed.rejects] == [
        ("DFF 2/30/2024", "unparseable date '2/30/2024' (f.csv line 5)"),
        ("DFF 2024-01-05", "expected 2 cells, found 1 (f.csv line 6)"),
        ("DFF 2024-01-08", "expected 2 cells, found 3 (f.csv line 7)"),
    ]


def test_a_start_keeps_the_missing_dates_from_it_on():
    text = "observation_date,DFF\n2024-01-02,\n2024-01-03,5.3\n2024-01-04,\n2024-01-05,5.31\n"
    parsed = parse_fred_csv(text, "DFF", "f.csv")
    later = parsed.since(D(2024, 1, 3))
    assert later.missing_dates == [D(2024, 1, 4)]
    assert later.observations["value"].tolist() == [5.3, 5.31]
    assert later.observations.index.tolist() == [0, 1]
    assert parsed.since(D(2024, 1, 4)).missing_dates == [D(2024, 1, 4)]
    assert parsed.since(None) is parsed


# --- valuation files ------------------------------------------------------------------------------

VAL_HEADER = "as_of_date,ticker,metric,value,basis,method,publisher,url,notes\n"
TODAY = D(2025, 1, 10)


def valuations(tmp_path, body, header=VAL_HEADER, encoding="utf-8"):
    return write(tmp_path / "valuations.csv", header + body if isinstance(body, str) else body, encoding)


@pytest.mark.parametrize(("text", "message"), [
    ("", "no header row; the first line must name the columns as_of_date, ticker"),
    ("# only a comment\n\n", "no header row"),
    ("as_of_date,ticker,metric,value,basis,method,value\n", "the header names ['value'] more than once"),
    ("as_of_date,ticker,metric,value,basis\n", "the header lacks the column(s) ['method']"),
    ("as_of_date,ticker,metric,value,basis,method,source\n", "unknown column(s) ['source'] in the header"),
])
def test_a_valuation_file_that_cannot_be_read_is_refused_by_name(tmp_path, text, message):
    path = write(tmp_path / "valuations.csv", text)
    with pytest.raises(ValuationFileError) as err:
        read_valuation_csv(path, today=TODAY)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)


def test_a_valuation_file_that_is_not_utf8_fails_by_name(tmp_path):
    path = valuations(tmp_path, VAL_HEADER.encode() + "2025-01-02,IWM,pe_trailing,17.9,trailing,unstated,Société,,\n"
                      .encode("latin-1"))
    with pytest.raises(ValuationFileError, match=r"valuations.csv: not UTF-8 text .*save it as UTF-8 CSV"):
        read_valuation_csv(path, today=TODAY)
    batch = FilesValuationSource(tmp_path).valuations(["IWM"], TODAY, D(1990, 1, 2))
    assert batch.rows.empty and "not UTF-8 text" in batch.failed["valuations.csv"]


def test_a_missing_valuation_file_is_named(tmp_path):
    with pytest.raises(ValuationFileError, match="valuations.csv: no such file"):
        read_valuation_csv(tmp_path / "valuations.csv", today=TODAY)


VALUATION_REFUSALS = [
    ("nan", "value nan is not a finite number"),
    ("inf", "value inf is not a finite number"),
    ("-Infinity", "value -inf is not a finite number"),
    ("seventeen", "value 'seventeen' is not a number"),
    ("17.9%", "value '17.9%' is a percent: write fractions, e.g. 19% as 0.19"),
    ("17.9x", "value '17.9x' has a unit: write the number alone, e.g. 18.11 for 18.11x"),
    ("17.9X", "value '17.9X' has a unit: write the number alone, e.g. 18.11 for 18.11x"),
    ("0", "value is 0: a ratio of 0 is a missing figure; leave the row out instead"),
]


@pytest.mark.parametrize(("cell", "reason"), VALUATION_REFUSALS, ids=[c for c, _ in VALUATION_REFUSALS])
def test_a_valuation_that_is_not_a_usable_number_is_refused_with_its_line(tmp_path, cell, reason):
    path = valuations(tmp_path, "2025-01-02,IWM,pe_trailing,17.9,trailing,unstated,,,\n"
                                f"2025-01-03,IWM,pe_trailing,{cell},trailing,unstated,,,\n")
    parsed = read_valuation_csv(path, today=TODAY)
    assert parsed.rows["value"].tolist() == [17.9] and parsed.lines == [2]
    assert [(r["key"], r["reason"], r["origin"], r["line"]) for r in parsed.rejects] == [
        ("2025-01-03 IWM pe_trailing", reason, f"{path}:3", 3)]
    assert parsed.problems == [f"{path} line 3: {reason}"]


def test_valuation_rows_with_empty_keys_bad_dates_or_extra_cells_are_refused(tmp_path):
    path = valuations(tmp_path, (
        ",IWM,pe_trailing,17.9,trailing,unstated,,,\n"
        "2025-01-02,,pe_trailing,17.9,trailing,unstated,,,\n"
        "01/02/2025,IWM,pe_trailing,17.9,trailing,unstated,,,\n"
        "2025-02-30,IWM,pe_trailing,17.9,trailing,unstated,,,\n"
        "2025-01-02,IWM,pe_trailing,17.9,trailing,unstated,iShares,,fund, not index\n"
        "# a comment line\n"
        "2025-01-02,SPY,pe_trailing,26.2,trailing,unstated\n"
    ))
    parsed = read_valuation_csv(path, today=TODAY)
    assert parsed.rows[["ticker", "value"]].values.tolist() == [["SPY", 26.2]] and parsed.lines == [8]
    assert [(r["key"], r["line"], r["reason"]) for r in parsed.rejects] == [
        ("NULL IWM pe_trailing", 2, "no value for as_of_date"),
        ("2025-01-02 NULL pe_trailing", 3, "no value for ticker"),
        ("01/02/2025 IWM pe_trailing", 4, "as_of_date '01/02/2025' is not a date: write it as YYYY-MM-DD"),
        ("2025-02-30 IWM pe_trailing", 5, "as_of_date '2025-02-30' is not a real day"),
        ("2025-01-02 IWM pe_trailing", 6,
         "has 10 cells but the header has 9: put a field that contains a comma in double quotes"),
    ]


def test_a_published_figure_needs_its_publisher(tmp_path):
    path = valuations(tmp_path, "2025-01-02,^RUT,pe_trailing,21.4,trailing,ex_negative_earnings,,,\n"
                                "2025-01-02,^GSPC,pe_trailing,27.1,trailing,aggregate,S&P DJI,,\n")
    parsed = read_valuation_csv(path, today=TODAY, require_publisher=True)
    assert parsed.rows["ticker"].tolist() == ["^GSPC"]
    assert [(r["line"], r["reason"]) for r in parsed.rejects] == [(2, "no value for publisher")]
    assert len(read_valuation_csv(path, today=TODAY).rows) == 2


def test_repeated_valuation_rows_are_kept_once_and_conflicting_ones_both_refused(tmp_path):
    path = valuations(tmp_path, (
        "2025-01-02,IWM,pe_trailing,17.9,trailing,unstated,,,\n"
        "2025-01-02,SPY,pe_trailing,26.2,trailing,unstated,,,\n"
        "2025-01-02,IWM,pe_trailing,17.9,trailing,unstated,,,\n"
        "2025-01-02,SPY,pe_trailing,26.3,trailing,unstated,,,\n"
        "2025-01-03,SPY,pe_trailing,26.4,trailing,unstated,,,\n"
    ))
    parsed = read_valuation_csv(path, today=TODAY)
    assert parsed.rows[["as_of_date", "ticker", "value"]].values.tolist() == [
        [D(2025, 1, 2), "IWM", 17.9], [D(2025, 1, 3), "SPY", 26.4]]
    assert parsed.lines == [2, 6]
    assert parsed.notes == [f"{path}: lines 2, 4 repeat one row; kept once"]
    assert [(r["line"], r["origin"], r["reason"]) for r in parsed.rejects] == [
        (3, f"{path}:3", "line(s) 5 give another figure for the same as_of_date, ticker and metric: keep one of them"),
        (5, f"{path}:5", "line(s) 3 give another figure for the same as_of_date, ticker and metric: keep one of them"),
    ]
    assert parsed.rejects[0]["payload"]["value"] == 26.2


def test_a_valuation_dated_after_today_is_refused(tmp_path):
    path = valuations(tmp_path, "2025-01-11,IWM,pe_trailing,17.9,trailing,unstated,,,\n"
                                "2025-01-10,IWM,pe_trailing,17.8,trailing,unstated,,,\n")
    parsed = read_valuation_csv(path, today=TODAY)
    assert parsed.rows["as_of_date"].tolist() == [D(2025, 1, 10)]
    assert [r["line"] for r in parsed.rejects] == [2]
    assert "2025-01-11" in parsed.rejects[0]["reason"]


# --- FRED files: what a batch of several files says -----------------------------------------------


def test_a_page_where_a_fred_csv_was_expected_is_quoted_from_its_first_characters():
    # Leading blank lines skipped, newlines shown as spaces, 40 characters quoted.
    text = "\n  <html>\n<head><title>Service Unavailable</title></head></html>\n"
    with pytest.raises(FredCsvError) as err:
        parse_fred_csv(text, "DFF", "f.csv")
    assert str(err.value) == (
        "f.csv: not a FRED CSV of DFF (it starts with '<html> <head><title>Service Unavailable<'); "
        "expected the header 'observation_date,DFF' or 'DATE,DFF'")
    with pytest.raises(FredCsvError, match=r"\(it starts with 'XLSX export '\)"):
        parse_fred_csv("XLSX export\n", "DFF", "f.csv")


def test_fred_rows_of_blank_cells_are_skipped_and_rejected_rows_keep_their_cells():
    text = ("\ufeffobservation_date,DFF\n2024-01-02,5.33\n   \n,\n2024-13-01,5.3\n2024-01-03,5.31,x\n"
            "2024-01-04,five\n")
    parsed = parse_fred_csv(text, "DFF", "f.csv")
    assert parsed.observations["value"].tolist() == [5.33]
    assert [(r["origin"], r["payload"]) for r in parsed.rejects] == [
        ("f.csv line 5", {"row": ["2024-13-01", "5.3"]}),
        ("f.csv line 6", {"row": ["2024-01-03", "5.31", "x"]}),
        ("f.csv line 7", {"row": ["2024-01-04", "five"]}),
    ]


def test_a_fred_file_of_missing_values_only_gives_a_typed_empty_frame():
    parsed = parse_fred_csv("observation_date,DFF\n2024-01-02,\n2024-01-03,.\n", "DFF", "f.csv")
    assert parsed.observations.empty and parsed.missing_dates == [D(2024, 1, 2), D(2024, 1, 3)]
    assert list(parsed.observations.columns) == ["series_id", "obs_date", "value"]
    assert str(parsed.observations["value"].dtype) == "float64"


def test_fred_rows_come_out_oldest_first_with_a_fresh_index():
    text = "DATE,DFF\n2024-01-04,5.31\n2024-01-02,5.33\n2024-01-03,5.32\n"
    parsed = parse_fred_csv(text, "DFF", "f.csv")
    assert list(parsed.observations.columns) == ["series_id", "obs_date", "value"]
    assert parsed.observations.index.tolist() == [0, 1, 2]
    assert parsed.observations["value"].tolist() == [5.33, 5.32, 5.31]
    later = parsed.since(D(2024, 1, 3))
    assert list(later.observations.columns) == ["series_id", "obs_date", "value"]
    assert later.layout == "older fredgraph csv" and later.rejects is parsed.rejects


def test_a_folder_of_fred_files_sums_what_it_skipped_and_names_what_failed(tmp_path):
    write(tmp_path / "fred" / "DFF.csv", "observation_date,DFF\n2024-01-02,5.33\n2024-01-03,\n2024-01-04,.\n")
    write(tmp_path / "fred" / "DGS10.csv", "observation_date,DGS10\n2024-01-02,3.95\n2024-01-03,\n")
    batch = FilesRatesSource(tmp_path).observations(["NOPE", "DFF", "DGS10", "DFF"])
    assert list(batch.failed) == ["NOPE"]
    assert batch.failed["NOPE"] == (f"no file {tmp_path / 'fred' / 'NOPE.csv'}: download "
                                    "https://fred.stlouisfed.org/graph/fredgraph.csv?id=NOPE into it")
    assert batch.observations.values.tolist() == [["DFF", D(2024, 1, 2), 5.33], ["DGS10", D(2024, 1, 2), 3.95]]
    assert batch.observations.index.tolist() == [0, 1]
    assert batch.missing_count == 3
    assert batch.notes == ["DFF.csv: skipped 2 missing values ('.' or empty)",
                           "DGS10.csv: skipped 1 missing values ('.' or empty)"]


def test_a_folder_without_any_readable_fred_file_gives_an_empty_batch(tmp_path):
    (tmp_path / "fred").mkdir()
    batch = FilesRatesSource(tmp_path).observations(["DFF"])
    assert batch.observations.empty and list(batch.observations.columns) == ["series_id", "obs_date", "value"]
    assert list(batch.failed) == ["DFF"] and batch.missing_count == 0 and batch.notes == []


def test_the_fred_files_source_needs_its_folder(tmp_path):
    from warehouse.sources.base import SourceError

    with pytest.raises(SourceError) as err:
        FilesRatesSource(tmp_path / "nowhere")
    assert str(err.value) == (f"ROTATION_FILES_DIR={tmp_path / 'nowhere'} is not a folder: point it at the "
                              "folder that holds fred/<ID>.csv")


# --- valuation files: what is skipped, kept and refused in which order ----------------------------

VALUATION_COLUMNS = ["as_of_date", "ticker", "metric", "value", "basis", "method", "publisher", "url", "notes"]


def test_a_valuation_file_with_a_bom_comments_and_blank_lines_reads_whole(tmp_path):
    path = valuations(tmp_path, ("\ufeff# P/E figures, typed by hand\n" + VAL_HEADER +
                                 "   \n,,,,,,,,\n  # an indented comment, not a row\n"
                                 "2025-01-02,IWM,pe_trailing,17.9,trailing,unstated\n").encode("utf-8"))
    parsed = read_valuation_csv(path, today=TODAY)
    assert parsed.rejects == [] and parsed.lines == [6]
    assert list(parsed.rows.columns) == VALUATION_COLUMNS
    assert parsed.rows.values.tolist() == [
        [D(2025, 1, 2), "IWM", "pe_trailing", 17.9, "trailing", "unstated", None, None, None]]


def test_every_empty_required_cell_is_named(tmp_path):
    path = valuations(tmp_path, "2025-01-02,,,17.9,trailing,unstated,,,\n")
    assert [r["reason"] for r in read_valuation_csv(path, today=TODAY).rejects] == [
        "no value for ticker, metric"]


def test_an_unknown_valuation_column_is_refused_with_the_columns_listed(tmp_path):
    path = write(tmp_path / "valuations.csv", "as_of_date,ticker,metric,value,basis,method,source\n")
    with pytest.raises(ValuationFileError) as err:
        read_valuation_csv(path, today=TODAY)
    assert str(err.value) == (
        f"{path}: unknown column(s) ['source'] in the header; the columns are as_of_date, ticker, metric, value, "
        "basis, method, publisher, url, notes (the last three optional)")


def test_repeats_and_conflicts_are_judged_group_by_group_in_file_order(tmp_path):
    path = valuations(tmp_path, (
        "2025-01-03,SPY,pe_trailing,26.2,trailing,unstated,,,\n"   # 2: repeated on 5
        "2025-01-03,QQQ,pe_trailing,30.1,trailing,unstated,,,\n"   # 3: kept
        "2025-01-02,IWM,pe_trailing,17.9,trailing,unstated,,,\n"   # 4: conflicts with 6 and 7
        "2025-01-03,SPY,pe_trailing,26.2,trailing,unstated,,,\n"   # 5
        "2025-01-02,IWM,pe_trailing,18.0,trailing,unstated,,,\n"   # 6
        "2025-01-02,IWM,pe_trailing,18.1,trailing,unstated,,,\n"   # 7
        "2025-01-02,DIA,pe_trailing,20.0,trailing,unstated,,,\n"   # 8: repeated on 9
        "2025-01-02,DIA,pe_trailing,20.0,trailing,unstated,,,\n"   # 9
    ))
    parsed = read_valuation_csv(path, today=TODAY)
    assert parsed.rows["ticker"].tolist() == ["SPY", "QQQ", "DIA"] and parsed.lines == [2, 3, 8]
    assert list(parsed.rows.columns) == VALUATION_COLUMNS and parsed.rows.index.tolist() == [0, 1, 2]
    assert parsed.notes == [f"{path}: lines 2, 5 repeat one row; kept once",
                            f"{path}: lines 8, 9 repeat one row; kept once"]
    why = "give another figure for the same as_of_date, ticker and metric: keep one of them"
    assert [(r["key"], r["line"], r["reason"]) for r in parsed.rejects] == [
        ("2025-01-02 IWM pe_trailing", 4, f"line(s) 6, 7 {why}"),
        ("2025-01-02 IWM pe_trailing", 6, f"line(s) 4, 7 {why}"),
        ("2025-01-02 IWM pe_trailing", 7, f"line(s) 4, 6 {why}"),
    ]


def test_the_valuation_files_source_returns_fresh_frames_and_says_when_there_is_no_file(tmp_path):
    source = FilesValuationSource(tmp_path)
    assert source.valuations(["IWM"], TODAY, D(1990, 1, 2)).notes == [
        f"no valuations.csv in {tmp_path}: no valuations from files (its columns: "
        "as_of_date,ticker,metric,value,basis,method[,publisher,url,notes])"]
    valuations(tmp_path, "2024-12-31,SPY,pe_trailing,26.0,trailing,unstated,,,\n"
                         "2025-01-02,SPY,pe_trailing,26.2,trailing,unstated,,,\n"
                         "2025-01-02,IWM,pe_trailing,17.9,trailing,unstated,,,\n")
    window = source.valuations([], D(2025, 1, 2), D(2025, 1, 1))
    assert window.rows["ticker"].tolist() == ["SPY", "IWM"]
    assert list(window.rows.columns) == VALUATION_COLUMNS and window.rows.index.tolist() == [0, 1]
    snap = source.snapshot(["IWM"], D(2025, 1, 2))
    assert snap.rows["ticker"].tolist() == ["IWM"]
    assert list(snap.rows.columns) == VALUATION_COLUMNS and snap.rows.index.tolist() == [0]


# --- price files: layouts at their edges ----------------------------------------------------------

YF_HEADER = "Price,Adj Close,Close,High,Low,Open,Volume\nTicker,SPY,SPY,SPY,SPY,SPY,SPY\n"


@pytest.mark.parametrize("third", ["Date,,,,,,", "Datetime,,,,,,"])
def test_a_yf_download_csv_has_no_header_row_read_as_data(tmp_path, third):
    path = write(tmp_path / "prices" / "SPY.csv",
                 f"{YF_HEADER}{third}\n2024-01-02,468.0,471.0,472.0,469.0,470.0,5000000\n")
    parsed = read_price_file(path, "SPY")
    assert (parsed.layout, parsed.rejects, parsed.skipped_blank) == ("yf.download csv", [], 0)
    assert parsed.bars.values.tolist() == [["SPY", D(2024, 1, 2), 470.0, 472.0, 469.0, 471.0, 468.0, 5e6]]


@pytest.mark.parametrize("text", [YF_HEADER, YF_HEADER + "Date,,,,,,\n"], ids=["two rows", "three rows"])
def test_a_yf_download_csv_with_only_its_header_gives_no_bars(tmp_path, text):
    parsed = read_price_file(write(tmp_path / "prices" / "SPY.csv", text), "SPY")
    assert (parsed.layout, len(parsed.bars), parsed.rejects) == ("yf.download csv", 0, [])


def test_in_a_yf_download_csv_only_the_first_column_labelled_price_is_the_adjusted_close(tmp_path):
    path = write(tmp_path / "prices" / "SPY.csv", "Price,Close,Adj Close,Volume\nTicker,SPY,SPY,SPY\n"
                                                   "Date,,,\n2024-01-02,471.0,468.0,5000000\n")
    bars = read_price_file(path, "SPY").bars
    assert bars[["close", "adj_close"]].values.tolist() == [[471.0, 468.0]]


def test_a_file_whose_first_column_is_price_without_a_ticker_row_is_no_yf_layout(tmp_path):
    path = write(tmp_path / "prices" / "SPY.csv", "Price,Date\n471.0,2024-01-02\n")
    with pytest.raises(PriceFileError, match="no close column"):
        read_price_file(path, "SPY")
    path = write(tmp_path / "prices" / "DIA.csv", "Price,Close,Date\n1,371.0,2024-01-02\n")
    parsed = read_price_file(path, "DIA")
    assert parsed.layout == "csv" and parsed.bars[["trade_date", "close"]].values.tolist() == [[D(2024, 1, 2), 371.0]]
    path = write(tmp_path / "prices" / "QQQ.csv", "Price,Adj Close,Close\n")
    with pytest.raises(PriceFileError, match="no date column"):
        read_price_file(path, "QQQ")


def test_an_unknown_column_named_twice_is_refused_like_any_repeated_column(tmp_path):
    path = write(tmp_path / "prices" / "SPY.csv", "Date,Close,Currency,Currency\n2024-01-02,471.0,USD,USD\n")
    with pytest.raises(PriceFileError, match=r"the header names \['currency'\] more than once"):
        read_price_file(path, "SPY")
    plain = write(tmp_path / "prices" / "IWM.csv", "Date,Close,Currency\n2024-01-02,199.0,USD\n")
    parsed = read_price_file(plain, "IWM")
    assert parsed.layout == "csv" and parsed.bars["close"].tolist() == [199.0]


def test_the_refusal_quotes_the_header_row(tmp_path):
    path = write(tmp_path / "prices" / "SPY.csv", "Open,Close\n1,2\n3,4\n")
    with pytest.raises(PriceFileError) as err:
        read_price_file(path, "SPY")
    assert str(err.value) == (f"{path}: no date column (looked for Date, timestamp or datetime in the header "
                              "['Open', 'Close']); add one or export the file with dates")
    path = write(tmp_path / "prices" / "DIA.csv", "Date,Open\n2024-01-02,1\n2024-01-03,2\n")
    with pytest.raises(PriceFileError) as err:
        read_price_file(path, "DIA")
    assert str(err.value) == (f"{path}: no close column (looked for Close, Adj Close or Adjusted_close in the "
                              "header ['Date', 'Open']); the warehouse needs at least a date and a close per row")


def test_rows_after_a_bad_date_a_blank_row_or_a_row_of_empty_cells_still_load(tmp_path):
    path = write(tmp_path / "prices" / "DIA.csv",
                 "Date,Close\n2024-01-02,370\nsoon,371\n\n,\n2024-01-03,372\n")
    parsed = read_price_file(path, "DIA")
    assert parsed.bars[["trade_date", "close"]].values.tolist() == [[D(2024, 1, 2), 370.0], [D(2024, 1, 3), 372.0]]
    assert parsed.skipped_blank == 0  # empty lines are no rows; nothing was left blank in a row
    assert parsed.rejects == [{"key": "DIA soon", "origin": f"{path} line 3",
                               "reason": "unparseable date 'soon' (DIA.csv line 3)",
                               "payload": {"date": "soon", "close": "371"}}]


def test_a_close_only_file_has_float_nan_for_what_it_lacks(tmp_path):
    bars = read_price_file(write(tmp_path / "prices" / "X.csv", "date,close\n2024-01-02,10\n"), "X").bars
    assert [str(bars[c].dtype) for c in ("open", "high", "low", "volume")] == ["float64"] * 4


def test_an_epoch_timestamp_is_dated_in_new_york():
    from warehouse.sources.price_file import parse_date

    # 1704162600 is 2024-01-02 02:30 UTC: still 2024-01-01 in New York.
    assert parse_date("1704162600") == D(2024, 1, 1)


def test_a_history_with_a_dividend_on_its_last_row(tmp_path):
    """Traded closes 100, 102; 1.02 paid on day 2: factor 1 - 1.02 / 100 = 0.9898, so history()
    writes 98.98 for day 1 (and 97.99 for its low of 99)."""
    text = ("Date,Open,High,Low,Close,Volume,Dividends,Stock Splits\n"
            "2024-03-11 00:00:00-04:00,98.98,98.98,97.9902,98.98,1000,0.0,0.0\n"
            "2024-03-12 00:00:00-04:00,102.0,102.0,101.0,102.0,1000,1.02,0.0\n")
    bars = read_price_file(write(tmp_path / "prices" / "X.csv", text), "X").bars
    np.testing.assert_allclose(bars["close"], [100.0, 102.0], rtol=1e-12)
    np.testing.assert_allclose(bars["low"], [99.0, 101.0], rtol=1e-12)
    np.testing.assert_allclose(bars["adj_close"], [98.98, 102.0], rtol=1e-12)


@pytest.mark.parametrize(("dividend", "split"), [("", "0.0"), ("0.0", ""), ("0.0", "2:1")],
                         ids=["blank dividend", "blank split", "ratio split"])
def test_a_history_row_whose_dividend_or_split_cannot_be_read_is_refused(tmp_path, dividend, split):
    # A price can be rebuilt only with its dividends known: such a row is refused, not read as no dividend.
    text = ("Date,Open,High,Low,Close,Volume,Dividends,Stock Splits\n"
            "2024-03-11 00:00:00-04:00,10,11,9,10.5,1000,0.0,0.0\n"
            f"2024-03-12 00:00:00-04:00,10.5,11.5,10,11,1000,{dividend},{split}\n")
    parsed = read_price_file(write(tmp_path / "prices" / "X.csv", text), "X")
    assert parsed.bars["trade_date"].tolist() == [D(2024, 3, 11)]
    assert [r["reason"] for r in parsed.rejects] == ["a number cannot be read (X.csv line 3)"]
    assert parsed.skipped_blank == 0


def test_a_valuation_file_is_judged_against_the_new_york_date():
    from warehouse.sources.valuation_files import _today

    # 02:30 UTC on 2025-01-11 is 21:30 on 2025-01-10 in New York: a figure of the 11th is from the future.
    assert _today(pd.Timestamp("2025-01-11 02:30", tz="UTC")) == D(2025, 1, 10)
    assert _today(pd.Timestamp("2025-01-11 05:00", tz="UTC")) == D(2025, 1, 11)
    before = pd.Timestamp.now(tz="America/New_York").date()
    assert before <= _today() <= pd.Timestamp.now(tz="America/New_York").date()
