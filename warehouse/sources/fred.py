"""The two live FRED clients: fredapi (with FRED_API_KEY) and the keyless fredgraph CSV download.

Both answer `fetch(series_id, start)` with the same `ParsedSeries`, and both share what fredapi
lacks:
- a timeout on every request (fredapi calls urlopen without one and can hang for ever);
- retries of what is transient (HTTP 429 and 5xx, time-outs, refused or dropped connections, an
  answer cut short, a body that is not what FRED sends: truncated XML or CSV, an HTML page), a
  bounded number of times, with exponential backoff and jitter, honouring Retry-After; then an
  error that names the series and what happened;
- a throttle of at most two requests a second per client (FRED's limit is about 120 a minute);
- errors that name the series and say what to do, and never contain the API key: fredapi puts it
  in every URL, so every message leaving this module is redacted.

`base_url` (ROTATION_FRED_BASE_URL) replaces the scheme and host of both services for a mirror or
a test server: the API is then read at ``<base_url>/fred/...`` and the CSV at
``<base_url>/graph/fredgraph.csv``, the paths FRED itself uses.
"""

from __future__ import annotations

import datetime as dt
import http.client
import logging
import math
import random
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pandas as pd
import requests
from fredapi import Fred

from warehouse.sources.rate_files import FredCsvError, ParsedSeries, parse_fred_csv
from warehouse.sources.rates import RATE_COLUMNS, empty_observations

log = logging.getLogger(__name__)

API_ROOT = "https://api.stlouisfed.org/fred"
CSV_URL = "https://fred.stlouisfed.org/graph/fredgraph.csv"
USER_AGENT = "rotation-warehouse/0.1 (FRED rates ingestion)"
KEY_HELP = (
    "check FRED_API_KEY (your keys: https://fredaccount.stlouisfed.org/apikeys), or unset it to "
    "use FRED's keyless CSV download"
)
KEY_IN_URL = re.compile(r"(api_key=)[^&\s'\"]+", re.I)


def api_root(base_url: str | None) -> str:
    return f"{base_url.rstrip('/')}/fred" if base_url else API_ROOT


def csv_url(base_url: str | None) -> str:
    return f"{base_url.rstrip('/')}/graph/fredgraph.csv" if base_url else CSV_URL


def redact(text: str, secret: str | None) -> str:
    """`text` without the secret, and without any api_key=... query value."""
    if secret:
        text = text.replace(secret, "***")
        quoted = urllib.parse.quote_plus(secret)
        if quoted != secret:
            text = text.replace(quoted, "***")
    return KEY_IN_URL.sub(r"\1***", text)


class FredError(RuntimeError):
    """FRED did not deliver a series. `transient` errors are worth retrying."""

    def __init__(
        self,
        series_id: str,
        message: str,
        *,
        transient: bool = False,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.series_id = series_id
        self.transient = transient
        self.retry_after = retry_after

    def redacted(self, secret: str | None) -> FredError:
        error = type(self)(
            self.series_id,
            redact(str(self), secret),
            transient=self.transient,
            retry_after=self.retry_after,
        )
        return error


class FredSeriesNotFound(FredError):
    """FRED has no series of that id."""


class FredKeyRejected(FredError):
    """FRED refused the API key: no series can load with it, so the run stops asking."""


class Throttle:
    """At most one request per `min_interval` seconds, across the threads of one client."""

    def __init__(
        self,
        min_interval: float = 0.5,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.min_interval = min_interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_allowed = -math.inf

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            if now < self._next_allowed:
                self._sleep(self._next_allowed - now)
                now = self._next_allowed
            self._next_allowed = now + self.min_interval


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (FRED and proxies send seconds; an HTTP date is ignored)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _start_of_body(body: bytes | str) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    first = " ".join(text.strip().split())[:60]
    return f"it starts with {first!r}" if first else "the body is empty"


def _end_of_body(text: str) -> str:
    last = " ".join(text.strip().split())[-40:]
    return f"it ends with {last!r}"


def _attempts(n: int) -> str:
    return f"{n} attempt" if n == 1 else f"{n} attempts"


class _Client:
    """Retries, backoff, throttle and redaction around one `_fetch_once` per attempt."""

    kind = ""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        max_attempts: int = 4,
        base_delay: float = 1.0,
        max_delay: float = 30.0,
        min_interval: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ):
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._jitter = jitter
        self.throttle = Throttle(min_interval, clock=clock, sleep=sleep)
        self._secret: str | None = None

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based): exponential, jittered,
        capped; or what the server asked for in Retry-After, capped too."""
        if retry_after is not None:
            return min(self.max_delay, retry_after)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling * (0.5 + 0.5 * self._jitter())  # "equal jitter": between half and all of it

    def fetch(
        self, series_id: str, start: dt.date | None = None, notes: list[str] | None = None
    ) -> ParsedSeries:
        """The series from `start` on (its whole history for None). Raises FredError."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._fetch_once(series_id, start).since(start)
            except FredError as exc:
                error = exc.redacted(self._secret)
            except Exception as exc:  # noqa: BLE001 - whatever the HTTP stack raised, named and redacted
                error = FredError(series_id, redact(f"{type(exc).__name__}: {exc}", self._secret))
            if not error.transient:
                raise error from None
            if attempt == self.max_attempts:
                raise FredError(
                    series_id, f"{error} (gave up after {_attempts(attempt)})", transient=True
                ) from None
            delay = self.backoff(attempt, error.retry_after)
            message = (
                f"{series_id}: {error}; retrying in {delay:.1f}s "
                f"(attempt {attempt + 1} of {self.max_attempts})"
            )
            log.warning("FRED %s", message)
            if notes is not None:
                notes.append(message)
            self._sleep(delay)
        raise AssertionError("unreachable")

    def _fetch_once(self, series_id: str, start: dt.date | None) -> ParsedSeries:
        raise NotImplementedError

    def _http_error(
        self, series_id: str, status: int, message: str, where: str, retry_after: str | None
    ) -> FredError:
        if status == 429 or status >= 500:
            return FredError(
                series_id,
                f"{where} answered HTTP {status} for {series_id}: {message}",
                transient=True,
                retry_after=_retry_after(retry_after),
            )
        if self.kind == "api" and ("api_key" in message.lower() or status in (401, 403)):
            return FredKeyRejected(
                series_id, f"FRED rejected the API key (HTTP {status}: {message}); {KEY_HELP}"
            )
        if status in (400, 404) and ("does not exist" in message.lower() or self.kind == "csv"):
            return FredSeriesNotFound(
                series_id,
                f"FRED has no series {series_id!r} (HTTP {status}: {message}): check the id in "
                "config/universe.toml [rates] series",
            )
        return FredError(series_id, f"{where} answered HTTP {status} for {series_id}: {message}")


def _network_error(series_id: str, where: str, exc: BaseException, timeout: float) -> FredError:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    inner = exc.args[0] if isinstance(exc, requests.RequestException) and exc.args else None
    if (
        isinstance(reason, TimeoutError)
        or isinstance(exc, requests.Timeout)
        or type(inner).__name__ == "ReadTimeoutError"  # urllib3's, when the body stalls
    ):
        return FredError(
            series_id, f"{where} did not answer for {series_id} within {timeout:g}s", transient=True
        )
    if isinstance(exc, http.client.IncompleteRead | requests.exceptions.ChunkedEncodingError):
        return FredError(
            series_id,
            f"{where} cut its answer for {series_id} short ({type(exc).__name__}: {exc})",
            transient=True,
        )
    return FredError(
        series_id,
        f"cannot reach {where} for {series_id}: {type(reason).__name__}: {reason}",
        transient=True,
    )


class _TimedFred(Fred):
    """fredapi's Fred, every request of which goes through the client's transport.

    fredapi builds the URLs and reads the XML; the transport adds the timeout, the throttle and
    errors that keep FRED's status code (fredapi turns every HTTP error into a bare ValueError).
    """

    def __init__(self, api_key: str, root_url: str, transport: Callable[[str], ET.Element]):
        super().__init__(api_key=api_key)
        self.root_url = root_url
        self._transport = transport

    def _Fred__fetch_data(self, url: str) -> ET.Element:  # replaces fredapi's private fetch
        return self._transport(url)


class FredApiClient(_Client):
    """FRED's API (api.stlouisfed.org, XML) through fredapi; needs an API key."""

    kind = "api"

    def __init__(self, api_key: str, *, base_url: str | None = None, **options):
        if not api_key:
            raise ValueError("the FRED API client needs an API key (FRED_API_KEY)")
        super().__init__(**options)
        self._secret = api_key
        self.root_url = api_root(base_url)
        self.where = urllib.parse.urlsplit(self.root_url).netloc or self.root_url
        self._opener = urllib.request.build_opener()
        self._series: str = ""
        self._fred = _TimedFred(api_key, self.root_url, self._get_xml)

    def __repr__(self) -> str:  # never the key
        return f"FredApiClient(root_url={self.root_url!r})"

    def _get_xml(self, url: str) -> ET.Element:
        series_id = self._series
        request = urllib.request.Request(
            f"{url}&api_key={urllib.parse.quote_plus(self._secret or '')}",
            headers={"User-Agent": USER_AGENT},
        )
        self.throttle.wait()
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            try:
                body = exc.read()
            except (http.client.HTTPException, OSError):  # the error page itself cut short
                body = b""
            message = _xml_error_message(body) or f"{exc.reason} ({_start_of_body(body)})"
            raise self._http_error(
                series_id,
                exc.code,
                message,
                self.where,
                exc.headers.get("Retry-After") if exc.headers else None,
            ) from None
        except (
            urllib.error.URLError,
            TimeoutError,
            ConnectionError,
            http.client.HTTPException,
        ) as exc:
            raise _network_error(series_id, self.where, exc, self.timeout) from None
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise _malformed_xml(series_id, self.where, body, exc) from None
        if root.tag == "error":
            message = root.get("message", "")
            raise self._http_error(
                series_id, int(root.get("code") or 400), message, self.where, None
            )
        if root.tag != "observations":
            raise FredError(
                series_id,
                f"{self.where} answered for {series_id} with <{root.tag}>, not FRED's XML "
                f"of observations ({_start_of_body(body)}): is ROTATION_FRED_BASE_URL right?",
                transient=True,
            )
        return root

    def _fetch_once(self, series_id: str, start: dt.date | None) -> ParsedSeries:
        self._series = series_id
        try:
            values = self._fred.get_series(series_id, observation_start=start)
        except (
            ValueError,
            TypeError,
        ) as exc:  # fredapi reading a value or a date it did not expect
            raise FredError(
                series_id, f"FRED's XML for {series_id} cannot be read: {exc}"
            ) from None
        return _from_series(series_id, values)


def _malformed_xml(series_id: str, where: str, body: bytes, exc: ET.ParseError) -> FredError:
    """A body that does not parse: FRED's XML cut short, or something else (an HTML page)."""
    text = body.decode("utf-8", "replace").lstrip()
    if text.startswith(("<?xml", "<observations")):
        what = f"XML that breaks off ({exc}; {_end_of_body(text)}): the answer was cut short"
    else:
        what = (
            f"something that is not FRED's XML ({_start_of_body(body)}): "
            "is ROTATION_FRED_BASE_URL right?"
        )
    return FredError(series_id, f"{where} answered for {series_id} with {what}", transient=True)


def _xml_error_message(body: bytes) -> str | None:
    """The message of FRED's error XML: <error code="400" message="Bad Request. ..."/>."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    return root.get("message") if root.tag == "error" else None


def _from_series(series_id: str, values: pd.Series) -> ParsedSeries:
    """fredapi's Series (NaN where FRED published '.') as observations plus the missing dates."""
    if values.empty:
        return ParsedSeries(empty_observations(), [], [], "fred api xml")
    dates = [pd.Timestamp(ts).date() for ts in values.index]
    numbers = values.to_numpy(dtype="float64")
    present = ~pd.isna(numbers)
    frame = pd.DataFrame(
        {
            "series_id": series_id,
            "obs_date": [d for d, keep in zip(dates, present, strict=True) if keep],
            "value": numbers[present],
        },
        columns=RATE_COLUMNS,
    )
    missing = [d for d, keep in zip(dates, present, strict=True) if not keep]
    frame = frame.sort_values("obs_date", kind="stable").reset_index(drop=True)
    return ParsedSeries(frame, missing, [], "fred api xml")


class FredCsvClient(_Client):
    """FRED's keyless download, fred.stlouisfed.org/graph/fredgraph.csv?id=<ID>[&cosd=<start>]."""

    kind = "csv"

    def __init__(
        self, *, base_url: str | None = None, session: requests.Session | None = None, **options
    ):
        super().__init__(**options)
        self.url = csv_url(base_url)
        self.where = urllib.parse.urlsplit(self.url).netloc or self.url
        self._session = session or requests.Session()
        self._session.headers.setdefault("User-Agent", USER_AGENT)

    def __repr__(self) -> str:
        return f"FredCsvClient(url={self.url!r})"

    def _fetch_once(self, series_id: str, start: dt.date | None) -> ParsedSeries:
        params = {"id": series_id}
        if start is not None:
            params["cosd"] = start.isoformat()
        origin = f"{self.url}?id={series_id}"
        self.throttle.wait()
        try:
            response = self._session.get(self.url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise _network_error(series_id, self.where, exc, self.timeout) from None
        if response.status_code != 200:
            message = f"{response.reason} ({_start_of_body(response.content)})"
            raise self._http_error(
                series_id,
                response.status_code,
                message,
                self.where,
                response.headers.get("Retry-After"),
            )
        text = response.content.decode("utf-8", "replace")
        try:
            parsed = parse_fred_csv(text, series_id, origin)
        except FredCsvError as exc:  # an HTML page, an error text, another layout
            raise FredError(series_id, str(exc), transient=True) from None
        if not text.endswith("\n"):
            # FRED ends every line of its CSV, the last included: a body that stops mid-line was cut.
            raise FredError(
                series_id,
                f"{self.where} answered for {series_id} with a CSV that breaks off mid-line "
                f"({_end_of_body(text)}): the answer was cut short",
                transient=True,
            )
        return parsed
