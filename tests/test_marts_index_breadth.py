"""marts.index_breadth and marts.index_sector_breadth (and staging.ticker_windows under them).

Members come from hand-made snapshots of core.index_members, with additions and deletions between
snapshots, a member without a bar on a session and one with too short a history. Expected values
are computed independently of the SQL: by hand (the numbers are in the comments) and by a plain
pandas computation over the same inputs (`reference`).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

import duckdb
import pandas as pd
import pytest

from tests.model_harness import insert_index_members, insert_prices, rows, run_models, set_indexes
from warehouse import calendar, settings
from warehouse import models as sql_models
from warehouse.db import ensure_schema
from warehouse.load import upsert
from warehouse.prices import PRICES

D = dt.date.fromisoformat
N = None
INDEX_COLUMNS = (
    "index_id, trade_date, membership_basis, members, members_with_bar, advancers, decliners, unchanged, "
    "share_advancing, share_above_sma20, share_above_sma50, share_above_sma200, new_highs_252d, "
    "new_lows_252d, share_near_high_252d, ad_line, ew_return, index_return, ew_excess"
)
SECTOR_COLUMNS = (
    "index_id, sector, trade_date, membership_basis, members, members_with_bar, advancers, decliners, "
    "unchanged, share_advancing, share_above_sma20, share_above_sma50, share_above_sma200, new_highs_252d, "
    "new_lows_252d, share_near_high_252d, ad_line, ew_return"
)
SHORT = {
    "index_breadth_sma_short": 2,
    "index_breadth_sma_medium": 3,
    "index_breadth_sma_long": 4,
    "breadth_high_window": 3,
    "index_breadth_near_high": 0.10,
}


# ------------------------------------------------------------------------------- the reference


def reference(prices, members, indexes, w, projected=False):
    """Both marts' rows computed in pandas and plain Python: ({(index_id, day): row},
    {(index_id, sector, day): row}), each row a tuple in the order of INDEX_COLUMNS / SECTOR_COLUMNS.

    prices: (ticker, day, close, adj_close); members: (index_id, as_of_date, ticker, sector);
    indexes: (index_id, fund, index_symbol); w: the window parameters.
    """
    frame = pd.DataFrame(prices, columns=["ticker", "trade_date", "close", "adj_close"])
    per_ticker = {}
    for ticker, p in frame.sort_values("trade_date").groupby("ticker"):
        p = p.reset_index(drop=True)
        ret = p["adj_close"] / p["adj_close"].shift() - 1
        flags = {}
        for name, n in (
            ("s", w["index_breadth_sma_short"]),
            ("m", w["index_breadth_sma_medium"]),
            ("l", w["index_breadth_sma_long"]),
        ):
            roll = p["close"].rolling(n, min_periods=1)
            flags[name] = [
                (c > m) if k == n else None
                for c, m, k in zip(p["close"], roll.mean(), roll.count(), strict=True)
            ]
        n = w["breadth_high_window"]
        roll = p["close"].rolling(n, min_periods=1)
        highs, lows, counts = roll.max(), roll.min(), roll.count()
        for i, row in p.iterrows():
            full = counts[i] == n
            per_ticker[(ticker, row["trade_date"])] = {
                "ret": None if pd.isna(ret[i]) else float(ret[i]),
                "s": flags["s"][i],
                "m": flags["m"][i],
                "l": flags["l"][i],
                "high": (row["close"] >= highs[i]) if full else None,
                "low": (row["close"] <= lows[i]) if full else None,
                "near": (row["close"] >= (1 - w["index_breadth_near_high"]) * highs[i]) if full else None,
            }
    days = sorted(frame["trade_date"].unique())

    def share(values):
        known = [v for v in values if v is not None]
        return sum(known) / len(known) if known else None

    def measures(tickers, day):
        bars = [per_ticker[(t, day)] for t in tickers if (t, day) in per_ticker]
        rets = [b["ret"] for b in bars if b["ret"] is not None]
        adv, dec = sum(r > 0 for r in rets), sum(r < 0 for r in rets)
        return (
            len(tickers),
            len(bars),
            adv,
            dec,
            sum(r == 0 for r in rets),
            adv / len(rets) if rets else None,
            share([b["s"] for b in bars]),
            share([b["m"] for b in bars]),
            share([b["l"] for b in bars]),
            sum(bool(b["high"]) for b in bars),
            sum(bool(b["low"]) for b in bars),
            share([b["near"] for b in bars]),
        ), adv - dec, (sum(rets) / len(rets) if rets else None)

    by_index, by_sector = {}, {}
    for index_id, _fund, symbol in indexes:
        snapshots = sorted({d for i, d, *_ in members if i == index_id})
        if not snapshots:
            continue
        ad, sector_ad = 0, defaultdict(int)
        for day in days:
            in_force = [d for d in snapshots if d <= day]
            if in_force:
                snapshot, basis = in_force[-1], "point_in_time"
            elif projected:
                snapshot, basis = snapshots[0], "projected"
            else:
                continue
            day_members = {t: s for i, d, t, s in members if i == index_id and d == snapshot}
            values, net, ew = measures(sorted(day_members), day)
            ad += net
            index_bar = per_ticker.get((symbol, day))
            index_ret = index_bar["ret"] if index_bar else None
            excess = ew - index_ret if ew is not None and index_ret is not None else None
            by_index[(index_id, day)] = (index_id, day, basis, *values, ad, ew, index_ret, excess)
            for sector in set(day_members.values()):
                tickers = sorted(t for t, s in day_members.items() if s == sector)
                values, net, ew = measures(tickers, day)
                sector_ad[sector] += net
                by_sector[(index_id, sector, day)] = (
                    index_id, sector, day, basis, *values, sector_ad[sector], ew
                )
    return by_index, by_sector


def assert_same(got: dict, expected: dict):
    """Rows equal, floats to 1e-9 (the SQL sums in decimals, the reference in floats), NULLs exactly."""
    assert sorted(got, key=str) == sorted(expected, key=str)
    for key, row in expected.items():
        assert len(got[key]) == len(row)
        for a, b in zip(got[key], row, strict=True):
            if isinstance(b, float):
                assert a == pytest.approx(b, abs=1e-9), (key, got[key], row)
            else:
                assert a == b, (key, got[key], row)


def stored(conn):
    index = {(r[0], r[1]): r for r in rows(conn, f"select {INDEX_COLUMNS} from marts.index_breadth")}
    sector = {(r[0], r[1], r[2]): r for r in rows(conn, f"select {SECTOR_COLUMNS} from marts.index_sector_breadth")}
    return index, sector


# ------------------------------------------------------------------------------- by hand

DAYS = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"]
CLOSES = {
    "AAA": [10.0, 11.0, 12.0, 11.0, 13.0, 13.0],
    "BBB": [20.0, 19.0, 17.5, 18.0, 21.0, 22.0],  # deleted by the second snapshot
    "CCC": [30.0, 31.0, None, 29.0, 29.0, 30.0],  # no bar on 01-04
    "DDD": [None, None, 5.0, 5.5, 6.0, 5.4],  # added by the second snapshot, a short history
    "ZZZ": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],  # never a member
    "^IDX": [100.0, 101.0, 102.0, 101.0, 103.0, 104.0],  # the index itself
}
# 01-03: AAA, BBB (tech), CCC (energy); 01-05: BBB deleted, DDD (energy) added
MEMBERS = [
    ("idx", D("2024-01-03"), "AAA", "tech"),
    ("idx", D("2024-01-03"), "BBB", "tech"),
    ("idx", D("2024-01-03"), "CCC", "energy"),
    ("idx", D("2024-01-05"), "AAA", "tech"),
    ("idx", D("2024-01-05"), "CCC", "energy"),
    ("idx", D("2024-01-05"), "DDD", "energy"),
]
INDEXES = [("idx", "FND", "^IDX")]


def hand_prices():
    return [
        (t, D(day), c, c)
        for t, closes in CLOSES.items()
        for day, c in zip(DAYS, closes, strict=True)
        if c is not None
    ]


def build_hand(conn, **overrides):
    insert_prices(conn, hand_prices())
    insert_index_members(conn, MEMBERS)
    run_models(conn, "index_breadth", "index_sector_breadth", indexes=INDEXES, **(SHORT | overrides))
    return stored(conn)


# Windows: sma "20" = 2 sessions, "50" = 3, "200" = 4, highs/lows and "near" = 3 sessions.
#  01-02: before the first snapshot: no row.
#  01-03 (AAA, BBB, CCC): AAA +10%, BBB -5%, CCC +1/30. sma2: AAA 11 > 10.5 y, BBB 19 > 19.5 n,
#         CCC 31 > 30.5 y -> 2/3. Nothing has 3 sessions. ew = (0.1 - 0.05 + 1/30) / 3;
#         ^IDX +1%. A/D 2 - 1 = 1.
#  01-04: CCC has no bar: 3 members, 2 with a bar. AAA +1/11, BBB 17.5/19 - 1. sma2: AAA y, BBB n
#         -> 1/2; sma3: AAA 12 > 11 y, BBB 17.5 > 18.83 n -> 1/2. 3-session high: AAA 12 of
#         (10, 11, 12); low: BBB 17.5 of (20, 19, 17.5); near: AAA 12 >= 10.8 y, BBB 17.5 >= 18 n
#         -> 1/2. A/D 1 + 1 - 1 = 1.
#  01-05 (AAA, CCC, DDD; BBB is out): AAA 11/12 - 1, CCC 29/31 - 1 (its previous bar is 01-03),
#         DDD +10%. 1 up, 2 down. sma2: AAA 11 > 11.5 n, CCC 29 > 30 n, DDD 5.5 > 5.25 y -> 1/3.
#         sma3: AAA 11 > 11.33 n, CCC 29 > 30 n, DDD two bars -> 0/2. sma4: AAA 11 > 11 n, CCC
#         three bars, DDD two -> 0/1. lows: AAA 11 of (11, 12, 11) (a tie counts), CCC 29 of
#         (30, 31, 29) -> 2; near: AAA 11 >= 10.8, CCC 29 >= 27.9 -> 2/2. A/D 1 + 1 - 2 = 0.
#         ^IDX 101 / 102 - 1.
#  01-08: AAA +2/11, CCC 0 (unchanged), DDD +1/11: 2 up, 1 unchanged -> 2/3. A/D 2.
HAND = {
    D("2024-01-03"): ("point_in_time", 3, 3, 2, 1, 0, 2 / 3, 2 / 3, N, N, 0, 0, N, 1,
                      (0.1 - 0.05 + 1 / 30) / 3, 0.01, (0.1 - 0.05 + 1 / 30) / 3 - 0.01),
    D("2024-01-04"): ("point_in_time", 3, 2, 1, 1, 0, 0.5, 0.5, 0.5, N, 1, 1, 0.5, 1,
                      (1 / 11 + 17.5 / 19 - 1) / 2, 102 / 101 - 1, (1 / 11 + 17.5 / 19 - 1) / 2 - (102 / 101 - 1)),
    D("2024-01-05"): ("point_in_time", 3, 3, 1, 2, 0, 1 / 3, 1 / 3, 0.0, 0.0, 0, 2, 1.0, 0,
                      (11 / 12 - 1 + 29 / 31 - 1 + 0.1) / 3, 101 / 102 - 1,
                      (11 / 12 - 1 + 29 / 31 - 1 + 0.1) / 3 - (101 / 102 - 1)),
}


def test_index_breadth_by_hand_and_against_pandas(conn):
    index, sector = build_hand(conn)
    assert sorted(day for _, day in index) == [D(d) for d in DAYS[1:]]  # from the first snapshot on
    for day, expected in HAND.items():
        assert_same({day: index[("idx", day)][2:]}, {day: expected})
    assert index[("idx", D("2024-01-08"))][5:9] == (2, 0, 1, 2 / 3)
    assert index[("idx", D("2024-01-08"))][15] == 2
    expected_index, expected_sector = reference(hand_prices(), MEMBERS, INDEXES, SHORT)
    assert_same(index, expected_index)
    assert_same(sector, expected_sector)


def test_a_member_counts_only_while_in_the_snapshot(conn):
    _, sector = build_hand(conn)
    tech = {day: r for (_, s, day), r in sector.items() if s == "tech"}
    energy = {day: r for (_, s, day), r in sector.items() if s == "energy"}
    # tech is AAA and BBB until 01-05, then AAA alone: BBB's rise on 01-05 (17.5 -> 18) is not counted
    assert [tech[d][4] for d in sorted(tech)] == [2, 2, 1, 1, 1]
    assert tech[D("2024-01-05")][6:9] == (0, 1, 0)
    # energy is CCC, then CCC and DDD: DDD's +10% on 01-05 counts from its first snapshot on
    assert [energy[d][4:6] for d in sorted(energy)] == [(1, 1), (1, 0), (2, 2), (2, 2), (2, 2)]
    assert energy[D("2024-01-05")][6:9] == (1, 1, 0)
    # the sector A/D lines: tech 0, 0, -1, 0, 0; energy 1, 1, 1, 2, 2
    assert [tech[d][16] for d in sorted(tech)] == [0, 0, -1, 0, 0]
    assert [energy[d][16] for d in sorted(energy)] == [1, 1, 1, 2, 2]


def test_projected_members_are_labelled_and_point_in_time_rows_unchanged(conn, tmp_path):
    default_index, _ = build_hand(conn)
    other = duckdb.connect(str(tmp_path / "projected.duckdb"))
    ensure_schema(other)
    index, sector = build_hand(other, index_breadth_membership="projected")
    # 01-02 takes the first snapshot's members (AAA, BBB, CCC): no returns yet, labelled projected
    assert index[("idx", D("2024-01-02"))][2:6] == ("projected", 3, 3, 0)
    assert {r[3] for k, r in sector.items() if k[2] == D("2024-01-02")} == {"projected"}
    assert {r[2] for k, r in index.items() if k[1] > D("2024-01-02")} == {"point_in_time"}
    # every later row is the default build's (the A/D line starts one session earlier, at 0)
    for key, row in default_index.items():
        assert index[key] == row
    expected_index, expected_sector = reference(hand_prices(), MEMBERS, INDEXES, SHORT, projected=True)
    assert_same(index, expected_index)
    assert_same(sector, expected_sector)
    other.close()


def test_a_misspelt_membership_option_fails_the_build(conn):
    with pytest.raises(sql_models.ModelError, match="point_in_time or projected, got survivors"):
        build_hand(conn, index_breadth_membership="survivors")


def test_an_index_without_a_price_has_no_index_return(conn):
    insert_prices(conn, hand_prices())
    insert_index_members(conn, MEMBERS + [("other", D("2024-01-08"), "ZZZ", "misc")])
    run_models(
        conn, "index_breadth", "index_sector_breadth",
        indexes=[*INDEXES, ("other", "OTH", "^NONE"), ("unlisted", "NIL", "^IDX")], **SHORT,
    )
    got = rows(conn, "select trade_date, members, advancers, ew_return, index_return, ew_excess "
                     "from marts.index_breadth where index_id = 'other' order by trade_date")
    # ZZZ 4 -> 5 on 01-08, 5 -> 6 on 01-09; no bar for ^NONE; an index with no snapshot has no row
    assert got == [
        (D("2024-01-08"), 1, 1, pytest.approx(0.25), None, None),
        (D("2024-01-09"), 1, 1, pytest.approx(0.2), None, None),
    ]
    assert rows(conn, "select distinct index_id from marts.index_breadth order by 1") == [("idx",), ("other",)]


def test_declared_types(conn):
    build_hand(conn)
    for name in ("ticker_windows", "index_breadth", "index_sector_breadth"):
        model = {m.name: m for m in sql_models.discover()}[name]
        assert sql_models.column_types(conn, model.relation) == model.column_types, name


# ------------------------------------------------------------------------------- random walks


def random_world(seed: int, days: list[dt.date]):
    """Eight stocks on random walks, starting at different sessions and missing some bars; two
    indexes with snapshots that add and delete members, one member without a sector."""
    rng = random.Random(seed)
    prices = []
    for t in ("T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "^I1", "^I2"):
        close = adj = 50.0
        for day in days[rng.randrange(0, 25):]:
            if rng.random() < 0.06:
                continue  # a missing bar
            # unrounded, so a close never ties its average (float sums may differ in the last bit)
            close *= 1 + rng.uniform(-0.03, 0.03)
            adj *= 1 + rng.uniform(-0.03, 0.03)
            prices.append((t, day, close, adj))
    sectors = {"T1": "a", "T2": "a", "T3": "b", "T4": "b", "T5": None, "T6": "a", "T7": "b", "T8": "c"}
    snapshots = {
        ("i1", days[10]): ["T1", "T2", "T3", "T4"],
        ("i1", days[40]): ["T1", "T3", "T4", "T5", "T6"],  # T2 out, T5 and T6 in
        ("i1", days[41]): ["T1", "T3", "T4", "T5", "T6"],  # the same again, a day later
        ("i1", days[90]): ["T3", "T4", "T5", "T7", "T8"],  # T1 and T6 out, T7 and T8 in
        ("i2", days[30]): ["T2", "T5", "T8"],
        ("i2", days[70]): ["T2", "T8", "T1"],
    }
    members = [(i, d, t, sectors[t]) for (i, d), tickers in snapshots.items() for t in tickers]
    return prices, members, [("i1", "F1", "^I1"), ("i2", "F2", "^I2")]


WINDOWS = {
    "index_breadth_sma_short": 5,
    "index_breadth_sma_medium": 10,
    "index_breadth_sma_long": 20,
    "breadth_high_window": 30,
    "index_breadth_near_high": 0.05,
}


@pytest.mark.parametrize("membership", ["point_in_time", "projected"])
def test_matches_pandas_on_random_walks(conn, membership):
    days = calendar.sessions(D("2023-01-03"), D("2023-08-31"))
    prices, members, indexes = random_world(7, days)
    insert_prices(conn, prices)
    insert_index_members(conn, members)
    run_models(conn, "index_breadth", "index_sector_breadth", indexes=indexes,
               index_breadth_membership=membership, **WINDOWS)
    expected_index, expected_sector = reference(
        prices, members, indexes, WINDOWS, projected=membership == "projected"
    )
    index, sector = stored(conn)
    assert_same(index, expected_index)
    assert_same(sector, expected_sector)
    # the data exercises every measure: advancers, decliners, each share, highs, lows, near highs
    values = list(expected_index.values())
    assert all(any(r[i] for r in values) for i in (5, 6, 9, 10, 11, 12, 13, 14))
    assert any(r[2] == "projected" for r in values) == (membership == "projected")


# ------------------------------------------------------------------------------- incremental

BUILT = {"staging": ("returns_daily", "ticker_windows"), "marts": ("index_breadth", "index_sector_breadth")}


def bars(prices) -> pd.DataFrame:
    frame = pd.DataFrame(prices, columns=["ticker", "trade_date", "close", "adj_close"])
    for column in ("open", "high", "low"):
        frame[column] = frame["close"]
    frame["volume"] = 1000.0
    return frame


def build(conn, params) -> dict:
    """Build the models of BUILT in order; {name: BuildResult}."""
    models = [
        sql_models.parse_model(settings.sql_dir() / layer / f"{name}.sql", layer)
        for layer, names in BUILT.items()
        for name in names
    ]
    catalog = {m.relation: m for m in models}
    return {m.name: sql_models.build(conn, m, params, catalog=catalog) for m in models}


def warehouse(prices, members, indexes):
    conn = duckdb.connect()
    ensure_schema(conn)
    set_indexes(conn, indexes)
    upsert(conn, PRICES, bars(prices), source="sample")
    insert_index_members(conn, members)
    return conn


def tables(conn):
    return {
        name: conn.execute(f"select * from {relation} order by all").df()
        for name, relation in (
            ("ticker_windows", "staging.ticker_windows"),
            ("index_breadth", "marts.index_breadth"),
            ("index_sector_breadth", "marts.index_sector_breadth"),
        )
    }


@pytest.mark.parametrize("membership", ["point_in_time", "projected"])
def test_incremental_equals_full_after_a_new_session_and_a_new_snapshot(membership):
    days = calendar.sessions(D("2023-01-03"), D("2023-08-31"))
    prices, members, indexes = random_world(3, days)
    params = sql_models.load_params() | WINDOWS | {"index_breadth_membership": membership}
    last, new_day = days[-2], days[-1]
    daily = warehouse([p for p in prices if p[1] <= last], members, indexes)
    assert {r.mode for r in build(daily, params).values()} == {"full"}

    def same_as_scratch(all_members):
        scratch = warehouse(prices, all_members, indexes)
        build(scratch, params)
        for name, frame in tables(scratch).items():
            pd.testing.assert_frame_equal(tables(daily)[name], frame, check_exact=True, obj=name)

    # one new session
    upsert(daily, PRICES, bars([p for p in prices if p[1] == new_day]), source="sample")
    second = build(daily, params)
    for name in ("ticker_windows", "index_breadth", "index_sector_breadth"):
        assert (second[name].mode, second[name].rebuilt_from) == ("incremental", new_day), name
    same_as_scratch(members)

    # a new snapshot dated some sessions back (a late file): T2 deleted from i1, T6 and a stock
    # with no price at all added; the sessions from its date on are rebuilt
    snapshot_day = days[-6]
    added = [("i1", snapshot_day, t, s) for t, s in (("T3", "b"), ("T4", "b"), ("T6", "a"), ("NOPX", "c"))]
    insert_index_members(daily, added)
    third = build(daily, params)
    assert third["ticker_windows"].mode == "unchanged"  # its windows do not depend on membership
    for name in ("index_breadth", "index_sector_breadth"):
        assert (third[name].mode, third[name].rebuilt_from) == ("incremental", snapshot_day), name
    same_as_scratch(members + added)
    row = rows(daily, "select members, members_with_bar from marts.index_breadth "
                      "where index_id = 'i1' and trade_date = ?", snapshot_day)
    assert row[0][0] == 4 and row[0][1] <= 3  # NOPX is a member without a bar


def test_nothing_changed_means_nothing_rebuilt():
    days = calendar.sessions(D("2023-01-03"), D("2023-06-30"))
    prices, members, indexes = random_world(5, days)
    params = sql_models.load_params() | WINDOWS
    conn = warehouse(prices, members, indexes)
    build(conn, params)
    again = build(conn, params)
    assert {again[n].mode for n in ("ticker_windows", "index_breadth", "index_sector_breadth")} == {"unchanged"}
