import datetime as dt

import pandas as pd
import pytest

from warehouse.db import MixedDataError, connect, ensure_schema
from warehouse.load import rejects_frame
from warehouse.prices import load_prices
from warehouse.sources.base import PriceBatch

AFTER_CLOSE = pd.Timestamp("2024-01-10 23:00", tz="UTC")


def bars(*rows):
    return pd.DataFrame.from_records(
        rows, columns=["ticker", "trade_date", "open", "high", "low", "close", "adj_close", "volume"]
    )


BASE = bars(
    ("IWM", dt.date(2024, 1, 2), 200.0, 201.0, 198.0, 199.0, 198.0, 1e6),
    ("IWM", dt.date(2024, 1, 3), 199.0, 199.5, 195.0, 196.0, 195.0, 2e6),
    ("SPY", dt.date(2024, 1, 2), 470.0, 472.0, 469.0, 471.0, 468.0, 5e6),
)


def table(conn):
    return conn.execute("select * from core.prices_daily order by ticker, trade_date").fetchall()


def test_loading_the_same_batch_twice_gives_identical_tables(conn):
    first = load_prices(conn, PriceBatch(BASE), source="files", now=AFTER_CLOSE)
    before = table(conn)
    second = load_prices(conn, PriceBatch(BASE), source="files", now=AFTER_CLOSE)
    assert (first.result.inserted, first.result.updated) == (3, 0)
    assert (second.result.inserted, second.result.updated, second.result.unchanged) == (0, 0, 3)
    assert table(conn) == before  # loaded_at included: unchanged rows are not rewritten


def test_a_revised_bar_replaces_the_stored_one(conn):
    load_prices(conn, PriceBatch(BASE), source="files", now=AFTER_CLOSE)
    revised = BASE.copy()
    revised.loc[1, ["close", "adj_close"]] = [196.5, 195.5]
    out = load_prices(conn, PriceBatch(revised), source="files", now=AFTER_CLOSE)
    assert (out.result.inserted, out.result.updated, out.result.unchanged) == (0, 1, 2)
    row = conn.execute(
        "select close, adj_close from core.prices_daily where ticker='IWM' and trade_date='2024-01-03'"
    ).fetchone()
    assert row == (196.5, 195.5)
    assert conn.execute("select count(*) from core.prices_daily").fetchone()[0] == 3


def test_bad_rows_go_to_quarantine_with_reason_and_run(conn):
    bad = pd.concat(
        [BASE, bars(("SPY", dt.date(2024, 1, 3), 1.0, 1.0, 1.0, 0.0, 0.0, 1.0),
                    ("QQQ", dt.date(2024, 1, 3), 1.0, 1.0, 1.0, None, 1.0, 1.0))],
        ignore_index=True,
    )
    rejects = rejects_frame([{"key": "DIA 2024-13-01", "reason": "unparseable date '2024-13-01'",
                              "origin": "prices/DIA.csv line 7", "payload": {"Date": "2024-13-01"}}])
    out = load_prices(conn, PriceBatch(bad, rejects=rejects), source="files", run_id="run-1", now=AFTER_CLOSE)
    assert out.result.inserted == 3
    assert out.result.quarantined == 3
    rows = conn.execute("select key, reason, origin, run_id from core.quarantine order by key").fetchall()
    assert rows == [
        ("DIA 2024-13-01", "unparseable date '2024-13-01'", "prices/DIA.csv line 7", "run-1"),
        ("QQQ 2024-01-03", "close is NULL or not positive", None, "run-1"),
        ("SPY 2024-01-03", "close is NULL or not positive", None, "run-1"),
    ]


def test_conflicting_duplicates_in_one_batch_are_both_refused(conn):
    # Both SPY 01-02 bars pass every rule alone (the second's close 471.5 is within [469, 472]).
    dup = pd.concat([BASE, bars(("SPY", dt.date(2024, 1, 2), 470.0, 472.0, 469.0, 471.5, 468.5, 5e6))])
    out = load_prices(conn, PriceBatch(dup), source="files", now=AFTER_CLOSE)
    assert out.result.inserted == 2
    assert out.result.quarantine_reasons == {
        "the same key appears more than once in this batch with different values": 2
    }
    # An exact repeat of a row is not a conflict: it loads once.
    out = load_prices(conn, PriceBatch(pd.concat([BASE, BASE])), source="files", now=AFTER_CLOSE)
    assert out.result.quarantined == 0
    assert conn.execute("select count(*) from core.prices_daily").fetchone()[0] == 3


def test_unfinished_session_is_held_back():
    # 2024-01-10 15:00 New York: the session of the 10th is still open.
    during = pd.Timestamp("2024-01-10 20:00", tz="UTC")
    frame = pd.concat([BASE, bars(("IWM", dt.date(2024, 1, 10), 1.0, 2.0, 0.5, 1.5, 1.5, 9.0))])
    from warehouse.prices import drop_unfinished

    kept, held = drop_unfinished(frame, during)
    assert held == 1
    assert dt.date(2024, 1, 10) not in set(kept["trade_date"])


def test_a_failure_half_way_leaves_the_table_untouched(conn, monkeypatch):
    load_prices(conn, PriceBatch(BASE), source="files", now=AFTER_CLOSE)
    before = table(conn)
    quarantine_before = conn.execute("select count(*) from core.quarantine").fetchone()[0]
    revised = BASE.copy()
    revised["close"] = revised["close"] + 1
    bad = pd.concat([revised, bars(("SPY", dt.date(2024, 1, 3), 1.0, 1.0, 1.0, -5.0, 1.0, 1.0))])

    real_execute = type(conn).execute

    def failing(self, sql, *args, **kwargs):
        # Fail on the final insert: the quarantine rows and the delete of the changed rows
        # have run by then, so only the transaction can put the table back.
        if sql.lstrip().startswith("insert into core.prices_daily"):
            raise RuntimeError("disk full")
        return real_execute(self, sql, *args, **kwargs)

    import warehouse.load as load_module

    class Proxy:
        def __init__(self, inner):
            self._inner = inner

        def execute(self, sql, *args, **kwargs):
            return failing(self._inner, sql, *args, **kwargs)

        def __getattr__(self, name):
            return getattr(self._inner, name)

    with pytest.raises(RuntimeError, match="disk full"):
        load_module.upsert(Proxy(conn), __import__("warehouse.prices").prices.PRICES, bad, source="files")
    assert table(conn) == before
    assert conn.execute("select count(*) from core.quarantine").fetchone()[0] == quarantine_before


def test_sample_rows_never_enter_a_real_warehouse(tmp_path):
    path = tmp_path / "live.duckdb"
    with connect(path) as conn:
        ensure_schema(conn)
        load_prices(conn, PriceBatch(BASE), source="live", now=AFTER_CLOSE)
        with pytest.raises(MixedDataError, match="holds real data; refusing to load sample rows"):
            load_prices(conn, PriceBatch(BASE), source="sample", now=AFTER_CLOSE)
        assert conn.execute("select distinct source from core.prices_daily").fetchall() == [("live",)]


# --- fault isolation: a bad row is quarantined alone -------------------------------------------


def quarantine(conn):
    return conn.execute(
        "select key, reason, origin, run_id from core.quarantine order by key, reason"
    ).fetchall()


@pytest.mark.parametrize(
    ("bad", "key"),
    [
        # One NULL key column is enough: with `and` instead of `or` in the rule, the row would
        # reach the NOT NULL column and abort the whole batch.
        ((None, dt.date(2024, 1, 4), 1.0, 1.0, 1.0, 1.0, 1.0, 1.0), "NULL 2024-01-04"),
        (("SPY", None, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0), "SPY NULL"),
    ],
    ids=["null ticker", "null date"],
)
def test_a_null_key_column_alone_is_quarantined_and_the_rest_loads(conn, bad, key):
    out = load_prices(conn, PriceBatch(pd.concat([BASE, bars(bad)], ignore_index=True)),
                      source="files", run_id="run-1", now=AFTER_CLOSE)
    assert (out.result.inserted, out.result.quarantined) == (3, 1)
    assert out.result.quarantine_reasons == {"a key column is NULL": 1}
    assert quarantine(conn) == [(key, "a key column is NULL", None, "run-1")]
    assert [r[:2] for r in table(conn)] == [
        ("IWM", dt.date(2024, 1, 2)), ("IWM", dt.date(2024, 1, 3)), ("SPY", dt.date(2024, 1, 2))]
    assert out.tickers_loaded == ["IWM", "SPY"] and out.held_back == 0


@pytest.mark.parametrize("adj_close", [0.0, -195.0])
def test_a_non_positive_adj_close_is_quarantined(conn, adj_close):
    bad = bars(("IWM", dt.date(2024, 1, 4), 196.0, 197.0, 195.0, 196.5, adj_close, 1e6))
    out = load_prices(conn, PriceBatch(pd.concat([BASE, bad], ignore_index=True)), source="files",
                      run_id="run-1", now=AFTER_CLOSE)
    assert (out.result.inserted, out.result.quarantined) == (3, 1)
    assert quarantine(conn) == [("IWM 2024-01-04", "adj_close is NULL or not positive", None, "run-1")]


def test_reloading_a_batch_with_a_bad_row_quarantines_it_once(conn):
    bad = pd.concat([BASE, bars(("IWM", dt.date(2024, 1, 4), 196.0, 195.0, 197.0, 196.5, 195.5, 1e6))],
                    ignore_index=True)
    first = load_prices(conn, PriceBatch(bad), source="files", run_id="run-1", now=AFTER_CLOSE)
    before = table(conn)
    again = load_prices(conn, PriceBatch(bad), source="files", run_id="run-1", now=AFTER_CLOSE)
    assert (first.result.quarantined, again.result.quarantined) == (1, 1)
    assert table(conn) == before
    everything = "select * from core.quarantine"
    once = conn.execute(everything).fetchall()
    assert len(once) == 1
    # A later run refusing it again: still one row, now naming that run.
    load_prices(conn, PriceBatch(bad), source="files", run_id="run-2", now=AFTER_CLOSE)
    assert table(conn) == before
    assert quarantine(conn) == [("IWM 2024-01-04", "high below low", None, "run-2")]


def test_the_loader_logs_rows_given_and_refused_per_ticker(conn):
    bad = pd.concat([BASE, bars(("IWM", dt.date(2024, 1, 4), 196.0, 195.0, 197.0, 196.5, 195.5, 1e6))],
                    ignore_index=True)
    out = load_prices(conn, PriceBatch(bad), source="files", run_id="run-1", now=AFTER_CLOSE)
    assert out.result.rejected_by_part == {"IWM": (3, 1)}
    assert conn.execute(
        "select part, run_id, received, rejected, table_rows from meta.load_batches order by part nulls first"
    ).fetchall() == [(None, "run-1", 4, 1, 3), ("IWM", "run-1", 3, 1, None), ("SPY", "run-1", 1, 0, None)]
    # The next load of SPY alone replaces SPY's line and the batch line; IWM's stays.
    load_prices(conn, PriceBatch(BASE[BASE["ticker"] == "SPY"]), source="files", run_id="run-2", now=AFTER_CLOSE)
    assert conn.execute(
        "select part, run_id, received, rejected, table_rows from meta.load_batches order by part nulls first"
    ).fetchall() == [(None, "run-2", 1, 0, 3), ("IWM", "run-1", 3, 1, None), ("SPY", "run-2", 1, 0, None)]


def test_bars_carrying_their_file_and_line_are_quarantined_with_them(conn):
    with_origin = BASE.assign(origin_file="/x/prices/IWM.csv", origin_line=[2, 3, 9])
    with_origin.loc[1, ["high", "low"]] = [195.0, 199.5]  # IWM 01-03, line 3: high below low
    out = load_prices(conn, PriceBatch(with_origin), source="files", run_id="run-1", now=AFTER_CLOSE)
    assert (out.result.inserted, out.result.quarantined) == (2, 1)
    assert quarantine(conn) == [("IWM 2024-01-03", "high below low", "/x/prices/IWM.csv line 3", "run-1")]
    # the origin is not stored in the table
    assert [d[0] for d in conn.execute("select * from core.prices_daily limit 0").description][-2:] == [
        "source", "loaded_at"]
