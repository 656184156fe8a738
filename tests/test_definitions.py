import dagster as dg
import duckdb
import pytest

from pipelines.defs.resources import MarketSourceResource


@pytest.fixture
def defs(project_env):
    from pipelines.definitions import defs as build

    return build()


def test_definitions_load(defs):
    dg.Definitions.validate_loadable(defs)


def test_prices_materialise_for_a_partition_key(defs, project_env):
    from dagster_duckdb import DuckDBResource

    from pipelines.defs.ingest.prices import prices_daily

    db = project_env / "wh.duckdb"
    result = dg.materialize(
        [prices_daily],
        partition_key="2024-03-01",
        resources={"duckdb": DuckDBResource(database=str(db)),
                   "market_source": MarketSourceResource(kind="sample")},
    )
    assert result.success
    meta = result.asset_materializations_for_node("core__prices_daily")[0].metadata
    assert meta["tickers_loaded"].value == 44
    # March 2024 has 20 sessions (Good Friday, March 29, is closed) plus 10 re-fetched from February.
    assert meta["first_date"].value == "2024-02-15" and meta["last_date"].value == "2024-03-28"
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute("select count(*) from core.prices_daily").fetchone()[0] == 44 * 30
        assert conn.execute("select distinct source from core.prices_daily").fetchall() == [("sample",)]


# The charts read the published snapshot read-only; every other asset opens the warehouse to write.
READS_SNAPSHOT_ONLY = {dg.AssetKey(["reports", "rotation_charts"])}


def test_every_writer_is_in_the_duckdb_pool(defs):
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    assert keys >= READS_SNAPSHOT_ONLY
    for key in keys - READS_SNAPSHOT_ONLY:
        node = graph.get(key)
        if node.is_materializable:
            assert node.pools == {"duckdb_writer"}, key
