"""warehouse/price_universe.py: which index members the prices ingest fetches, and from when.

Snapshots are written by hand into a core.index_members table of the membership contract's
columns; the expected dates are counted on the NYSE calendar of early 2024 by hand:
- January 2024 sessions end ..., 24, 25, 26, 29, 30, 31 (15th: Martin Luther King Day);
- February ends ..., 22, 23, 26, 27, 28, 29;
- 2024-03-28 is a Thursday session, Good Friday (the 29th) is closed.
"""

import datetime as dt

import duckdb
import pytest

from warehouse import models as sql_models
from warehouse.db import ensure_schema
from warehouse.price_universe import (
    FetchGroup,
    member_spans,
    members_table_exists,
    plan_fetch,
    stored_tickers,
    window_sessions,
)

D = dt.date
MEMBERS_DDL = """
create table if not exists core.index_members (
    index_id varchar, as_of_date date, ticker varchar, holding_ticker varchar, name varchar,
    sector varchar, weight double, source varchar, loaded_at timestamp,
    unique (index_id, as_of_date, ticker)
)
"""
JAN, FEB, MAR = D(2024, 1, 31), D(2024, 2, 29), D(2024, 3, 28)


def add_members(conn, index_id, day, tickers):
    conn.executemany(
        "insert into core.index_members values (?, ?, ?, ?, ?, 'Industrials', 0.001, 'test', now())",
        [(index_id, day, t, t.replace("-", ""), f"{t} Inc") for t in tickers],
    )


@pytest.fixture
def conn():
    with duckdb.connect() as conn:
        ensure_schema(conn)
        conn.execute(MEMBERS_DDL)
        # AAA stays; BBB leaves in March; CCC joins in February; DDD is only in the S&P 600.
        add_members(conn, "russell_2000", JAN, ["AAA", "BBB"])
        add_members(conn, "russell_2000", FEB, ["AAA", "BBB", "CCC"])
        add_members(conn, "russell_2000", MAR, ["AAA", "CCC"])
        add_members(conn, "sp_600", MAR, ["AAA", "DDD"])
        yield conn


# -- the longest window -----------------------------------------------------------------------------


def test_the_window_is_the_longest_lookback_the_models_declare_plus_the_previous_close():
    # period_returns declares lookback_rows: 260 (the longest at the shipped parameters, above
    # high_window 252, breadth_high_window 252 and rrg's 2 x 14 weeks); one more for the close
    # the window's first return reads.
    assert window_sessions() == 261


def test_the_window_follows_the_parameters_of_models_toml():
    params = sql_models.load_params()
    # highs_drawdowns: greatest(high_window, extreme_day_window)
    assert window_sessions({**params, "high_window": 400}) == 401
    # rrg: 2 * rrg_weeks weeks, at most five sessions a week
    assert window_sessions({**params, "rrg_weeks": 100}) == 2 * 100 * 5 + 1
    # breadth: greatest(breadth_sma_short, breadth_sma_long, breadth_high_window)
    assert window_sessions({**params, "breadth_sma_long": 300}) == 301


def test_a_model_file_being_edited_does_not_stop_the_window_and_is_named(tmp_path, monkeypatch):
    sql = tmp_path / "sql"
    for layer in ("staging", "marts"):
        (sql / layer).mkdir(parents=True)
    shipped = sql_models.settings.PROJECT_ROOT / "sql"
    for name in ("staging/returns_daily.sql", "marts/period_returns.sql"):
        (sql / name).write_text((shipped / name).read_text())
    (sql / "marts" / "broken.sql").write_text("/*\ndescription: a: b: c\n*/\nselect 1\n")
    monkeypatch.setenv("ROTATION_SQL_DIR", str(sql))
    skipped = []
    # period_returns' 260 rows (above every window parameter), + 1
    assert window_sessions(on_skip=skipped.append) == 261
    assert len(skipped) == 1 and skipped[0].startswith("broken.sql left out of the members' history window")


def test_the_window_parameters_are_a_floor(tmp_path, monkeypatch):
    (tmp_path / "staging").mkdir()
    (tmp_path / "marts").mkdir()
    monkeypatch.setenv("ROTATION_SQL_DIR", str(tmp_path))
    # no model at all: the largest *_window or *_sma_* parameter, breadth_high_window 252, + 1
    assert window_sessions() == 253
    assert window_sessions({"corr_window": 63, "rs_sma_long": 300, "rrg_weeks": 14}) == 301


# -- when each member is needed ---------------------------------------------------------------------


def test_each_member_is_needed_from_its_first_snapshot_less_the_window(conn):
    spans = member_spans(conn, window=5, history_start=D(1927, 12, 30))
    assert sorted(spans) == ["AAA", "BBB", "CCC", "DDD"]
    # five sessions before 2024-01-31: 30, 29, 26, 25, 24
    assert (spans["AAA"].first_listed, spans["AAA"].start) == (JAN, D(2024, 1, 24))
    assert (spans["BBB"].first_listed, spans["BBB"].start) == (JAN, D(2024, 1, 24))
    # five sessions before 2024-02-29: 28, 27, 26, 23, 22
    assert (spans["CCC"].first_listed, spans["CCC"].start) == (FEB, D(2024, 2, 22))
    # five sessions before 2024-03-28: 27, 26, 25, 22, 21
    assert (spans["DDD"].first_listed, spans["DDD"].start) == (MAR, D(2024, 3, 21))
    assert spans["AAA"].indexes == ("russell_2000", "sp_600")
    assert spans["DDD"].indexes == ("sp_600",)


def test_a_member_dropped_by_a_snapshot_is_needed_to_the_session_before_it(conn):
    spans = member_spans(conn, window=5, history_start=D(1927, 12, 30))
    assert spans["BBB"].until == D(2024, 3, 27)
    assert spans["AAA"].until is None and spans["CCC"].until is None and spans["DDD"].until is None


def test_a_member_listed_again_by_a_later_snapshot_is_current_again(conn):
    add_members(conn, "russell_2000", D(2024, 4, 30), ["AAA", "BBB", "CCC"])
    spans = member_spans(conn, window=5, history_start=D(1927, 12, 30))
    assert spans["BBB"].until is None and spans["BBB"].first_listed == JAN
    # DDD is still in the S&P 600's latest snapshot, whatever the Russell 2000's says.
    assert spans["DDD"].until is None


def test_the_start_is_not_before_the_history_start(conn):
    spans = member_spans(conn, window=5, history_start=D(2024, 1, 26))
    assert spans["AAA"].start == D(2024, 1, 26)
    assert spans["CCC"].start == D(2024, 2, 22)


def test_without_the_members_table_there_are_no_members():
    with duckdb.connect() as conn:
        ensure_schema(conn)
        # a warehouse from before membership was loaded
        conn.execute("drop table if exists core.index_members")
        assert not members_table_exists(conn)
        assert member_spans(conn, window=5, history_start=D(1927, 12, 30)) == {}


def test_stored_tickers_are_those_with_a_bar(conn):
    conn.execute(
        "insert into core.prices_daily (ticker, trade_date, open, high, low, close, adj_close, volume, source, loaded_at) "
        "values ('AAA', date '2024-03-28', 1, 1, 1, 1, 1, 100, 'test', now())"
    )
    assert stored_tickers(conn, ["AAA", "BBB", "CCC"]) == {"AAA"}
    assert stored_tickers(conn, []) == set()


# -- what is asked for ------------------------------------------------------------------------------


def test_stored_members_go_with_the_run_and_new_ones_are_backfilled_from_their_start(conn):
    spans = member_spans(conn, window=5, history_start=D(1927, 12, 30))
    today = D(2024, 6, 28)
    plan = plan_fetch(["IWM", "DDD"], spans, {"AAA"}, D(2024, 3, 14), MAR, today, window=5)
    assert plan.groups == [
        # the configured tickers (DDD among them: configured wins) and the stored member
        FetchGroup(("IWM", "DDD", "AAA"), D(2024, 3, 14), MAR, backfill=False),
        # BBB's membership ended on 2024-03-27: its history is needed to there only
        FetchGroup(("BBB",), D(2024, 1, 24), D(2024, 3, 27), backfill=True),
        FetchGroup(("CCC",), D(2024, 2, 22), today, backfill=True),
    ]
    assert plan.members_incremental == ("AAA",)
    assert plan.members_backfill == ("BBB", "CCC")
    assert plan.members_not_due == ()
    assert plan.tickers == ("IWM", "DDD", "AAA", "BBB", "CCC")


def test_new_members_sharing_a_start_share_one_request(conn):
    add_members(conn, "russell_2000", MAR, ["EEE", "FFF"])
    spans = member_spans(conn, window=5, history_start=D(1927, 12, 30))
    plan = plan_fetch([], spans, {"AAA", "BBB", "CCC"}, D(2024, 3, 14), MAR, MAR)
    backfills = [g for g in plan.groups if g.backfill]
    assert backfills == [FetchGroup(("DDD", "EEE", "FFF"), D(2024, 3, 21), MAR, backfill=True)]


def test_a_stored_member_that_left_before_the_run_is_not_fetched(conn):
    spans = member_spans(conn, window=5, history_start=D(1927, 12, 30))
    # A run of May 2024: BBB left on 2024-03-27.
    plan = plan_fetch(["IWM"], spans, {"AAA", "BBB", "CCC", "DDD"}, D(2024, 4, 17), D(2024, 5, 31), D(2024, 5, 31))
    assert plan.groups == [FetchGroup(("IWM", "AAA", "CCC", "DDD"), D(2024, 4, 17), D(2024, 5, 31), backfill=False)]
    assert plan.members_not_due == ("BBB",)


def test_a_stored_member_not_yet_needed_by_an_older_run_is_not_fetched(conn):
    spans = member_spans(conn, window=5, history_start=D(1927, 12, 30))
    # A backfill of December 2023: AAA is needed from 2024-01-24, DDD from 2024-03-21.
    plan = plan_fetch(["IWM"], spans, {"AAA", "DDD"}, D(2023, 11, 15), D(2023, 12, 29), D(2024, 6, 28))
    assert plan.groups[0] == FetchGroup(("IWM",), D(2023, 11, 15), D(2023, 12, 29), backfill=False)
    assert plan.members_not_due == ("AAA", "DDD")
    # New members are backfilled whatever months the run covers: once, to the last closed session.
    assert [g.tickers for g in plan.groups[1:]] == [("BBB",), ("CCC",)]
    assert plan.groups[2].end == D(2024, 6, 28)


def test_a_stored_member_that_leaves_during_the_run_is_asked_for_to_its_last_session_only(conn):
    spans = member_spans(conn, window=5, history_start=D(1927, 12, 30))
    # A run of March 2024: BBB's last session as a member is 2024-03-27, the run ends on the 28th.
    plan = plan_fetch(["IWM"], spans, {"AAA", "BBB", "CCC", "DDD"}, D(2024, 2, 14), MAR, MAR)
    assert plan.groups == [
        FetchGroup(("IWM", "AAA"), D(2024, 2, 14), MAR, backfill=False),
        FetchGroup(("BBB",), D(2024, 2, 14), D(2024, 3, 27), backfill=False),
        # nor before its span: CCC is needed from 2024-02-22, DDD from 2024-03-21
        FetchGroup(("CCC",), D(2024, 2, 22), MAR, backfill=False),
        FetchGroup(("DDD",), D(2024, 3, 21), MAR, backfill=False),
    ]
    assert plan.members_incremental == ("AAA", "BBB", "CCC", "DDD")
