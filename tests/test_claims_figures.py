"""The story scorecard's claims on hand-made data: every metric family, every grade, the readings.

Prices are made here with round numbers, so each expected figure is worked out by hand in the
comment beside it; the longer spans (six months of returns, seventeen Januaries) are checked with
plain python over the same rows as a second method.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from tests.model_harness import insert_prices, run_models, small_universe
from warehouse.claims import HEADER, load_claims
from warehouse.rates import load_fomc_reference

D = dt.date.fromisoformat
# marts.claims and everything it reads, in build order
CLAIMS_MODELS = (
    "returns_daily",
    "outperformance_streaks",
    "fed_policy",
    "easing_cycle_study",
    "yield_curve",
    "valuation_gap",
    "index_breadth",
    "claims_prices",
    "claims_rotation",
    "claims_macro",
    "claims_valuation",
    "claims_breadth",
    "claims",
)


def write_claims(tmp_path, lines, name="claims.csv"):
    path = tmp_path / name
    path.write_text("\n".join([",".join(HEADER), *lines]) + "\n", encoding="utf-8")
    return path


def score(conn, tmp_path, lines, pairs=(("^RUT", "^GSPC"),), indexes=()):
    """Load the claims, build the models, and return {claim_id: row as a dict}."""
    load_claims(conn, write_claims(tmp_path, lines))
    run_models(conn, *CLAIMS_MODELS, universe=small_universe(pairs=pairs), indexes=indexes)
    cursor = conn.execute("select * from marts.claims")
    names = [d[0] for d in cursor.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cursor.fetchall()}


def weekdays(first, last):
    return [d.date() for d in pd.bdate_range(first, last)]


def path_through(keys: dict[str, float], first: str, last: str) -> dict[dt.date, float]:
    """A close on every weekday from first to last: the keys as given, straight lines between."""
    days = weekdays(first, last)
    known = {D(k): v for k, v in keys.items()}
    series = pd.Series([known.get(d) for d in days], index=days, dtype=float).interpolate()
    return dict(series.items())


# ^RUT around the 2026 new year. The story's days are given exactly; the rest are straight lines.
RUT_KEYS = {
    "2025-03-03": 2300.0,
    "2025-04-04": 2300.0,
    "2025-04-07": 2231.0,  # 2231 / 2300 - 1 = -3.00%: the last day worse than 2026-01-07
    "2025-04-08": 2300.0,
    "2025-10-09": 2400.0,
    "2025-10-10": 2376.0,  # -1.00%: a bad day inside the six months, not as bad as 2026-01-07
    "2025-11-28": 2490.0,  # the highest close before December: below 2,500
    "2025-12-10": 2510.0,  # the highest of December: 2,500 crossed
    "2025-12-31": 2400.0,
    "2026-01-02": 2520.0,
    "2026-01-05": 2530.0,
    "2026-01-06": 2548.80,  # 2400 x 1.062: +6.2% year to date exactly
    "2026-01-07": 2510.0,
    "2026-01-08": 2603.909912,
    "2026-01-09": 2624.22,
    "2026-01-12": 2635.69,
    "2026-01-16": 2600.0,
}


@pytest.fixture
def story_prices(conn):
    rut = path_through(RUT_KEYS, "2025-03-03", "2026-01-16")
    insert_prices(conn, [("^RUT", d, c) for d, c in rut.items()])
    # 2026-01-07: the low of the sell-off, below the close
    conn.execute("update core.prices_daily set low = 2480.0 where ticker = '^RUT' and trade_date = '2026-01-07'")
    insert_prices(conn, [
        ("^GSPC", "2025-12-31", 6800.0), ("^GSPC", "2026-01-02", 6820.0), ("^GSPC", "2026-01-06", 6860.0),
        ("^GSPC", "2026-01-09", 6888.2),
        ("^DJI", "2025-12-31", 48000.0), ("^DJI", "2026-01-02", 48319.0), ("^DJI", "2026-01-09", 49440.0),
        ("^NDX", "2025-12-31", 25000.0), ("^NDX", "2026-01-06", 25300.0),
        ("^IXIC", "2026-01-08", 23500.0), ("^IXIC", "2026-01-09", 23480.0),
        ("IWM", "2025-11-10", 252.0), ("IWM", "2025-12-31", 245.0), ("IWM", "2026-01-06", 250.0),
        ("AAPL", "2025-12-31", 270.0), ("AAPL", "2026-01-02", 268.0), ("AAPL", "2026-01-16", 258.39),
        ("NVDA", "2025-12-31", 186.5), ("NVDA", "2026-01-16", 187.9),
    ])
    # IWM's session high of 2026-01-06 is a record though its close is not
    conn.execute("update core.prices_daily set high = 255.0 where ticker = 'IWM' and trade_date = '2026-01-06'")
    return rut


STORY_CLAIMS = [
    # the close of 2026-01-08 is 2603.909912: 2603.91 to the cent, 2603.90 truncated
    "close_0108,P,x,,close,^RUT,,2026-01-08,2603.90,0.005,to the cent,On January 8 the index reached 2603.90",
    "close_0108_rounded,P,x,,close,^RUT,,2026-01-08,2603.91,0.005,",
    # 2635.69 - 2624.22 = 11.47 points; 11.47 / 2624.22 = 0.437%: 0.4% to the tenth
    "points_0112,P,x,,point_change,^RUT,,2026-01-12,11.47,0.005,",
    "day_0112,P,x,,day_return,^RUT,,2026-01-12,0.004,0.0005,",
    # low 2480 / close 2548.80 - 1 = -2.70%: over 2.4% down
    "low_0107,P,x,,low_return,^RUT,,2026-01-07,-0.024,0,,,at_most",
    # 2510 / 2548.80 - 1 = -1.52%: the worst since 2025-04-07 (-3.00%), so no worse day since 07-07
    "worst_0107,P,x,,worse_sessions,^RUT,2025-07-07,2026-01-07,0,0,",
    # read over a year, 2025-04-07 is inside: one worse session
    "worst_0107_year,P,x,,worse_sessions,^RUT,2025-03-10,2026-01-07,0,0,",
    # 2624.22 / 2603.909912 - 1 = +0.78%: not 1.0% to the tenth; within 25% of 1% -> close
    "day_0109,P,x,,day_return,^RUT,,2026-01-09,0.010,0.0005,nearly 1%,,,0.25",
    # the same without a close tolerance: contradicted
    "day_0109_strict,P,x,,day_return,^RUT,,2026-01-09,0.010,0.0005,",
    # 2624.22 above every earlier close (the highest, 2603.909912 on 01-08)
    "record_0109,P,x,,record_close,^RUT,,2026-01-09,1,0,",
    # 23480 / 23500 - 1 = -0.09%: in the red
    "ixic_red_0109,P,x,,day_return,^IXIC,,2026-01-09,0,0,,,below",
    # 2548.80 / 2400 - 1 = +6.20%
    "ytd_0106,P,x,,ytd_return,^RUT,,2026-01-06,0.062,0.0005,",
    # IWM: close 250 below 252 (2025-11-10); high 255 above every earlier high (252)
    "iwm_close_record_0106,P,x,,record_close,IWM,,2026-01-06,1,0,",
    "iwm_high_record_0106,P,x,,record_high,IWM,,2026-01-06,1,0,",
    # 6860 / 6800 - 1 = +0.88% (within 1%: flat); 25300 / 25000 - 1 = +1.20% (not)
    "gspc_flat_0106,P,x,,ytd_return,^GSPC,,2026-01-06,0,0.01,",
    "ndx_flat_0106,P,x,,ytd_return,^NDX,,2026-01-06,0,0.01,",
    # December's highest close 2510 >= 2500; every close before December <= 2490 < 2500
    "crossed_2500,P,x,,max_close,^RUT,2025-12-01,2025-12-31,2500,0,,,at_least",
    "below_2500_before,P,x,,max_close,^RUT,,2025-11-28,2500,0,,,below",
    # the first full week: 2624.22 / 2520 - 1 = +4.14% (4.1% holds); from 12-31: 2624.22 / 2400 - 1 = +9.34%
    "rut_full_week,P,x,,price_return,^RUT,2026-01-02,2026-01-09,0.041,0.0005,",
    "rut_dec31_week,P,x,,price_return,^RUT,2025-12-31,2026-01-09,0.041,0.0005,",
    # Dow: 49440 / 48319 - 1 = +2.32% (holds as 2.3%); 49440 / 48000 - 1 = +3.00% (contradicted)
    "dji_full_week,P,x,,price_return,^DJI,2026-01-02,2026-01-09,0.023,0.0005,",
    "dji_dec31_week,P,x,,price_return,^DJI,2025-12-31,2026-01-09,0.023,0.0005,",
    # 6888.2 / 6820 - 1 = +1.00%
    "gspc_full_week,P,x,,price_return,^GSPC,2026-01-02,2026-01-09,0.010,0.0005,",
    # Apple: 258.39 / 270 - 1 = -4.30%; from 01-02: 258.39 / 268 - 1 = -3.59%
    "aapl_two_weeks,P,x,,ytd_return,AAPL,,2026-01-16,-0.043,0.0005,",
    "aapl_two_full_weeks,P,x,,price_return,AAPL,2026-01-02,2026-01-16,-0.043,0.0005,",
    # NVIDIA: 187.9 / 186.5 - 1 = +0.75%: nearly flat within 1%
    "nvda_flat,P,x,,ytd_return,NVDA,,2026-01-16,0,0.01,",
    # Jefferies: 2825 / 2400 - 1 = +17.7% from 12-31; 2825 / 2600 - 1 = +8.65% from 01-16
    "upside_1231,J,x,,upside_to_target,^RUT,,2025-12-31,0.10,0,,,at_least,,2825",
    "upside_0116,J,x,,upside_to_target,^RUT,,2026-01-16,0.10,0,,,at_least,,2825",
    # forecasts: published 01-16 for 06-30; the last session is 2026-01-16, so pending
    "jpm_midyear,JPM,x,2026-01-16,close,^RUT,,2026-06-30,2602,26,,,,0.05",
    # not a forecast (no published_on): the same date without data is 'no data'
    "midyear_fact,JPM,x,,close,^RUT,,2026-06-30,2602,26,",
    # a missing session is named
    "saturday,P,x,,close,^RUT,,2026-01-10,2600,0.005,",
]


def test_story_price_claims(conn, tmp_path, story_prices):
    got = score(conn, tmp_path, STORY_CLAIMS)
    expected = {
        "close_0108": (2603.909912, "holds as rounded"),
        "close_0108_rounded": (2603.909912, "holds"),
        "points_0112": (2635.69 - 2624.22, "holds"),
        "day_0112": (2635.69 / 2624.22 - 1, "holds"),
        "low_0107": (2480 / 2548.80 - 1, "holds"),
        "worst_0107": (0, "holds"),
        "worst_0107_year": (1, "contradicted"),
        "day_0109": (2624.22 / 2603.909912 - 1, "close"),
        "day_0109_strict": (2624.22 / 2603.909912 - 1, "contradicted"),
        "record_0109": (1, "holds"),
        "ixic_red_0109": (23480 / 23500 - 1, "holds"),
        "ytd_0106": (2548.80 / 2400 - 1, "holds"),
        "iwm_close_record_0106": (0, "contradicted"),
        "iwm_high_record_0106": (1, "holds"),
        "gspc_flat_0106": (6860 / 6800 - 1, "holds"),
        "ndx_flat_0106": (25300 / 25000 - 1, "contradicted"),
        "crossed_2500": (2510, "holds"),
        "below_2500_before": (2490, "holds"),
        "rut_full_week": (2624.22 / 2520 - 1, "holds"),
        "rut_dec31_week": (2624.22 / 2400 - 1, "contradicted"),
        "dji_full_week": (49440 / 48319 - 1, "holds"),
        "dji_dec31_week": (49440 / 48000 - 1, "contradicted"),
        "gspc_full_week": (6888.2 / 6820 - 1, "holds"),
        "aapl_two_weeks": (258.39 / 270 - 1, "holds"),
        "aapl_two_full_weeks": (258.39 / 268 - 1, "contradicted"),
        "nvda_flat": (187.9 / 186.5 - 1, "holds"),
        "upside_1231": (2825 / 2400 - 1, "holds"),
        "upside_0116": (2825 / 2600 - 1, "contradicted"),
        "jpm_midyear": (None, "pending"),
        "midyear_fact": (None, "no data"),
        "saturday": (None, "no data"),
    }
    assert set(got) == set(expected)
    for claim, (value, verdict) in expected.items():
        row = got[claim]
        assert row["verdict"] == verdict, (claim, row["computed_value"], row["detail"])
        assert row["computed_value"] == (None if value is None else pytest.approx(value, rel=1e-9)), claim
    # the second method for the six-month span: plain python over the same closes
    closes = pd.Series(story_prices)
    returns = closes / closes.shift(1) - 1
    day = returns[D("2026-01-07")]
    window = returns[(returns.index >= D("2025-07-07")) & (returns.index < D("2026-01-07"))]
    assert (window < day).sum() == 0 and (returns[returns.index < D("2026-01-07")] < day).sum() == 1
    assert "2025-04-07 (-3.00%)" in got["worst_0107"]["detail"]
    # the words and readings are kept; evidence names the series; no data names the missing date
    assert got["close_0108"]["words"] == "On January 8 the index reached 2603.90"
    assert got["close_0108"]["reading"] == "to the cent"
    assert got["close_0108"]["evidence"] == "core.prices_daily ^RUT"
    assert "no ^RUT close on 2026-01-10" in got["saturday"]["detail"]
    assert "2025-03-03 to 2026-01-16" in got["saturday"]["detail"]
    assert "last session is 2026-01-16" in got["jpm_midyear"]["detail"]


def test_a_forecast_is_scored_once_its_date_has_come(conn, tmp_path, story_prices):
    # the warehouse's last session, not the wall clock, decides: with 2026-06-30 stored the
    # forecast is graded; 2575 is outside 2602 +/- 26 (2576 to 2628) but within 5% -> close
    insert_prices(conn, [("^RUT", "2026-06-30", 2575.0)])
    got = score(conn, tmp_path, ["jpm_midyear,JPM,x,2026-01-16,close,^RUT,,2026-06-30,2602,26,,,,0.05"])
    assert (got["jpm_midyear"]["computed_value"], got["jpm_midyear"]["verdict"]) == (2575.0, "close")


def test_strongest_start_in_over_a_decade(conn, tmp_path):
    # each year: the previous year's last close 100, 16 January 100 x (1 + r)
    gains = {year: 0.01 * (year % 5) for year in range(2010, 2026)}  # 0% to 4%
    gains[2015] = 0.09  # the latest year stronger than 2026 (8%): 11 years back
    gains[2026] = 0.08
    rows_ = []
    for year, gain in gains.items():
        rows_.append(("^RUT", dt.date(year - 1, 12, 31), 100.0))
        rows_.append(("^RUT", dt.date(year, 1, 16), 100.0 * (1 + gain)))
    insert_prices(conn, rows_)
    got = score(conn, tmp_path, [
        "decade,P,x,,years_since_stronger_start,^RUT,,2026-01-16,11,0,,,at_least",
        "two_decades,P,x,,years_since_stronger_start,^RUT,,2026-01-16,20,0,,,at_least",
    ])
    # second method: the latest earlier year with a gain of at least 8%
    latest = max(y for y, g in gains.items() if y < 2026 and g >= gains[2026])
    assert got["decade"]["computed_value"] == 2026 - latest == 11
    assert got["decade"]["verdict"] == "holds"
    assert got["two_decades"]["verdict"] == "contradicted"
    assert "2015 (+9.00%)" in got["decade"]["detail"]


def test_strongest_start_needs_the_history_to_decide(conn, tmp_path):
    # 2021-2025 all weaker than 2026: five earlier years cannot show "over a decade"
    rows_ = []
    for year in range(2021, 2027):
        rows_.append(("^RUT", dt.date(year - 1, 12, 31), 100.0))
        rows_.append(("^RUT", dt.date(year, 1, 16), 101.0 if year < 2026 else 108.0))
    insert_prices(conn, rows_)
    got = score(conn, tmp_path, [
        "decade,P,x,,years_since_stronger_start,^RUT,,2026-01-16,11,0,,,at_least",
        "five,P,x,,years_since_stronger_start,^RUT,,2026-01-16,5,0,,,at_least",
    ])
    assert (got["decade"]["computed_value"], got["decade"]["verdict"]) == (None, "no data")
    assert "all 5 earlier years" in got["decade"]["detail"] and "too short" in got["decade"]["detail"]
    assert (got["five"]["computed_value"], got["five"]["verdict"]) == (5, "holds")


def test_claim_on_the_day_of_its_figure(conn, tmp_path):
    """The `<=` date boundaries: a claim dated on the very day of the figure it reads finds it
    (each of these fails if `<=` became `<`)."""
    insert_prices(conn, [("^RUT", "2026-01-02", 2500.0), ("^GSPC", "2026-01-02", 6800.0)])
    conn.executemany(
        "insert into core.valuations values (?, ?, ?, ?, 'forward', 'unstated', ?, null, null, 'published', now())",
        [
            (D("2026-01-02"), "^RUT", "pe_forward", 18.11, "The Money Unlock"),
            (D("2026-01-02"), "^GSPC", "pe_forward", 22.3, "The Money Unlock"),
        ],
    )
    # 1 - 18.11 / 22.3 = 0.1879
    got = score(conn, tmp_path, [
        "discount_same_day,The Money Unlock,x,,valuation_discount,^RUT/^GSPC,,2026-01-02,0.19,0.005,",
        "pe_same_day,The Money Unlock,x,,pe_forward,^GSPC,,2026-01-02,22.3,0.05,",
        "discount_day_before,The Money Unlock,x,,valuation_discount,^RUT/^GSPC,,2025-12-31,0.19,0.005,",
    ], pairs=(("^RUT", "^GSPC"),))
    assert got["discount_same_day"]["computed_value"] == pytest.approx(1 - 18.11 / 22.3)
    assert got["discount_same_day"]["verdict"] == "holds"
    assert (got["pe_same_day"]["computed_value"], got["pe_same_day"]["verdict"]) == (22.3, "holds")
    assert got["discount_day_before"]["verdict"] == "no data"


def insert_policy_days(conn, first, last, changes, initial=(4.00, 4.25)):
    """core.policy_rate_daily on every calendar day; changes: {effective date: (lower, upper)}."""
    lower, upper = initial
    out = []
    day = D(first)
    while day <= D(last):
        lower, upper = changes.get(day.isoformat(), (lower, upper))
        out.append((day, lower, upper, (lower + upper) / 2, "range", None, None, None))
        day += dt.timedelta(days=1)
    conn.executemany("insert into core.policy_rate_daily values (?, ?, ?, ?, ?, ?, ?, ?)", out)


FED_CLAIMS = [
    "lower_1211,P,x,,fed_target_lower,,,2025-12-11,3.50,0,",
    "upper_1211,P,x,,fed_target_upper,,,2025-12-11,3.75,0,",
    "cuts_1211,P,x,,fed_cuts_in_cycle,,,2025-12-11,3,0,",
    "bp_1211,P,x,,fed_bp_cut_in_cycle,,,2025-12-11,75,0,",
    "lower_0114,P,x,,fed_target_lower,,,2026-01-14,3.50,0,",
    "no_cut_0128,P,x,,fed_change_bp,,2026-01-28,2026-01-29,0,0,",
]


def test_fed_claims_use_the_shipped_decisions_when_fred_stops_short(conn, tmp_path):
    # FRED's range to 2025-12-10, as the real export: the cuts of 09-18 and 10-30 only
    insert_policy_days(conn, "2025-06-01", "2025-12-10",
                       {"2025-09-18": (4.00, 4.25), "2025-10-30": (3.75, 4.00)}, initial=(4.25, 4.50))
    load_fomc_reference(conn)
    got = score(conn, tmp_path, FED_CLAIMS)
    shipped = "shipped FOMC decisions (config/fomc_decisions.csv), FRED ends 2025-12-10"
    # the shipped file: 2025-12-11 at 3.50-3.75, the third cut since 2025-09-18 (25 bp each: 75 bp);
    # 2024-12-19 -> 2025-09-18 is 273 days, more than the 180-day gap: a new cycle
    for claim, value in (("lower_1211", 3.50), ("upper_1211", 3.75), ("cuts_1211", 3), ("bp_1211", 75)):
        assert (got[claim]["computed_value"], got[claim]["verdict"], got[claim]["evidence"]) == (value, "holds", shipped), claim
    assert "easing cycle from 2025-09-18: 3 cuts, 75 bp" in got["cuts_1211"]["detail"]
    # neither source reaches 2026: the shipped decisions end with 2025-12-11
    for claim in ("lower_0114", "no_cut_0128"):
        assert got[claim]["verdict"] == "no data"
        assert "stored to 2025-12-10" in got[claim]["detail"] and "end with 2025-12-11" in got[claim]["detail"]


def test_fed_claims_read_fred_where_it_reaches(conn, tmp_path):
    insert_policy_days(conn, "2025-06-01", "2026-01-31", {
        "2025-09-18": (4.00, 4.25), "2025-10-30": (3.75, 4.00), "2025-12-11": (3.50, 3.75),
    }, initial=(4.25, 4.50))
    load_fomc_reference(conn)
    got = score(conn, tmp_path, FED_CLAIMS)
    fred = "FRED target range (marts.fed_policy)"
    # the three cuts in the stored history: one cycle, 3 cuts, 75 bp; the range unchanged on 01-14
    # and no change from 01-28 to 01-29 (3.75 - 3.75 = 0 bp)
    for claim, value in (("lower_1211", 3.50), ("upper_1211", 3.75), ("cuts_1211", 3), ("bp_1211", 75),
                         ("lower_0114", 3.50), ("no_cut_0128", 0)):
        assert (got[claim]["computed_value"], got[claim]["verdict"], got[claim]["evidence"]) == (value, "holds", fred), claim


def test_inflation_and_the_curve(conn, tmp_path):
    conn.executemany(
        "insert into core.rates_daily values (?, ?, ?, 'sample', now())",
        [("CPIAUCSL", D("2024-12-01"), 316.0), ("CPIAUCSL", D("2025-12-01"), 324.5),
         ("CPIAUCSL", D("2025-11-01"), 325.5), ("CPIAUCSL", D("2024-11-01"), 316.0)],
    )
    # the 10y-2y spread rising 0.01 a day over 70 weekdays to 2026-01-16: +0.63 over 63 observations
    days = weekdays("2025-10-10", "2026-01-16")[-70:]
    spread = {d: 0.50 + 0.01 * i for i, d in enumerate(days)}
    conn.executemany(
        "insert into core.rates_daily values (?, ?, ?, 'sample', now())",
        [(s, d, v) for d, x in spread.items() for s, v in (("DGS10", 4.2), ("DGS2", 4.2 - x), ("T10Y2Y", x))],
    )
    got = score(conn, tmp_path, [
        # 324.5 / 316 - 1 = +2.69%: 2.7% to the tenth
        "cpi_dec,P,x,,fred_yoy,CPIAUCSL,,2025-12-01,0.027,0.0005,,,,0.1",
        # 325.5 / 316 - 1 = +3.01%: 0.0031 - 0.0005 = 0.0026 off, within 10% of 2.7% (0.0027) -> close
        "cpi_nov,P,x,,fred_yoy,CPIAUCSL,,2025-11-01,0.027,0.0005,,,,0.1",
        "cpi_oct,P,x,,fred_yoy,CPIAUCSL,,2025-10-01,0.027,0.0005,",
        "steepening,P,x,,curve_change,,,2026-01-16,0,0,,,above",
        # a Sunday takes the Friday's observation
        "steepening_sunday,P,x,,curve_change,,,2026-01-18,0,0,,,above",
    ])
    assert got["cpi_dec"]["computed_value"] == pytest.approx(324.5 / 316 - 1)
    assert got["cpi_dec"]["verdict"] == "holds"
    assert (got["cpi_nov"]["computed_value"], got["cpi_nov"]["verdict"]) == (pytest.approx(325.5 / 316 - 1), "close")
    assert got["cpi_oct"]["verdict"] == "no data"
    assert "no CPIAUCSL observation for 2025-10 or 2024-10" in got["cpi_oct"]["detail"]
    for claim in ("steepening", "steepening_sunday"):
        assert got[claim]["computed_value"] == pytest.approx(0.63), claim
        assert got[claim]["verdict"] == "holds", claim


def test_valuation_claims_and_the_25_year_extreme(conn, tmp_path):
    conn.executemany(
        "insert into core.valuations values (?, ?, 'pe_forward', ?, 'forward', 'unstated', ?, null, null, 'published', now())",
        [
            (D("2026-01-12"), "^SP600", 15.6, "Barron's"), (D("2026-01-12"), "^GSPC", 22.6, "Barron's"),
            (D("2026-01-16"), "^SP600", 15.3, "Richardson"), (D("2026-01-16"), "^GSPC", 22.0, "Richardson"),
        ],
    )
    got = score(conn, tmp_path, [
        # the latest on or before 01-16: Richardson's 22 and 15.3 (15 to the unit)
        "gspc_pe,P,x,,pe_forward,^GSPC,,2026-01-16,22,0.5,",
        "sp600_pe,P,x,,pe_forward,^SP600,,2026-01-16,15,0.5,",
        "extreme,P,x,,years_since_wider_discount,^SP600/^GSPC,,2026-01-16,25,0,,,at_least",
        "breadth,P,x,,share_advancing,^RUT,,2026-01-09,0.60,0,,,above",
        "participation,P,x,,years_since_broader,^RUT,,2026-01-09,3,0,,,at_least",
    ], pairs=(("^RUT", "^GSPC"),))
    assert (got["gspc_pe"]["computed_value"], got["gspc_pe"]["verdict"]) == (22.0, "holds")
    assert (got["sp600_pe"]["computed_value"], got["sp600_pe"]["verdict"]) == (15.3, "holds")
    # the gap is stored from 2026-01-12: four days, not 25 years
    assert got["extreme"]["verdict"] == "no data"
    assert "stored from 2026-01-12" in got["extreme"]["detail"] and "too short for 25" in got["extreme"]["detail"]
    # no configured index compares with ^RUT here: no breadth, and the detail says where it would come from
    for claim in ("breadth", "participation"):
        assert got[claim]["verdict"] == "no data", claim
        assert got[claim]["detail"].startswith("no index breadth of ^RUT: no configured index compares with it")


BREADTH_CLAIMS = [
    "breadth,P,x,,share_advancing,^RUT,,2026-01-09,0.60,0,,,above",
    "participation,P,x,,years_since_broader,^RUT,,2026-01-09,3,0,,,at_least",
]
R2000 = [("russell_2000", "IWM", "^RUT")]


def insert_member_moves(conn, up_days: dict[dt.date, int]):
    """Five members of russell_2000 from 2023-01-03, a bar every weekday from 2022-12-30 to
    2026-01-09: AAA and BBB rise every day, CCC..EEE fall, except that on a day of `up_days` the
    first n members rise. So every session has 2 of 5 advancing (0.4) unless `up_days` says more."""
    from tests.model_harness import insert_index_members

    tickers = ["AAA", "BBB", "CCC", "DDD", "EEE"]
    insert_index_members(conn, [("russell_2000", "2023-01-03", t) for t in tickers])
    close = dict.fromkeys(tickers, 100.0)
    rows = []
    for day in weekdays("2022-12-30", "2026-01-09"):
        for i, t in enumerate(tickers):
            close[t] *= 1.01 if i < up_days.get(day, 2) else 0.99
            rows.append((t, day, round(close[t], 6)))
    insert_prices(conn, rows)


def test_breadth_claims_read_the_index_members_of_the_day(conn, tmp_path):
    # 4 of 5 up on the record day (0.8 > 0.6); all 5 up on 2024-06-03, which was broader
    insert_member_moves(conn, {D("2026-01-09"): 4, D("2024-06-03"): 5})
    got = score(conn, tmp_path, BREADTH_CLAIMS, indexes=R2000)
    assert (got["breadth"]["computed_value"], got["breadth"]["verdict"]) == (pytest.approx(0.8), "holds")
    # (2026-01-09 - 2024-06-03) = 585 days = 1.60 years: broader participation 1.6 years before, not 3
    assert got["participation"]["computed_value"] == pytest.approx(585 / 365.25)
    assert got["participation"]["verdict"] == "contradicted"
    assert "at least as broad on 2024-06-03" in got["participation"]["detail"]


def test_the_broadest_day_of_the_whole_stored_breadth_holds_when_it_spans_the_claimed_years(conn, tmp_path):
    insert_member_moves(conn, {D("2026-01-09"): 4})
    got = score(conn, tmp_path, BREADTH_CLAIMS, indexes=R2000)
    # breadth starts at the first snapshot, 2023-01-03: 1102 days = 3.02 years >= 3
    assert got["participation"]["computed_value"] == pytest.approx(1102 / 365.25)
    assert got["participation"]["verdict"] == "holds"
    assert "the broadest since 2023-01-03" in got["participation"]["detail"]


def test_a_breadth_claim_before_the_first_snapshot_has_no_data(conn, tmp_path):
    insert_member_moves(conn, {})
    got = score(conn, tmp_path, ["early,P,x,,share_advancing,^RUT,,2022-12-30,0.60,0,,,above"], indexes=R2000)
    assert got["early"]["verdict"] == "no data"
    assert got["early"]["detail"] == "no breadth of ^RUT on 2022-12-30 (its index breadth runs from 2023-01-03 to 2026-01-09)"


def test_every_metric_is_computed_by_its_family_model():
    """Each metric kind of warehouse/claims.py is selected by exactly its family's model, so a
    claim never falls between two models or into two."""
    import re

    from warehouse import settings
    from warehouse.claims import FAMILIES, METRICS, metrics_of

    selected = {}
    for family in FAMILIES:
        sql = (settings.sql_dir() / "marts" / f"claims_{family}.sql").read_text(encoding="utf-8")
        block = re.search(r"where metric in \(([^)]*)\)", sql)
        selected[family] = set(re.findall(r"'([a-z0-9_]+)'", block[1]))
        assert selected[family] == set(metrics_of(family)), family
    assert sorted(m for names in selected.values() for m in names) == sorted(METRICS)
