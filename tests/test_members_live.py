"""The live membership source against a fake iShares on 127.0.0.1 (tests/ishares_fake.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.ishares_fake import PAGES, FakeIShares, Fund, Reply, Row, holdings_csv, html_page, members, unavailable
from warehouse.sources.holding_symbols import load_symbol_map
from warehouse.sources.members import open_members_source
from warehouse.sources.members_live import ISharesMembersSource, month_ends_before
from warehouse.universe import IndexSpec

D = dt.date.fromisoformat
IWM = IndexSpec("russell_2000", "IWM", "^RUT", PAGES["IWM"])
IVV = IndexSpec("sp_500", "IVV", "^GSPC", PAGES["IVV"])
UNTIL = D("2026-04-13")


def history() -> dict[str, Fund]:
    """IWM: the latest file of 2026-04-10 and three month ends; nothing before 2026-01."""
    return {
        "IWM": Fund(
            latest=(D("2026-04-10"), [*members(3), Row("MOGA", "MOOG INC CLASS A", exchange="NYSE")]),
            month_ends={D("2026-03-31"): members(3), D("2026-02-27"): members(2), D("2026-01-30"): members(4)},
        ),
        "IVV": Fund(latest=(D("2026-04-10"), members(5, "L"))),
    }


def source(fake: FakeIShares, **options) -> tuple[ISharesMembersSource, list[float]]:
    waits: list[float] = []
    options = {"pause": 0.0, "base_delay": 0.01, "jitter": lambda: 1.0, "sleep": waits.append,
               "symbols": load_symbol_map(), **options}
    return ISharesMembersSource(fake.url, **options), waits


def asked(fake: FakeIShares, fund: str) -> list[str | None]:
    return [r["params"].get("asOfDate") for r in fake.requests_for(fund)]


def test_month_ends_are_the_last_sessions_of_each_month_newest_first():
    assert month_ends_before(D("2026-04-10"), D("2025-12-01")) == [D("2026-03-31"), D("2026-02-27"), D("2026-01-30"),
                                                                   D("2025-12-31")]
    # 2025-05-31 is a Saturday: May's month end is Friday 2025-05-30.
    assert month_ends_before(D("2025-06-02"), D("2025-05-01")) == [D("2025-05-30")]


def test_the_latest_file_then_the_month_ends_back_to_the_first_without_holdings():
    with FakeIShares(history()) as fake:
        src, _ = source(fake)
        batch = src.snapshots([IWM], {}, UNTIL)
        assert batch.failed == {}
        got = [(s.as_of_date, sorted(s.members["ticker"])) for s in batch.snapshots]
        assert got == [
            (D("2026-04-10"), ["MOG-A", "T001", "T002", "T003"]),
            (D("2026-03-31"), ["T001", "T002", "T003"]),
            (D("2026-02-27"), ["T001", "T002"]),
            (D("2026-01-30"), ["T001", "T002", "T003", "T004"]),
        ]
        assert asked(fake, "IWM") == [None, "20260331", "20260227", "20260130", "20251231"]
        assert any("no holdings of 2025-12: the backfill ends there" in n for n in batch.notes)
        assert batch.snapshots[0].origin == f"{fake.url}{PAGES['IWM']}/1467271812596.ajax?fileType=csv&fileName=IWM_holdings&dataType=fund"

        # The next run asks for the latest file and only the month ends it does not hold.
        fake.requests.clear()
        held = {"russell_2000": {s.as_of_date for s in batch.snapshots}}
        again = src.snapshots([IWM], held, UNTIL)
        assert again.snapshots == [] and asked(fake, "IWM") == [None, "20251231"]


def test_a_404_for_a_month_also_ends_the_backfill():
    with FakeIShares(history(), nothing="404") as fake:
        batch = source(fake)[0].snapshots([IWM], {}, UNTIL)
        assert len(batch.snapshots) == 4 and batch.failed == {}
        assert asked(fake, "IWM")[-1] == "20251231"


def test_the_backfill_stops_at_the_history_start_and_at_max_months():
    with FakeIShares(history()) as fake:
        batch = source(fake)[0].snapshots([IWM], {}, UNTIL, D("2026-02-01"))
        assert [s.as_of_date for s in batch.snapshots] == [D("2026-04-10"), D("2026-03-31"), D("2026-02-27")]
        fake.requests.clear()
        capped = source(fake, max_months=1)[0].snapshots([IWM], {}, UNTIL)
        assert [s.as_of_date for s in capped.snapshots] == [D("2026-04-10"), D("2026-03-31")]
        assert any("backfill stops at 1 month ends a run" in n for n in capped.notes)


def test_http_503_is_retried_with_backoff_then_the_file_loads():
    with FakeIShares(history()) as fake:
        fake.script("IVV", unavailable(), unavailable(retry_after="3"))
        src, waits = source(fake)
        batch = src.snapshots([IVV], {}, UNTIL)
        assert batch.failed == {} and [s.as_of_date for s in batch.snapshots] == [D("2026-04-10")]
        # Backoff 0.01 s after the first 503, then what Retry-After asked for.
        assert waits == [0.01, 3.0]
        assert asked(fake, "IVV") == [None, None, None, "20260331"]


def test_a_cdn_that_keeps_refusing_fails_the_index_naming_the_fund_and_the_files_source():
    with FakeIShares(history()) as fake:
        fake.script("IWM", *[unavailable()] * 4)
        src, waits = source(fake, max_attempts=4)
        batch = src.snapshots([IWM, IVV], {}, UNTIL)
        message = batch.failed["russell_2000"]
        assert message.startswith("IWM (russell_2000): iShares did not deliver the latest holdings (HTTP 503 after 4 attempts")
        assert "ROTATION_SOURCE=files" in message and "ROTATION_FILES_DIR/holdings/" in message
        assert f"https://www.ishares.com{PAGES['IWM']}" in message
        assert batch.retry_may_help == {"russell_2000"} and len(waits) == 3
        assert [s.index_id for s in batch.snapshots] == ["sp_500"]  # the other fund still loads


def test_a_failure_during_the_backfill_keeps_the_snapshots_got_before_it():
    with FakeIShares(history()) as fake:
        fake.script("IWM", Reply(200, holdings_csv("IWM", D("2026-04-10"), members(3))), *[unavailable()] * 2)
        batch = source(fake, max_attempts=2)[0].snapshots([IWM], {}, UNTIL)
        assert [s.as_of_date for s in batch.snapshots] == [D("2026-04-10")]
        assert "did not deliver the holdings of 2026-03-31" in batch.failed["russell_2000"]


def test_a_reply_slower_than_the_timeout_and_an_html_page_are_retried():
    with FakeIShares(history()) as fake:
        fake.script("IVV", Reply(200, b"", delay=3.0), html_page())
        batch = source(fake, timeout=(2.0, 0.5))[0].snapshots([IVV], {}, UNTIL)
        assert batch.failed == {} and len(batch.snapshots) == 1
        fake.script("IVV", *[html_page()] * 2)
        failed = source(fake, max_attempts=2)[0].snapshots([IVV], {}, UNTIL).failed
        assert "an HTML page instead of the holdings file after 2 attempts" in failed["sp_500"]


def test_a_file_of_another_fund_is_refused():
    with FakeIShares(history()) as fake:
        fake.script("IWM", Reply(200, holdings_csv("IVV", D("2026-04-10"), members(3))))
        batch = source(fake)[0].snapshots([IWM], {}, UNTIL)
        assert batch.snapshots == []
        assert "answered the holdings of 'iShares Core S&P 500 ETF', not 'iShares Russell 2000 ETF'" in batch.failed["russell_2000"]
        assert batch.retry_may_help == set()


def test_a_file_dated_on_a_day_without_a_session_is_refused():
    funds = history()
    funds["IWM"].latest = (D("2026-04-03"), members(3))  # Good Friday 2026: the NYSE is closed
    with FakeIShares(funds) as fake:
        batch = source(fake)[0].snapshots([IWM], {}, UNTIL)
        assert batch.snapshots == []
        assert "dated 2026-04-03 (Friday), which is not an NYSE session (Good Friday)" in batch.failed["russell_2000"]


def test_the_latest_file_of_a_session_not_completed_waits():
    with FakeIShares(history()) as fake:
        batch = source(fake)[0].snapshots([IWM], {}, D("2026-04-09"))
        assert D("2026-04-10") not in [s.as_of_date for s in batch.snapshots]
        assert any("a session not completed yet" in n for n in batch.notes)


def test_a_page_that_is_not_the_funds_fails_without_retrying():
    with FakeIShares(history()) as fake:
        wrong = IndexSpec("russell_2000", "IWM", "^RUT", "/us/products/1/not-a-fund")
        src, waits = source(fake)
        batch = src.snapshots([wrong], {}, UNTIL)
        assert "answered HTTP 404 for the latest holdings" in batch.failed["russell_2000"] and waits == []


def test_the_base_url_comes_from_rotation_ishares_url(monkeypatch):
    with FakeIShares(history()) as fake:
        monkeypatch.setenv("ROTATION_ISHARES_URL", fake.url + "/")
        src = open_members_source("live", pause=0.0)
        assert src.base == fake.url
        assert src.url(IWM, D("2026-03-31")).endswith("fileName=IWM_holdings&dataType=fund&asOfDate=20260331")
    monkeypatch.delenv("ROTATION_ISHARES_URL")
    assert ISharesMembersSource().base == "https://www.ishares.com"


@pytest.mark.realdata
def test_a_real_file_served_by_the_fake_loads_like_the_file(realdata):
    data = (realdata / "holdings" / "IWM_2026-04-10.csv").read_bytes()
    with FakeIShares(history()) as fake:
        fake.script("IWM", Reply(200, data))
        batch = source(fake, max_months=0)[0].snapshots([IWM], {}, UNTIL)
        assert [(s.as_of_date, len(s.members)) for s in batch.snapshots] == [(D("2026-04-10"), 1924)]
