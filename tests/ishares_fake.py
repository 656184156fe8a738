"""A fake www.ishares.com on 127.0.0.1 that serves holdings downloads in iShares' real format.

- ``<fund page>/1467271812596.ajax?fileType=csv&fileName=<FUND>_holdings&dataType=fund``: the
  fund's latest holdings file; with ``&asOfDate=YYYYMMDD`` the holdings of that month end, or,
  for a day the fund has nothing for, the file without a table (the fund facts, `-` as the date),
  or HTTP 404 (``nothing="404"``).
- The file is built as iShares builds it (`holdings_csv`): a UTF-8 BOM, nine lines before the
  header (fund name, ``Fund Holdings as of,"Apr 10, 2026"``, inception date, shares outstanding,
  four asset-class lines, a line holding only U+00A0), the header unquoted and every cell quoted,
  numbers with thousands separators, ``-`` for missing, a U+00A0 line and the disclaimer as one
  quoted field over several lines after the table, no newline at the end.

Answers can be scripted per fund, one scripted answer per request in order, before the real ones:
an HTTP 503 (the CDN turning a client away), a 429 with Retry-After, a reply slower than the
client's timeout, another fund's file, an HTML page. The server is bounded: it stops by itself
after `lifetime` seconds or `max_requests` requests.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

NBSP = "\u00a0"
HEADER_2025 = ["Ticker", "Name", "Sector", "Asset Class", "Market Value", "Weight (%)", "Notional Value",
               "Quantity", "Price", "Location", "Exchange", "Currency", "FX Rate", "Market Currency",
               "Accrual Date"]
HEADER_2023 = [c if c != "Quantity" else "Shares" for c in HEADER_2025]
DISCLAIMER = (
    "The content contained herein is owned or licensed by BlackRock and/or its third-party information "
    "providers and is protected by applicable copyrights.\nHoldings subject to change. See www.iShares.com "
    "for the most recent funds holdings.\nThe values for \u201cprice\u201d shown herein generally represent a "
    "price provided by a third-party pricing vendor, \"quoted\" here.\n\u00a92026 BlackRock, Inc or its "
    "affiliates. All rights reserved."
)
PAGES = {
    "IWM": "/us/products/239710/ishares-russell-2000-etf",
    "IJR": "/us/products/239774/ishares-core-sp-smallcap-etf",
    "IVV": "/us/products/239726/ishares-core-sp-500-etf",
    "IWV": "/us/products/239714/ishares-russell-3000-etf",
}
NAMES = {
    "IWM": "iShares Russell 2000 ETF",
    "IJR": "iShares Core S&P Small-Cap ETF",
    "IVV": "iShares Core S&P 500 ETF",
    "IWV": "iShares Russell 3000 ETF",
}


@dataclass(frozen=True)
class Row:
    """One table row as the file holds it (numbers as numbers; None is written `-`)."""

    ticker: str
    name: str
    sector: str = "Industrials"
    asset_class: str = "Equity"
    weight: float | None = 0.05  # percent, as the file gives it
    price: float | None = 25.0
    exchange: str = "NASDAQ"
    quantity: float = 1_234_567.0
    location: str = "United States"
    accrual: str = "-"


def cash_and_derivatives() -> list[Row]:
    """The non-stock rows every real IWM file has: one of each kind left out."""
    cash = "Cash and/or Derivatives"
    return [
        Row("XTSLA", "BLK CSH FND TREASURY SL AGENCY", cash, "Money Market", 0.13, 1.0, "-"),
        Row("USD", "USD CASH", cash, "Cash", 0.10, 100.0, "-"),
        Row("MSFUT", "CASH COLLATERAL MSFUT USD", cash, "Cash Collateral and Margins", 0.02, 100.0, "-",
            accrual="Feb 01, 2009"),
        Row("RTYM6", "RUSSELL 2000 EMINI CME JUN 26", cash, "Futures", 0.0, 2852.9, "Chicago Mercantile Exchange"),
    ]


def _num(value: float | None, places: int = 2) -> str:
    return "-" if value is None else f"{value:,.{places}f}"


def _quote(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


def holdings_csv(
    fund: str,
    as_of: dt.date | None,
    rows: list[Row],
    *,
    fund_name: str | None = None,
    header: list[str] | None = None,
    table: bool = True,
) -> bytes:
    """A holdings file as iShares writes it. `as_of` None writes `-` (a day without holdings);
    `table=False` leaves the table out (what a download for such a day holds)."""
    header = header or HEADER_2025
    date = as_of.strftime("%b %d, %Y") if as_of else "-"
    lines = [
        "\ufeff" + (fund_name or NAMES.get(fund, f"iShares {fund} ETF")),
        f'Fund Holdings as of,"{date}"',
        'Inception Date,"May 22, 2000"',
        'Shares Outstanding,"278,750,000.00"',
        'Stock,"-"', 'Bond,"-"', 'Cash,"-"', 'Other,"-"',
        NBSP,
    ]
    if table:
        lines.append(",".join(header))
        for r in rows:
            value = None if r.weight is None else r.weight * 1e7
            cells = {
                "Ticker": r.ticker, "Name": r.name, "Sector": r.sector, "Asset Class": r.asset_class,
                "Market Value": _num(value), "Weight (%)": _num(r.weight), "Notional Value": _num(value),
                "Quantity": _num(r.quantity), "Shares": _num(r.quantity), "Price": _num(r.price),
                "Location": r.location, "Exchange": r.exchange, "Currency": "USD", "FX Rate": "1.00",
                "Market Currency": "USD", "Accrual Date": r.accrual,
            }
            lines.append(",".join(_quote(cells[c]) for c in header))
    lines += [NBSP, _quote(DISCLAIMER)]
    return "\n".join(lines).encode("utf-8")


def members(count: int, prefix: str = "T", weight: float | None = None) -> list[Row]:
    """`count` plain equity rows T001, T002, ... whose weights add up to about 99.7%."""
    each = weight if weight is not None else round(99.7 / count, 2)
    return [Row(f"{prefix}{i:03d}", f"MEMBER {i} INC", weight=each) for i in range(1, count + 1)]


@dataclass
class Reply:
    """One scripted answer; `delay` seconds pass before anything is sent."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/csv; charset=UTF-8"
    delay: float = 0.0


def unavailable(retry_after: str | None = None) -> Reply:
    """What the CDN answers a client it turns away."""
    headers = {"Retry-After": retry_after} if retry_after else {}
    return Reply(503, b"<html><body>Service Unavailable</body></html>", headers, "text/html")


def html_page() -> Reply:
    return Reply(200, b"<!DOCTYPE html><html><head><title>Access check</title></head></html>", {}, "text/html")


@dataclass
class Fund:
    """What the fake knows of one fund: its latest file and its month-end files."""

    latest: tuple[dt.date, list[Row]]
    month_ends: dict[dt.date, list[Row]] = field(default_factory=dict)
    name: str | None = None  # the first line of its files (default: NAMES)


class FakeIShares:
    def __init__(self, funds: dict[str, Fund], *, nothing: str = "empty", lifetime: float = 30.0,
                 max_requests: int = 500):
        self.funds = funds
        self.nothing = nothing  # 'empty' (a file without a table) or '404'
        self.lifetime = lifetime
        self.max_requests = max_requests
        self.scripts: dict[str, list[Reply]] = {}
        self.requests: list[dict] = []  # {'path', 'params'} of every request, in order
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def script(self, fund: str, *replies: Reply) -> None:
        """Answer the next requests for `fund` with these replies, then normally."""
        self.scripts.setdefault(fund, []).extend(replies)

    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first (use it as a context manager)"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def requests_for(self, fund: str) -> list[dict]:
        return [r for r in self.requests if r["params"].get("fileName") == f"{fund}_holdings"]

    def __enter__(self) -> FakeIShares:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                reply = fake._answer(self.path)
                if reply.delay and fake._stopped.wait(reply.delay):
                    return
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

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

    def _answer(self, raw_path: str) -> Reply:
        parts = urlsplit(raw_path)
        params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        with self._lock:
            self.requests.append({"path": parts.path, "params": params})
            if len(self.requests) >= self.max_requests:
                threading.Thread(target=self.stop, daemon=True).start()
            fund = params.get("fileName", "").removesuffix("_holdings")
            scripted = self.scripts.get(fund)
            if scripted:
                return scripted.pop(0)
        known = self.funds.get(fund)
        if (known is None or parts.path != f"{PAGES.get(fund)}/1467271812596.ajax"
                or params.get("fileType") != "csv" or params.get("dataType") != "fund"):
            return Reply(404, b"<html><body>Page not found</body></html>", {}, "text/html")
        as_of = params.get("asOfDate")
        if as_of is None:
            day, rows = known.latest
            return Reply(200, holdings_csv(fund, day, rows, fund_name=known.name))
        day = dt.datetime.strptime(as_of, "%Y%m%d").date()
        if day in known.month_ends:
            return Reply(200, holdings_csv(fund, day, known.month_ends[day], fund_name=known.name))
        if self.nothing == "404":
            return Reply(404, b"<html><body>Page not found</body></html>", {}, "text/html")
        return Reply(200, holdings_csv(fund, None, [], fund_name=known.name, table=False))
