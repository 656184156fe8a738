"""The live price path, run through yfinance 1.7's own `download` with a fake at its HTTP-facing edge.

`yfinance.multi.Ticker` is replaced by a fake whose `history()` returns what the real one returns
for one ticker (a tz-aware daily frame) or fails the way the real one does (records a soft error,
or raises YFRateLimitError). yfinance's own code then builds, logs and reshapes as it does live.
"""

import datetime as dt
from types import SimpleNamespace

import pandas as pd
import pytest
import yfinance.multi
from yfinance.exceptions import YFRateLimitError
from yfinance.utils import empty_df

from warehouse.sources.live import LiveSource, reshape

SESSIONS = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"]).tz_localize("America/New_York")
PRICES = {
    "IWM": [199.0, 196.0, 197.5],
    "SPY": [471.0, 468.0, 467.5],
}


def history_frame(closes):
    frame = pd.DataFrame(
        {"Open": [c - 1 for c in closes], "High": [c + 1 for c in closes], "Low": [c - 2 for c in closes],
         "Close": closes, "Adj Close": [c * 0.99 for c in closes], "Volume": [1_000_000, 2_000_000, 1_500_000]},
        index=SESSIONS.rename("Date"),
    )
    return frame


class FakeTicker:
    calls: list[str] = []
    rate_limited: dict[str, int] = {}

    def __init__(self, symbol):
        self.symbol = symbol
        self._price_history = None

    def history(self, **kwargs):
        FakeTicker.calls.append(self.symbol)
        assert kwargs["auto_adjust"] is False and kwargs["repair"] is False
        if FakeTicker.rate_limited.get(self.symbol, 0) > 0:
            FakeTicker.rate_limited[self.symbol] -= 1
            raise YFRateLimitError()
        if self.symbol not in PRICES:
            self._price_history = SimpleNamespace(
                _last_error=f"${self.symbol}: possibly delisted; no price data found  (1d 2024-01-02 -> 2024-01-05)")
            return empty_df()
        return history_frame(PRICES[self.symbol])


@pytest.fixture
def fake_yahoo(monkeypatch):
    FakeTicker.calls = []
    FakeTicker.rate_limited = {}
    monkeypatch.setattr(yfinance.multi, "Ticker", FakeTicker)
    return FakeTicker


def test_download_frame_has_the_yfinance_17_shape(fake_yahoo):
    frame = yfinance.download(["IWM", "SPY"], start="2024-01-02", end="2024-01-05",
                              auto_adjust=False, progress=False, threads=False)
    assert frame.columns.names == ["Price", "Ticker"]
    assert frame.index.tz is None  # ignore_tz=True for daily bars
    long = reshape(frame)
    assert len(long) == 6
    row = long[(long.ticker == "SPY") & (long.trade_date == dt.date(2024, 1, 3))].iloc[0]
    assert (row.open, row.high, row.low, row.close, row.volume) == (467.0, 469.0, 466.0, 468.0, 2_000_000)
    assert row.adj_close == pytest.approx(468.0 * 0.99)


def test_failed_ticker_is_named_and_the_rest_load(fake_yahoo):
    source = LiveSource(sleep=lambda s: None)
    batch = source.daily_bars(["IWM", "ZZZZ", "SPY"], dt.date(2024, 1, 2), dt.date(2024, 1, 4))
    assert batch.tickers == ["IWM", "SPY"]
    assert list(batch.failed) == ["ZZZZ"]
    assert "possibly delisted" in batch.failed["ZZZZ"]
    # A permanent failure is not retried.
    assert fake_yahoo.calls.count("ZZZZ") == 1


def test_rate_limit_is_retried_with_backoff_then_loads(fake_yahoo):
    fake_yahoo.rate_limited = {"SPY": 2}
    delays = []
    source = LiveSource(sleep=delays.append, base_delay=1.0)
    batch = source.daily_bars(["IWM", "SPY"], dt.date(2024, 1, 2), dt.date(2024, 1, 4))
    assert batch.tickers == ["IWM", "SPY"] and not batch.failed
    assert fake_yahoo.calls.count("SPY") == 3 and fake_yahoo.calls.count("IWM") == 1
    # Exponential with jitter: attempt k waits base * 2**(k-1) * [1, 2).
    assert len(delays) == 2 and 1.0 <= delays[0] < 2.0 and 2.0 <= delays[1] < 4.0


def test_rate_limit_that_never_ends_is_bounded(fake_yahoo):
    fake_yahoo.rate_limited = {"SPY": 99}
    source = LiveSource(sleep=lambda s: None, max_attempts=3)
    batch = source.daily_bars(["SPY", "IWM"], dt.date(2024, 1, 2), dt.date(2024, 1, 4))
    assert batch.tickers == ["IWM"]
    assert "gave up after 3 attempts" in batch.failed["SPY"]
    assert fake_yahoo.calls.count("SPY") == 3


def test_tickers_are_fetched_in_batches(fake_yahoo):
    source = LiveSource(batch_size=1, sleep=lambda s: None)
    batch = source.daily_bars(["IWM", "SPY"], dt.date(2024, 1, 2), dt.date(2024, 1, 4))
    assert batch.tickers == ["IWM", "SPY"]
