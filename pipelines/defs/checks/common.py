"""Turning warehouse/checks outcomes into Dagster asset checks.

Each asset gets one multi-asset check (one op, one DuckDB connection) holding all its checks as
separate specs, so the UI shows every check on its own with its description, severity and failing
rows, and a subset (one check re-run from the UI) runs alone. The checks have no automation
condition of their own: they ride along with every materialisation of their asset.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import duckdb as duckdb_lib
from dagster_duckdb import DuckDBResource

from pipelines.defs.metadata import WRITER_POOL
from warehouse.checks.base import CheckOutcome, markdown_table
from warehouse.checks.config import load_config
from warehouse.checks.marts import core_schema_matches
from warehouse.checks.quarantine import quarantined

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN


@dataclass(frozen=True)
class CheckDef:
    """One asset check: what runs, how bad a failure is, and what the UI says about it."""

    name: str
    run: Callable[[duckdb_lib.DuckDBPyConnection, dict, "RunInfo"], CheckOutcome]
    severity: dg.AssetCheckSeverity
    description: str  # what it protects, and what to do when it fails
    blocking: bool = False
    config_key: str | None = None  # its thresholds in config/checks.toml, e.g. 'prices.outliers'
    additional_deps: tuple[dg.AssetKey, ...] = ()


@dataclass
class RunInfo:
    """What a check may need to know: the run's id, and the run that last loaded the asset."""

    run_id: str
    load_run_id: str | None
    extra: dict[str, Any] = field(default_factory=dict)


def _value(v: Any) -> Any:
    if v is None:
        return dg.MetadataValue.null()
    if isinstance(v, bool):
        return dg.MetadataValue.bool(v)
    if isinstance(v, int):
        return dg.MetadataValue.int(v)
    if isinstance(v, float):
        return dg.MetadataValue.float(v)
    if isinstance(v, dict | list | tuple):
        return dg.MetadataValue.json(v)
    return dg.MetadataValue.text(str(v))


def check_result(
    asset_key: dg.AssetKey, check: CheckDef, outcome: CheckOutcome, thresholds: dict | None = None
) -> dg.AssetCheckResult:
    severity = check.severity
    if outcome.severity == "warn":
        severity = WARN
    elif outcome.severity == "error":
        severity = ERROR
    metadata: dict[str, Any] = {
        "summary": dg.MetadataValue.text(outcome.summary),
        "failing_count": dg.MetadataValue.int(int(outcome.failing)),
        "failing_rows": dg.MetadataValue.md(
            markdown_table(outcome.columns, outcome.rows, outcome.failing)
        ),
    }
    for key, value in outcome.counts.items():
        metadata[key] = _value(value)
    if thresholds:
        metadata["thresholds"] = dg.MetadataValue.json(_jsonable(thresholds))
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check.name,
        passed=bool(outcome.passed),
        severity=severity,
        metadata=metadata,
        description=outcome.summary,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def latest_load_run_id(
    context: dg.AssetCheckExecutionContext, asset_key: dg.AssetKey
) -> str | None:
    """The run of the asset's latest materialisation (this run when it materialised it)."""
    event = context.instance.get_latest_materialization_event(asset_key)
    return event.run_id if event is not None else None


def asset_checks(
    asset_key: dg.AssetKey, checks: Sequence[CheckDef], *, name: str
) -> dg.AssetChecksDefinition:
    """One multi-asset check op running `checks` on `asset_key` over one connection."""
    config = load_config()  # also refuses a malformed config/checks.toml when the project loads
    by_name = {c.name: c for c in checks}
    specs = [
        dg.AssetCheckSpec(
            c.name,
            asset=asset_key,
            description=c.description,
            blocking=c.blocking,
            additional_deps=list(c.additional_deps) or None,
            metadata={
                "severity": "ERROR" if c.severity == ERROR else "WARN",
                "blocking": c.blocking,
                **(
                    {"thresholds": dg.MetadataValue.json(_jsonable(config[c.config_key]))}
                    if c.config_key and config.get(c.config_key)
                    else {}
                ),
                **({"config": f"config/checks.toml [{c.config_key}]"} if c.config_key else {}),
            },
        )
        for c in checks
    ]

    @dg.multi_asset_check(
        name=name,
        specs=specs,
        can_subset=True,
        pool=WRITER_POOL,
        compute_kind="duckdb",
        description=f"Data-quality checks of {asset_key.to_user_string()} (warehouse/checks/).",
    )
    def _checks(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource):
        config = load_config()
        info = RunInfo(
            run_id=context.run.run_id, load_run_id=latest_load_run_id(context, asset_key)
        )
        selected = {k.name for k in context.selected_asset_check_keys if k.asset_key == asset_key}
        with duckdb.get_connection() as conn:
            try:
                for check in checks:
                    if check.name not in selected:
                        continue
                    thresholds = config.get(check.config_key, {}) if check.config_key else {}
                    try:
                        outcome = check.run(conn, thresholds, info)
                    except Exception as exc:  # a check that cannot run vouches for nothing
                        context.log.exception(f"{check.name} could not run")
                        outcome = CheckOutcome(
                            check.name,
                            False,
                            f"the check could not run: {type(exc).__name__}: {exc}",
                            failing=1,
                        )
                    level = "info" if outcome.passed else "warning"
                    getattr(context.log, level)(f"{check.name}: {outcome.summary}")
                    yield check_result(asset_key, by_name[check.name], outcome, thresholds)
            finally:
                # DuckDBResource does not close the connection when the block raises; an open
                # connection keeps the file from being reopened read-only in this process.
                conn.close()

    return _checks


def schema_matches_ddl(table: str, ddl_file: str) -> CheckDef:
    """The same shape check for every core table: its columns and types are those of its DDL."""
    return CheckDef(
        "schema_matches_ddl",
        lambda conn, cfg, run: core_schema_matches(conn, table),
        ERROR,
        blocking=True,
        description=(
            f"Protects the SQL models from a changed table shape: {table} has exactly the columns "
            f"and types of warehouse/ddl/{ddl_file}. ERROR and blocking. When it fails: the "
            "warehouse file was made by another DDL (or the table was replaced by hand); rebuild "
            "it from the sources into a new file, or migrate the table to the DDL."
        ),
    )


def no_rows_quarantined(table: str, *, what: str, why: str, fix: str) -> CheckDef:
    """The rows the latest load of a core table refused, as a WARN: the loader already kept them
    out of the table, so only the source needs attention. `what` names the rows ("figures"), `why`
    the reasons a load refuses them, `fix` what to do when the check fails."""
    return CheckDef(
        "no_rows_quarantined",
        lambda conn, cfg, run: quarantined(conn, target_table=table, run_id=run.load_run_id),
        WARN,
        description=(
            f"Shows the {what} the latest load of {table.replace('.', '/')} refused ({why}): they "
            "are in core.quarantine with the reason, the source and the run, never in the table. "
            f"WARN: the table is protected; the source needs fixing. When it fails: {fix}"
        ),
    )
