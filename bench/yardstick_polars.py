"""The heavy models in polars: the yardstick `make bench` times their SQL full builds against.

    python -m bench.yardstick_polars --db warehouse.duckdb   # after the SQL built the models

For staging.returns_daily, marts.period_returns, marts.highs_drawdowns, marts.breadth and
marts.relative_strength this computes the same columns as the model's SQL (sql/), from the same
input tables read out of the warehouse, with the same NULL rules and the same windows (counted in
each ticker's, or pair's, own rows). It then writes its frames beside the SQL's tables (schema
`yardstick`) and compares them row for row: keys, counts, booleans and NULL patterns exactly,
every double exactly too except the few summed over a window in floating point here (the SQL sums
those exactly), which may differ by floating-point summation order only (`TOLERANT`). Any other
difference raises `YardstickMismatch`: a yardstick that computes something else times nothing.

Reading the inputs into polars, computing, and writing the results back are timed apart; the
ratio the benchmark reports is the SQL's full build against the compute alone. The compute ends
with the rows in the order the full build stores them (by date), because the SQL's time includes
that sort too.

Bench-only: polars is the `bench` extra (pyproject.toml); nothing in warehouse/ or pipelines/
imports this module, and the SQL stays the one definition of every metric.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

MODELS = ("returns_daily", "period_returns", "highs_drawdowns", "breadth", "relative_strength")

# Window sums the SQL takes exactly and this yardstick in floating point: they agree to about
# 1e-15 relative; 1e-9 (relative, absolute below 1) leaves room for cancellation in corr and beta.
TOLERANCE = 1e-9
# Breadth compares closes with their window averages in integer units of 1e-8, as its SQL does.
CLOSE_SCALE = 100_000_000


class YardstickMismatch(AssertionError):
    """The polars frame is not the SQL's table."""


# -- helpers: every frame is sorted by (partition, date), so a shift or a rolling window over the
# whole column stays inside one partition wherever `pos` (the row's place in its partition) says
# the window is full.


def _sorted(df: pl.DataFrame, part: str) -> pl.DataFrame:
    """Rows grouped by `part` (in no particular order of its values), by date within it."""
    # One int64 key sorts several times faster than polars' (string, date) sort; the partitions'
    # own order does not matter, only that each is contiguous and in date order.
    code = pl.col(part).cast(pl.Categorical).to_physical().cast(pl.Int64)
    return df.sort(code * 2**32 + pl.col("trade_date").cast(pl.Int64))


def _positions(part: str) -> pl.Expr:
    start = (pl.col(part) != pl.col(part).shift(1)).fill_null(True)
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    return index - pl.when(start).then(index).forward_fill()


def _lag(column: str, n: int) -> pl.Expr:
    """The partition's own row n rows earlier; NULL with fewer than n earlier rows."""
    return pl.when(pl.col("pos") >= n).then(pl.col(column).shift(n))


def _full(expr: pl.Expr, rows: int) -> pl.Expr:
    """A rolling value over `rows` rows, only where all of them are the partition's own."""
    return pl.when(pl.col("pos") >= rows - 1).then(expr)


# -- the models


def returns_daily(prices: pl.DataFrame) -> pl.DataFrame:
    df = _sorted(prices, "ticker").with_columns(pos=_positions("ticker"))
    return (
        df.select("ticker", "trade_date", "close", "adj_close", ret_1d=pl.col("adj_close") / _lag("adj_close", 1) - 1)
        .sort("trade_date", maintain_order=True)
    )


def period_returns(returns: pl.DataFrame) -> pl.DataFrame:
    df = _sorted(returns.select("ticker", "trade_date", "close", "adj_close"), "ticker")
    df = df.with_columns(pos=_positions("ticker"))
    trailing = {f"ret_{n}d": pl.col("adj_close") / _lag("adj_close", n) - 1 for n in (5, 21, 63, 126, 252)}
    # A period's base is the ticker's last row before the period's first row: the previous row
    # where the period changes, carried over the rest of the period.
    previous = _lag("adj_close", 1)
    periods = {"wtd": "1w", "mtd": "1mo", "qtd": "1q", "ytd": "1y"}
    bases = {}
    for name, every in periods.items():
        start = pl.col("trade_date").dt.truncate(every)
        changed = (pl.col("pos") == 0) | (start != start.shift(1))
        # NaN (never a stored price) marks "no base" so a plain forward fill cannot carry the
        # previous ticker's base into a ticker's first period
        bases[f"base_{name}"] = pl.when(changed).then(previous.fill_null(float("nan")))
    df = df.with_columns(**trailing, **bases)
    return df.select(
        "ticker",
        "trade_date",
        "close",
        "adj_close",
        *trailing,
        **{
            f"ret_{name}": pl.col("adj_close") / pl.col(f"base_{name}").forward_fill().fill_nan(None) - 1
            for name in periods
        },
    ).sort("trade_date", maintain_order=True)


def highs_drawdowns(returns: pl.DataFrame, high_window: int, extreme_day_window: int) -> pl.DataFrame:
    df = _sorted(returns.select("ticker", "trade_date", "close", "ret_1d"), "ticker")
    df = df.with_columns(pos=_positions("ticker"), record_close=pl.col("close").cum_max().over("ticker"))
    previous_record = _lag("record_close", 1)
    df = df.with_columns(is_record_high=(pl.col("close") > previous_record).fill_null(False))
    extreme_min = _full(pl.col("ret_1d").rolling_min(extreme_day_window), extreme_day_window)
    extreme_max = _full(pl.col("ret_1d").rolling_max(extreme_day_window), extreme_day_window)
    return df.select(
        "ticker",
        "trade_date",
        "close",
        "is_record_high",
        last_record_date=pl.when(pl.col("is_record_high")).then(pl.col("trade_date")).forward_fill().over("ticker"),
        record_close="record_close",
        high_252d=_full(pl.col("close").rolling_max(high_window), high_window),
        pct_from_record=pl.col("close") / pl.col("record_close") - 1,
        is_worst_day_126d=pl.col("ret_1d") == extreme_min,
        is_best_day_126d=pl.col("ret_1d") == extreme_max,
    ).sort("trade_date", maintain_order=True)


def breadth(returns: pl.DataFrame, groups: pl.DataFrame, sma_short: int, sma_long: int, high_window: int
            ) -> pl.DataFrame:
    members = groups.select("group_name", "ticker").unique()
    bars = _sorted(
        returns.select("ticker", "trade_date", "close", "ret_1d").filter(
            pl.col("ticker").is_in(members["ticker"].implode())
        ),
        "ticker",
    )
    scaled = (pl.col("close") * CLOSE_SCALE).round(0, mode="half_to_even").cast(pl.Int64)
    bars = bars.with_columns(pos=_positions("ticker"), close_e8=scaled)
    # int64 holds a window sum of the bench's closes (the SQL sums in hugeint and needs no bound)
    assert bars["close_e8"].max() * max(sma_short, sma_long) < 2**62, "closes too large for int64 window sums"

    def above(rows: int) -> pl.Expr:
        return _full(pl.col("close_e8") * rows > pl.col("close_e8").rolling_sum(rows), rows)

    flags = bars.select(
        "ticker",
        "trade_date",
        "ret_1d",
        above_short=above(sma_short),
        above_long=above(sma_long),
        new_high=_full(pl.col("close") >= pl.col("close").rolling_max(high_window), high_window),
        new_low=_full(pl.col("close") <= pl.col("close").rolling_min(high_window), high_window),
    )

    def share(flag: str) -> pl.Expr:
        return pl.col(flag).sum() / pl.when(pl.col(flag).count() > 0).then(pl.col(flag).count())

    daily = (
        flags.join(members, on="ticker")
        .group_by("group_name", "trade_date")
        .agg(
            members=pl.len().cast(pl.Int64),
            advancers=(pl.col("ret_1d") > 0).sum().cast(pl.Int64),
            decliners=(pl.col("ret_1d") < 0).sum().cast(pl.Int64),
            with_return=pl.col("ret_1d").count(),
            share_above_sma50=share("above_short"),
            share_above_sma200=share("above_long"),
            new_highs_252d=pl.col("new_high").sum().cast(pl.Int64),
            new_lows_252d=pl.col("new_low").sum().cast(pl.Int64),
        )
        .sort("group_name", "trade_date")
    )
    return daily.select(
        "group_name",
        "trade_date",
        "members",
        "advancers",
        "decliners",
        share_advancing=pl.col("advancers") / pl.when(pl.col("with_return") > 0).then(pl.col("with_return")),
        share_above_sma50="share_above_sma50",
        share_above_sma200="share_above_sma200",
        new_highs_252d="new_highs_252d",
        new_lows_252d="new_lows_252d",
        ad_line=(pl.col("advancers") - pl.col("decliners")).cum_sum().over("group_name"),
    ).sort("trade_date", maintain_order=True)


def relative_strength(sessions: pl.DataFrame, rs_sma_short: int, rs_sma_long: int, corr_window: int
                      ) -> pl.DataFrame:
    df = _sorted(sessions, "pair").with_columns(
        pos=_positions("pair"), rs=pl.col("small_adj_close") / pl.col("large_adj_close")
    )
    excess = {
        f"excess_{n}d": (pl.col("small_adj_close") / _lag("small_adj_close", n))
        / (pl.col("large_adj_close") / _lag("large_adj_close", n))
        - 1
        for n in (21, 63, 126, 252)
    }
    x, y = pl.col("small_ret"), pl.col("large_ret")
    both = x.is_not_null() & y.is_not_null()
    x0, y0 = x.fill_null(0), y.fill_null(0)  # SQL sums skip NULLs
    w = corr_window
    df = df.with_columns(
        **excess,
        rs_index=100 * pl.col("rs") / pl.col("rs").first().over("pair"),
        rs_sma50=_full(pl.col("rs").rolling_mean(rs_sma_short), rs_sma_short),
        rs_sma200=_full(pl.col("rs").rolling_mean(rs_sma_long), rs_sma_long),
        corr_n=_full(both.cast(pl.Int64).rolling_sum(w), w),
        sum_x=x0.rolling_sum(w),
        sum_y=y0.rolling_sum(w),
        sum_xy=(x0 * y0).rolling_sum(w),
        sum_xx=(x0 * x0).rolling_sum(w),
        sum_yy=(y0 * y0).rolling_sum(w),
    )
    n = pl.col("corr_n")
    df = df.with_columns(
        co=n * pl.col("sum_xy") - pl.col("sum_x") * pl.col("sum_y"),
        small_m=n * pl.col("sum_xx") - pl.col("sum_x") ** 2,
        large_m=n * pl.col("sum_yy") - pl.col("sum_y") ** 2,
    )
    full = n == w
    # The SQL's exact moment is 0 exactly when the side did not move; a floating-point rolling sum
    # leaves crumbs there, so the yardstick asks the window itself.
    small_moves = x0.rolling_max(w) != x0.rolling_min(w)
    large_moves = y0.rolling_max(w) != y0.rolling_min(w)
    nonzero_small = pl.when(small_moves).then(pl.col("small_m"))
    nonzero_large = pl.when(large_moves).then(pl.col("large_m"))
    return df.select(
        "pair",
        "small",
        "large",
        "trade_date",
        "rs",
        "rs_index",
        "rs_sma50",
        "rs_sma200",
        *excess,
        corr_63d=pl.when(full).then(pl.col("co") / (nonzero_small * nonzero_large).sqrt()),
        beta_63d=pl.when(full).then(pl.col("co") / nonzero_large),
    ).sort("trade_date", maintain_order=True)


# -- running them against the warehouse


@dataclass(frozen=True)
class Spec:
    relation: str  # the SQL's table
    inputs: dict[str, str]  # argument name -> the query that reads it
    compute: Callable[..., pl.DataFrame]
    params: tuple[str, ...]  # config/models.toml parameters passed on, in order
    keys: tuple[str, ...]
    tolerant: tuple[str, ...] = ()  # doubles summed over a window in floating point here


RETURNS = "select ticker, trade_date, close, adj_close, ret_1d from staging.returns_daily"
SPECS = {
    "returns_daily": Spec(
        "staging.returns_daily",
        {"prices": "select ticker, trade_date, close, adj_close from core.prices_daily"},
        returns_daily, (), ("ticker", "trade_date"),
    ),
    "period_returns": Spec("marts.period_returns", {"returns": RETURNS}, period_returns, (), ("ticker", "trade_date")),
    "highs_drawdowns": Spec(
        "marts.highs_drawdowns", {"returns": RETURNS}, highs_drawdowns, ("high_window", "extreme_day_window"),
        ("ticker", "trade_date"),
    ),
    "breadth": Spec(
        "marts.breadth",
        {"returns": RETURNS, "groups": "select group_name, ticker from config.breadth_groups"},
        breadth, ("breadth_sma_short", "breadth_sma_long", "breadth_high_window"), ("group_name", "trade_date"),
    ),
    "relative_strength": Spec(
        "marts.relative_strength",
        {"sessions": "select * from staging.pair_sessions"},
        relative_strength, ("rs_sma_short", "rs_sma_long", "corr_window"), ("pair", "trade_date"),
        tolerant=("rs_sma50", "rs_sma200", "corr_63d", "beta_63d"),
    ),
}


def compare(conn: duckdb.DuckDBPyConnection, spec: Spec, ours: str) -> None:
    """Raise unless `ours` holds exactly the SQL table's rows (see the module's docstring)."""
    theirs = spec.relation
    sql_cols = [r[0] for r in conn.execute(f"describe {theirs}").fetchall()]
    our_cols = [r[0] for r in conn.execute(f"describe {ours}").fetchall()]
    if sql_cols != our_cols:
        raise YardstickMismatch(f"{theirs}: columns {sql_cols}, the yardstick's {our_cols}")
    on = " and ".join(f"s.{k} = p.{k}" for k in spec.keys)
    checks = []
    for col in sql_cols:
        if col in spec.keys:
            continue
        if col in spec.tolerant:
            checks.append(
                f"((s.{col} is null) <> (p.{col} is null)"
                f" or abs(s.{col} - p.{col}) > {TOLERANCE} * greatest(1, abs(s.{col})))"
            )
        else:
            checks.append(f"s.{col} is distinct from p.{col}")
    differ = " or ".join(checks) or "false"
    query = f"""
        select s.{spec.keys[0]} is null as missing_in_sql, p.{spec.keys[0]} is null as missing_in_yardstick,
               {", ".join(f"s.{c} as sql_{c}, p.{c} as yardstick_{c}" for c in sql_cols)}
        from {theirs} as s
        full outer join {ours} as p on {on}
        where s.{spec.keys[0]} is null or p.{spec.keys[0]} is null or {differ}
    """
    count = conn.execute(f"select count(*) from ({query})").fetchall()[0][0]
    if count:
        sample = conn.execute(f"{query} limit 5").df().T.to_string()
        raise YardstickMismatch(f"{theirs}: {count:,} rows differ from the polars yardstick; first ones:\n{sample}")
    dupes = conn.execute(
        f"select count(*) - count(distinct ({', '.join(spec.keys)})) from {ours}"
    ).fetchall()[0][0]
    if dupes:
        raise YardstickMismatch(f"{ours}: {dupes} repeated keys")


def run_model(conn: duckdb.DuckDBPyConnection, name: str, params: dict, check: bool = True) -> dict:
    """Read, compute, write and compare one model; the three timings in seconds."""
    spec = SPECS[name]
    started = time.perf_counter()
    frames = {arg: conn.sql(query).pl() for arg, query in spec.inputs.items()}
    read = time.perf_counter() - started
    started = time.perf_counter()
    result = spec.compute(*frames.values(), *(int(params[p]) for p in spec.params))
    compute = time.perf_counter() - started
    ours = f"yardstick.{name}"
    started = time.perf_counter()
    conn.execute("create schema if not exists yardstick")
    conn.register("_yardstick_result", result)
    conn.execute(f"create or replace table {ours} as select * from _yardstick_result")
    conn.unregister("_yardstick_result")
    write = time.perf_counter() - started
    if check:
        compare(conn, spec, ours)
    return {"read": read, "compute": compute, "write": write, "rows": result.height}


def run(db: Path, models: tuple[str, ...] = MODELS, params: dict | None = None) -> dict:
    """Every model in turn on the warehouse at `db`, whose SQL tables are built already."""
    from warehouse import models as sql_models
    from warehouse.db import connect

    params = params if params is not None else sql_models.load_params()
    per_model = {}
    with connect(db) as conn:
        # the first Arrow hand-over and polars' thread pool start once, not in the first model's time
        conn.sql("select 1 as x").pl().select(pl.col("x").sort())
        for name in models:
            per_model[name] = run_model(conn, name, params)
        conn.execute("drop schema if exists yardstick cascade")
    seconds = sum(m["compute"] for m in per_model.values())
    return {"seconds": seconds, "per_model": per_model, "polars": pl.__version__}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--models", default=",".join(MODELS))
    args, _ = parser.parse_known_args(argv)  # bench.run passes the phases' size arguments too
    out = run(args.db, tuple(args.models.split(",")))
    out["pid"] = os.getpid()
    print("BENCH " + json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
