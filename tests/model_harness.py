"""Build SQL models on small hand-made data, without Dagster."""

from __future__ import annotations

import datetime as dt

import duckdb

from warehouse import changes, rates
from warehouse import models as sql_models
from warehouse.universe import Pair, Universe, load_universe


def small_universe(pairs=(("IWM", "SPY"),), groups=None) -> Universe:
    """A universe with just the given pairs (and groups), for tests."""
    base = load_universe()
    groups = groups or {"etfs": tuple(sorted({t for p in pairs for t in p}))}
    return Universe(
        path=base.path, history_start=base.history_start, refetch_sessions=10, groups=groups,
        pairs=tuple(Pair(small, large) for small, large in pairs),
    )


def insert_prices(conn: duckdb.DuckDBPyConnection, rows) -> None:
    """rows: (ticker, trade_date, close[, adj_close]); open/high/low = close, volume 1000."""
    full = []
    for row in rows:
        ticker, day, close, *rest = row
        adj = rest[0] if rest else close
        day = dt.date.fromisoformat(day) if isinstance(day, str) else day
        full.append((ticker, day, close, close, close, close, adj, 1000.0))
    conn.executemany(
        "insert into core.prices_daily values (?, ?, ?, ?, ?, ?, ?, ?, 'sample', now())", full
    )


# config.indexes as write_config_tables writes it from the universe's [indexes]; created here when
# a test sets it before (or without) a write of the config tables.
INDEXES_COLUMNS = "index_id varchar, fund varchar, index_symbol varchar"


def _ensure_index_tables(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("create schema if not exists config")
    conn.execute(f"create table if not exists config.indexes ({INDEXES_COLUMNS})")


def set_indexes(conn: duckdb.DuckDBPyConnection, indexes) -> None:
    """config.indexes holding exactly `indexes`, (index_id, fund, index_symbol) rows, whatever the
    universe configures; like write_config_tables, a change of its rows is recorded as a whole."""
    _ensure_index_tables(conn)
    if sorted(conn.execute("select * from config.indexes").fetchall()) == sorted(map(tuple, indexes)):
        return
    conn.execute("delete from config.indexes")
    if indexes:
        conn.executemany("insert into config.indexes values (?, ?, ?)", [tuple(r) for r in indexes])
    changes.record(conn, "config.indexes", None)


def insert_index_members(conn: duckdb.DuckDBPyConnection, rows) -> None:
    """rows: (index_id, as_of_date, ticker[, sector]) into core.index_members, recorded as a change
    from the earliest as_of_date, as a load of new snapshots is."""
    full = []
    for index_id, day, ticker, *rest in rows:
        day = dt.date.fromisoformat(day) if isinstance(day, str) else day
        full.append((index_id, day, ticker, ticker, ticker, rest[0] if rest else None, None, "sample"))
    conn.executemany(
        "insert into core.index_members (index_id, as_of_date, ticker, holding_ticker, name, sector, weight, "
        "source, loaded_at) values (?, ?, ?, ?, ?, ?, ?, ?, now())",
        full,
    )
    if full:
        changes.record(conn, "core.index_members", min(r[1] for r in full))


# Core tables the rates assets derive from another core table: a test inserts the table they
# come from, and the harness derives them with the same code, so a model never reads a stale or
# hand-made copy.
DERIVED_CORE = {"core.fomc_decisions": rates.rebuild_fomc_decisions}


def run_models(conn, *names, universe: Universe | None = None, indexes=None, **overrides) -> dict:
    """Build the named models, after any staging models (and the staging models those read) and
    derived core tables (DERIVED_CORE) they read; returns {name: BuildResult}.

    Marts the named ones read are not built implicitly: a test names them, so it says what its
    data flows through. `indexes`: the rows of config.indexes (see set_indexes), written after the
    universe's config tables.
    """
    params = sql_models.load_params() | {"_breadth_groups": {}} | overrides
    sql_models.write_config_tables(conn, universe or small_universe(), params)
    if indexes is not None:
        set_indexes(conn, indexes)
    models = {m.name: m for m in sql_models.discover()}
    staging = {m.relation: m for m in models.values() if m.layer == "staging"}
    results = {}

    def inputs_of(model) -> None:
        for dep in sorted(model.dependencies(params)):
            if dep in staging:
                inputs_of(staging[dep])  # staging.pair_sessions reads staging.returns_daily
                sql_models.build(conn, staging[dep], params)
            elif dep in DERIVED_CORE:
                DERIVED_CORE[dep](conn)

    for name in names:
        inputs_of(models[name])
        results[name] = sql_models.build(conn, models[name], params)
    return results


def rows(conn, sql, *args):
    return conn.execute(sql, list(args)).fetchall()
