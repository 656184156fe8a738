"""The `files` valuation source: valuations.csv in the user's folder."""

from __future__ import annotations

import datetime as dt

import pytest

from warehouse.sources.base import SourceError
from warehouse.sources.valuation_files import FilesValuationSource
from warehouse.sources.valuations import open_valuations_source
from warehouse.valuations import load_valuations

D = dt.date.fromisoformat
CSV = """\
as_of_date,ticker,metric,value,basis,method,publisher,url,notes
2024-12-31,^RUT,pe_trailing,21.4,trailing,ex_negative_earnings,FTSE Russell,,
2024-12-31,^GSPC,pe_trailing,27.1,trailing,aggregate,S&P DJI,,
2024-12-31,^RUT/^GSPC,pe_discount_trailing,0.2103,trailing,relative,,,computed by hand
2025-01-02,IWM,pe_trailing,17.9,trailing,ex_negative_earnings,iShares,,
2025-01-02,IWM,pe_trailing,seventeen,trailing,ex_negative_earnings,iShares,,
2025-01-03,SPY,pe_trailing,26.2,trailing,unstated,,,
"""


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "valuations.csv").write_text(CSV, encoding="utf-8")
    return tmp_path


def test_the_file_loads_whole_with_bad_lines_quarantined(folder, conn):
    batch = open_valuations_source("files", folder).valuations(["IWM"], D("2025-01-03"),
                                                               D("1990-01-02"))
    # Loaded whole: the indices and the pair are not [valuations] tickers but the user put them.
    assert sorted(zip(batch.rows["ticker"], batch.rows["value"], strict=True)) == [
        ("IWM", 17.9), ("SPY", 26.2), ("^GSPC", 27.1), ("^RUT", 21.4), ("^RUT/^GSPC", 0.2103)]
    assert batch.rejects[["origin", "reason"]].values.tolist() == [
        [f"{folder / 'valuations.csv'}:6", "value 'seventeen' is not a number"]]
    load = load_valuations(conn, batch, source="files")
    assert load.result.inserted == 5 and load.result.quarantined == 1
    assert conn.execute(
        "select publisher, method from core.valuations where ticker = '^RUT'"
    ).fetchall() == [("FTSE Russell", "ex_negative_earnings")]
    assert conn.execute(
        "select count(*) from core.valuations where source = 'files' and publisher is null"
    ).fetchone()[0] == 2
    again = load_valuations(conn, batch, source="files")
    assert (again.result.inserted, again.result.unchanged) == (0, 5)


def test_rows_after_the_session_of_the_run_wait_for_it(folder):
    batch = FilesValuationSource(folder).valuations([], D("2025-01-02"), D("1990-01-02"))
    assert D("2025-01-03") not in set(batch.rows["as_of_date"])
    assert any("1 rows dated outside" in note for note in batch.notes)


def test_a_snapshot_is_the_day_of_the_asked_tickers(folder):
    batch = FilesValuationSource(folder).snapshot(["IWM", "SPY"], D("2025-01-02"))
    assert batch.rows[["ticker", "value"]].values.tolist() == [["IWM", 17.9]]


def test_no_file_is_nothing_to_load_not_a_failure(tmp_path):
    batch = FilesValuationSource(tmp_path).valuations(["IWM"], D("2025-01-02"), D("1990-01-02"))
    assert batch.rows.empty and batch.failed == {}
    assert "no valuations.csv in" in batch.notes[0]


def test_an_unreadable_file_fails_by_name(tmp_path):
    (tmp_path / "valuations.csv").write_text("date,symbol,pe\n2025-01-02,IWM,17\n",
                                             encoding="utf-8")
    batch = FilesValuationSource(tmp_path).valuations(["IWM"], D("2025-01-02"), D("1990-01-02"))
    assert "unknown column(s) ['date', 'symbol', 'pe']" in batch.failed["valuations.csv"]


def test_the_folder_must_exist(tmp_path):
    with pytest.raises(SourceError, match="not a folder"):
        open_valuations_source("files", tmp_path / "nowhere")
    with pytest.raises(SourceError, match="ROTATION_FILES_DIR"):
        open_valuations_source("files", None)
    with pytest.raises(SourceError, match="unknown source"):
        open_valuations_source("ftp")
