"""marts.rotation_regime, marts.rotation_dashboard, marts.claims and the claims file loader.

Upstream marts are built from hand-made prices and rates with the real model files; every
expectation below is worked out by hand from those numbers, not by re-running the SQL.
"""

import datetime as dt

import pytest

from tests.model_harness import insert_index_members, insert_prices, rows, run_models, small_universe
from warehouse import models as sql_models
from warehouse.claims import HEADER, METRICS, ClaimsError, load_claims, read_claims

D = dt.date.fromisoformat
# marts.claims and what it reads: the claim families and the marts they take figures from
CLAIMS_MODELS = (
    "returns_daily",
    "outperformance_streaks",
    "fed_policy",
    "easing_cycle_study",
    "yield_curve",
    "valuation_gap",
    "claims_prices",
    "claims_rotation",
    "claims_macro",
    "claims_valuation",
    "claims_breadth",
    "claims",
)
PRICE_MODELS = (  # staging.returns_daily and the marts built from prices
    "returns_daily",
    "period_returns",
    "relative_strength",
    "outperformance_streaks",
    "highs_drawdowns",
    "breadth",
    "index_breadth",
)


def insert_policy(conn, spans):
    """spans: (first day, last day, lower, upper): the target range on every calendar day."""
    out = []
    for first, last, lower, upper in spans:
        day = D(first)
        while day <= D(last):
            out.append((day, lower, upper, (lower + upper) / 2, "range", None, None, None))
            day += dt.timedelta(days=1)
    conn.executemany("insert into core.policy_rate_daily values (?, ?, ?, ?, ?, ?, ?, ?)", out)


def insert_rates(conn, series_id, values):
    """values: {date: value} of one FRED series."""
    conn.executemany(
        "insert into core.rates_daily values (?, ?, ?, 'sample', now())",
        [(series_id, D(day), value) for day, value in values.items()],
    )


def insert_valuations(conn, figures):
    """Into core.valuations: (as_of_date, ticker, metric, value, source[, method[, publisher]])."""
    out = []
    for day, ticker, metric, value, source, *rest in figures:
        method = rest[0] if rest else ("synthetic" if source == "sample" else "unstated")
        publisher = rest[1] if len(rest) > 1 else None
        out.append(
            (D(day), ticker, metric, value, metric.rsplit("_", 1)[1], method, publisher, source)
        )
    conn.executemany(
        "insert into core.valuations values (?, ?, ?, ?, ?, ?, ?, null, null, ?, now())", out
    )


def write_claims(tmp_path, lines, name="claims.csv"):
    path = tmp_path / name
    path.write_text("\n".join([",".join(HEADER), *lines]) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------- claims


@pytest.fixture
def claims_world(conn, tmp_path):
    """^RUT and ^GSPC around the 2026 new year, a Fed cut on 2025-12-11, one valuation."""
    days = ["2025-12-30", "2025-12-31", "2026-01-02", "2026-01-05", "2026-01-09"]
    rut = [1990.0, 2000.0, 2040.0, 2080.0, 2100.0]
    gspc = [6000.0, 6000.0, 6030.0, 6030.0, 6060.0]
    insert_prices(
        conn,
        [("^RUT", d, c) for d, c in zip(days, rut, strict=True)]
        + [("^GSPC", d, c) for d, c in zip(days, gspc, strict=True)],
    )
    insert_policy(
        conn, [("2025-12-01", "2025-12-10", 3.75, 4.00), ("2025-12-11", "2025-12-31", 3.50, 3.75)]
    )
    money = "The Money Unlock"
    insert_valuations(
        conn,
        [
            # two publishers' P/E pairs on one day: 1 - 18.11 / 22.3 = 0.1879, 1 - 15 / 20 = 0.25
            ("2026-01-02", "^RUT", "pe_forward", 18.11, "published", "unstated", money),
            ("2026-01-02", "^GSPC", "pe_forward", 22.3, "published", "unstated", money),
            ("2026-01-02", "^RUT", "pe_trailing", 15.0, "published", "unstated", "Other Pub"),
            ("2026-01-02", "^GSPC", "pe_trailing", 20.0, "published", "unstated", "Other Pub"),
            # a snapshot, not a published figure: never used by a claim
            ("2026-01-05", "^RUT", "pe_trailing", 10.0, "sample"),
            ("2026-01-05", "^GSPC", "pe_trailing", 20.0, "sample"),
        ],
    )
    path = write_claims(
        tmp_path,
        [
            "close_holds,Pub A,https://example.org/a,2026-01-10,close,^RUT,,2026-01-09,2100.00,0.005,",
            "close_contradicted,Pub A,https://example.org/a,,close,^RUT,,2026-01-09,2603.90,0.005,",
            "close_not_a_session,Pub A,https://example.org/a,,close,^RUT,,2026-01-10,2100,0.005,"
            "a Saturday",
            "close_unknown_ticker,Pub A,https://example.org/a,,close,^XYZ,,2026-01-09,2100,0.005,",
            # 2100 / 2000 - 1 = 0.05: one account rounds it right, the other does not
            'week_holds,Pub B,"Small caps, week one",,price_return,^RUT,2025-12-31,2026-01-09,'
            '0.05,0.0005,"base 12-31, end 01-09"',
            "week_contradicted,Pub C,title only,,price_return,^RUT,2025-12-31,2026-01-09,"
            "0.0469,0.00005,",
            "week_start_not_a_session,Pub C,title only,,price_return,^RUT,2026-01-01,2026-01-09,"
            "0.05,0.0005,",
            # base: the last close of 2025 (12-31, 2000); 2080 / 2000 - 1 = 0.04
            "ytd_holds,Pub D,x,,ytd_return,^RUT,,2026-01-05,0.04,0.0005,",
            # no close of an earlier year for 2025 (the data starts 2025-12-30)
            "ytd_no_base,Pub D,x,,ytd_return,^RUT,,2025-12-31,0.01,0.0005,",
            # ^RUT beat ^GSPC on 12-31 (+0.50% vs 0), 01-02 (+2% vs +0.5%), 01-05 (+1.92% vs 0) and
            # 01-09 (+0.96% vs +0.50%): four wins in a row
            "streak_holds,Pub E,x,,outperformance_streak,^RUT/^GSPC,,2026-01-09,4,0,",
            "streak_contradicted,Pub E,x,,outperformance_streak,^RUT/^GSPC,,2026-01-09,11,0,",
            "fed_lower_holds,Pub F,x,,fed_target_lower,,,2025-12-11,3.50,0,",
            "fed_upper_contradicted,Pub F,x,,fed_target_upper,,,2025-12-11,4.00,0,",
            "fed_beyond_data,Pub F,x,,fed_target_upper,,,2026-03-01,3.75,0,",
            # one change in the stored history, a cut: a cycle of one cut
            "fed_cuts,Pub F,x,,fed_cuts_in_cycle,,,2025-12-31,3,0,",
            "fed_cuts_before,Pub F,x,,fed_cuts_in_cycle,,,2025-12-05,0,0,",
            # the latest published day on or before 01-09 is 01-02; the claim's publisher's pair
            "pe_discount_holds,The Money Unlock,x,,valuation_discount,^RUT/^GSPC,,2026-01-09,"
            "0.19,0.005,18.1 vs 22.3",
            # another publisher's claim has no figure of its own: by basis, forward (The Money
            # Unlock's) before trailing
            "pe_discount_other,Pub G,x,,valuation_discount,^RUT/^GSPC,,2026-01-09,0.25,0,",
            "pe_discount_before_any,Pub G,x,,valuation_discount,^RUT/^GSPC,,2025-12-31,0.19,0.005,",
        ],
    )
    assert load_claims(conn, path) == 19
    run_models(conn, *CLAIMS_MODELS, universe=small_universe(pairs=(("^RUT", "^GSPC"),)))
    got = rows(conn, "select claim_id, computed_value, verdict from marts.claims")
    return {claim: (value, verdict) for claim, value, verdict in got}


EXPECTED_VERDICTS = {
    "close_holds": (2100.0, "holds"),
    "close_contradicted": (2100.0, "contradicted"),
    "close_not_a_session": (None, "no data"),
    "close_unknown_ticker": (None, "no data"),
    "week_holds": (0.05, "holds"),
    "week_contradicted": (0.05, "contradicted"),
    "week_start_not_a_session": (None, "no data"),
    "ytd_holds": (0.04, "holds"),
    "ytd_no_base": (None, "no data"),
    "streak_holds": (4.0, "holds"),
    "streak_contradicted": (4.0, "contradicted"),
    "fed_lower_holds": (3.50, "holds"),
    "fed_upper_contradicted": (3.75, "contradicted"),
    "fed_beyond_data": (None, "no data"),
    "fed_cuts": (1.0, "contradicted"),
    "fed_cuts_before": (0.0, "holds"),
    "pe_discount_holds": (1 - 18.11 / 22.3, "holds"),
    "pe_discount_other": (1 - 18.11 / 22.3, "contradicted"),
    "pe_discount_before_any": (None, "no data"),
}


def test_claims_verdicts(claims_world):
    assert set(claims_world) == set(EXPECTED_VERDICTS)
    for claim, (value, verdict) in EXPECTED_VERDICTS.items():
        got_value, got_verdict = claims_world[claim]
        assert got_verdict == verdict, claim
        assert got_value == (None if value is None else pytest.approx(value)), claim


def test_claims_rows_keep_the_file(conn, claims_world):
    first = rows(conn, "select * from marts.claims limit 1")[0]
    columns = [r[0] for r in rows(conn, "describe marts.claims")]
    row = dict(zip(columns, first, strict=True))
    assert row["claim_id"] == "close_holds" and row["publisher"] == "Pub A"
    assert row["published_on"] == D("2026-01-10") and row["as_of_date"] == D("2026-01-09")
    assert row["difference"] == pytest.approx(0.0)
    week = rows(
        conn,
        "select source_ref, start_date, difference, reading from marts.claims "
        "where claim_id = 'week_contradicted'",
    )
    assert week[0][:2] == ("title only", D("2025-12-31"))
    assert week[0][2] == pytest.approx(0.05 - 0.0469)
    assert rows(
        conn, "select source_ref, reading from marts.claims where claim_id = 'week_holds'"
    ) == [("Small caps, week one", "base 12-31, end 01-09")]
    # file order
    assert [r[0] for r in rows(conn, "select claim_id from marts.claims")][:3] == [
        "close_holds",
        "close_contradicted",
        "close_not_a_session",
    ]


def test_claims_model_declares_its_types(conn, claims_world):
    model = {m.name: m for m in sql_models.discover()}["claims"]
    actual = sql_models.column_types(conn, "marts.claims")
    assert actual == model.column_types


def test_a_tolerance_edge_holds(conn, tmp_path):
    insert_prices(conn, [("^RUT", "2026-01-08", 2603.905)])
    # 2603.905 - 2603.90 is 0.005 in decimal and a hair more in binary: still holds
    load_claims(conn, write_claims(tmp_path, ["c,P,x,,close,^RUT,,2026-01-08,2603.90,0.005,"]))
    run_models(conn, *CLAIMS_MODELS)
    assert rows(conn, "select verdict from marts.claims") == [("holds",)]


# --------------------------------------------------------------------------------- claims file


def test_the_shipped_claims_file_loads(conn):
    claims = read_claims()
    ids = {c.claim_id for c in claims}
    assert {
        "rut_close_2026_01_08",
        "rut_close_2026_01_12",
        "rut_first_week_2026_a",
        "rut_first_week_2026_b",
        "rut_gspc_streak_mid_jan_2026",
        "fed_target_lower_2025_12_11",
        "fed_cuts_2025_12_11",
        "rut_gspc_pe_discount_2026_01_02",
    } <= ids
    assert {c.metric for c in claims} == set(METRICS)
    assert all(c.publisher and c.source_ref for c in claims)
    assert load_claims(conn) == len(claims)
    assert rows(
        conn,
        "select claimed_value from core.published_claims where claim_id = 'rut_close_2026_01_08'",
    ) == [(2603.90,)]


def test_a_bad_line_is_named_and_nothing_loads(conn, tmp_path):
    good = write_claims(tmp_path, ["a,P,x,,close,^RUT,,2026-01-08,2603.90,0.005,"], name="good.csv")
    load_claims(conn, good)
    # header on line 1, the comment on line 2 and the blank line 4 are not rows
    path = tmp_path / "bad.csv"
    path.write_text(
        ",".join(HEADER) + "\n"
        "# a comment\n"
        "b,P,x,,close,^RUT,,2026-01-08,2603.90,0.005,\n"
        "\n"
        "c,P,x,,closing_price,^RUT,,2026-01-08,2603.90,0.005,\n",
        encoding="utf-8",
    )
    with pytest.raises(ClaimsError) as err:
        load_claims(conn, path)
    message = str(err.value)
    assert f"{path} line 5" in message and "closing_price" in message and "price_return" in message
    assert "line 3" not in message
    # the table keeps the previous file's rows
    assert rows(conn, "select claim_id from core.published_claims") == [("a",)]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('a,P,x,,close,^RUT,,2026-01-08,"2,603.90",0.005,', "thousands separator"),
        ("a,P,x,,price_return,^RUT,2025-12-31,2026-01-09,4.69%,0.0005,", "write fractions"),
        ("a,P,x,,price_return,^RUT,,2026-01-09,0.0469,0.0005,", "start_date is empty"),
        ("a,P,x,,price_return,^RUT,2026-01-09,2026-01-09,0.0469,0.0005,", "not before as_of_date"),
        ("a,P,x,,close,^RUT,2026-01-02,2026-01-09,2100,0.005,", "has no start_date"),
        ("a,P,x,,close,^RUT,,2026-01-32,2100,0.005,", "not a YYYY-MM-DD date"),
        ("a,P,x,,close,,,2026-01-09,2100,0.005,", "needs a ticker"),
        ("a,P,x,,outperformance_streak,^RUT,,2026-01-09,11,0,", "needs a pair"),
        ("a,P,x,,fed_target_lower,^RUT,,2025-12-11,3.5,0,", "takes no subject"),
        ("a,,x,,close,^RUT,,2026-01-09,2100,0.005,", "publisher is empty"),
        ("a,P,x,,close,^RUT,,2026-01-09,2100,-1,", "negative"),
        ("A b,P,x,,close,^RUT,,2026-01-09,2100,0.005,", "claim_id"),
        ("a,P,x,,close,^RUT,,2026-01-09,2100", "expected 10 to 15 cells"),
    ],
)
def test_malformed_rows_are_refused_with_the_reason(tmp_path, line, expected):
    path = write_claims(tmp_path, [line])
    with pytest.raises(ClaimsError, match=expected) as err:
        read_claims(path)
    assert f"{path} line 2:" in str(err.value)


def test_every_bad_line_is_reported_at_once(tmp_path):
    path = write_claims(
        tmp_path,
        [
            "a,P,x,,close,^RUT,,2026-01-09,2100,0.005,",
            "a,P,x,,close,^RUT,,2026-01-12,2100,0.005,",
            "b,P,x,,close,^RUT,,someday,2100,0.005,",
        ],
    )
    with pytest.raises(ClaimsError) as err:
        read_claims(path)
    message = str(err.value)
    assert "2 bad row(s)" in message
    assert "line 3: claim_id 'a' is already used on line 2" in message
    assert "line 4: as_of_date 'someday'" in message


def test_a_wrong_header_is_refused(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text("claim,publisher\n", encoding="utf-8")
    with pytest.raises(ClaimsError, match="line 1: the header must be"):
        read_claims(path)


# ------------------------------------------------------------------------------------- regime

SESSIONS = [
    "2024-01-02",
    "2024-01-03",
    "2024-01-04",
    "2024-01-05",
    "2024-01-08",
    "2024-01-09",
    "2024-01-10",
    "2024-01-11",
    "2024-01-12",
    "2024-01-16",
]


@pytest.fixture
def regime_world(conn):
    """Ten sessions; each component switches on or off at a known session (see the table)."""
    iwm = [100, 100, 100, 100, 101, 102, 103, 104, 104, 104]
    prices = [("IWM", d, float(c)) for d, c in zip(SESSIONS, iwm, strict=True)]
    prices += [("SPY", d, 100.0) for d in SESSIONS]
    # two small caps, both rising every session: above their 2-session average from the 2nd
    prices += [("AAA", d, 10.0 + i) for i, d in enumerate(SESSIONS)]
    prices += [("BBB", d, 20.0 + i) for i, d in enumerate(SESSIONS)]
    insert_prices(conn, prices)
    # a cut on 2023-12-15; the policy rate stops on 2024-01-10
    insert_policy(
        conn, [("2023-12-01", "2023-12-14", 5.25, 5.50), ("2023-12-15", "2024-01-10", 5.00, 5.25)]
    )
    # the 10y-2y spread widens to the 5th session, then narrows
    dgs10 = [4.10, 4.11, 4.12, 4.13, 4.14, 4.13, 4.12, 4.11, 4.10, 4.09]
    insert_rates(conn, "DGS10", dict(zip(SESSIONS, dgs10, strict=True)))
    insert_rates(conn, "DGS2", dict.fromkeys(SESSIONS, 4.0))
    # The trailing P/E discount of IWM/SPY: 0.15 on 2023-12-01 (its first date: no average), 0.20
    # on 01-09 (above the earlier mean 0.15), 0.10 on 01-12 (below the earlier mean 0.175).
    insert_valuations(
        conn,
        [
            (d, "SPY", "pe_trailing", 20.0, "sample")
            for d in ("2023-12-01", "2024-01-09", "2024-01-12")
        ]
        + [
            ("2023-12-01", "IWM", "pe_trailing", 17.0, "sample"),
            ("2024-01-09", "IWM", "pe_trailing", 16.0, "sample"),
            ("2024-01-12", "IWM", "pe_trailing", 18.0, "sample"),
        ],
    )
    # ignored: another basis, a published figure, and a files series that shares 01-12 with the
    # sample series but has a shorter history
    insert_valuations(
        conn,
        [
            ("2024-01-03", "IWM", "pe_forward", 5.0, "sample"),
            ("2024-01-03", "SPY", "pe_forward", 20.0, "sample"),
            ("2024-01-10", "IWM", "pe_trailing", 2.0, "published", "unstated", "X"),
            ("2024-01-10", "SPY", "pe_trailing", 20.0, "published", "unstated", "X"),
            ("2024-01-12", "IWM", "pe_trailing", 1.0, "files", "provider_field"),
            ("2024-01-12", "SPY", "pe_trailing", 20.0, "files", "provider_field"),
        ],
    )

    def build(first_snapshot=SESSIONS[0], **overrides):
        # the two small caps are the Russell 2000 from its first membership snapshot on; the
        # story-stock group holds a falling stock, which the regime must not read
        insert_index_members(conn, [("russell_2000", first_snapshot, t) for t in ("AAA", "BBB")])
        insert_prices(conn, [("FALL", d, 50.0 - i) for i, d in enumerate(SESSIONS)])
        params = {
            "rs_sma_short": 3,
            "breadth_sma_short": 2,
            "index_breadth_sma_medium": 2,
            "curve_change_window": 1,
            "_breadth_groups": {"story_stocks": ["FALL"]},
        } | overrides
        run_models(
            conn,
            *PRICE_MODELS,
            "yield_curve",
            "fed_policy",
            "valuation_gap",
            "rotation_regime",
            universe=small_universe(),
            indexes=[("russell_2000", "IWM", "^RUT")],
            **params,
        )
        return rows(conn, "select * from marts.rotation_regime order by trade_date")

    return build


N = None
# per session: rs > sma3, excess_63d > 0, discount > avg, easing active, curve steepening,
# Russell 2000 members above their 2-session average > half
COMPONENTS = [
    (N, N, N, True, N, N),  # 01-02: no average yet, no curve change, breadth window not full
    (N, N, N, True, True, True),  # 01-03
    (False, N, N, True, True, True),  # 01-04: rs equals its average: not above
    (False, N, N, True, True, True),  # 01-05
    (True, N, N, True, True, True),  # 01-08
    (True, N, True, True, False, True),  # 01-09: the first valuation; the spread narrows
    (True, N, True, True, False, True),  # 01-10: the last day of the policy rate
    (True, N, True, N, False, True),  # 01-11
    (True, N, False, N, False, True),  # 01-12: the second valuation, below its average
    (False, N, False, N, False, True),  # 01-16: rs flat for three sessions
]


def expected_label(score, with_data, small=0.66, large=0.34, minimum=3):
    if with_data < minimum:
        return None
    share = score / with_data
    return (
        "small-cap leadership"
        if share >= small
        else "large-cap leadership"
        if share <= large
        else "neutral"
    )


def test_regime_components_score_and_label(regime_world):
    got = regime_world()
    assert [r[1] for r in got] == [D(d) for d in SESSIONS]
    for row, components in zip(got, COMPONENTS, strict=True):
        pair, day, rs_above, excess, valuation_as_of, discount, easing, curve, breadth = row[:9]
        score, with_data, share, label = row[9:]
        assert pair == "IWM/SPY"
        assert (rs_above, excess, discount, easing, curve, breadth) == components, day
        known = [c for c in components if c is not None]
        assert (score, with_data) == (sum(known), len(known)), day
        assert share == (pytest.approx(sum(known) / len(known)) if known else None)
        assert label == expected_label(sum(known), len(known)), day
    # valuation_as_of: the latest trailing IWM/SPY row on or before the session
    assert [r[4] for r in got] == [D("2023-12-01")] * 5 + [D("2024-01-09")] * 3 + [
        D("2024-01-12")
    ] * 2
    # the four kinds of outcome all occur
    assert [r[12] for r in got] == [
        None,
        "small-cap leadership",
        "small-cap leadership",
        "small-cap leadership",
        "small-cap leadership",
        "small-cap leadership",
        "small-cap leadership",
        "small-cap leadership",
        "neutral",
        "large-cap leadership",
    ]


def test_regime_thresholds_come_from_the_config(regime_world):
    got = regime_world(
        regime_small_leadership_share=0.8,
        regime_large_leadership_share=0.5,
        regime_min_components=4,
    )
    labels = {r[1]: r[12] for r in got}
    assert labels[D("2024-01-03")] is None  # 3 components with data, 4 needed
    assert labels[D("2024-01-04")] == "neutral"  # 3 of 4 = 0.75 < 0.8
    assert labels[D("2024-01-08")] == "small-cap leadership"  # 4 of 4
    assert labels[D("2024-01-09")] == "small-cap leadership"  # 4 of 5 = 0.8: inclusive
    assert labels[D("2024-01-12")] == "large-cap leadership"  # 2 of 4 = 0.5: inclusive


def test_regime_breadth_is_the_index_from_its_first_snapshot(regime_world):
    # members known from 01-08 on: no breadth before (NULL, not a vote), the members' after
    got = regime_world(first_snapshot=SESSIONS[4])
    assert [r[8] for r in got] == [N] * 4 + [True] * 6
    assert [r[10] for r in got] == [len([c for c in cs if c is not None]) - (i in (1, 2, 3)) for i, cs in enumerate(COMPONENTS)]


def test_regime_breadth_ignores_projected_members(regime_world):
    # the members projected back before the first snapshot carry survivorship bias: not used
    got = regime_world(first_snapshot=SESSIONS[4], index_breadth_membership="projected")
    assert [r[8] for r in got] == [N] * 4 + [True] * 6


def test_regime_model_declares_its_types(conn, regime_world):
    regime_world()
    model = {m.name: m for m in sql_models.discover()}["rotation_regime"]
    actual = sql_models.column_types(conn, "marts.rotation_regime")
    assert actual == model.column_types


# ---------------------------------------------------------------------------------- dashboard


@pytest.fixture
def dashboard(conn):
    insert_prices(
        conn,
        [
            # IWM trades a session after SPY's last: the pair's latest common date is 01-04
            ("IWM", "2023-12-29", 100.0),
            ("IWM", "2024-01-02", 102.0),
            ("IWM", "2024-01-03", 104.0),
            ("IWM", "2024-01-04", 106.0),
            ("IWM", "2024-01-05", 105.0),
            ("SPY", "2023-12-29", 200.0),
            ("SPY", "2024-01-02", 200.0),
            ("SPY", "2024-01-03", 202.0),
            ("SPY", "2024-01-04", 201.0),
            # IJR stops on 01-03
            ("IJR", "2023-12-29", 50.0),
            ("IJR", "2024-01-02", 49.0),
            ("IJR", "2024-01-03", 51.0),
        ],
    )
    insert_policy(
        conn, [("2023-12-01", "2023-12-14", 5.25, 5.50), ("2023-12-15", "2024-01-31", 5.00, 5.25)]
    )
    # trailing discounts 0.15, 0.20, 0.25 on 12-27..12-29; 0.50 on 01-05 is after the as_of, and
    # the forward figure is another basis: neither is used
    insert_valuations(
        conn,
        [
            (d, "SPY", "pe_trailing", 20.0, "sample")
            for d in ("2023-12-27", "2023-12-28", "2023-12-29", "2024-01-05")
        ]
        + [
            (d, "IWM", "pe_trailing", pe, "sample")
            for d, pe in (
                ("2023-12-27", 17.0),
                ("2023-12-28", 16.0),
                ("2023-12-29", 15.0),
                ("2024-01-05", 10.0),
            )
        ]
        + [
            ("2024-01-02", "IWM", "pe_forward", 5.0, "sample"),
            ("2024-01-02", "SPY", "pe_forward", 20.0, "sample"),
        ],
    )
    # the Russell 2000 as three of these tickers, from 2024-01-02 on
    insert_index_members(conn, [("russell_2000", "2024-01-02", t) for t in ("IWM", "IJR", "SPY")])
    run_models(
        conn,
        *PRICE_MODELS,
        "yield_curve",
        "fed_policy",
        "valuation_gap",
        "rotation_regime",
        "rotation_dashboard",
        universe=small_universe(pairs=(("IWM", "SPY"), ("IJR", "SPY"))),
        indexes=[("russell_2000", "IWM", "^RUT")],
    )
    columns = [r[0] for r in rows(conn, "describe marts.rotation_dashboard")]
    return {
        r[0]: dict(zip(columns, r, strict=True))
        for r in rows(conn, "select * from marts.rotation_dashboard")
    }


def test_dashboard_takes_each_pairs_latest_common_date(dashboard):
    assert set(dashboard) == {"IWM/SPY", "IJR/SPY"}
    iwm, ijr = dashboard["IWM/SPY"], dashboard["IJR/SPY"]
    assert (iwm["small"], iwm["large"], iwm["as_of"]) == ("IWM", "SPY", D("2024-01-04"))
    assert ijr["as_of"] == D("2024-01-03")
    # year to date against the 2023-12-29 closes
    assert iwm["ytd_excess"] == pytest.approx((106 / 100) / (201 / 200) - 1)
    assert ijr["ytd_excess"] == pytest.approx((51 / 50) / (202 / 200) - 1)
    assert iwm["rs"] == pytest.approx(106 / 201)
    # IWM beat SPY on 01-02 (+2% vs 0), 01-03 (+1.96% vs +1%), 01-04 (+1.92% vs -0.50%)
    assert iwm["streak"] == 3
    # IJR lost on 01-02 (-2% vs 0) and won on 01-03 (+4.08% vs +1%)
    assert ijr["streak"] == 1
    # 106 on 01-04 is IWM's record (its 105 of 01-05 is after the as_of)
    assert (iwm["small_is_record_high"], iwm["small_last_record_date"], iwm["pct_from_record"]) == (
        True,
        D("2024-01-04"),
        0.0,
    )
    # IJR's 51 beats its 50 of 2023-12-29 (the first row is no record)
    assert (ijr["small_is_record_high"], ijr["small_last_record_date"]) == (True, D("2024-01-03"))
    # four common dates: no 21-session excess, no moving averages
    assert iwm["excess_21d"] is None and iwm["rs_sma50"] is None and iwm["rs_above_sma50"] is None


def test_dashboard_valuation_fed_and_regime(dashboard):
    iwm, ijr = dashboard["IWM/SPY"], dashboard["IJR/SPY"]
    assert iwm["valuation_as_of"] == D("2023-12-29")
    assert iwm["valuation_discount"] == pytest.approx(0.25)
    # (0.25 - mean(0.15, 0.20)) / stdev(0.15, 0.20) = 0.075 / (0.05 / sqrt 2)
    assert iwm["valuation_discount_z"] == pytest.approx(1.5 * 2**0.5)
    assert (ijr["valuation_as_of"], ijr["valuation_discount"]) == (None, None)
    # the cut of 2023-12-15: easing, 20 and 19 days before the as_of dates
    assert (iwm["fed_stance"], iwm["days_since_first_cut"]) == ("easing", 20)
    assert (ijr["fed_stance"], ijr["days_since_first_cut"]) == ("easing", 19)
    # too few components have data (no averages, no rates, no index member with 50 sessions): no label
    assert iwm["regime_label"] is None


def test_dashboard_shows_the_russell_2000_breadth_of_its_date(dashboard):
    iwm, ijr = dashboard["IWM/SPY"], dashboard["IJR/SPY"]
    # 01-04: IWM 104 -> 106 up, SPY 202 -> 201 down, IJR no bar: 1 of 2 up; no member has 50
    # sessions for its average
    assert (iwm["breadth_index"], iwm["breadth_share_advancing"], iwm["breadth_share_above_sma50"]) == (
        "russell_2000", 0.5, None,
    )
    # 01-03: IWM 102 -> 104, SPY 200 -> 202, IJR 49 -> 51, all up
    assert (ijr["breadth_index"], ijr["breadth_share_advancing"]) == ("russell_2000", 1.0)


def test_dashboard_model_declares_its_types(conn, dashboard):
    model = {m.name: m for m in sql_models.discover()}["rotation_dashboard"]
    actual = sql_models.column_types(conn, "marts.rotation_dashboard")
    assert actual == model.column_types
