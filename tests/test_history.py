"""The whole history: the default start, a configured start that leaves rows out and says so, the
months a source can fill, and files loading from their first row."""

import datetime as dt

import dagster as dg
import pandas as pd
import pytest
from dagster_duckdb import DuckDBResource

from pipelines.defs import partitions
from pipelines.defs.ingest import prices as prices_module
from pipelines.defs.resources import MarketSourceResource
from warehouse.calendar import NEW_YORK
from warehouse.sources.files import EDGE_BYTES, FilesSource, first_date_in_file
from warehouse.sources.live import LiveSource
from warehouse.sources.sample import SampleSource
from warehouse.universe import EARLIEST_START, load_universe

D = dt.date
HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"

UNIVERSE = """
[history]
{start}

[prices.groups]
indices = ["^GSPC", "^RUT"]
"""


def universe_file(tmp_path, start_line=""):
    path = tmp_path / "universe.toml"
    path.write_text(UNIVERSE.format(start=start_line))
    return load_universe(path)


def write_prices(folder, ticker, days, newest_first=False, header=HEADER):
    """Yahoo's download layout; the close of the n-th row is 100 + n."""
    (folder / "prices").mkdir(parents=True, exist_ok=True)
    rows = [f"{day},{100 + i},{101 + i},{99 + i},{100 + i},{100 + i},1000" for i, day in enumerate(days)]
    if newest_first:
        rows.reverse()
    (folder / "prices" / f"{ticker}.csv").write_text("\n".join([header, *rows]) + "\n")


def this_month() -> str:
    return pd.Timestamp.now(tz=NEW_YORK).date().replace(day=1).isoformat()


def months_since(first: D) -> int:
    now = pd.Timestamp.now(tz=NEW_YORK).date()
    return (now.year - first.year) * 12 + now.month - first.month + 1


# --- the start ----------------------------------------------------------------------------------


def test_the_default_start_is_the_first_session_yahoo_has(tmp_path):
    assert D(1927, 12, 30) == EARLIEST_START
    universe = universe_file(tmp_path)
    assert universe.history_start == D(1927, 12, 30) and not universe.start_configured
    shipped = load_universe()
    assert shipped.history_start == D(1927, 12, 30) and not shipped.start_configured
    # The partitions start in that month: December 1927 to the current month.
    keys = partitions.monthly_partitions.get_partition_keys()
    assert keys[0] == "1927-12-01" and keys[-1] == this_month()
    assert len(keys) == months_since(D(1927, 12, 1))


def test_a_configured_start_is_kept(tmp_path):
    universe = universe_file(tmp_path, 'start = "1990-01-02"')
    assert universe.history_start == D(1990, 1, 2) and universe.start_configured


# --- where a run asks from ----------------------------------------------------------------------


def test_the_first_partition_asks_for_the_whole_history(tmp_path):
    files = tmp_path / "files"
    write_prices(files, "^GSPC", [D(1927, 12, 27), D(1927, 12, 28)])
    default = universe_file(tmp_path)
    # The file starts before the calendar: the run asks from the file's first row.
    assert prices_module.fetch_start(default, FilesSource(files), D(1927, 12, 1), D(1927, 12, 30)) == D(1927, 12, 27)
    # Live cannot tell: from the first session Yahoo has; the sample starts later: the same.
    assert prices_module.fetch_start(default, LiveSource(), D(1927, 12, 1), D(1927, 12, 30)) == D(1927, 12, 30)
    later = universe_file(tmp_path, 'start = "1990-01-02"')
    assert prices_module.fetch_start(later, SampleSource(), D(1990, 1, 1), D(1990, 1, 2)) == D(1927, 12, 30)
    # Any other month: 10 sessions before it (2026-01-02 minus 10 sessions is 2025-12-17) ...
    assert prices_module.fetch_start(later, LiveSource(), D(2026, 1, 1), D(2026, 1, 2)) == D(2025, 12, 17)
    # ... but not before the start (10 sessions before 1990-02-01 is 1990-01-18).
    late = universe_file(tmp_path, 'start = "1990-01-25"')
    assert prices_module.fetch_start(late, LiveSource(), D(1990, 2, 1), D(1990, 2, 1)) == D(1990, 1, 25)


# --- the prices asset: rows left out, months without rows ---------------------------------------


def materialise(tmp_path, monkeypatch, universe, kind, files=None, first="1990-01-01", last=None):
    monkeypatch.setattr(prices_module, "load_universe", lambda: universe)
    db = tmp_path / "wh.duckdb"
    tags = {}
    if last:
        tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [prices_module.prices_daily],
        instance=instance,
        partition_key=None if last else first,
        tags=tags,
        resources={
            "duckdb": DuckDBResource(database=str(db)),
            "market_source": MarketSourceResource(kind=kind, files_dir=str(files) if files else None),
        },
    )
    assert result.success
    mats = result.asset_materializations_for_node("core__prices_daily")
    logs = [entry.user_message for entry in instance.all_logs(result.run_id)]
    return mats, logs


def test_a_configured_start_leaves_out_the_earlier_rows_counts_and_names_them(tmp_path, monkeypatch):
    files = tmp_path / "files"
    # ^GSPC from 1989-12-18: nine sessions before 1990-01-02 (Christmas, the 25th, is closed).
    write_prices(files, "^GSPC", [D(1989, 12, d) for d in (18, 19, 20, 21, 22, 26, 27, 28, 29)]
                 + [D(1990, 1, d) for d in (2, 3, 4, 5)])
    write_prices(files, "^RUT", [D(1990, 1, d) for d in (2, 3, 4, 5)])
    universe = universe_file(tmp_path, 'start = "1990-01-02"')
    mats, logs = materialise(tmp_path, monkeypatch, universe, "files", files)
    meta = mats[0].metadata
    assert meta["rows_left_out_before_start"].value == {"^GSPC": 9}
    assert meta["history_start"].value == "1990-01-02"
    assert (meta["first_date"].value, meta["last_date"].value) == ("1990-01-02", "1990-01-05")
    assert meta["rows_inserted"].value == 8
    assert meta["months_without_rows"].value == []
    assert meta["rows_in_month"].value == 8
    line = f"^GSPC: 9 rows before 1990-01-02 left out (history.start in {universe.path})"
    assert any(line in m for m in logs)


def test_by_default_a_file_loads_from_its_first_row(tmp_path, monkeypatch):
    files = tmp_path / "files"
    days = [D(1927, 12, 30), D(1928, 1, 3), D(1928, 1, 4)]
    write_prices(files, "^GSPC", days)
    write_prices(files, "^RUT", [D(1928, 1, 4)])
    mats, _ = materialise(tmp_path, monkeypatch, universe_file(tmp_path), "files", files,
                          first="1927-12-01", last="1928-01-01")
    by_month = {m.partition: m.metadata for m in mats}
    meta = by_month["1927-12-01"]
    assert meta["rows_left_out_before_start"].value == {}
    assert (meta["first_date"].value, meta["last_date"].value) == ("1927-12-30", "1928-01-04")
    assert meta["rows_inserted"].value == 4
    assert by_month["1927-12-01"]["rows_in_month"].value == 1
    assert by_month["1928-01-01"]["rows_in_month"].value == 3


def test_rows_before_the_calendar_are_left_out_and_named_not_dropped_silently(tmp_path, monkeypatch):
    files = tmp_path / "files"
    write_prices(files, "^GSPC", [D(1927, 12, 28), D(1927, 12, 29), D(1927, 12, 30)])
    write_prices(files, "^RUT", [D(1927, 12, 30)])
    mats, logs = materialise(tmp_path, monkeypatch, universe_file(tmp_path), "files", files, first="1927-12-01")
    assert mats[0].metadata["rows_left_out_before_start"].value == {"^GSPC": 2}
    assert any("^GSPC: 2 rows before 1927-12-30 left out (the warehouse's history starts on 1927-12-30" in m
               for m in logs)


def test_months_without_rows_are_named_and_each_month_reports_its_rows(tmp_path, monkeypatch):
    # The sample starts on 2015-01-02: November and December 2014 get nothing. January 2015 has 20
    # sessions (New Year's Day and Martin Luther King Day are closed) for 2 tickers.
    mats, logs = materialise(tmp_path, monkeypatch, universe_file(tmp_path), "sample",
                             first="2014-11-01", last="2015-01-01")
    by_month = {m.partition: m.metadata for m in mats}
    assert sorted(by_month) == ["2014-11-01", "2014-12-01", "2015-01-01"]
    for meta in by_month.values():
        assert meta["months_without_rows"].value == ["2014-11-01", "2014-12-01"]
        assert (meta["first_date"].value, meta["last_date"].value) == ("2015-01-02", "2015-01-30")
    assert [by_month[k]["rows_in_month"].value for k in sorted(by_month)] == [0, 0, 40]
    assert any("2 of the run's 3 months got no rows from the source: 2014-11 .. 2014-12 (2 months)" in m
               for m in logs)


def test_month_spans():
    keys = ["1927-12-01", "1928-01-01", "1928-02-01", "2020-03-01", "2020-05-01"]
    assert prices_module.month_spans(keys) == "1927-12 .. 1928-02 (3 months), 2020-03, 2020-05"


# --- the months a source can fill ---------------------------------------------------------------


def test_source_partition_keys_start_at_the_sources_first_month(tmp_path):
    universe = universe_file(tmp_path)
    keys = partitions.source_partition_keys(SampleSource(), universe)
    assert keys[0] == "2015-01-01" and keys[-1] == this_month()
    assert len(keys) == months_since(D(2015, 1, 1))
    # Live cannot tell: every month from the history start.
    live = partitions.source_partition_keys(LiveSource(), universe)
    assert live[0] == "1927-12-01" and len(live) == months_since(D(1927, 12, 1))
    # A start after the source's first date wins.
    later = universe_file(tmp_path, 'start = "2020-06-15"')
    assert partitions.source_partition_keys(SampleSource(), later)[0] == "2020-06-01"


def test_source_partition_keys_of_files_start_at_the_earliest_file(tmp_path):
    files = tmp_path / "files"
    write_prices(files, "^GSPC", [D(1985, 1, 2), D(1985, 1, 3)])
    write_prices(files, "^RUT", [D(1987, 9, 10)])
    keys = partitions.source_partition_keys(FilesSource(files), universe_file(tmp_path))
    assert keys[0] == "1985-01-01" and keys[-1] == this_month()


# --- the files source's first date --------------------------------------------------------------


def test_first_date_reads_the_earliest_row_oldest_or_newest_first(tmp_path):
    days = [D(1990, 1, 2), D(1990, 1, 3), D(1990, 1, 4)]
    write_prices(tmp_path, "OLD", days)
    write_prices(tmp_path, "NEW", [D(1988, 3, 1), D(1988, 3, 2)], newest_first=True)
    source = FilesSource(tmp_path)
    assert source.first_date(["OLD"]) == D(1990, 1, 2)
    assert source.first_date(["NEW"]) == D(1988, 3, 1)
    assert source.first_date(["OLD", "NEW", "MISSING"]) == D(1988, 3, 1)
    assert source.first_date(["MISSING"]) is None


def test_first_date_of_a_long_file_reads_only_its_ends(tmp_path):
    days = list(pd.bdate_range("1950-01-02", "1990-12-31").date)  # ~10,700 rows, ~430 kB
    write_prices(tmp_path, "LONG", days, newest_first=True)
    path = tmp_path / "prices" / "LONG.csv"
    assert path.stat().st_size > 10 * EDGE_BYTES
    assert first_date_in_file(path) == D(1950, 1, 2)
    write_prices(tmp_path, "LONG", days)
    assert first_date_in_file(path) == D(1950, 1, 2)


def test_first_date_of_a_yf_download_file(tmp_path):
    (tmp_path / "prices").mkdir()
    path = tmp_path / "prices" / "IWM.csv"
    path.write_text(
        "Price,Adj Close,Close,High,Low,Open,Volume\n"
        "Ticker,IWM,IWM,IWM,IWM,IWM,IWM\n"
        "Date,,,,,,\n"
        "2000-05-26,34.4,45.71,45.71,45.31,45.53,74800\n"
        "2000-05-30,34.9,46.3,46.3,45.9,46.0,81000\n"
    )
    assert FilesSource(tmp_path).first_date(["IWM"]) == D(2000, 5, 26)


# --- real data (optional: ../shared/realdata) ---------------------------------------------------


@pytest.mark.realdata
def test_real_yahoo_gspc_loads_from_its_first_row(realdata, tmp_path):
    (tmp_path / "prices").symlink_to(realdata / "prices" / "yahoo-csv")
    source = FilesSource(tmp_path)
    # The file's first data line: 2000-01-03,1469.25,1478.0,1438.35999,1455.21997,1455.21997,931800000.0
    assert source.first_date(["^GSPC"]) == D(2000, 1, 3)
    start = prices_module.fetch_start(load_universe(), source, D(1927, 12, 1), D(1927, 12, 30))
    assert start == D(1927, 12, 30)
    bars = source.daily_bars(["^GSPC"], start, D(2022, 11, 18)).bars
    first = bars.iloc[0]
    assert first["trade_date"] == D(2000, 1, 3)
    assert (first["open"], first["high"], first["low"], first["close"], first["adj_close"], first["volume"]) == (
        1469.25, 1478.0, 1438.35999, 1455.21997, 1455.21997, 931800000.0)
    # Every data line of the file (5,760 lines with the header) is a row.
    assert len(bars) == 5759 and bars["trade_date"].max() == D(2022, 11, 18)
