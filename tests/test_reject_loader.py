"""The loader's refusals that the per-rule tables do not reach: a NULL in one column of a wider key,
NaN and infinities in a bar that has no high or low to be compared with (so only the finiteness
rule can refuse it), the order in which a bar's reasons are chosen, a batch refused whole, and what
the quarantine check shows of a load.

In DuckDB NaN compares greater than every number and +inf greater than every finite one, so
`close <= 0` is false for both: only `isfinite` refuses them.
"""

import datetime as dt
import math

import pandas as pd
import pyarrow as pa
import pytest

from warehouse.checks import prices as price_checks
from warehouse.checks.quarantine import quarantined
from warehouse.load import TableSpec, upsert
from warehouse.prices import PRICES, load_prices, price_rules
from warehouse.sources.base import PriceBatch

D = dt.date
NAN, INF = math.nan, math.inf
AFTER = pd.Timestamp("2024-01-10 23:00", tz="UTC")
PRICE_SCHEMA = pa.schema([("ticker", pa.string()), ("trade_date", pa.date32()),
                          *((c, pa.float64()) for c in ("open", "high", "low", "close", "adj_close", "volume"))])
GOOD = [("IWM", D(2024, 1, 2), 200.0, 201.0, 198.0, 199.0, 198.0, 1e6),
        ("IWM", D(2024, 1, 3), 199.0, 199.5, 195.0, 196.0, 195.0, 2e6)]


def arrow(rows):
    """Bars as Arrow: NaN stays NaN (pandas' conversion would make it NULL)."""
    return pa.table([pa.array([r[i] for r in rows], type=f.type) for i, f in enumerate(PRICE_SCHEMA)],
                    schema=PRICE_SCHEMA)


def refused(conn):
    return conn.execute("select key, reason from core.quarantine order by key, reason").fetchall()


def stored(conn):
    return conn.execute("select ticker, trade_date, close, adj_close from core.prices_daily "
                        "order by ticker, trade_date").fetchall()


# --- a NULL in one key column ---------------------------------------------------------------------

WIDE = TableSpec(name="core.wide_key", key=("region", "ticker", "day"), values=("value",), date_column="day")


@pytest.fixture
def wide(conn):
    conn.execute("create table core.wide_key (region varchar not null, ticker varchar not null, "
                 "day date not null, value double not null, source varchar not null, "
                 "loaded_at timestamp with time zone not null)")
    return conn


@pytest.mark.parametrize(("bad", "key"), [
    ((None, "IWM", D(2024, 1, 4), 3.0), "NULL IWM 2024-01-04"),
    (("us", None, D(2024, 1, 4), 3.0), "us NULL 2024-01-04"),
    (("us", "IWM", None, 3.0), "us IWM NULL"),
    ((None, None, D(2024, 1, 4), 3.0), "NULL NULL 2024-01-04"),
    ((None, None, None, 3.0), "NULL NULL NULL"),
], ids=["region", "ticker", "day", "two", "all three"])
def test_any_null_key_column_refuses_the_row_and_the_batch_loads(wide, bad, key):
    rows = pd.DataFrame([("us", "IWM", D(2024, 1, 2), 1.0), bad, ("us", "SPY", D(2024, 1, 2), 2.0)],
                        columns=["region", "ticker", "day", "value"])
    out = upsert(wide, WIDE, rows, source="files", run_id="run-1")
    assert (out.inserted, out.quarantined) == (2, 1)
    assert out.quarantine_reasons == {"a key column is NULL": 1}
    assert refused(wide) == [(key, "a key column is NULL")]
    assert wide.execute("select region, ticker, value from core.wide_key order by value").fetchall() == [
        ("us", "IWM", 1.0), ("us", "SPY", 2.0)]
    assert wide.execute("select relation, changed_from from meta.changes").fetchall() == [
        ("core.wide_key", D(2024, 1, 2))]


def test_a_null_ticker_in_an_arrow_batch_is_quarantined_and_its_session_loads(conn):
    bars = arrow([*GOOD, (None, D(2024, 1, 4), 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
                  ("SPY", D(2024, 1, 4), 470.0, 472.0, 469.0, 471.0, 468.0, 5e6)])
    out = upsert(conn, PRICES, bars, source="files", run_id="run-1")
    assert (out.inserted, out.quarantined) == (3, 1)
    assert refused(conn) == [("NULL 2024-01-04", "a key column is NULL")]
    assert [r[:2] for r in stored(conn)] == [("IWM", D(2024, 1, 2)), ("IWM", D(2024, 1, 3)), ("SPY", D(2024, 1, 4))]
    # A row without a ticker is counted in the batch, not under any ticker.
    assert out.rejected_by_part == {}
    assert conn.execute("select part, received, rejected from meta.load_batches order by part nulls first"
                        ).fetchall() == [(None, 4, 1), ("IWM", 2, 0), ("SPY", 1, 0)]


# --- NaN and infinities ---------------------------------------------------------------------------

CLOSE_ONLY = [
    ("+inf close", ("IWM", D(2024, 1, 4), None, None, None, INF, 196.0, None), "close is NaN or infinite"),
    ("NaN close", ("IWM", D(2024, 1, 4), None, None, None, NAN, 196.0, None), "close is NaN or infinite"),
    ("-inf close", ("IWM", D(2024, 1, 4), None, None, None, -INF, 196.0, None), "close is NaN or infinite"),
    ("+inf adj_close", ("IWM", D(2024, 1, 4), None, None, None, 196.0, INF, None), "adj_close is NaN or infinite"),
    ("NaN adj_close", ("IWM", D(2024, 1, 4), None, None, None, 196.0, NAN, None), "adj_close is NaN or infinite"),
    ("+inf volume", ("IWM", D(2024, 1, 4), None, None, None, 196.0, 196.0, INF), "volume is NaN or infinite"),
    ("+inf open", ("IWM", D(2024, 1, 4), INF, None, None, 196.0, 196.0, None), "open is NaN or infinite"),
    ("NaN low", ("IWM", D(2024, 1, 4), None, None, NAN, 196.0, 196.0, None), "low is NaN or infinite"),
    ("NULL adj_close", ("IWM", D(2024, 1, 4), None, None, None, 196.0, None, None),
     "adj_close is NULL or not positive"),
    ("negative adj_close", ("IWM", D(2024, 1, 4), None, None, None, 196.0, -196.0, None),
     "adj_close is NULL or not positive"),
]


@pytest.mark.parametrize(("bad", "reason"), [(b, r) for _, b, r in CLOSE_ONLY], ids=[i for i, _, _ in CLOSE_ONLY])
def test_a_bar_without_high_and_low_is_refused_for_its_own_values(conn, bad, reason):
    out = upsert(conn, PRICES, arrow([*GOOD, bad]), source="files", run_id="run-1")
    assert (out.inserted, out.quarantined) == (2, 1)
    assert out.quarantine_reasons == {reason: 1}
    assert refused(conn) == [("IWM 2024-01-04", reason)]
    assert stored(conn) == [("IWM", D(2024, 1, 2), 199.0, 198.0), ("IWM", D(2024, 1, 3), 196.0, 195.0)]
    assert price_checks.integrity(conn).passed


def test_a_pandas_nan_is_a_missing_close_and_an_infinity_stays_infinite(conn):
    frame = pd.DataFrame.from_records(
        [*GOOD, ("IWM", D(2024, 1, 4), None, None, None, NAN, 196.0, None),
         ("IWM", D(2024, 1, 5), None, None, None, INF, 196.0, None)],
        columns=["ticker", "trade_date", "open", "high", "low", "close", "adj_close", "volume"])
    out = load_prices(conn, PriceBatch(frame), source="files", run_id="run-1", now=AFTER)
    assert (out.result.inserted, out.result.quarantined) == (2, 2)
    assert refused(conn) == [("IWM 2024-01-04", "close is NULL or not positive"),
                             ("IWM 2024-01-05", "close is NaN or infinite")]


def test_a_bar_breaking_several_rules_is_refused_with_the_first(conn):
    # NaN close, high below low and negative volume at once: the finiteness rules come first.
    bad = ("IWM", D(2024, 1, 4), 100.0, 99.0, 101.0, NAN, 100.0, -1.0)
    upsert(conn, PRICES, arrow([*GOOD, bad]), source="files")
    assert refused(conn) == [("IWM 2024-01-04", "close is NaN or infinite")]
    # Without the NaN, the next rule in order names it.
    upsert(conn, PRICES, arrow([("IWM", D(2024, 1, 5), 100.0, 99.0, 101.0, 100.0, 100.0, -1.0)]), source="files")
    assert refused(conn)[-1] == ("IWM 2024-01-05", "volume is negative")


def test_the_rule_order_puts_finiteness_before_every_comparison():
    names = [name for name, _, _ in price_rules()]
    finite = [n for n in names if n.endswith("_not_finite")]
    assert finite == [f"{c}_not_finite" for c in ("open", "high", "low", "close", "adj_close", "volume")]
    assert names[: len(finite)] == finite
    assert names[len(finite):] == ["close_not_positive", "adj_close_not_positive", "open_not_positive",
                                   "high_not_positive", "low_not_positive", "negative_volume", "high_below_low",
                                   "close_outside_low_high", "open_outside_low_high"]


@pytest.mark.parametrize("tolerance", [-0.001, 1.0, NAN, INF])
def test_a_tolerance_outside_zero_to_one_is_refused(tolerance):
    with pytest.raises(ValueError, match="ohlc_tolerance must be a fraction from 0 to 1"):
        price_rules(tolerance)


def test_a_tolerance_of_zero_refuses_any_close_beyond_the_range(conn):
    bars = arrow([("IWM", D(2024, 1, 2), 100.0, 101.0, 99.0, 101.0, 101.0, 1e6),
                  ("IWM", D(2024, 1, 3), 100.0, 101.0, 99.0, 101.0001, 101.0, 1e6)])
    from warehouse.prices import price_spec

    out = upsert(conn, price_spec(0.0), bars, source="files")
    assert (out.inserted, out.quarantine_reasons) == (1, {"close outside [low, high] by more than 0.00%": 1})


def test_a_batch_refused_whole_writes_nothing_and_records_no_change(conn):
    bars = arrow([("IWM", D(2024, 1, 2), None, None, None, INF, 1.0, None),
                  ("IWM", D(2024, 1, 3), None, None, None, 0.0, 1.0, None)])
    out = upsert(conn, PRICES, bars, source="files", run_id="run-1")
    assert (out.inserted, out.updated, out.unchanged, out.quarantined) == (0, 0, 0, 2)
    assert out.rejected_by_part == {"IWM": (2, 2)}
    assert stored(conn) == []
    assert conn.execute("select count(*) from meta.changes").fetchall() == [(0,)]


def test_a_refused_revision_leaves_the_stored_bar(conn):
    upsert(conn, PRICES, arrow(GOOD), source="files", run_id="run-1")
    revised = ("IWM", D(2024, 1, 3), None, None, None, NAN, 195.0, None)
    out = upsert(conn, PRICES, arrow([GOOD[0], revised]), source="files", run_id="run-2")
    assert (out.inserted, out.updated, out.unchanged, out.quarantined) == (0, 0, 1, 1)
    assert stored(conn) == [("IWM", D(2024, 1, 2), 199.0, 198.0), ("IWM", D(2024, 1, 3), 196.0, 195.0)]


def test_the_integrity_check_names_an_infinite_close_that_bypassed_the_loader(conn):
    upsert(conn, PRICES, arrow(GOOD), source="files")
    conn.execute("update core.prices_daily set close = 'inf'::double where trade_date = '2024-01-03'")
    out = price_checks.integrity(conn)
    assert not out.passed
    # The check names every rule the row breaks: +inf is also above the high (199.5).
    assert [(r["ticker"], r["trade_date"], r["problem"]) for r in out.records()] == [
        ("IWM", D(2024, 1, 3), "close is NaN or infinite; close outside [low, high] by more than 0.10%")]


# --- what the quarantine check shows --------------------------------------------------------------


def test_the_quarantine_check_before_any_load_and_after_a_clean_one(conn):
    before = quarantined(conn, target_table="core.prices_daily", run_id=None)
    assert (before.name, before.passed, before.summary) == (
        "no_rows_quarantined", True, "core.prices_daily has not been loaded yet")
    upsert(conn, PRICES, arrow(GOOD), source="files", run_id="run-1")
    clean = quarantined(conn, target_table="core.prices_daily", run_id="run-1")
    assert (clean.name, clean.passed, clean.failing, clean.rows) == ("no_rows_quarantined", True, 0, [])
    assert clean.summary == "the load of run run-1 kept every row"
    assert clean.counts == {"load_run_id": "run-1", "quarantine_reasons": {}}


def test_the_quarantine_check_shows_only_its_table_and_run_with_counts(conn):
    bad = [("IWM", D(2024, 1, 4), None, None, None, INF, 1.0, None),
           ("IWM", D(2024, 1, 5), None, None, None, 0.0, 1.0, None),
           ("SPY", D(2024, 1, 4), None, None, None, -1.0, 1.0, None)]
    upsert(conn, PRICES, arrow([*GOOD, *bad]), source="files", run_id="run-1")
    upsert(conn, PRICES, arrow([("QQQ", D(2024, 1, 4), None, None, None, NAN, 1.0, None)]),
           source="files", run_id="run-2")
    out = quarantined(conn, target_table="core.prices_daily", run_id="run-1")
    assert (out.name, out.passed, out.failing) == ("no_rows_quarantined", False, 3)
    assert out.summary == "the load of run run-1 quarantined 3 rows meant for core.prices_daily"
    assert [(r["key"], r["reason"], r["run_id"]) for r in out.records()] == [
        ("IWM 2024-01-04", "close is NaN or infinite", "run-1"),
        ("IWM 2024-01-05", "close is NULL or not positive", "run-1"),
        ("SPY 2024-01-04", "close is NULL or not positive", "run-1"),
    ]
    assert out.counts == {
        "load_run_id": "run-1",
        "quarantine_reasons": {"close is NaN or infinite": 1, "close is NULL or not positive": 2},
        "refused_by_ticker": {"IWM": "2 of 4", "SPY": "1 of 1"},
    }
    one = quarantined(conn, target_table="core.prices_daily", run_id="run-2")
    assert one.summary == "the load of run run-2 quarantined 1 row meant for core.prices_daily"
    assert one.counts["refused_by_ticker"] == {"QQQ": "1 of 1"}
    assert quarantined(conn, target_table="core.rates_daily", run_id="run-1").passed


def test_the_quarantine_check_without_a_quarantine_table(tmp_path):
    import duckdb

    with duckdb.connect(str(tmp_path / "bare.duckdb")) as bare:
        out = quarantined(bare, target_table="core.prices_daily", run_id="run-1")
    assert (out.name, out.passed, out.summary) == (
        "no_rows_quarantined", False, "core.quarantine does not exist: load it first")


# --- load_prices: the spec built at each call, and what the load reports --------------------------


def frame(*rows):
    return pd.DataFrame.from_records(rows, columns=["ticker", "trade_date", "open", "high", "low", "close",
                                                    "adj_close", "volume"])


LOAD_REFUSALS = [
    ("saturday", ("IWM", D(2024, 1, 6), None, None, None, 196.0, 196.0, None), "trade_date is not an NYSE session (weekend)"),
    ("negative volume", ("IWM", D(2024, 1, 4), None, None, None, 196.0, 196.0, -1.0), "volume is negative"),
    ("high below low", ("IWM", D(2024, 1, 4), 196.0, 195.0, 197.0, 196.0, 196.0, 1.0), "high below low"),
    ("zero low", ("IWM", D(2024, 1, 4), 196.0, 197.0, 0.0, 196.0, 196.0, 1.0), "low is not positive"),
]


@pytest.mark.parametrize(("bad", "reason"), [(b, r) for _, b, r in LOAD_REFUSALS], ids=[i for i, _, _ in LOAD_REFUSALS])
def test_load_prices_applies_every_rule(conn, bad, reason):
    out = load_prices(conn, PriceBatch(frame(*GOOD, bad)), source="files", run_id="run-1", now=AFTER)
    assert (out.result.inserted, out.result.quarantine_reasons) == (2, {reason: 1})


def test_load_prices_reports_what_it_loaded_held_back_and_was_told(conn):
    # At 23:00 UTC on 2024-01-10 that session has closed (16:00 New York, 21:00 UTC, plus 20
    # minutes to settle); 2024-01-11 has not.
    batch = PriceBatch(frame(*GOOD, ("SPY", D(2024, 1, 10), 470.0, 472.0, 469.0, 471.0, 468.0, 5e6),
                             ("SPY", D(2024, 1, 11), 471.0, 473.0, 470.0, 472.0, 469.0, 5e6)),
                       failed={"QQQ": "no answer", "DIA": "no file"}, skipped_blank=3, notes=["one note"])
    out = load_prices(conn, batch, source="files", run_id="run-1", now=AFTER)
    assert (out.result.inserted, out.held_back) == (3, 1)
    assert out.tickers_loaded == ["IWM", "SPY"]
    assert out.tickers_failed == {"DIA": "no file", "QQQ": "no answer"}
    assert list(out.tickers_failed) == ["DIA", "QQQ"]
    assert (out.first_date, out.last_date) == (D(2024, 1, 2), D(2024, 1, 10))
    assert (out.skipped_blank, out.notes) == (3, ["one note"])
    # The change log starts at the batch's first date, not "everything".
    assert conn.execute("select relation, changed_from from meta.changes").fetchall() == [
        ("core.prices_daily", D(2024, 1, 2))]


def test_load_prices_of_nothing_reports_no_dates(conn):
    out = load_prices(conn, PriceBatch(frame()), source="files", now=AFTER)
    assert (out.result.inserted, out.held_back, out.first_date, out.last_date) == (0, 0, None, None)
    assert out.tickers_loaded == []


def test_drop_unfinished_keeps_the_last_closed_session_and_undated_bars():
    from warehouse.prices import drop_unfinished

    bars = frame(("IWM", D(2024, 1, 10), None, None, None, 1.0, 1.0, None),
                 ("IWM", D(2024, 1, 11), None, None, None, 1.0, 1.0, None),
                 ("IWM", None, None, None, None, 1.0, 1.0, None))
    kept, held = drop_unfinished(bars, AFTER)
    assert held == 1 and kept["trade_date"].tolist() == [D(2024, 1, 10), None]
    # 20:00 UTC: 15:00 in New York, the session of 01-10 still open; 01-09 is the last closed.
    kept, held = drop_unfinished(bars, pd.Timestamp("2024-01-10 20:00", tz="UTC"))
    assert held == 2 and kept["trade_date"].tolist() == [None]
    empty, held = drop_unfinished(frame(), AFTER)
    assert empty.empty and held == 0


# --- the loader's helpers -------------------------------------------------------------------------


@pytest.mark.parametrize("what", ["date_column", "session_column", "batch_log_by"])
def test_a_spec_naming_a_column_outside_its_key_is_refused(what):
    with pytest.raises(ValueError) as err:
        TableSpec(name="core.x", key=("ticker", "day"), values=("v",), **{what: "v"})
    assert str(err.value) == f"core.x: {what} 'v' is not a key column"
    assert TableSpec(name="core.x", key=("ticker", "day"), values=("v",), **{what: "day"})


def test_a_rejects_frame_holds_the_quarantine_columns_with_the_payload_as_json():
    from warehouse.load import QUARANTINE_COLUMNS, empty_rejects, rejects_frame

    assert list(QUARANTINE_COLUMNS) == ["key", "reason", "origin", "payload"]
    empty = empty_rejects()
    assert list(empty.columns) == QUARANTINE_COLUMNS and empty.empty
    assert [str(empty[c].dtype) for c in QUARANTINE_COLUMNS] == ["str"] * 4
    assert rejects_frame([]).equals(empty)
    out = rejects_frame([
        {"key": "DIA 2024-01-02", "reason": "r", "origin": "f line 2", "payload": {"day": D(2024, 1, 2), "v": 1}, "line": 2},
        {"key": "DIA x", "reason": "r2", "origin": None, "payload": "as given"},
    ])
    assert list(out.columns) == QUARANTINE_COLUMNS
    assert out["payload"].tolist() == ['{"day": "2024-01-02", "v": 1}', "as given"]


def keys_table(**columns):
    return pa.table(columns)


@pytest.mark.parametrize(("columns", "distinct"), [
    ({"t": ["A", "A", "B", "B"], "d": [1, 2, 1, 2]}, True),  # grouped by ticker, dates ascending
    ({"t": ["A", "B", "A", "B"], "d": [1, 1, 2, 2]}, True),  # ordered by date
    ({"t": ["A", "A", "B", "A"], "d": [1, 2, 1, 3]}, False),  # A comes back: says nothing
    ({"t": ["A", "A", "B", "B"], "d": [1, 1, 1, 2]}, False),  # A on 1 twice
    ({"t": ["A", "A", "B", "B"], "d": [2, 1, 1, 2]}, False),  # A's dates descending
    ({"t": ["A", "B"], "d": [None, 1]}, False),  # a NULL key
    ({"t": ["A"], "d": [1]}, True),
], ids=["by ticker", "by date", "ticker back", "repeat", "descending", "null", "one row"])
def test_the_layout_proof_of_distinct_keys(columns, distinct):
    from warehouse.load import _keys_distinct

    assert _keys_distinct(keys_table(**columns), ("t", "d"), "d") is distinct


@pytest.mark.parametrize(("columns", "distinct"), [
    ({"t": ["A", "A", "A", "B"], "x": [1, 1, 2, 1], "d": [1, 2, 1, 1]}, True),  # (x, d) increasing within A
    ({"t": ["A", "A", "A", "B"], "x": [1, 1, 2, 1], "d": [2, 2, 1, 1]}, False),  # (A, 1, 2) twice
    ({"t": ["B", "A", "A", "B"], "x": [1, 2, 2, 1], "d": [1, 1, 1, 1]}, False),  # (A, 2, 1) and (B, 1, 1) twice
], ids=["lexicographic", "repeat in a run", "repeat apart"])
def test_the_layout_proof_compares_the_other_key_columns_lexicographically(columns, distinct):
    from warehouse.load import _keys_distinct

    assert _keys_distinct(keys_table(**columns), ("t", "x", "d"), None) is distinct


def test_a_batch_dated_by_timestamps_records_its_first_date(conn):
    bars = arrow(GOOD).set_column(1, "trade_date", pa.array(
        [dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 3)], type=pa.timestamp("us")))
    out = upsert(conn, PRICES, bars, source="files", run_id="run-1")
    assert out.inserted == 2
    assert conn.execute("select changed_from from meta.changes").fetchall() == [(D(2024, 1, 2),)]
    again = arrow([GOOD[1]]).set_column(1, "trade_date", pa.array([dt.datetime(2024, 1, 3)], type=pa.timestamp("us")))
    revised = again.set_column(5, "close", pa.array([196.5]))
    assert upsert(conn, PRICES, revised, source="files", run_id="run-2").updated == 1
    assert conn.execute("select changed_from from meta.changes order by change_id").fetchall() == [
        (D(2024, 1, 2),), (D(2024, 1, 3),)]
