"""Loading valuation batches: snapshots replace, backfill only fills, sources sit side by side."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from tests.yahoo_valuation_fakes import aapl, iwm, spy, ticker_factory
from warehouse.db import MixedDataError
from warehouse.load import rejects_frame
from warehouse.schema_docs import core_columns
from warehouse.sources.valuations import ValuationBatch, valuation_frame
from warehouse.sources.yahoo_valuations import YahooValuationSource
from warehouse.valuations import latest_figures, load_published, load_valuations

D = dt.date.fromisoformat
FRIDAY = D("2026-01-09")
SATURDAY = pd.Timestamp("2026-01-10 15:00", tz="UTC")


def live(fakes: dict, clock=SATURDAY) -> YahooValuationSource:
    return YahooValuationSource(ticker_factory=ticker_factory(fakes), sleep=lambda s: None,
                                clock=lambda: clock)


def stored(conn, where: str = "true") -> list[tuple]:
    return conn.execute(
        f"select as_of_date, ticker, metric, value, source from core.valuations where {where} "
        "order by as_of_date, ticker, metric, source"
    ).fetchall()


def test_a_second_snapshot_on_the_same_day_replaces_it_not_duplicates(conn):
    first = live({"SPY": spy(), "AAPL": aapl()}).snapshot(["SPY", "AAPL"], FRIDAY)
    load = load_valuations(conn, first, source="live")
    # SPY: trailingPE + three holdings ratios; AAPL: six info ratios.
    assert (load.result.inserted, load.result.updated, load.result.unchanged) == (10, 0, 0)

    # Later the same evening Yahoo has revised SPY's trailingPE, and AAPL's forwardPE is absent.
    revised = spy()
    revised.info["summaryDetail"]["trailingPE"] = 28.1
    gappy = aapl()
    del gappy.info["summaryDetail"]["forwardPE"]
    second = live({"SPY": revised, "AAPL": gappy}).snapshot(["SPY", "AAPL"], FRIDAY)
    load = load_valuations(conn, second, source="live")
    assert (load.result.inserted, load.result.updated, load.result.unchanged) == (0, 1, 8)
    assert conn.execute("select count(*) from core.valuations").fetchone()[0] == 10
    assert stored(conn, "ticker = 'SPY' and metric = 'pe_trailing'") == [
        (FRIDAY, "SPY", "pe_trailing", 28.1, "live")]
    # A field missing on the re-run keeps the figure the first run saw that day.
    assert stored(conn, "ticker = 'AAPL' and metric = 'pe_forward'") == [
        (FRIDAY, "AAPL", "pe_forward", 31.6, "live")]
    assert load.missing == {"SPY": [
        "info.forwardPE", "info.priceToBook", "info.priceToSalesTrailing12Months",
        "info.enterpriseToRevenue", "info.enterpriseToEbitda", "funds_data.Price/Cashflow",
    ], "AAPL": ["info.forwardPE"]}


def test_the_next_session_adds_a_day_of_history(conn):
    load_valuations(conn, live({"SPY": spy()}).snapshot(["SPY"], FRIDAY), source="live")
    monday_evening = pd.Timestamp("2026-01-12 22:00", tz="UTC")
    batch = live({"SPY": spy()}, clock=monday_evening).snapshot(["SPY"], D("2026-01-12"))
    load = load_valuations(conn, batch, source="live")
    assert load.result.inserted == 4
    assert [r[0] for r in stored(conn, "metric = 'pe_trailing'")] == [FRIDAY, D("2026-01-12")]


def test_backfill_fills_gaps_and_never_overwrites_a_snapshot(conn):
    # On 2025-09-30 after the close: the snapshot of that day, and a history with that day in it.
    quarter_end = pd.Timestamp("2025-09-30 21:00", tz="UTC")
    batch = live({"AAPL": aapl()}, clock=quarter_end).valuations(
        ["AAPL"], D("2025-09-30"), D("2025-01-01"))
    load = load_valuations(conn, batch, source="live")
    # History offered: 06-30 pe 34.5 and pb 51.0, 09-30 pe 36.1 and forward 30.2. The two 09-30
    # keys are the snapshot's (37.25, 31.6): the snapshot wins within the batch.
    assert (load.backfill_offered, load.backfill_skipped) == (4, 2)
    assert stored(conn, "metric in ('pe_trailing', 'pe_forward', 'pb_trailing')") == [
        (D("2025-06-30"), "AAPL", "pb_trailing", 51.0, "live"),
        (D("2025-06-30"), "AAPL", "pe_trailing", 34.5, "live"),
        (D("2025-09-30"), "AAPL", "pb_trailing", 55.1, "live"),
        (D("2025-09-30"), "AAPL", "pe_forward", 31.6, "live"),
        (D("2025-09-30"), "AAPL", "pe_trailing", 37.25, "live"),
    ]
    # The next evening the same history comes again: every key is already held.
    next_day = pd.Timestamp("2025-10-01 21:00", tz="UTC")
    batch = live({"AAPL": aapl()}, clock=next_day).valuations(
        ["AAPL"], D("2025-10-01"), D("2025-01-01"))
    load = load_valuations(conn, batch, source="live")
    assert (load.backfill_offered, load.backfill_skipped) == (4, 4)
    assert (load.result.inserted, load.result.updated) == (6, 0)  # only 2025-10-01's snapshot
    assert stored(conn, "as_of_date = '2025-09-30' and metric = 'pe_trailing'") == [
        (D("2025-09-30"), "AAPL", "pe_trailing", 37.25, "live")]


def test_the_same_figure_from_two_sources_is_kept_twice(conn, tmp_path):
    path = tmp_path / "pub.csv"
    path.write_text(
        "as_of_date,ticker,metric,value,basis,method,publisher\n"
        "2026-01-09,SPY,pe_trailing,27.5,trailing,unstated,A newspaper\n", encoding="utf-8")
    load_published(conn, path, today=D("2026-11-20"))
    load_valuations(conn, live({"SPY": spy()}).snapshot(["SPY"], FRIDAY), source="live")
    assert stored(conn, "metric = 'pe_trailing'") == [
        (FRIDAY, "SPY", "pe_trailing", 27.9, "live"),
        (FRIDAY, "SPY", "pe_trailing", 27.5, "published"),
    ]
    assert latest_figures(conn, ("SPY", "IWM"), "pe_trailing", "live") == {
        "SPY": (FRIDAY, 27.9)}


def test_rows_that_break_the_rules_are_quarantined_whatever_the_source(conn):
    def row(**over):
        base = {"as_of_date": FRIDAY, "ticker": "IWM", "metric": "pe_trailing", "value": 18.0,
                "basis": "trailing", "method": "provider_field", "publisher": "X"}
        return {**base, **over}

    batch = ValuationBatch(rows=valuation_frame([
        row(),
        row(ticker="SPY", value=float("nan")),
        row(ticker="QQQ", value=0.0),
        row(ticker="DIA", metric="pe"),
        row(ticker="VB", basis="forward"),
        row(ticker="VBR", method="guess"),
        row(ticker="IWM/SPY"),
        row(ticker="RSP", as_of_date=D("2099-01-02")),
        row(ticker="IWM/SPY", metric="pe_discount_trailing", value=0.0, method="relative"),
    ]), rejects=rejects_frame([{"key": "x", "reason": "refused by the source",
                                "origin": "somewhere:3", "payload": {}}]))
    load = load_valuations(conn, batch, source="files")
    assert load.result.inserted == 2  # IWM's P/E and the zero discount (a figure, not a gap)
    assert load.result.quarantine_reasons == {
        "value is NULL, NaN or infinite": 1,
        "value is 0: a missing figure is no row, never a zero": 1,
        "metric is not in the vocabulary of warehouse/valuation_terms.py": 1,
        "metric and basis disagree": 1,
        "method is not in the vocabulary of warehouse/valuation_terms.py": 1,
        "a discount needs a pair ticker SMALL/LARGE, any other metric a single symbol": 1,
        "as_of_date is in the future": 1,
        "refused by the source": 1,
    }
    assert conn.execute(
        "select count(*) from core.quarantine where target_table = 'core.valuations'"
    ).fetchone()[0] == 8


def test_sample_rows_never_enter_a_real_warehouse(conn):
    load_valuations(conn, live({"IWM": iwm()}).snapshot(["IWM"], FRIDAY), source="live")
    sample = ValuationBatch(rows=valuation_frame([{
        "as_of_date": FRIDAY, "ticker": "IWM", "metric": "pe_trailing", "value": 18.0,
        "basis": "trailing", "method": "synthetic"}]))
    with pytest.raises(MixedDataError):
        load_valuations(conn, sample, source="sample")


def test_every_column_of_the_table_is_documented():
    columns = {c.name: c for c in core_columns()["core.valuations"]}
    assert list(columns) == [
        "as_of_date", "ticker", "metric", "value", "basis", "method", "publisher", "url", "notes",
        "source", "loaded_at",
    ]
    assert all(c.description for c in columns.values())
    assert "published" in columns["source"].description
