"""The Fed and valuation marts: fed_policy, easing_cycle_study, easing_cycle_summary, valuation_gap.

Every expected value is worked out here independently of the SQL: by hand for the short cases and
with plain python loops (no SQL, no window functions) for the longer ones.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import statistics

import pandas as pd
import pytest

from tests.model_harness import DERIVED_CORE, insert_prices, rows, run_models, small_universe
from warehouse import models as sql_models
from warehouse import rates
from warehouse.fomc_reference import read_reference

D = dt.date.fromisoformat
DAY = dt.timedelta(days=1)
FED = ("fed_policy",)
STUDY = ("fed_policy", "easing_cycle_study", "easing_cycle_summary")


def approx_or_none(got, expected, rel=1e-12):
    if expected is None:
        return got is None or (isinstance(got, float) and math.isnan(got))
    return got is not None and got == pytest.approx(expected, rel=rel, abs=1e-15)


# ---------------------------------------------------------------------------------------------
# core.policy_rate_daily from a list of decisions, and the python reference of the cycle rule


def insert_policy(conn, start, end, initial, changes, kind="range"):
    """One row per calendar day from start to end. initial: (lower, upper); changes: a list of
    (effective date, lower, upper[, kind]). The effective rate is the midpoint plus 1 bp."""
    changes = sorted((D(c[0]) if isinstance(c[0], str) else c[0], *c[1:]) for c in changes)
    lower, upper = initial
    current_kind = kind
    out = []
    day, end = (D(start) if isinstance(start, str) else start), (D(end) if isinstance(end, str) else end)
    i = 0
    while day <= end:
        while i < len(changes) and changes[i][0] <= day:
            lower, upper = changes[i][1], changes[i][2]
            current_kind = changes[i][3] if len(changes[i]) > 3 else kind
            i += 1
        mid = (lower + upper) / 2
        out.append((day, lower, upper, mid, current_kind, mid + 0.01, True, 1.0))
        day += DAY
    frame = pd.DataFrame(out, columns=["calendar_date", "target_lower", "target_upper", "target_mid",
                                       "target_kind", "effective", "effective_in_range", "effective_spread_bp"])
    conn.register("_policy_rows", frame)
    conn.execute("insert into core.policy_rate_daily by name select * from _policy_rows")
    conn.unregister("_policy_rows")
    return out


def expected_policy(days, gap=180, active=365):
    """A plain loop over the days: the reference of every fed_policy column but the targets."""
    out = {}
    previous = None
    last_change = last_bp = direction = None
    last_cut = cycle_start = None
    cuts = bp = 0
    for day, lower, upper, mid, *_ in days:
        if previous is not None and (lower, upper) != (previous[1], previous[2]):
            change_bp = round((upper - previous[2]) * 100)
            is_cut = not mid > previous[3]
            if is_cut:
                if direction != "cut" or last_cut is None or (day - last_cut).days > gap:
                    cycle_start, cuts, bp = day, 0, 0
                cuts += 1
                bp += -change_bp
                last_cut = day
            direction = "cut" if is_cut else "hike"
            last_change, last_bp = day, change_bp
        previous = (day, lower, upper, mid)
        easing = direction == "cut"
        out[day] = {
            "last_change_date": last_change,
            "last_change_bp": last_bp,
            "stance": {"cut": "easing", "hike": "tightening"}.get(direction),
            "cycle_first_cut_date": cycle_start if easing else None,
            "cuts_in_cycle": cuts if easing else None,
            "bp_cut_in_cycle": bp if easing else None,
            "days_since_first_cut": (day - cycle_start).days if easing else None,
            "easing_active": easing and (day - last_cut).days < active,
        }
    return out


def fed_rows(conn):
    cursor = conn.execute("select * from marts.fed_policy order by day")
    names = [d[0] for d in cursor.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cursor.fetchall()}


def as_date(value):
    if value is None:
        return None
    return value.date() if isinstance(value, pd.Timestamp | dt.datetime) else value


# a hand-made history: every boundary of the cycle rule once
GAP_CASES = [
    ("2000-03-01", 5.25, 5.50),  # hike: tightening, no cycle
    ("2000-06-01", 5.00, 5.25),  # cut after a hike: cycle A starts
    ("2000-09-09", 4.50, 4.75),  # 100 days later, -50: still cycle A (2 cuts, 75 bp)
    ("2001-03-28", 4.25, 4.50),  # 200 days later: cycle B starts
    ("2001-05-01", 4.50, 4.75),  # hike: cycle columns NULL
    ("2001-06-01", 4.25, 4.50),  # 31 days after the hike, 65 after the last cut: cycle C (the hike resets)
    ("2001-11-28", 4.00, 4.25),  # exactly 180 days later: still cycle C (more than 180 starts one)
    ("2002-05-28", 3.75, 4.00),  # 181 days later: cycle D
]


@pytest.fixture
def gap_history(conn):
    days = insert_policy(conn, "2000-01-01", "2003-06-30", (5.00, 5.25), GAP_CASES)
    run_models(conn, *FED)
    return days


def test_fed_policy_types_and_dependencies(conn, gap_history):
    found = {m.name: m for m in sql_models.discover()}
    params = sql_models.load_params()
    model = found["fed_policy"]
    assert sql_models.column_types(conn, model.relation) == model.column_types
    # the changes come from core.fomc_decisions (run_models derives it), the days from the policy
    assert model.dependencies(params) == {"core.policy_rate_daily", "core.fomc_decisions"}
    assert model.date_column == "day"
    assert rows(conn, "select count(*), min(day), max(day) from marts.fed_policy") == [
        (len(gap_history), D("2000-01-01"), D("2003-06-30"))
    ]


def test_gap_rule_by_hand(conn, gap_history):
    got = fed_rows(conn)

    def at(day):
        r = got[D(day)]
        return (as_date(r["cycle_first_cut_date"]), r["cuts_in_cycle"], r["bp_cut_in_cycle"], r["stance"])

    assert at("2000-01-01") == (None, None, None, None)  # before the first change
    assert got[D("2000-01-01")]["easing_active"] is False
    assert at("2000-03-01") == (None, None, None, "tightening")
    assert at("2000-06-01") == (D("2000-06-01"), 1, 25, "easing")
    assert at("2000-09-08") == (D("2000-06-01"), 1, 25, "easing")
    # two cuts 100 days apart: one cycle, 25 + 50 bp
    assert at("2000-09-09") == (D("2000-06-01"), 2, 75, "easing")
    assert got[D("2000-09-09")]["last_change_bp"] == -50
    # 200 days apart: a second cycle
    assert at("2001-03-28") == (D("2001-03-28"), 1, 25, "easing")
    # a hike ends the cycle: the cycle columns are NULL until the next cut
    assert at("2001-05-01") == (None, None, None, "tightening")
    assert got[D("2001-05-31")]["last_change_bp"] == 25
    assert got[D("2001-05-31")]["easing_active"] is False
    # a cut after a hike starts a new cycle, although the previous cut is only 65 days back
    assert at("2001-06-01") == (D("2001-06-01"), 1, 25, "easing")
    # exactly easing_cycle_gap_days later: the same cycle
    assert at("2001-11-28") == (D("2001-06-01"), 2, 50, "easing")
    assert got[D("2001-11-28")]["days_since_first_cut"] == 180
    # one day more: a new cycle
    assert at("2002-05-28") == (D("2002-05-28"), 1, 25, "easing")
    # easing_active: the last cut fewer than 365 days ago (the cut's day is day 0)
    assert got[D("2003-05-27")]["easing_active"] is True  # 364 days
    assert got[D("2003-05-28")]["easing_active"] is False  # 365 days
    assert at("2003-06-30") == (D("2002-05-28"), 1, 25, "easing")  # the cycle itself goes on
    assert got[D("2003-06-30")]["days_since_first_cut"] == (D("2003-06-30") - D("2002-05-28")).days
    assert got[D("2003-06-30")]["last_change_date"] == D("2002-05-28")


def test_the_changes_are_those_of_core_fomc_decisions(conn, gap_history):
    changes = rows(conn, """
        select distinct last_change_date, last_change_bp, stance from marts.fed_policy
        where last_change_date is not null order by 1""")
    decisions = rows(conn, """
        select effective_date, change_bp, case direction when 'cut' then 'easing' else 'tightening' end
        from core.fomc_decisions order by 1""")
    assert changes == decisions
    assert [c[0] for c in changes] == [D(c[0]) for c in GAP_CASES]


def test_fed_policy_matches_a_python_loop_on_every_day(conn, gap_history):
    got = fed_rows(conn)
    expected = expected_policy(gap_history)
    assert set(got) == set(expected)
    for day, exp in expected.items():
        row = got[day]
        assert {k: row[k] for k in exp} == exp, day
        lower, upper = next((r[1], r[2]) for r in gap_history if r[0] == day)
        assert (row["target_lower"], row["target_upper"], row["target_mid"]) == (lower, upper, (lower + upper) / 2)
        assert row["effective"] == pytest.approx((lower + upper) / 2 + 0.01)


def with_gap(monkeypatch, days):
    """The harness derives core.fomc_decisions with this gap: the rule lives there, read by the marts."""
    monkeypatch.setitem(DERIVED_CORE, "core.fomc_decisions", functools.partial(rates.rebuild_fomc_decisions, gap_days=days))


def test_fed_policy_parameters(conn, gap_history, monkeypatch):
    # a 250-day gap keeps 2000-09-09 and 2001-03-28 (200 days) in one cycle; the hike still resets
    with_gap(monkeypatch, 250)
    run_models(conn, *FED, easing_active_days=30)
    got = fed_rows(conn)
    expected = expected_policy(gap_history, gap=250, active=30)
    assert as_date(got[D("2001-03-28")]["cycle_first_cut_date"]) == D("2000-06-01")
    assert got[D("2001-03-28")]["cuts_in_cycle"] == 3
    assert got[D("2001-03-28")]["bp_cut_in_cycle"] == 100
    assert as_date(got[D("2001-06-01")]["cycle_first_cut_date"]) == D("2001-06-01")
    assert got[D("2001-06-30")]["easing_active"] is True  # 29 days
    assert got[D("2001-07-01")]["easing_active"] is False  # 30 days
    for day, exp in expected.items():
        assert bool(got[day]["easing_active"]) == exp["easing_active"], day
        assert got[day]["cuts_in_cycle"] == exp["cuts_in_cycle"], day


def test_single_target_to_range_is_a_cut_of_the_upper_bound(conn):
    # 2008-12-16: the single 1.00 target became the range 0-0.25; the midpoint fell, so a cut,
    # sized by the upper bound (-75 bp) as core.fomc_decisions and the reference file count it
    insert_policy(conn, "2008-12-10", "2008-12-20", (1.00, 1.00),
                  [("2008-12-16", 0.00, 0.25, "range")], kind="single")
    run_models(conn, *FED)
    got = fed_rows(conn)
    assert got[D("2008-12-15")]["stance"] is None
    row = got[D("2008-12-16")]
    assert (row["stance"], row["last_change_bp"], row["cuts_in_cycle"], row["bp_cut_in_cycle"]) == ("easing", -75, 1, 75)
    assert row["target_mid"] == 0.125


def reference_history(conn):
    """core.policy_rate_daily from the shipped decisions (config/fomc_decisions.csv) to 2025-12-31."""
    decisions = read_reference()
    first = decisions[0]
    initial = first.target_upper - first.change_bp / 100
    changes = [(d.effective_date, d.target_lower, d.target_upper,
                "single" if d.effective_date < D("2008-12-16") else "range") for d in decisions]
    return insert_policy(conn, "1990-01-01", "2025-12-31", (initial, initial), changes, kind="single")


def test_the_real_decisions_give_the_2025_cycle(conn, monkeypatch):
    days = reference_history(conn)
    run_models(conn, *FED)
    got = fed_rows(conn)
    last = got[D("2025-12-31")]
    # 2024-12-19 -> 2025-09-18 is 273 days (> 180): the 2025 cuts are a cycle of their own
    assert (as_date(last["cycle_first_cut_date"]), last["cuts_in_cycle"], last["bp_cut_in_cycle"]) == (D("2025-09-18"), 3, 75)
    assert (last["target_lower"], last["target_upper"], last["target_mid"]) == (3.50, 3.75, 3.625)
    assert last["days_since_first_cut"] == (D("2025-12-31") - D("2025-09-18")).days
    assert as_date(last["last_change_date"]) == D("2025-12-11")
    assert last["easing_active"] is True
    before = got[D("2025-09-17")]
    assert (as_date(before["cycle_first_cut_date"]), before["cuts_in_cycle"], before["bp_cut_in_cycle"]) == (D("2024-09-19"), 3, 100)
    assert got[D("2024-09-18")]["stance"] == "tightening"
    assert got[D("2024-09-19")]["bp_cut_in_cycle"] == 50
    # every day against the python loop
    expected = expected_policy(days)
    for day in (D("1990-07-13"), D("2001-12-31"), D("2008-12-16"), D("2020-03-16"), D("2022-03-17")):
        row = got[day]
        assert {k: (as_date(row[k]) if k.endswith("_date") else row[k]) for k in expected[day]} == expected[day], day
    starts = sorted({v["cycle_first_cut_date"] for v in expected.values() if v["cycle_first_cut_date"]})
    assert sorted(as_date(d) for d in {r["cycle_first_cut_date"] for r in got.values()} if d is not None) == starts
    assert starts[-2:] == [D("2024-09-19"), D("2025-09-18")]
    # core.fomc_decisions applies the same rule: the 2025 cuts' cycle starts 2025-09-18 there too
    assert rows(conn, "select cycle_start from core.fomc_decisions where effective_date = date '2025-12-11'") == [
        (D("2025-09-18"),)
    ]
    # a gap rule long enough to bridge 273 days makes it one cycle of 6 cuts: 50 + 5 x 25 bp
    with_gap(monkeypatch, 300)
    run_models(conn, *FED)
    last = fed_rows(conn)[D("2025-12-31")]
    assert (as_date(last["cycle_first_cut_date"]), last["cuts_in_cycle"], last["bp_cut_in_cycle"]) == (D("2024-09-19"), 6, 175)


def test_one_easing_cycle_rule_in_both_tables(conn):
    """For every cut of the shipped history: core.fomc_decisions.cycle_start, marts.fed_policy's
    cycle_first_cut_date on the cut's day and the python loop (expected_policy) agree."""
    days = reference_history(conn)
    run_models(conn, *FED)
    expected = expected_policy(days)
    cuts = rows(conn, """
        select decisions.effective_date, decisions.cycle_start, fed.cycle_first_cut_date
        from core.fomc_decisions as decisions
        inner join marts.fed_policy as fed on fed.day = decisions.effective_date
        where decisions.direction = 'cut' order by 1""")
    assert len(cuts) == sum(1 for d in read_reference() if d.change_bp < 0)
    for day, cycle_start, first_cut in cuts:
        assert as_date(cycle_start) == as_date(first_cut) == expected[day]["cycle_first_cut_date"], day
    by_day = {day: as_date(start) for day, start, _ in cuts}
    # the 2024 cuts are one cycle and the 2025 cuts another (273 days > 180)
    assert [by_day[D(d)] for d in ("2024-09-19", "2024-12-19", "2025-09-18", "2025-12-11")] == [
        D("2024-09-19"), D("2024-09-19"), D("2025-09-18"), D("2025-09-18")]


def test_fed_policy_headline(conn):
    reference_history(conn)
    result = run_models(conn, *FED)["fed_policy"]
    assert result.headline == {"target_mid_latest": 3.625, "cuts_in_cycle_latest": 3.0,
                               "days_since_first_cut_latest": float((D("2025-12-31") - D("2025-09-18")).days)}
    assert result.latest_date == D("2025-12-31")


# ---------------------------------------------------------------------------------------------
# easing_cycle_study and easing_cycle_summary

HORIZONS = (21, 63, 126, 252)


def study_prices(conn):
    """IWM and SPY on 400 weekdays from 2020-01-01, each missing a few days the other has."""
    days = [d.date() for d in pd.bdate_range("2020-01-01", periods=400)]
    iwm_missing = {D("2020-01-31"), days[100]}  # 2020-01-31: the Friday before a Saturday cut
    spy_missing = {days[150], days[151]}
    data = {}
    for ticker, missing, drift in (("IWM", iwm_missing, 0.0011), ("SPY", spy_missing, 0.0007)):
        level = 100.0
        for i, day in enumerate(days):
            level *= 1 + drift + 0.01 * math.sin(i * (1.3 if ticker == "IWM" else 0.7))
            if day not in missing:
                # close differs from adj_close: the study must use adj_close
                data[(ticker, day)] = (level * 1.5, level)
    insert_prices(conn, [(t, d, c, a) for (t, d), (c, a) in data.items()])
    return days, data


def expected_study(data, first_cuts):
    """The event study by plain python: common sessions, base on or before, h-th session after."""
    common = sorted({d for (t, d) in data if t == "IWM"} & {d for (t, d) in data if t == "SPY"})
    out = {}
    for cut in first_cuts:
        before = [d for d in common if d <= cut]
        for h in HORIZONS:
            if not before:
                out[(cut, h)] = (None, None, None, None, None)
                continue
            base = before[-1]
            i = common.index(base) + h
            if i >= len(common):
                out[(cut, h)] = (base, None, None, None, None)
                continue
            later = common[i]
            small = data[("IWM", later)][1] / data[("IWM", base)][1] - 1
            large = data[("SPY", later)][1] / data[("SPY", base)][1] - 1
            out[(cut, h)] = (base, later, small, large, (1 + small) / (1 + large) - 1)
    return out


@pytest.fixture
def study(conn):
    days, data = study_prices(conn)
    cut_late = days[300]  # 21 and 63 sessions fit in the 400, 126 and 252 do not
    insert_policy(conn, "2019-01-01", "2021-12-31", (2.25, 2.50), [
        ("2019-06-01", 2.00, 2.25),  # first cut before the prices begin: no base
        ("2019-09-01", 2.25, 2.50),  # hike
        ("2020-02-01", 1.75, 2.00),  # a Saturday: base on or before it
        ("2020-04-01", 1.50, 1.75),  # same cycle: not a first cut
        ("2020-08-03", 1.75, 2.00),  # hike
        (cut_late, 1.50, 1.75),
    ])
    results = run_models(conn, *STUDY)
    return data, [D("2019-06-01"), D("2020-02-01"), cut_late], results


def test_study_types_and_dependencies(conn, study):
    found = {m.name: m for m in sql_models.discover()}
    params = sql_models.load_params()
    for name in ("easing_cycle_study", "easing_cycle_summary"):
        model = found[name]
        assert sql_models.column_types(conn, model.relation) == model.column_types, name
    assert found["easing_cycle_study"].dependencies(params) == {"marts.fed_policy", "config.pairs", "core.prices_daily"}
    assert found["easing_cycle_summary"].dependencies(params) == {"marts.easing_cycle_study"}


def test_study_matches_python(conn, study):
    data, first_cuts, _ = study
    expected = expected_study(data, first_cuts)
    got = rows(conn, """
        select first_cut_date, horizon_sessions, base_date, horizon_date, small_return, large_return, excess,
               pair, small, large, first_cut_bp
        from marts.easing_cycle_study order by first_cut_date, horizon_sessions""")
    assert [(r[0], r[1]) for r in got] == [(c, h) for c in first_cuts for h in HORIZONS]
    for r in got:
        exp = expected[(r[0], r[1])]
        assert r[2:4] == exp[:2], r
        for g, e in zip(r[4:7], exp[2:], strict=True):
            assert approx_or_none(g, e), r
        assert r[7:10] == ("IWM/SPY", "IWM", "SPY")
    assert {r[0]: r[10] for r in got} == {first_cuts[0]: 25, first_cuts[1]: 50, first_cuts[2]: 25}


def test_study_by_hand(conn, study):
    data, (before_data, saturday, late), _ = study
    by = {(r[0], r[1]): r[2:] for r in rows(conn, """
        select first_cut_date, horizon_sessions, base_date, horizon_date, small_return, large_return, excess
        from marts.easing_cycle_study""")}
    # a cut before the pair's first common session: no base, every value NULL
    assert by[(before_data, 21)] == (None, None, None, None, None)
    # Saturday 2020-02-01: IWM has no 2020-01-31, so the base is Thursday 2020-01-30
    base, horizon, small, large, excess = by[(saturday, 21)]
    assert base == D("2020-01-30")
    # 21 common sessions after Thursday 2020-01-30 (weekdays from 2020-01-31 on, with no gaps until
    # day 100): Jan 31 and Feb 3 .. Feb 28 is 21 weekdays, and Jan 31 is not common -> Mar 2
    assert horizon == D("2020-03-02")
    assert small == pytest.approx(data[("IWM", horizon)][1] / data[("IWM", base)][1] - 1)
    assert large == pytest.approx(data[("SPY", horizon)][1] / data[("SPY", base)][1] - 1)
    assert excess == pytest.approx((1 + small) / (1 + large) - 1)
    # the late cycle: 63 sessions fit in the data, 126 and 252 run past it (NULL, base kept)
    assert by[(late, 63)][1] is not None
    assert by[(late, 126)][0] == late and by[(late, 126)][1:] == (None, None, None, None)
    assert by[(late, 252)][1:] == (None, None, None, None)


def test_summary_matches_the_study_rows(conn, study):
    data, first_cuts, results = study
    expected = expected_study(data, first_cuts)
    got = rows(conn, "select horizon_sessions, cycles_total, cycles, first_cycle, last_cycle, median_excess, "
                     "mean_excess, share_positive, median_small_return, median_large_return "
                     "from marts.easing_cycle_summary where pair = 'IWM/SPY' order by 1")
    assert [r[0] for r in got] == list(HORIZONS)
    for r in got:
        have = [expected[(c, r[0])] for c in first_cuts if expected[(c, r[0])][4] is not None]
        excess = [e[4] for e in have]
        assert r[1] == 3 and r[2] == len(have)
        cuts_with_data = [c for c in first_cuts if expected[(c, r[0])][4] is not None]
        assert r[3:5] == ((min(cuts_with_data), max(cuts_with_data)) if cuts_with_data else (None, None))
        assert approx_or_none(r[5], statistics.median(excess) if excess else None)
        assert approx_or_none(r[6], statistics.fmean(excess) if excess else None)
        assert approx_or_none(r[7], sum(e > 0 for e in excess) / len(excess) if excess else None)
        assert approx_or_none(r[8], statistics.median([e[2] for e in have]) if have else None)
        assert approx_or_none(r[9], statistics.median([e[3] for e in have]) if have else None)
    assert results["easing_cycle_study"].headline["cycles_studied"] == 3.0


def create_study_table(conn, study_rows):
    """marts.easing_cycle_study with hand-made rows, to test the summary alone."""
    model = {m.name: m for m in sql_models.discover()}["easing_cycle_study"]
    cols = ", ".join(f'"{c}" {t}' for c, t in model.column_types.items())
    conn.execute("create schema if not exists marts")
    conn.execute(f"create or replace table marts.easing_cycle_study ({cols})")
    conn.executemany(f"insert into marts.easing_cycle_study values ({', '.join('?' * len(model.columns))})", study_rows)


def test_summary_median_and_share_by_hand(conn):
    def row(cut, h, excess, pair=("IWM/SPY", "IWM", "SPY")):
        small = None if excess is None else excess  # large return 0: excess = small return
        large = None if excess is None else 0.0
        return (*pair, D(cut), 25, h, D(cut), None if excess is None else D(cut) + DAY, small, large, excess)

    create_study_table(conn, [
        # 21 sessions: an even count, median = mean of the middle two (0.02 and 0.10)
        row("2001-01-03", 21, 0.10), row("2007-09-18", 21, -0.05), row("2019-08-01", 21, 0.02), row("2024-09-19", 21, 0.30),
        # 252 sessions: two cycles without data; 0.0 is not positive
        row("2001-01-03", 252, 0.10), row("2007-09-18", 252, None), row("2019-08-01", 252, -0.20),
        row("2024-09-19", 252, 0.0), row("2025-09-18", 252, None),
        # 63 sessions: no cycle with data at all
        row("2025-09-18", 63, None),
        ("^RUT/^GSPC", "^RUT", "^GSPC", D("2001-01-03"), 50, 21, D("2001-01-03"), D("2001-02-02"), 0.5, 0.1, 0.5),
    ])
    results = run_models(conn, "easing_cycle_summary")
    got = {(r[0], r[1]): r[2:] for r in rows(conn, """
        select pair, horizon_sessions, cycles_total, cycles, first_cycle, last_cycle, median_excess,
               mean_excess, share_positive from marts.easing_cycle_summary""")}
    assert got[("IWM/SPY", 21)][:4] == (4, 4, D("2001-01-03"), D("2024-09-19"))
    assert got[("IWM/SPY", 21)][4] == pytest.approx(0.06)
    assert got[("IWM/SPY", 21)][5] == pytest.approx(0.0925)
    assert got[("IWM/SPY", 21)][6] == 0.75
    assert got[("IWM/SPY", 252)][:4] == (5, 3, D("2001-01-03"), D("2024-09-19"))
    assert got[("IWM/SPY", 252)][4] == pytest.approx(0.0)
    assert got[("IWM/SPY", 252)][6] == pytest.approx(1 / 3)
    assert got[("IWM/SPY", 63)] == (1, 0, None, None, None, None, None)
    assert got[("^RUT/^GSPC", 21)][:4] == (1, 1, D("2001-01-03"), D("2001-01-03"))
    assert results["easing_cycle_summary"].headline == {"rut_gspc_median_excess_252d": None, "rut_gspc_share_positive_252d": None}


# ---------------------------------------------------------------------------------------------
# valuation_gap


def insert_valuations(conn, rows_):
    """rows: (as_of_date, ticker, metric, value[, method[, source[, publisher]]]); basis from the metric."""
    full = []
    for row in rows_:
        day, ticker, metric, value, *rest = row
        method = rest[0] if len(rest) > 0 else "provider_field"
        source = rest[1] if len(rest) > 1 else "live"
        publisher = rest[2] if len(rest) > 2 else ("Yahoo Finance" if source == "live" else None)
        basis = metric.rsplit("_", 1)[1]
        full.append((D(day) if isinstance(day, str) else day, ticker, metric, value, basis, method, publisher, source))
    conn.executemany(
        "insert into core.valuations (as_of_date, ticker, metric, value, basis, method, publisher, source, loaded_at) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, now())", full)


def gap_rows(conn, where="true"):
    cursor = conn.execute(f"select * from marts.valuation_gap where {where} order by pair, metric, basis, method, source, publisher, as_of_date")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def expected_history(discounts):
    """Mean, sample deviation and z-score of each value against the values before it only."""
    out = []
    for i, value in enumerate(discounts):
        prior = discounts[:i]
        avg = statistics.fmean(prior) if prior else None
        std = statistics.stdev(prior) if len(prior) >= 2 else None
        z = (value - avg) / std if std else None
        out.append((avg, std, z, len(prior)))
    return out


def test_valuation_gap_types_and_dependencies(conn):
    insert_valuations(conn, [("2025-01-02", "IWM", "pe_trailing", 18.0), ("2025-01-02", "SPY", "pe_trailing", 24.0)])
    run_models(conn, "valuation_gap")
    model = {m.name: m for m in sql_models.discover()}["valuation_gap"]
    assert sql_models.column_types(conn, model.relation) == model.column_types
    assert model.dependencies(sql_models.load_params()) == {"config.pairs", "core.valuations"}
    assert model.date_column == "as_of_date"
    (row,) = gap_rows(conn)
    assert (row["pair"], row["small"], row["large"], row["metric"], row["basis"], row["method"], row["source"]) == (
        "IWM/SPY", "IWM", "SPY", "pe", "trailing", "provider_field", "live")
    assert row["publisher"] is None  # only published rows keep it
    assert (row["small_value"], row["large_value"]) == (18.0, 24.0)
    assert row["ratio"] == pytest.approx(0.75)
    assert row["discount"] == pytest.approx(0.25)
    assert (row["discount_avg_prior"], row["discount_std_prior"], row["discount_z"], row["n_prior"]) == (None, None, None, 0)


def test_valuation_z_score_uses_earlier_dates_only(conn):
    days = [d.date() for d in pd.bdate_range("2024-01-02", periods=40)]
    rng = __import__("random").Random(7)
    small = [round(rng.uniform(14, 20), 4) for _ in days]
    large = [round(rng.uniform(20, 26), 4) for _ in days]
    insert_valuations(conn, [(d, "IWM", "pe_trailing", s) for d, s in zip(days, small, strict=True)]
                      + [(d, "SPY", "pe_trailing", v) for d, v in zip(days, large, strict=True)])
    run_models(conn, "valuation_gap")
    got = gap_rows(conn)
    discounts = [1 - s / v for s, v in zip(small, large, strict=True)]
    assert [r["as_of_date"] for r in got] == days
    for r, disc, (avg, std, z, n) in zip(got, discounts, expected_history(discounts), strict=True):
        assert r["discount"] == pytest.approx(disc, rel=1e-12)
        assert r["ratio"] == pytest.approx(1 - disc, rel=1e-12)
        assert approx_or_none(r["discount_avg_prior"], avg, rel=1e-9)
        assert approx_or_none(r["discount_std_prior"], std, rel=1e-9)
        assert approx_or_none(r["discount_z"], z, rel=1e-9)
        assert r["n_prior"] == n
    # by hand on the third date: the mean and deviation of the first two discounts only
    d0, d1, d2 = discounts[:3]
    assert got[1]["discount_z"] is None  # one earlier date: no deviation
    assert got[2]["discount_z"] == pytest.approx((d2 - (d0 + d1) / 2) / (abs(d0 - d1) / math.sqrt(2)))
    # no look-ahead: a wild later figure changes nothing on the earlier dates
    insert_valuations(conn, [(D("2024-06-03"), "IWM", "pe_trailing", 2.0), (D("2024-06-03"), "SPY", "pe_trailing", 30.0)])
    run_models(conn, "valuation_gap")
    again = gap_rows(conn)
    assert again[:-1] == got
    assert again[-1]["n_prior"] == len(days)
    avg, std, z, _ = expected_history([*discounts, 1 - 2.0 / 30.0])[-1]
    assert again[-1]["discount_z"] == pytest.approx(z, rel=1e-9)


def test_valuation_series_match_on_metric_basis_method_and_source(conn):
    insert_valuations(conn, [
        # the same day: provider_field pairs with provider_field, holdings_average with holdings_average
        ("2025-01-02", "IWM", "pe_trailing", 18.0, "provider_field"),
        ("2025-01-02", "SPY", "pe_trailing", 24.0, "provider_field"),
        ("2025-01-02", "IWM", "holdings_pe_trailing", 15.0, "holdings_average"),
        ("2025-01-02", "SPY", "holdings_pe_trailing", 25.0, "holdings_average"),
        # a forward figure on one side only: no row (never forward against trailing)
        ("2025-01-02", "IWM", "pe_forward", 14.0, "provider_field"),
        ("2025-01-02", "SPY", "pe_trailing", 24.0, "provider_field", "files"),
        # methods differ: no row
        ("2025-01-03", "IWM", "pe_trailing", 18.0, "ex_negative_earnings"),
        ("2025-01-03", "SPY", "pe_trailing", 24.0, "provider_field"),
        # only one side that day: no row, and not counted in n_prior
        ("2025-01-06", "IWM", "pe_trailing", 17.0, "provider_field"),
        ("2025-01-07", "IWM", "pe_trailing", 19.0, "provider_field"),
        ("2025-01-07", "SPY", "pe_trailing", 25.0, "provider_field"),
        # the files source is its own series beside live on the same days
        ("2025-01-02", "IWM", "pe_trailing", 20.0, "provider_field", "files"),
        ("2025-01-07", "IWM", "pe_trailing", 21.0, "provider_field", "files"),
        ("2025-01-07", "SPY", "pe_trailing", 28.0, "provider_field", "files"),
    ])
    run_models(conn, "valuation_gap")
    got = [(r["metric"], r["basis"], r["method"], r["source"], r["as_of_date"], r["small_value"], r["large_value"], r["n_prior"])
           for r in gap_rows(conn)]
    assert got == [
        ("holdings_pe", "trailing", "holdings_average", "live", D("2025-01-02"), 15.0, 25.0, 0),
        ("pe", "trailing", "provider_field", "files", D("2025-01-02"), 20.0, 24.0, 0),
        ("pe", "trailing", "provider_field", "files", D("2025-01-07"), 21.0, 28.0, 1),
        ("pe", "trailing", "provider_field", "live", D("2025-01-02"), 18.0, 24.0, 0),
        ("pe", "trailing", "provider_field", "live", D("2025-01-07"), 19.0, 25.0, 1),
    ]
    live = gap_rows(conn, "source = 'live' and metric = 'pe'")
    assert live[1]["discount_avg_prior"] == pytest.approx(0.25)  # the live 2025-01-02 discount, not the files one


def test_published_figures_pair_within_one_publisher(conn):
    insert_valuations(conn, [
        ("2026-01-02", "^RUT", "pe_forward", 18.11, "unstated", "published", "The Money Unlock"),
        ("2026-01-02", "^GSPC", "pe_forward", 22.3, "unstated", "published", "The Money Unlock"),
        ("2026-01-02", "^RUT/^GSPC", "pe_discount_forward", 0.19, "relative", "published", "The Money Unlock"),
        # another publisher's ^SP600 of the same day is never set against The Money Unlock's ^GSPC
        ("2026-01-02", "^SP600", "pe_forward", 15.0, "unstated", "published", "Someone Else"),
        ("2026-01-12", "^SP600", "pe_forward", 15.6, "unstated", "published", "Barron's"),
        ("2026-01-12", "^GSPC", "pe_forward", 22.6, "unstated", "published", "Barron's"),
        ("2026-02-13", "^RUT", "pe_forward", 16.0, "unstated", "published", "Benzinga"),
        ("2026-02-13", "^GSPC", "pe_forward", 21.0, "unstated", "published", "Benzinga"),
        # a live snapshot of the same day: its own series
        ("2026-02-13", "^RUT", "pe_forward", 17.0, "provider_field", "live"),
        ("2026-02-13", "^GSPC", "pe_forward", 22.0, "provider_field", "live"),
    ])
    results = run_models(conn, "valuation_gap", universe=small_universe(pairs=(("^RUT", "^GSPC"),)))
    got = [(r["pair"], r["source"], r["publisher"], r["as_of_date"], round(r["discount"], 6), r["n_prior"], r["published_discount"])
           for r in gap_rows(conn)]
    assert got == [
        ("^RUT/^GSPC", "live", None, D("2026-02-13"), round(1 - 17 / 22, 6), 0, None),
        ("^RUT/^GSPC", "published", "Benzinga", D("2026-02-13"), round(1 - 16 / 21, 6), 0, None),
        ("^RUT/^GSPC", "published", "The Money Unlock", D("2026-01-02"), round(1 - 18.11 / 22.3, 6), 0, 0.19),
        # ^SP600/^GSPC is no universe pair: it comes from valuation_extra_pairs
        ("^SP600/^GSPC", "published", "Barron's", D("2026-01-12"), round(1 - 15.6 / 22.6, 6), 0, None),
    ]
    assert results["valuation_gap"].headline == {"iwm_spy_pe_trailing_discount": None, "iwm_spy_pe_trailing_discount_z": None}


def test_extra_pairs_parameter(conn):
    insert_valuations(conn, [(d, t, "pe_trailing", v) for d in ("2025-01-02", "2025-01-03")
                             for t, v in (("IWM", 18.0), ("SPY", 24.0), ("VB", 19.0), ("^SP600", 15.0), ("^GSPC", 25.0))])
    run_models(conn, "valuation_gap")
    assert rows(conn, "select distinct pair from marts.valuation_gap order by 1") == [("IWM/SPY",), ("^SP600/^GSPC",)]
    run_models(conn, "valuation_gap", valuation_extra_pairs="")
    assert rows(conn, "select distinct pair from marts.valuation_gap order by 1") == [("IWM/SPY",)]
    # a universe pair named again is not doubled
    run_models(conn, "valuation_gap", valuation_extra_pairs=" VB/SPY , IWM/SPY,^SP600/^GSPC")
    assert rows(conn, "select pair, small, large, count(*) from marts.valuation_gap group by all order by 1") == [
        ("IWM/SPY", "IWM", "SPY", 2), ("VB/SPY", "VB", "SPY", 2), ("^SP600/^GSPC", "^SP600", "^GSPC", 2)]


def test_constant_discount_has_no_z_score(conn):
    insert_valuations(conn, [(d, t, "pe_trailing", v) for d in ("2025-01-02", "2025-01-03", "2025-01-06", "2025-01-07")
                             for t, v in (("IWM", 18.0), ("SPY", 24.0))])
    run_models(conn, "valuation_gap")
    got = gap_rows(conn)
    assert [r["n_prior"] for r in got] == [0, 1, 2, 3]
    assert [r["discount_std_prior"] for r in got] == [None, None, 0.0, 0.0]
    assert [r["discount_z"] for r in got] == [None, None, None, None]  # a zero deviation: no z-score
    assert got[3]["discount_avg_prior"] == pytest.approx(0.25)


def test_valuation_headline_is_the_latest_iwm_spy_trailing_pe(conn):
    insert_valuations(conn, [
        ("2025-01-02", "IWM", "pe_trailing", 18.0), ("2025-01-02", "SPY", "pe_trailing", 24.0),
        ("2025-01-03", "IWM", "pe_trailing", 17.0), ("2025-01-03", "SPY", "pe_trailing", 25.0),
        ("2025-01-06", "IWM", "pe_trailing", 20.0), ("2025-01-06", "SPY", "pe_trailing", 25.0),
        # later, but forward or another pair: not the headline
        ("2025-01-07", "IWM", "pe_forward", 15.0), ("2025-01-07", "SPY", "pe_forward", 22.0),
    ])
    result = run_models(conn, "valuation_gap")["valuation_gap"]
    d = [0.25, 1 - 17 / 25, 0.2]
    z = (d[2] - (d[0] + d[1]) / 2) / statistics.stdev(d[:2])
    assert result.headline["iwm_spy_pe_trailing_discount"] == pytest.approx(0.2)
    assert result.headline["iwm_spy_pe_trailing_discount_z"] == pytest.approx(z)
    assert result.latest_date == D("2025-01-07")
