"""The polars yardstick computes exactly the heavy models' tables, on a small awkward warehouse.

The bench's own data is regular (every ticker every session); here some tickers list late, skip
sessions or stay flat for months, so that ties (a flat close equal to its average, a repeated
record close), short histories and a flat side of a pair (no variance: NULL corr and beta) are
all compared row for row. No timing is asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

pl = pytest.importorskip("polars", reason="the bench extra: pip install -e '.[bench]'")

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # bench/ is not an installed package
    sys.path.insert(0, str(ROOT))

from bench import workload, yardstick_polars  # noqa: E402

N_TICKERS, YEARS = 14, 2


def awkward_bars(n: int, years: int) -> pa.Table:
    bars = workload.generate(n, years)
    dates = sorted(set(bars["trade_date"].to_pylist()))
    ticker, day = bars["ticker"], bars["trade_date"]
    # M0001 lists a year late; M0002 misses a long stretch and every 7th session
    drop = pc.or_(
        pc.and_(pc.equal(ticker, "M0001"), pc.less(day, pa.scalar(dates[250], pa.date32()))),
        pc.and_(
            pc.equal(ticker, "M0002"),
            pc.or_(
                pc.and_(pc.greater_equal(day, pa.scalar(dates[100], pa.date32())),
                        pc.less(day, pa.scalar(dates[160], pa.date32()))),
                pc.is_in(day, pa.array(dates[::7], pa.date32())),
            ),
        ),
    )
    bars = bars.filter(pc.invert(drop))
    # M0003 and SPY stay flat for 80 sessions: closes tie with their averages, highs and records
    flat = pc.and_(
        pc.is_in(bars["ticker"], pa.array(["M0003", "SPY"])),
        pc.and_(pc.greater_equal(bars["trade_date"], pa.scalar(dates[300], pa.date32())),
                pc.less(bars["trade_date"], pa.scalar(dates[380], pa.date32()))),
    )
    level = pa.scalar(123.25, pa.float64())
    for name in ("open", "high", "low", "close", "adj_close"):
        column = bars[name]
        bars = bars.set_column(bars.schema.get_field_index(name), name, pc.if_else(flat, level, column))
    return bars


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    folder = tmp_path_factory.mktemp("yardstick")
    config = workload.write_config(folder / "config", N_TICKERS)
    mp = pytest.MonkeyPatch()
    mp.setenv("ROTATION_CONFIG_DIR", str(config))
    mp.setenv("ROTATION_SOURCE", "sample")
    from warehouse import models as sql_models
    from warehouse.db import connect, ensure_schema
    from warehouse.load import upsert
    from warehouse.prices import PRICES
    from warehouse.universe import load_universe

    db = folder / "bench.duckdb"
    params = sql_models.load_params()
    wanted = {f"{layer}.{name}" for layer, name in (
        ("staging", "returns_daily"), ("staging", "pair_sessions"), ("marts", "period_returns"),
        ("marts", "highs_drawdowns"), ("marts", "breadth"), ("marts", "relative_strength"))}
    with connect(db) as conn:
        ensure_schema(conn)
        upsert(conn, PRICES, awkward_bars(N_TICKERS, YEARS), source="sample", run_id="test")
        sql_models.write_config_tables(conn, load_universe(), params)
        # only these models: the others are not the yardstick's, and their files change independently
        chosen = [sql_models.parse_model(ROOT / "sql" / layer / f"{name}.sql", layer)
                  for layer, name in (rel.split(".") for rel in sorted(wanted))]
        for model in sql_models.in_build_order(chosen, params):
            layer = model.layer
            conn.execute(f"create schema if not exists {layer}")
            conn.execute(f"create or replace table {model.relation} as {sql_models.full_build_sql(model, params)}")
    yield db, params
    mp.undo()


def test_every_heavy_model_matches_its_sql_on_every_row(warehouse):
    db, params = warehouse
    result = yardstick_polars.run(db, params=params)
    assert set(result["per_model"]) == set(yardstick_polars.MODELS)
    for name, timing in result["per_model"].items():
        assert timing["rows"] > 0, name
        assert min(timing["read"], timing["compute"], timing["write"]) >= 0


def test_the_awkward_cases_are_in_the_data(warehouse):
    """The ties and NULLs the comparison is meant to cover really occur."""
    db, _ = warehouse
    import duckdb

    with duckdb.connect(str(db), read_only=True) as conn:
        one = conn.execute
        # a flat run: its close equals its own 50-session average, so it is not above it
        flat = one("select count(*) from staging.returns_daily where ticker = 'M0003' and ret_1d = 0").fetchall()
        assert flat[0][0] > 50
        # no variance on the flat side of a pair: NULL corr and beta although the window is full
        assert one("select count(*) from marts.relative_strength where large = 'SPY' and corr_63d is null "
                   "and excess_63d is not null and trade_date > (select min(trade_date) + 200 "
                   "from marts.relative_strength)").fetchall()[0][0] > 0
        # a late listing: windows fill up later than the others'
        first = one("select min(trade_date) from marts.highs_drawdowns where ticker = 'M0001'").fetchall()[0][0]
        assert first > one("select min(trade_date) from marts.highs_drawdowns").fetchall()[0][0]


def test_a_difference_is_refused_with_the_rows(warehouse):
    db, params = warehouse
    import duckdb

    with duckdb.connect(str(db)) as conn:
        conn.execute("create or replace table marts.breadth_saved as select * from marts.breadth")
        conn.execute("update marts.breadth set new_highs_252d = new_highs_252d + 1 "
                     "where trade_date = (select max(trade_date) from marts.breadth)")
        try:
            with pytest.raises(yardstick_polars.YardstickMismatch, match="marts.breadth: 2 rows differ"):
                yardstick_polars.run_model(conn, "breadth", params)
        finally:
            conn.execute("create or replace table marts.breadth as select * from marts.breadth_saved")
            conn.execute("drop table marts.breadth_saved")
