"""`make run`: materialise every asset once and say what was loaded, where.

With the live source, reachability is checked first. When Yahoo and FRED cannot be reached the
run says so at the start and at the end, and builds the synthetic sample into its own file
(warehouse/sample.duckdb): sample rows never go into the live warehouse.
"""

import os
import socket
import sys

import dagster as dg

from warehouse import settings
from warehouse.db import connect

LIVE_HOSTS = [("query1.finance.yahoo.com", 443), ("fred.stlouisfed.org", 443)]


def reachable(hosts=LIVE_HOSTS, timeout: float = 3.0) -> list[str]:
    """The hosts that could not be reached (DNS or TCP)."""
    down = []
    for host, port in hosts:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                pass
        except OSError as exc:
            down.append(f"{host} ({exc.__class__.__name__}: {exc})")
    return down


def banner(text: str) -> None:
    line = "=" * 78
    print(f"\n{line}\n{text}\n{line}", flush=True)


def choose_source() -> tuple[str, str | None]:
    kind = settings.source_kind()
    if kind != "live":
        return kind, None
    down = reachable()
    if not down:
        return "live", None
    if os.environ.get("ROTATION_WAREHOUSE"):
        # The user named the file: do not put sample rows into it.
        os.environ["ROTATION_WAREHOUSE"] = str(settings.warehouse_path("sample").with_name(
            settings.warehouse_path().stem + "-sample.duckdb"))
    os.environ["ROTATION_SOURCE"] = "sample"
    return "sample", (
        "LIVE SOURCES UNREACHABLE: " + "; ".join(down) + "\n"
        "Building the SYNTHETIC SAMPLE instead, into " + str(settings.warehouse_path("sample")) + ".\n"
        "The live warehouse was not touched. Its numbers are NOT real market data."
    )


def summary(path) -> str:
    lines = [f"Warehouse: {path}"]
    with connect(path, read_only=True) as conn:
        flavour = conn.execute("select value from meta.warehouse_info where key='flavour'").fetchone()
        lines.append(f"Holds: {flavour[0] if flavour else 'nothing yet'} data")
        tables = conn.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where schema_name in ('core', 'marts') order by 1, 2"
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


def main() -> int:
    kind, warning = choose_source()
    if warning:
        banner(warning)
    else:
        print(f"Source: {kind}", flush=True)
    # Imported after the environment is settled: resources read it when the definitions load.
    from pipelines.definitions import defs as load_defs

    defs = load_defs()
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    from pipelines.defs.partitions import monthly_partitions

    keys = monthly_partitions.get_partition_keys()
    first, last = keys[0], keys[-1]
    repo = defs.get_repository_def()
    partitioned = [k for k in repo.asset_graph.get_all_asset_keys()
                   if repo.asset_graph.get(k).partitions_def is not None]
    ok = True
    if partitioned:
        job = defs.resolve_implicit_global_asset_job_def()
        print(f"Materialising {len(partitioned)} partitioned assets for {first} .. {last}", flush=True)
        result = job.execute_in_process(
            instance=instance,
            asset_selection=partitioned,
            tags={
                "dagster/asset_partition_range_start": first,
                "dagster/asset_partition_range_end": last,
            },
            raise_on_error=False,
        )
        ok &= result.success
    others = [k for k in repo.asset_graph.get_all_asset_keys() if k not in partitioned]
    if others and ok:
        job = defs.resolve_implicit_global_asset_job_def()
        print(f"Materialising {len(others)} unpartitioned assets", flush=True)
        result = job.execute_in_process(instance=instance, asset_selection=others, raise_on_error=False)
        ok &= result.success
    path = settings.warehouse_path()
    if path.exists():
        print("\n" + summary(path))
    if warning:
        banner(warning)
    if not ok:
        print("\nThe run FAILED: see the errors above (or `make ui` for the run's logs).", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
