"""The whole outcome of a price check, not only its verdict: the name the UI shows, the one-line
summary, the failing rows' columns and the counts written into the check's metadata. A check that
passes or fails rightly but says the wrong thing misleads whoever reads it in the UI.

Every expected summary and count is written out by hand from the rows each test stores.
"""

import datetime as dt

import pandas as pd

from warehouse.checks import prices as checks
from warehouse.prices import load_prices, price_rules
from warehouse.sources.base import PriceBatch

D = dt.date
AFTER = pd.Timestamp("2024-07-01 12:00", tz="UTC")
BAR_COLUMNS = ["ticker", "trade_date", "open", "high", "low", "close", "adj_close", "volume"]
# The ten sessions from June 3rd to June 14th, 2024 (no holiday among them).
JUNE = [D(2024, 6, d) for d in (3, 4, 5, 6, 7, 10, 11, 12, 13, 14)]


def bars(ticker: str, days=JUNE) -> pd.DataFrame:
    return pd.DataFrame({
        "ticker": ticker, "trade_date": days, "open": 100.0, "high": 101.0, "low": 99.0, "close": 100.0,
        "adj_close": 100.0, "volume": 1e6,
    })


def load(conn, *tickers: str) -> None:
    load_prices(conn, PriceBatch(pd.concat([bars(t) for t in tickers], ignore_index=True)), source="files",
                run_id="run-1", now=AFTER)


def drop_primary_key(conn) -> None:
    """The table as a copy made with CREATE TABLE AS: a key can then be stored twice."""
    conn.execute("create table _copy as select * from core.prices_daily")
    conn.execute("drop table core.prices_daily")
    conn.execute("create table core.prices_daily as select * from _copy")
    conn.execute("drop table _copy")


def no_problem_counts() -> dict:
    """integrity's count of every problem it looks for, all 0."""
    names = ["duplicated_key", "null_key", *(name for name, _, _ in price_rules()), "non_session"]
    return dict.fromkeys(names, 0)


def test_integrity_on_clean_rows_says_so_in_full(conn):
    load(conn, "IWM", "SPY")
    out = checks.integrity(conn)
    assert (out.name, out.passed, out.failing, out.rows) == ("prices_integrity", True, 0, [])
    assert out.summary == "20 rows, every key once, every row within the load rules, no load mostly refused"
    assert out.columns == [*BAR_COLUMNS, "problem"]
    assert out.counts == {**no_problem_counts(), "batches_mostly_rejected": 0, "rows_stored": 20,
                          "checked_from": "whole table"}


def test_integrity_on_an_empty_table_counts_nothing_and_names_the_table(conn):
    out = checks.integrity(conn)
    assert (out.name, out.passed, out.failing) == ("prices_integrity", False, 1)
    assert out.summary == "core.prices_daily is empty"
    assert out.rows == [(None,) * 8 + ("core.prices_daily is empty",)]
    assert out.counts == {**no_problem_counts(), "batches_mostly_rejected": 0, "rows_stored": 0,
                          "checked_from": "whole table"}


def test_integrity_summary_counts_row_problems_beside_a_shrunk_table(conn):
    load(conn, "IWM")
    drop_primary_key(conn)
    conn.execute("delete from core.prices_daily where trade_date >= '2024-06-13'")  # 8 rows left of 10
    conn.execute("insert into core.prices_daily select * from core.prices_daily where trade_date = '2024-06-03'")
    out = checks.integrity(conn)
    # 9 rows stored against 10 after the last load; the repeated key is two failing rows
    assert (out.passed, out.failing) == (False, 3)
    assert out.summary == "3 problems: 2 duplicated key"
    assert [r[-1] for r in out.rows] == [
        "core.prices_daily holds 9 rows, 1 fewer than after its last load (run run-1): rows were deleted "
        "outside the loader",
        "(ticker, trade_date) stored 2 times",
        "(ticker, trade_date) stored 2 times",
    ]
    assert out.counts == {**no_problem_counts(), "duplicated_key": 2, "batches_mostly_rejected": 0,
                          "rows_stored": 9, "checked_from": "whole table"}


def test_integrity_summary_with_systemic_problems_only_names_them(conn):
    load(conn, "IWM")
    conn.execute("delete from core.prices_daily where trade_date = '2024-06-14'")
    out = checks.integrity(conn)
    assert (out.passed, out.failing) == (False, 1)
    assert out.summary == (
        "core.prices_daily holds 9 rows, 1 fewer than after its last load (run run-1): rows were deleted "
        "outside the loader")


def test_integrity_judges_rows_from_since_when_the_table_is_as_the_last_load_left_it(conn):
    load(conn, "IWM")
    out = checks.integrity(conn, D(2024, 6, 12))
    assert out.passed
    assert out.counts["checked_from"] == "2024-06-12"
    assert out.summary == "10 rows, every key once, every row within the load rules, no load mostly refused"


def test_the_rejected_share_must_be_a_fraction(conn):
    load(conn, "IWM")
    for share in (-0.01, 1.01):
        try:
            checks.integrity(conn, max_rejected_share=share)
        except ValueError as exc:
            assert str(exc) == f"max_rejected_share must be a fraction from 0 to 1, not {share!r}"
        else:
            raise AssertionError(f"max_rejected_share={share} was accepted")
    # both ends are fractions
    assert checks.integrity(conn, max_rejected_share=0).passed
    assert checks.integrity(conn, max_rejected_share=1).passed


def test_completeness_of_an_empty_table_passes_and_says_why(conn):
    out = checks.completeness(conn)
    assert (out.name, out.passed, out.failing) == ("prices_calendar_complete", True, 0)
    assert out.summary == "core.prices_daily is empty: nothing to compare with the calendar"
