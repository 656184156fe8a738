"""Every write to a core table records its change (meta.changes) with the earliest date it wrote."""

from __future__ import annotations

import datetime as dt
import textwrap

import pandas as pd
import pyarrow as pa
import pytest

from warehouse import load as load_module
from warehouse.claims import HEADER as CLAIMS_HEADER
from warehouse.claims import load_claims
from warehouse.load import _keys_distinct, upsert
from warehouse.prices import PRICES
from warehouse.rates import (
    load_fomc_reference,
    load_rates,
    rebuild_fomc_decisions,
    rebuild_policy_rate_daily,
)
from warehouse.sources.rates import RateBatch
from warehouse.valuations import load_published

D = dt.date
COLUMNS = ["ticker", "trade_date", "open", "high", "low", "close", "adj_close", "volume"]


def bars(*rows) -> pd.DataFrame:
    """(ticker, day, close) rows; the other prices follow the close."""
    return pd.DataFrame.from_records(
        [(t, d, c, c, c, c, c, 1e6) for t, d, c in rows], columns=COLUMNS
    )


def recorded(conn, relation: str) -> list[tuple]:
    return conn.execute(
        "select changed_from, run_id from meta.changes where relation = ? order by change_id",
        [relation],
    ).fetchall()


def prices(conn) -> list[tuple]:
    return conn.execute(
        "select ticker, trade_date, close from core.prices_daily order by 1, 2"
    ).fetchall()


BASE = bars(("IWM", D(2024, 1, 2), 199.0), ("IWM", D(2024, 1, 3), 196.0), ("SPY", D(2024, 1, 2), 471.0))


# ------------------------------------------------------------------------------------ upsert


def test_a_first_load_records_its_earliest_date_and_run(conn):
    out = upsert(conn, PRICES, BASE, source="files", run_id="run-1")
    assert out.inserted == 3
    assert recorded(conn, "core.prices_daily") == [(D(2024, 1, 2), "run-1")]


def test_an_identical_reload_records_nothing(conn):
    upsert(conn, PRICES, BASE, source="files", run_id="run-1")
    out = upsert(conn, PRICES, BASE, source="files", run_id="run-2")
    assert out.unchanged == 3
    assert recorded(conn, "core.prices_daily") == [(D(2024, 1, 2), "run-1")]


def test_an_all_quarantined_batch_records_nothing(conn):
    bad = bars(("IWM", D(2024, 1, 4), 0.0), ("SPY", D(2024, 1, 4), -1.0))
    out = upsert(conn, PRICES, bad, source="files")  # into the empty table
    assert (out.written, out.quarantined) == (0, 2)
    assert recorded(conn, "core.prices_daily") == []
    upsert(conn, PRICES, BASE, source="files", run_id="run-1")
    out = upsert(conn, PRICES, bad, source="files", run_id="run-2")  # into a filled one
    assert (out.written, out.quarantined) == (0, 2)
    assert recorded(conn, "core.prices_daily") == [(D(2024, 1, 2), "run-1")]


def test_a_first_load_with_its_earliest_day_quarantined_records_the_earliest_day_written(conn):
    batch = bars(("IWM", D(2024, 1, 2), 0.0), ("IWM", D(2024, 1, 3), 196.0), ("SPY", D(2024, 1, 4), 470.0))
    out = upsert(conn, PRICES, batch, source="files")
    assert (out.inserted, out.quarantined) == (2, 1)
    assert recorded(conn, "core.prices_daily") == [(D(2024, 1, 3), None)]


def test_an_update_of_an_older_row_records_its_date_not_the_batch_start(conn):
    upsert(conn, PRICES, BASE, source="files")
    # 01-02 unchanged, 01-03 revised, 01-04 new: the table changed from 01-03 on.
    batch = bars(("IWM", D(2024, 1, 2), 199.0), ("IWM", D(2024, 1, 3), 196.5), ("IWM", D(2024, 1, 4), 197.0))
    out = upsert(conn, PRICES, batch, source="files", run_id="run-2")
    assert (out.inserted, out.updated, out.unchanged) == (1, 1, 1)
    assert recorded(conn, "core.prices_daily")[-1] == (D(2024, 1, 3), "run-2")
    # A revision further back moves the date back.
    out = upsert(conn, PRICES, bars(("SPY", D(2024, 1, 2), 470.5)), source="files", run_id="run-3")
    assert out.updated == 1
    assert recorded(conn, "core.prices_daily")[-1] == (D(2024, 1, 2), "run-3")


def test_new_rows_after_unchanged_ones_record_the_first_new_date(conn):
    upsert(conn, PRICES, BASE, source="files")
    batch = bars(("IWM", D(2024, 1, 3), 196.0), ("SPY", D(2024, 1, 2), 471.0), ("SPY", D(2024, 1, 5), 480.0))
    out = upsert(conn, PRICES, batch, source="files")
    assert (out.inserted, out.updated, out.unchanged) == (1, 0, 2)
    assert recorded(conn, "core.prices_daily")[-1] == (D(2024, 1, 5), None)


def test_a_conflicting_key_quarantined_on_the_first_day_moves_the_date_to_the_next(conn):
    batch = bars(("SPY", D(2024, 1, 2), 471.0), ("IWM", D(2024, 1, 3), 196.0), ("SPY", D(2024, 1, 2), 999.0))
    out = upsert(conn, PRICES, batch, source="files")
    assert (out.inserted, out.quarantined) == (1, 2)
    assert recorded(conn, "core.prices_daily") == [(D(2024, 1, 3), None)]


def test_a_failed_load_records_no_change(conn, monkeypatch):
    upsert(conn, PRICES, BASE, source="files")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(load_module.changes, "record", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        upsert(conn, PRICES, bars(("IWM", D(2024, 1, 4), 197.0)), source="files")
    # The rows and the change commit together, or neither does.
    assert prices(conn) == [("IWM", D(2024, 1, 2), 199.0), ("IWM", D(2024, 1, 3), 196.0),
                            ("SPY", D(2024, 1, 2), 471.0)]
    assert len(recorded(conn, "core.prices_daily")) == 1


# ------------------------------------------------------------------ the date-range restriction


def test_a_batch_only_touches_its_own_keys_inside_and_outside_its_date_range(conn):
    history = bars(*[(t, D(2024, 1, d), 100.0 + d) for t in ("IWM", "SPY") for d in (2, 3, 4, 5, 8)])
    upsert(conn, PRICES, history, source="files")
    # Inside 01-03..01-05: SPY 01-04 revised, IWM 01-05 unchanged, QQQ 01-03 new; nothing of
    # IWM 01-04 or anything outside the range is in the batch, so it must stay as it was.
    batch = bars(("SPY", D(2024, 1, 4), 150.0), ("IWM", D(2024, 1, 5), 105.0), ("QQQ", D(2024, 1, 3), 300.0))
    out = upsert(conn, PRICES, batch, source="files")
    assert (out.inserted, out.updated, out.unchanged) == (1, 1, 1)
    expected = {(t, D(2024, 1, d), 100.0 + d) for t in ("IWM", "SPY") for d in (2, 3, 4, 5, 8)}
    expected = (expected - {("SPY", D(2024, 1, 4), 104.0)}) | {
        ("SPY", D(2024, 1, 4), 150.0), ("QQQ", D(2024, 1, 3), 300.0)}
    assert set(prices(conn)) == expected and len(prices(conn)) == 11
    assert recorded(conn, "core.prices_daily")[-1] == (D(2024, 1, 3), None)


def test_dates_given_as_timestamps_are_compared_as_dates(conn):
    upsert(conn, PRICES, BASE, source="files")
    stamped = BASE.assign(trade_date=pd.to_datetime(BASE["trade_date"]))
    stamped.loc[1, ["open", "high", "low", "close", "adj_close"]] = 197.0
    out = upsert(conn, PRICES, stamped, source="files")
    assert (out.inserted, out.updated, out.unchanged) == (0, 1, 2)
    assert recorded(conn, "core.prices_daily")[-1] == (D(2024, 1, 3), None)


# --------------------------------------------------------------- proving keys unique cheaply


def keys(*rows) -> pa.Table:
    return pa.table({"ticker": [t for t, _ in rows], "trade_date": [D(2024, 1, d) for _, d in rows]})


@pytest.mark.parametrize(
    ("rows", "proved"),
    [
        ([("B", 2), ("A", 2), ("A", 3), ("B", 3)], False),  # date-ordered, tickers not sorted in a day
        ([("A", 2), ("B", 2), ("A", 3), ("B", 3)], True),  # date-ordered: the bulk layout
        ([("B", 2), ("B", 3), ("A", 2), ("A", 3)], True),  # grouped by ticker, dates ascending
        ([("A", 2), ("B", 2), ("A", 3)], True),  # grouped by date: A may come back another day
        ([("A", 2), ("B", 3), ("A", 3), ("B", 2)], False),  # unique, but no layout proves it
        ([("A", 2), ("B", 2), ("A", 2)], False),  # A 01-02 twice
        ([("A", 2), ("A", 2)], False),  # the same key in a row
        ([("A", 3), ("A", 2), ("A", 3)], False),  # 01-03 comes back
        ([("A", 2)], True),
    ],
)
def test_keys_are_proved_unique_only_by_an_ordered_layout(rows, proved):
    assert _keys_distinct(keys(*rows), ("ticker", "trade_date"), "trade_date") is proved


def test_a_null_key_is_never_proved_unique():
    table = pa.table({"ticker": ["A", None], "trade_date": [D(2024, 1, 2), D(2024, 1, 3)]})
    assert _keys_distinct(table, ("ticker", "trade_date"), "trade_date") is False


def test_unproved_layouts_still_load_and_catch_repeats(conn):
    # Unique in no order: loads whole through the exact aggregate.
    out = upsert(conn, PRICES, bars(("A", D(2024, 1, 2), 1.0), ("B", D(2024, 1, 3), 2.0),
                                    ("A", D(2024, 1, 3), 3.0), ("B", D(2024, 1, 2), 4.0)),
                 source="files")
    assert (out.inserted, out.quarantined) == (4, 0)
    # A comes back with the same day and another value: a conflict, both refused.
    out = upsert(conn, PRICES, bars(("A", D(2024, 1, 4), 1.0), ("B", D(2024, 1, 4), 2.0),
                                    ("A", D(2024, 1, 4), 9.0)), source="files")
    assert (out.inserted, out.quarantined) == (1, 2)


def test_a_batch_of_many_small_chunks_loads_the_same(conn):
    # A session concatenated ticker by ticker: one Arrow chunk per row.
    frame = bars(*[(f"T{i:02d}", D(2024, 1, 2), 10.0 + i) for i in range(40)])
    table = pa.concat_tables(
        [pa.Table.from_pandas(frame.iloc[[i]], preserve_index=False) for i in range(40)]
    )
    assert table.column(0).num_chunks == 40
    out = upsert(conn, PRICES, table, source="files")
    assert out.inserted == 40
    assert prices(conn)[-1] == ("T39", D(2024, 1, 2), 49.0)


# ---------------------------------------------------------------------------- other writers


def rates(conn, series: dict[str, list[tuple[dt.date, float]]], run_id=None):
    rows = [(s, d, v) for s, obs in series.items() for d, v in obs]
    frame = pd.DataFrame.from_records(rows, columns=["series_id", "obs_date", "value"])
    return load_rates(conn, RateBatch(frame), source="files", run_id=run_id)


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(n) for n in range((last - first).days + 1)]


def test_the_policy_tables_record_from_the_first_day_that_differs(conn):
    rates(conn, {
        "DFEDTAR": [(d, 1.5 if d < D(2008, 10, 29) else 1.0) for d in days(D(2008, 10, 27), D(2008, 12, 15))],
        "DFEDTARL": [(d, 0.0) for d in days(D(2008, 12, 16), D(2008, 12, 20))],
        "DFEDTARU": [(d, 0.25) for d in days(D(2008, 12, 16), D(2008, 12, 20))],
        "DFF": [(D(2008, 12, 15), 1.0), (D(2008, 12, 16), 0.16), (D(2008, 12, 17), 0.30)],
    }, run_id="r1")
    assert recorded(conn, "core.rates_daily") == [(D(2008, 10, 27), "r1")]
    assert rebuild_policy_rate_daily(conn, run_id="r1") == 55
    assert rebuild_fomc_decisions(conn, run_id="r1") == 2
    assert recorded(conn, "core.policy_rate_daily") == [(D(2008, 10, 27), "r1")]
    # The 2008-10-29 cut and the 2008-12-16 switch to the range.
    assert recorded(conn, "core.fomc_decisions") == [(D(2008, 10, 29), "r1")]

    # Nothing new: the rebuilds give the same tables and record nothing.
    rebuild_policy_rate_daily(conn, run_id="r2")
    rebuild_fomc_decisions(conn, run_id="r2")
    assert len(recorded(conn, "core.policy_rate_daily")) == 1
    assert len(recorded(conn, "core.fomc_decisions")) == 1

    # FRED revises the effective rate of 2008-12-16: the policy table changes from that day,
    # the decisions (targets only) do not change at all.
    rates(conn, {"DFF": [(D(2008, 12, 16), 0.20)]}, run_id="r3")
    assert recorded(conn, "core.rates_daily")[-1] == (D(2008, 12, 16), "r3")
    rebuild_policy_rate_daily(conn, run_id="r3")
    rebuild_fomc_decisions(conn, run_id="r3")
    assert recorded(conn, "core.policy_rate_daily")[-1] == (D(2008, 12, 16), "r3")
    assert conn.execute(
        "select effective from core.policy_rate_daily where calendar_date = '2008-12-16'"
    ).fetchall() == [(0.20,)]
    assert len(recorded(conn, "core.fomc_decisions")) == 1


def test_the_fomc_reference_records_from_the_first_row_added_changed_or_removed(conn, tmp_path):
    path = tmp_path / "fomc.csv"
    header = "effective_date,target_lower,target_upper,change_bp,notes\n"
    path.write_text(header + "2024-09-19,4.75,5.00,-50,\n2024-11-08,4.50,4.75,-25,\n")
    load_fomc_reference(conn, path, run_id="a")
    load_fomc_reference(conn, path, run_id="b")  # the same file: nothing
    path.write_text(header + "2024-09-19,4.75,5.00,-50,\n2024-11-08,4.50,4.75,-25,a note\n")
    load_fomc_reference(conn, path, run_id="c")
    path.write_text(header + "2024-09-19,4.75,5.00,-50,\n")
    load_fomc_reference(conn, path, run_id="d")
    assert recorded(conn, "core.fomc_reference") == [
        (D(2024, 9, 19), "a"), (D(2024, 11, 8), "c"), (D(2024, 11, 8), "d")]
    assert conn.execute("select count(*) from core.fomc_reference").fetchall() == [(1,)]


def test_the_claims_record_a_whole_table_change_only_when_the_file_changed(conn, tmp_path):
    path = tmp_path / "claims.csv"
    first = "c1,P,x,,close,^RUT,,2026-01-08,2603.90,0.005,"
    path.write_text(",".join(CLAIMS_HEADER) + "\n" + first + "\n")
    assert load_claims(conn, path, run_id="a") == 1
    assert load_claims(conn, path, run_id="b") == 1
    path.write_text(",".join(CLAIMS_HEADER) + "\n" + first.replace("2603.90", "2604.10") + "\n")
    load_claims(conn, path, run_id="c")
    assert recorded(conn, "core.published_claims") == [(None, "a"), (None, "c")]
    assert conn.execute("select claimed_value from core.published_claims").fetchall() == [(2604.10,)]


def test_removing_published_valuations_records_the_earliest_date_removed(conn, tmp_path):
    header = "as_of_date,ticker,metric,value,basis,method,publisher,url,notes\n"
    path = tmp_path / "published.csv"
    path.write_text(header + textwrap.dedent("""\
        2026-01-02,^RUT,pe_forward,18.11,forward,unstated,A,,
        2026-01-05,^GSPC,pe_forward,22.3,forward,unstated,A,,
        2026-01-06,^GSPC,pe_trailing,25.0,trailing,unstated,A,,
        """))
    load_published(conn, path, run_id="a", today=D(2026, 11, 20))
    assert recorded(conn, "core.valuations") == [(D(2026, 1, 2), "a")]
    # The 01-05 figure leaves the file, the others stay as they were.
    path.write_text(header + textwrap.dedent("""\
        2026-01-02,^RUT,pe_forward,18.11,forward,unstated,A,,
        2026-01-06,^GSPC,pe_trailing,25.0,trailing,unstated,A,,
        """))
    load = load_published(conn, path, run_id="b", today=D(2026, 11, 20))
    assert load.removed == 1 and load.result.written == 0
    assert recorded(conn, "core.valuations") == [(D(2026, 1, 2), "a"), (D(2026, 1, 5), "b")]
    # Reloading the same file removes and records nothing.
    load_published(conn, path, run_id="c", today=D(2026, 11, 20))
    assert len(recorded(conn, "core.valuations")) == 2
