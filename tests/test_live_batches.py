"""The live source spreads an index's members over Yahoo in batches of `[prices] batch_size`, with
`batch_pause_seconds` between them, against the local fake Yahoo (tests/yahoo_fake.py).

Each test here fails if the batch size were ignored: it counts the tickers of every yf.download
call, or the chart requests the fake had received when each pause began.
"""

import datetime as dt
import re

import dagster as dg
import duckdb
import pytest
import yfinance
import yfinance.cache
import yfinance.data
from dagster_duckdb import DuckDBResource

from pipelines.defs import resources
from pipelines.defs.ingest.prices import prices_daily
from pipelines.defs.resources import MarketSourceResource
from tests.faults_helpers import config_copy
from tests.yahoo_fake import Bar, FakeYahoo, rate_limited
from warehouse.db import ensure_schema
from warehouse.sources.base import open_source
from warehouse.sources.live import LiveSource, forget_cached_answers
from warehouse.universe import UniverseError, load_universe

START, END = dt.date(2024, 1, 2), dt.date(2024, 1, 4)
DAYS = ["2023-12-28", "2023-12-29", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]
SYMBOLS = ["IWM", "SPY", "QQQ", "AAA", "BBB"]


def bars_of(offset):
    return [Bar(day, 99.0 + offset, 101.0 + offset, 98.0 + offset, 100.0 + offset, 99.5 + offset, 1000 + i)
            for i, day in enumerate(DAYS)]


BARS = {symbol: bars_of(i) for i, symbol in enumerate(SYMBOLS)}


def universe_text(batch_size, pause, tickers=("IWM", "SPY", "QQQ")):
    quoted = ", ".join(f'"{t}"' for t in tickers)
    return (f'[history]\nstart = "2020-01-02"\n\n[prices]\nbatch_size = {batch_size}\n'
            f"batch_pause_seconds = {pause}\n\n[prices.groups]\netfs = [{quoted}]\n")


@pytest.fixture
def yahoo(monkeypatch):
    monkeypatch.setattr(yfinance.cache._TzCacheManager, "_tz_cache", yfinance.cache._TzCacheDummy())
    monkeypatch.setattr(yfinance.cache._CookieCacheManager, "_Cookie_cache", yfinance.cache._CookieCacheDummy())
    monkeypatch.delitem(yfinance.data.SingletonMeta._instances, yfinance.data.YfData, raising=False)
    forget_cached_answers()
    with FakeYahoo(BARS) as fake:
        yield fake
    forget_cached_answers()


@pytest.fixture
def calls(monkeypatch):
    """The tickers of every yf.download call, in order."""
    seen: list[list[str]] = []
    real = yfinance.download

    def download(tickers, *args, **kwargs):
        seen.append(list(tickers))
        return real(tickers, *args, **kwargs)

    monkeypatch.setattr(yfinance, "download", download)
    return seen


def configured(monkeypatch, tmp_path, batch_size, pause, **kwargs):
    monkeypatch.setenv("ROTATION_CONFIG_DIR", str(config_copy(tmp_path / "config",
                                                              universe=universe_text(batch_size, pause, **kwargs))))


class Pauses:
    """An injected sleep: each wait, and how many ranged chart requests had reached the fake then."""

    def __init__(self, fake):
        self.fake = fake
        self.seconds: list[float] = []
        self.requests_before: list[int] = []

    def __call__(self, seconds):
        self.seconds.append(seconds)
        self.requests_before.append(len([r for r in self.fake.chart_requests() if "period1" in r["params"]]))


# -- the configuration ------------------------------------------------------------------------------


def test_the_batch_settings_are_read_from_universe_toml(tmp_path):
    path = tmp_path / "universe.toml"
    path.write_text(universe_text(7, 0.5))
    universe = load_universe(path)
    assert (universe.batch_size, universe.batch_pause_seconds) == (7, 0.5)
    shipped = load_universe()
    assert (shipped.batch_size, shipped.batch_pause_seconds) == (100, 2.0)


@pytest.mark.parametrize(("size", "pause", "named"), [
    (0, 1, "batch_size must be a whole number of tickers from 1 to 1000, got 0"),
    ('"50"', 1, "batch_size must be a whole number of tickers from 1 to 1000, got '50'"),
    (50, -1, "batch_pause_seconds must be a number of seconds from 0 to 600, got -1"),
])
def test_bad_batch_settings_are_refused_with_the_line_named(tmp_path, size, pause, named):
    path = tmp_path / "universe.toml"
    path.write_text(universe_text(size, pause))
    # [history] 1, start 2, blank 3, [prices] 4, batch_size 5, batch_pause_seconds 6
    line = 5 if "batch_size" in named else 6
    with pytest.raises(UniverseError, match=re.escape(f"{path} line {line}: [prices] {named}")):
        load_universe(path)


def test_the_live_source_takes_its_batches_from_the_config(tmp_path, monkeypatch):
    configured(monkeypatch, tmp_path, 3, 0.25)
    source = open_source("live")
    assert (source.batch_size, source.batch_pause) == (3, 0.25)
    # an explicit argument still wins (tests, the benchmark)
    assert LiveSource(batch_size=9).batch_size == 9


# -- the batches on the wire ------------------------------------------------------------------------


def test_each_download_call_asks_for_at_most_batch_size_tickers(yahoo, calls, tmp_path, monkeypatch):
    configured(monkeypatch, tmp_path, 2, 0.0)
    batch = LiveSource(base_url=yahoo.url, timeout=2.0, sleep=lambda s: None).daily_bars(SYMBOLS, START, END)
    assert calls == [["IWM", "SPY"], ["QQQ", "AAA"], ["BBB"]]
    assert batch.failed == {} and batch.tickers == sorted(SYMBOLS)
    # one chart request per ticker and range, whatever the batching
    ranged = [r["symbol"] for r in yahoo.chart_requests() if "period1" in r["params"]]
    assert sorted(ranged) == sorted(SYMBOLS)


def test_the_pause_falls_between_batches(yahoo, tmp_path, monkeypatch):
    configured(monkeypatch, tmp_path, 2, 1.5)
    pauses = Pauses(yahoo)
    LiveSource(base_url=yahoo.url, timeout=2.0, sleep=pauses).daily_bars(SYMBOLS, START, END)
    # 5 tickers in batches of 2: a pause after the 2nd and the 4th request, none after the last
    assert pauses.seconds == [1.5, 1.5]
    assert pauses.requests_before == [2, 4]


def test_after_a_rate_limit_the_next_batch_waits_at_least_the_backoff(yahoo, tmp_path, monkeypatch):
    configured(monkeypatch, tmp_path, 2, 1.0)
    yahoo.script("SPY", rate_limited("7"), rate_limited("7"))  # its time-zone lookup, then its range
    pauses = Pauses(yahoo)
    batch = LiveSource(base_url=yahoo.url, timeout=2.0, sleep=pauses, jitter=lambda: 1.0).daily_bars(
        SYMBOLS, START, END)
    assert batch.failed == {} and batch.tickers == sorted(SYMBOLS)
    # SPY's retry waits Retry-After (7 s); the pause before the next batch is then 7 s, not 1 s;
    # the batch after that is back to the configured pause.
    assert pauses.seconds == [7.0, 7.0, 1.0]
    # Ranged requests by then: IWM's alone (yfinance gave up on SPY at its refused time-zone
    # lookup), then SPY's retried one, then QQQ's and AAA's.
    assert pauses.requests_before == [1, 2, 4]


def test_a_rate_limit_that_outlasts_the_attempts_names_the_ticker_and_the_rest_load(yahoo, tmp_path, monkeypatch):
    configured(monkeypatch, tmp_path, 2, 0.0)
    yahoo.script("AAA", *[rate_limited()] * 10)
    batch = LiveSource(base_url=yahoo.url, timeout=2.0, sleep=lambda s: None, max_attempts=2).daily_bars(
        SYMBOLS, START, END)
    assert batch.failed == {
        "AAA": "HTTP 429 from Yahoo (rate limited) after 2 attempts, asking for 2024-01-02 to 2024-01-04 inclusive"
    }
    assert batch.tickers == ["BBB", "IWM", "QQQ", "SPY"]


# -- through the prices asset -----------------------------------------------------------------------


def test_the_prices_asset_honours_the_batch_size_and_names_an_unknown_member(yahoo, calls, tmp_path, monkeypatch):
    configured(monkeypatch, tmp_path, 2, 0.0)
    monkeypatch.setattr(resources, "open_source", lambda kind, files_dir=None, **o: open_source(
        kind, files_dir, base_url=yahoo.url, timeout=2.0, sleep=lambda s: None, **o))
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as conn:
        ensure_schema(conn)
        conn.execute(
            "insert into core.index_members (index_id, as_of_date, ticker, holding_ticker, source, loaded_at) "
            "values ('russell_2000', date '2024-01-05', 'AAA', 'AAA', 'test', now()), "
            "('russell_2000', date '2024-01-05', 'ZZZZ', 'ZZZZ', 'test', now())"
        )
    result = dg.materialize(
        [prices_daily], partition_key="2024-01-01", instance=dg.DagsterInstance.ephemeral(),
        resources={"duckdb": DuckDBResource(database=str(db)), "market_source": MarketSourceResource(kind="live")},
    )
    assert result.success
    # the configured three over the run's range, then the two new members from their own start
    assert calls == [["IWM", "SPY"], ["QQQ"], ["AAA", "ZZZZ"]]
    (mat,) = result.asset_materializations_for_node("core__prices_daily")
    meta = mat.metadata
    assert meta["members_backfilled"].value == 1
    assert list(meta["members_failed"].value) == ["ZZZZ"]
    assert meta["members_failed"].value["ZZZZ"].startswith("Yahoo does not know this symbol (HTTP 404 Not Found")
    with duckdb.connect(str(db), read_only=True) as conn:
        got = conn.execute("select ticker, count(*) from core.prices_daily group by ticker order by ticker").fetchall()
    # the fake serves 7 sessions of each: the run asks from 2023-12-15 and AAA from 2023-01
    assert got == [("AAA", 7), ("IWM", 7), ("QQQ", 7), ("SPY", 7)]


def test_a_second_call_right_after_the_first_waits_the_pause_too(yahoo, tmp_path, monkeypatch):
    configured(monkeypatch, tmp_path, 2, 30.0)
    pauses = Pauses(yahoo)
    source = LiveSource(base_url=yahoo.url, timeout=2.0, sleep=pauses)
    source.daily_bars(["IWM", "SPY"], START, END)
    assert pauses.seconds == []  # one batch: nothing to wait for
    source.daily_bars(["QQQ"], START, END)  # the prices asset's next range (a new member's start)
    # What is left of the 30 s pause after the first call's batch: the calls follow each other at once
    (waited,) = pauses.seconds
    assert 25.0 < waited <= 30.0
    assert pauses.requests_before == [2]
