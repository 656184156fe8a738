"""The `files` rates source: FRED CSV downloads in fred/<ID>.csv, in FRED's layouts."""

import datetime as dt

import pytest

from warehouse.sources.base import SourceError
from warehouse.sources.rate_files import FredCsvError, parse_fred_csv, read_fred_file
from warehouse.sources.rates import open_rates_source


def write(folder, series_id, text):
    path = folder / "fred" / f"{series_id}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def pairs(frame):
    return [(d.isoformat(), v) for d, v in zip(frame["obs_date"], frame["value"], strict=True)]


def test_todays_layout_with_empty_cells_for_missing_values(tmp_path):
    write(
        tmp_path, "DGS10", "observation_date,DGS10\n2025-07-03,4.35\n2025-07-04,\n2025-07-07,4.40\n"
    )
    batch = open_rates_source("files", tmp_path).observations(["DGS10"])
    assert pairs(batch.observations) == [("2025-07-03", 4.35), ("2025-07-07", 4.40)]
    assert batch.missing_count == 1 and batch.failed == {}
    assert set(batch.observations["series_id"]) == {"DGS10"}


def test_older_layout_with_dots_and_us_dates(tmp_path):
    write(
        tmp_path, "DGS2", "DATE,DGS2\n7/1/1976,7.26\n7/2/1976,.\n7/6/1976,7.30\n12/31/1976,5.98\n"
    )
    batch = open_rates_source("files", tmp_path).observations(["DGS2"])
    assert pairs(batch.observations) == [
        ("1976-07-01", 7.26),
        ("1976-07-06", 7.30),
        ("1976-12-31", 5.98),
    ]
    assert batch.missing_count == 1


def test_a_missing_value_is_never_read_as_zero(tmp_path):
    write(tmp_path, "DFF", "observation_date,DFF\n2020-01-01,.\n2020-01-02,\n2020-01-03,0\n")
    batch = open_rates_source("files", tmp_path).observations(["DFF"])
    assert pairs(batch.observations) == [("2020-01-03", 0.0)]  # a real zero stays
    assert batch.missing_count == 2


def test_starts_keep_only_the_observations_from_the_start_on(tmp_path):
    write(
        tmp_path,
        "DFF",
        "observation_date,DFF\n2024-01-01,5.33\n2024-01-02,\n2024-01-03,5.33\n2024-01-04,5.32\n",
    )
    batch = open_rates_source("files", tmp_path).observations(["DFF"], {"DFF": dt.date(2024, 1, 3)})
    assert pairs(batch.observations) == [("2024-01-03", 5.33), ("2024-01-04", 5.32)]
    assert batch.missing_count == 0  # the missing day is before the start


def test_missing_file_and_wrong_series_are_failed_by_name_and_the_rest_loads(tmp_path):
    write(tmp_path, "DFF", "observation_date,DFF\n2024-01-01,5.33\n")
    path = write(tmp_path, "DGS2", "observation_date,DGS10\n2024-01-01,3.9\n")
    batch = open_rates_source("files", tmp_path).observations(["DFF", "DGS2", "UNRATE"])
    assert batch.series == ["DFF"]
    assert f"{path}: the value column is 'DGS10', not DGS2" in batch.failed["DGS2"]
    assert "no file" in batch.failed["UNRATE"] and "UNRATE.csv" in batch.failed["UNRATE"]
    assert "fredgraph.csv?id=UNRATE" in batch.failed["UNRATE"]


def test_unreadable_rows_are_rejected_with_file_and_line(tmp_path):
    path = write(
        tmp_path,
        "DFF",
        "observation_date,DFF\n2024-01-01,5.33\n2024-13-01,5.33\n2024-01-03,n/a\n"
        "2024-01-04,5.33,extra\n2024-01-05,5.31\n",
    )
    batch = open_rates_source("files", tmp_path).observations(["DFF"])
    assert pairs(batch.observations) == [("2024-01-01", 5.33), ("2024-01-05", 5.31)]
    rejects = batch.rejects.sort_values("origin")
    assert rejects["origin"].tolist() == [f"{path} line 3", f"{path} line 4", f"{path} line 5"]
    assert "unparseable date '2024-13-01'" in rejects["reason"].iloc[0]
    assert "'n/a' is not a number" in rejects["reason"].iloc[1]
    assert "expected 2 cells, found 3" in rejects["reason"].iloc[2]


def test_a_bom_and_blank_lines_are_tolerated():
    parsed = parse_fred_csv(
        "\ufeffobservation_date,UNRATE\n\n2025-01-01,4.0\n\n", "UNRATE", "x.csv"
    )
    assert pairs(parsed.observations) == [("2025-01-01", 4.0)]
    assert parsed.layout == "fredgraph csv"


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "x.csv: no data"),
        ("Date,Open,High,Low,Close\n2024-01-02,1,2,3,4\n", "not a FRED CSV of DFF"),
        ("<!DOCTYPE html><html></html>", "it starts with '<!DOCTYPE html>"),
    ],
)
def test_files_that_are_not_fred_csv_are_refused_with_the_file_named(text, message):
    with pytest.raises(FredCsvError, match="x.csv") as err:
        parse_fred_csv(text, "DFF", "x.csv")
    assert message in str(err.value)


def test_files_source_needs_a_folder(tmp_path):
    with pytest.raises(SourceError, match="ROTATION_FILES_DIR"):
        open_rates_source("files", None)
    with pytest.raises(SourceError, match="is not a folder"):
        open_rates_source("files", tmp_path / "nowhere")


def count_lines(path, predicate):
    lines = path.read_text().splitlines()[1:]
    return sum(1 for line in lines if predicate(line.split(",", 1)[1]))


@pytest.mark.realdata
def test_real_fred_downloads_in_both_layouts(realdata):
    older = realdata / "fred" / "DGS2_old_format.csv"
    parsed = read_fred_file(older, "DGS2")
    assert parsed.layout == "older fredgraph csv"
    # Counted here from the raw text, independently of the parser.
    assert len(parsed.missing_dates) == count_lines(older, lambda v: v.strip() == ".")
    assert len(parsed.observations) == count_lines(older, lambda v: v.strip() not in ("", "."))
    assert parsed.observations["obs_date"].iloc[0] == dt.date(1976, 6, 1)
    assert parsed.observations["value"].iloc[0] == 7.26
    assert parsed.rejects == []

    batch = open_rates_source("files", realdata).observations(["T10Y2Y", "DFF"])
    t10y2y = realdata / "fred" / "T10Y2Y.csv"
    dff = realdata / "fred" / "DFF.csv"
    assert batch.missing_count == count_lines(t10y2y, lambda v: v.strip() == "") + count_lines(
        dff, lambda v: v.strip() == ""
    )
    dff_rows = batch.observations[batch.observations["series_id"] == "DFF"]
    assert dff_rows["obs_date"].iloc[0] == dt.date(1954, 7, 1) and dff_rows["value"].iloc[0] == 1.13
    assert batch.failed == {} and batch.rejects.empty
