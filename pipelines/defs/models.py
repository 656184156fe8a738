"""Every SQL file under sql/ becomes an asset; its upstream assets come from the SQL itself."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.metadata import WRITER_POOL, active_metadata
from warehouse import models as sql_models
from warehouse.db import ensure_schema
from warehouse.lineage import column_lineage
from warehouse.universe import load_universe

CONFIG_KEY = dg.AssetKey(["config", "universe"])


def relation_key(relation: str) -> dg.AssetKey:
    schema, name = relation.split(".", 1)
    return CONFIG_KEY if schema == "config" else dg.AssetKey([schema, name])


@dg.asset(
    key=CONFIG_KEY,
    pool=WRITER_POOL,
    kinds={"duckdb", "toml"},
    owners=["team:data-engineering"],
    description=(
        "The pairs and groups of config/universe.toml and the breadth groups of "
        "config/models.toml as tables (config.pairs, config.ticker_groups, config.breadth_groups), "
        "so the SQL models join them instead of repeating tickers."
    ),
    automation_condition=dg.AutomationCondition.on_missing() | dg.AutomationCondition.code_version_changed(),
)
def universe_config(duckdb: DuckDBResource) -> dg.MaterializeResult:
    universe = load_universe()
    with duckdb.get_connection() as conn:
        ensure_schema(conn)
        sql_models.write_config_tables(conn, universe, sql_models.load_params())
    return dg.MaterializeResult(
        metadata={"pairs": len(universe.pairs), "tickers": len(universe.tickers), **active_metadata()}
    )


def people_metadata(relation: str, conn) -> dict[str, dg.MetadataValue]:
    """What a model shows people in the UI beside its build figures: the claims' scorecard."""
    if relation != "marts.claims":
        return {}
    from warehouse import scorecard  # matplotlib: imported by the run that renders, not by every load

    return {name: dg.MetadataValue.md(text) for name, text in scorecard.metadata_markdown(conn).items()}


class ModelBuildConfig(dg.Config):
    """Run config of a SQL model's asset."""

    full_refresh: bool = False  # rebuild an incremental model from scratch instead of its tail


def model_asset(
    model: sql_models.Model, params: dict, catalog: dict[str, sql_models.Model] | None = None
) -> dg.AssetsDefinition:
    """The asset that builds `model`; `catalog` is every model by relation (read from sql/ if not given)."""
    catalog = catalog or {m.relation: m for m in sql_models.discover()}
    deps = sorted({relation_key(r) for r in model.dependencies(params)}, key=lambda k: k.path)
    lineage = dg.TableColumnLineage(
        deps_by_column={
            column: [dg.TableColumnDep(asset_key=relation_key(r), column_name=c) for r, c in sources]
            for column, sources in column_lineage(model, params, catalog).items()
        }
    )
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn(name, model.column_types.get(name, "unknown").lower(), description=doc)
            for name, doc in model.columns.items()
        ]
    )

    @dg.asset(
        key=[model.layer, model.name],
        deps=deps,
        group_name=model.layer,
        pool=WRITER_POOL,
        kinds={"duckdb", "sql"},
        owners=["team:analytics"],
        code_version=model.code_version,
        description=f"{model.description}\n\nBuilt from `{model.path.relative_to(model.path.parents[2])}`.",
        metadata={
            "dagster/column_schema": schema,
            "dagster/table_name": model.relation,
            "dagster/column_lineage": lineage,
            "sql_file": dg.MetadataValue.path(str(model.path)),  # becomes a code reference (pipelines/graph.py)
        },
        # Not built from data that failed a blocking check upstream (pipelines/defs/checks/).
        automation_condition=(
            dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
        ),
    )
    def _build(
        context: dg.AssetExecutionContext, config: ModelBuildConfig, duckdb: DuckDBResource
    ) -> dg.MaterializeResult:
        with duckdb.get_connection() as conn:
            result = sql_models.build(
                conn, model, params, catalog=catalog, full_refresh=config.full_refresh, run_id=context.run_id
            )
            types = sql_models.column_types(conn, model.relation)
            for_people = people_metadata(model.relation, conn)
        metadata = {
            **active_metadata(),
            "dagster/column_lineage": lineage,
            # full, incremental (from rebuilt_from on), unchanged (no input changed) or view
            "build_mode": result.mode,
            "dagster/column_schema": dg.TableSchema(
                columns=[
                    dg.TableColumn(name, types[name].lower(), description=model.columns.get(name))
                    for name in types
                ]
            ),
        }
        if result.rows is not None:
            metadata["dagster/row_count"] = result.rows
        if result.latest_date is not None:
            metadata["latest_date"] = str(result.latest_date)
        if result.rebuilt_from is not None:
            metadata["rebuilt_from"] = str(result.rebuilt_from)
        if result.rows_written is not None:
            metadata["rows_written"] = result.rows_written
        for name, value in result.headline.items():
            metadata[name] = dg.MetadataValue.float(value) if value is not None else dg.MetadataValue.null()
        metadata.update(for_people)
        since = f" from {result.rebuilt_from}" if result.rebuilt_from else ""
        context.log.info(
            f"{model.relation}: {result.mode} build{since}, {result.rows} rows, latest {result.latest_date}"
        )
        return dg.MaterializeResult(metadata=metadata)

    return _build


@dg.definitions
def models() -> dg.Definitions:
    params = sql_models.load_params()
    models = sql_models.discover()
    catalog = {m.relation: m for m in models}
    return dg.Definitions(
        assets=[universe_config, *(model_asset(m, params, catalog) for m in models)]
    )
