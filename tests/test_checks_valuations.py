"""The checks of core.valuations: one snapshot per day and key, plausible values, freshness."""

import datetime as dt

import pandas as pd
import pytest

from warehouse import calendar
from warehouse.checks import valuations as checks
from warehouse.checks.config import load_config

D = dt.date
AFTER_CLOSE = pd.Timestamp("2024-11-29 14:00", tz=calendar.NEW_YORK)  # 11-29 closed early, at 13:00


def insert(conn, rows):
    """rows: (as_of_date, ticker, metric, value, source); basis from the metric."""
    frame = pd.DataFrame(rows, columns=["as_of_date", "ticker", "metric", "value", "source"])  # noqa: F841
    conn.execute(
        """
        insert into core.valuations
        select as_of_date, ticker, metric, value, split_part(metric, '_', -1),
               case when source = 'published' then 'unstated' else 'provider_field' end,
               null, null, null, source, now()
        from frame
        """
    )


@pytest.fixture
def clean(conn):
    rows = []
    for day in calendar.sessions(D(2024, 11, 20), D(2024, 11, 29)):
        rows += [
            (day, "IWM", "pe_trailing", 18.1, "live"),
            (day, "SPY", "pe_trailing", 27.4, "live"),
            (day, "IWM", "pb_trailing", 2.1, "live"),
            (day, "IWM/SPY", "pe_discount_trailing", 1 - 18.1 / 27.4, "live"),
        ]
    # a published figure beside the snapshot of the same day is by design
    rows.append((D(2024, 11, 29), "IWM", "pe_trailing", 18.0, "published"))
    insert(conn, rows)
    return conn


def test_one_snapshot_per_day_passes_on_clean_data(clean):
    out = checks.one_snapshot_per_day(clean)
    assert out.passed, out.summary


def test_one_snapshot_per_day_names_two_snapshots_of_one_day(clean):
    # a files snapshot loaded into the live warehouse for a day the live source already took
    insert(clean, [(D(2024, 11, 27), "IWM", "pe_trailing", 18.3, "files")])
    out = checks.one_snapshot_per_day(clean)
    assert not out.passed
    assert out.rows == [
        (
            D(2024, 11, 27),
            "IWM",
            "pe_trailing",
            "files, live",
            2,
            "snapshots from 2 sources for one day",
        )
    ]


def test_one_snapshot_per_day_names_a_duplicated_row(clean):
    clean.execute("create table _copy as select * from core.valuations")
    clean.execute("drop table core.valuations")
    clean.execute("create table core.valuations as select * from _copy")
    clean.execute(
        "insert into core.valuations select * from _copy "
        "where ticker = 'SPY' and as_of_date = '2024-11-25'"
    )
    out = checks.one_snapshot_per_day(clean)
    assert out.rows == [
        (D(2024, 11, 25), "SPY", "pe_trailing", "live", 2, "stored 2 times for one source")
    ]


def test_bounds_pass_on_clean_data(clean):
    out = checks.bounds(clean, **load_config()["valuations.bounds"])
    assert out.passed, out.summary
    assert out.counts["values_judged"] == 29


def test_bounds_name_implausible_values(clean):
    # a provider's P/E field broken for a day (x10), and a discount above 100%
    clean.execute(
        "update core.valuations set value = 274.0 "
        "where ticker = 'SPY' and as_of_date = '2024-11-26'"
    )
    clean.execute(
        "update core.valuations set value = 1.4 "
        "where metric = 'pe_discount_trailing' and as_of_date = '2024-11-27'"
    )
    out = checks.bounds(clean, **load_config()["valuations.bounds"])
    assert not out.passed
    assert [
        (r["as_of_date"], r["ticker"], r["metric"], r["value"], r["high"]) for r in out.records()
    ] == [
        (D(2024, 11, 27), "IWM/SPY", "pe_discount_trailing", 1.4, 1.0),
        (D(2024, 11, 26), "SPY", "pe_trailing", 274.0, 200.0),
    ]


def test_bounds_leave_measures_without_limits_alone(clean):
    out = checks.bounds(clean, limits={"pe": [0.0, 200.0]})
    assert out.passed
    assert out.counts["metrics_without_bounds"] == "pb_trailing, pe_discount_trailing"
    with pytest.raises(ValueError, match="known measure"):
        checks.bounds(clean, limits={"p/e": [0, 1]})


def test_freshness_passes_with_todays_snapshot(clean):
    out = checks.freshness(
        clean, tickers=["IWM", "SPY"], now=AFTER_CLOSE, **load_config()["valuations.freshness"]
    )
    assert out.passed, out.summary


def test_freshness_names_lagging_and_missing_tickers(clean):
    # SPY's snapshots stopped after 11-25; QQQ never had one; published rows are no snapshot
    clean.execute("delete from core.valuations where ticker = 'SPY' and as_of_date > '2024-11-25'")
    insert(clean, [(D(2024, 11, 29), "QQQ", "pe_trailing", 30.0, "published")])
    out = checks.freshness(
        clean, tickers=["IWM", "QQQ", "SPY"], now=AFTER_CLOSE, max_lag_sessions=1
    )
    assert not out.passed
    assert out.rows == [
        ("QQQ", None, D(2024, 11, 29), None, "no snapshot stored"),
        ("SPY", D(2024, 11, 25), D(2024, 11, 29), 3, "3 sessions behind"),
    ]
