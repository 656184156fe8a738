"""The live FRED clients against a fake FRED on 127.0.0.1: fredapi (XML API) and the keyless CSV."""

import datetime as dt
import logging
import socket
import traceback

import pytest

from tests.fred_fake import (
    API_KEY,
    FakeFred,
    Reply,
    cut_short,
    rate_limited,
    server_error,
    slow,
    stalls,
    truncated,
)
from warehouse.sources.fred import (
    FredApiClient,
    FredCsvClient,
    FredError,
    FredKeyRejected,
    FredSeriesNotFound,
    Throttle,
    redact,
)
from warehouse.sources.rates import open_rates_source

DFF = [
    ("2024-09-16", "5.33"),
    ("2024-09-17", "5.33"),
    ("2024-09-18", ""),
    ("2024-09-19", "4.83"),
    ("2024-09-20", "4.83"),
]
DGS10 = [("2024-09-19", "3.73"), ("2024-09-20", "3.74"), ("2024-09-23", "")]
SERIES = {"DFF": DFF, "DGS10": DGS10}


class Sleeps:
    """An injected sleep: records every wait and advances a fake clock instead of waiting."""

    def __init__(self):
        self.calls: list[float] = []
        self.now = 1000.0

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def fake():
    with FakeFred(SERIES) as server:
        yield server


@pytest.fixture
def sleeps():
    return Sleeps()


def api(fake, sleeps, **options):
    options.setdefault("timeout", 2.0)
    return FredApiClient(
        API_KEY, base_url=fake.url, sleep=sleeps, clock=sleeps.clock, jitter=lambda: 1.0, **options
    )


def keyless(fake, sleeps, **options):
    options.setdefault("timeout", 2.0)
    return FredCsvClient(
        base_url=fake.url, sleep=sleeps, clock=sleeps.clock, jitter=lambda: 1.0, **options
    )


def as_pairs(parsed):
    return [
        (d.isoformat(), v)
        for d, v in zip(parsed.observations["obs_date"], parsed.observations["value"], strict=True)
    ]


@pytest.mark.parametrize("make", [api, keyless], ids=["fredapi", "keyless-csv"])
def test_missing_values_become_no_row_and_are_counted(fake, sleeps, make):
    parsed = make(fake, sleeps).fetch("DFF")
    assert as_pairs(parsed) == [
        ("2024-09-16", 5.33),
        ("2024-09-17", 5.33),
        ("2024-09-19", 4.83),
        ("2024-09-20", 4.83),
    ]
    assert parsed.missing_dates == [dt.date(2024, 9, 18)]
    assert set(parsed.observations["series_id"]) == {"DFF"}


def test_the_api_client_sends_the_key_and_the_start_the_way_fred_wants(fake, sleeps):
    parsed = api(fake, sleeps).fetch("DFF", dt.date(2024, 9, 19))
    assert as_pairs(parsed) == [("2024-09-19", 4.83), ("2024-09-20", 4.83)]
    (request,) = fake.requests
    assert request["path"] == "/fred/series/observations"
    assert request["params"] == {
        "series_id": "DFF",
        "observation_start": "2024-09-19",
        "api_key": API_KEY,
    }


def test_the_keyless_client_asks_fredgraph_with_cosd(fake, sleeps):
    parsed = keyless(fake, sleeps).fetch("DGS10", dt.date(2024, 9, 20))
    assert as_pairs(parsed) == [("2024-09-20", 3.74)]
    assert parsed.missing_dates == [dt.date(2024, 9, 23)]
    (request,) = fake.requests
    assert request == {
        "path": "/graph/fredgraph.csv",
        "params": {"id": "DGS10", "cosd": "2024-09-20"},
    }


@pytest.mark.parametrize(
    "make,api_format", [(api, True), (keyless, False)], ids=["fredapi", "keyless-csv"]
)
def test_429_then_success_waits_and_loads(fake, sleeps, make, api_format):
    fake.script("DFF", rate_limited(api_format))
    notes: list[str] = []
    parsed = make(fake, sleeps, base_delay=1.0).fetch("DFF", notes=notes)
    assert len(parsed.observations) == 4
    assert len(fake.requests_for("DFF")) == 2
    # Attempt 1 failed: the backoff is base_delay * 2**0 = 1 s (jitter pinned to its maximum).
    assert 1.0 in sleeps.calls
    assert len(notes) == 1 and "HTTP 429" in notes[0] and "attempt 2 of 4" in notes[0]


def test_retry_after_is_honoured_but_capped(fake, sleeps):
    fake.script("DFF", rate_limited(True, retry_after="7"), rate_limited(True, retry_after="600"))
    api(fake, sleeps, max_delay=20.0).fetch("DFF")
    backoffs = [s for s in sleeps.calls if s >= 1.0]
    assert backoffs == [7.0, 20.0]


@pytest.mark.parametrize(
    "make,api_format,status", [(api, True, 500), (keyless, False, 502)], ids=["fredapi", "keyless-csv"]
)
def test_persistent_server_errors_give_up_after_the_attempts(fake, sleeps, make, api_format, status):
    fake.script("DFF", *[server_error(api_format)] * 3)
    with pytest.raises(FredError) as err:
        make(fake, sleeps, max_attempts=3, base_delay=1.0).fetch("DFF")
    where = fake.url.removeprefix("http://")
    assert str(err.value).startswith(f"{where} answered HTTP {status} for DFF: ")
    assert str(err.value).endswith("(gave up after 3 attempts)")
    assert err.value.series_id == "DFF" and err.value.transient
    # Exponential: 1 s after the first failure, 2 s after the second; no wait after the last.
    assert [s for s in sleeps.calls if s >= 1.0] == [1.0, 2.0]
    assert len(fake.requests_for("DFF")) == 3


def test_backoff_is_exponential_jittered_and_bounded():
    low = FredCsvClient(
        base_url="http://127.0.0.1:9", base_delay=1.0, max_delay=5.0, jitter=lambda: 0.0
    )
    high = FredCsvClient(
        base_url="http://127.0.0.1:9", base_delay=1.0, max_delay=5.0, jitter=lambda: 1.0
    )
    assert [low.backoff(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 2.5, 2.5]
    assert [high.backoff(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


@pytest.mark.parametrize("make", [api, keyless], ids=["fredapi", "keyless-csv"])
def test_a_slow_answer_times_out_and_the_retry_loads(fake, sleeps, make):
    fake.script("DFF", slow(5.0))
    notes: list[str] = []
    parsed = make(fake, sleeps, timeout=0.3).fetch("DFF", notes=notes)
    assert len(parsed.observations) == 4
    assert "did not answer for DFF within 0.3s" in notes[0]


def test_a_server_that_never_answers_in_time_fails_with_the_timeout_named(fake, sleeps):
    fake.script("DFF", slow(5.0), slow(5.0))
    with pytest.raises(
        FredError, match=r"did not answer for DFF within 0\.2s \(gave up after 2 attempts\)"
    ):
        api(fake, sleeps, timeout=0.2, max_attempts=2).fetch("DFF")


@pytest.mark.parametrize("make", [api, keyless], ids=["fredapi", "keyless-csv"])
def test_an_unknown_series_is_named_and_not_retried(fake, sleeps, make):
    with pytest.raises(FredSeriesNotFound) as err:
        make(fake, sleeps).fetch("NOSUCH")
    assert "'NOSUCH'" in str(err.value) and "config/universe.toml" in str(err.value)
    assert len(fake.requests_for("NOSUCH")) == 1


@pytest.mark.parametrize(
    "bad_key,fred_says",
    [("zyxwvutsrqponmlkjihgfedcba987654", "not registered"), ("Not-A-Key!", "32 character")],
)
def test_a_rejected_key_says_so_without_the_key(fake, sleeps, caplog, bad_key, fred_says):
    caplog.set_level(logging.DEBUG)
    client = FredApiClient(bad_key, base_url=fake.url, sleep=sleeps, clock=sleeps.clock)
    with pytest.raises(FredKeyRejected) as err:
        client.fetch("DFF")
    text = str(err.value)
    assert "FRED rejected the API key" in text and fred_says in text and "FRED_API_KEY" in text
    assert bad_key not in chain(err.value) and bad_key not in repr(client) and bad_key not in caplog.text
    assert len(fake.requests_for("DFF")) == 1  # not retried
    assert fake.requests_for("DFF")[0]["params"]["api_key"] == bad_key  # it was the key FRED refused


def test_the_live_source_names_failures_and_still_loads_the_other_series(fake, sleeps):
    source = open_rates_source(
        "live", api_key=API_KEY, base_url=fake.url, sleep=sleeps, clock=sleeps.clock
    )
    batch = source.observations(["DFF", "NOSUCH", "DGS10"])
    assert batch.series == ["DFF", "DGS10"]
    assert (
        list(batch.failed) == ["NOSUCH"] and "FRED has no series 'NOSUCH'" in batch.failed["NOSUCH"]
    )
    assert batch.missing_count == 2  # DFF 2024-09-18 and DGS10 2024-09-23
    assert len(batch.observations) == 4 + 2


def test_a_rejected_key_stops_the_run_and_every_series_is_failed_by_name(fake, sleeps):
    bad_key = "zyxwvutsrqponmlkjihgfedcba987654"
    source = open_rates_source(
        "live", api_key=bad_key, base_url=fake.url, sleep=sleeps, clock=sleeps.clock
    )
    batch = source.observations(["DFF", "DGS10"])
    assert sorted(batch.failed) == ["DFF", "DGS10"]
    assert len(fake.requests) == 1  # no point asking again with a key FRED refused
    everything = " ".join([*batch.failed.values(), *batch.notes])
    assert bad_key not in everything and "rejected the API key" in everything


def test_without_a_key_the_live_source_uses_the_keyless_download(fake, sleeps):
    source = open_rates_source("live", base_url=fake.url, sleep=sleeps, clock=sleeps.clock)
    batch = source.observations(["DGS10"], {"DGS10": dt.date(2024, 9, 20)})
    assert batch.failed == {}
    assert fake.requests == [
        {"path": "/graph/fredgraph.csv", "params": {"id": "DGS10", "cosd": "2024-09-20"}}
    ]


MAINTENANCE = Reply(  # HTML, not XML: the <meta> is never closed
    200,
    '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>maintenance</body></html>',
    content_type="text/html",
)
XHTML = Reply(200, "<html><body><p>maintenance</p></body></html>", content_type="text/html")
JAVASCRIPT = Reply(
    200, "<html><body>Please enable JavaScript</body></html>", content_type="text/html"
)


@pytest.mark.parametrize(
    "make,page", [(api, MAINTENANCE), (keyless, JAVASCRIPT)], ids=["fredapi", "keyless-csv"]
)
def test_an_html_page_where_data_was_expected_is_retried_and_the_retry_loads(
    fake, sleeps, make, page
):
    fake.script("DFF", page)
    notes: list[str] = []
    parsed = make(fake, sleeps, base_delay=1.0).fetch("DFF", notes=notes)
    assert len(parsed.observations) == 4
    assert len(fake.requests_for("DFF")) == 2 and 1.0 in sleeps.calls
    assert len(notes) == 1 and notes[0].startswith("DFF: ") and "attempt 2 of 4" in notes[0]


@pytest.mark.parametrize(
    "page,what",
    [
        (MAINTENANCE, "with something that is not FRED's XML (it starts with '<!DOCTYPE html>"),
        (XHTML, "with <html>, not FRED's XML of observations (it starts with '<html>"),
    ],
    ids=["html", "well-formed-html"],
)
def test_html_where_xml_was_expected_is_named_and_keeps_the_key_secret(fake, sleeps, page, what):
    fake.script("DFF", *[page] * 2)
    with pytest.raises(FredError) as err:
        api(fake, sleeps, max_attempts=2).fetch("DFF")
    text = str(err.value)
    assert f"answered for DFF {what}" in text and "ROTATION_FRED_BASE_URL" in text
    assert text.endswith("(gave up after 2 attempts)") and err.value.series_id == "DFF"
    assert API_KEY not in text


def test_html_where_csv_was_expected_is_named(fake, sleeps):
    fake.script("DFF", *[JAVASCRIPT] * 2)
    with pytest.raises(
        FredError, match=r"not a FRED CSV of DFF \(it starts with '<html>.*\(gave up after 2 attempts\)$"
    ):
        keyless(fake, sleeps, max_attempts=2).fetch("DFF")


@pytest.mark.parametrize("make", [api, keyless], ids=["fredapi", "keyless-csv"])
def test_a_truncated_document_is_retried_and_the_retry_loads(fake, sleeps, make):
    fake.script("DFF", truncated(0.6))
    notes: list[str] = []
    parsed = make(fake, sleeps).fetch("DFF", notes=notes)
    assert len(parsed.observations) == 4 and parsed.missing_dates == [dt.date(2024, 9, 18)]
    assert len(notes) == 1 and "the answer was cut short" in notes[0]


@pytest.mark.parametrize(
    "make,what",
    [(api, "with XML that breaks off (unclosed token"), (keyless, "with a CSV that breaks off mid-line")],
    ids=["fredapi", "keyless-csv"],
)
def test_a_document_that_is_always_truncated_is_named_after_the_attempts(fake, sleeps, make, what):
    fake.script("DFF", *[truncated(0.6)] * 3)
    with pytest.raises(FredError) as err:
        make(fake, sleeps, max_attempts=3, base_delay=1.0).fetch("DFF")
    text = str(err.value)
    assert f"answered for DFF {what}" in text and "the answer was cut short" in text
    assert text.endswith("(gave up after 3 attempts)") and err.value.transient
    assert [s for s in sleeps.calls if s >= 1.0] == [1.0, 2.0]
    assert len(fake.requests_for("DFF")) == 3
    assert API_KEY not in text


@pytest.mark.parametrize("make", [api, keyless], ids=["fredapi", "keyless-csv"])
def test_a_connection_closed_mid_body_is_retried_and_named(fake, sleeps, make):
    fake.script("DFF", cut_short(0.5))
    notes: list[str] = []
    parsed = make(fake, sleeps).fetch("DFF", notes=notes)
    assert len(parsed.observations) == 4
    assert len(notes) == 1 and "cut its answer for DFF short" in notes[0]
    assert API_KEY not in notes[0]


@pytest.mark.parametrize("make", [api, keyless], ids=["fredapi", "keyless-csv"])
def test_a_body_that_stalls_times_out_and_the_retry_loads(fake, sleeps, make):
    fake.script("DFF", stalls(5.0))
    notes: list[str] = []
    parsed = make(fake, sleeps, timeout=0.3).fetch("DFF", notes=notes)
    assert len(parsed.observations) == 4
    assert len(notes) == 1 and "did not answer for DFF within 0.3s" in notes[0]


def chain(error: BaseException) -> str:
    """Everything a log or a run record could show of an exception: its text, repr, traceback."""
    seen, text = error, []
    while seen is not None:
        text += [str(seen), repr(seen), *map(str, seen.args)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join([*text, *traceback.format_exception(error)])


@pytest.mark.parametrize(
    "failure",
    [server_error(True), rate_limited(True), slow(5.0), truncated(0.6), cut_short(0.5), MAINTENANCE],
    ids=["500", "429", "timeout", "truncated", "cut-short", "html"],
)
def test_no_failure_of_the_api_client_shows_the_key(fake, sleeps, caplog, failure):
    caplog.set_level(logging.DEBUG)
    fake.script("DFF", *[failure] * 2)
    notes: list[str] = []
    with pytest.raises(FredError) as err:
        api(fake, sleeps, timeout=0.3, max_attempts=2).fetch("DFF", notes=notes)
    assert err.value.series_id == "DFF" and "DFF" in str(err.value)
    assert API_KEY not in chain(err.value)
    assert API_KEY not in caplog.text and API_KEY not in " ".join(notes)
    assert caplog.text  # the retry was logged, without the key


def test_the_live_source_reports_a_malformed_series_by_name_and_loads_the_others(fake, sleeps):
    fake.script("DFF", *[truncated(0.6)] * 4)
    source = open_rates_source(
        "live", api_key=API_KEY, base_url=fake.url, sleep=sleeps, clock=sleeps.clock
    )
    batch = source.observations(["DFF", "DGS10"])
    assert batch.series == ["DGS10"] and list(batch.failed) == ["DFF"]
    assert "answered for DFF with XML that breaks off" in batch.failed["DFF"]
    assert batch.failed["DFF"].endswith("(gave up after 4 attempts)")
    assert batch.retry_may_help == {"DFF"}
    assert len(batch.notes) == 3 and all(n.startswith("DFF: ") for n in batch.notes)


def test_a_refused_connection_is_retried_then_named(sleeps):
    # The port stays bound, never listening, until the client has tried it: a connection to it is
    # refused, and no other process can take the port in between (as it could once it was freed).
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        client = FredApiClient(
            API_KEY,
            base_url=f"http://127.0.0.1:{port}",
            sleep=sleeps,
            clock=sleeps.clock,
            max_attempts=2,
            timeout=1.0,
        )
        with pytest.raises(FredError) as err:
            client.fetch("DFF")
    assert "cannot reach 127.0.0.1" in str(err.value) and "gave up after 2 attempts" in str(
        err.value
    )
    assert API_KEY not in str(err.value)


def test_the_throttle_spaces_requests_half_a_second_apart(fake, sleeps):
    client = keyless(fake, sleeps)
    for _ in range(3):
        client.fetch("DGS10")
    # The fake clock does not move by itself, so each request after the first waits the full 0.5 s.
    assert sleeps.calls == [0.5, 0.5]


def test_throttle_only_waits_for_what_remains_of_the_interval():
    sleeps = Sleeps()
    throttle = Throttle(0.5, clock=sleeps.clock, sleep=sleeps)
    throttle.wait()
    sleeps.now += 0.2  # 0.2 s of work between two requests
    throttle.wait()
    sleeps.now += 0.7
    throttle.wait()
    assert sleeps.calls == pytest.approx([0.3])


def test_redact_removes_the_key_and_any_api_key_parameter():
    text = "GET /fred/series/observations?series_id=DFF&api_key=secret123 failed: secret123"
    assert (
        redact(text, "secret123")
        == "GET /fred/series/observations?series_id=DFF&api_key=*** failed: ***"
    )
    assert (
        redact("https://x/?api_key=other&file_type=xml", None)
        == "https://x/?api_key=***&file_type=xml"
    )
