"""A fake Yahoo Finance on 127.0.0.1 that answers yfinance the way Yahoo's servers do.

- ``/v8/finance/chart/<SYMBOL>?period1=..&period2=..&interval=1d...``: the chart JSON (``chart.result[0]``
  with ``meta``, ``timestamp``, ``indicators.quote[0]`` and ``indicators.adjclose[0]``) holding the
  sessions whose bar time falls in [period1, period2). Bars are stamped at 09:30 New York, the open
  of their session, except the last one of an answer, stamped 16:00 New York on its own session (the
  way Yahoo stamps the latest bar). ``range=1d`` (yfinance's time-zone lookup) answers the latest bar.
- An unknown symbol: HTTP 404 with ``{"chart": {"result": null, "error": {"code": "Not Found", ...}}}``.
- ``/`` (fc.yahoo.com), ``/v1/test/getcrumb``, ``/consent`` (guce.yahoo.com), quote summaries: what
  yfinance's cookie, crumb and time-zone fallbacks ask for, answered briefly.

Chart answers can be scripted per symbol, one scripted answer per chart request in order, before the
real ones (an answer built from the requested range waits for a request that has one): HTTP 5xx pages, 429, a reply slower than the client's timeout, an empty result, rows
outside the requested range. The server is bounded: it stops by itself after `lifetime` seconds or
`max_requests` requests, and a slow reply is cut short when the server stops.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
NOT_FOUND = "No data found, symbol may be delisted"
CRUMB = "Xq1fake.crumb"
VALID_RANGES = ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]


@dataclass(frozen=True)
class Bar:
    """One session's bar as Yahoo serves it: raw OHLC, the adjusted close, the volume."""

    day: str  # ISO date of the session
    open: float
    high: float
    low: float
    close: float
    adjclose: float
    volume: int


@dataclass
class Reply:
    """One answer. `delay` seconds pass before anything is sent."""

    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_type: str = "application/json;charset=utf-8"


# A scripted answer: a fixed Reply, or one built from the request (the symbol and its query).
Scripted = Reply | Callable[["FakeYahoo", str, dict], Reply]


def server_error(status: int = 503) -> Reply:
    """What Yahoo's edge answers when the service behind it fails: an HTML page, not JSON."""
    titles = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
              504: "Gateway Timeout"}
    title = titles.get(status, "Server Error")
    page = f"<!DOCTYPE html><html><head><title>Yahoo</title></head><body><h1>{status} {title}</h1></body></html>"
    return Reply(status, page, content_type="text/html; charset=utf-8")


def rate_limited(retry_after: str | None = None) -> Reply:
    """Yahoo's answer to too many requests: HTTP 429 and a one-line text body."""
    headers = {"Retry-After": retry_after} if retry_after else {}
    return Reply(429, "Too Many Requests\r\n", headers, content_type="text/plain;charset=utf-8")


def slow(seconds: float) -> Reply:
    """A reply that arrives after the client has given up (its body would be an empty 200)."""
    return Reply(200, "", delay=seconds)


def empty_result(fake: FakeYahoo, symbol: str, params: dict) -> Reply:
    """A known symbol with no bars in the range: meta, but no `timestamp` and empty indicators."""
    return fake.chart_reply(symbol, [], params)


def spill(before: int = 2, after: int = 2) -> Callable[[FakeYahoo, str, dict], Reply]:
    """The requested bars plus `before` sessions before period1 and `after` sessions after period2."""

    def answer(fake: FakeYahoo, symbol: str, params: dict) -> Reply:
        bars = fake.bars[symbol]
        inside = [i for i, b in enumerate(bars) if fake.in_range(b, params)]
        if not inside:
            return fake.chart_reply(symbol, [], params)
        first = max(0, inside[0] - before)
        last = min(len(bars), inside[-1] + 1 + after)
        return fake.chart_reply(symbol, bars[first:last], params)

    return answer


def session_time(day: str, hour: int, minute: int) -> int:
    moment = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), NEW_YORK)
    return int(moment.timestamp())


class FakeYahoo:
    """Serve `bars` ({symbol: [Bar, ...] in date order}) on 127.0.0.1 in Yahoo's formats."""

    def __init__(self, bars: dict[str, list[Bar]], *, lifetime: float = 30.0, max_requests: int = 500):
        self.bars = bars
        self.lifetime = lifetime
        self.max_requests = max_requests
        self.scripts: dict[str, list[Scripted]] = {}
        self.requests: list[dict] = []  # {'path', 'params', 'symbol'} of every request, in order
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- scripting --------------------------------------------------------------------------------

    def script(self, symbol: str, *answers: Scripted) -> None:
        """Answer the next chart requests for `symbol` with these, then normally."""
        with self._lock:
            self.scripts.setdefault(symbol, []).extend(answers)

    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first (use it as a context manager)"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def chart_requests(self, symbol: str | None = None) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["symbol"] and symbol in (None, r["symbol"])]

    # -- lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> FakeYahoo:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                reply = fake._answer(self.path)
                if reply.delay and fake._stopped.wait(reply.delay):
                    return
                body = reply.body.encode("utf-8")
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            do_POST = do_GET  # noqa: N815 - yfinance's consent form posts; answered like a GET

            def log_message(self, format: str, *args) -> None:  # noqa: A002 - keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._timer.cancel()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- answers ----------------------------------------------------------------------------------

    def _answer(self, raw_path: str) -> Reply:
        parts = urlsplit(raw_path)
        params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        path = unquote(parts.path)
        symbol = path.removeprefix("/v8/finance/chart/") if path.startswith("/v8/finance/chart/") else ""
        with self._lock:
            self.requests.append({"path": path, "params": params, "symbol": symbol})
            if len(self.requests) > self.max_requests:
                return server_error(503)
            script = self.scripts.get(symbol) if symbol else None
            scripted = None
            # A range-dependent answer waits for a request with a range (not yfinance's time-zone lookup).
            if script and (isinstance(script[0], Reply) or "period1" in params):
                scripted = script.pop(0)
        if symbol:
            if scripted is not None:
                return scripted if isinstance(scripted, Reply) else scripted(self, symbol, params)
            return self._chart(symbol, params)
        if path == "/v1/test/getcrumb":
            return Reply(200, CRUMB, content_type="text/plain;charset=utf-8")
        if path.startswith("/v10/finance/quoteSummary/"):
            error = {"code": "Not Found", "description": f"Quote not found for symbol: {path.rsplit('/', 1)[1]}"}
            return Reply(404, json.dumps({"quoteSummary": {"result": None, "error": error}}))
        if path == "/v7/finance/quote":
            return Reply(200, json.dumps({"quoteResponse": {"result": [], "error": None}}))
        # fc.yahoo.com answers 404 (with a cookie, which a loopback host cannot keep); the rest too.
        return Reply(404, "<html><body>Not Found</body></html>", content_type="text/html")

    @staticmethod
    def in_range(bar: Bar, params: dict) -> bool:
        return int(params["period1"]) <= session_time(bar.day, 9, 30) < int(params["period2"])

    def _chart(self, symbol: str, params: dict) -> Reply:
        if symbol not in self.bars:
            body = {"chart": {"result": None, "error": {"code": "Not Found", "description": NOT_FOUND}}}
            return Reply(404, json.dumps(body))
        bars = self.bars[symbol]
        if "period1" in params:
            return self.chart_reply(symbol, [b for b in bars if self.in_range(b, params)], params)
        return self.chart_reply(symbol, bars[-1:], params)  # range=1d: the latest session

    def chart_reply(self, symbol: str, bars: list[Bar], params: dict) -> Reply:
        latest = self.bars[symbol][-1]
        latest_close = session_time(latest.day, 16, 0)
        offset = int(dt.datetime.fromtimestamp(latest_close, NEW_YORK).utcoffset().total_seconds())
        zone = "EDT" if offset == -4 * 3600 else "EST"

        def period(start: int, end: int) -> dict:
            return {"timezone": zone, "start": start, "end": end, "gmtoffset": offset}

        meta = {
            "currency": "USD", "symbol": symbol, "exchangeName": "PCX", "fullExchangeName": "NYSEArca",
            "instrumentType": "ETF", "firstTradeDate": 958743000, "regularMarketTime": latest_close,
            "hasPrePostMarketData": True, "gmtoffset": offset, "timezone": zone,
            "exchangeTimezoneName": "America/New_York", "regularMarketPrice": latest.close,
            "fiftyTwoWeekHigh": max(b.high for b in self.bars[symbol]),
            "fiftyTwoWeekLow": min(b.low for b in self.bars[symbol]),
            "regularMarketDayHigh": latest.high, "regularMarketDayLow": latest.low,
            "regularMarketVolume": latest.volume, "longName": f"{symbol} Fund", "shortName": f"{symbol} Fund",
            "chartPreviousClose": bars[0].close if bars else latest.close, "priceHint": 2,
            "currentTradingPeriod": {
                "pre": period(session_time(latest.day, 4, 0), session_time(latest.day, 9, 30)),
                "regular": period(session_time(latest.day, 9, 30), latest_close),
                "post": period(latest_close, session_time(latest.day, 20, 0)),
            },
            "dataGranularity": params.get("interval", "1d"), "range": params.get("range", ""),
            "validRanges": VALID_RANGES,
        }
        result: dict = {"meta": meta}
        if bars:
            stamps = [session_time(b.day, 9, 30) for b in bars[:-1]] + [session_time(bars[-1].day, 16, 0)]
            result["timestamp"] = stamps
            result["indicators"] = {
                "quote": [{
                    "open": [b.open for b in bars], "high": [b.high for b in bars], "low": [b.low for b in bars],
                    "close": [b.close for b in bars], "volume": [b.volume for b in bars],
                }],
                "adjclose": [{"adjclose": [b.adjclose for b in bars]}],
            }
        else:
            result["indicators"] = {"quote": [{}], "adjclose": [{}]}
        return Reply(200, json.dumps({"chart": {"result": [result], "error": None}}))
