"""Publishes the read snapshot after the marts build, so ad-hoc SQL never meets the writer."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.metadata import WRITER_POOL, active_metadata
from warehouse import models as sql_models
from warehouse.snapshot import publish


@dg.asset(
    key=["reports", "read_snapshot"],
    deps=[dg.AssetKey([m.layer, m.name]) for m in sql_models.discover()],
    pool=WRITER_POOL,
    kinds={"duckdb"},
    owners=["team:data-engineering"],
    automation_condition=dg.AutomationCondition.eager(),
    description=(
        "A read-only copy of the whole warehouse (warehouse/snapshots/<name>.duckdb), replaced "
        "atomically after each build. `make sql`, the DuckDB CLI and notebooks read this file, so "
        "a query never takes the writer's lock and a run never waits for a reader."
    ),
)
def read_snapshot(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    if getattr(duckdb, "lake", None):
        # A lake has no writer's lock to keep readers from: they attach it read-only and read the
        # last committed snapshot while runs write. A copy would only be a stale second warehouse.
        context.log.info("The warehouse is a DuckLake: readers query it directly; no snapshot is published.")
        return dg.MaterializeResult(metadata={
            **active_metadata(), "published": False,
            "reason": "the warehouse is a DuckLake: readers query the lake directly (README, 'The lake')",
        })
    with duckdb.get_connection() as conn:
        target = publish(conn, duckdb.database)
    size = target.stat().st_size
    context.log.info(f"Published {target} ({size / 1e6:.1f} MB)")
    return dg.MaterializeResult(
        metadata={**active_metadata(), "path": dg.MetadataValue.path(str(target)), "size_mb": round(size / 1e6, 2)}
    )
