"""The live valuation source against fakes shaped by yfinance's own scrapers (no network)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from tests.yahoo_valuation_fakes import FakeYahoo, aapl, iwm, qqq, spy, ticker_factory
from warehouse.sources.valuations import SnapshotDateError, open_valuations_source
from warehouse.sources.yahoo_valuations import YahooValuationSource, number

D = dt.date.fromisoformat
# Saturday 2026-01-10, 10:00 in New York: the last completed session is Friday 2026-01-09.
SATURDAY = pd.Timestamp("2026-01-10 15:00", tz="UTC")
FRIDAY = D("2026-01-09")


def source(fakes: dict, clock=SATURDAY, sleeps: list | None = None) -> YahooValuationSource:
    sleeps = [] if sleeps is None else sleeps
    return YahooValuationSource(ticker_factory=ticker_factory(fakes), sleep=sleeps.append,
                                clock=lambda: clock)


def figures(frame: pd.DataFrame, ticker: str) -> dict[str, float]:
    part = frame[frame["ticker"] == ticker]
    return dict(zip(part["metric"], part["value"], strict=True))


def test_a_stock_gives_every_info_ratio_as_a_provider_field():
    batch = source({"AAPL": aapl()}).snapshot(["AAPL"], FRIDAY)
    assert figures(batch.rows, "AAPL") == {
        "pe_trailing": 37.25, "pe_forward": 31.6, "pb_trailing": 55.1, "ps_trailing": 9.4,
        "ev_revenue_trailing": 9.5, "ev_ebitda_trailing": 27.3,
    }
    rows = batch.rows.set_index("metric")
    assert rows.loc["pe_forward", "basis"] == "forward"
    assert rows.loc["pe_trailing", "basis"] == "trailing"
    assert set(rows["method"]) == {"provider_field"}
    assert set(rows["publisher"]) == {"Yahoo Finance"}
    assert rows.loc["pe_trailing", "notes"] == "Ticker.info['trailingPE']"
    assert set(batch.rows["as_of_date"]) == {FRIDAY}
    assert batch.missing == {} and batch.failed == {}
    assert batch.backfill.empty  # a snapshot alone asks for no history


def test_fund_holdings_served_as_yields_are_inverted():
    batch = source({"SPY": spy()}).snapshot(["SPY"], FRIDAY)
    # Yahoo sent E/P 0.04, B/P 0.2, S/P 0.32: the ratios are 1/0.04, 1/0.2, 1/0.32.
    assert figures(batch.rows, "SPY") == pytest.approx({
        "pe_trailing": 27.9, "holdings_pe_trailing": 25.0, "holdings_pb_trailing": 5.0,
        "holdings_ps_trailing": 3.125,
    })
    holdings = batch.rows[batch.rows["metric"].str.startswith("holdings_")]
    assert set(holdings["method"]) == {"holdings_average"}
    notes = holdings.set_index("metric")["notes"]
    assert notes["holdings_pe_trailing"].endswith("['Price/Earnings']: yield 0.04 inverted")


def test_missing_fields_are_no_rows_and_are_counted_by_ticker():
    batch = source({"SPY": spy(), "IWM": iwm()}).snapshot(["SPY", "IWM"], FRIDAY)
    # SPY: info has only trailingPE (forwardPE came as None); holdings lack Price/Cashflow.
    assert batch.missing["SPY"] == [
        "info.forwardPE", "info.priceToBook", "info.priceToSalesTrailing12Months",
        "info.enterpriseToRevenue", "info.enterpriseToEbitda", "funds_data.Price/Cashflow",
    ]
    # IWM: trailingPE is the string 'Infinity' and Price/Sales a zero: both missing, not stored.
    assert batch.missing["IWM"] == [
        "info.trailingPE", "info.forwardPE", "info.priceToSalesTrailing12Months",
        "info.enterpriseToRevenue", "info.enterpriseToEbitda", "funds_data.Price/Sales",
    ]
    assert batch.missing_count == 12
    # Holdings given as ratios (P/E 18.5 is no yield) are kept as they are.
    assert figures(batch.rows, "IWM") == {
        "pb_trailing": 2.1, "holdings_pe_trailing": 18.5, "holdings_pb_trailing": 2.2,
        "holdings_pcf_trailing": 11.0,
    }
    assert (batch.rows["value"] != 0).all()
    assert batch.failed == {}


def test_without_a_holdings_pe_the_other_holdings_ratios_are_not_guessed():
    batch = source({"QQQ": qqq()}).snapshot(["QQQ"], FRIDAY)
    assert figures(batch.rows, "QQQ") == {"pe_trailing": 34.2}
    assert "funds_data.Price/Book (units unclear without Price/Earnings)" in batch.missing["QQQ"]


def test_the_quarterly_series_of_a_stock_is_backfill_within_the_range():
    batch = source({"AAPL": aapl()}).valuations(["AAPL"], FRIDAY, D("2025-07-01"))
    back = batch.backfill.sort_values(["as_of_date", "metric"])
    # 2025-06-30 is before the start; the 'Current' column (36.9) has no date and is not used.
    assert back[["as_of_date", "metric", "value"]].values.tolist() == [
        [D("2025-09-30"), "pe_forward", 30.2],
        [D("2025-09-30"), "pe_trailing", 36.1],
    ]
    assert set(back["method"]) == {"provider_field"}
    assert back["notes"].str.contains("quarterly").all()
    assert len(batch.rows) == 6  # the snapshot comes with it

    full = source({"AAPL": aapl()}).valuations(["AAPL"], FRIDAY, D("1990-01-02")).backfill
    assert sorted(zip(full["as_of_date"], full["metric"], full["value"], strict=True)) == [
        (D("2025-06-30"), "pb_trailing", 51.0), (D("2025-06-30"), "pe_trailing", 34.5),
        (D("2025-09-30"), "pe_forward", 30.2), (D("2025-09-30"), "pe_trailing", 36.1),
    ]


def test_an_unknown_symbol_fails_by_name_and_the_others_load():
    batch = source({"AAPL": aapl()}).snapshot(["AAPL", "NOPE"], FRIDAY)
    assert list(batch.failed) == ["NOPE"]
    assert "Yahoo returned no info for NOPE" in batch.failed["NOPE"]
    assert "config/universe.toml" in batch.failed["NOPE"]
    assert batch.tickers == ["AAPL"]


def test_rate_limits_are_retried_with_backoff_then_given_up():
    sleeps: list[float] = []
    fakes = {"SPY": spy(fail_first=2)}
    batch = source(fakes, sleeps=sleeps).snapshot(["SPY"], FRIDAY)
    assert figures(batch.rows, "SPY")["pe_trailing"] == 27.9
    # Two waits: base 2 s doubled each time, times a jitter factor between 1 and 2.
    assert len(sleeps) == 2 and 2.0 <= sleeps[0] <= 4.0 and 4.0 <= sleeps[1] <= 8.0
    assert sum("retrying info" in n for n in batch.notes) == 2

    stuck = {"IWM": iwm(fail_first=100)}
    batch = source(stuck).snapshot(["IWM"], FRIDAY)
    assert "Too Many Requests" in batch.failed["IWM"]
    assert "gave up after 4 attempts" in batch.failed["IWM"]
    assert batch.rows.empty


def test_a_snapshot_of_a_past_day_is_refused_not_invented():
    fakes = {"AAPL": aapl()}
    with pytest.raises(SnapshotDateError) as err:
        source(fakes).snapshot(["AAPL"], D("2026-01-08"))
    message = str(err.value)
    assert "2026-01-08" in message and "2026-01-09" in message
    assert "only as of now" in message and "valuations.csv" in message
    assert fakes["AAPL"].calls == 0  # nothing was even asked


def test_no_snapshot_while_the_session_is_open():
    # Tuesday 2026-01-13, 11:00 in New York: the last completed session is Monday the 12th, but
    # Yahoo's ratios already move with Tuesday's prices.
    during = pd.Timestamp("2026-01-13 16:00", tz="UTC")
    with pytest.raises(SnapshotDateError, match="in progress"):
        source({"AAPL": aapl()}, clock=during).snapshot(["AAPL"], D("2026-01-12"))
    # 16:10 New York: closed but the bar has not settled (20 minutes): still refused.
    with pytest.raises(SnapshotDateError, match="in progress"):
        source({"AAPL": aapl()}, clock=pd.Timestamp("2026-01-13 21:10", tz="UTC")).snapshot(
            ["AAPL"], D("2026-01-12"))
    # 16:30 New York: Tuesday is the last completed session and can be snapshotted.
    after = pd.Timestamp("2026-01-13 21:30", tz="UTC")
    batch = source({"AAPL": aapl()}, clock=after).snapshot(["AAPL"], D("2026-01-13"))
    assert set(batch.rows["as_of_date"]) == {D("2026-01-13")}


def test_numbers_that_are_not_figures():
    assert number(18.5) == 18.5 and number("18.5") == 18.5 and number(-4.2) == -4.2
    for absent in (None, 0, 0.0, "Infinity", float("nan"), float("inf"), "n/a", True, pd.NA):
        assert number(absent) is None, absent


def test_open_valuations_source_gives_the_live_source():
    assert open_valuations_source("live").name == "live"
    assert open_valuations_source("sample").name == "sample"


def test_fakes_run_through_yfinance_itself():
    # The frames the source reads are yfinance's own: checked here so other tests can trust them.
    from tests.yahoo_valuation_fakes import FakeTicker

    holdings = FakeTicker(spy()).funds_data.equity_holdings
    assert holdings.index.name == "Average"
    assert list(holdings.columns) == ["SPY", "Category Average"]
    assert holdings.loc["Price/Cashflow", "SPY"] is pd.NA
    measures = FakeTicker(aapl()).get_valuation_measures(freq="quarterly", periods=None)
    assert list(measures.columns) == ["Current", "9/30/2025", "6/30/2025"]
    assert FakeTicker(FakeYahoo("NOPE")).info == {"trailingPegRatio": None}
