"""The Dagster assets core/valuations and core/valuations_published, materialised offline."""

from __future__ import annotations

import datetime as dt
import shutil
from types import SimpleNamespace

import dagster as dg
import duckdb
import pandas as pd
import pytest
from dagster_duckdb import DuckDBResource

import pipelines.defs.ingest.valuations as assets
import warehouse.sources.valuations as valuation_sources
from pipelines.defs.resources import MarketSourceResource
from tests.yahoo_valuation_fakes import aapl, iwm, spy, ticker_factory
from warehouse import calendar, settings
from warehouse.sources.yahoo_valuations import YahooValuationSource

D = dt.date.fromisoformat
FRIDAY = D("2026-01-09")
SATURDAY = pd.Timestamp("2026-01-10 15:00", tz="UTC")
UNIVERSE = """\
[history]
start = "1990-01-02"
refetch_sessions = 10

[prices.groups]
etfs = ["IWM", "SPY"]

[[pairs]]
small = "IWM"
large = "SPY"

[valuations]
tickers = {tickers}
"""


@pytest.fixture
def config(project_env, monkeypatch):
    """A config folder of its own: a small universe and the shipped published file."""
    folder = project_env / "config"
    folder.mkdir()
    shutil.copy(settings.PROJECT_ROOT / "config" / "published_valuations.csv", folder)
    monkeypatch.setenv("ROTATION_CONFIG_DIR", str(folder))

    def universe(*tickers: str) -> None:
        (folder / "universe.toml").write_text(
            UNIVERSE.format(tickers=list(tickers)).replace("'", '"'), encoding="utf-8")

    universe("IWM", "SPY", "AAPL", "NOPE")
    return SimpleNamespace(path=folder, universe=universe)


@pytest.fixture
def fake_live(monkeypatch):
    """The live source over canned Yahoo answers, as of Saturday 2026-01-10."""
    revised_iwm = iwm()
    revised_iwm.info["summaryDetail"]["trailingPE"] = 22.5
    fakes = {"IWM": revised_iwm, "SPY": spy(), "AAPL": aapl()}
    clock = {"now": SATURDAY}

    def open_source(kind, files_dir=None, **options):
        return YahooValuationSource(ticker_factory=ticker_factory(fakes), sleep=lambda s: None,
                                    clock=lambda: clock["now"])

    monkeypatch.setattr(valuation_sources, "open_valuations_source", open_source)
    # The asset asks the calendar for the session to snapshot: the same clock answers.
    monkeypatch.setattr(assets, "calendar", SimpleNamespace(
        last_completed_session=lambda now=None: calendar.last_completed_session(clock["now"])))
    return clock


def run(db, *selection, kind="live"):
    return dg.materialize(
        list(selection),
        resources={"duckdb": DuckDBResource(database=str(db)),
                   "market_source": MarketSourceResource(kind=kind)},
        raise_on_error=False,
    )


def metadata(result, node: str) -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()}


def test_the_live_snapshot_reports_rows_gaps_failures_and_headlines(config, fake_live, project_env):
    db = project_env / "wh.duckdb"
    result = run(db, assets.valuations)
    assert result.success
    meta = metadata(result, "core__valuations")
    assert meta["source"] == "live" and meta["snapshot_day"] == "2026-01-09"
    # AAPL: 6 ratios + 4 quarterly backfill rows; SPY: 1 + 3 holdings; IWM: 2 + 3 holdings.
    assert meta["rows_inserted"] == 19 and meta["rows_quarantined"] == 0
    assert meta["fields_missing"] == 11
    assert meta["fields_missing_by_ticker"] == {"IWM": 5, "SPY": 6}
    assert "funds_data.Price/Sales" in meta["fields_missing_detail"]["IWM"]
    assert list(meta["tickers_failed"]) == ["NOPE"]
    assert meta["backfill_rows_offered"] == 4 and meta["backfill_rows_already_held"] == 0
    assert meta["iwm_pe_trailing"] == 22.5 and meta["spy_pe_trailing"] == 27.9
    assert meta["iwm_spy_pe_discount_trailing"] == pytest.approx(1 - 22.5 / 27.9)  # 0.1935
    assert meta["headline_as_of"] == "2026-01-09"
    assert meta["dagster/row_count"] == 19

    again = metadata(run(db, assets.valuations), "core__valuations")
    assert (again["rows_inserted"], again["rows_updated"], again["rows_unchanged"]) == (0, 0, 15)
    assert again["backfill_rows_already_held"] == 4 and again["dagster/row_count"] == 19


def test_no_snapshot_is_taken_while_the_market_is_open(config, fake_live, project_env):
    fake_live["now"] = pd.Timestamp("2026-01-13 16:00", tz="UTC")  # 11:00 in New York
    result = run(project_env / "wh.duckdb", assets.valuations)
    assert result.success
    meta = metadata(result, "core__valuations")
    assert "in progress" in meta["skipped_reason"] and meta["snapshot_day"] == "2026-01-12"


def test_nothing_loaded_and_everything_failed_fails_the_run(config, fake_live, project_env):
    config.universe("NOPE")
    result = run(project_env / "wh.duckdb", assets.valuations)
    assert not result.success


def test_published_observations_load_into_a_real_warehouse(config, project_env):
    db = project_env / "wh.duckdb"
    result = run(db, assets.valuations_published)
    meta = metadata(result, "core__valuations_published")
    assert meta["rows_in_file"] == 18 and meta["rows_inserted"] == 18
    assert meta["rows_refused"] == 0 and meta["refused_lines"] == []
    assert meta["rows_by_publisher"]["The Money Unlock"] == 5
    assert meta["dagster/row_count"] == 18

    path = config.path / "published_valuations.csv"
    bad_row = "2026-01-05,^RUT,pe_forward,eighteen,forward,unstated,Me,,\n"
    path.write_text(path.read_text(encoding="utf-8") + bad_row, encoding="utf-8")
    lines = len(path.read_text(encoding="utf-8").splitlines())
    meta = metadata(run(db, assets.valuations_published), "core__valuations_published")
    assert meta["rows_refused"] == 1
    assert meta["refused_lines"] == [f"{path} line {lines}: value 'eighteen' is not a number"]
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute("select distinct source from core.valuations").fetchall() == [
            ("published",)]


def test_the_sample_builds_its_history_and_skips_the_real_published_figures(config, project_env):
    config.universe("IWM", "SPY")
    db = project_env / "sample.duckdb"
    result = run(db, assets.valuations_published, assets.valuations, kind="sample")
    assert result.success
    assert "synthetic data only" in metadata(result, "core__valuations_published")["skipped_reason"]
    meta = metadata(result, "core__valuations")
    sessions = calendar.sessions(D("2015-01-02"), calendar.last_completed_session())
    # IWM and SPY: six series each; ^RUT, ^GSPC, ^SP600: two each.
    assert meta["rows_inserted"] == (2 * 6 + 3 * 2) * len(sessions)
    assert meta["first_date"] == "2015-01-02" and meta["tickers_loaded"] == 5
    assert meta["iwm_pe_trailing"] > 0 and meta["spy_pe_trailing"] > 0
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute("select distinct source from core.valuations").fetchall() == [
            ("sample",)]
        assert conn.execute(
            "select value from meta.warehouse_info where key = 'flavour'").fetchone() == ("sample",)


def test_the_assets_are_wired_into_the_definitions(project_env):
    from pipelines.definitions import defs as build

    graph = build().resolve_asset_graph()
    node = graph.get(assets.VALUATIONS_KEY)
    assert assets.PUBLISHED_KEY in node.parent_keys
    assert node.pools == {"duckdb_writer"}
    assert graph.get(assets.PUBLISHED_KEY).pools == {"duckdb_writer"}
    assert node.group_name == "core"  # the layer: the key's first part
