"""The `live` valuation source: Yahoo Finance through yfinance (1.7), snapshotted as of now.

What yfinance offers, and how it is read here:
- ``Ticker.info`` is a flat dict of Yahoo's quote-summary fields, as of the moment it is fetched.
  Absent fields are absent keys (yfinance drops None); ETFs usually lack most of them. The ratio
  fields read are listed in INFO_FIELDS. A missing, non-numeric, infinite or zero field is no row,
  counted by ticker, never a zero.
- ``Ticker.funds_data.equity_holdings`` (funds only) is a frame indexed by ``Average`` with the
  rows Price/Earnings, Price/Book, Price/Sales, Price/Cashflow, ... and the columns ``<SYMBOL>``
  and ``Category Average``; absent cells are ``pd.NA``. Yahoo now serves these four as yields
  (earnings / price: SPY's P/E arrives as about 0.04) where it used to serve ratios (25.46). The
  P/E cell tells which: a P/E below 1 is a yield, so all four are inverted; without a P/E the
  other three cannot be told apart and are counted missing. For a stock, yfinance raises
  YFDataException ("No Fund data found"): funds data is only asked for funds.
- ``Ticker.get_valuation_measures(freq="quarterly", periods=None)`` is Yahoo's quarterly series of
  valuation measures (stocks only): rows such as "Trailing P/E", a ``Current`` column and period-end
  columns labelled ``M/D/YYYY``, NaN where absent, an empty frame on failure. The period columns
  are loaded as backfill (they never overwrite a snapshot); ``Current`` is not, because its date
  is not given and the snapshot already holds today's figure.
- yfinance logs most failures instead of raising, and caches a failed answer in the Ticker
  object: each attempt uses a new Ticker, and failures are read from its log as well as from
  exceptions. Transient ones (rate limits, time-outs) are retried with backoff and jitter.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd

from warehouse import calendar
from warehouse.sources.live import TRANSIENT
from warehouse.sources.valuations import SnapshotDateError, ValuationBatch, valuation_frame
from warehouse.valuation_terms import split_metric

log = logging.getLogger(__name__)

PUBLISHER = "Yahoo Finance"
# Ticker.info key -> metric.
INFO_FIELDS = {
    "trailingPE": "pe_trailing",
    "forwardPE": "pe_forward",
    "priceToBook": "pb_trailing",
    "priceToSalesTrailing12Months": "ps_trailing",
    "enterpriseToRevenue": "ev_revenue_trailing",
    "enterpriseToEbitda": "ev_ebitda_trailing",
}
# funds_data.equity_holdings row -> metric. Yahoo does not state a basis; recorded as trailing.
HOLDINGS_ROWS = {
    "Price/Earnings": "holdings_pe_trailing",
    "Price/Book": "holdings_pb_trailing",
    "Price/Sales": "holdings_ps_trailing",
    "Price/Cashflow": "holdings_pcf_trailing",
}
# get_valuation_measures row label -> metric.
HISTORY_ROWS = {
    "Trailing P/E": "pe_trailing",
    "Forward P/E": "pe_forward",
    "Price/Sales": "ps_trailing",
    "Price/Book": "pb_trailing",
    "Enterprise Value/Revenue": "ev_revenue_trailing",
    "Enterprise Value/EBITDA": "ev_ebitda_trailing",
}
FUND_TYPES = {"ETF", "MUTUALFUND"}


def number(value: Any) -> float | None:
    """A usable figure, or None for absent, non-numeric, infinite, NaN and zero values."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(out) or out == 0:
        return None
    return out


def _row(as_of: dt.date, ticker: str, metric: str, value: float, method: str, notes: str) -> dict:
    return {
        "as_of_date": as_of, "ticker": ticker, "metric": metric, "value": value,
        "basis": split_metric(metric)[1], "method": method, "publisher": PUBLISHER, "url": None,
        "notes": notes,
    }


def info_figures(info: dict, ticker: str, as_of: dt.date) -> tuple[list[dict], list[str]]:
    """Rows for the ratio fields of `info`, and the fields that were missing."""
    rows, missing = [], []
    for field, metric in INFO_FIELDS.items():
        value = number(info.get(field))
        if value is None:
            missing.append(f"info.{field}")
            continue
        rows.append(_row(as_of, ticker, metric, value, "provider_field", f"Ticker.info['{field}']"))
    return rows, missing


def holdings_figures(
    frame: pd.DataFrame | None, ticker: str, as_of: dt.date
) -> tuple[list[dict], list[str]]:
    """Rows for a fund's holdings averages (inverted from yields), and the fields missing."""
    if frame is None or frame.empty:
        return [], [f"funds_data.{name}" for name in HOLDINGS_ROWS]
    column = ticker if ticker in frame.columns else frame.columns[0]
    raw = {name: number(frame.at[name, column]) if name in frame.index else None
           for name in HOLDINGS_ROWS}
    pe = raw["Price/Earnings"]
    if pe is None:
        return [], [
            f"funds_data.{name}" if name == "Price/Earnings" or raw[name] is None
            else f"funds_data.{name} (units unclear without Price/Earnings)"
            for name in HOLDINGS_ROWS
        ]
    as_yield = abs(pe) < 1.0  # a fund's P/E is never below 1; an earnings yield never above it
    rows, missing = [], []
    for name, metric in HOLDINGS_ROWS.items():
        cell = raw[name]
        if cell is None:
            missing.append(f"funds_data.{name}")
            continue
        value = 1.0 / cell if as_yield else cell
        how = f"yield {cell!r} inverted" if as_yield else "ratio as given"
        rows.append(_row(as_of, ticker, metric, value, "holdings_average",
                         f"funds_data.equity_holdings['{name}']: {how}"))
    return rows, missing


def history_figures(
    frame: pd.DataFrame | None, ticker: str, start: dt.date, end: dt.date
) -> list[dict]:
    """Rows for the dated (period-end) columns of yfinance's quarterly valuation measures."""
    if frame is None or frame.empty:
        return []
    rows = []
    for column in frame.columns:
        if column == "Current":
            continue
        try:
            day = dt.datetime.strptime(str(column), "%m/%d/%Y").date()
        except ValueError:
            continue
        if not start <= day <= end:
            continue
        for label, metric in HISTORY_ROWS.items():
            if label not in frame.index:
                continue
            value = number(frame.at[label, column])
            if value is not None:
                rows.append(_row(day, ticker, metric, value, "provider_field",
                                 f"get_valuation_measures quarterly '{label}' (period end)"))
    return rows


class _LogCapture(logging.Handler):
    """The errors yfinance logs instead of raising, while one call runs."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().strip())


@contextmanager
def _captured() -> Iterator[_LogCapture]:
    capture = _LogCapture()
    yf_log = logging.getLogger("yfinance")
    yf_log.addHandler(capture)
    try:
        yield capture
    finally:
        yf_log.removeHandler(capture)


def _default_ticker(symbol: str) -> Any:
    import yfinance as yf

    return yf.Ticker(symbol)


def session_in_progress(now: pd.Timestamp) -> bool:
    """True from the open of today's NYSE session until its bar has settled after the close."""
    today = now.tz_convert(calendar.NEW_YORK).date()
    if not calendar.is_session(today):
        return False
    opens = calendar.nyse().session_open(pd.Timestamp(today))
    return bool(opens <= now < calendar.session_close_utc(today) + calendar.SETTLE_DELAY)


class YahooValuationSource:
    name = "live"

    def __init__(
        self,
        ticker_factory: Callable[[str], Any] | None = None,
        max_attempts: int = 4,
        base_delay: float = 2.0,
        pause: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], pd.Timestamp] | None = None,
    ):
        self._factory = ticker_factory or _default_ticker
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.pause = pause  # between tickers, to stay under Yahoo's rate limit
        self._sleep = sleep
        self._clock = clock or (lambda: pd.Timestamp.now(tz="UTC"))

    def snapshot_day(self) -> dt.date:
        """The session a snapshot taken now describes: the last one that closed."""
        return calendar.last_completed_session(self._clock())

    def check_day(self, as_of: dt.date) -> None:
        """Refuse, saying why, a snapshot that would not hold the figures of `as_of`."""
        now = pd.Timestamp(self._clock())
        now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
        current = calendar.last_completed_session(now)
        if as_of != current:
            raise SnapshotDateError(
                f"Yahoo gives valuations only as of now: a snapshot for {as_of} cannot be taken "
                f"at {now:%Y-%m-%d %H:%M} UTC, when the last completed NYSE session is {current}. "
                "Nothing is invented for past days: load them from valuations.csv (the files "
                "source) or config/published_valuations.csv."
            )
        if session_in_progress(now):
            raise SnapshotDateError(
                f"the NYSE session of {now.tz_convert(calendar.NEW_YORK).date()} is in progress: "
                f"Yahoo's ratios move with today's price, so a snapshot now would not be the "
                f"figures of {current}. Take it after the close has settled (as the daily "
                "schedule does)."
            )

    def snapshot(self, tickers: Sequence[str], as_of: dt.date) -> ValuationBatch:
        self.check_day(as_of)
        return self._collect(tickers, as_of, None)

    def valuations(self, tickers: Sequence[str], as_of: dt.date, start: dt.date) -> ValuationBatch:
        self.check_day(as_of)
        return self._collect(tickers, as_of, start)

    def _fetch(self, symbol: str, what: str, get: Callable[[Any], Any],
               empty: Callable[[Any], bool], notes: list[str]) -> tuple[Any, str | None]:
        """`get(Ticker)` with retries on transient failures; (result, None) or (None, why)."""
        reason = ""
        for attempt in range(1, self.max_attempts + 1):
            with _captured() as capture:
                try:
                    result = get(self._factory(symbol))
                except Exception as exc:  # yfinance raises a wide variety; each is reported by name
                    result, reason = None, f"{type(exc).__name__}: {exc}"
                else:
                    if not empty(result):
                        return result, None
                    reason = "; ".join(capture.messages) or f"Yahoo returned no {what} for {symbol}"
            if not TRANSIENT.search(reason):
                return None, reason
            if attempt == self.max_attempts:
                return None, f"{reason} (gave up after {attempt} attempts)"
            delay = self.base_delay * 2 ** (attempt - 1) * (1 + random.random())
            notes.append(f"{symbol}: retrying {what} in {delay:.1f}s after: {reason}")
            log.warning("yfinance %s for %s: %s; retrying in %.1fs", what, symbol, reason, delay)
            self._sleep(delay)
        return None, reason

    def _collect(
        self, tickers: Sequence[str], as_of: dt.date, start: dt.date | None
    ) -> ValuationBatch:
        rows: list[dict] = []
        backfill: list[dict] = []
        batch = ValuationBatch()
        for i, symbol in enumerate(dict.fromkeys(tickers)):
            if i and self.pause:
                self._sleep(self.pause)
            got, history = self._one_ticker(symbol, as_of, start, batch)
            rows += got
            backfill += history
        batch.rows = valuation_frame(rows)
        batch.backfill = valuation_frame(backfill)
        return batch

    def _one_ticker(
        self, symbol: str, as_of: dt.date, start: dt.date | None, batch: ValuationBatch
    ) -> tuple[list[dict], list[dict]]:
        """The snapshot rows and backfill rows of one ticker; gaps and failures go into `batch`."""
        # yfinance answers an unknown symbol with a near-empty dict ({'trailingPegRatio': None}):
        # an answer without a quoteType is no answer.
        info, info_error = self._fetch(
            symbol, "info", lambda t: t.info,
            lambda r: not isinstance(r, dict) or not r.get("quoteType"), batch.notes)
        info = info or {}
        rows, missing = info_figures(info, symbol, as_of)
        quote_type = str(info.get("quoteType", "")).upper()
        backfill: list[dict] = []
        # Without info the kind of ticker is unknown: funds data is tried, as a stock has none.
        if quote_type in FUND_TYPES or (not quote_type and info_error is not None):
            holdings, funds_error = self._fetch(
                symbol, "funds data", lambda t: t.funds_data.equity_holdings,
                lambda r: not isinstance(r, pd.DataFrame) or r.empty, batch.notes)
            fund_rows, fund_missing = holdings_figures(holdings, symbol, as_of)
            rows += fund_rows
            if quote_type:  # a known fund: its absent holdings are gaps worth counting
                missing += fund_missing
                if funds_error:
                    batch.notes.append(f"{symbol}: no funds data: {funds_error}")
        elif start is not None:
            measures, history_error = self._fetch(
                symbol, "valuation measures",
                lambda t: t.get_valuation_measures(freq="quarterly", periods=None),
                lambda r: not isinstance(r, pd.DataFrame) or r.empty, batch.notes)
            backfill = history_figures(measures, symbol, start, as_of)
            if history_error:
                batch.notes.append(f"{symbol}: no quarterly valuation history: {history_error}")
        if info_error and not rows:
            batch.failed[symbol] = info_error if TRANSIENT.search(info_error) else (
                f"{info_error}: check the symbol in [valuations] tickers of config/universe.toml")
            return [], backfill
        if info_error:
            batch.notes.append(f"{symbol}: info failed ({info_error}); funds data loaded")
        if missing:
            batch.missing[symbol] = missing
        return rows, backfill
