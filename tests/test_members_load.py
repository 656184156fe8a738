"""Loading snapshots into core.index_members (warehouse/members.py), the [indexes] of the universe
file and the config.indexes table written from them."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from warehouse import models as sql_models
from warehouse.db import MixedDataError
from warehouse.members import TABLE, load_snapshots, stored_snapshots, summary
from warehouse.sources.members import MEMBER_COLUMNS, Snapshot
from warehouse.universe import IndexSpec, Universe, UniverseError, load_universe

D = dt.date.fromisoformat
NOW = dt.datetime(2026, 4, 13, 22, 0, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 4, 14, 22, 0, tzinfo=dt.UTC)


def snap(index_id: str, day: str, members: dict[str, float], origin: str = "test") -> Snapshot:
    frame = pd.DataFrame(
        [(t, t.replace("-", ""), f"{t} INC", "Industrials", w) for t, w in members.items()], columns=MEMBER_COLUMNS
    )
    return Snapshot(index_id, "IWM", D(day), frame, origin)


def rows(conn) -> list[tuple]:
    return conn.execute(
        f"select index_id, as_of_date, ticker, holding_ticker, weight, source from {TABLE} order by 1, 2, 3"
    ).fetchall()


def change_log(conn) -> list[tuple]:
    return conn.execute("select relation, changed_from from meta.changes order by change_id").fetchall()


def test_a_load_writes_snapshots_and_records_the_change(conn):
    first = snap("russell_2000", "2026-04-09", {"AAA": 0.6, "MOG-A": 0.4})
    second = snap("russell_2000", "2026-04-10", {"AAA": 0.5, "BBB": 0.5})
    load = load_snapshots(conn, [second, first], source="files", run_id="r1", now=NOW)
    assert load.inserted == {"russell_2000": 2} and load.rows_written == 4 and load.changed_from == D("2026-04-09")
    assert rows(conn) == [
        ("russell_2000", D("2026-04-09"), "AAA", "AAA", 0.6, "files"),
        ("russell_2000", D("2026-04-09"), "MOG-A", "MOGA", 0.4, "files"),
        ("russell_2000", D("2026-04-10"), "AAA", "AAA", 0.5, "files"),
        ("russell_2000", D("2026-04-10"), "BBB", "BBB", 0.5, "files"),
    ]
    # the index's first snapshots: the sessions before them change too when members are projected back
    assert change_log(conn) == [("core.index_members", None)]
    assert stored_snapshots(conn) == {"russell_2000": {D("2026-04-09"), D("2026-04-10")}}
    assert summary(conn)["russell_2000"] == {"snapshots": 2, "first": "2026-04-09", "latest": "2026-04-10",
                                             "members_latest": 2}
    logged = conn.execute(
        "select part, run_id, received, rejected, table_rows from meta.load_batches "
        "where relation = 'core.index_members' order by part nulls first").fetchall()
    assert logged == [(None, "r1", 4, 0, 4), ("russell_2000", "r1", 4, 0, None)]


def test_loading_the_same_snapshots_again_changes_nothing(conn):
    batch = [snap("russell_2000", "2026-04-09", {"AAA": 0.6, "BBB": 0.4}),
             snap("sp_500", "2026-04-09", {"CCC": 1.0})]
    load_snapshots(conn, batch, source="files", now=NOW)
    before = conn.execute(f"select * from {TABLE} order by all").fetchall()
    again = load_snapshots(conn, batch, source="files", now=LATER)
    assert again.unchanged == {"russell_2000": 1, "sp_500": 1} and again.written == 0
    assert again.rows_written == 0 and again.changed_from is None
    assert conn.execute(f"select * from {TABLE} order by all").fetchall() == before  # loaded_at kept too
    assert len(change_log(conn)) == 1


def test_a_snapshot_loaded_again_replaces_the_stored_one_whole(conn):
    load_snapshots(conn, [snap("russell_2000", "2026-04-09", {"AAA": 0.5, "BBB": 0.3, "CCC": 0.2}),
                          snap("russell_2000", "2026-04-10", {"AAA": 1.0})], source="files", now=NOW)
    # BBB left, DDD joined, AAA's weight changed; the other day is untouched.
    load = load_snapshots(conn, [snap("russell_2000", "2026-04-09", {"AAA": 0.6, "CCC": 0.2, "DDD": 0.2})],
                          source="live", now=LATER)
    assert load.replaced == {"russell_2000": 1} and load.rows_deleted == 3 and load.rows_written == 3
    assert rows(conn) == [
        ("russell_2000", D("2026-04-09"), "AAA", "AAA", 0.6, "live"),
        ("russell_2000", D("2026-04-09"), "CCC", "CCC", 0.2, "live"),
        ("russell_2000", D("2026-04-09"), "DDD", "DDD", 0.2, "live"),
        ("russell_2000", D("2026-04-10"), "AAA", "AAA", 1.0, "files"),
    ]
    assert change_log(conn)[-1] == ("core.index_members", D("2026-04-09"))


def test_a_change_is_dated_unless_it_reaches_behind_the_index_first_snapshot(conn):
    load_snapshots(conn, [snap("russell_2000", "2026-04-09", {"AAA": 1.0})], source="files", now=NOW)
    load_snapshots(conn, [snap("russell_2000", "2026-04-13", {"AAA": 1.0})], source="files", now=NOW)
    assert change_log(conn)[-1] == ("core.index_members", D("2026-04-13"))
    # an older month end arrives later (the live backfill): sessions before 2026-04-09 change too
    load_snapshots(conn, [snap("russell_2000", "2026-03-31", {"BBB": 1.0})], source="files", now=NOW)
    assert change_log(conn)[-1] == ("core.index_members", None)
    # a second index's first snapshot reaches back as well, whatever the first index holds
    load_snapshots(conn, [snap("sp_500", "2026-04-13", {"CCC": 1.0})], source="files", now=NOW)
    assert change_log(conn)[-1] == ("core.index_members", None)


def test_a_failing_load_leaves_the_table_as_it_was(conn, monkeypatch):
    load_snapshots(conn, [snap("russell_2000", "2026-04-09", {"AAA": 1.0})], source="files", now=NOW)
    before = conn.execute(f"select * from {TABLE} order by all").fetchall()
    import warehouse.members as members

    def broken(*args, **kwargs):
        raise duckdb.IOException("disk went away while logging the load")

    monkeypatch.setattr(members, "_log_batch", broken)  # fails after the delete and the insert
    with pytest.raises(duckdb.IOException, match="disk went away"):
        load_snapshots(conn, [snap("russell_2000", "2026-04-09", {"ZZZ": 1.0}),
                              snap("russell_2000", "2026-04-10", {"ZZZ": 1.0})], source="files", now=LATER)
    assert conn.execute(f"select * from {TABLE} order by all").fetchall() == before
    assert len(change_log(conn)) == 1


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        (snap("russell_2000", "2026-04-11", {"AAA": 1.0}), r"2026-04-11 is not an NYSE session \(weekend\)"),
        (snap("russell_2000", "2026-04-10", {"AAA": 0.5, "BBB": 0.5}) , "the batch holds this snapshot twice"),
    ],
)
def test_a_batch_the_sources_never_give_is_refused_whole(conn, bad, named):
    good = snap("russell_2000", "2026-04-10", {"AAA": 1.0})
    with pytest.raises(ValueError, match=named):
        load_snapshots(conn, [good, bad], source="files", now=NOW)
    assert rows(conn) == []


def test_sample_members_never_go_into_a_warehouse_of_real_data(conn):
    load_snapshots(conn, [snap("russell_2000", "2026-04-09", {"AAA": 1.0})], source="files", now=NOW)
    with pytest.raises(MixedDataError):
        load_snapshots(conn, [snap("russell_2000", "2026-04-10", {"SAMP001": 1.0})], source="sample", now=NOW)
    assert len(rows(conn)) == 1


# --- [indexes] in config/universe.toml and config.indexes ----------------------------------------

BASE = """
[prices.groups]
indices = ["^RUT", "^GSPC"]

[indexes.russell_2000]
fund = "IWM"
index_symbol = "^RUT"
page = "/us/products/239710/ishares-russell-2000-etf"

[indexes.russell_3000]
fund = "IWV"
index_symbol = "^RUA"
page = "/us/products/239714/ishares-russell-3000-etf"
enabled = false
"""


def test_the_shipped_universe_configures_three_indexes_and_keeps_the_russell_3000_off():
    universe = load_universe()
    assert [(i.index_id, i.fund, i.index_symbol) for i in universe.indexes] == [
        ("russell_2000", "IWM", "^RUT"), ("sp_600", "IJR", "^SP600"), ("sp_500", "IVV", "^GSPC")]
    assert universe.index("sp_600").page == "/us/products/239774/ishares-core-sp-smallcap-etf"
    assert "russell_3000" in universe.path.read_text()


def test_indexes_are_read_and_a_disabled_one_is_left_out(tmp_path):
    path = tmp_path / "universe.toml"
    path.write_text(BASE)
    assert load_universe(path).indexes == (
        IndexSpec("russell_2000", "IWM", "^RUT", "/us/products/239710/ishares-russell-2000-etf"),)


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (('fund = "IWM"', 'fund = "iwm"'), "line 6: [indexes.russell_2000] fund 'iwm' is not a valid ticker"),
        (('page = "/us/products/239710/ishares-russell-2000-etf"', 'page = "https://www.ishares.com/x"'),
         "line 8: [indexes.russell_2000] page 'https://www.ishares.com/x' must be the path"),
        (('index_symbol = "^RUT"\n', 'index_symbol = "^RUT"\nsymbol = "x"\n'),
         "line 8: [indexes.russell_2000]: unknown key 'symbol'"),
        (('fund = "IWV"', 'fund = "IWM"'), "line 11: [indexes.russell_3000] fund 'IWM' already defines [indexes.russell_2000]"),
        (("[indexes.russell_3000]", "[indexes.Russell3000]"), "line 10: [indexes.Russell3000]: the id must be lower case"),
        (("enabled = false", 'enabled = "no"'), "line 14: [indexes.russell_3000] enabled must be true or false"),
        (('index_symbol = "^RUT"\n', ""), "line 5: [indexes.russell_2000] has no 'index_symbol'"),
    ],
)
def test_a_bad_index_entry_is_refused_with_file_and_line(tmp_path, edit, named):
    path = tmp_path / "universe.toml"
    path.write_text(BASE.replace(*edit, 1))
    with pytest.raises(UniverseError) as err:
        load_universe(path)
    assert f"{path} {named}" in str(err.value)


def test_config_indexes_is_written_from_the_universe_and_only_when_it_changes(conn):
    base = load_universe()
    universe = Universe(path=base.path, history_start=base.history_start, refetch_sessions=10,
                        groups={"etfs": ("IWM",)}, pairs=(), indexes=base.indexes[:2])
    params = sql_models.load_params() | {"_breadth_groups": {}}
    sql_models.write_config_tables(conn, universe, params)
    assert sorted(conn.execute("select * from config.indexes").fetchall()) == [
        ("russell_2000", "IWM", "^RUT"), ("sp_600", "IJR", "^SP600")]
    count = len(change_log(conn))
    sql_models.write_config_tables(conn, universe, params)
    assert len(change_log(conn)) == count
    bare = Universe(path=base.path, history_start=base.history_start, refetch_sessions=10,
                    groups={"etfs": ("IWM",)}, pairs=())
    sql_models.write_config_tables(conn, bare, params)
    assert conn.execute("select count(*) from config.indexes").fetchall() == [(0,)]
    assert ("config.indexes", None) in change_log(conn)[count:]
