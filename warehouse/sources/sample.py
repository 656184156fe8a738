"""A synthetic, deterministic market for demos, tests and benchmarks. Not real data.

Every row it produces is labelled `source = 'sample'`. Prices follow a small factor model on NYSE
sessions: a market factor, a small-cap factor that is more volatile and tilts with the regimes of
the rotation story (large-cap dominance 2021-2025, small-cap leadership from October 2025), and a
technology factor. Index ETFs track their index; ETFs and dividend payers go ex-dividend each
quarter; the mega-caps split on their real split dates. `close` is the traded price (it jumps on a
split); `adj_close` is adjusted for dividends and splits the way Yahoo adjusts it.

Values are drawn in session order from fixed seeds, so the bar of a given day never depends on
how far the generator was asked to run.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from warehouse import calendar
from warehouse.sources.base import PRICE_COLUMNS, PriceBatch, empty_bars

SAMPLE_START = dt.date(2015, 1, 2)
SEED = 20260108

# The regime tilt of the small-cap factor, in daily log-return terms.
SMALL_TILT = [
    (dt.date(2020, 11, 1), dt.date(2021, 3, 31), 0.0012),
    (dt.date(2021, 4, 1), dt.date(2025, 9, 30), -0.00025),
    (dt.date(2025, 10, 1), dt.date(2099, 1, 1), 0.0011),
]
# Real split dates (first session at the new price) and ratios of the sample's mega-caps.
SPLITS = {
    "AAPL": [(dt.date(2020, 8, 31), 4.0)],
    "TSLA": [(dt.date(2020, 8, 31), 5.0), (dt.date(2022, 8, 25), 3.0)],
    "NVDA": [(dt.date(2021, 7, 20), 4.0), (dt.date(2024, 6, 10), 10.0)],
    "AMZN": [(dt.date(2022, 6, 6), 20.0)],
    "GOOGL": [(dt.date(2022, 7, 18), 20.0)],
}


@dataclass(frozen=True)
class Profile:
    """How one synthetic ticker moves: factor loadings, noise, start level, dividend yield."""

    market: float
    small: float
    tech: float
    idio: float
    level: float
    div_yield: float = 0.0
    tracks: str | None = None  # an ETF follows this index's path
    scale: float = 1.0  # ETF price = index level * scale
    volume: float = 5e6


INDEX_PROFILES = {
    "^GSPC": Profile(1.0, 0.0, 0.0, 0.0, 2058.0, volume=3.5e9),
    "^DJI": Profile(0.95, 0.0, -0.1, 0.002, 17832.0, volume=3.0e8),
    "^NDX": Profile(1.05, 0.0, 1.0, 0.001, 4230.0, volume=2.0e9),
    "^IXIC": Profile(1.05, 0.1, 0.85, 0.001, 4726.0, volume=4.0e9),
    "^RUT": Profile(1.1, 1.0, 0.0, 0.0, 1204.0, volume=1.2e9),
    "^SP600": Profile(1.08, 0.95, 0.0, 0.001, 683.0, volume=5.0e8),
}
ETF_INDEX = {"IWM": ("^RUT", 0.1), "SPY": ("^GSPC", 0.1), "QQQ": ("^NDX", 0.024),
             "DIA": ("^DJI", 0.01), "IJR": ("^SP600", 0.16)}
SMALL_ETFS = {"VB", "VBR", "IWN", "IWO", "SMLF"}
TECH = {"AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "XLK"}
PAYERS = {"KEY", "CAT", "ROK", "LMT", "GS", "MS", "JEF", "BAC", "AAPL", "MSFT"}


def _seed(name: str) -> int:
    return zlib.crc32(name.encode()) ^ SEED


def profile(ticker: str) -> Profile:
    if ticker in INDEX_PROFILES:
        return INDEX_PROFILES[ticker]
    rng = np.random.default_rng(_seed("profile:" + ticker))
    if ticker in ETF_INDEX:
        index, scale = ETF_INDEX[ticker]
        base = INDEX_PROFILES[index]
        return Profile(base.market, base.small, base.tech, 0.0, base.level * scale,
                       div_yield=0.012 + 0.006 * rng.random(), tracks=index, scale=scale,
                       volume=3e7)
    if ticker in SMALL_ETFS:
        return Profile(1.08, 0.9 + 0.2 * rng.random(), 0.0, 0.002, 60 + 80 * rng.random(),
                       div_yield=0.014, volume=1.5e6)
    if ticker == "RSP":
        return Profile(1.0, 0.35, -0.2, 0.0015, 78.0, div_yield=0.016, volume=5e6)
    if ticker.startswith("XL") or ticker in {"KRE", "XBI"}:
        small = 0.6 if ticker in {"KRE", "XBI"} else 0.0
        tech = 0.9 if ticker == "XLK" else 0.0
        return Profile(0.8 + 0.4 * rng.random(), small, tech, 0.006 + 0.004 * rng.random(),
                       30 + 60 * rng.random(), div_yield=0.018, volume=1e7)
    if ticker in TECH:
        return Profile(1.0 + 0.3 * rng.random(), 0.0, 0.8 + 0.5 * rng.random(),
                       0.012 + 0.008 * rng.random(), 40 + 200 * rng.random(),
                       div_yield=0.006 if ticker in PAYERS else 0.0, volume=4e7)
    # Any other ticker is a stock; unknown names (a user's index members) are small caps.
    large = ticker in {"CAT", "ROK", "LMT", "GS", "MS", "BAC", "JEF", "KEY"}
    return Profile(0.9 + 0.4 * rng.random(), 0.2 if large else 1.0 + 0.3 * rng.random(), 0.0,
                   (0.010 if large else 0.022) + 0.01 * rng.random(), 8 + 150 * rng.random(),
                   div_yield=0.025 if ticker in PAYERS else 0.0, volume=2e6 if large else 6e5)


class SampleMarket:
    """The common factors over every session from `start` to the calendar's last session."""

    def __init__(self, start: dt.date = SAMPLE_START):
        self.start = start
        cal_end = calendar.nyse().last_session.date()
        self.sessions = np.array(calendar.sessions(start, cal_end), dtype="datetime64[D]")
        n = len(self.sessions)
        rng = np.random.default_rng(SEED)
        dates = self.sessions
        vol = np.full(n, 0.0095)
        covid = (dates >= np.datetime64("2020-02-20")) & (dates <= np.datetime64("2020-05-29"))
        vol[covid] = 0.03
        self.market = rng.normal(0.0005, 1.0, n) * vol
        self.small = rng.normal(0.0, 0.0075, n)
        for first, last, tilt in SMALL_TILT:
            window = (dates >= np.datetime64(first)) & (dates <= np.datetime64(last))
            self.small[window] += tilt
        self.tech = rng.normal(0.00012, 0.0065, n)
        self._index_paths: dict[str, np.ndarray] = {}

    def log_returns(self, ticker: str, p: Profile) -> np.ndarray:
        rng = np.random.default_rng(_seed(ticker))
        idio = rng.normal(0.0, p.idio, len(self.sessions)) if p.idio else 0.0
        return p.market * self.market + p.small * self.small + p.tech * self.tech + idio

    def index_path(self, index: str) -> np.ndarray:
        if index not in self._index_paths:
            p = INDEX_PROFILES[index]
            self._index_paths[index] = p.level * np.exp(np.cumsum(self.log_returns(index, p)))
        return self._index_paths[index]

    def bars(self, ticker: str, first: dt.date, last: dt.date) -> pd.DataFrame:
        p = profile(ticker)
        rng = np.random.default_rng(_seed("bar:" + ticker))
        n = len(self.sessions)
        if p.tracks:
            tracking = np.exp(np.cumsum(rng.normal(-0.0000075, 0.00008, n)))
            price = self.index_path(p.tracks) * p.scale * tracking
        elif ticker in INDEX_PROFILES:
            price = self.index_path(ticker)
        else:
            price = p.level * np.exp(np.cumsum(self.log_returns(ticker, p)))

        # Splits: the traded price divides by the ratio from the split date on.
        split_ratio = np.ones(n)
        for when, ratio in SPLITS.get(ticker, []):
            i = np.searchsorted(self.sessions, np.datetime64(when))
            if 0 < i < n:
                split_ratio[i] = ratio
        ratio_after = np.cumprod(split_ratio)
        close = price / ratio_after

        # Quarterly dividends, ex-date on the third Friday's session of Mar/Jun/Sep/Dec.
        dividend = np.zeros(n)
        if p.div_yield:
            months = self.sessions.astype("datetime64[M]")
            days = (self.sessions - months).astype(int) + 1
            month_of_year = months.astype(int) % 12 + 1
            weekday = (self.sessions.view("int64") + 3) % 7  # 0 = Monday
            ex = np.isin(month_of_year, [3, 6, 9, 12]) & (weekday == 4) & (days >= 15) & (days <= 21)
            prev = np.concatenate([[close[0]], close[:-1]])
            dividend[ex] = np.round(prev[ex] * p.div_yield / 4, 4)

        # Yahoo's adjustment: before each event, multiply by (1 - D / previous close) / split.
        prev_close = np.concatenate([[close[0]], close[:-1]])
        factor = (1.0 - dividend / prev_close) / split_ratio
        after = np.concatenate([np.cumprod(factor[::-1])[::-1][1:], [1.0]])
        adj_close = close * after

        gap = rng.normal(0.0, 0.003, n)
        open_ = np.concatenate([[close[0]], prev_close[1:] / split_ratio[1:]]) * np.exp(gap)
        spread = np.abs(rng.normal(0.0, 0.004 * max(1.0, p.idio * 60), (2, n)))
        high = np.maximum(open_, close) * (1 + spread[0])
        low = np.minimum(open_, close) * (1 - spread[1])
        volume = np.round(p.volume * np.exp(rng.normal(0.0, 0.3, n)) * ratio_after)

        lo = np.searchsorted(self.sessions, np.datetime64(first))
        hi = np.searchsorted(self.sessions, np.datetime64(last), side="right")
        r = slice(lo, hi)
        return pd.DataFrame(
            {
                "ticker": ticker,
                "trade_date": self.sessions[r].astype(object),
                "open": np.round(open_[r], 4),
                "high": np.round(high[r], 4),
                "low": np.round(low[r], 4),
                "close": np.round(close[r], 4),
                "adj_close": np.round(adj_close[r], 6),
                "volume": volume[r],
            }
        )


class SampleSource:
    """The bundled synthetic market, answering like any other source."""

    name = "sample"

    def __init__(self, start: dt.date = SAMPLE_START):
        self._market: SampleMarket | None = None
        self._start = start

    @property
    def market(self) -> SampleMarket:
        if self._market is None:
            self._market = SampleMarket(self._start)
        return self._market

    def iter_bars(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> Iterator[pd.DataFrame]:
        first = max(start, self._start)
        for ticker in tickers:
            frame = self.market.bars(ticker, first, end)
            if len(frame):
                yield frame

    def daily_bars(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> PriceBatch:
        frames = list(self.iter_bars(tickers, start, end))
        bars = pd.concat(frames, ignore_index=True) if frames else empty_bars()
        batch = PriceBatch(bars=bars[PRICE_COLUMNS])
        if end < self._start:
            batch.notes.append(f"the sample starts on {self._start}; nothing before it")
        return batch

    def first_date(self, tickers: Sequence[str]) -> dt.date | None:
        """The synthetic market's first session, for any ticker (it makes every one from there)."""
        return self._start
