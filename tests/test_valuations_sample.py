"""The sample's synthetic valuation history: labelled, deterministic, on sessions, plausible."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from warehouse import calendar
from warehouse.sources.sample_valuations import SampleValuationSource
from warehouse.valuations import load_valuations

D = dt.date.fromisoformat
VALUATION_TICKERS = ["IWM", "SPY", "QQQ", "IJR", "VB", "VBR", "DIA", "RSP",
                     "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA"]
END = D("2026-01-09")


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return SampleValuationSource().valuations(VALUATION_TICKERS, END, D("1990-01-02")).rows


def pe(history: pd.DataFrame, ticker: str, metric: str = "pe_trailing") -> pd.Series:
    part = history[(history["ticker"] == ticker) & (history["metric"] == metric)]
    return pd.Series(part["value"].to_numpy(), index=pd.to_datetime(part["as_of_date"]))


def test_every_session_from_2015_for_the_tickers_and_the_three_indices(history):
    sessions = calendar.sessions(D("2015-01-02"), END)
    # Indices: trailing and forward P/E; the 8 funds: P/E, P/B and four holdings averages; the 7
    # stocks: six ratios each. 3 * 2 + 8 * 6 + 7 * 6 = 96 series.
    assert len(history) == 96 * len(sessions)
    assert set(history["ticker"]) == {*VALUATION_TICKERS, "^RUT", "^GSPC", "^SP600"}
    per_series = history.groupby(["ticker", "metric"])["as_of_date"].agg(list)
    assert all(days == sessions for days in per_series)
    assert set(history[history["ticker"] == "^RUT"]["metric"]) == {"pe_trailing", "pe_forward"}


def test_every_row_is_labelled_synthetic(history):
    assert set(history["method"]) == {"synthetic"}
    assert set(history["publisher"]) == {"synthetic sample"}
    assert SampleValuationSource().name == "sample"
    assert ((history["basis"] == "forward") == history["metric"].str.endswith("_forward")).all()


def test_values_are_positive_finite_ratios(history):
    assert (history["value"] > 0).all()
    assert history["value"].between(0.3, 200).all()  # a small-cap P/S can be below 1
    spx = pe(history, "^GSPC")
    assert spx.between(12, 40).all()
    assert (pe(history, "^GSPC", "pe_forward") < spx).all()


def test_small_caps_trade_at_a_discount_around_its_mean_widening_in_2024_2025(history):
    discount = 1 - pe(history, "^RUT") / pe(history, "^GSPC")
    by_year = discount.groupby(discount.index.year).mean()
    calm = discount[discount.index.year <= 2023]
    assert 0.05 <= calm.mean() <= 0.10  # the historical 5-10%
    assert calm.min() < calm.mean() < calm.max()  # it wanders around its mean
    assert calm.std() > 0.02
    assert by_year[2024] > calm.mean() + 0.03
    assert by_year[2025] > calm.mean() + 0.07  # about the 19% of 2025-2026 accounts
    sp600 = 1 - pe(history, "^SP600") / pe(history, "^GSPC")
    assert sp600[sp600.index.year <= 2023].mean() > calm.mean()  # the S&P 600 cheaper still
    # The ETFs follow their indices: IWM at the Russell 2000's discount to SPY's S&P 500.
    etf = 1 - pe(history, "IWM") / pe(history, "SPY")
    assert (etf - discount).abs().mean() < 0.06


def test_deterministic_and_a_day_never_depends_on_how_far_it_ran(history):
    again = SampleValuationSource().valuations(VALUATION_TICKERS, END, D("1990-01-02")).rows
    pd.testing.assert_frame_equal(history, again)
    shorter = SampleValuationSource().valuations(["IWM"], D("2020-06-30"), D("2020-06-01")).rows
    same_days = history[(history["ticker"] == "IWM")
                        & history["as_of_date"].between(D("2020-06-01"), D("2020-06-30"))]
    pd.testing.assert_frame_equal(shorter[shorter["ticker"] == "IWM"].reset_index(drop=True),
                                  same_days.reset_index(drop=True))


def test_a_snapshot_is_the_history_of_one_day(history):
    snap = SampleValuationSource().snapshot(["IWM", "AAPL"], END).rows
    assert set(snap["as_of_date"]) == {END}
    assert set(snap["ticker"]) == {"IWM", "AAPL", "^RUT", "^GSPC", "^SP600"}
    expected = history[(history["as_of_date"] == END) & history["ticker"].isin(set(snap["ticker"]))]
    assert sorted(snap["value"]) == sorted(expected["value"])


def test_an_index_the_sample_cannot_make_is_named():
    batch = SampleValuationSource().snapshot(["^FTSE"], END)
    assert batch.failed == {"^FTSE": "the sample has no synthetic valuations for this index"}


def test_the_sample_passes_every_load_rule(conn):
    batch = SampleValuationSource().valuations(["IWM", "AAPL"], D("2015-03-31"), D("2015-01-01"))
    load = load_valuations(conn, batch, source="sample")
    assert load.result.quarantined == 0
    # IWM and AAPL: six series each; the three indices two each.
    assert load.result.inserted == (6 + 6 + 3 * 2) * len(
        calendar.sessions(D("2015-01-02"), D("2015-03-31")))
    assert conn.execute("select distinct source from core.valuations").fetchall() == [("sample",)]
