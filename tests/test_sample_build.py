"""`make run` end to end on the sample (the path a fresh machine without network takes), then
every documented query against the read snapshot it publishes. The build is the session's
`sample_warehouse` (tests/conftest.py), which tests/test_lake.py compares the lake with."""

import re
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from warehouse import models as sql_models
from warehouse import settings
from warehouse.checks import marts as model_checks
from warehouse.cli import main as cli
from warehouse.snapshot import snapshot_path

QUERIES = sorted((Path(__file__).parents[1] / "sql" / "queries").glob("*.sql"))


def test_every_asset_builds_and_the_snapshot_is_published(sample_warehouse):
    snap = snapshot_path(sample_warehouse)
    assert snap.exists()
    with duckdb.connect(str(snap), read_only=True) as conn:
        flavour = conn.execute("select value from meta.warehouse_info where key = 'flavour'").fetchall()
        assert flavour == [("sample",)]
        empty = [
            f"{s}.{t}" for s, t in conn.execute(
                "select schema_name, table_name from duckdb_tables() where schema_name = 'marts'"
            ).fetchall()
            if conn.execute(f"select count(*) from {s}.{t}").fetchall()[0][0] == 0
        ]
        assert empty == []
        assert conn.execute("select distinct source from core.prices_daily").fetchall() == [("sample",)]
    assert (settings.reports_dir(sample_warehouse) / "index.html").exists()


def test_every_model_is_one_row_per_its_unique_key(sample_warehouse):
    """The grain each header declares (unique_key) holds on the sample: the check ran with the
    build and passed, and passes again on the published snapshot."""
    models = sql_models.discover()
    keys = {dg.AssetCheckKey(dg.AssetKey([m.layer, m.name]), "unique_key"): m for m in models}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(sample_warehouse.parent))
        with dg.DagsterInstance.get() as instance:
            records = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(keys))
    assert {k.asset_key.to_user_string(): r.status.value for k, r in records.items()} == {
        k.asset_key.to_user_string(): "SUCCEEDED" for k in keys
    }
    with duckdb.connect(str(snapshot_path(sample_warehouse)), read_only=True) as conn:
        for model in models:
            out = model_checks.unique_key(conn, model)
            assert out.passed and out.counts["rows"] > 0, (model.relation, out.summary, out.rows)


@pytest.mark.parametrize("query", QUERIES, ids=[q.name for q in QUERIES])
def test_documented_queries_run_on_the_sample(sample_warehouse, query, capsys):
    assert cli(["--warehouse", str(sample_warehouse), "sql", "--file", str(query)]) == 0
    out = capsys.readouterr().out
    assert not re.search(r"(?<!\d)0 rows", out) and "│" in out
