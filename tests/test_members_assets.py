"""The Dagster asset core/index_members and its checks, materialised offline."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import dagster as dg
import duckdb
import pandas as pd
import pytest
from dagster_duckdb import DuckDBResource

import pipelines.defs.ingest.members as assets
from pipelines.defs.checks.members import member_checks
from pipelines.defs.resources import MarketSourceResource
from tests.ishares_fake import Row, holdings_csv
from warehouse.checks import members as checks

D = dt.date.fromisoformat


@pytest.fixture
def until(monkeypatch):
    """The asset asks the calendar for the last completed session: 2026-04-10 here."""
    monkeypatch.setattr(assets, "calendar", SimpleNamespace(last_completed_session=lambda now=None: D("2026-04-10")))


def run(db, kind="sample", files_dir=None, checks_too=True):
    return dg.materialize(
        [assets.index_members, *([member_checks] if checks_too else [])],
        resources={"duckdb": DuckDBResource(database=str(db)),
                   "market_source": MarketSourceResource(kind=kind, files_dir=files_dir)},
        raise_on_error=False,
    )


def metadata(result) -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node("core__index_members")[0].metadata.items()}


def check_results(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_the_sample_members_load_with_their_metadata_and_pass_the_checks(project_env, until):
    db = project_env / "wh.duckdb"
    result = run(db)
    assert result.success
    meta = metadata(result)
    assert meta["source"] == "sample" and meta["data_flavour"] == "sample"
    # The first session 2015-01-02 and the 135 month ends from January 2015 to March 2026.
    assert meta["snapshots_new_by_index"] == {"russell_2000": 136, "sp_500": 136, "sp_600": 136}
    assert meta["members_latest_by_index"] == {"russell_2000": 50, "sp_500": 50, "sp_600": 36}
    assert meta["snapshot_range_by_index"]["sp_600"] == "2015-01-02 .. 2026-03-31"
    assert meta["rows_left_out"] == {} and meta["unmapped_count"] == 0 and meta["changed_from"] == "2015-01-02"
    assert meta["dagster/row_count"] == 136 * (50 + 50 + 36)
    evaluations = check_results(result)
    # snapshots_recent reads today's clock, not the patched session: tested on its own below.
    assert "snapshots_recent" in evaluations
    assert {k: v for k, v in evaluations.items() if k != "snapshots_recent"} == {
        "unique_key": True, "snapshots_on_sessions": True, "schema_matches_ddl": True,
        "weights_sum_to_one": True, "member_counts_plausible": True}

    again = metadata(run(db, checks_too=False))
    assert again["snapshots_unchanged_by_index"] == {"russell_2000": 136, "sp_500": 136, "sp_600": 136}
    assert again["rows_written"] == 0 and again["changed_from"] is None


def test_the_files_source_reports_what_it_left_out_refused_and_skipped(project_env, until, monkeypatch):
    folder = project_env / "files"
    (folder / "holdings").mkdir(parents=True)
    rows = [Row("AAA", "A INC", weight=60.0), Row("MOGA", "MOOG INC CLASS A", weight=39.7, exchange="NYSE"),
            Row("AB*C", "ODD TICKER INC", weight=0.1), Row("USD", "USD CASH", "Cash and/or Derivatives", "Cash", 0.2, 100.0, "-")]
    (folder / "holdings" / "iwm.csv").write_bytes(holdings_csv("IWM", D("2026-04-10"), rows))
    (folder / "holdings" / "bad.csv").write_bytes(b"\xef\xbb\xbfiShares Russell 2000 ETF\nnot a holdings file\n")
    monkeypatch.setenv("ROTATION_SOURCE", "files")
    db = project_env / "files.duckdb"
    result = run(db, kind="files", files_dir=str(folder))
    assert result.success
    meta = metadata(result)
    assert meta["snapshots_new_by_index"] == {"russell_2000": 1}
    assert meta["rows_left_out"] == {"cash": 1, "unmapped": 1}
    assert meta["unmapped_members"] == {"russell_2000": [
        "2026-04-10: AB*C (ODD TICKER INC): not a symbol Yahoo uses: add it to "
        f"{assets.load_universe().path.parent / 'holding_symbols.csv'}"]}
    assert list(meta["funds_failed"]) == [str(folder / "holdings" / "bad.csv")]
    assert meta["indexes_without_members"] == "sp_600, sp_500"
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute("select ticker, holding_ticker, weight from core.index_members order by 1").fetchall() == [
            ("AAA", "AAA", 0.6), ("MOG-A", "MOGA", 0.397)]
    evaluations = check_results(result)
    # Two members are no Russell 2000, and the two indexes without files have no snapshot.
    assert evaluations["member_counts_plausible"] is False and evaluations["snapshots_recent"] is False
    assert evaluations["unique_key"] and evaluations["weights_sum_to_one"]


def test_checks_name_the_snapshots_that_fail(conn):
    conn.executemany(
        "insert into core.index_members values (?, ?, ?, ?, 'X', 'Energy', ?, 'files', now())",
        [("sp_500", D("2026-04-11"), "AAA", "AAA", 0.5), ("sp_500", D("2026-04-10"), "AAA", "AAA", 0.5),
         ("sp_500", D("2026-04-10"), "AAA", "AAA", 0.5)],
    )
    assert checks.unique_key(conn).rows == [("sp_500", D("2026-04-10"), "AAA", 2, "stored 2 times")]
    dates = checks.session_dates(conn)
    assert not dates.passed and dates.rows == [("sp_500", D("2026-04-11"), 1, "weekend")]
    weights = checks.weights_sum(conn)
    assert [(r[0], r[1], r[3]) for r in weights.rows] == [("sp_500", D("2026-04-11"), 0.5)]  # 2026-04-10 sums to 1.0
    counts = checks.member_counts(conn)
    assert counts.failing == 2 and counts.rows[0][3:] == (1, 495, 510)


def test_freshness_names_indexes_with_an_old_snapshot_or_none(conn):
    conn.execute("insert into core.index_members values ('sp_500', date '2026-03-31', 'AAA', 'AAA', 'X', 'Energy', 1.0, "
                 "'files', now())")
    # 21:00 UTC on Friday 2026-04-10: that session has closed.
    now = pd.Timestamp("2026-04-10 21:00", tz="UTC")
    fresh = checks.freshness(conn, indexes=["sp_500"], now=now)
    assert fresh.passed and fresh.counts["last_session"] == "2026-04-10"
    stale = checks.freshness(conn, indexes=["sp_500", "russell_2000"], now=pd.Timestamp("2026-05-29 21:00", tz="UTC"))
    assert stale.rows == [("russell_2000", None, D("2026-05-29"), None, "no snapshot stored"),
                          ("sp_500", D("2026-03-31"), D("2026-05-29"), 59, "59 days old")]
