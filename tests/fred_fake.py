"""A fake FRED on 127.0.0.1 that answers in FRED's real formats, so the real clients run end to end.

- ``/fred/series/observations?series_id=..&api_key=..[&observation_start=..]``: the XML of
  api.stlouisfed.org that fredapi reads (missing values as ``.``), and its error XML for a series
  that does not exist and for an api_key that is malformed or not registered (HTTP 400 both);
- ``/graph/fredgraph.csv?id=..[&cosd=..]``: the keyless CSV, ``observation_date,<ID>`` with
  missing values as empty cells.

Answers can be scripted per series before the real one: a fixed reply (a 429, a 500, an HTML page,
a reply slower than the client's timeout) or a change to the real answer (cut to a shorter but
well-framed document, sent only in part before the connection closes, stalled half-way). The
server is bounded: it stops by itself after `lifetime` seconds or
`max_requests` requests, and a slow reply is cut short when the server stops.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

API_KEY = "abcdefghijklmnopqrstuvwxyz012345"  # 32 lower-case alphanumerics, like a real key
REALTIME = "2025-12-12"
SERIES_MISSING = "Bad Request.  The series does not exist."
KEY_MALFORMED = (
    "Bad Request.  The value for variable api_key is not a 32 character alpha-numeric lower-case "
    "string.  Read https://fred.stlouisfed.org/docs/api/api_key.html for more information."
)
KEY_UNREGISTERED = (
    "Bad Request.  The value for variable api_key is not registered.  Read "
    "https://fred.stlouisfed.org/docs/api/api_key.html for more information."
)


@dataclass
class Reply:
    """One scripted answer. `delay` seconds pass before anything is sent."""

    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_type: str = "text/plain; charset=UTF-8"
    send_bytes: int | None = None  # send only this much of the body (Content-Length says all of it)
    stall: float = 0.0  # with send_bytes: wait this long, then send the rest; without stall: hang up


# A scripted answer: a fixed Reply, or a change to the answer the series would have had.
Scripted = Reply | Callable[[Reply], Reply]


def error_xml(code: int, message: str) -> str:
    return f'<?xml version="1.0" encoding="utf-8" ?>\n<error code="{code}" message="{message}"/>\n'


def rate_limited(api: bool = True, retry_after: str | None = None) -> Reply:
    headers = {"Retry-After": retry_after} if retry_after else {}
    if api:
        return Reply(
            429,
            error_xml(429, "Too Many Requests.  Exceeded Rate Limit"),
            headers,
            content_type="text/xml; charset=UTF-8",
        )
    return Reply(429, "Too Many Requests", headers)


def server_error(api: bool = True) -> Reply:
    if api:
        return Reply(
            500, error_xml(500, "Internal Server Error."), content_type="text/xml; charset=UTF-8"
        )
    return Reply(
        502, "<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html"
    )


def slow(seconds: float) -> Reply:
    """A reply that arrives after the client has given up (its body would be a 200)."""
    return Reply(200, "", delay=seconds)


def truncated(keep: float = 0.6) -> Callable[[Reply], Reply]:
    """The real answer cut after `keep` of its characters, sent whole (a shorter, well-framed body)."""
    return lambda real: replace(real, body=real.body[: int(len(real.body) * keep)])


def cut_short(keep: float = 0.6) -> Callable[[Reply], Reply]:
    """The real answer's headers, then `keep` of its body, then the connection closes."""
    return lambda real: replace(real, send_bytes=int(len(real.body.encode()) * keep))


def stalls(seconds: float, keep: float = 0.5) -> Callable[[Reply], Reply]:
    """The real answer's headers and `keep` of its body, then nothing for `seconds`."""
    return lambda real: replace(real, send_bytes=int(len(real.body.encode()) * keep), stall=seconds)


class FakeFred:
    """Serve `series` ({id: [(ISO date, value text)]}; '' is a missing value) on 127.0.0.1."""

    def __init__(
        self,
        series: dict[str, list[tuple[str, str]]],
        *,
        api_key: str = API_KEY,
        # Only a bound for a test that never leaves the block (the block's end stops it): long
        # enough that a slow, shared machine never stops a server under a running test.
        lifetime: float = 120.0,
        max_requests: int = 500,
    ):
        self.series = series
        self.api_key = api_key
        self.lifetime = lifetime
        self.max_requests = max_requests
        self.scripts: dict[str, list[Scripted]] = {}
        self.requests: list[dict] = []  # {'path', 'params'} of every request, in order
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- scripting --------------------------------------------------------------------------------

    def script(self, series_id: str, *replies: Scripted) -> None:
        """Answer the next requests for `series_id` with these replies, then normally."""
        self.scripts.setdefault(series_id, []).extend(replies)

    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first (use it as a context manager)"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def requests_for(self, series_id: str) -> list[dict]:
        return [
            r
            for r in self.requests
            if series_id in (r["params"].get("series_id"), r["params"].get("id"))
        ]

    # -- lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> FakeFred:
        fake = self

        class Handler(BaseHTTPRequestHandler):
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
                    if reply.send_bytes is None:
                        self.wfile.write(body)
                        return
                    self.wfile.write(body[: reply.send_bytes])
                    self.wfile.flush()
                    if not reply.stall or fake._stopped.wait(reply.stall):
                        self.close_connection = True  # hang up with the body unfinished
                        return
                    self.wfile.write(body[reply.send_bytes :])
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            def log_message(self, format: str, *args) -> None:  # noqa: A002 - keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
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
        with self._lock:
            self.requests.append({"path": parts.path, "params": params})
            if len(self.requests) > self.max_requests:
                return Reply(503, "the fake FRED has answered enough requests for one test")
            series_id = params.get("series_id") or params.get("id") or ""
            script = self.scripts.get(series_id)
            scripted = script.pop(0) if script else None
        if parts.path == "/fred/series/observations":
            return self._api(params, scripted)
        if parts.path == "/graph/fredgraph.csv":
            return self._csv(params, scripted)
        return Reply(404, "<html><body>Not Found</body></html>", content_type="text/html")

    def _rows(self, series_id: str, start: str | None) -> list[tuple[str, str]]:
        first = dt.date.fromisoformat(start) if start else dt.date.min
        return [(d, v) for d, v in self.series[series_id] if dt.date.fromisoformat(d) >= first]

    def _api(self, params: dict, scripted: Scripted | None) -> Reply:
        xml = "text/xml; charset=UTF-8"
        key = params.get("api_key", "")
        if len(key) != 32 or not key.isalnum() or key.lower() != key:
            return Reply(400, error_xml(400, KEY_MALFORMED), content_type=xml)
        if key != self.api_key:
            return Reply(400, error_xml(400, KEY_UNREGISTERED), content_type=xml)
        if isinstance(scripted, Reply):
            return scripted
        real = self._api_answer(params)
        return scripted(real) if scripted is not None else real

    def _api_answer(self, params: dict) -> Reply:
        xml = "text/xml; charset=UTF-8"
        series_id = params.get("series_id", "")
        if series_id not in self.series:
            return Reply(400, error_xml(400, SERIES_MISSING), content_type=xml)
        rows = self._rows(series_id, params.get("observation_start"))
        lines = [
            '<?xml version="1.0" encoding="utf-8" ?>',
            f'<observations realtime_start="{REALTIME}" realtime_end="{REALTIME}" '
            f'observation_start="{params.get("observation_start", "1600-01-01")}" '
            'observation_end="9999-12-31" units="lin" output_type="1" file_type="xml" '
            f'order_by="observation_date" sort_order="asc" count="{len(rows)}" offset="0" '
            'limit="100000">',
            *(
                f'  <observation realtime_start="{REALTIME}" realtime_end="{REALTIME}" '
                f'date="{d}" value="{v or "."}"/>'
                for d, v in rows
            ),
            "</observations>",
        ]
        return Reply(200, "\n".join(lines) + "\n", content_type=xml)

    def _csv(self, params: dict, scripted: Scripted | None) -> Reply:
        if isinstance(scripted, Reply):
            return scripted
        real = self._csv_answer(params)
        return scripted(real) if scripted is not None else real

    def _csv_answer(self, params: dict) -> Reply:
        series_id = params.get("id", "")
        if series_id not in self.series:
            return Reply(
                404,
                "<!DOCTYPE html><html><head><title>Error - FRED</title></head>"
                "<body>Series not found</body></html>",
                content_type="text/html",
            )
        rows = self._rows(series_id, params.get("cosd"))
        text = f"observation_date,{series_id}\n" + "".join(f"{d},{v}\n" for d, v in rows)
        return Reply(200, text, content_type="text/csv")
