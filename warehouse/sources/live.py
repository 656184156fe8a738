"""The `live` source for prices: Yahoo Finance through yfinance.

What yfinance does, and how it is handled here:
- `download` returns (Price, Ticker) MultiIndex columns, even for one ticker: reshaped to long form.
- `auto_adjust` defaults to True, which drops the raw close: it is passed as False, so both the raw
  `Close` and `Adj Close` are stored. `repair` stays off: it rewrites history heuristically.
- A failed ticker is logged, not raised, and comes back as an all-NaN column; and yfinance words
  most failures alike: an HTTP 5xx, a time-out and an empty answer all read "possibly delisted; no
  price data found". So what Yahoo really answered is read on the wire: yfinance is given a session
  (`yahoo_session`) that notes, per symbol, the status and body of every chart request, or the
  network error. A failure is then named as what it is (``HTTP 503 from Yahoo``, a time-out, an
  unknown symbol, no bars in the range), and only the transient ones (5xx, 429, time-outs, dropped
  connections, a malformed answer) are retried, with bounded exponential backoff and jitter,
  honouring Retry-After.
- yfinance keeps every chart answer of a past range in a per-process cache (`YfData.cache_get`,
  an lru_cache), failed ones included, and its time-zone lookup goes through the same cache: a
  retry would be answered from memory without a request. The cache is cleared before every
  download, so every attempt reaches Yahoo (an lru_cache cannot forget one key; clearing it all
  costs at most a repeated request).
- yfinance's time-zone lookup waits up to 10 s and its cookie fetch up to 30 s whatever `timeout`
  says: the session holds every request to `timeout`.
- At index size (~2,700 tickers a day) the tickers go in batches of `[prices] batch_size` per
  download call with `batch_pause_seconds` between calls (config/universe.toml); after a batch
  that met a rate limit the next waits at least as long as that batch's last backoff.
- Yahoo may send bars outside the range asked for (the latest session appended after the end,
  earlier sessions): rows outside [start, end] are dropped. Messages give the inclusive end date
  that was asked for (yfinance's end is exclusive, one day later).
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import pandas as pd

from warehouse.sources.base import PRICE_COLUMNS, PriceBatch, SourceError, empty_bars

log = logging.getLogger(__name__)

TRANSIENT = re.compile(
    r"rate ?limit|too many requests|429|timed? ?out|timeout|connection|temporar|\bHTTP 5\d\d\b|malformed", re.I
)
RATE_LIMIT = re.compile(r"rate ?limit|too many requests|\b429\b", re.I)
YF_FIELDS = {"Open": "open", "High": "high", "Low": "low", "Close": "close",
             "Adj Close": "adj_close", "Volume": "volume"}
CHART_PATH = "/v8/finance/chart/"
# yfinance's own wording of a failed range: "(1d 2024-01-02 -> 2024-01-05)", the end exclusive.
YF_RANGE = re.compile(r"\(\w+ \S+ -> \S+\)")


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


@dataclass(frozen=True)
class Answer:
    """What Yahoo's chart API answered one request for one symbol."""

    reason: str  # what happened, in words: "HTTP 503 from Yahoo"
    transient: bool = False  # worth asking again
    bars: int | None = None  # bars in an answer that parsed
    lookup: bool = False  # yfinance's time-zone lookup (range=1d), not the range asked for
    retry_after: float | None = None


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (an HTTP date is ignored)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _start_of(text: str) -> str:
    first = " ".join(text.strip().split())[:60]
    return f"it starts with {first!r}" if first else "the body is empty"


def read_answer(status: int, text: str, retry_after: str | None = None, lookup: bool = False) -> Answer:
    """Classify one chart answer from its status and body."""
    wait = _retry_after(retry_after)
    if status == 429:
        return Answer("HTTP 429 from Yahoo (rate limited)", transient=True, lookup=lookup, retry_after=wait)
    if status >= 500:
        return Answer(f"HTTP {status} from Yahoo", transient=True, lookup=lookup, retry_after=wait)
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        if status >= 400:
            return Answer(f"HTTP {status} from Yahoo ({_start_of(text)})", lookup=lookup)
        return Answer(f"a malformed answer from Yahoo, not chart JSON ({_start_of(text)})",
                      transient=True, lookup=lookup)
    chart = body.get("chart") or body.get("finance") or {}
    error = chart.get("error") if isinstance(chart, dict) else None
    if error:
        code = error.get("code", "") if isinstance(error, dict) else ""
        said = error.get("description", "") if isinstance(error, dict) else str(error)
        if code == "Not Found":
            return Answer(f"Yahoo does not know this symbol (HTTP {status} {code}: {said})", lookup=lookup)
        return Answer(f"Yahoo refused the request (HTTP {status} {code}: {said})", lookup=lookup)
    if status >= 400:
        return Answer(f"HTTP {status} from Yahoo ({_start_of(text)})", lookup=lookup)
    results = chart.get("result") if isinstance(chart, dict) else None
    if not results or not isinstance(results[0], dict):
        return Answer(f"a malformed answer from Yahoo, chart JSON without a result ({_start_of(text)})",
                      transient=True, lookup=lookup)
    return Answer("answered", bars=len(results[0].get("timestamp") or []), lookup=lookup)


def network_answer(exc: BaseException, timeout: float, lookup: bool = False) -> Answer:
    """Classify a request that got no HTTP answer at all."""
    name = type(exc).__name__
    if isinstance(exc, TimeoutError) or "Timeout" in name:
        return Answer(f"no answer from Yahoo within {timeout:g}s (timed out)", transient=True, lookup=lookup)
    return Answer(f"no answer from Yahoo: connection failed ({name}: {exc})", transient=True, lookup=lookup)


def chart_symbol(url: str) -> str | None:
    path = unquote(urlsplit(url).path)
    return path[len(CHART_PATH):].upper() if path.startswith(CHART_PATH) else None


def _backend() -> tuple[type, bool]:
    """The Session class yfinance uses (curl_cffi's, else requests'), and whether it is curl_cffi."""
    from yfinance import _http

    return _http.requests.Session, bool(_http.HAS_CURL_CFFI)


class _Journal:
    """Mixed into yfinance's Session class: routes, bounds and notes every request yfinance makes."""

    base_url: str | None = None
    request_timeout: float = 30.0

    def _setup(self, base_url: str | None, timeout: float) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.request_timeout = timeout
        self._lock = threading.Lock()
        self.answers: dict[str, Answer] = {}

    def reset(self) -> None:
        with self._lock:
            self.answers = {}

    def last_answers(self) -> dict[str, Answer]:
        with self._lock:
            return dict(self.answers)

    def _route(self, url: str) -> str:
        """Every *.yahoo.com URL to `base_url` (a mirror or a test server), path and query kept."""
        if not self.base_url:
            return url
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host != "yahoo.com" and not host.endswith(".yahoo.com"):
            return url
        return f"{self.base_url}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        url = self._route(url)
        kwargs["timeout"] = self.request_timeout
        symbol = chart_symbol(url)
        lookup = "range" in (kwargs.get("params") or {})
        try:
            response = super().request(method, url, *args, **kwargs)
        except Exception as exc:
            if symbol:
                self._note(symbol, network_answer(exc, self.request_timeout, lookup))
            raise
        if symbol:
            answer = read_answer(response.status_code, response.text, response.headers.get("Retry-After"), lookup)
            self._note(symbol, answer)
        return response

    def _note(self, symbol: str, answer: Answer) -> None:
        with self._lock:
            self.answers[symbol] = answer


def yahoo_session(base_url: str | None, timeout: float) -> Any:
    """A Session of yfinance's backend that routes, bounds and notes every request (see `_Journal`)."""
    base, curl = _backend()
    cls = type("YahooSession", (_Journal, base), {})
    if curl:
        session = cls(impersonate="chrome")
    else:
        from yfinance import _http

        session = cls()
        session.headers.update({"User-Agent": _http._FALLBACK_USER_AGENT})
    session._setup(base_url, timeout)
    return session


def forget_cached_answers() -> None:
    """Empty yfinance's per-process cache of chart answers, so the next download asks Yahoo."""
    from yfinance.data import YfData

    clear = getattr(YfData.cache_get, "cache_clear", None)
    if clear is None:
        log.warning("yfinance has no YfData.cache_get.cache_clear: a retry may be answered from its cache")
        return
    clear()


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


def span(start: dt.date, end: dt.date) -> str:
    return f"{start.isoformat()} to {end.isoformat()} inclusive"


class LiveSource:
    name = "live"

    def __init__(
        self,
        batch_size: int | None = None,
        max_attempts: int = 4,
        base_delay: float = 2.0,
        max_delay: float = 60.0,
        timeout: float = 30.0,
        base_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        batch_pause: float | None = None,
    ):
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if batch_size is None or batch_pause is None:
            # Read here, so every caller (the asset, make run, the bench) honours the file.
            from warehouse.universe import load_universe

            universe = load_universe()
            batch_size = universe.batch_size if batch_size is None else batch_size
            batch_pause = universe.batch_pause_seconds if batch_pause is None else batch_pause
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        self.batch_pause = batch_pause  # seconds between two download calls
        # The pause owed after the last batch of a previous daily_bars call, and when that batch
        # ended: the prices asset makes one call per range (the run's, each new member's start),
        # and back-to-back calls must not burst where one call's batches would not.
        self._owed: tuple[float, float] | None = None
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.timeout = timeout
        self.base_url = base_url  # the root of a Yahoo mirror or test server; None for Yahoo itself
        self._sleep = sleep
        self._jitter = jitter
        self._session: Any = None
        self._lock = threading.Lock()

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based): exponential, jittered between
        half and all of it, capped at max_delay; or what Yahoo asked for in Retry-After, capped too."""
        if retry_after is not None:
            return min(self.max_delay, retry_after)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling * (0.5 + 0.5 * self._jitter())

    def _download(
        self, tickers: list[str], start: dt.date, end: dt.date
    ) -> tuple[pd.DataFrame | None, dict[str, str], dict[str, Answer]]:
        """One yf.download: the frame, yfinance's logged errors, and what Yahoo answered per symbol."""
        import yfinance as yf

        if self._session is None:
            self._session = yahoo_session(self.base_url, self.timeout)
        session = self._session
        capture = _ErrorCapture()
        yf_log = logging.getLogger("yfinance")
        with self._lock:
            session.reset()
            forget_cached_answers()
            yf_log.addHandler(capture)
            try:
                frame = yf.download(
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
                    session=session,
                )
            except Exception as exc:  # the whole call failed (rate limit before any ticker, network)
                frame = None
                capture.errors = {t: f"{type(exc).__name__}: {exc}" for t in tickers}
            finally:
                yf_log.removeHandler(capture)
            return frame, capture.errors, session.last_answers()

    def _why(self, ticker: str, errors: dict[str, str], answers: dict[str, Answer],
             start: dt.date, end: dt.date) -> Answer:
        """Why `ticker` has no bars: Yahoo's answer when there was one, else yfinance's words."""
        answer = answers.get(ticker.upper())
        if answer is not None and answer.bars is None:
            return answer
        if answer is not None and not answer.lookup:
            if answer.bars == 0:
                return Answer("Yahoo answered with no bars")
            return Answer(f"Yahoo answered with {answer.bars} bars, none of them in the range")
        said = errors.get(ticker) or errors.get(ticker.upper())
        if not said:
            return Answer("no rows returned")
        said = YF_RANGE.sub(f"({span(start, end)})", said)
        return Answer(f"yfinance: {said}", transient=bool(TRANSIENT.search(said)))

    def daily_bars(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> PriceBatch:
        frames: list[pd.DataFrame] = []
        failed: dict[str, str] = {}
        notes: list[str] = []
        outside = 0
        asked = span(start, end)
        unique = list(dict.fromkeys(tickers))
        # After a batch that met a rate limit, the next one waits at least as long as its last
        # backoff: Yahoo limits the client, not the symbols, so the next batch would meet it too.
        rate_limited = 0.0
        for i in range(0, len(unique), self.batch_size):
            pending = unique[i : i + self.batch_size]
            if i:
                self._sleep(max(self.batch_pause, rate_limited))
            elif self._owed is not None:
                owed, ended = self._owed
                if (left := owed - (time.monotonic() - ended)) > 0:
                    self._sleep(left)
            rate_limited = 0.0
            for attempt in range(1, self.max_attempts + 1):
                frame, errors, answers = self._download(pending, start, end)
                bars = reshape(frame)
                inside = (bars["trade_date"] >= start) & (bars["trade_date"] <= end)
                outside += int((~inside).sum())
                bars = bars[inside]
                got = set(bars["ticker"])
                frames.append(bars)
                missing = [t for t in pending if t not in got and t.upper() not in got]
                why = {t: self._why(t, errors, answers, start, end) for t in missing}
                retry = [t for t in missing if why[t].transient]
                for t in missing:
                    if t not in retry:
                        failed[t] = f"{why[t].reason}, asking for {asked}"
                if not retry:
                    break
                waits = [why[t].retry_after for t in retry if why[t].retry_after is not None]
                delay = self.backoff(attempt, max(waits) if waits else None)
                if any(RATE_LIMIT.search(why[t].reason) for t in retry):
                    rate_limited = delay
                if attempt == self.max_attempts:
                    tries = f"{attempt} attempt" if attempt == 1 else f"{attempt} attempts"
                    failed.update({t: f"{why[t].reason} after {tries}, asking for {asked}" for t in retry})
                    break
                note = (f"retrying {retry} in {delay:.1f}s after {why[retry[0]].reason} "
                        f"(attempt {attempt + 1} of {self.max_attempts}), asking for {asked}")
                notes.append(note)
                log.warning("yfinance: %s", note)
                self._sleep(delay)
                pending = retry
        if unique:
            self._owed = (max(self.batch_pause, rate_limited), time.monotonic())
        if outside:
            notes.append(f"dropped {outside} bars Yahoo sent outside {asked}")
        bars = pd.concat(frames, ignore_index=True) if frames else empty_bars()
        return PriceBatch(bars=bars[PRICE_COLUMNS].reset_index(drop=True), failed=failed, notes=notes)

    def first_date(self, tickers: Sequence[str]) -> dt.date | None:
        """Unknown: Yahoo tells how far back a symbol goes only by downloading it, so every month
        from the history start is asked for."""
        return None
