"""Network faults while loading: what was loaded is kept, what failed is named with its cause and
keeps what the warehouse held, and the next run fills the gap.

Prices run through the Dagster asset core/prices_daily with the live source pointed at the fake
Yahoo (tests/yahoo_fake.py); rates through core/rates_daily against the fake FRED
(tests/fred_fake.py). Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import functools

import dagster as dg
import duckdb
import pytest
import yfinance
import yfinance.cache
import yfinance.data
from dagster_duckdb import DuckDBResource

import pipelines.defs.resources as resources
import warehouse.sources.rates as rates_sources
from pipelines.defs.ingest.prices import prices_daily
from pipelines.defs.ingest.rates import rates_daily
from pipelines.defs.resources import MarketSourceResource
from tests.faults_helpers import config_copy, universe_toml
from tests.fred_fake import API_KEY, FakeFred
from tests.fred_fake import Reply as FredReply
from tests.fred_fake import server_error as fred_server_error
from tests.fred_fake import slow as fred_slow
from tests.yahoo_fake import Bar, FakeYahoo, empty_result, rate_limited, server_error
from warehouse import calendar
from warehouse.sources.base import open_source
from warehouse.sources.live import LiveSource, forget_cached_answers

TICKERS = ("IWM", "SPY", "QQQ", "DIA", "IJR", "VB")
PARTITION = "2024-01-01"  # January 2024; the run also re-fetches the 10 sessions before it
SESSIONS = calendar.sessions(dt.date(2023, 11, 1), dt.date(2024, 2, 29))
ASKED_FROM = calendar.shift_sessions(dt.date(2024, 1, 2), -10)
ASKED_TO = dt.date(2024, 1, 31)
ATTEMPTS = 3


def bars_of(ticker: str, bump: float = 0.0) -> list[Bar]:
    base = 50.0 + 10 * TICKERS.index(ticker) + bump
    out = []
    for i, day in enumerate(SESSIONS):
        close = round(base + 0.1 * i, 4)
        out.append(Bar(day.isoformat(), close - 0.05, close + 0.5, close - 0.5, close, round(close * 0.98, 4),
                       1_000_000 + i))
    return out


def expected_rows(bars: dict[str, list[Bar]], tickers=TICKERS) -> list[tuple]:
    """The rows a complete run stores, read straight from what the fake serves."""
    return sorted(
        (t, dt.date.fromisoformat(b.day), b.open, b.high, b.low, b.close, b.adjclose, float(b.volume))
        for t in tickers
        for b in bars[t]
        if ASKED_FROM <= dt.date.fromisoformat(b.day) <= ASKED_TO
    )


def stored(db, tickers=TICKERS) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return sorted(
            conn.execute(
                "select ticker, trade_date, open, high, low, close, adj_close, volume from core.prices_daily "
                "where ticker in (select unnest(?::varchar[]))",
                [list(tickers)],
            ).fetchall()
        )


def stored_with_load_times(db, tickers) -> list[tuple]:
    """Every column, loaded_at included: a row left alone keeps it."""
    with duckdb.connect(str(db), read_only=True) as conn:
        return sorted(
            conn.execute(
                "select * from core.prices_daily where ticker in (select unnest(?::varchar[]))", [list(tickers)]
            ).fetchall()
        )


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A universe of TICKERS, a warehouse under tmp_path, yfinance's caches kept out of the test,
    and the live source pointed at whichever fake Yahoo `yahoo_url` names, in batches of 2."""
    monkeypatch.setenv("ROTATION_CONFIG_DIR", str(config_copy(tmp_path / "config", universe=universe_toml(
        TICKERS, pairs=(("IWM", "SPY"),), series=("DFF", "DFEDTARL", "DFEDTARU", "DGS10", "NOSUCHSERIES")))))
    monkeypatch.setenv("ROTATION_SOURCE", "live")
    monkeypatch.setenv("ROTATION_WAREHOUSE", str(tmp_path / "wh.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setattr(yfinance.cache._TzCacheManager, "_tz_cache", yfinance.cache._TzCacheDummy())
    monkeypatch.setattr(yfinance.cache._CookieCacheManager, "_Cookie_cache", yfinance.cache._CookieCacheDummy())
    monkeypatch.delitem(yfinance.data.SingletonMeta._instances, yfinance.data.YfData, raising=False)
    forget_cached_answers()
    state = {"url": None}

    def live_at_the_fake(kind, files_dir=None, **options):
        assert kind == "live"
        return open_source(kind, files_dir, base_url=state["url"], batch_size=2, max_attempts=ATTEMPTS,
                           timeout=2.0, sleep=lambda s: None, **options)

    monkeypatch.setattr(resources, "open_source", live_at_the_fake)
    # The FRED clients' throttle and backoff: no waiting; a short timeout.
    monkeypatch.setattr(rates_sources, "open_rates_source",
                        functools.partial(rates_sources.open_rates_source, sleep=lambda s: None, timeout=0.5,
                                          max_attempts=ATTEMPTS))
    yield state, tmp_path / "wh.duckdb"
    forget_cached_answers()


def load_prices_month(db, fake_url: str, state) -> dg.ExecuteInProcessResult:
    state["url"] = fake_url
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [prices_daily], partition_key=PARTITION, instance=instance, raise_on_error=False,
        resources={"duckdb": DuckDBResource(database=str(db)), "market_source": MarketSourceResource(kind="live")},
    )
    result.logged_by = instance
    return result


def failure_text(result) -> str:
    """The errors of the step's failed attempts, with their causes, as the UI shows them."""
    return "\n".join(
        e.event_specific_data.error.to_string()
        for e in result.all_events
        if e.event_type_value in ("STEP_FAILURE", "STEP_UP_FOR_RETRY")
    )


def meta(result, node="core__prices_daily") -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()}


def logged(result) -> str:
    """Every line the run logged (context.log included), from its instance's event log."""
    return "\n".join(entry.message for entry in result.logged_by.all_logs(result.run_id))


def test_network_lost_half_way_through_a_batch_keeps_the_loaded_and_names_the_failed(env, monkeypatch):
    state, db = env
    old = {t: bars_of(t) for t in TICKERS}
    with FakeYahoo(old) as fake:
        assert load_prices_month(db, fake.url, state).success
    assert stored(db) == expected_rows(old)

    # Yahoo revised every bar (a new adjustment); the network goes down after the first batch of 2.
    new = {t: bars_of(t, bump=1.0) for t in TICKERS}
    down_before = TICKERS[2:]
    held = stored_with_load_times(db, down_before)
    real_download = LiveSource._download
    with FakeYahoo(new) as fake:

        def download(self, tickers, start, end):
            if set(tickers) <= set(down_before):
                fake.stop()  # the connection is refused from now on: the network is gone
            return real_download(self, tickers, start, end)

        monkeypatch.setattr(LiveSource, "_download", download)
        result = load_prices_month(db, fake.url, state)
    assert result.success  # two tickers loaded; the others are named
    loaded = meta(result)
    assert loaded["tickers_loaded"] == 2
    assert sorted(loaded["tickers_failed"]) == sorted(down_before)
    for ticker, why in loaded["tickers_failed"].items():
        assert why.startswith("no answer from Yahoo: connection failed"), (ticker, why)
        assert f"after {ATTEMPTS} attempts, asking for {ASKED_FROM} to {ASKED_TO} inclusive" in why
    text = logged(result)
    for ticker in down_before:
        assert f"{ticker}: not loaded: no answer from Yahoo: connection failed" in text
    # The loaded ones are the new bars; the failed ones hold exactly their rows from before.
    assert stored(db, TICKERS[:2]) == expected_rows(new, TICKERS[:2])
    assert stored_with_load_times(db, down_before) == held
    assert loaded["rows_updated"] == len(expected_rows(new, TICKERS[:2]))

    # The network is back: the next run fills the gap.
    monkeypatch.setattr(LiveSource, "_download", real_download)
    with FakeYahoo(new) as fake:
        result = load_prices_month(db, fake.url, state)
    assert result.success and meta(result)["tickers_failed"] == {}
    assert stored(db) == expected_rows(new)


def test_yahoo_429_storms_5xx_and_empty_answers_keep_what_was_held(env):
    state, db = env
    old = {t: bars_of(t) for t in TICKERS}
    with FakeYahoo(old) as fake:
        assert load_prices_month(db, fake.url, state).success
    new = {t: bars_of(t, bump=2.0) for t in TICKERS}
    failing = ("IWM", "SPY", "QQQ")
    held = stored_with_load_times(db, failing)
    with FakeYahoo(new) as fake:
        fake.script("IWM", *[rate_limited()] * 40)  # a storm longer than the attempts
        fake.script("SPY", *[server_error(503)] * 40)
        fake.script("QQQ", empty_result)
        fake.script("DIA", rate_limited("1"), rate_limited("1"))  # a short storm: the retry loads
        fake.script("IJR", server_error(502), server_error(502))  # one failed attempt: the retry loads
        result = load_prices_month(db, fake.url, state)
    assert result.success
    loaded = meta(result)
    asked = f"asking for {ASKED_FROM} to {ASKED_TO} inclusive"
    assert loaded["tickers_failed"] == {
        "IWM": f"HTTP 429 from Yahoo (rate limited) after {ATTEMPTS} attempts, {asked}",
        "SPY": f"HTTP 503 from Yahoo after {ATTEMPTS} attempts, {asked}",
        "QQQ": f"Yahoo answered with no bars, {asked}",
    }
    assert stored_with_load_times(db, failing) == held
    assert stored(db, ("DIA", "IJR", "VB")) == expected_rows(new, ("DIA", "IJR", "VB"))
    with FakeYahoo(new) as fake:
        result = load_prices_month(db, fake.url, state)
    assert result.success and meta(result)["tickers_failed"] == {}
    assert stored(db) == expected_rows(new)


def test_every_ticker_failing_fails_the_step_and_changes_nothing(env, monkeypatch):
    state, db = env
    # One retry of the asset (it has 2, after 30 s and 60 s), without the wait.
    monkeypatch.setattr(prices_daily.op, "_retry_policy", dg.RetryPolicy(max_retries=1, delay=0))
    old = {t: bars_of(t) for t in TICKERS}
    with FakeYahoo(old) as fake:
        assert load_prices_month(db, fake.url, state).success
    held = stored_with_load_times(db, TICKERS)
    with FakeYahoo(old) as fake:
        for ticker in TICKERS:
            fake.script(ticker, *[server_error(500)] * 40)
        result = load_prices_month(db, fake.url, state)
    assert not result.success
    assert failure_text(result).count(
        f"Failure: No ticker loaded from the live source ({ASKED_FROM} to {ASKED_TO} asked for)."
    ) == 2  # the attempt and its retry
    text = logged(result)
    for ticker in TICKERS:
        assert f"{ticker}: not loaded: HTTP 500 from Yahoo after {ATTEMPTS} attempts" in text
    assert stored_with_load_times(db, TICKERS) == held


# -- FRED -----------------------------------------------------------------------------------------

FRED_DAYS = [dt.date(2025, 11, 3) + dt.timedelta(days=i) for i in range(40)]


def fred_series(upto: int) -> dict[str, list[tuple[str, str]]]:
    """Four series over the first `upto` days of FRED_DAYS (NOSUCHSERIES is unknown to FRED)."""
    days = FRED_DAYS[:upto]
    return {
        "DFF": [(d.isoformat(), f"{3.80 + 0.01 * (i % 5):.2f}") for i, d in enumerate(days)],
        "DFEDTARL": [(d.isoformat(), "3.75") for d in days],
        "DFEDTARU": [(d.isoformat(), "4.00") for d in days],
        "DGS10": [(d.isoformat(), f"{4.10 + 0.01 * (i % 7):.2f}") for i, d in enumerate(days)],
    }


def rates_rows(db, series=None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as conn:
        rows = conn.execute("select * from core.rates_daily order by all").fetchall()
    return [r for r in rows if series is None or r[0] in series]


def expected_rates(series: dict[str, list[tuple[str, str]]], ids) -> list[tuple]:
    return sorted((s, dt.date.fromisoformat(d), float(v)) for s in ids for d, v in series[s])


def load_rates(db, fake) -> dg.ExecuteInProcessResult:
    source = MarketSourceResource(kind="live", fred_api_key=API_KEY, fred_base_url=fake.url)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [rates_daily], instance=instance, raise_on_error=False,
        resources={"duckdb": DuckDBResource(database=str(db)), "market_source": source},
    )
    result.logged_by = instance
    return result


def test_fred_5xx_timeouts_malformed_xml_and_an_unknown_series(env):
    _, db = env
    first = fred_series(20)
    with FakeFred(first) as fake:
        result = load_rates(db, fake)
    assert result.success
    assert meta(result, "core__rates_daily")["series_failed"] == {
        "NOSUCHSERIES": "FRED has no series 'NOSUCHSERIES' (HTTP 400: Bad Request.  The series does not exist.): "
                        "check the id in config/universe.toml [rates] series",
    }
    known = ("DFF", "DFEDTARL", "DFEDTARU", "DGS10")
    assert [r[:3] for r in rates_rows(db)] == expected_rates(first, known)

    later = fred_series(40)
    failing = ("DFF", "DFEDTARL", "DFEDTARU")
    held = rates_rows(db, failing)
    broken = FredReply(200, '<?xml version="1.0" encoding="utf-8" ?>\n<observations realtime_start="2025',
                       content_type="text/xml; charset=UTF-8")
    with FakeFred(later) as fake:
        fake.script("DFF", *[fred_server_error()] * 10)
        fake.script("DFEDTARL", *[fred_slow(3.0)] * 10)
        fake.script("DFEDTARU", *[broken] * 10)
        result = load_rates(db, fake)
    assert result.success  # DGS10 loaded
    failed = meta(result, "core__rates_daily")["series_failed"]
    assert sorted(failed) == ["DFEDTARL", "DFEDTARU", "DFF", "NOSUCHSERIES"]
    where = fake.url.removeprefix("http://")
    assert failed["DFF"] == (f"{where} answered HTTP 500 for DFF: Internal Server Error. "
                             f"(gave up after {ATTEMPTS} attempts)")
    assert failed["DFEDTARL"] == f"{where} did not answer for DFEDTARL within 0.5s (gave up after {ATTEMPTS} attempts)"
    assert failed["DFEDTARU"].startswith(f"{where} answered for DFEDTARU with XML that breaks off")
    assert failed["DFEDTARU"].endswith(f"the answer was cut short (gave up after {ATTEMPTS} attempts)")
    assert "FRED has no series 'NOSUCHSERIES'" in failed["NOSUCHSERIES"]
    # The failed series hold exactly what they held (loaded_at included); DGS10 gained its new days.
    assert rates_rows(db, failing) == held
    assert [r[:3] for r in rates_rows(db, ("DGS10",))] == expected_rates(later, ("DGS10",))

    with FakeFred(later) as fake:
        result = load_rates(db, fake)
    assert result.success and sorted(meta(result, "core__rates_daily")["series_failed"]) == ["NOSUCHSERIES"]
    assert [r[:3] for r in rates_rows(db)] == expected_rates(later, known)


def test_fred_failing_for_every_series_fails_the_step_and_changes_nothing(env, monkeypatch):
    _, db = env
    monkeypatch.setattr(rates_daily.op, "_retry_policy", dg.RetryPolicy(max_retries=1, delay=0))
    first = fred_series(20)
    with FakeFred(first) as fake:
        assert load_rates(db, fake).success
    held = rates_rows(db)
    with FakeFred(fred_series(40)) as fake:
        for series_id in first:
            fake.script(series_id, *[fred_server_error()] * 10)
        result = load_rates(db, fake)
    assert not result.success
    assert failure_text(result).count(
        f"Failure: No FRED series loaded from the live source. DFEDTARL: {fake.url.removeprefix('http://')} "
        "answered HTTP 500 for DFEDTARL: Internal Server Error. (gave up after 3 attempts)"
    ) == 2
    text = logged(result)
    for series_id in first:
        assert f"{series_id}: not loaded: " in text and f"answered HTTP 500 for {series_id}" in text
    assert rates_rows(db) == held
