"""One benchmark phase in its own process, so its peak memory is its own. Prints JSON."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def _models():
    from warehouse import models as sql_models

    params = sql_models.load_params()
    return params, sql_models.in_build_order(sql_models.discover(), params)


def load(db: Path, n: int, years: int) -> dict:
    from bench import workload
    from warehouse.db import connect, ensure_schema
    from warehouse.load import upsert
    from warehouse.prices import PRICES

    started = time.perf_counter()
    table = workload.generate(n, years)
    generated = time.perf_counter() - started
    with connect(db) as conn:
        ensure_schema(conn)
        started = time.perf_counter()
        result = upsert(conn, PRICES, table, source="sample", run_id="bench")
        seconds = time.perf_counter() - started
    return {"rows": table.num_rows, "seconds": seconds, "rows_per_second": table.num_rows / seconds,
            "generate_seconds": generated, "inserted": result.inserted}


def floor(db: Path) -> dict:
    """Every mart's SQL straight in DuckDB, in dependency order, no Dagster: the same statements
    as a full build, without its bookkeeping (change log, row counts, headline figures)."""
    from warehouse import models as sql_models
    from warehouse.db import connect
    from warehouse.universe import load_universe

    params, ordered = _models()
    per_model = {}
    # The warehouse's own connection settings (its memory limit), as a run would have them.
    with connect(db) as conn:
        sql_models.write_config_tables(conn, load_universe(), params)
        started = time.perf_counter()
        for model in ordered:
            t = time.perf_counter()
            conn.execute(f"create schema if not exists {model.layer}")
            kind = "view" if model.materialized == "view" else "table"
            conn.execute(f"create or replace {kind} {model.relation} as {sql_models.full_build_sql(model, params)}")
            per_model[model.name] = time.perf_counter() - t
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "per_model": per_model}


def dagster_build(db: Path) -> dict:
    """Every mart through Dagster, in process, as a scheduled run would build them."""
    import dagster as dg

    from pipelines.definitions import defs as build_defs

    os.environ["ROTATION_WAREHOUSE"] = str(db)  # the resources read it when the definitions load

    defs = build_defs()
    graph = defs.resolve_asset_graph()
    selection = [k for k in graph.get_all_asset_keys() if k.path[0] in ("marts", "staging", "config")]
    # The checks stay out, as in the floor: the two then run the same SQL.
    marts = dg.define_asset_job("bench_marts", selection=dg.AssetSelection.assets(*selection).without_checks())
    job = dg.Definitions.merge(defs, dg.Definitions(jobs=[marts])).resolve_job_def("bench_marts")
    started = time.perf_counter()
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=True)
    seconds = time.perf_counter() - started
    modes: dict[str, int] = {}
    for event in result.get_asset_materialization_events():
        entry = event.materialization.metadata.get("build_mode")
        if entry is not None:
            modes[entry.value] = modes.get(entry.value, 0) + 1
    return {"seconds": seconds, "success": result.success, "assets": len(selection), "modes": modes}


def _append_session(db: Path, n: int, years: int) -> dict:
    """The next session for every ticker through the loader, as the daily ingest writes it."""
    from bench import workload
    from warehouse import calendar
    from warehouse.db import connect
    from warehouse.load import upsert
    from warehouse.prices import PRICES

    with connect(db) as conn:
        last = conn.execute("select max(trade_date) from core.prices_daily").fetchall()[0][0]
    day = calendar.shift_sessions(last, 1)
    table = workload.next_session_bars(n, years, day)
    with connect(db) as conn:
        started = time.perf_counter()
        upsert(conn, PRICES, table, source="sample", run_id="bench-incremental")
        seconds = time.perf_counter() - started
    return {"load_seconds": seconds, "new_rows": table.num_rows, "day": str(day)}


def incremental(db: Path, n: int, years: int) -> dict:
    """One more session, then the daily update of every mart through Dagster."""
    load = _append_session(db, n, years)
    build = dagster_build(db)
    return {"seconds": load["load_seconds"] + build["seconds"], "build_seconds": build["seconds"],
            "modes": build["modes"], **load}


def incremental_sql(db: Path, n: int, years: int) -> dict:
    """One more session, then every model's update in plain DuckDB (the incremental floor)."""
    from warehouse import models as sql_models
    from warehouse.db import connect

    load = _append_session(db, n, years)
    params, ordered = _models()
    catalog = {m.relation: m for m in ordered}
    per_model, modes = {}, {}
    with connect(db) as conn:
        started = time.perf_counter()
        for model in ordered:
            t = time.perf_counter()
            result = sql_models.build(conn, model, params, catalog=catalog)
            per_model[model.name] = time.perf_counter() - t
            modes[model.name] = result.mode
        build_seconds = time.perf_counter() - started
    return {"seconds": load["load_seconds"] + build_seconds, "build_seconds": build_seconds,
            "per_model": per_model, "modes": modes, **load}


def pandas_metrics(db: Path) -> dict:
    """Breadth and relative strength as a user would write them in pandas, for comparison."""
    import duckdb
    import pandas as pd

    with duckdb.connect(str(db), read_only=True) as conn:
        started = time.perf_counter()
        prices = conn.execute("select ticker, trade_date, close, adj_close from core.prices_daily").df()
        read_seconds = time.perf_counter() - started
    started = time.perf_counter()
    close = prices.pivot(index="trade_date", columns="ticker", values="close").sort_index()
    adj = prices.pivot(index="trade_date", columns="ticker", values="adj_close").sort_index()
    members = [c for c in close.columns if c.startswith("M")]
    sma50 = close[members].rolling(50).mean()
    sma200 = close[members].rolling(200).mean()
    change = adj[members].pct_change()
    breadth = pd.DataFrame({
        "share_advancing": (change > 0).sum(axis=1) / change.notna().sum(axis=1),
        "share_above_sma50": (close[members] > sma50).sum(axis=1) / sma50.notna().sum(axis=1),
        "share_above_sma200": (close[members] > sma200).sum(axis=1) / sma200.notna().sum(axis=1),
    })
    rs = {}
    for small, large in [("^RUT", "^GSPC"), ("IWM", "SPY"), ("IWM", "QQQ"), ("IJR", "SPY"), ("RSP", "SPY")]:
        pair = adj[[small, large]].dropna()
        ratio = pair[small] / pair[large]
        rs[f"{small}/{large}"] = pd.DataFrame({
            "rs": ratio, "rs_sma50": ratio.rolling(50).mean(), "rs_sma200": ratio.rolling(200).mean(),
            "excess_63d": (pair[small] / pair[small].shift(63)) / (pair[large] / pair[large].shift(63)) - 1,
        })
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "read_seconds": read_seconds, "breadth_rows": len(breadth),
            "rs_rows": sum(len(v) for v in rs.values())}


PHASES = {"load": load, "floor": floor, "dagster": dagster_build, "incremental": incremental,
          "incremental_sql": incremental_sql, "pandas": pandas_metrics}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("phase", choices=PHASES)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--tickers", type=int, default=3000)
    parser.add_argument("--years", type=int, default=30)
    args = parser.parse_args()
    fn = PHASES[args.phase]
    kwargs = {"db": args.db}
    if args.phase in ("load", "incremental", "incremental_sql"):
        kwargs |= {"n": args.tickers, "years": args.years}
    out = fn(**kwargs)
    out["pid"] = os.getpid()
    print("BENCH " + json.dumps(out, default=str))


if __name__ == "__main__":
    main()
