"""The price marts: period_returns, relative_strength, outperformance_streaks, highs_drawdowns.

Every expected value is worked out here independently of the SQL: by hand for the short series,
and with a plain pandas / numpy / python-loop computation for the longer random ones.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.model_harness import insert_prices, rows, run_models, small_universe
from warehouse import models as sql_models
from warehouse.db import ensure_schema

MINE = ("period_returns", "relative_strength", "outperformance_streaks", "highs_drawdowns")
D = dt.date.fromisoformat


def sessions(n: int, start: str = "2024-01-02") -> list[dt.date]:
    return [d.date() for d in pd.bdate_range(start, periods=n)]


def random_walk(n: int, seed: int, start: float = 100.0) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(start * np.cumprod(1 + rng.normal(0.0003, 0.012, n)))


def frame(conn, relation: str, where: str = "", order: str = "trade_date") -> pd.DataFrame:
    return conn.execute(f"select * from {relation} {where} order by {order}").df()


def approx_or_none(got, expected):
    if expected is None:
        return got is None or (isinstance(got, float) and math.isnan(got))
    return got is not None and not math.isnan(got) and got == pytest.approx(expected, rel=1e-12)


def assert_column(got, expected, name):
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        g = None if g is None or (isinstance(g, float) and math.isnan(g)) else g
        assert approx_or_none(g, e), f"{name}[{i}]: got {g}, expected {e}"


# ---------------------------------------------------------------------------------------------
# the model files themselves


def test_my_models_declare_the_types_they_build(conn):
    insert_prices(conn, [("IWM", "2024-01-02", 10.0), ("SPY", "2024-01-02", 20.0)])
    run_models(conn, "returns_daily", *MINE)
    found = {m.name: m for m in sql_models.discover()}
    params = sql_models.load_params()
    for name in MINE:
        model = found[name]
        built = sql_models.column_types(conn, model.relation)
        assert built == model.column_types, name
        assert model.date_column == "trade_date"
    # Per-ticker models read the daily returns; pair models read the pair's common sessions,
    # which come from the daily returns and config.pairs.
    for name in ("period_returns", "highs_drawdowns"):
        assert "staging.returns_daily" in found[name].dependencies(params), name
    for name in ("relative_strength", "outperformance_streaks"):
        assert found[name].dependencies(params) == {"staging.pair_sessions"}, name
    assert found["pair_sessions"].dependencies(params) == {"config.pairs", "staging.returns_daily"}


# ---------------------------------------------------------------------------------------------
# period_returns


def test_trailing_returns_use_adj_close_and_count_own_rows(conn):
    days = sessions(300)
    # IWM skips every 7th weekday: ret_Nd counts the ticker's own rows, not calendar sessions
    iwm_days = [d for i, d in enumerate(days) if i % 7 != 3]
    adj = random_walk(len(iwm_days), seed=1)
    insert_prices(conn, [("IWM", d, 2 * a + 1, a) for d, a in zip(iwm_days, adj, strict=True)])
    spy = random_walk(30, seed=2)
    insert_prices(conn, [("SPY", d, c, c) for d, c in zip(days[:30], spy, strict=True)])
    run_models(conn, "returns_daily", "period_returns")

    got = frame(conn, "marts.period_returns", "where ticker = 'IWM'")
    assert list(got.trade_date.dt.date) == iwm_days
    assert list(got.close) == [2 * a + 1 for a in adj]
    for n in (5, 21, 63, 126, 252):
        expected = [None if i < n else adj[i] / adj[i - n] - 1 for i in range(len(adj))]
        assert_column(got[f"ret_{n}d"].tolist(), expected, f"ret_{n}d")

    # SPY has 30 rows: only ret_5d and ret_21d ever fill, from its own rows
    spy_got = frame(conn, "marts.period_returns", "where ticker = 'SPY'")
    assert spy_got.ret_5d.isna().sum() == 5 and spy_got.ret_21d.isna().sum() == 21
    assert spy_got[["ret_63d", "ret_126d", "ret_252d"]].isna().all().all()
    assert spy_got.ret_5d.iloc[5] == pytest.approx(spy[5] / spy[0] - 1)


def test_period_to_date_returns_across_boundaries_and_the_new_year_holiday(conn):
    # adj closes (close is 10x, to show adj_close is what counts)
    data = {
        "2024-09-30": 90.0,   # Mon, last session of Q3
        "2024-10-01": 91.0,   # Tue, first of Q4 and of October, same ISO week as 09-30
        "2024-11-29": 95.0,   # Fri, last of November
        "2024-12-02": 96.0,   # Mon, first of December
        "2024-12-27": 98.0,   # Fri
        "2024-12-30": 99.0,   # Mon: its ISO week runs to Sun 2025-01-05
        "2024-12-31": 100.0,  # Tue, last of 2024
        # 2025-01-01 is a holiday: no row
        "2025-01-02": 102.0,  # Thu, first of 2025, still the week of 12-30
        "2025-01-03": 101.0,  # Fri
        "2025-01-06": 104.0,  # Mon, a new week
        # no rows in February or March: the base for April is the last stored row, 01-06
        "2025-04-01": 110.0,  # Tue
    }
    insert_prices(conn, [("IWM", d, 10 * a, a) for d, a in data.items()])
    insert_prices(conn, [("SPY", "2024-12-31", 50.0), ("SPY", "2025-01-02", 55.0)])
    run_models(conn, "returns_daily", "period_returns")
    got = {
        (t, str(d)): (wtd, mtd, qtd, ytd)
        for t, d, wtd, mtd, qtd, ytd in rows(
            conn, "select ticker, trade_date, ret_wtd, ret_mtd, ret_qtd, ret_ytd "
                  "from marts.period_returns")
    }
    n = None
    expected = {  # (wtd, mtd, qtd, ytd), worked out by hand
        "2024-09-30": (n, n, n, n),  # nothing stored before
        "2024-10-01": (n, 91 / 90 - 1, 91 / 90 - 1, n),  # its week began 09-30: nothing before
        "2024-11-29": (95 / 91 - 1, 95 / 91 - 1, 95 / 90 - 1, n),
        "2024-12-02": (96 / 95 - 1, 96 / 95 - 1, 96 / 90 - 1, n),
        "2024-12-27": (98 / 96 - 1, 98 / 95 - 1, 98 / 90 - 1, n),
        "2024-12-30": (99 / 98 - 1, 99 / 95 - 1, 99 / 90 - 1, n),
        "2024-12-31": (100 / 98 - 1, 100 / 95 - 1, 100 / 90 - 1, n),
        "2025-01-02": (102 / 98 - 1, 102 / 100 - 1, 102 / 100 - 1, 102 / 100 - 1),
        "2025-01-03": (101 / 98 - 1, 101 / 100 - 1, 101 / 100 - 1, 101 / 100 - 1),
        "2025-01-06": (104 / 101 - 1, 104 / 100 - 1, 104 / 100 - 1, 104 / 100 - 1),
        "2025-04-01": (110 / 104 - 1, 110 / 104 - 1, 110 / 104 - 1, 110 / 100 - 1),
    }
    for day, values in expected.items():
        for name, g, e in zip(("wtd", "mtd", "qtd", "ytd"), got[("IWM", day)], values, strict=True):
            assert approx_or_none(g, e), f"{day} ret_{name}: got {g}, expected {e}"
    # SPY is its own ticker: its 2024-12-31 has no earlier rows, its 2025-01-02 ytd is 55/50
    assert got[("SPY", "2024-12-31")] == (None, None, None, None)
    assert got[("SPY", "2025-01-02")][3] == pytest.approx(0.1)


def _period_start(day: dt.date, period: str) -> dt.date:
    if period == "wtd":
        return day - dt.timedelta(days=day.weekday())
    if period == "mtd":
        return day.replace(day=1)
    if period == "qtd":
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return dt.date(day.year, 1, 1)


def test_period_to_date_returns_match_a_python_lookup_on_a_ragged_calendar(conn):
    rng = np.random.default_rng(7)
    all_days = [d.date() for d in pd.date_range("2022-11-20", "2025-02-10")]
    # random days kept (weekends too), with a whole missing month
    days = [d for d in all_days if rng.random() < 0.5 and not (d.year == 2023 and d.month == 6)]
    adj = random_walk(len(days), seed=8)
    insert_prices(conn, [("IWM", d, a, a) for d, a in zip(days, adj, strict=True)])
    run_models(conn, "returns_daily", "period_returns")
    got = frame(conn, "marts.period_returns")
    for period in ("wtd", "mtd", "qtd", "ytd"):
        expected = []
        for day, a in zip(days, adj, strict=True):
            i = bisect.bisect_left(days, _period_start(day, period))  # rows strictly before
            expected.append(a / adj[i - 1] - 1 if i > 0 else None)
        assert_column(got[f"ret_{period}"].tolist(), expected, f"ret_{period}")


# ---------------------------------------------------------------------------------------------
# relative_strength


def test_relative_strength_on_common_dates_with_rs_index_and_short_smas(conn):
    insert_prices(conn, [
        # IWM: close is not what counts, adj_close is
        ("IWM", "2024-01-02", 1.0, 10.0), ("IWM", "2024-01-03", 1.0, 11.0),
        ("IWM", "2024-01-04", 1.0, 99.0),  # SPY has no row: not a common date
        ("IWM", "2024-01-05", 1.0, 12.0), ("IWM", "2024-01-08", 1.0, 9.0),
        ("IWM", "2024-01-09", 1.0, 15.0),
        ("SPY", "2024-01-02", 1.0, 20.0), ("SPY", "2024-01-03", 1.0, 20.0),
        ("SPY", "2024-01-05", 1.0, 24.0), ("SPY", "2024-01-08", 1.0, 18.0),
        ("SPY", "2024-01-09", 1.0, 20.0),
        ("SPY", "2024-01-10", 1.0, 21.0),  # IWM has no row
    ])
    run_models(conn, "returns_daily", "relative_strength", rs_sma_short=2, rs_sma_long=3)
    got = rows(conn, "select pair, small, large, trade_date, rs, rs_index, rs_sma50, rs_sma200 "
                     "from marts.relative_strength order by trade_date")
    assert [r[:3] for r in got] == [("IWM/SPY", "IWM", "SPY")] * 5
    assert [r[3] for r in got] == [D("2024-01-02"), D("2024-01-03"), D("2024-01-05"),
                                   D("2024-01-08"), D("2024-01-09")]
    rs = [0.5, 0.55, 0.5, 0.5, 0.75]
    assert_column([r[4] for r in got], rs, "rs")
    assert_column([r[5] for r in got], [100.0, 110.0, 100.0, 100.0, 150.0], "rs_index")
    assert_column([r[6] for r in got], [None, 0.525, 0.525, 0.5, 0.625], "rs_sma50 (2)")
    assert_column([r[7] for r in got], [None, None, 1.55 / 3, 1.55 / 3, 1.75 / 3], "rs_sma200 (3)")


def test_pairs_sharing_a_ticker_are_computed_separately(conn):
    insert_prices(conn, [
        ("IWM", "2024-01-02", 10.0), ("IWM", "2024-01-03", 12.0), ("IWM", "2024-01-04", 13.0),
        ("SPY", "2024-01-02", 20.0), ("SPY", "2024-01-04", 26.0),
        ("QQQ", "2024-01-03", 4.0), ("QQQ", "2024-01-04", 5.0),
    ])
    universe = small_universe(pairs=(("IWM", "SPY"), ("IWM", "QQQ")))
    run_models(conn, "returns_daily", "relative_strength", universe=universe)
    got = rows(conn, "select pair, trade_date, rs, rs_index from marts.relative_strength "
                     "order by pair, trade_date")
    assert got == [
        ("IWM/QQQ", D("2024-01-03"), 3.0, 100.0),
        ("IWM/QQQ", D("2024-01-04"), 2.6, pytest.approx(100 * 2.6 / 3)),
        ("IWM/SPY", D("2024-01-02"), 0.5, 100.0),
        ("IWM/SPY", D("2024-01-04"), 0.5, 100.0),
    ]


def _pair_series(n: int, seed: int):
    """IWM and SPY random walks on n + 2 sessions; each side misses one the other has."""
    days = sessions(n + 2)
    small, large = random_walk(n + 2, seed, 200.0), random_walk(n + 2, seed + 1, 400.0)
    only_small, only_large = days[10], days[40 if n > 40 else n - 1]
    rows_ = [("IWM", d, s, s) for d, s in zip(days, small, strict=True) if d != only_large]
    rows_ += [("SPY", d, x, x) for d, x in zip(days, large, strict=True) if d != only_small]
    common = [i for i, d in enumerate(days) if d not in (only_small, only_large)]
    return rows_, [days[i] for i in common], [small[i] for i in common], [large[i] for i in common]


def test_excess_returns_follow_the_formula_over_common_dates(conn):
    data, days, small, large = _pair_series(70, seed=3)
    insert_prices(conn, data)
    run_models(conn, "returns_daily", "relative_strength")
    got = frame(conn, "marts.relative_strength")
    assert list(got.trade_date.dt.date) == days
    for n in (21, 63):
        expected = []
        for i in range(len(days)):
            if i < n:
                expected.append(None)
                continue
            small_ret = small[i] / small[i - n] - 1
            large_ret = large[i] / large[i - n] - 1
            expected.append((1 + small_ret) / (1 + large_ret) - 1)
        assert_column(got[f"excess_{n}d"].tolist(), expected, f"excess_{n}d")
    # 70 common dates: the 126- and 252-date windows are never full
    assert got.excess_126d.isna().all() and got.excess_252d.isna().all()
    # defaults 50/200: the short SMA fills on the 50th common date, the long one never here
    assert got.rs_sma50.isna().sum() == 49 and got.rs_sma200.isna().all()
    rs = np.array(small) / np.array(large)
    assert got.rs_sma50.iloc[-1] == pytest.approx(rs[-50:].mean())


def test_corr_and_beta_match_numpy_on_a_70_session_random_series(conn):
    data, days, small, large = _pair_series(70, seed=11)
    insert_prices(conn, data)
    run_models(conn, "returns_daily", "relative_strength")
    got = frame(conn, "marts.relative_strength")
    assert len(got) == len(days) == 70
    # returns between consecutive common dates (two dates were dropped from the pair)
    s = np.array(small[1:]) / np.array(small[:-1]) - 1
    l_ = np.array(large[1:]) / np.array(large[:-1]) - 1
    window = 63
    for i in range(len(days)):
        corr, beta = got.corr_63d.iloc[i], got.beta_63d.iloc[i]
        if i < window:  # row i has i returns: the window of 63 fills on the 64th common date
            assert pd.isna(corr) and pd.isna(beta), i
            continue
        xs, ys = l_[i - window:i], s[i - window:i]
        assert len(xs) == window
        assert corr == pytest.approx(np.corrcoef(ys, xs)[0, 1], rel=1e-9)
        assert beta == pytest.approx(np.cov(ys, xs, ddof=1)[0, 1] / np.var(xs, ddof=1), rel=1e-9)


def test_corr_window_comes_from_config_and_a_flat_large_side_gives_null(conn):
    days = sessions(8)
    small = [10.0, 11.0, 10.5, 11.5, 12.0, 11.0, 12.5, 13.0]
    insert_prices(conn, [("IWM", d, s) for d, s in zip(days, small, strict=True)])
    insert_prices(conn, [("SPY", d, 50.0) for d in days[:4]])
    large = [50.0, 50.0, 50.0, 50.0, 51.0, 50.0, 52.0, 53.0]
    insert_prices(conn, [("QQQ", d, x) for d, x in zip(days, large, strict=True)])
    universe = small_universe(pairs=(("IWM", "SPY"), ("IWM", "QQQ")))
    run_models(conn, "returns_daily", "relative_strength", universe=universe, corr_window=3)
    flat = rows(conn, "select corr_63d, beta_63d from marts.relative_strength "
                      "where pair = 'IWM/SPY' order by trade_date")
    assert flat == [(None, None)] * 4  # SPY never moves: no beta, no NaN
    got = frame(conn, "marts.relative_strength", "where pair = 'IWM/QQQ'")
    s = np.diff(small) / small[:-1]
    l_ = np.diff(large) / large[:-1]
    assert got.beta_63d.iloc[:3].isna().all()
    # the first three windows of large returns are all zero: beta NULL there as well
    for i in range(3, 8):
        xs, ys = l_[i - 3:i], s[i - 3:i]
        if np.var(xs) == 0:
            assert pd.isna(got.beta_63d.iloc[i]) and pd.isna(got.corr_63d.iloc[i])
        else:
            assert got.beta_63d.iloc[i] == pytest.approx(np.cov(ys, xs)[0, 1] / np.var(xs, ddof=1))
            assert got.corr_63d.iloc[i] == pytest.approx(np.corrcoef(ys, xs)[0, 1])
    assert got.beta_63d.notna().sum() == 4  # the windows ending on rows 4..7 hold a move of QQQ


def test_relative_strength_headlines_name_the_latest_values(conn):
    data, days, small, large = _pair_series(70, seed=5)
    insert_prices(conn, data)
    insert_prices(conn, [(("^RUT" if t == "IWM" else "^GSPC"), d, c, a) for t, d, c, a in data])
    universe = small_universe(pairs=(("^RUT", "^GSPC"), ("IWM", "SPY")))
    result = run_models(conn, "returns_daily", "relative_strength", universe=universe)
    headline = result["relative_strength"].headline
    assert headline["iwm_spy_rs"] == pytest.approx(small[-1] / large[-1])
    assert headline["iwm_spy_rs_index"] == pytest.approx(
        100 * (small[-1] / large[-1]) / (small[0] / large[0]))
    assert headline["rut_gspc_excess_63d"] == pytest.approx(
        (small[-1] / small[-64]) / (large[-1] / large[-64]) - 1)
    assert result["relative_strength"].latest_date == days[-1]


# ---------------------------------------------------------------------------------------------
# outperformance_streaks


def test_a_streak_builds_resets_and_counts_only_common_dates(conn):
    days = sessions(10)
    # small, large adj closes; IWM alone on days[4] (skipped), SPY alone on days[9] (skipped)
    small = [100, 101, 103, 102, 500, 104, 106, 107, 108, None]
    large = [100, 100, 101, 103, None, 104, 105, 105, 109, 1]
    insert_prices(conn, [("IWM", d, 1.0, float(s)) for d, s in zip(days, small, strict=True)
                         if s is not None])
    insert_prices(conn, [("SPY", d, 1.0, float(x)) for d, x in zip(days, large, strict=True)
                         if x is not None])
    universe = small_universe(pairs=(("IWM", "SPY"),))
    result = run_models(conn, "returns_daily", "outperformance_streaks", universe=universe)
    got = rows(conn, "select trade_date, small_ret, large_ret, small_beats, streak "
                     "from marts.outperformance_streaks order by trade_date")
    assert [r[0] for r in got] == [d for i, d in enumerate(days) if i not in (4, 9)]
    # by hand, between common dates (days[5] against days[3]):
    # small: -, +1%, +1.98%, -0.97%, +1.96%, +1.92%, +0.94%, +0.93%
    # large: -, 0%,  +1%,    +1.98%, +0.97%, +0.96%, 0%,     +3.81%
    assert [r[3] for r in got] == [None, True, True, False, True, True, True, False]
    assert [r[4] for r in got] == [0, 1, 2, 0, 1, 2, 3, 0]
    assert got[4][1] == pytest.approx(104 / 102 - 1) and got[4][2] == pytest.approx(104 / 103 - 1)
    assert got[0][1] is None and got[0][2] is None
    assert result["outperformance_streaks"].headline["iwm_spy_streak"] == 0.0


def test_a_tie_is_not_a_win_and_the_headline_shows_the_current_streak(conn):
    days = sessions(5)
    insert_prices(conn, [("^RUT", d, c) for d, c in zip(days, [10, 11, 11, 12, 13], strict=True)])
    insert_prices(conn, [("^GSPC", d, c) for d, c in zip(days, [20, 20, 20, 20, 20], strict=True)])
    universe = small_universe(pairs=(("^RUT", "^GSPC"), ("IWM", "SPY")))
    result = run_models(conn, "returns_daily", "outperformance_streaks", universe=universe)
    got = rows(conn, "select small_beats, streak from marts.outperformance_streaks "
                     "order by trade_date")
    assert got == [(None, 0), (True, 1), (False, 0), (True, 1), (True, 2)]
    headline = result["outperformance_streaks"].headline
    assert headline == {"rut_gspc_streak": 2.0, "iwm_spy_streak": None}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    moves=st.lists(
        st.tuples(st.integers(-3, 3), st.integers(-3, 3), st.booleans(), st.booleans()),
        min_size=1, max_size=40,
    )
)
def test_streak_equals_a_python_loop(moves):
    # price steps of whole percents, so ties happen; either side may miss a session
    conn = duckdb.connect()
    ensure_schema(conn)
    days = sessions(len(moves))
    small_px, large_px = 100.0, 100.0
    data, common = [], []
    for day, (ds, dl, has_small, has_large) in zip(days, moves, strict=True):
        small_px *= 1 + ds / 100
        large_px *= 1 + dl / 100
        if has_small:
            data.append(("IWM", day, small_px))
        if has_large:
            data.append(("SPY", day, large_px))
        if has_small and has_large:
            common.append((day, small_px, large_px))
    if data:  # executemany refuses an empty list
        insert_prices(conn, data)
    run_models(conn, "returns_daily", "outperformance_streaks")
    got = rows(conn, "select trade_date, small_beats, streak from marts.outperformance_streaks "
                     "order by trade_date")
    expected, streak = [], 0
    for i, (day, s, l_) in enumerate(common):
        if i == 0:
            expected.append((day, None, 0))
            continue
        beats = s / common[i - 1][1] - 1 > l_ / common[i - 1][2] - 1
        streak = streak + 1 if beats else 0
        expected.append((day, beats, streak))
    assert got == expected
    conn.close()


# ---------------------------------------------------------------------------------------------
# highs_drawdowns


def test_record_highs_and_the_closes_after_them(conn):
    days = sessions(8)
    closes = [10.0, 9.0, 11.0, 10.5, 12.0, 12.0, 11.0, 12.5]
    # adj_close falls all the way: records are about close
    insert_prices(conn, [("^RUT", d, c, 100.0 - i) for i, (d, c) in
                         enumerate(zip(days, closes, strict=True))])
    result = run_models(conn, "returns_daily", "highs_drawdowns",
                        high_window=3, extreme_day_window=3)
    got = rows(conn, "select trade_date, close, is_record_high, last_record_date, record_close, "
                     "high_252d, pct_from_record from marts.highs_drawdowns order by trade_date")
    # the first row is no record; 12.0 again on days[5] is not *above* the record
    assert [r[2] for r in got] == [False, False, True, False, True, False, False, True]
    assert [r[3] for r in got] == [None, None, days[2], days[2], days[4], days[4], days[4], days[7]]
    assert [r[4] for r in got] == [10.0, 10.0, 11.0, 11.0, 12.0, 12.0, 12.0, 12.5]
    assert [r[5] for r in got] == [None, None, 11.0, 11.0, 12.0, 12.0, 12.0, 12.5]
    pct = [0.0, -0.1, 0.0, 10.5 / 11 - 1, 0.0, 0.0, 11 / 12 - 1, 0.0]
    assert_column([r[6] for r in got], pct, "pct_from_record")
    assert got[3][6] < 0  # the first close after the record is below it
    assert result["highs_drawdowns"].headline["rut_pct_from_record"] == 0.0


def test_best_and_worst_days_with_a_short_window(conn):
    days = sessions(7)
    closes = [100.0, 50.0, 100.0, 100.0, 200.0, 100.0, 101.0]
    # ret_1d (exact in binary): -, -50%, +100%, 0%, +100%, -50%, +1%
    insert_prices(conn, [("IWM", d, c) for d, c in zip(days, closes, strict=True)])
    run_models(conn, "returns_daily", "highs_drawdowns", extreme_day_window=3)
    got = rows(conn, "select is_worst_day_126d, is_best_day_126d from marts.highs_drawdowns "
                     "order by trade_date")
    # the window of three ret_1d is full from the fourth row (the first row has no ret_1d)
    assert got[:3] == [(None, None)] * 3
    assert got[3] == (False, False)  # 0% between -50% and +100%
    assert got[4] == (False, True)   # +100% ties the best of (+100%, 0%, +100%)
    assert got[5] == (True, False)   # -50% is the worst of (0%, +100%, -50%)
    assert got[6] == (False, False)


def test_highs_drawdowns_match_pandas_on_a_long_random_series(conn):
    n = 400
    days = sessions(n)
    closes = [round(c, 2) for c in random_walk(n, seed=21)]
    insert_prices(conn, [("IWM", d, c, c * 0.9) for d, c in zip(days, closes, strict=True)])
    insert_prices(conn, [("SPY", d, 100.0 + i) for i, d in enumerate(days[:100])])
    run_models(conn, "returns_daily", "highs_drawdowns")  # defaults: 252 and 126
    got = frame(conn, "marts.highs_drawdowns", "where ticker = 'IWM'")

    s = pd.Series(closes)
    ret = s / s.shift(1) - 1
    record = s.cummax()
    prior = s.shift(1).cummax()
    is_record = (s > prior).fillna(False)
    is_record.iloc[0] = False
    last_record, latest = [], None
    for day, rec in zip(days, is_record, strict=True):
        latest = day if rec else latest
        last_record.append(latest)
    assert got.is_record_high.tolist() == is_record.tolist()
    assert [None if pd.isna(x) else x.date() for x in got.last_record_date] == last_record
    assert got.record_close.tolist() == record.tolist()
    assert_column(got.pct_from_record.tolist(), (s / record - 1).tolist(), "pct_from_record")
    high = s.rolling(252).max()
    assert_column(got.high_252d.tolist(), [None if pd.isna(x) else x for x in high], "high_252d")
    worst = ret.rolling(126).min()
    best = ret.rolling(126).max()
    for i in range(n):
        if i < 126:  # 126 ret_1d exist from the 127th row
            assert pd.isna(got.is_worst_day_126d.iloc[i]) and pd.isna(got.is_best_day_126d.iloc[i])
        else:
            assert got.is_worst_day_126d.iloc[i] == (ret[i] == worst[i]), i
            assert got.is_best_day_126d.iloc[i] == (ret[i] == best[i]), i
    spy = frame(conn, "marts.highs_drawdowns", "where ticker = 'SPY'")
    assert spy.is_record_high.tolist() == [False] + [True] * 99  # rises every day
    assert spy.high_252d.isna().all() and spy.is_best_day_126d.isna().all()
