"""FRED series into core.rates_daily, and the policy-rate tables derived from them."""

import hashlib

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.metadata import WRITER_POOL, active_metadata, table_metadata
from pipelines.defs.resources import MarketSourceResource
from pipelines.defs.retries import transient_only
from warehouse import rates as rates_db
from warehouse.db import ensure_schema
from warehouse.fomc_reference import default_path as reference_path
from warehouse.fomc_reference import read_reference
from warehouse.universe import load_universe

RATES_KEY = dg.AssetKey(["core", "rates_daily"])
POLICY_KEY = dg.AssetKey(["core", "policy_rate_daily"])
DECISIONS_KEY = dg.AssetKey(["core", "fomc_decisions"])
REFERENCE_KEY = dg.AssetKey(["core", "fomc_reference"])
OWNERS = ["team:data-engineering"]


def row_count(duckdb: DuckDBResource, table: str) -> int:
    with duckdb.get_connection() as conn:
        return conn.execute(f"select count(*) from {table}").fetchone()[0]


@dg.asset(
    key=RATES_KEY,
    pool=WRITER_POOL,
    kinds={"duckdb", "fred"},
    owners=OWNERS,
    tags={"domain": "rates"},
    retry_policy=dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL),
    metadata=table_metadata("core.rates_daily"),
    description=(
        "Observations of the FRED series listed in config/universe.toml [rates] (fed funds, the "
        "target and its range, Treasury yields, the high-yield spread, CPI, unemployment), one row "
        "per series and date. Incremental: each series is fetched from its last stored "
        "observation minus [rates] revision_days, and upserted. Values FRED publishes as '.' or "
        "empty are skipped and counted, never stored. A series that fails is named; the others "
        "still load."
    ),
)
@transient_only
def rates_daily(
    context: dg.AssetExecutionContext,
    duckdb: DuckDBResource,
    market_source: MarketSourceResource,
) -> dg.MaterializeResult:
    universe = load_universe()
    series = universe.rate_series
    if not series:
        context.log.info("config/universe.toml lists no [rates] series: nothing to load.")
        return dg.MaterializeResult(
            metadata={**active_metadata(), "rows_inserted": 0, "skipped_reason": "no [rates] series"}
        )
    with duckdb.get_connection() as conn:
        ensure_schema(conn)
        starts = rates_db.fetch_starts(conn, series, universe.revision_days)
    # The connection is not held while FRED answers: the fetch can take a while.
    source = market_source.rates()
    full = sorted(s for s, start in starts.items() if start is None)
    client = getattr(source, "client", None)  # the live source says which FRED service it asks
    context.log.info(
        f"Fetching {len(series)} series from the {source.name} source"
        f"{f' ({client!r})' if client else ''}; "
        f"whole history for {full or 'none'}, the rest from their last observation minus "
        f"{universe.revision_days} days"
    )
    batch = source.observations(series, starts)
    for note in batch.notes:
        context.log.info(note)
    with duckdb.get_connection() as conn:
        load = rates_db.load_rates(conn, batch, source=source.name, run_id=context.run_id)
        total = conn.execute("select count(*) from core.rates_daily").fetchone()[0]

    for series_id, why in load.series_failed.items():
        context.log.warning(f"{series_id}: not loaded: {why}")
    if not load.series_loaded and load.series_failed:
        first, why = next(iter(load.series_failed.items()))
        raise dg.Failure(
            description=f"No FRED series loaded from the {source.name} source. {first}: {why}",
            metadata={"series_failed": dg.MetadataValue.json(load.series_failed)},
            # Dagster's retries only help with what was transient (time-outs, 429, 5xx), not
            # with a rejected key or unknown series.
            allow_retries=bool(load.retry_may_help),
        )
    r = load.result
    return dg.MaterializeResult(
        metadata={
            **active_metadata(),
            "source": source.name,
            "rows_inserted": r.inserted,
            "rows_updated": r.updated,
            "rows_unchanged": r.unchanged,
            "rows_quarantined": r.quarantined,
            "quarantine_reasons": dg.MetadataValue.json(r.quarantine_reasons),
            "missing_values_skipped": load.missing_values,
            "series_loaded": dg.MetadataValue.json(load.series_loaded),
            "series_failed": dg.MetadataValue.json(load.series_failed),
            "fetch_starts": dg.MetadataValue.json(
                {s: str(d) if d else "full history" for s, d in starts.items()}
            ),
            "first_date": str(load.first_date),
            "last_date": str(load.last_date),
            "dagster/row_count": total,
        }
    )


def _number(value) -> dg.MetadataValue:
    return dg.MetadataValue.float(float(value)) if value is not None else dg.MetadataValue.null()


@dg.asset(
    key=POLICY_KEY,
    deps=[RATES_KEY],
    pool=WRITER_POOL,
    kinds={"duckdb", "sql"},
    owners=OWNERS,
    tags={"domain": "rates"},
    metadata=table_metadata("core.policy_rate_daily"),
    automation_condition=dg.AutomationCondition.eager(),
    description=(
        "The fed funds target and the effective rate on every calendar day from 1990: DFEDTAR "
        "(a single target, to 2008-12-15) spliced with the range DFEDTARL/DFEDTARU (from "
        "2008-12-16), and DFF with whether it sat inside the range. Rebuilt from "
        "core.rates_daily in one transaction."
    ),
)
def policy_rate_daily(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    with duckdb.get_connection() as conn:
        ensure_schema(conn)
        rows = rates_db.rebuild_policy_rate_daily(conn, run_id=context.run_id)
        latest = rates_db.latest_policy(conn)
        outside = conn.execute(
            "select count(*) from core.policy_rate_daily "
            "where target_kind = 'range' and not effective_in_range"
        ).fetchone()[0]
    if latest is None:
        raise dg.Failure(
            description="No policy-rate history: core.rates_daily holds none of DFEDTAR, or "
            "DFEDTARL with DFEDTARU. Add them to [rates] series in config/universe.toml and load "
            "core/rates_daily."
        )
    context.log.info(
        f"{rows} days to {latest['date']}: "
        f"target {latest['target_lower']:.2f}-{latest['target_upper']:.2f}, "
        f"effective {latest['effective']} on {latest['effective_date']}"
    )
    return dg.MaterializeResult(
        metadata={
            **active_metadata(),
            "dagster/row_count": rows,
            "last_date": str(latest["date"]),
            "target_lower": _number(latest["target_lower"]),
            "target_upper": _number(latest["target_upper"]),
            "target_mid": _number(latest["target_mid"]),
            "effective": _number(latest["effective"]),
            "effective_date": str(latest["effective_date"]),
            "range_days_effective_outside": outside,
        }
    )


@dg.asset(
    key=DECISIONS_KEY,
    deps=[POLICY_KEY],
    pool=WRITER_POOL,
    kinds={"duckdb", "sql"},
    owners=OWNERS,
    tags={"domain": "rates"},
    metadata=table_metadata("core.fomc_decisions"),
    automation_condition=dg.AutomationCondition.eager(),
    description=(
        "Every change of the fed funds target from 1990, derived from core.policy_rate_daily and "
        "dated on the day it took effect: the new bounds, the change in basis points, cut or hike, "
        "and the start of the run of same-direction moves (the cycle) it belongs to."
    ),
)
def fomc_decisions(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    with duckdb.get_connection() as conn:
        ensure_schema(conn)
        rows = rates_db.rebuild_fomc_decisions(conn, run_id=context.run_id)
        cuts = rates_db.latest_easing_cycle(conn)
        last = conn.execute(
            "select effective_date, change_bp, target_lower, target_upper from core.fomc_decisions "
            "order by effective_date desc limit 1"
        ).fetchone()
    cycle = [
        {"effective_date": str(day), "change_bp": change, "target": f"{lower:.2f}-{upper:.2f}"}
        for day, change, lower, upper in cuts
    ]
    context.log.info(f"{rows} decisions; the latest easing cycle: {cycle}")
    metadata = {
        "dagster/row_count": rows,
        "latest_easing_cycle": dg.MetadataValue.json(cycle),
        "cuts_in_latest_easing_cycle": len(cuts),
    }
    if last is not None:
        metadata["latest_decision"] = str(last[0])
        metadata["latest_change_bp"] = last[1]
    return dg.MaterializeResult(metadata={**active_metadata(), **metadata})


def reference_version() -> str:
    """A new code version whenever the shipped file changes, so the asset shows as changed.

    The file is read (and validated) first: a malformed fomc_decisions.csv stops the definitions
    from loading, naming the file and the line, in the CLI and in the UI."""
    path = reference_path()
    if not path.exists():
        return "missing"
    read_reference(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


@dg.asset(
    key=REFERENCE_KEY,
    pool=WRITER_POOL,
    kinds={"duckdb", "csv"},
    owners=OWNERS,
    tags={"domain": "rates"},
    code_version=reference_version(),
    metadata={
        **table_metadata("core.fomc_reference"),
        "file": dg.MetadataValue.path(str(reference_path())),
    },
    automation_condition=dg.AutomationCondition.on_missing()
    | dg.AutomationCondition.code_version_changed(),
    description=(
        "The FOMC's changes of the fed funds target as published, from config/fomc_decisions.csv "
        "(edited by hand; a bad row is refused with its line). Replaced whole on every load; the "
        "decisions_match_reference check on core/fomc_decisions compares the two."
    ),
)
def fomc_reference(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    with duckdb.get_connection() as conn:
        ensure_schema(conn)
        rows = rates_db.load_fomc_reference(conn, run_id=context.run_id)
        last = conn.execute("select max(effective_date) from core.fomc_reference").fetchone()[0]
    context.log.info(f"{rows} published decisions, the latest effective {last}")
    return dg.MaterializeResult(metadata={**active_metadata(), "dagster/row_count": rows, "latest_decision": str(last)})
