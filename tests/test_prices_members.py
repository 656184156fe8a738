"""The prices asset fetches every index member: new ones backfilled once, stored ones with the run,
failures named and not fatal. Membership is written by hand into core.index_members."""

import datetime as dt

import dagster as dg
import duckdb
import pandas as pd
import pytest
from dagster_duckdb import DuckDBResource

from pipelines.defs.ingest import prices as prices_module
from pipelines.defs.resources import MarketSourceResource
from warehouse import calendar
from warehouse.db import ensure_schema
from warehouse.sources.files import FilesSource
from warehouse.sources.sample import SampleSource
from warehouse.universe import load_universe

D = dt.date
MAR = D(2024, 3, 28)  # a Thursday session; the snapshot's date
WINDOW = 261  # period_returns' 260 rows + the previous close (tests/test_price_universe.py)
UNIVERSE = """
[history]
start = "2020-01-02"

[prices.groups]
indices = ["^GSPC"]
etfs = ["IWM"]
"""
MEMBERS_DDL = """
create table if not exists core.index_members (
    index_id varchar, as_of_date date, ticker varchar, holding_ticker varchar, name varchar,
    sector varchar, weight double, source varchar, loaded_at timestamp,
    unique (index_id, as_of_date, ticker)
)
"""
# Names no configured group uses: the sample must make bars for whatever a membership names.
SYNTHETIC = ["QZSYN-A", "ZZMEMBER"]


def with_members(db, index_id, day, tickers):
    with duckdb.connect(str(db)) as conn:
        ensure_schema(conn)
        conn.execute(MEMBERS_DDL)
        conn.executemany(
            "insert into core.index_members values (?, ?, ?, ?, ?, 'Industrials', 0.001, 'test', now())",
            [(index_id, day, t, t.replace("-", ""), f"{t} Inc") for t in tickers],
        )


def materialise(tmp_path, monkeypatch, kind, files=None, partition="2024-03-01"):
    path = tmp_path / "universe.toml"
    path.write_text(UNIVERSE)
    universe = load_universe(path)
    monkeypatch.setattr(prices_module, "load_universe", lambda: universe)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [prices_module.prices_daily],
        instance=instance,
        partition_key=partition,
        resources={
            "duckdb": DuckDBResource(database=str(tmp_path / "wh.duckdb")),
            "market_source": MarketSourceResource(kind=kind, files_dir=str(files) if files else None),
        },
    )
    assert result.success
    (mat,) = result.asset_materializations_for_node("core__prices_daily")
    logs = [entry.user_message for entry in instance.all_logs(result.run_id)]
    return mat.metadata, logs


def stored(db, ticker):
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(
            "select count(*), min(trade_date), max(trade_date) from core.prices_daily where ticker = ?", [ticker]
        ).fetchone()


def test_the_sample_makes_deterministic_bars_for_any_member_name():
    start, end = D(2024, 3, 1), D(2024, 3, 28)
    first = SampleSource().daily_bars(SYNTHETIC, start, end).bars
    again = SampleSource().daily_bars(SYNTHETIC, start, end).bars
    pd.testing.assert_frame_equal(first, again)
    sessions = calendar.sessions(start, end)
    for name in SYNTHETIC:
        mine = first[first["ticker"] == name]
        assert mine["trade_date"].tolist() == sessions
        assert (mine["close"] > 0).all() and (mine["low"] <= mine["high"]).all()
    # two names, two paths
    a, b = (first[first["ticker"] == n]["close"].to_numpy() for n in SYNTHETIC)
    assert not (a == b).all()


def test_new_members_are_backfilled_from_their_first_snapshot_less_the_window(tmp_path, monkeypatch):
    db = tmp_path / "wh.duckdb"
    with_members(db, "russell_2000", MAR, SYNTHETIC)
    meta, logs = materialise(tmp_path, monkeypatch, "sample")
    last = calendar.last_completed_session()
    for name in SYNTHETIC:
        count, first, latest = stored(db, name)
        # WINDOW sessions before the snapshot, the snapshot's own session, on to the last close
        assert len(calendar.sessions(first, MAR)) == WINDOW + 1
        assert latest == last and count == len(calendar.sessions(first, last))
    assert meta["members_backfilled"].value == 2
    assert meta["members_fetched"].value == 0
    assert meta["members_failed"].value == {}
    assert meta["member_window_sessions"].value == WINDOW
    assert any("Backfilling 2 index members new to the warehouse" in m for m in logs)
    # The configured tickers still load over the run's range only: March 2024 + 10 sessions before.
    count, first, latest = stored(db, "IWM")
    assert first == calendar.shift_sessions(D(2024, 3, 1), -10) and latest == D(2024, 3, 28)


def test_a_stored_member_is_then_fetched_with_the_run_like_the_rest(tmp_path, monkeypatch):
    db = tmp_path / "wh.duckdb"
    with_members(db, "russell_2000", MAR, SYNTHETIC)
    materialise(tmp_path, monkeypatch, "sample")
    before = {name: stored(db, name) for name in SYNTHETIC}
    meta, _ = materialise(tmp_path, monkeypatch, "sample")
    assert meta["members_fetched"].value == 2
    assert meta["members_backfilled"].value == 0
    assert {name: stored(db, name) for name in SYNTHETIC} == before
    # March 2024 (20 sessions: Good Friday is closed) + 10 re-fetched, for 2 configured + 2 members,
    # all as stored already
    assert meta["rows_unchanged"].value == 4 * (20 + 10)
    assert meta["rows_inserted"].value == 0


def test_without_the_members_table_only_the_configured_tickers_are_fetched(tmp_path, monkeypatch):
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as conn:
        ensure_schema(conn)
        conn.execute("drop table if exists core.index_members")  # a warehouse from before membership
    meta, _ = materialise(tmp_path, monkeypatch, "sample")
    assert meta["tickers_loaded"].value == 2
    assert (meta["members_fetched"].value, meta["members_backfilled"].value) == (0, 0)
    assert meta["rows_inserted"].value == 2 * (20 + 10)


def write_prices(folder, ticker, days):
    (folder / "prices").mkdir(parents=True, exist_ok=True)
    rows = [f"{day},{100 + i},{101 + i},{99 + i},{100 + i},{100 + i},1000" for i, day in enumerate(days)]
    (folder / "prices" / f"{ticker}.csv").write_text("\n".join(["Date,Open,High,Low,Close,Adj Close,Volume", *rows]))


def test_a_member_without_a_price_file_is_named_and_the_run_loads_the_rest(tmp_path, monkeypatch):
    files = tmp_path / "files"
    march = calendar.sessions(D(2024, 3, 1), MAR)
    for ticker in ("^GSPC", "IWM", "AAA"):
        write_prices(files, ticker, march)
    db = tmp_path / "wh.duckdb"
    with_members(db, "russell_2000", MAR, ["AAA", "GONE"])
    meta, logs = materialise(tmp_path, monkeypatch, "files", files)
    missing = FilesSource(files).price_path("GONE")
    assert meta["members_failed"].value == {"GONE": f"no file {missing}"}
    assert meta["tickers_failed"].value == {"GONE": f"no file {missing}"}
    assert meta["members_backfilled"].value == 1
    assert stored(db, "AAA") == (len(march), march[0], MAR)
    assert stored(db, "GONE") == (0, None, None)
    assert any(m.startswith("GONE: index member (russell_2000, first listed 2024-03-28) not loaded: no file")
               and "Not fatal" in m for m in logs)


def test_members_alone_failing_do_not_fail_a_run_that_loaded_the_configured_tickers(tmp_path, monkeypatch):
    files = tmp_path / "files"
    write_prices(files, "^GSPC", calendar.sessions(D(2024, 3, 1), MAR))
    db = tmp_path / "wh.duckdb"
    with_members(db, "russell_2000", MAR, ["GONE", "RENAMED"])
    meta, _ = materialise(tmp_path, monkeypatch, "files", files)
    assert sorted(meta["members_failed"].value) == ["GONE", "RENAMED"]
    assert meta["tickers_loaded"].value == 1


def test_a_run_with_nothing_loaded_still_fails_as_before(tmp_path, monkeypatch):
    files = tmp_path / "files"
    (files / "prices").mkdir(parents=True)
    with_members(tmp_path / "wh.duckdb", "russell_2000", MAR, ["GONE"])
    with pytest.raises(dg.Failure, match="No ticker loaded from the files source"):
        materialise(tmp_path, monkeypatch, "files", files)
