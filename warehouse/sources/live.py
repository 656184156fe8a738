"""The `live` source for prices: Yahoo Finance through yfinance.

What yfinance does, and how it is handled here:
- `download` returns (Price, Ticker) MultiIndex columns, even for one ticker: reshaped to long form.
- `auto_adjust` defaults to True, which drops the raw close: it is passed as False, so both the raw
  `Close` and `Adj Close` are stored. `repair` stays off: it rewrites history heuristically.
- A failed ticker is logged, not raised, and comes back as an all-NaN column: failures are read
  from yfinance's log and from the frame, named, and retried only when they look transient
  (rate limits, time-outs), with exponential backoff and jitter, a bounded number of times.
"""

from __future__ import annotations

import ast
import datetime as dt
import logging
import random
import re
import time
from collections.abc import Callable, Sequence

import pandas as pd

from warehouse.sources.base import PRICE_COLUMNS, PriceBatch, SourceError, empty_bars

log = logging.getLogger(__name__)

TRANSIENT = re.compile(r"rate ?limit|too many requests|429|timed? ?out|timeout|connection|temporar", re.I)
YF_FIELDS = {"Open": "open", "High": "high", "Low": "low", "Close": "close",
             "Adj Close": "adj_close", "Volume": "volume"}


class _ErrorCapture(logging.Handler):
    """Collects the per-ticker errors that yf.download logs instead of raising."""

    LINE = re.compile(r"^(\[.*?\]): (.*)$", re.S)

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.errors: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        match = self.LINE.match(record.getMessage().strip())
        if not match:
            return
        try:
            symbols = ast.literal_eval(match[1])
        except (ValueError, SyntaxError):
            return
        for symbol in symbols:
            self.errors[str(symbol)] = match[2].strip()


def reshape(frame: pd.DataFrame | None) -> pd.DataFrame:
    """yfinance's wide (Price, Ticker) frame to the standard long frame; all-NaN rows dropped."""
    if frame is None or frame.empty:
        return empty_bars()
    if not isinstance(frame.columns, pd.MultiIndex):
        raise SourceError("yfinance returned single-level columns; expected (Price, Ticker)")
    levels = list(frame.columns.names)
    price_level = levels.index("Price") if "Price" in levels else 0
    ticker_level = 1 - price_level
    long = frame.stack(level=ticker_level, future_stack=True)
    long.index = long.index.set_names(["trade_date", "ticker"])
    long = long.rename(columns=YF_FIELDS).reset_index()
    missing = {"close", "adj_close"} - set(long.columns)
    if missing:
        raise SourceError(
            f"yfinance returned no {sorted(missing)} columns: it must be called with auto_adjust=False"
        )
    long = long.dropna(subset=["close"])
    # Daily bars come with ignore_tz=True: a naive midnight timestamp of the exchange-local date.
    long["trade_date"] = pd.to_datetime(long["trade_date"]).dt.date
    for name in PRICE_COLUMNS:
        if name not in long:
            long[name] = float("nan")
    return long[PRICE_COLUMNS].sort_values(["ticker", "trade_date"], ignore_index=True)


class LiveSource:
    name = "live"

    def __init__(
        self,
        batch_size: int = 20,
        max_attempts: int = 4,
        base_delay: float = 2.0,
        timeout: float = 30.0,
        downloader: Callable[..., pd.DataFrame] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.timeout = timeout
        self._downloader = downloader
        self._sleep = sleep

    def _download(self, tickers: list[str], start: dt.date, end: dt.date) -> tuple[pd.DataFrame | None, dict[str, str]]:
        import yfinance as yf

        download = self._downloader or yf.download
        capture = _ErrorCapture()
        yf_log = logging.getLogger("yfinance")
        yf_log.addHandler(capture)
        try:
            frame = download(
                tickers,
                start=start.isoformat(),
                end=(end + dt.timedelta(days=1)).isoformat(),  # yfinance's end is exclusive
                interval="1d",
                auto_adjust=False,
                repair=False,
                actions=False,
                keepna=False,
                group_by="column",
                multi_level_index=True,
                progress=False,
                threads=True,
                timeout=self.timeout,
            )
        except Exception as exc:  # the whole call failed (rate limit before any ticker, network)
            return None, {t: f"{type(exc).__name__}: {exc}" for t in tickers}
        finally:
            yf_log.removeHandler(capture)
        return frame, capture.errors

    def daily_bars(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> PriceBatch:
        frames: list[pd.DataFrame] = []
        failed: dict[str, str] = {}
        notes: list[str] = []
        unique = list(dict.fromkeys(tickers))
        for i in range(0, len(unique), self.batch_size):
            pending = unique[i : i + self.batch_size]
            for attempt in range(1, self.max_attempts + 1):
                frame, errors = self._download(pending, start, end)
                bars = reshape(frame)
                got = set(bars["ticker"])
                frames.append(bars)
                missing = [t for t in pending if t not in got]
                reasons = {t: errors.get(t, "no rows returned for the requested dates") for t in missing}
                retry = [t for t in missing if TRANSIENT.search(reasons[t])]
                for t in missing:
                    if t not in retry:
                        failed[t] = reasons[t]
                if not retry:
                    break
                if attempt == self.max_attempts:
                    failed.update({t: f"{reasons[t]} (gave up after {attempt} attempts)" for t in retry})
                    break
                delay = self.base_delay * 2 ** (attempt - 1) * (1 + random.random())
                notes.append(f"retrying {retry} in {delay:.1f}s after: {reasons[retry[0]]}")
                log.warning("yfinance: %s; retrying %d tickers in %.1fs", reasons[retry[0]], len(retry), delay)
                self._sleep(delay)
                pending = retry
        bars = pd.concat(frames, ignore_index=True) if frames else empty_bars()
        return PriceBatch(bars=bars[PRICE_COLUMNS], failed=failed, notes=notes)
