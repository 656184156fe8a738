"""`make run`: materialise every asset once and say what was loaded, where, and what was not.

The source and the warehouse are `warehouse.settings.active()`: the same decision the UI, the
schedules and launched runs take. With the live source, when Yahoo and FRED cannot be reached,
the synthetic sample stands in, in its own file, and the run says so at the start and at the end.

Everything is one run: the prices over the months the source has, and every other asset with its
checks. A failure stops only what depends on it: what sits downstream of an asset that failed or
of a blocking check that failed is left out, everything else builds. What failed, what was
stopped and what was left out, and why, is printed at the end.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import dagster as dg

from pipelines.orphans import process_tags, release_orphaned_runs
from warehouse import settings
from warehouse.db import WarehouseFileError, check_file, connect, connect_active


def banner(text: str) -> None:
    line = "=" * 78
    print(f"\n{line}\n{text}\n{line}", flush=True)


def summary(path, active: settings.Active | None = None) -> str:
    """What the warehouse holds: the file at `path`, or the lake when `active` names one."""
    lake = active is not None and active.lake is not None
    lines = [f"Warehouse: {active.location if lake else path}"]
    with (connect_active(active, read_only=True) if lake else connect(path, read_only=True)) as conn:
        flavour = conn.execute("select value from meta.warehouse_info where key='flavour'").fetchone()
        lines.append(f"Holds: {flavour[0] if flavour else 'nothing yet'} data")
        tables = conn.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where schema_name in ('core', 'staging', 'marts') order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            count = conn.execute(f"select count(*) from {schema}.{table}").fetchone()[0]
            lines.append(f"  {schema}.{table:<28} {count:>10,} rows")
        if ("core", "prices_daily") in tables:
            rows = conn.execute(
                "select source, count(distinct ticker), min(trade_date), max(trade_date) "
                "from core.prices_daily group by 1"
            ).fetchall()
            for source, tickers, first, last in rows:
                lines.append(f"  prices from {source}: {tickers} tickers, {first} .. {last}")
    return "\n".join(lines)


def _first_line(text: str | None) -> str:
    return (text or "no message").strip().splitlines()[0]


@dataclass
class Outcome:
    """What the runs did not do, and why: asset key -> reason."""

    failed: dict[str, str] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)  # a blocking check failed on it
    skipped: dict[str, str] = field(default_factory=dict)

    def record(self, result: dg.ExecuteInProcessResult, asset_of_step: dict[str, list[str]]) -> None:
        for event in result.get_step_failure_events():
            error = getattr(event.event_specific_data, "error", None)
            reason = _first_line(error.message if error else event.message)
            for key in asset_of_step.get(event.step_key, [event.step_key]):
                self.failed[key] = reason
        for evaluation in result.get_asset_check_evaluations():
            if not evaluation.passed and evaluation.blocking:
                key = evaluation.asset_key.to_user_string()
                self.blocked[key] = f"blocking check {evaluation.check_name} failed"

    def stopped(self) -> dict[str, str]:
        return {**self.blocked, **self.failed}

    def report(self) -> str:
        lines = []
        for title, items in (("FAILED", self.failed), ("STOPPED BY A BLOCKING CHECK", self.blocked),
                             ("NOT BUILT (downstream of the above)", self.skipped)):
            if items:
                lines.append(f"{title}:")
                lines += [f"  {key}: {why}" for key, why in sorted(items.items())]
        return "\n".join(lines)


def steps_to_assets(defs: dg.Definitions) -> dict[str, list[str]]:
    """Each step of the asset job (named after its op) -> the asset keys it materialises."""
    return {
        assets_def.node_def.name: sorted(k.to_user_string() for k in assets_def.keys)
        for assets_def in defs.resolve_asset_graph().assets_defs
        if assets_def.is_executable and assets_def.keys
    }


def main() -> int:
    # The definitions ask the same question and get the same answer (decided once per process).
    active = settings.active()
    if active.fallback_reason:
        banner(active.headline)
    else:
        print(active.headline, flush=True)
    try:
        if active.lake is None:
            check_file(active.warehouse)
    except WarehouseFileError as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 2
    # Imported after the environment is settled: resources read it when the definitions load.
    from pipelines.definitions import defs as load_defs

    defs = load_defs()
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    graph = defs.resolve_asset_graph()
    job = defs.resolve_implicit_global_asset_job_def()
    asset_of_step = steps_to_assets(defs)
    tags = {**active.tags(), **process_tags()}
    for run_id in release_orphaned_runs(instance):
        print(f"Run {run_id} of a `make run` that was killed is marked failed (its writer pool is free).")

    keys = partition_keys()
    selection = sorted(k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable)
    partitioned = [k for k in selection if graph.get(k).partitions_def is not None]
    if partitioned and keys:
        # One run: the partitioned prices over the source's months, and everything else.
        tags = {**tags, "dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
        print(f"Materialising {len(selection)} assets, the prices for {keys[0]} .. {keys[-1]}", flush=True)
    else:
        selection = [k for k in selection if k not in partitioned]
        print(f"Materialising {len(selection)} assets", flush=True)
    result = job.execute_in_process(instance=instance, asset_selection=selection, tags=tags, raise_on_error=False)
    outcome = Outcome()
    outcome.record(result, asset_of_step)
    built = materialised(result)
    for key in selection:
        name = key.to_user_string()
        if name not in built and name not in outcome.stopped():
            upstream = stopped_upstream(graph, key, outcome)
            outcome.skipped[name] = f"depends on {upstream}, which did not build" if upstream else "not built"

    path = active.warehouse
    if path.exists() or active.lake is not None:
        try:
            print("\n" + summary(path, active))
        except WarehouseFileError as exc:
            print(f"\n{exc}", file=sys.stderr)
    report = outcome.report()
    if report:
        print("\n" + report)
    if active.fallback_reason:
        banner(active.headline)
    if outcome.stopped():
        print("\nThe run did not build everything: see above (or `make ui` for the run's logs).", file=sys.stderr)
        return 1
    return 0


def partition_keys() -> list[str]:
    """The months `make run` loads: those the active source can have (all of them when it cannot say)."""
    from pipelines.defs.partitions import source_partition_keys
    from pipelines.defs.resources import market_source_from_env
    from warehouse.universe import load_universe

    return source_partition_keys(market_source_from_env().prices(), load_universe())


def ancestors(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen: set[dg.AssetKey] = set()
    todo = list(graph.get(key).parent_keys)
    while todo:
        parent = todo.pop()
        if parent not in seen:
            seen.add(parent)
            todo.extend(graph.get(parent).parent_keys)
    return seen


def materialised(result: dg.ExecuteInProcessResult) -> set[str]:
    return {
        event.asset_key.to_user_string()
        for event in result.all_events
        if event.event_type_value == "ASSET_MATERIALIZATION" and event.asset_key is not None
    }


def stopped_upstream(graph, key: dg.AssetKey, outcome: Outcome) -> str | None:
    stopped = {dg.AssetKey.from_user_string(k) for k in outcome.stopped()}
    upstream = sorted(k.to_user_string() for k in stopped & ancestors(graph, key))
    return upstream[0] if upstream else None


if __name__ == "__main__":
    sys.exit(main())
