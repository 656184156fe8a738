"""`make run` end to end on the sample (the path a fresh machine without network takes), then
every documented query against the read snapshot it publishes."""

import re
from pathlib import Path

import duckdb
import pytest

from pipelines import run
from warehouse.cli import main as cli
from warehouse.snapshot import snapshot_path

QUERIES = sorted((Path(__file__).parents[1] / "sql" / "queries").glob("*.sql"))


@pytest.fixture(scope="module")
def sample_warehouse(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample-build")
    path = folder / "sample.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ROTATION_SOURCE", "sample")
        mp.setenv("ROTATION_WAREHOUSE", str(path))
        mp.setenv("DAGSTER_HOME", str(folder))
        assert run.main() == 0
    return path


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
    assert (sample_warehouse.parent / "reports" / "index.html").exists()


@pytest.mark.parametrize("query", QUERIES, ids=[q.name for q in QUERIES])
def test_documented_queries_run_on_the_sample(sample_warehouse, query, capsys):
    assert cli(["--warehouse", str(sample_warehouse), "sql", "--file", str(query)]) == 0
    out = capsys.readouterr().out
    assert not re.search(r"(?<!\d)0 rows", out) and "│" in out
