"""One decision of source and warehouse, shared by `make run`, the definitions and the CLI."""

from pathlib import Path

import dagster as dg
import pytest

from warehouse import settings


@pytest.fixture(autouse=True)
def _fresh_decision(monkeypatch):
    for name in ("ROTATION_SOURCE", "ROTATION_WAREHOUSE", "ROTATION_FILES_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings._resolve.cache_clear()
    yield
    settings._resolve.cache_clear()


def test_unreachable_live_hosts_make_the_sample_stand_in_in_its_own_file():
    # The test guard refuses every non-loopback connection: the live hosts are unreachable.
    active = settings.active()
    assert active.source == "sample" and active.requested == "live"
    assert active.warehouse == settings.PROJECT_ROOT / "warehouse" / "sample.duckdb"
    assert "query1.finance.yahoo.com" in active.fallback_reason and "fred.stlouisfed.org" in active.fallback_reason
    assert active.headline.startswith("LIVE SOURCES UNREACHABLE")
    assert "NOT real market data" in active.headline
    assert active.tags() == {
        "rotation/source": "sample",
        "rotation/flavour": "sample",
        "rotation/warehouse": str(active.warehouse),
    }


def test_a_named_warehouse_gets_a_sample_file_beside_it(monkeypatch, tmp_path):
    monkeypatch.setenv("ROTATION_WAREHOUSE", str(tmp_path / "team.duckdb"))
    active = settings.active()
    assert active.source == "sample"
    assert active.warehouse == tmp_path / "team-sample.duckdb"


def test_an_explicit_source_is_not_probed(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(settings, "unreachable_live_hosts", lambda *a: calls.append(a) or [])
    monkeypatch.setenv("ROTATION_SOURCE", "files")
    monkeypatch.setenv("ROTATION_WAREHOUSE", str(tmp_path / "mine.duckdb"))
    active = settings.active()
    assert (active.source, active.warehouse, active.flavour, active.fallback_reason) == (
        "files", tmp_path / "mine.duckdb", "real", None)
    assert calls == []


def test_reachable_live_hosts_keep_the_live_warehouse(monkeypatch):
    monkeypatch.setattr(settings, "unreachable_live_hosts", lambda *a: [])
    active = settings.active()
    assert (active.source, active.flavour) == ("live", "real")
    assert active.warehouse == settings.PROJECT_ROOT / "warehouse" / "rotation.duckdb"


def test_the_definitions_use_the_same_decision_and_say_so_in_the_ui(monkeypatch, tmp_path):
    monkeypatch.setenv("ROTATION_WAREHOUSE", str(tmp_path / "wh.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    from pipelines.definitions import defs as build

    defs = build()
    warehouse, source = defs.resources["duckdb"], defs.resources["market_source"]
    assert warehouse.database == str(tmp_path / "wh-sample.duckdb")
    assert source.kind == "sample"
    for resource in (warehouse, source):
        assert resource.get_resource_definition().description.startswith("LIVE SOURCES UNREACHABLE")
    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey(["marts", "relative_strength"]))
    assert node.metadata["active_data_flavour"] == "sample"
    assert node.metadata["active_warehouse"] == str(tmp_path / "wh-sample.duckdb")


def test_the_cli_reads_the_same_warehouse(monkeypatch, tmp_path, capsys):
    from warehouse import cli

    monkeypatch.setenv("ROTATION_WAREHOUSE", str(tmp_path / "wh.duckdb"))
    assert cli.main(["tables"]) == 2  # nothing built yet
    err = capsys.readouterr().err
    assert "LIVE SOURCES UNREACHABLE" in err
    assert str(Path(tmp_path / "wh-sample.duckdb")) in err or "wh-sample" in err


def test_reports_of_sample_and_live_never_share_a_folder(tmp_path):
    assert settings.reports_dir(tmp_path / "sample.duckdb") != settings.reports_dir(tmp_path / "rotation.duckdb")
    assert settings.reports_dir(tmp_path / "rotation.duckdb") == tmp_path / "reports" / "rotation"
