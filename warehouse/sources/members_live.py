"""Index members from the holdings files iShares publishes on each fund's page.

The download is the file a user gets from the page's Holdings tab:
``<base><page>/1467271812596.ajax?fileType=csv&fileName=<FUND>_holdings&dataType=fund``, the
latest holdings; with ``&asOfDate=YYYYMMDD`` the holdings of a past month end. So each run takes
the latest file (one snapshot per session going forward) and fills the month ends the warehouse
lacks, newest first, back to the first month the download has nothing for (an empty table, a
page without one, HTTP 404), to `earliest`, or `max_months` back. Month ends already held are not
asked for again.

iShares serves the files through a CDN that answers automated clients with HTTP 503 at times:
every request has a timeout, and HTTP 429, 5xx, time-outs and dropped connections are retried a
bounded number of times with exponential backoff (honouring Retry-After); then the index fails
with a message naming the fund and pointing to the files source. A file that names another fund
on its first line, or is dated on a day without an NYSE session, is refused.

ROTATION_ISHARES_URL replaces https://www.ishares.com (a mirror, or a test server).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import time
from collections.abc import Callable, Sequence

import requests

from warehouse import calendar
from warehouse.sources.holding_symbols import SymbolMap, load_symbol_map
from warehouse.sources.holdings_file import FUND_NAMES, HoldingsFileError, normalise_name, parse_holdings
from warehouse.sources.members import MembersBatch, MembersSourceError, Snapshot, Stored, snapshot_from_holdings
from warehouse.universe import IndexSpec

log = logging.getLogger(__name__)

BASE_URL = "https://www.ishares.com"
URL_ENV = "ROTATION_ISHARES_URL"
DOWNLOAD = "1467271812596.ajax"
USER_AGENT = "rotation-warehouse/0.1 (index membership from published fund holdings)"
RETRY_STATUS = {429, 500, 502, 503, 504}
# iShares' funds began publishing holdings in the 2000s: far enough back for every month end.
MAX_MONTHS = 300


def base_url() -> str:
    return os.environ.get(URL_ENV, "").strip().rstrip("/") or BASE_URL


def month_ends_before(day: dt.date, earliest: dt.date) -> list[dt.date]:
    """The last NYSE session of each month before `day`'s month, newest first, down to `earliest`."""
    out = []
    first_of_month = day.replace(day=1)
    while first_of_month > earliest:
        last_day = first_of_month - dt.timedelta(days=1)
        sessions = calendar.sessions(last_day.replace(day=1), last_day)
        if sessions and sessions[-1] >= earliest:
            out.append(sessions[-1])
        first_of_month = last_day.replace(day=1)
    return out


class _Nothing(Exception):
    """The download has no holdings for the day asked for."""


class ISharesMembersSource:
    name = "live"

    def __init__(
        self,
        base: str | None = None,
        *,
        symbols: SymbolMap | None = None,
        earliest: dt.date = dt.date(2000, 1, 1),
        max_months: int = MAX_MONTHS,
        timeout: tuple[float, float] = (10.0, 60.0),
        max_attempts: int = 4,
        base_delay: float = 2.0,
        max_delay: float = 60.0,
        pause: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        session: requests.Session | None = None,
    ):
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.base = (base or base_url()).rstrip("/")
        self._symbols = symbols
        self.earliest = earliest
        self.max_months = max_months
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.pause = pause
        self._sleep = sleep
        self._jitter = jitter
        self._session = session or requests.Session()
        self._session.headers.setdefault("User-Agent", USER_AGENT)
        self.requests = 0  # made by this source, retries included

    def url(self, spec: IndexSpec, as_of: dt.date | None = None) -> str:
        url = f"{self.base}{spec.page}/{DOWNLOAD}?fileType=csv&fileName={spec.fund}_holdings&dataType=fund"
        return url + (f"&asOfDate={as_of:%Y%m%d}" if as_of else "")

    def snapshots(self, indexes: Sequence[IndexSpec], stored: Stored, until: dt.date,
                  start: dt.date | None = None) -> MembersBatch:
        batch = MembersBatch()
        symbols = self._symbols or load_symbol_map()
        earliest = max(self.earliest, start) if start else self.earliest
        for spec in indexes:
            held = set(stored.get(spec.index_id, set()))
            try:
                self._index(spec, held, until, earliest, symbols, batch)
            except MembersSourceError as exc:
                batch.failed[spec.index_id] = str(exc)
                if exc.transient:
                    batch.retry_may_help.add(spec.index_id)
        return batch

    def _index(self, spec: IndexSpec, held: set[dt.date], until: dt.date, earliest: dt.date,
               symbols: SymbolMap, batch: MembersBatch) -> None:
        """The latest snapshot, then the month ends not held, newest first. Snapshots got before a
        failure are kept in `batch`; the failure is raised."""
        try:
            latest = self._snapshot(spec, None, symbols)
        except _Nothing:
            raise MembersSourceError(
                f"{spec.fund} ({spec.index_id}): the latest holdings download of {self.url(spec)} has no "
                f"holdings table. {self._files_hint(spec)}"
            ) from None
        if latest.as_of_date > until:
            batch.notes.append(
                f"{spec.fund}: the latest holdings are of {latest.as_of_date}, a session not completed "
                f"yet (the last completed one is {until}): loaded by a run after its close"
            )
        elif latest.as_of_date not in held:
            batch.snapshots.append(latest)
            held.add(latest.as_of_date)
        asked = 0
        for month_end in month_ends_before(latest.as_of_date, earliest):
            if month_end in held:
                continue
            if asked >= self.max_months:
                batch.notes.append(
                    f"{spec.fund}: backfill stops at {self.max_months} month ends a run; the next run goes on")
                return
            if self.pause:
                self._sleep(self.pause)
            asked += 1
            try:
                snapshot = self._snapshot(spec, month_end, symbols)
            except _Nothing:
                batch.notes.append(
                    f"{spec.fund}: iShares has no holdings of {month_end:%Y-%m}: the backfill ends there")
                return
            if snapshot.as_of_date != month_end:
                batch.notes.append(
                    f"{spec.fund}: asked for the holdings of {month_end}, got {snapshot.as_of_date}: "
                    "the download no longer answers by date; the backfill ends there"
                )
                if snapshot.as_of_date not in held:
                    batch.snapshots.append(snapshot)
                return
            batch.snapshots.append(snapshot)
            held.add(month_end)

    def _snapshot(self, spec: IndexSpec, as_of: dt.date | None, symbols: SymbolMap) -> Snapshot:
        url = self.url(spec, as_of)
        what = f"the holdings of {as_of}" if as_of else "the latest holdings"
        body = self._get(spec, url, what, nothing_on_404=as_of is not None)
        try:
            parsed = parse_holdings(body, url)
        except HoldingsFileError as exc:
            raise MembersSourceError(
                f"{spec.fund} ({spec.index_id}): {what}: {exc}. {self._files_hint(spec)}") from None
        expected = spec.fund_name or FUND_NAMES.get(spec.fund)
        if expected is not None and normalise_name(parsed.fund_name) != normalise_name(expected):
            raise MembersSourceError(
                f"{spec.fund} ({spec.index_id}): {url} answered the holdings of {parsed.fund_name!r}, not "
                f"{expected!r}: check the page of [indexes.{spec.index_id}] in config/universe.toml"
            )
        if parsed.as_of is None or parsed.empty:
            raise _Nothing
        try:
            return snapshot_from_holdings(parsed, spec, symbols)
        except MembersSourceError as exc:
            raise MembersSourceError(f"{spec.fund} ({spec.index_id}): {exc}") from None

    def _get(self, spec: IndexSpec, url: str, what: str, *, nothing_on_404: bool) -> bytes:
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            retry_after = None
            self.requests += 1
            try:
                response = self._session.get(url, timeout=self.timeout)
            except (requests.Timeout, requests.ConnectionError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status == 200:
                    if _looks_like_html(response):
                        # A CDN's challenge or error page served with 200: as good as a 503.
                        last = "an HTML page instead of the holdings file"
                    else:
                        return response.content
                elif status == 404 and nothing_on_404:
                    raise _Nothing
                elif status in RETRY_STATUS:
                    last = f"HTTP {status}"
                    retry_after = _seconds(response.headers.get("Retry-After"))
                else:
                    raise MembersSourceError(
                        f"{spec.fund} ({spec.index_id}): {url} answered HTTP {status} for {what}. "
                        + self._files_hint(spec)
                    )
            if attempt < self.max_attempts:
                delay = self.backoff(attempt, retry_after)
                log.info(f"{spec.fund}: {what}: {last}; retrying in {delay:.1f} s")
                self._sleep(delay)
        raise MembersSourceError(
            f"{spec.fund} ({spec.index_id}): iShares did not deliver {what} ({last} after "
            f"{self.max_attempts} attempts; its CDN turns automated clients away at times). "
            f"{self._files_hint(spec)}",
            transient=True,
        )

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based): what Retry-After asked for,
        else exponential with jitter; capped either way."""
        if retry_after is not None:
            return min(self.max_delay, retry_after)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling * (0.5 + 0.5 * self._jitter())

    def _files_hint(self, spec: IndexSpec) -> str:
        return (
            f"Run again later, or download the holdings file from https://www.ishares.com{spec.page} "
            "(Holdings, Download) and load it with ROTATION_SOURCE=files from ROTATION_FILES_DIR/holdings/"
        )


def _looks_like_html(response: requests.Response) -> bool:
    kind = response.headers.get("Content-Type", "").lower()
    return "html" in kind or response.content.lstrip()[:1] == b"<"


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
