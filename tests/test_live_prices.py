"""The live price path end to end: yfinance 1.7's own `download`, over HTTP, against a fake Yahoo.

The fake (tests/yahoo_fake.py) listens on 127.0.0.1 and answers Yahoo's v8 chart API in its real
format; LiveSource routes yfinance's requests to it with `base_url`. Faults are scripted per chart
request: HTTP 5xx, 429, a reply slower than the timeout, an empty result, rows outside the range.
"""

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import curl_cffi.requests
import pytest
import yfinance
import yfinance.cache
import yfinance.data

from tests.yahoo_fake import Bar, FakeYahoo, Reply, empty_result, rate_limited, server_error, slow, spill
from warehouse.sources import live
from warehouse.sources.live import LiveSource, forget_cached_answers, reshape, yahoo_session

START, END = dt.date(2024, 1, 2), dt.date(2024, 1, 4)
ASKED = "asking for 2024-01-02 to 2024-01-04 inclusive"
DAYS = ["2023-12-28", "2023-12-29", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]
CLOSES = {
    "IWM": [202.5, 200.7, 199.0, 196.0, 197.5, 197.9, 200.1],
    "SPY": [476.7, 475.3, 472.7, 468.8, 467.3, 467.9, 474.6],
}


def bars_of(symbol):
    return [
        Bar(day, close - 1, close + 1, close - 2, close, round(close * 0.99, 4), 1_000_000 + 1000 * i)
        for i, (day, close) in enumerate(zip(DAYS, CLOSES[symbol], strict=True))
    ]


BARS = {symbol: bars_of(symbol) for symbol in CLOSES}


def expected_rows(symbol, start=START, end=END):
    """The rows the source should return, read straight from what the fake serves."""
    return [
        (symbol, dt.date.fromisoformat(b.day), b.open, b.high, b.low, b.close, b.adjclose, float(b.volume))
        for b in BARS[symbol]
        if start <= dt.date.fromisoformat(b.day) <= end
    ]


def rows(batch, symbol):
    frame = batch.bars[batch.bars["ticker"] == symbol]
    return [tuple(r) for r in frame.itertuples(index=False)]


class Sleeps:
    """An injected sleep: records each wait and how many chart requests had reached the fake by then."""

    def __init__(self, fake, symbol):
        self.fake, self.symbol = fake, symbol
        self.calls: list[float] = []
        self.requests_before: list[int] = []

    def __call__(self, seconds):
        self.calls.append(seconds)
        self.requests_before.append(len(self.fake.chart_requests(self.symbol)))

    def per_attempt(self):
        """Chart requests for the symbol in each attempt."""
        marks = [0, *self.requests_before, len(self.fake.chart_requests(self.symbol))]
        return [b - a for a, b in zip(marks, marks[1:], strict=False)]


@pytest.fixture
def yahoo(monkeypatch):
    """The fake Yahoo, with yfinance's on-disk caches and process-wide client state kept out of the test."""
    monkeypatch.setattr(yfinance.cache._TzCacheManager, "_tz_cache", yfinance.cache._TzCacheDummy())
    monkeypatch.setattr(yfinance.cache._CookieCacheManager, "_Cookie_cache", yfinance.cache._CookieCacheDummy())
    monkeypatch.delitem(yfinance.data.SingletonMeta._instances, yfinance.data.YfData, raising=False)
    forget_cached_answers()
    with FakeYahoo(BARS) as fake:
        yield fake
    forget_cached_answers()


def source(fake, sleep=None, **options):
    options.setdefault("timeout", 2.0)
    options.setdefault("base_delay", 1.0)
    options.setdefault("jitter", lambda: 1.0)  # the backoff at its ceiling: base_delay * 2**(attempt-1)
    return LiveSource(base_url=fake.url, sleep=sleep or (lambda s: None), **options)


def midnight_new_york(day):
    return int(dt.datetime.combine(day, dt.time(0), ZoneInfo("America/New_York")).timestamp())


def test_bars_land_exactly_and_the_request_asks_for_the_inclusive_range(yahoo):
    batch = source(yahoo).daily_bars(["IWM", "SPY"], START, END)
    assert batch.failed == {} and batch.notes == []
    assert rows(batch, "IWM") == expected_rows("IWM")
    assert rows(batch, "SPY") == expected_rows("SPY")
    # The last bar of the answer is stamped 16:00 New York and still lands on its own session.
    assert rows(batch, "SPY")[-1][1] == END
    # yfinance asks for [midnight of start, midnight after end) in New York.
    (ranged,) = [r for r in yahoo.chart_requests("SPY") if "period1" in r["params"]]
    assert int(ranged["params"]["period1"]) == midnight_new_york(START)
    assert int(ranged["params"]["period2"]) == midnight_new_york(END + dt.timedelta(days=1))
    assert ranged["params"]["interval"] == "1d"


def test_download_frame_has_the_yfinance_17_shape(yahoo):
    frame = yfinance.download(["IWM", "SPY"], start="2024-01-02", end="2024-01-05", auto_adjust=False,
                              progress=False, threads=False, session=yahoo_session(yahoo.url, 2.0))
    assert frame.columns.names == ["Price", "Ticker"]
    assert frame.index.tz is None  # ignore_tz=True for daily bars
    long = reshape(frame)
    assert [tuple(r) for r in long.itertuples(index=False)] == expected_rows("IWM") + expected_rows("SPY")


def test_rows_outside_the_requested_dates_are_dropped(yahoo):
    yahoo.script("IWM", spill(before=2, after=2))
    batch = source(yahoo).daily_bars(["IWM"], START, END)
    assert rows(batch, "IWM") == expected_rows("IWM")
    assert batch.failed == {}
    # Yahoo really sent them: the answer held two sessions on each side of the range.
    assert any(n.startswith("dropped") and n.endswith("outside 2024-01-02 to 2024-01-04 inclusive")
               for n in batch.notes)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_is_retried_and_the_retry_loads(yahoo, status):
    yahoo.script("SPY", server_error(status), server_error(status))  # the first attempt, both of yfinance's tries
    sleeps = Sleeps(yahoo, "SPY")
    batch = source(yahoo, sleeps).daily_bars(["IWM", "SPY"], START, END)
    assert batch.failed == {}
    assert rows(batch, "SPY") == expected_rows("SPY")
    assert sleeps.calls == [1.0]
    (note,) = batch.notes
    assert f"HTTP {status} from Yahoo" in note and "attempt 2 of 4" in note and ASKED in note
    assert "delisted" not in note
    assert all(n > 0 for n in sleeps.per_attempt())  # the retry reached the server


def test_persistent_server_errors_are_named_and_every_attempt_reaches_the_server(yahoo):
    yahoo.script("SPY", *[server_error(503)] * 40)
    sleeps = Sleeps(yahoo, "SPY")
    batch = source(yahoo, sleeps, max_attempts=3).daily_bars(["SPY", "IWM"], START, END)
    assert rows(batch, "IWM") == expected_rows("IWM")
    assert batch.failed == {"SPY": f"HTTP 503 from Yahoo after 3 attempts, {ASKED}"}
    # Exponential: base_delay * 2**(attempt-1) after attempts 1 and 2, nothing after the last.
    assert sleeps.calls == [1.0, 2.0]
    attempts = sleeps.per_attempt()
    assert len(attempts) == 3 and all(n > 0 for n in attempts), attempts


def test_without_clearing_yfinance_cache_a_retry_never_reaches_the_server(yahoo, monkeypatch):
    # The control for the test above: the same run with yfinance's cache left alone. The retry is
    # answered from memory, Yahoo is not asked, and all that is left is yfinance's "delisted".
    monkeypatch.setattr(live, "forget_cached_answers", lambda: None)
    yahoo.script("SPY", *[server_error(503)] * 40)
    sleeps = Sleeps(yahoo, "SPY")
    batch = source(yahoo, sleeps, max_attempts=3).daily_bars(["SPY"], START, END)
    first, retry = sleeps.per_attempt()
    assert first > 0 and retry == 0
    assert "possibly delisted" in batch.failed["SPY"]


def test_yfinance_answers_a_repeated_range_from_its_process_cache(yahoo, caplog):
    # What the source works around, seen with yfinance alone: a 503 reads as "possibly delisted",
    # and the same download again sends no request at all until the cache is cleared.
    caplog.set_level(logging.ERROR, logger="yfinance")
    yahoo.script("SPY", server_error(503), server_error(503))
    options = dict(start="2024-01-02", end="2024-01-05", auto_adjust=False, progress=False, threads=False,
                   session=yahoo_session(yahoo.url, 2.0))
    assert yfinance.download("SPY", **options).dropna().empty
    assert "possibly delisted" in caplog.text
    sent = len(yahoo.chart_requests("SPY"))
    assert yfinance.download("SPY", **options).dropna().empty
    assert len(yahoo.chart_requests("SPY")) == sent
    forget_cached_answers()
    assert len(yfinance.download("SPY", **options).dropna()) == 3
    assert len(yahoo.chart_requests("SPY")) > sent


def test_a_rate_limit_is_retried_honouring_retry_after_within_the_cap(yahoo):
    yahoo.script("SPY", rate_limited("7"), rate_limited("7"), rate_limited("600"), rate_limited("600"))
    sleeps = Sleeps(yahoo, "SPY")
    batch = source(yahoo, sleeps, max_delay=20.0).daily_bars(["SPY"], START, END)
    assert rows(batch, "SPY") == expected_rows("SPY") and batch.failed == {}
    assert sleeps.calls == [7.0, 20.0]
    assert all("HTTP 429 from Yahoo (rate limited)" in n for n in batch.notes)


def test_a_rate_limit_that_never_ends_is_bounded(yahoo):
    yahoo.script("SPY", *[rate_limited()] * 40)
    batch = source(yahoo, max_attempts=2).daily_bars(["SPY", "IWM"], START, END)
    assert batch.tickers == ["IWM"]
    assert batch.failed == {"SPY": f"HTTP 429 from Yahoo (rate limited) after 2 attempts, {ASKED}"}


def test_a_timeout_is_retried_and_the_retry_loads(yahoo):
    yahoo.script("IWM", slow(5.0))
    sleeps = Sleeps(yahoo, "IWM")
    batch = source(yahoo, sleeps, timeout=0.3).daily_bars(["IWM"], START, END)
    assert rows(batch, "IWM") == expected_rows("IWM") and batch.failed == {}
    (note,) = batch.notes
    assert "no answer from Yahoo within 0.3s (timed out)" in note and "delisted" not in note


def test_a_server_that_never_answers_in_time_fails_with_the_timeout_named(yahoo):
    yahoo.script("IWM", *[slow(5.0)] * 4)
    batch = source(yahoo, timeout=0.3, max_attempts=2).daily_bars(["IWM"], START, END)
    assert batch.failed == {"IWM": f"no answer from Yahoo within 0.3s (timed out) after 2 attempts, {ASKED}"}


def test_a_malformed_answer_is_retried_and_the_retry_loads(yahoo):
    cut = Reply(200, '{"chart":{"result":[{"meta":{"currency":"USD","symbol":"IWM","exchangeName":"PCX"')
    yahoo.script("IWM", cut)  # a 200 is not asked again by yfinance: one answer per attempt
    batch = source(yahoo).daily_bars(["IWM"], START, END)
    assert rows(batch, "IWM") == expected_rows("IWM") and batch.failed == {}
    (note,) = batch.notes
    assert "a malformed answer from Yahoo, not chart JSON (it starts with '{\"chart\"" in note


def test_an_unknown_symbol_is_named_and_not_retried(yahoo):
    sleeps = Sleeps(yahoo, "ZZZZ")
    batch = source(yahoo, sleeps).daily_bars(["IWM", "ZZZZ", "SPY"], START, END)
    assert batch.tickers == ["IWM", "SPY"]
    assert batch.failed == {
        "ZZZZ": f"Yahoo does not know this symbol (HTTP 404 Not Found: No data found, symbol may be delisted), {ASKED}"
    }
    assert sleeps.calls == []


def test_an_empty_answer_is_reported_as_such_and_not_retried(yahoo):
    yahoo.script("IWM", empty_result)
    sleeps = Sleeps(yahoo, "IWM")
    batch = source(yahoo, sleeps).daily_bars(["IWM", "SPY"], START, END)
    assert batch.tickers == ["SPY"]
    assert batch.failed == {"IWM": f"Yahoo answered with no bars, {ASKED}"}
    assert sleeps.calls == []


def test_yfinance_words_are_kept_with_the_inclusive_end_when_yahoo_said_nothing():
    said = {"QQQ": "possibly delisted; no price data found  (1d 2024-01-02 -> 2024-01-05)"}
    why = LiveSource()._why("QQQ", said, {}, START, END)
    assert why.reason == "yfinance: possibly delisted; no price data found  (2024-01-02 to 2024-01-04 inclusive)"
    assert not why.transient


def test_tickers_are_fetched_in_batches(yahoo):
    batch = source(yahoo, batch_size=1).daily_bars(["IWM", "SPY"], START, END)
    assert batch.tickers == ["IWM", "SPY"] and batch.failed == {}


def test_backoff_is_exponential_jittered_and_bounded():
    low = LiveSource(base_delay=1.0, max_delay=5.0, jitter=lambda: 0.0)
    high = LiveSource(base_delay=1.0, max_delay=5.0, jitter=lambda: 1.0)
    assert [low.backoff(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 2.5, 2.5]
    assert [high.backoff(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert high.backoff(1, retry_after=3.0) == 3.0 and high.backoff(1, retry_after=99.0) == 5.0


# -- the test network guard (tests/conftest.py) ----------------------------------------------------


def test_the_guard_refuses_a_curl_cffi_request_to_a_non_loopback_host(_no_network):
    with pytest.raises(OSError, match="test tried to reach the network"):
        curl_cffi.requests.get("https://query2.finance.yahoo.com/v8/finance/chart/IWM", timeout=1)
    assert _no_network.attempts == ["curl URL https://query2.finance.yahoo.com/v8/finance/chart/IWM"]
    _no_network.clear()  # seen: this test's own attempt must not fail it when it ends


def test_the_guard_refuses_a_proxy_outside_loopback(yahoo, _no_network):
    with pytest.raises(OSError, match="test tried to reach the network"):
        curl_cffi.requests.get(f"{yahoo.url}/v1/test/getcrumb", proxy="http://10.1.2.3:3128", timeout=1)
    assert _no_network.attempts == ["curl PROXY http://10.1.2.3:3128"]
    _no_network.clear()


def test_the_guard_catches_what_yfinance_swallows(_no_network, monkeypatch):
    # yfinance turns a refused request into "possibly delisted"; the guard still records it.
    monkeypatch.setattr(yfinance.cache._TzCacheManager, "_tz_cache", yfinance.cache._TzCacheDummy())
    monkeypatch.setattr(yfinance.cache._CookieCacheManager, "_Cookie_cache", yfinance.cache._CookieCacheDummy())
    monkeypatch.delitem(yfinance.data.SingletonMeta._instances, yfinance.data.YfData, raising=False)
    forget_cached_answers()
    frame = yfinance.download("IWM", start="2024-01-02", end="2024-01-05", progress=False, threads=False)
    assert frame.empty
    assert any("query2.finance.yahoo.com/v8/finance/chart/IWM" in a for a in _no_network.attempts)
    _no_network.clear()


def test_without_base_url_the_source_asks_yahoo_itself(_no_network, monkeypatch):
    # The production path: no routing, so the request goes to Yahoo's host, which the guard refuses.
    monkeypatch.setattr(yfinance.cache._TzCacheManager, "_tz_cache", yfinance.cache._TzCacheDummy())
    monkeypatch.setattr(yfinance.cache._CookieCacheManager, "_Cookie_cache", yfinance.cache._CookieCacheDummy())
    monkeypatch.delitem(yfinance.data.SingletonMeta._instances, yfinance.data.YfData, raising=False)
    batch = LiveSource(max_attempts=1).daily_bars(["IWM"], START, END)
    assert batch.failed["IWM"].startswith("no answer from Yahoo: connection failed (OSError: test tried to reach")
    assert batch.failed["IWM"].endswith(f"after 1 attempt, {ASKED}")
    chart = "curl URL https://query2.finance.yahoo.com/v8/finance/chart/IWM?"
    assert any(a.startswith(chart) for a in _no_network.attempts), _no_network.attempts
    _no_network.clear()


def test_the_guard_lets_curl_cffi_reach_loopback(yahoo, _no_network):
    response = curl_cffi.requests.get(f"{yahoo.url}/v1/test/getcrumb", timeout=2)
    assert response.status_code == 200 and _no_network.attempts == []
