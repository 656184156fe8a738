"""Offline stand-ins for yfinance 1.7's Ticker, for the valuation tests.

The shapes come from yfinance itself: a FakeTicker runs yfinance's own scrapers (Quote for `info`
and the valuation measures, FundsData for `funds_data`) over a fake YfData that answers their
requests with canned Yahoo JSON. So `info` is the flat dict yfinance builds (None fields dropped),
`funds_data.equity_holdings` the frame indexed by 'Average' with pd.NA where Yahoo sent nothing,
and `get_valuation_measures` the frame with a 'Current' column and 'M/D/YYYY' period columns.
"""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

from yfinance.exceptions import YFRateLimitError
from yfinance.scrapers.funds import FundsData
from yfinance.scrapers.quote import Quote


def quote_summary(**modules) -> dict:
    return {"quoteSummary": {"result": [modules], "error": None}}


def not_found(symbol: str) -> dict:
    return {"quoteSummary": {"result": None, "error": {
        "code": "Not Found", "description": f"Quote not found for symbol: {symbol}"}}}


def timeseries(series: dict[str, list[tuple[str, float | None]]]) -> dict:
    """Yahoo's fundamentals-timeseries answer: {'quarterlyPeRatio': [('2025-09-30', 36.1)], ...}."""
    result = []
    for type_name, points in series.items():
        result.append({
            "meta": {"symbol": ["X"], "type": [type_name]},
            "timestamp": [int(dt.datetime.fromisoformat(d).timestamp()) for d, _ in points],
            type_name: [
                None if value is None else {
                    "asOfDate": day, "periodType": "3M",
                    "reportedValue": {"raw": value, "fmt": f"{value:.2f}"},
                }
                for day, value in points
            ],
        })
    return {"timeseries": {"result": result, "error": None}}


class FakeYahoo:
    """Canned answers for one symbol, and failures to raise on the first calls."""

    def __init__(self, symbol: str, *, info: dict | None = None, quote: dict | None = None,
                 holdings: dict | None = None, series: dict | None = None, fund: bool = False,
                 fail_first: int = 0):
        self.symbol = symbol
        self.info = info  # quoteSummary modules for Ticker.info, e.g. {'summaryDetail': {...}}
        self.quote = quote or {}  # the v7 quote fields
        self.holdings = holdings  # topHoldings.equityHoldings
        self.series = series or {}
        self.fund = fund
        self.fail_first = fail_first
        self.calls = 0

    def _maybe_fail(self) -> None:
        self.calls += 1
        if self.calls <= self.fail_first:
            raise YFRateLimitError()

    # The two YfData methods yfinance's scrapers use.
    def get_raw_json(self, url, params=None, timeout=30):
        self._maybe_fail()
        if "/v7/finance/quote" in url:
            rows = [{**self.quote, "symbol": self.symbol}] if self.info is not None else []
            return {"quoteResponse": {"result": rows, "error": None}}
        if self.info is None:
            return not_found(self.symbol)
        if "topHoldings" in params["modules"]:
            kind = "ETF" if self.fund else "EQUITY"
            modules = {"quoteType": {"quoteType": kind}, "summaryProfile": {}}
            if self.fund:  # Yahoo sends topHoldings and fundProfile only for funds
                modules["topHoldings"] = {"holdings": [], "equityHoldings": self.holdings or {}}
                modules["fundProfile"] = {"categoryName": "Large Blend"}
            return quote_summary(**modules)
        return quote_summary(**self.info)

    def cache_get(self, url, params=None, timeout=30):
        self._maybe_fail()
        return SimpleNamespace(text=json.dumps(timeseries(self.series)))


class FakeTicker:
    """What the source uses of yfinance.Ticker, answered by yfinance's own scrapers."""

    def __init__(self, data: FakeYahoo):
        self._quote = Quote(data, data.symbol)
        self._funds = FundsData(data, data.symbol)

    @property
    def info(self) -> dict:
        return self._quote.info

    @property
    def funds_data(self) -> FundsData:
        return self._funds

    def get_valuation_measures(self, freq="quarterly", periods=5):
        return self._quote.get_valuation_measures(freq, periods)


def ticker_factory(fakes: dict[str, FakeYahoo]):
    """A Ticker factory over canned symbols; an unknown symbol is Yahoo's 'not found'."""

    def make(symbol: str) -> FakeTicker:
        return FakeTicker(fakes.setdefault(symbol, FakeYahoo(symbol)))

    return make


# A stock with every info field and a quarterly history.
def aapl(**overrides) -> FakeYahoo:
    summary = {
        "quoteType": {"quoteType": "EQUITY", "symbol": "AAPL"},
        "summaryDetail": {"trailingPE": 37.25, "forwardPE": 31.6,
                          "priceToSalesTrailing12Months": 9.4},
        "defaultKeyStatistics": {"priceToBook": 55.1, "enterpriseToRevenue": 9.5,
                                 "enterpriseToEbitda": 27.3},
    }
    return FakeYahoo("AAPL", info=overrides.pop("info", summary), series={
        "quarterlyPeRatio": [("2025-06-30", 34.5), ("2025-09-30", 36.1)],
        "quarterlyForwardPeRatio": [("2025-09-30", 30.2)],
        "quarterlyPbRatio": [("2025-06-30", 51.0)],
        "trailingPeRatio": [("2025-11-14", 36.9)],
    }, **overrides)


# An ETF: only trailingPE in info; holdings as yields (Yahoo's current answer), P/CF absent.
def spy(**overrides) -> FakeYahoo:
    return FakeYahoo("SPY", fund=True, info={
        "quoteType": {"quoteType": "ETF", "symbol": "SPY"},
        "summaryDetail": {"trailingPE": 27.9, "forwardPE": None},
    }, holdings={
        "priceToEarnings": {"raw": 0.04, "fmt": "0.04"}, "priceToBook": 0.2, "priceToSales": 0.32,
    }, **overrides)


# An ETF whose trailingPE is Yahoo's 'Infinity', with holdings as ratios (Yahoo's older answer)
# and a zero Price/Sales.
def iwm(**overrides) -> FakeYahoo:
    return FakeYahoo("IWM", fund=True, info={
        "quoteType": {"quoteType": "ETF", "symbol": "IWM"},
        "summaryDetail": {"trailingPE": "Infinity"},
        "defaultKeyStatistics": {"priceToBook": 2.1},
    }, holdings={
        "priceToEarnings": 18.5, "priceToBook": 2.2, "priceToSales": 0.0, "priceToCashflow": 11.0,
    }, **overrides)


# An ETF whose holdings lack the P/E: yield and ratio cannot be told apart.
def qqq(**overrides) -> FakeYahoo:
    return FakeYahoo("QQQ", fund=True, info={
        "quoteType": {"quoteType": "ETF", "symbol": "QQQ"},
        "summaryDetail": {"trailingPE": 34.2},
    }, holdings={"priceToBook": 0.12}, **overrides)
