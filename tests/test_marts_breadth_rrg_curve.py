"""marts.yield_curve, marts.breadth and marts.rrg on small hand-made data.

Every expected value here is derived independently of the SQL: by hand (the numbers are in the
comments) or by a plain second computation in Python/pandas.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import statistics

import pandas as pd
import pytest

from tests.model_harness import insert_prices, rows, run_models, small_universe
from warehouse import models as sql_models

D = dt.date.fromisoformat


def sessions(start: str, n: int) -> list[dt.date]:
    """n weekdays from start on (holidays do not matter to these models)."""
    day, out = D(start), []
    while len(out) < n:
        if day.weekday() < 5:
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def assert_rows(got, expected):
    """Rows equal, floats approximately, NULLs exactly."""
    assert len(got) == len(expected), (got, expected)
    for g, e in zip(got, expected, strict=True):
        assert len(g) == len(e), (g, e)
        for a, b in zip(g, e, strict=True):
            if isinstance(b, float):
                assert a == pytest.approx(b, abs=1e-9), (g, e)
            else:
                assert a == b, (g, e)


def assert_declared_types(conn, name):
    model = {m.name: m for m in sql_models.discover()}[name]
    assert sql_models.column_types(conn, model.relation) == model.column_types


# --------------------------------------------------------------------------- yield curve


@pytest.fixture
def rates_conn(conn):
    """The warehouse with core.rates_daily (created here when its DDL is not in the repo yet)."""
    conn.execute(
        "create table if not exists core.rates_daily (series_id varchar not null, "
        "obs_date date not null, value double not null, source varchar not null, "
        "loaded_at timestamp with time zone not null, primary key (series_id, obs_date))"
    )
    return conn


def insert_rates(conn, observations: dict[str, dict[str, float]]) -> None:
    conn.executemany(
        "insert into core.rates_daily (series_id, obs_date, value, source, loaded_at) "
        "values (?, ?, ?, 'sample', now())",
        [
            (s, D(day) if isinstance(day, str) else day, v)
            for s, values in observations.items()
            for day, v in values.items()
        ],
    )


CURVE = {
    # 01-05 has no DGS10: no row that day although DGS2 and the HY spread have one
    "DGS10": {
        "2024-01-02": 4.00,
        "2024-01-03": 4.10,
        "2024-01-04": 4.20,
        "2024-01-08": 4.30,
        "2024-01-09": 4.25,
        "2024-01-10": 4.40,
    },
    "DGS2": {
        "2024-01-02": 4.50,
        "2024-01-03": 4.40,
        "2024-01-05": 4.35,
        "2024-01-08": 4.20,
        "2024-01-09": 4.30,
        "2024-01-10": 4.45,
    },
    # published on the first two dates only, and (on purpose) not equal to dgs10 - dgs2: it wins
    "T10Y2Y": {"2024-01-02": -0.49, "2024-01-03": -0.31},
    "DGS3MO": {"2024-01-02": 5.40, "2024-01-08": 5.30},
    # starts after the first curve date; 01-05 is not a curve date
    "BAMLH0A0HYM2": {"2024-01-03": 3.50, "2024-01-05": 3.70, "2024-01-10": 3.60},
    "DFF": {"2024-01-02": 5.33, "2024-01-11": 5.33},  # other series are ignored
}


def test_yield_curve_spread_fallback_asof_credit_and_change_window(rates_conn):
    conn = rates_conn
    insert_rates(conn, CURVE)
    result = run_models(conn, "yield_curve", curve_change_window=2)["yield_curve"]
    got = rows(conn, "select * from marts.yield_curve order by obs_date")
    # spread: T10Y2Y, T10Y2Y, neither T10Y2Y nor DGS2 -> NULL, 4.30-4.20, 4.25-4.30, 4.40-4.45
    # hy: none yet, 01-03, as of 01-03, as of 01-05, as of 01-05, 01-10
    # changes over 2 rows: spread r4 = 0.10 - (-0.31), r5 needs r3 (NULL), r6 = -0.05 - 0.10;
    # hy r3 needs r1 (NULL), r4 = 3.70 - 3.50, r5 = 3.70 - 3.50, r6 = 3.60 - 3.70
    assert_rows(
        got,
        [
            (D("2024-01-02"), 5.40, 4.50, 4.00, -0.49, None, None, None, None),
            (D("2024-01-03"), None, 4.40, 4.10, -0.31, None, 3.50, None, None),
            (D("2024-01-04"), None, None, 4.20, None, None, 3.50, None, None),
            (D("2024-01-08"), 5.30, 4.20, 4.30, 0.10, 0.41, 3.70, 0.20, True),
            (D("2024-01-09"), None, 4.30, 4.25, -0.05, None, 3.70, 0.20, None),
            (D("2024-01-10"), None, 4.45, 4.40, -0.05, -0.15, 3.60, -0.10, False),
        ],
    )
    assert [c[0] for c in conn.execute("select * from marts.yield_curve").description] == [
        "obs_date",
        "dgs3mo",
        "dgs2",
        "dgs10",
        "spread_10y2y",
        "spread_change_63d",
        "hy_spread",
        "hy_spread_change_63d",
        "curve_steepening",
    ]
    assert result.latest_date == D("2024-01-10")
    assert result.headline == {
        "spread_10y2y_latest": pytest.approx(-0.05),
        "hy_spread_latest": pytest.approx(3.60),
    }
    assert_declared_types(conn, "yield_curve")


def test_yield_curve_change_is_null_until_the_default_window_is_full(rates_conn):
    conn = rates_conn
    insert_rates(conn, CURVE)
    run_models(conn, "yield_curve")  # 63 observations: far more than the 6 rows
    assert rows(
        conn,
        "select count(spread_change_63d), count(hy_spread_change_63d), "
        "count(curve_steepening) from marts.yield_curve",
    ) == [(0, 0, 0)]


def test_an_unchanged_spread_is_not_steepening_despite_float_noise(rates_conn):
    conn = rates_conn
    # 0.50 published, then 4.19 - 3.69 = 0.5000000000000004 in floating point: a change of 0
    insert_rates(
        conn,
        {
            "DGS10": {"2024-01-02": 4.00, "2024-01-03": 4.19},
            "DGS2": {"2024-01-02": 3.50, "2024-01-03": 3.69},
            "T10Y2Y": {"2024-01-02": 0.50},
        },
    )
    run_models(conn, "yield_curve", curve_change_window=1)
    assert rows(
        conn,
        "select spread_10y2y, spread_change_63d, curve_steepening from marts.yield_curve "
        "order by obs_date",
    ) == [(0.5, None, None), (0.5, 0.0, False)]


def test_yield_curve_matches_pandas_on_a_long_gappy_history(rates_conn):
    conn = rates_conn
    rng = random.Random(7)
    days = sessions("2020-01-01", 400)
    obs: dict[str, dict] = {s: {} for s in ("DGS10", "DGS2", "DGS3MO", "T10Y2Y", "BAMLH0A0HYM2")}
    for i, day in enumerate(days):
        for s in ("DGS10", "DGS2", "DGS3MO"):
            if rng.random() > 0.05:
                obs[s][day] = round(rng.uniform(0.5, 5.0), 2)
        if day in obs["DGS10"] and day in obs["DGS2"] and rng.random() > 0.3:
            obs["T10Y2Y"][day] = round(obs["DGS10"][day] - obs["DGS2"][day] + 0.01, 2)
        if i > 30 and rng.random() > 0.4:  # sparse and late: exercises the as-of join
            obs["BAMLH0A0HYM2"][day] = round(rng.uniform(3.0, 9.0), 2)
    insert_rates(conn, obs)
    run_models(conn, "yield_curve", curve_change_window=21)

    frame = pd.DataFrame(
        {s: pd.Series(v, dtype="float64") for s, v in obs.items() if s != "BAMLH0A0HYM2"}
    )
    frame.index = pd.to_datetime(frame.index)
    frame = frame[frame["DGS10"].notna()].sort_index()
    frame["spread"] = frame["T10Y2Y"].fillna((frame["DGS10"] - frame["DGS2"]).round(6))
    hy = pd.Series(obs["BAMLH0A0HYM2"], dtype="float64")
    hy.index = pd.to_datetime(hy.index)
    frame["hy"] = hy.sort_index().reindex(frame.index, method="ffill")
    frame["spread_change"] = (frame["spread"] - frame["spread"].shift(21)).round(6)
    frame["hy_change"] = (frame["hy"] - frame["hy"].shift(21)).round(6)

    got = conn.execute("select * from marts.yield_curve order by obs_date").df()
    assert len(got) == len(frame)
    assert list(pd.to_datetime(got["obs_date"])) == list(frame.index)
    for ours, theirs in [
        ("dgs3mo", "DGS3MO"),
        ("dgs2", "DGS2"),
        ("dgs10", "DGS10"),
        ("spread_10y2y", "spread"),
        ("hy_spread", "hy"),
        ("spread_change_63d", "spread_change"),
        ("hy_spread_change_63d", "hy_change"),
    ]:
        pd.testing.assert_series_equal(
            got[ours].astype("float64").reset_index(drop=True),
            frame[theirs].reset_index(drop=True),
            check_names=False,
            atol=1e-9,
        )
    steep = [None if pd.isna(c) else bool(c > 0) for c in frame["spread_change"]]
    assert [None if pd.isna(v) else bool(v) for v in got["curve_steepening"]] == steep
    assert frame["hy"].isna().any() and frame["hy"].notna().any()
    assert frame["spread_change"].notna().sum() > 100


# --------------------------------------------------------------------------- breadth

# Five sessions, three members; CCC has no bar on 01-04. DDD is listed but has no prices at all.
BREADTH_DAYS = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]
BREADTH_CLOSES = {
    "AAA": [10.0, 11.0, 12.0, 11.0, 13.0],
    "BBB": [20.0, 19.0, 18.0, 18.0, 21.0],
    "CCC": [30.0, 31.0, None, 29.0, 29.0],
}
# Hand-checked with short windows: sma "50" = 2 sessions, sma "200" = 3, highs/lows = 3 sessions.
#  01-02: no returns yet; no window full.
#  01-03: AAA +, BBB -, CCC +. sma2: AAA 11>10.5 y, BBB 19>19.5 n, CCC 31>30.5 y -> 2/3.
#  01-04: CCC missing. AAA +, BBB -. sma2: AAA 12>11.5 y, BBB 18>18.5 n -> 1/2.
#         sma3: AAA 12>11 y, BBB 18>19 n -> 1/2. 3-session high: AAA (12 of 10,11,12); low: BBB.
#  01-05: AAA - (11), BBB 0 (18), CCC - (29 vs its previous bar 31). sma2: 11>11.5 n, 18>18 n,
#         29>30 n -> 0. sma3: 11>11.33 n, 18>18.33 n, CCC (30,31,29) 29>30 n -> 0.
#         highs: none; lows: AAA 11 of (11,12,11) (a tie counts), BBB 18 of (19,18,18), CCC 29
#         of (30,31,29) -> 3.
#  01-08: AAA + (13), BBB + (21), CCC 0 (29). sma2: 13>12 y, 21>19.5 y, 29>29 n -> 2/3.
#         sma3: 13>12 y, 21>19 y, 29>29.67 n -> 2/3. highs AAA, BBB; low CCC (29 = min 31,29,29).
#  AD line: 0, 0+2-1 = 1, 1+1-1 = 1, 1+0-2 = -1, -1+2-0 = 1.
BREADTH_EXPECTED = [
    # trade_date, members, adv, dec, share_adv, sma50, sma200, highs, lows, ad_line
    (D("2024-01-02"), 3, 0, 0, None, None, None, 0, 0, 0),
    (D("2024-01-03"), 3, 2, 1, 2 / 3, 2 / 3, None, 0, 0, 1),
    (D("2024-01-04"), 2, 1, 1, 1 / 2, 1 / 2, 1 / 2, 1, 1, 1),
    (D("2024-01-05"), 3, 0, 2, 0.0, 0.0, 0.0, 0, 3, -1),
    (D("2024-01-08"), 3, 2, 0, 2 / 3, 2 / 3, 2 / 3, 2, 1, 1),
]
SHORT_BREADTH = {"breadth_sma_short": 2, "breadth_sma_long": 3, "breadth_high_window": 3}


def insert_breadth_prices(conn):
    insert_prices(
        conn,
        [
            (t, day, c)
            for t, closes in BREADTH_CLOSES.items()
            for day, c in zip(BREADTH_DAYS, closes, strict=True)
            if c is not None
        ],
    )


def test_breadth_on_a_three_member_group_by_hand(conn):
    insert_breadth_prices(conn)
    insert_prices(
        conn, [("ZZZ", day, 5.0 + i) for i, day in enumerate(BREADTH_DAYS)]
    )  # in no group
    universe = small_universe(
        groups={"rotation_stocks": ("AAA", "BBB", "CCC"), "etfs": ("IWM", "SPY")}
    )
    result = run_models(
        conn,
        "returns_daily",
        "breadth",
        universe=universe,
        _breadth_groups={
            "trio": ["AAA", "BBB", "CCC", "DDD"],
            "story_stocks": "rotation_stocks",  # a universe group by name
            "duo": ["AAA", "BBB", "AAA"],
        },  # a repeated ticker counts once
        **SHORT_BREADTH,
    )["breadth"]
    for group in ("trio", "story_stocks"):
        got = rows(
            conn,
            "select * exclude (group_name) from marts.breadth where group_name = ? "
            "order by trade_date",
            group,
        )
        assert_rows(got, BREADTH_EXPECTED)

    # AAA and BBB alone, from the same hand checks
    duo = rows(
        conn,
        "select trade_date, members, advancers, decliners, share_advancing, "
        "share_above_sma50, new_lows_252d, ad_line from marts.breadth "
        "where group_name = 'duo' order by trade_date",
    )
    assert_rows(
        duo,
        [
            (D("2024-01-02"), 2, 0, 0, None, None, 0, 0),
            (D("2024-01-03"), 2, 1, 1, 0.5, 0.5, 0, 0),
            (D("2024-01-04"), 2, 1, 1, 0.5, 0.5, 1, 0),
            (D("2024-01-05"), 2, 0, 1, 0.0, 0.0, 2, -1),
            (D("2024-01-08"), 2, 2, 0, 1.0, 1.0, 0, 1),
        ],
    )
    assert rows(conn, "select distinct group_name from marts.breadth order by 1") == [
        ("duo",),
        ("story_stocks",),
        ("trio",),
    ]
    assert result.latest_date == D("2024-01-08")
    assert result.headline["story_stocks_share_above_sma50"] == pytest.approx(2 / 3)
    assert result.headline["sectors_share_above_sma50"] is None  # no such group configured here
    assert_declared_types(conn, "breadth")


def test_breadth_windows_are_null_or_zero_until_full(conn):
    insert_breadth_prices(conn)
    run_models(
        conn,
        "returns_daily",
        "breadth",
        _breadth_groups={"trio": ["AAA", "BBB", "CCC"]},
        breadth_sma_short=4,
        breadth_sma_long=50,
        breadth_high_window=5,
    )
    got = rows(
        conn,
        "select trade_date, share_above_sma50, share_above_sma200, new_highs_252d, "
        "new_lows_252d from marts.breadth order by trade_date",
    )
    # 4-session sma: AAA and BBB full from 01-05 (AAA 11 > 11 n, BBB 18 > 18.75 n), CCC (4 bars)
    # on 01-08 (29 > 29.75 n); AAA 13 > 11.75 y, BBB 21 > 19 y. 5-session window: AAA and BBB on
    # 01-08 only: AAA 13 and BBB 21 are their highs, neither is a low; CCC has 4 bars.
    assert_rows(
        got,
        [
            (D("2024-01-02"), None, None, 0, 0),
            (D("2024-01-03"), None, None, 0, 0),
            (D("2024-01-04"), None, None, 0, 0),
            (D("2024-01-05"), 0.0, None, 0, 0),
            (D("2024-01-08"), 2 / 3, None, 2, 0),
        ],
    )


def test_breadth_matches_pandas_on_random_walks(conn):
    rng = random.Random(11)
    days = sessions("2023-01-02", 160)
    data = []
    for t in ("T1", "T2", "T3", "T4", "T5"):
        price, start = 50.0, rng.randrange(0, 30)  # members start at different dates
        for day in days[start:]:
            if rng.random() < 0.08:
                continue  # a missing bar
            # unrounded, so a close never ties its average (float sums may differ in the last bit)
            price *= 1 + rng.uniform(-0.03, 0.03)
            data.append((t, day, price, price * 0.9))
    insert_prices(conn, data)
    windows = {"breadth_sma_short": 5, "breadth_sma_long": 20, "breadth_high_window": 30}
    run_models(
        conn,
        "returns_daily",
        "breadth",
        _breadth_groups={"a": ["T1", "T2", "T3"], "b": ["T2", "T3", "T4", "T5"]},
        **windows,
    )

    prices = pd.DataFrame(data, columns=["ticker", "trade_date", "close", "adj_close"])
    per_ticker = []
    for _, p in prices.sort_values("trade_date").groupby("ticker"):
        p = p.copy()
        p["ret"] = p["adj_close"].pct_change()
        p["above_s"] = (p["close"] > p["close"].rolling(5).mean()).where(
            p["close"].rolling(5).count() == 5
        )
        p["above_l"] = (p["close"] > p["close"].rolling(20).mean()).where(
            p["close"].rolling(20).count() == 20
        )
        p["high"] = (p["close"] >= p["close"].rolling(30).max()) & (
            p["close"].rolling(30).count() == 30
        )
        p["low"] = (p["close"] <= p["close"].rolling(30).min()) & (
            p["close"].rolling(30).count() == 30
        )
        per_ticker.append(p)
    per_ticker = pd.concat(per_ticker)
    expected = []
    for group, members in {"a": ["T1", "T2", "T3"], "b": ["T2", "T3", "T4", "T5"]}.items():
        ad = 0
        g = per_ticker[per_ticker["ticker"].isin(members)]
        for day, d in g.groupby("trade_date"):
            adv, dec = int((d["ret"] > 0).sum()), int((d["ret"] < 0).sum())
            ad += adv - dec
            with_ret = int(d["ret"].notna().sum())

            def share(col, d=d):
                full = d[col].dropna()
                return None if full.empty else float(full.astype(float).mean())

            expected.append(
                (
                    group,
                    day,
                    len(d),
                    adv,
                    dec,
                    adv / with_ret if with_ret else None,
                    share("above_s"),
                    share("above_l"),
                    int(d["high"].sum()),
                    int(d["low"].sum()),
                    ad,
                )
            )
    got = rows(conn, "select * from marts.breadth order by group_name, trade_date")
    assert_rows(got, expected)
    assert sum(r[8] for r in expected) > 0 and sum(r[9] for r in expected) > 0


# --------------------------------------------------------------------------- rrg

RRG_UNIVERSE = dict(groups={"etfs": ("IWM", "SPY"), "sector_etfs": ("XLF",)})


def weekly_prices(start: str, weekly: dict[str, list[float]]) -> list[tuple]:
    """Daily bars whose last session of ISO week i closes at weekly[t][i]; earlier sessions of the
    week get other prices, so a model reading the wrong session is caught."""
    out = []
    for t, closes in weekly.items():
        monday = D(start)
        for c in closes:
            days = [monday + dt.timedelta(days=k) for k in range(5)]
            for k, day in enumerate(days):
                out.append((t, day, c * 10, c if k == 4 else c * (3 + k)))  # close != adj_close
            monday += dt.timedelta(days=7)
    return out


def z_last(values: list[float]) -> float | None:
    sd = statistics.stdev(values)
    return None if sd == 0 else (values[-1] - statistics.mean(values)) / sd


def rrg_by_hand(rs: list[float], n: int) -> tuple[list, list]:
    ratio = [None if i < n - 1 else 100 + z_last(rs[i - n + 1 : i + 1]) for i in range(len(rs))]
    change = [
        None if i == 0 or ratio[i] is None or ratio[i - 1] is None else ratio[i] - ratio[i - 1]
        for i in range(len(rs))
    ]
    momentum = []
    for i in range(len(rs)):
        window = change[max(0, i - n + 1) : i + 1]
        momentum.append(100 + z_last(window) if len(window) == n and None not in window else None)
    return ratio, momentum


def quadrant(ratio, momentum):
    if ratio is None or momentum is None:
        return None
    if ratio >= 100:
        return "leading" if momentum >= 100 else "weakening"
    return "improving" if momentum >= 100 else "lagging"


def test_rrg_formula_by_hand_on_a_short_series(conn):
    # SPY is flat at 100, so rs = IWM's weekly close.
    iwm = [100.0, 110.0, 105.0, 120.0, 90.0, 95.0, 100.0]
    insert_prices(conn, weekly_prices("2024-01-01", {"IWM": iwm, "SPY": [100.0] * 7}))
    result = run_models(conn, "rrg", universe=small_universe(**RRG_UNIVERSE), rrg_weeks=3)["rrg"]
    got = rows(
        conn,
        "select ticker, group_name, week_end, rs, rs_ratio, rs_momentum, quadrant "
        "from marts.rrg order by week_end",
    )
    assert [r[0] for r in got] == ["IWM"] * 7  # the benchmark is not a row; XLF has no prices
    assert {r[1] for r in got} == {"etfs"}
    assert [r[2] for r in got] == [D("2024-01-05") + dt.timedelta(days=7 * i) for i in range(7)]
    assert [r[3] for r in got] == pytest.approx(iwm)

    # by hand: week 3 window (100, 110, 105): mean 105, sd 5 -> z 0 -> 100 exactly.
    # week 4 (110, 105, 120): mean 111.667, sd sqrt((1.667² + 6.667² + 8.333²) / 2) = 7.6376,
    # z = 8.333 / 7.6376 = 1.09109. week 5 (105, 120, 90): mean 105, sd 15, z = -1.
    # week 6 (120, 90, 95): mean 101.667, sd 16.073, z = -0.41478.
    # week 7 (90, 95, 100): mean 95, sd 5, z = 1.
    ratio = [
        None,
        None,
        100.0,
        100 + (25 / 3) / math.sqrt(175 / 3),
        99.0,
        100 - (20 / 3) / math.sqrt(775 / 3),
        101.0,
    ]
    assert [r[4] for r in got] == pytest.approx(ratio)
    # momentum: changes of ratio from week 4 on; the first full window of 3 changes is week 6
    changes = [ratio[i] - ratio[i - 1] for i in (3, 4, 5, 6)]
    m6 = 100 + (changes[2] - statistics.mean(changes[:3])) / statistics.stdev(changes[:3])
    m7 = 100 + (changes[3] - statistics.mean(changes[1:])) / statistics.stdev(changes[1:])
    assert [r[5] for r in got][:5] == [None] * 5
    assert [r[5] for r in got][5:] == pytest.approx([m6, m7])
    momentum = [None] * 5 + [m6, m7]
    assert [r[6] for r in got] == [quadrant(a, b) for a, b in zip(ratio, momentum, strict=True)]
    assert result.latest_date == D("2024-02-16")
    assert result.headline == {
        "iwm_rs_ratio": pytest.approx(101.0),
        "iwm_rs_momentum": pytest.approx(m7),
    }
    assert_declared_types(conn, "rrg")


def test_rrg_weeks_join_on_the_iso_week_and_use_the_last_session(conn):
    # IWM lacks the Friday of week 2 (its week ends Thursday, joined with SPY's Friday); SPY has no
    # bar at all in week 3 (no row for that week); week 5 spans the new year: 2024-12-30, 12-31,
    # 01-02, 01-03 are one ISO week.
    bars = {
        "SPY": {
            "2024-12-02": 9,
            "2024-12-06": 50,
            "2024-12-09": 9,
            "2024-12-13": 40,
            "2024-12-23": 9,
            "2024-12-27": 80,
            "2024-12-30": 9,
            "2025-01-03": 100,
        },
        "IWM": {
            "2024-12-02": 1,
            "2024-12-06": 25,
            "2024-12-09": 1,
            "2024-12-12": 30,
            "2024-12-16": 1,
            "2024-12-20": 40,
            "2024-12-23": 1,
            "2024-12-26": 20,
            "2024-12-30": 7,
            "2024-12-31": 1,
            "2025-01-02": 60,
        },
        "XLF": {"2024-12-02": 5, "2024-12-05": 10, "2024-12-13": 20},
    }
    insert_prices(conn, [(t, day, 1.0, float(c)) for t, b in bars.items() for day, c in b.items()])
    run_models(conn, "rrg", universe=small_universe(**RRG_UNIVERSE), rrg_weeks=3)
    got = rows(
        conn, "select ticker, group_name, week_end, rs from marts.rrg order by ticker, week_end"
    )
    assert_rows(
        got,
        [
            ("IWM", "etfs", D("2024-12-06"), 50.0),  # 100 * 25 / 50
            ("IWM", "etfs", D("2024-12-12"), 75.0),  # Thursday's 30 against SPY's Friday 40
            ("IWM", "etfs", D("2024-12-26"), 25.0),  # the 12-16 week has no SPY bar: no row
            ("IWM", "etfs", D("2025-01-02"), 60.0),  # across the new year, the last session's 60
            ("XLF", "sector_etfs", D("2024-12-05"), 20.0),
            ("XLF", "sector_etfs", D("2024-12-13"), 50.0),
        ],
    )


def rrg_random_walks(weeks: int, seed: int) -> dict[str, list[float]]:
    rng = random.Random(seed)
    out = {}
    for t in ("IWM", "SPY", "XLF"):
        price, closes = 100.0, []
        for _ in range(weeks):
            price *= 1 + rng.gauss(0, 0.03)
            closes.append(round(price, 4))
        out[t] = closes
    return out


def test_rrg_matches_a_plain_python_computation_and_covers_every_quadrant(conn):
    weekly = rrg_random_walks(60, seed=3)
    insert_prices(conn, weekly_prices("2023-01-02", weekly))
    run_models(conn, "rrg", universe=small_universe(**RRG_UNIVERSE), rrg_weeks=4)
    seen = set()
    for t in ("IWM", "XLF"):
        rs = [100 * a / b for a, b in zip(weekly[t], weekly["SPY"], strict=True)]
        ratio, momentum = rrg_by_hand(rs, 4)
        expected = [(r, a, b, quadrant(a, b)) for r, a, b in zip(rs, ratio, momentum, strict=True)]
        got = rows(
            conn,
            "select rs, rs_ratio, rs_momentum, quadrant from marts.rrg "
            "where ticker = ? order by week_end",
            t,
        )
        assert_rows(got, expected)
        seen |= {q for *_, q in got}
    assert seen == {None, "leading", "weakening", "lagging", "improving"}


def test_rrg_quadrant_boundaries(conn):
    # rs 100, 110, 105 -> rs_ratio exactly 100 on week 3 (mean 105); flat changes have no z-score.
    insert_prices(
        conn, weekly_prices("2024-01-01", {"IWM": [100.0, 110.0, 105.0], "SPY": [100.0] * 3})
    )
    run_models(conn, "rrg", universe=small_universe(**RRG_UNIVERSE), rrg_weeks=3)
    assert rows(
        conn, "select rs_ratio, rs_momentum, quadrant from marts.rrg where week_end = '2024-01-19'"
    ) == [(100.0, None, None)]
    # and the rule itself, at its edges, through the SQL's case expression on a constant table
    model = {m.name: m for m in sql_models.discover()}["rrg"]
    case = model.body[
        model.body.index("case\n        when rs_ratio is null") : model.body.index("as quadrant")
    ]
    for ratio, momentum in [
        (100, 100),
        (100, 99.9),
        (99.9, 99.9),
        (99.9, 100),
        (None, 100),
        (100, None),
    ]:
        got = conn.execute(
            f"select {case} from (select ?::double as rs_ratio, ?::double as rs_momentum)",
            [ratio, momentum],
        ).fetchall()[0][0]
        assert got == quadrant(ratio, momentum)


def test_rrg_a_constant_relative_strength_has_no_z_score(conn):
    insert_prices(conn, weekly_prices("2024-01-01", {"IWM": [50.0] * 5, "SPY": [100.0] * 5}))
    run_models(conn, "rrg", universe=small_universe(**RRG_UNIVERSE), rrg_weeks=3)
    assert rows(conn, "select count(*), count(rs_ratio), count(rs_momentum) from marts.rrg") == [
        (5, 0, 0)
    ]


def test_rrg_is_causal_appending_the_future_changes_no_past_row(conn):
    weekly = rrg_random_walks(40, seed=5)
    first = {t: c[:25] for t, c in weekly.items()}
    insert_prices(conn, weekly_prices("2023-01-02", first))
    # and a partial 26th week: Monday and Tuesday only (the week in progress)
    insert_prices(
        conn,
        [
            (t, D("2023-06-26") + dt.timedelta(days=k), 1.0, weekly[t][25] * (1 + k / 10))
            for t in weekly
            for k in range(2)
        ],
    )
    run_models(conn, "rrg", universe=small_universe(**RRG_UNIVERSE), rrg_weeks=4)
    before = rows(conn, "select * from marts.rrg order by ticker, week_end")
    assert {r[2] for r in before} >= {D("2023-06-23"), D("2023-06-27")}
    assert all(r[4] is not None and r[5] is not None for r in before if r[2] >= D("2023-05-01"))

    # the rest of week 26 and 14 more weeks, wildly different from the past
    insert_prices(
        conn,
        [
            (t, D("2023-06-28") + dt.timedelta(days=k), 1.0, weekly[t][25] * (9 - k))
            for t in weekly
            for k in range(3)
        ],
    )
    later = {t: [c * (5 if t == "XLF" else 0.2) for c in weekly[t][26:]] for t in weekly}
    insert_prices(conn, weekly_prices("2023-07-03", later))
    # warehouse/models.py's build runs `drop view if exists marts.rrg` first, which DuckDB 2 refuses
    # when marts.rrg is a table: a second build on one connection needs the table gone first
    conn.execute("drop table marts.rrg")
    run_models(conn, "rrg", universe=small_universe(**RRG_UNIVERSE), rrg_weeks=4)
    after = rows(conn, "select * from marts.rrg order by ticker, week_end")
    # every completed week is unchanged; the week in progress now ends on its Friday
    assert [r for r in after if r[2] < D("2023-06-26")] == [
        r for r in before if r[2] < D("2023-06-26")
    ]
    assert [r[2] for r in after if r[2] >= D("2023-06-26")][:2] == [
        D("2023-06-30"),
        D("2023-07-07"),
    ]
    assert len([r for r in after if r[2] >= D("2023-06-26")]) == 30
