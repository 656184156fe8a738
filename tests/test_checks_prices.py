"""The checks of core.prices_daily: each passes on clean data and fails on a real-shaped bad case.

Clean data is the synthetic sample on real NYSE sessions (2024: Good Friday 2024-03-29 closed,
2024-11-29 an early close, 2024-07-03 an early close).
"""

import datetime as dt

import pandas as pd
import pytest

from warehouse import calendar
from warehouse.checks import prices as checks
from warehouse.checks.config import load_config
from warehouse.prices import load_prices
from warehouse.sources.sample import SampleSource

D = dt.date
AFTER_2024 = pd.Timestamp("2025-01-02 12:00", tz="UTC")
TICKERS = ["IWM", "^RUT", "SPY", "^GSPC", "NVDA"]


YEAR_2024 = (D(2024, 1, 2), D(2024, 12, 31))


def load_sample(conn, tickers=TICKERS, start=YEAR_2024[0], end=YEAR_2024[1]):
    batch = SampleSource().daily_bars(tickers, start, end)
    load_prices(conn, batch, source="sample", now=AFTER_2024)


@pytest.fixture
def clean(conn):
    load_sample(conn)
    return conn


def defaults(name: str) -> dict:
    """The thresholds of config/checks.toml, as the Dagster checks pass them."""
    return load_config()[f"prices.{name}"]


def drop_primary_key(conn):
    """core.prices_daily as a copy made with CREATE TABLE AS: same rows, no key constraint (the
    shape of a warehouse restored or migrated by hand)."""
    conn.execute("create table _copy as select * from core.prices_daily")
    conn.execute("drop table core.prices_daily")
    conn.execute("create table core.prices_daily as select * from _copy")
    conn.execute("drop table _copy")


# --- integrity --------------------------------------------------------------------------------


def test_integrity_passes_on_clean_data(clean):
    out = checks.integrity(clean, **defaults("integrity"))
    assert out.passed, out.summary
    assert out.failing == 0 and out.rows == []


def test_integrity_names_a_duplicated_row(clean):
    drop_primary_key(clean)
    clean.execute(
        "insert into core.prices_daily select * from core.prices_daily "
        "where ticker = 'IWM' and trade_date = '2024-03-28'"
    )
    out = checks.integrity(clean, **defaults("integrity"))
    assert not out.passed
    assert out.counts["duplicated_key"] == 2
    assert [(r["ticker"], r["trade_date"], r["problem"]) for r in out.records()] == [
        ("IWM", D(2024, 3, 28), "(ticker, trade_date) stored 2 times"),
        ("IWM", D(2024, 3, 28), "(ticker, trade_date) stored 2 times"),
    ]


def test_integrity_names_an_inverted_high_low(clean):
    clean.execute(
        "update core.prices_daily set high = low, low = high "
        "where ticker = 'SPY' and trade_date = '2024-03-27'"
    )
    out = checks.integrity(clean, **defaults("integrity"))
    assert not out.passed
    (row,) = out.records()
    assert (row["ticker"], row["trade_date"]) == ("SPY", D(2024, 3, 27))
    assert row["high"] < row["low"]
    assert row["problem"].startswith("high below low")
    assert out.counts["high_below_low"] == 1


def test_integrity_names_null_and_non_positive_closes_and_negative_volume(clean):
    drop_primary_key(clean)  # the DDL's NOT NULL would refuse the NULL close
    clean.execute(
        "update core.prices_daily set close = null "
        "where ticker = 'IWM' and trade_date = '2024-05-01'"
    )
    clean.execute(
        "update core.prices_daily set close = -1 where ticker = 'IWM' and trade_date = '2024-05-02'"
    )
    clean.execute(
        "update core.prices_daily set volume = -100 "
        "where ticker = 'SPY' and trade_date = '2024-05-02'"
    )
    out = checks.integrity(clean, **defaults("integrity"))
    assert not out.passed
    got = {(r["ticker"], str(r["trade_date"])): r["problem"] for r in out.records()}
    assert got["IWM", "2024-05-01"] == "close is NULL or not positive"
    assert got["IWM", "2024-05-02"].startswith("close is NULL or not positive")
    assert got["SPY", "2024-05-02"] == "volume is negative"
    assert out.failing == 3


def test_integrity_tolerates_rounding_in_the_bar(clean):
    # low 0.05% above the open: a rounding artefact, inside ohlc_tolerance (0.1%)
    clean.execute(
        "update core.prices_daily set low = least(open, close) * 1.0005 "
        "where ticker = 'IWM' and trade_date = '2024-06-03'"
    )
    assert checks.integrity(clean, ohlc_tolerance=0.001).passed
    assert not checks.integrity(clean, ohlc_tolerance=0.0001).passed


def test_integrity_accepts_a_close_only_source(conn):
    conn.execute(
        "insert into core.prices_daily values ('^SP600', '2024-01-02', null, null, null, 1300.0, "
        "1300.0, null, 'files', now())"
    )
    assert checks.integrity(conn).passed


def test_integrity_names_stored_nan_infinite_and_non_session_rows(clean):
    # Written past the loader (which refuses all three): the table is no longer what it vouches for.
    clean.execute("update core.prices_daily set close = 'nan' where ticker = 'IWM' and trade_date = '2024-05-01'")
    clean.execute("update core.prices_daily set high = 'inf' where ticker = 'SPY' and trade_date = '2024-05-01'")
    clean.execute(
        "insert into core.prices_daily select ticker, date '2024-12-25', open, high, low, close, adj_close, "
        "volume, source, loaded_at from core.prices_daily where ticker = 'NVDA' and trade_date = '2024-12-24'"
    )
    out = checks.integrity(clean, **defaults("integrity"))
    assert not out.passed and out.failing == 3
    got = {(r["ticker"], str(r["trade_date"])): r["problem"] for r in out.records()}
    assert got["IWM", "2024-05-01"].startswith("close is NaN or infinite")  # NaN is above high in SQL, too
    assert got["SPY", "2024-05-01"] == "high is NaN or infinite"
    assert got["NVDA", "2024-12-25"] == "not an NYSE session"
    assert (out.counts["close_not_finite"], out.counts["high_not_finite"], out.counts["non_session"]) == (1, 1, 1)


def test_integrity_passes_when_the_loader_quarantined_a_bad_bar(conn):
    batch = SampleSource().daily_bars(["IWM", "SPY"], D(2024, 3, 1), D(2024, 3, 28))
    i = batch.bars.index[(batch.bars["ticker"] == "SPY") & (batch.bars["trade_date"] == D(2024, 3, 27))][0]
    high, low = float(batch.bars.at[i, "high"]), float(batch.bars.at[i, "low"])
    batch.bars.loc[i, ["high", "low"]] = [low, high]
    out = load_prices(conn, batch, source="sample", run_id="run-1", now=AFTER_2024)
    assert out.result.quarantine_reasons == {"high below low": 1}
    integrity = checks.integrity(conn, **defaults("integrity"))
    assert integrity.passed, integrity.summary
    assert integrity.counts["batches_mostly_rejected"] == 0


def sessions_bars(ticker, days, swapped=()):
    """A clean bar per session (high 101, low 99, close 100); the bars of `swapped` inverted."""
    rows = [(ticker, d, 100.0, 99.0 if d in swapped else 101.0, 101.0 if d in swapped else 99.0, 100.0, 100.0, 1e6)
            for d in days]
    return pd.DataFrame.from_records(rows, columns=["ticker", "trade_date", "open", "high", "low", "close",
                                                    "adj_close", "volume"])


SIX = calendar.sessions(D(2024, 1, 2), D(2024, 1, 9))  # 6 sessions


@pytest.mark.parametrize(
    ("swapped", "min_batch_rows", "fails"),
    [
        (SIX[:3], 5, False),  # 3 of 6 = 50%: not more than half
        (SIX[:4], 5, True),  # 4 of 6 = 67%
        (SIX[:4], 7, False),  # a batch of 6 rows is too small to judge at 7
    ],
)
def test_integrity_blocks_a_ticker_whose_last_load_was_mostly_refused(conn, swapped, min_batch_rows, fails):
    from warehouse.sources.base import PriceBatch

    load_prices(conn, PriceBatch(sessions_bars("SPY", SIX)), source="files", run_id="run-1", now=AFTER_2024)
    load_prices(conn, PriceBatch(sessions_bars("IWM", SIX, swapped)), source="files", run_id="run-2",
                now=AFTER_2024)
    out = checks.integrity(conn, ohlc_tolerance=0.001, max_rejected_share=0.5, min_batch_rows=min_batch_rows)
    assert out.passed is not fails, out.summary
    if fails:
        assert out.counts["batches_mostly_rejected"] == 1
        assert out.records()[0]["ticker"] == "IWM"
        assert out.records()[0]["problem"] == (
            "the last load (run run-2) refused 4 of 6 rows (67%, more than 50%): the source is broken for this ticker")
        assert out.summary.startswith("IWM: the last load (run run-2) refused 4 of 6 rows")
        # A good reload of IWM clears it.
        load_prices(conn, PriceBatch(sessions_bars("IWM", SIX)), source="files", run_id="run-3", now=AFTER_2024)
        assert checks.integrity(conn, min_batch_rows=min_batch_rows).passed


def test_integrity_blocks_an_empty_or_shrunk_table(conn):
    assert not checks.integrity(conn).passed  # nothing loaded at all
    assert checks.integrity(conn).summary == "core.prices_daily is empty"
    load_sample(conn, ["IWM"], D(2024, 6, 3), D(2024, 6, 14))  # 10 sessions
    assert checks.integrity(conn).passed
    conn.execute("delete from core.prices_daily where trade_date > '2024-06-11'")
    out = checks.integrity(conn)
    assert not out.passed
    assert out.summary.startswith("core.prices_daily holds 7 rows, 3 fewer than after its last load")


# --- completeness against the NYSE calendar ---------------------------------------------------


def test_completeness_passes_with_holidays_absent_and_early_closes_present(clean):
    out = checks.completeness(clean)
    assert out.passed, out.summary
    stored = {
        d
        for (d,) in clean.execute(
            "select trade_date from core.prices_daily where ticker='IWM'"
        ).fetchall()
    }
    assert D(2024, 3, 29) not in stored  # Good Friday
    assert D(2024, 11, 29) in stored and D(2024, 7, 3) in stored  # early closes are sessions


def test_completeness_names_a_dropped_session(clean):
    clean.execute(
        "delete from core.prices_daily where ticker = 'IWM' and trade_date = '2024-04-02'"
    )
    out = checks.completeness(clean)
    assert not out.passed
    assert out.rows == [("IWM", D(2024, 4, 2), "missing session")]
    assert out.counts == {"missing_sessions": 1, "rows_on_non_sessions": 0, "tickers_with_gaps": 1,
                          "missing_sessions_quarantined": 0, "checked_from": "whole table"}


def test_completeness_names_the_hole_a_quarantined_bar_leaves(conn):
    batch = SampleSource().daily_bars(["IWM"], D(2024, 4, 1), D(2024, 4, 5))
    batch.bars.loc[batch.bars["trade_date"] == D(2024, 4, 3), "close"] = -1.0
    load_prices(conn, batch, source="sample", run_id="run-1", now=AFTER_2024)
    out = checks.completeness(conn)
    assert not out.passed
    assert out.rows == [("IWM", D(2024, 4, 3), "missing session (quarantined: close is NULL or not positive)")]
    assert out.counts["missing_sessions_quarantined"] == 1


def test_completeness_names_a_dropped_early_close(clean):
    clean.execute(
        "delete from core.prices_daily where ticker = 'SPY' and trade_date = '2024-11-29'"
    )
    out = checks.completeness(clean)
    assert out.rows == [("SPY", D(2024, 11, 29), "missing session")]


def test_completeness_names_a_row_on_a_holiday(clean):
    clean.execute(
        "insert into core.prices_daily select ticker, date '2024-03-29', open, high, low, close, "
        "adj_close, volume, source, loaded_at from core.prices_daily "
        "where ticker = '^RUT' and trade_date = '2024-03-28'"
    )
    out = checks.completeness(clean)
    assert not out.passed
    assert out.rows == [("^RUT", D(2024, 3, 29), "row on a non-session (Good Friday)")]
    assert out.counts["rows_on_non_sessions"] == 1


def test_completeness_names_dates_shifted_by_a_day(conn):
    """A time-zone bug dating every bar a day early: rows on weekends and holidays, gaps."""
    load_sample(conn, ["IWM"], D(2024, 6, 3), D(2024, 6, 14))
    conn.execute("update core.prices_daily set trade_date = trade_date - 1")
    out = checks.completeness(conn)
    assert not out.passed
    assert ("IWM", D(2024, 6, 9), "row on a non-session (weekend)") in out.rows


# --- freshness --------------------------------------------------------------------------------


def ny(stamp: str) -> pd.Timestamp:
    return pd.Timestamp(stamp, tz=calendar.NEW_YORK)


def test_freshness_passes_after_an_early_close(conn):
    load_sample(conn, ["IWM", "^RUT"], D(2024, 11, 1), D(2024, 11, 29))
    # 2024-11-29 closed at 13:00 New York: by 14:00 its bar is final and expected
    out = checks.freshness(conn, tickers=["IWM", "^RUT"], now=ny("2024-11-29 14:00"))
    assert out.passed, out.summary
    assert out.counts["expected_session"] == "2024-11-29"


def test_freshness_names_a_stale_index(conn):
    load_sample(conn, ["IWM", "^RUT"], D(2024, 11, 1), D(2024, 11, 29))
    conn.execute(
        "delete from core.prices_daily where ticker = '^RUT' and trade_date > '2024-11-26'"
    )
    out = checks.freshness(conn, tickers=["IWM", "^RUT"], now=ny("2024-11-29 14:00"))
    assert not out.passed
    # Thanksgiving (11-28) is no session: 11-27 and 11-29 are the two missed
    assert out.rows == [("^RUT", D(2024, 11, 26), D(2024, 11, 29), 2, "2 sessions behind")]
    assert "^RUT" in out.summary


def test_freshness_names_a_ticker_without_rows_and_a_bar_of_an_open_session(conn):
    load_sample(conn, ["IWM"], D(2024, 11, 1), D(2024, 11, 29))
    # at 12:00 on the early-close day the session is still open: 11-27 is the last completed one
    out = checks.freshness(conn, tickers=["IWM", "QQQ"], now=ny("2024-11-29 12:00"))
    assert out.counts["expected_session"] == "2024-11-27"
    assert out.rows == [
        ("IWM", D(2024, 11, 29), D(2024, 11, 27), -1, "bar of a session that has not closed yet"),
        ("QQQ", None, D(2024, 11, 27), None, "no rows stored"),
    ]


def test_freshness_lag_is_configurable(conn):
    load_sample(conn, ["IWM"], D(2024, 11, 1), D(2024, 11, 27))
    now = ny("2024-11-29 14:00")
    assert not checks.freshness(conn, now=now).passed
    assert checks.freshness(conn, now=now, max_lag_sessions=1).passed


# --- stale bars -------------------------------------------------------------------------------


def repeat_bar(conn, ticker, source_day, days):
    for day in days:
        conn.execute(
            """
            update core.prices_daily t
            set open = s.open, high = s.high, low = s.low, close = s.close,
                   adj_close = s.adj_close, volume = s.volume
            from core.prices_daily s
            where s.ticker = t.ticker and s.trade_date = ? and t.ticker = ? and t.trade_date = ?
            """,
            [source_day, ticker, day],
        )


def test_stale_bars_pass_on_clean_data(clean):
    assert checks.stale_bars(clean, **defaults("stale_bars")).passed


def test_stale_bars_name_a_friday_bar_repeated_over_three_sessions(clean):
    repeat_bar(clean, "IWM", D(2024, 3, 8), [D(2024, 3, 11), D(2024, 3, 12), D(2024, 3, 13)])
    out = checks.stale_bars(clean, **defaults("stale_bars"))
    assert not out.passed
    (row,) = out.records()
    assert (row["ticker"], row["first_session"], row["last_session"], row["sessions"]) == (
        "IWM",
        D(2024, 3, 8),
        D(2024, 3, 13),
        4,
    )
    assert out.counts["repeated_bars"] == 3


def test_stale_bars_allow_one_repeat(clean):
    repeat_bar(clean, "IWM", D(2024, 3, 8), [D(2024, 3, 11)])
    assert checks.stale_bars(clean, min_sessions=3).passed


# --- outliers ---------------------------------------------------------------------------------


def test_outliers_pass_on_clean_data(clean):
    assert checks.outliers(clean, **defaults("outliers")).passed
    assert checks.outliers(clean, **{**defaults("outliers"), "lookback_sessions": 0}).passed


def test_outliers_name_a_bad_print(clean):
    # one bar printed 50% too high: the jump up and the fall back are both named
    clean.execute(
        "update core.prices_daily set adj_close = adj_close * 1.5, close = close * 1.5 "
        "where ticker = 'SPY' and trade_date = '2024-06-14'"
    )
    out = checks.outliers(clean, **{**defaults("outliers"), "lookback_sessions": 0})
    assert not out.passed
    assert sorted((r["ticker"], r["trade_date"]) for r in out.records()) == [
        ("SPY", D(2024, 6, 14)),
        ("SPY", D(2024, 6, 17)),
    ]
    assert out.records()[0]["problem"] == "beyond 25%"


def test_outliers_judge_returns_against_rolling_volatility(clean):
    # +13% on an index whose daily moves are ~1%: beyond 10x its volatility, below 25%
    clean.execute(
        "update core.prices_daily set adj_close = adj_close * 1.13 "
        "where ticker = '^GSPC' and trade_date >= '2024-12-02'"
    )
    out = checks.outliers(clean, **defaults("outliers"))
    assert [(r["ticker"], r["trade_date"]) for r in out.records()] == [("^GSPC", D(2024, 12, 2))]
    assert "rolling volatility" in out.records()[0]["problem"]
    assert out.records()[0]["vol_multiple"] > 10
    # an older move falls out of the look-back; a known real move can be accepted
    assert checks.outliers(clean, **{**defaults("outliers"), "lookback_sessions": 10}).passed
    assert checks.outliers(
        clean, **{**defaults("outliers"), "accepted": ["^GSPC 2024-12-02"]}
    ).passed
    assert checks.outliers(clean, **{**defaults("outliers"), "accepted": ["2024-12-02"]}).passed


def test_a_split_in_the_raw_close_is_not_an_outlier(clean):
    # the sample's NVDA splits 10:1 on 2024-06-10: close falls 90%, adj_close does not
    closes = clean.execute(
        "select close, adj_close from core.prices_daily where ticker = 'NVDA' "
        "and trade_date in ('2024-06-07', '2024-06-10') order by trade_date"
    ).fetchall()
    assert closes[1][0] < closes[0][0] / 5
    assert checks.outliers(clean, **{**defaults("outliers"), "lookback_sessions": 0}).passed


def test_an_accepted_entry_must_be_a_date(clean):
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        checks.outliers(clean, accepted=["March 16"])


# --- ETF against index ------------------------------------------------------------------------


def test_tracking_passes_on_clean_data(clean):
    out = checks.tracking(clean, **defaults("tracking"))
    assert out.passed, out.summary
    assert out.counts["pairs_checked"] == 2
    assert out.counts["pairs_without_data"] == "IJR/^SP600, QQQ/^NDX"


def test_tracking_names_a_stale_index_bar(clean):
    # a day the market moved: the index repeats yesterday's value, the ETF moves
    day = clean.execute(
        """
        select trade_date from (
            select trade_date, adj_close / lag(adj_close) over (order by trade_date) - 1 as r
            from core.prices_daily where ticker = 'IWM')
        where abs(r) > 0.015 order by trade_date limit 1
        """
    ).fetchall()[0][0]
    prev = calendar.shift_sessions(day, -1)
    repeat_bar(clean, "^RUT", prev, [day])
    nxt = calendar.shift_sessions(day, 1)
    out = checks.tracking(clean, **{**defaults("tracking"), "lookback_sessions": 0})
    assert not out.passed
    assert sorted((r["etf"], r["index_ticker"], r["trade_date"]) for r in out.records()) == [
        ("IWM", "^RUT", day),
        ("IWM", "^RUT", nxt),
    ]
    stale_day = next(r for r in out.records() if r["trade_date"] == day)
    assert stale_day["index_return"] == 0 and abs(stale_day["gap"]) > 0.01


def test_tracking_names_a_mislabelled_series(clean):
    # SPY's rows loaded under ^GSPC's name from some day on: a 10x jump against the ETF
    clean.execute(
        "update core.prices_daily set adj_close = adj_close / 10 "
        "where ticker = '^GSPC' and trade_date >= '2024-10-01'"
    )
    out = checks.tracking(clean, **defaults("tracking"))
    assert [(r["etf"], r["trade_date"]) for r in out.records()] == [("SPY", D(2024, 10, 1))]


# --- adjustment factor ------------------------------------------------------------------------


def test_adjustment_passes_with_dividends_and_a_split(clean):
    out = checks.adjustment(clean, **defaults("adjustment"))
    assert out.passed, out.summary
    assert out.counts["factor_changes"] >= 5  # quarterly ex-dividend days and NVDA's split


def test_adjustment_names_a_factor_that_falls(clean):
    # the shape of a history stitched from two downloads: adj_close / close drops 0.4% overnight
    clean.execute(
        "update core.prices_daily set adj_close = adj_close * 0.996 "
        "where ticker = 'SPY' and trade_date >= '2024-05-10'"
    )
    out = checks.adjustment(clean, **defaults("adjustment"))
    assert not out.passed
    (row,) = out.records()
    assert (row["ticker"], row["previous_session"], row["trade_date"]) == (
        "SPY",
        D(2024, 5, 9),
        D(2024, 5, 10),
    )
    assert row["problem"] == "adj_close / close fell: not a dividend, not a split ratio"


def test_adjustment_names_a_jump_that_is_no_split(clean):
    clean.execute(
        "update core.prices_daily set adj_close = adj_close * 1.3 "
        "where ticker = 'IWM' and trade_date >= '2024-08-01'"
    )
    out = checks.adjustment(clean, **defaults("adjustment"))
    assert [(r["ticker"], r["trade_date"]) for r in out.records()] == [("IWM", D(2024, 8, 1))]
    assert "rose by more than a dividend" in out.records()[0]["problem"]


def test_adjustment_names_a_drifting_factor(clean):
    # adj_close creeping 0.1% a session for 20 sessions: 20 dividend-sized changes in a year
    clean.execute(
        """
        update core.prices_daily t set adj_close = t.adj_close * pow(1.001, n.k)
        from (select trade_date, row_number() over (order by trade_date) as k
              from core.prices_daily
              where ticker = 'IWM' and trade_date between '2024-02-01' and '2024-02-29') n
        where t.ticker = 'IWM' and t.trade_date = n.trade_date
        """
    )
    clean.execute(
        "update core.prices_daily set adj_close = adj_close * pow(1.001, 20) "
        "where ticker = 'IWM' and trade_date > '2024-02-29'"
    )
    out = checks.adjustment(clean, **defaults("adjustment"))
    assert not out.passed
    assert {r["ticker"] for r in out.records()} == {"IWM"}
    assert out.failing >= 14 and "a drifting factor" in out.records()[0]["problem"]


def test_split_ratios_cover_common_splits():
    ratios = checks._split_ratios()
    for r in (2, 3, 4, 5, 10, 20, 1.5, 1.25, 4 / 3):
        assert any(abs(x - r) < 1e-9 for x in ratios)
    assert all(r >= 1.25 for r in ratios)


# --- real data (optional: ../shared/realdata) --------------------------------------------------


def test_real_yahoo_downloads(conn, realdata, tmp_path):
    """Seven real Yahoo CSVs, 2000-2022: clean by every check but the adjustment, where the files
    carry a real flaw (adj_close / close falls on 2022-05-10: the history was stitched from two
    downloads)."""
    import shutil

    from warehouse.sources.files import FilesSource

    (tmp_path / "files" / "prices").mkdir(parents=True)
    for path in (realdata / "prices" / "yahoo-csv").glob("*.csv"):
        shutil.copy(path, tmp_path / "files" / "prices" / path.name)
    tickers = sorted(p.stem for p in (tmp_path / "files" / "prices").glob("*.csv"))
    batch = FilesSource(tmp_path / "files").daily_bars(tickers, D(1990, 1, 2), D(2022, 12, 30))
    load_prices(conn, batch, source="files", now=AFTER_2024)
    for name, fn in [
        ("integrity", checks.integrity),
        ("completeness", checks.completeness),
        ("stale_bars", checks.stale_bars),
        ("outliers", checks.outliers),
        ("tracking", checks.tracking),
    ]:
        out = fn(conn, **defaults(name))
        assert out.passed, (name, out.summary, out.rows[:3])
    out = checks.adjustment(conn, **defaults("adjustment"))
    assert not out.passed
    assert D(2022, 5, 10) in {r["trade_date"] for r in out.records()}
