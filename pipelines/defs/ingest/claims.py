"""The shipped list of published claims (config/claims.csv) into core.published_claims."""

import hashlib

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.metadata import WRITER_POOL, active_metadata, table_metadata
from warehouse.claims import ClaimsError, default_path, load_claims, read_claims
from warehouse.db import ensure_schema


def claims_version() -> str:
    """A new code version whenever the file changes, so an edit shows (and re-runs) the asset.

    The file is read (and validated) first: a malformed claims.csv stops the definitions from
    loading, naming the file and the line, in the CLI and in the UI."""
    path = default_path()
    if not path.exists():
        return "missing"
    read_claims(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


@dg.asset(
    key=["core", "published_claims"],
    pool=WRITER_POOL,
    kinds={"duckdb", "csv"},
    owners=["team:analytics"],
    tags={"domain": "claims"},
    code_version=claims_version(),
    metadata={
        **table_metadata("core.published_claims"),
        "file": dg.MetadataValue.path(str(default_path())),
    },
    automation_condition=dg.AutomationCondition.on_missing()
    | dg.AutomationCondition.code_version_changed(),
    description=(
        "Every checkable statement of the rotation story (closes, returns, records, streaks, "
        "the Fed's target and cycle, inflation, the curve, valuations, breadth, forecasts), one "
        "reading per row: the story's words, the reading, the publisher, the dates, the claimed "
        "value with its comparison and tolerance, from config/claims.csv (edited by hand; a bad "
        "row is refused with its line and nothing is loaded). Replaced whole on every load; the "
        "marts claims_<family> compute the figures and marts.claims grades them (the scorecard)."
    ),
)
def published_claims(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    try:
        with duckdb.get_connection() as conn:
            ensure_schema(conn)
            rows = load_claims(conn, run_id=context.run_id)
            metrics = dict(
                conn.execute(
                    "select metric, count(*) from core.published_claims group by 1 order by 1"
                ).fetchall()
            )
    except ClaimsError as exc:
        raise dg.Failure(description=str(exc)) from exc
    context.log.info(f"{rows} published claims loaded from {default_path()}")
    return dg.MaterializeResult(
        metadata={**active_metadata(), "dagster/row_count": rows, "claims_by_metric": dg.MetadataValue.json(metrics)}
    )
