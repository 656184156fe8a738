"""The model runner's planning, on hand-made models and tables: which models rebuild in full,
incrementally or not at all (`plan`), from which input date an incremental build reads
(`window_start`), which stored relations a model reads (`input_relations`) and the build order
(`in_build_order`). Nothing is built: each test sets meta.model_builds / meta.changes and a small
table itself and works the expected answer out by hand.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from warehouse import changes
from warehouse import models as sql_models
from warehouse.db import DDL_DIR
from warehouse.models import Plan

D = dt.date


@pytest.fixture
def conn():
    c = duckdb.connect()
    c.execute((DDL_DIR / "05_changes.sql").read_text(encoding="utf-8"))  # meta.changes, meta.model_builds
    for schema in ("core", "staging", "marts"):
        c.execute(f"create schema if not exists {schema}")
    yield c
    c.close()


def make(tmp_path, layer: str, name: str, sql: str, *, materialized: str = "table", date_column: str | None = "d",
         incremental: str | None = None, columns: str = "  ticker: varchar | t\n  d: date | d\n  v: double | v\n"):
    """A model file written and parsed: `incremental` is the YAML block's body (indented lines)."""
    folder = tmp_path / layer
    folder.mkdir(exist_ok=True)
    header = f"description: test model {name}\nmaterialized: {materialized}\n"
    if date_column:
        header += f"date_column: {date_column}\n"
    if incremental:
        header += f"incremental:\n{incremental}"
    path = folder / f"{name}.sql"
    path.write_text(f"/*\n{header}columns:\n{columns}*/\n{sql}")
    return sql_models.parse_model(path, layer)


INC = "  partition_by: ticker\n  lookback_rows: 3\n"


def stored(conn, relation: str, rows, date_column: str = "d") -> None:
    conn.execute(f"create or replace table {relation} (ticker varchar, {date_column} date, v double)")
    for ticker, day in rows:
        conn.execute(f"insert into {relation} values (?, ?, 1.0)", [ticker, day])


def built(conn, model, params: dict, last_change_id: int) -> None:
    """meta.model_builds as a build of `model` that has seen every change up to `last_change_id`."""
    conn.execute("insert into meta.model_builds values (?, ?, ?, 'full', null, current_timestamp)",
                 [model.relation, model.sql_hash(params), last_change_id])


def catalog_of(*models):
    return {m.relation: m for m in models}


# plan --------------------------------------------------------------------------------------------


@pytest.fixture
def inc_model(tmp_path):
    return make(tmp_path, "marts", "m", "select ticker, d, v * {{ k }} as v from core.src", incremental=INC)


@pytest.fixture
def up_to_date(conn, inc_model):
    """marts.m stored (from 2024-01-02) and built after the only change of its input (id 1)."""
    stored(conn, "core.src", [("A", D(2024, 1, 2))])
    stored(conn, "marts.m", [("A", D(2024, 1, 2)), ("A", D(2024, 1, 3))])
    assert changes.record(conn, "core.src", D(2024, 1, 2)) == 1
    built(conn, inc_model, {"k": 1}, 1)
    return conn


def test_a_view_stores_nothing_so_it_is_only_recreated(conn, tmp_path):
    view = make(tmp_path, "staging", "v", "select * from core.src", materialized="view")
    assert sql_models.plan(conn, view, {}, catalog_of(view)) == Plan("view", "a view stores no rows")


def test_a_model_without_an_incremental_block_is_always_rebuilt_in_full(up_to_date, tmp_path):
    table = make(tmp_path, "marts", "m", "select ticker, d, v * {{ k }} as v from core.src")
    assert sql_models.plan(up_to_date, table, {"k": 1}, catalog_of(table)) == Plan("full", "not an incremental model")


def test_nothing_changed_since_the_last_build_means_no_build(up_to_date, inc_model):
    got = sql_models.plan(up_to_date, inc_model, {"k": 1}, catalog_of(inc_model))
    assert got == Plan("unchanged", "no input changed since the last build")


def test_a_full_refresh_overrides_an_up_to_date_table(up_to_date, inc_model):
    got = sql_models.plan(up_to_date, inc_model, {"k": 1}, catalog_of(inc_model), full_refresh=True)
    assert got == Plan("full", "a full refresh was asked for")


def test_the_first_build_is_full(conn, inc_model):
    changes.record(conn, "core.src", D(2024, 1, 2))
    built(conn, inc_model, {"k": 1}, 1)  # recorded, but the table is gone
    got = sql_models.plan(conn, inc_model, {"k": 1}, catalog_of(inc_model))
    assert got == Plan("full", "the table does not exist yet")


def test_a_table_without_a_recorded_build_is_rebuilt_in_full(conn, inc_model):
    stored(conn, "marts.m", [("A", D(2024, 1, 2))])
    changes.record(conn, "core.src", D(2024, 1, 2))
    got = sql_models.plan(conn, inc_model, {"k": 1}, catalog_of(inc_model))
    assert got == Plan("full", "no earlier build is recorded")


def test_a_changed_parameter_makes_the_stored_table_stale(up_to_date, inc_model):
    got = sql_models.plan(up_to_date, inc_model, {"k": 2}, catalog_of(inc_model))
    assert got == Plan("full", "the SQL or a parameter it uses changed")


def test_an_edited_model_file_makes_the_stored_table_stale(up_to_date, tmp_path):
    edited = make(tmp_path, "marts", "m", "select ticker, d, v * {{ k }} + 1 as v from core.src", incremental=INC)
    got = sql_models.plan(up_to_date, edited, {"k": 1}, catalog_of(edited))
    assert got == Plan("full", "the SQL or a parameter it uses changed")


def test_inputs_without_any_recorded_change_force_a_full_build_and_are_named(conn, tmp_path):
    model = make(tmp_path, "marts", "j", "select s.ticker, s.d, s.v from core.src s join core.zed z using (ticker) "
                 "join core.abc a using (ticker)", incremental=INC)
    stored(conn, "marts.j", [("A", D(2024, 1, 2))])
    changes.record(conn, "core.src", D(2024, 1, 2))
    built(conn, model, {}, 1)
    got = sql_models.plan(conn, model, {}, catalog_of(model))
    assert got == Plan("full", "no change is recorded for core.abc, core.zed")


def test_an_input_replaced_whole_forces_a_full_build(up_to_date, inc_model):
    changes.record(up_to_date, "core.src", D(2024, 1, 5))
    changes.record(up_to_date, "core.src", None)
    got = sql_models.plan(up_to_date, inc_model, {"k": 1}, catalog_of(inc_model))
    assert got == Plan("full", "an input changed as a whole")


def test_the_rebuild_starts_at_the_earliest_date_changed_after_the_last_build(up_to_date, inc_model):
    # change 1 (2024-01-02) is already in the table; 2 and 3 are not: the earliest of them is the 3rd
    changes.record(up_to_date, "core.src", D(2024, 1, 9))
    changes.record(up_to_date, "core.src", D(2024, 1, 3))
    changes.record(up_to_date, "core.other", D(2024, 1, 2))  # not an input
    got = sql_models.plan(up_to_date, inc_model, {"k": 1}, catalog_of(inc_model))
    assert got == Plan("incremental", "inputs changed from a date on", D(2024, 1, 3))


def test_a_change_from_the_first_stored_date_or_before_is_a_full_build(up_to_date, inc_model):
    changes.record(up_to_date, "core.src", D(2024, 1, 2))  # the first stored date itself
    got = sql_models.plan(up_to_date, inc_model, {"k": 1}, catalog_of(inc_model))
    assert got == Plan("full", "the change reaches back to the first stored date")


def test_an_empty_stored_table_is_rebuilt_in_full(up_to_date, inc_model):
    up_to_date.execute("delete from marts.m")
    changes.record(up_to_date, "core.src", D(2024, 3, 1))
    got = sql_models.plan(up_to_date, inc_model, {"k": 1}, catalog_of(inc_model))
    assert got == Plan("full", "the change reaches back to the first stored date")


@pytest.mark.parametrize(("changed", "monday"), [
    (D(2024, 1, 18), D(2024, 1, 15)),  # a Thursday
    (D(2024, 1, 21), D(2024, 1, 15)),  # a Sunday
    (D(2024, 1, 15), D(2024, 1, 15)),  # a Monday stays
])
def test_a_weekly_model_rebuilds_the_changed_week_from_its_monday(conn, tmp_path, changed, monday):
    model = make(tmp_path, "marts", "w", "select ticker, d, v from core.src", incremental=INC + "  grain: week\n")
    stored(conn, "marts.w", [("A", D(2024, 1, 1)), ("A", D(2024, 1, 8))])
    changes.record(conn, "core.src", D(2024, 1, 1))
    built(conn, model, {}, 1)
    changes.record(conn, "core.src", changed)
    got = sql_models.plan(conn, model, {}, catalog_of(model))
    assert got == Plan("incremental", "inputs changed from a date on", monday)


def test_a_weekly_change_moved_back_onto_the_first_stored_week_is_a_full_build(conn, tmp_path):
    model = make(tmp_path, "marts", "w", "select ticker, d, v from core.src", incremental=INC + "  grain: week\n")
    stored(conn, "marts.w", [("A", D(2024, 1, 15)), ("A", D(2024, 1, 22))])
    changes.record(conn, "core.src", D(2024, 1, 15))
    built(conn, model, {}, 1)
    changes.record(conn, "core.src", D(2024, 1, 17))  # Wednesday of the first stored week
    assert sql_models.plan(conn, model, {}, catalog_of(model)).mode == "full"


def test_changes_are_looked_up_on_the_tables_under_a_view(conn, tmp_path):
    view = make(tmp_path, "staging", "v", "select * from core.src", materialized="view")
    model = make(tmp_path, "marts", "m", "select * from staging.v", incremental=INC)
    stored(conn, "marts.m", [("A", D(2024, 1, 2))])
    changes.record(conn, "core.src", D(2024, 1, 2))
    built(conn, model, {}, 1)
    changes.record(conn, "core.src", D(2024, 1, 4))  # nothing is ever recorded for staging.v
    got = sql_models.plan(conn, model, {}, catalog_of(view, model))
    assert got == Plan("incremental", "inputs changed from a date on", D(2024, 1, 4))


# input_relations ---------------------------------------------------------------------------------


def test_input_relations_look_through_views_to_the_tables_under_them(tmp_path):
    base = make(tmp_path, "staging", "base", "select * from core.a join core.b using (ticker) where v > {{ floor }}",
                materialized="view")
    top = make(tmp_path, "staging", "top", "select * from staging.base join core.c using (ticker)",
               materialized="view")
    table = make(tmp_path, "staging", "t", "select * from core.d")
    model = make(tmp_path, "marts", "m", "select * from staging.top join staging.t using (ticker) "
                 "join staging.unknown using (ticker)")
    got = sql_models.input_relations(model, {"floor": 0}, catalog_of(base, top, table, model))
    # a stored model stays itself; a relation that is no model (core, or unknown) too
    assert got == {"core.a", "core.b", "core.c", "staging.t", "staging.unknown"}


def test_input_relations_of_a_model_reading_tables_only_are_those_tables(tmp_path):
    model = make(tmp_path, "marts", "m", "select * from core.a asof join core.b using (ticker, d)")
    assert sql_models.input_relations(model, {}, {}) == {"core.a", "core.b"}


# window_start ------------------------------------------------------------------------------------

SINCE = D(2024, 3, 1)


def days(first: dt.date, last: dt.date):
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


@pytest.fixture
def windowed(conn, tmp_path):
    """marts.m, incremental per ticker over its own rows, reading the model staging.src: returns
    a function storing marts.m's rows and staging.src's rows and asking for the window's start."""
    src = make(tmp_path, "staging", "src", "select * from core.raw")
    conn.execute("create table staging.src (ticker varchar, d date, v double)")

    def start(own, inputs, lookback="3", since=SINCE, params=None, grain="session"):
        inc = f"  partition_by: ticker\n  lookback_rows: '{lookback}'\n  grain: {grain}\n"
        model = make(tmp_path, "marts", "m", "select * from staging.src where v > {{ floor }}", incremental=inc)
        stored(conn, "marts.m", own)
        conn.execute("delete from staging.src")
        for ticker, day in inputs:
            conn.execute("insert into staging.src values (?, ?, 1.0)", [ticker, day])
        return sql_models.window_start(conn, model, {"floor": 0, **(params or {})}, catalog_of(src, model), since)

    return start


def test_the_window_reaches_back_exactly_lookback_rows(windowed):
    own = [("A", d) for d in days(D(2024, 2, 20), D(2024, 2, 29))]
    assert windowed(own, [("A", SINCE)]) == D(2024, 2, 27)  # 27, 28, 29


def test_stored_rows_on_or_after_since_are_not_counted(windowed):
    own = [("A", d) for d in days(D(2024, 2, 20), D(2024, 3, 5))]
    assert windowed(own, [("A", SINCE)]) == D(2024, 2, 27)


def test_a_partition_with_exactly_lookback_rows_starts_at_its_first(windowed):
    own = [("A", D(2024, 2, 15)), ("A", D(2024, 2, 20)), ("A", D(2024, 2, 29))]
    assert windowed(own, [("A", SINCE)]) == D(2024, 2, 15)
    # one more row before them is not needed
    assert windowed([("A", D(2024, 2, 14)), *own], [("A", SINCE)]) == D(2024, 2, 15)


def test_a_partition_with_fewer_rows_than_the_lookback_needs_all_of_them(windowed):
    own = [("A", D(2024, 2, 20)), ("A", D(2024, 2, 29))]
    assert windowed(own, [("A", SINCE)]) == D(2024, 2, 20)


def test_a_partition_with_a_gap_reaches_back_over_it(windowed):
    # 3 rows back from since: Feb 28, Jan 10, Jan 5 (the gap between them is longer than any guess)
    own = [("A", D(2023, 12, 1)), ("A", D(2024, 1, 5)), ("A", D(2024, 1, 10)), ("A", D(2024, 2, 28))]
    assert windowed(own, [("A", SINCE)]) == D(2024, 1, 5)


def test_a_partition_with_only_old_rows_continues_from_them(windowed):
    # B traded last in 2023 and trades again from since: its 3 last rows are Jul, Aug, Sep 2023
    own = [("A", d) for d in days(D(2024, 2, 20), D(2024, 2, 29))]
    own += [("B", D(2023, m, 1)) for m in (6, 7, 8, 9)]
    assert windowed(own, [("A", SINCE), ("B", SINCE)]) == D(2023, 7, 1)


def test_the_earliest_partition_sets_the_window(windowed):
    own = [("A", d) for d in days(D(2024, 2, 20), D(2024, 2, 29))]
    own += [("B", D(2024, 2, 21)), ("B", D(2024, 2, 23)), ("B", D(2024, 2, 26)), ("B", D(2024, 2, 28))]
    assert windowed(own, [("A", SINCE), ("B", D(2024, 3, 4))]) == D(2024, 2, 23)


def test_partitions_without_input_rows_from_since_do_not_pull_the_window_back(windowed):
    own = [("A", d) for d in days(D(2024, 2, 20), D(2024, 2, 29))]
    own += [("OLD", D(2023, m, 1)) for m in (6, 7, 8, 9)]  # stopped trading long ago
    own += [("NEW", D(2024, 2, 1)), ("NEW", D(2024, 2, 20))]  # no input row on or after since
    inputs = [("A", SINCE), ("NEW", D(2024, 2, 29)), ("OLD", D(2023, 9, 1))]
    assert windowed(own, inputs) == D(2024, 2, 27)


def test_without_an_input_model_every_stored_partition_counts(conn, tmp_path):
    model = make(tmp_path, "marts", "m", "select * from core.raw", incremental=INC)
    stored(conn, "marts.m", [("A", D(2024, 2, 27)), ("A", D(2024, 2, 28)), ("A", D(2024, 2, 29)),
                             ("OLD", D(2023, 8, 1)), ("OLD", D(2023, 9, 1))])
    assert sql_models.window_start(conn, model, {}, catalog_of(model), SINCE) == D(2023, 8, 1)


def test_without_an_input_model_a_partition_with_few_recent_rows_reaches_back_too(conn, tmp_path):
    model = make(tmp_path, "marts", "m", "select * from core.raw", incremental=INC)
    # the first guess is 3 * 3 // 2 + 14 = 18 days before since: Feb 12; B has one row after it
    # and its older ones before it, so its 3rd row back is the first of June 2023
    stored(conn, "marts.m", [("A", D(2024, 2, 27)), ("A", D(2024, 2, 28)), ("A", D(2024, 2, 29)),
                             ("B", D(2023, 6, 1)), ("B", D(2023, 7, 3)), ("B", D(2024, 2, 20))])
    assert sql_models.window_start(conn, model, {}, catalog_of(model), SINCE) == D(2023, 6, 1)


def test_with_no_stored_row_before_since_the_window_starts_at_since(windowed):
    assert windowed([("A", SINCE), ("A", D(2024, 3, 4))], [("A", SINCE)]) == SINCE


def test_a_lookback_of_one_row_is_the_last_row_before_since(windowed):
    own = [("A", D(2024, 2, 1)), ("A", D(2024, 2, 26)), ("A", D(2024, 2, 28))]
    assert windowed(own, [("A", SINCE)], lookback="1") == D(2024, 2, 28)


def test_the_lookback_may_be_sql_over_parameters(windowed):
    own = [("A", d) for d in days(D(2024, 2, 20), D(2024, 2, 29))]
    got = windowed(own, [("A", SINCE)], lookback="greatest({{ a }}, {{ b }})", params={"a": 4, "b": 2})
    assert got == D(2024, 2, 26)  # 4 rows: 26, 27, 28, 29


def test_a_lookback_below_one_row_is_refused(windowed):
    with pytest.raises(sql_models.ModelError, match=r"m\.sql: lookback_rows must be at least 1, got 0"):
        windowed([("A", D(2024, 2, 29))], [("A", SINCE)], lookback="0")


def test_a_weekly_window_counts_weeks(windowed):
    since = D(2024, 3, 4)  # a Monday
    own = [("A", d) for d in (D(2024, 1, 29), D(2024, 2, 5), D(2024, 2, 12), D(2024, 2, 19), D(2024, 2, 26))]
    assert windowed(own, [("A", since)], lookback="2", since=since, grain="week") == D(2024, 2, 19)
    # weeks missing: the 2nd row back is far older
    own = [("A", D(2023, 11, 6)), ("A", D(2023, 12, 4)), ("A", D(2024, 2, 26))]
    assert windowed(own, [("A", since)], lookback="2", since=since, grain="week") == D(2023, 12, 4)


def test_the_window_is_counted_in_another_models_rows_when_named(conn, tmp_path):
    src = make(tmp_path, "staging", "src", "select * from core.raw", date_column="trade_date",
               columns="  ticker: varchar | t\n  trade_date: date | d\n  v: double | v\n")
    model = make(tmp_path, "marts", "m", "select ticker, trade_date as d, v from staging.src",
                 incremental="  relation: staging.src\n  partition_by: ticker\n  lookback_rows: 2\n")
    stored(conn, "staging.src", [("A", d) for d in days(D(2024, 2, 26), SINCE)]
           + [("GONE", D(2024, 1, 2)), ("GONE", D(2024, 1, 3))], date_column="trade_date")
    stored(conn, "marts.m", [("A", D(2023, 1, 2))])  # its own rows do not count
    # A's 2 rows before since in staging.src: Feb 28, 29; GONE has no row from since on
    assert sql_models.window_start(conn, model, {}, catalog_of(src, model), SINCE) == D(2024, 2, 28)


def test_a_window_relation_that_is_no_model_is_refused(conn, tmp_path):
    model = make(tmp_path, "marts", "m", "select * from core.raw",
                 incremental="  relation: core.raw\n  partition_by: ticker\n  lookback_rows: 2\n")
    with pytest.raises(sql_models.ModelError,
                       match=r"m\.sql: incremental relation core\.raw is not a SQL model, so its date is unknown"):
        sql_models.window_start(conn, model, {}, catalog_of(model), SINCE)


# in_build_order ----------------------------------------------------------------------------------


def names(models):
    return [m.name for m in models]


def test_each_model_comes_after_the_models_it_reads(tmp_path):
    a = make(tmp_path, "staging", "a", "select * from core.src")
    b = make(tmp_path, "marts", "b", "select * from staging.a")
    c = make(tmp_path, "marts", "c", "select * from marts.b join staging.a using (ticker)")
    assert names(sql_models.in_build_order([c, b, a], {})) == ["a", "b", "c"]


def test_independent_models_keep_their_order_and_inputs_are_visited_sorted(tmp_path):
    x = make(tmp_path, "marts", "x", "select * from core.src")
    y = make(tmp_path, "marts", "y", "select * from core.src")
    top = make(tmp_path, "marts", "top", "select * from marts.y join marts.x using (ticker)")
    last = make(tmp_path, "marts", "last", "select * from core.src")
    assert names(sql_models.in_build_order([top, y, x, last], {})) == ["x", "y", "top", "last"]
    assert names(sql_models.in_build_order([y, last, x], {})) == ["y", "last", "x"]


def test_a_model_read_by_several_is_built_once(tmp_path):
    a = make(tmp_path, "staging", "a", "select * from core.src")
    b = make(tmp_path, "marts", "b", "select * from staging.a")
    c = make(tmp_path, "marts", "c", "select * from staging.a")
    assert names(sql_models.in_build_order([b, c, a], {})) == ["a", "b", "c"]


def test_models_reading_each_other_are_refused_with_the_cycle(tmp_path):
    a = make(tmp_path, "marts", "a", "select * from marts.b")
    b = make(tmp_path, "marts", "b", "select * from marts.c")
    c = make(tmp_path, "marts", "c", "select * from marts.a")
    with pytest.raises(sql_models.ModelError,
                       match=r"a\.sql: models read each other in a cycle: marts\.a -> marts\.b -> marts\.c$"):
        sql_models.in_build_order([a, b, c], {})


def test_the_build_order_reads_models_with_their_parameters(tmp_path):
    a = make(tmp_path, "staging", "a", "select * from core.src")
    b = make(tmp_path, "marts", "b", "select * from staging.a where v > {{ floor }}")
    assert names(sql_models.in_build_order([b, a], {"floor": 0})) == ["a", "b"]
