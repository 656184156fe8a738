import datetime as dt

import numpy as np

from warehouse import calendar
from warehouse.sources.sample import SampleSource
from warehouse.universe import load_universe

D = dt.date


def test_sample_covers_the_universe_on_nyse_sessions_only():
    tickers = load_universe().tickers
    bars = SampleSource().daily_bars(tickers, D(2024, 1, 1), D(2025, 12, 31)).bars
    assert set(bars["ticker"]) == set(tickers)
    sessions = set(calendar.sessions(D(2024, 1, 1), D(2025, 12, 31)))
    assert set(bars["trade_date"]) == sessions
    assert len(bars) == len(tickers) * len(sessions)
    assert D(2025, 1, 9) not in set(bars["trade_date"])  # the day of mourning
    ohlc = bars.dropna(subset=["open"])
    assert (ohlc["low"] <= ohlc[["open", "close"]].min(axis=1)).all()
    assert (ohlc["high"] >= ohlc[["open", "close"]].max(axis=1)).all()


def test_a_day_does_not_depend_on_how_far_the_sample_runs():
    short = SampleSource().daily_bars(["IWM", "NVDA"], D(2020, 1, 1), D(2020, 6, 30)).bars
    long = SampleSource().daily_bars(["IWM", "NVDA"], D(2020, 1, 1), D(2026, 1, 30)).bars
    merged = short.merge(long, on=["ticker", "trade_date"], suffixes=("_s", "_l"))
    assert len(merged) == len(short)
    assert (merged["close_s"] == merged["close_l"]).all()


def test_dividends_and_splits_separate_close_from_adj_close():
    bars = SampleSource().daily_bars(["IWM", "NVDA"], D(2024, 1, 1), D(2024, 12, 31)).bars
    iwm = bars[bars.ticker == "IWM"].set_index("trade_date")
    ratio = iwm["adj_close"] / iwm["close"]
    # The ratio only moves on ex-dividend dates: four a year for an ETF.
    assert (ratio.diff().abs() > 1e-4).sum() == 4  # rounding noise is ~1e-6
    nvda = bars[bars.ticker == "NVDA"].set_index("trade_date")
    jump = nvda.loc[D(2024, 6, 10), "close"] / nvda.loc[D(2024, 6, 7), "close"]
    adj_jump = nvda.loc[D(2024, 6, 10), "adj_close"] / nvda.loc[D(2024, 6, 7), "adj_close"]
    assert 0.08 < jump < 0.12  # the 10-for-1 split in the traded price
    assert 0.85 < adj_jump < 1.15  # not in the adjusted series


def test_small_caps_are_more_volatile_than_large():
    bars = SampleSource().daily_bars(["^RUT", "^GSPC", "IWM", "SPY"], D(2016, 1, 1), D(2025, 12, 31)).bars
    wide = bars.pivot(index="trade_date", columns="ticker", values="adj_close")
    vol = np.log(wide).diff().std()
    assert vol["^RUT"] > 1.2 * vol["^GSPC"]
    assert vol["IWM"] > 1.2 * vol["SPY"]


def test_the_sample_starts_in_2015_however_far_back_it_is_asked():
    # The warehouse's history starts in 1927; the synthetic market stays a 2015-on sample.
    source = SampleSource()
    assert source.first_date(["^GSPC", "IWM"]) == D(2015, 1, 2)
    bars = source.daily_bars(["^GSPC"], D(1927, 12, 30), D(2015, 1, 9)).bars
    assert sorted(bars["trade_date"]) == [D(2015, 1, d) for d in (2, 5, 6, 7, 8, 9)]
    asked_from_2015 = source.daily_bars(["^GSPC"], D(2015, 1, 2), D(2015, 1, 9)).bars
    assert bars["close"].tolist() == asked_from_2015["close"].tolist()
