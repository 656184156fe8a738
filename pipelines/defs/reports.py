"""Charts and the dashboard page, rendered after the marts they show."""

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.metadata import active_metadata
from warehouse import models as sql_models
from warehouse import settings
from warehouse.snapshot import open_for_reading

SHOWN = [
    "relative_strength", "valuation_gap", "fed_policy", "rrg", "breadth", "index_breadth", "rotation_dashboard",
    "claims",
]


@dg.asset(
    key=["reports", "rotation_charts"],
    deps=[
        dg.AssetKey(["reports", "read_snapshot"]),
        *(dg.AssetKey(["marts", m.name]) for m in sql_models.discover() if m.name in SHOWN),
    ],
    kinds={"python", "html"},
    owners=["team:analytics"],
    automation_condition=dg.AutomationCondition.eager(),
    description=(
        "PNG charts under warehouse/reports/<warehouse name>/ (relative strength with its averages, the valuation "
        "discount, the Fed target range with the cuts, an RRG scatter with tails, breadth) and "
        "index.html showing them with the rotation dashboard. The images are embedded here too."
    ),
)
def rotation_charts(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    from warehouse import reports  # matplotlib: imported by the run that renders, not by every load

    if getattr(duckdb, "lake", None):
        # A lake is read directly (its last committed snapshot): there is no copy to read.
        folder = settings.lake_reports_dir()
        opened, path = duckdb.get_connection(), duckdb.database
    else:
        # Each warehouse has its own folder: the sample's page never replaces the live one's.
        folder = settings.reports_dir(Path(duckdb.database))
        # Reads the published snapshot, read-only: the report never takes the writer's lock.
        opened, path = open_for_reading(Path(duckdb.database))
    context.log.info(f"Rendering from {path}")
    with opened as conn:
        report = reports.render(conn, folder)
        dashboard = reports.dashboard_table(conn)
    for name, why in report.skipped.items():
        context.log.warning(f"chart {name} not rendered: {why}")
    if not report.charts:
        # An empty warehouse is not a report: say so in red rather than succeed with a blank page.
        raise dg.Failure(
            description=f"No chart could be rendered from {path}: the marts it shows are missing or empty.",
            metadata={"skipped": dg.MetadataValue.json(report.skipped)},
            allow_retries=False,
        )
    metadata = {
        "page": dg.MetadataValue.path(str(report.page)),
        "charts_rendered": len(report.charts),
    }
    if dashboard is not None:
        metadata["dashboard"] = dg.MetadataValue.md(reports.markdown_table(dashboard))
    for name, path in report.charts.items():
        metadata[f"chart_{name}"] = dg.MetadataValue.md(reports.embedded_markdown(path, name))
    return dg.MaterializeResult(metadata={**active_metadata(), **metadata})
