"""Index members into core.index_members: snapshots of each configured index's members, from the
holdings of the fund that tracks it ([indexes] in config/universe.toml)."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.metadata import WRITER_POOL, active_metadata, table_metadata
from pipelines.defs.resources import MarketSourceResource
from pipelines.defs.retries import transient_only
from warehouse import calendar
from warehouse.db import ensure_schema
from warehouse.members import TABLE, load_snapshots, stored_snapshots, summary
from warehouse.universe import load_universe

MEMBERS_KEY = dg.AssetKey(["core", "index_members"])
OWNERS = ["team:data-engineering"]


def _plain(values: dict) -> dg.MetadataValue:
    return dg.MetadataValue.json({k: v for k, v in sorted(values.items())})


@dg.asset(
    key=MEMBERS_KEY,
    pool=WRITER_POOL,
    kinds={"duckdb", "csv"},
    owners=OWNERS,
    tags={"domain": "membership"},
    retry_policy=dg.RetryPolicy(max_retries=2, delay=60, backoff=dg.Backoff.EXPONENTIAL),
    metadata=table_metadata(TABLE),
    description=(
        "The members of each index of [indexes] in config/universe.toml (Russell 2000, S&P 600, "
        "S&P 500; Russell 3000 when enabled), point in time: one snapshot per index and session, "
        "the equity holdings of the iShares fund that tracks it (IWM, IJR, IVV, IWV) as its "
        "holdings file listed them. Membership on a session is the latest snapshot on or before "
        "it; before an index's first snapshot there is none. Live: the fund's holdings download, "
        "the latest file every run plus the month ends not held yet, back as far as iShares "
        "answers. Files: holdings CSVs in ROTATION_FILES_DIR/holdings/ (any name; the fund and "
        "date come from the file). Sample: synthetic members, monthly. Cash, money market, "
        "collateral, futures, rights, CVRs, warrants, escrows and unlisted lines are not members: "
        "each row left out is counted by reason. Holdings tickers become Yahoo symbols (MOGA -> "
        "MOG-A) by config/holding_symbols.csv and safe rules; a member that cannot be mapped is "
        "named and not loaded. A snapshot is replaced whole when it is loaded again."
    ),
)
@transient_only
def index_members(
    context: dg.AssetExecutionContext,
    duckdb: DuckDBResource,
    market_source: MarketSourceResource,
) -> dg.MaterializeResult:
    universe = load_universe()
    if not universe.indexes:
        context.log.info("config/universe.toml configures no [indexes]: no members to load.")
        return dg.MaterializeResult(
            metadata={**active_metadata(), "snapshots_loaded": 0, "skipped_reason": "no [indexes] configured"})
    source = market_source.members()
    until = calendar.last_completed_session()
    with duckdb.get_connection() as conn:
        ensure_schema(conn)
        stored = stored_snapshots(conn)
    ids = ", ".join(i.index_id for i in universe.indexes)
    context.log.info(f"Members of {ids} from the {source.name} source, up to {until}")
    start = universe.history_start if universe.start_configured else None
    batch = source.snapshots(universe.indexes, stored, until, start)
    for note in batch.notes:
        context.log.info(note)
    for what, why in batch.skipped.items():
        context.log.info(f"{what}: skipped: {why}")
    for what, why in batch.failed.items():
        context.log.warning(f"{what}: not loaded: {why}")

    with duckdb.get_connection() as conn:
        load = load_snapshots(conn, batch.snapshots, source=source.name, run_id=context.run_id)
        held = summary(conn)
        total = conn.execute(f"select count(*) from {TABLE}").fetchall()[0][0]
    for index_id, names in load.unmapped.items():
        context.log.warning(
            f"{index_id}: {len(names)} member(s) without a Yahoo symbol, not loaded: " + "; ".join(names[:20]))
    for index_id, names in load.class_share_candidates.items():
        context.log.info(
            f"{index_id}: possibly class shares written without their separator (loaded as written; "
            f"check and list them in config/holding_symbols.csv): {', '.join(names)}")

    # A fund that failed does not fail the asset: the prices of the day depend on it in the daily
    # job, and an unreachable iShares must not stop them. The breadth downstream runs on the last
    # snapshot held; the warning above and funds_failed say why, and the snapshots_recent check
    # shows an index without a recent snapshot (or without any).
    without = [i.index_id for i in universe.indexes if i.index_id not in held]
    if without:
        context.log.warning(f"No membership held for {', '.join(without)}: index breadth has nothing to count for it.")
    loaded = {i: load.inserted.get(i, 0) + load.replaced.get(i, 0) for i in sorted({*load.inserted, *load.replaced})}
    left_out: dict[str, int] = {}
    for reasons in load.left_out.values():
        for reason, count in reasons.items():
            left_out[reason] = left_out.get(reason, 0) + count
    return dg.MaterializeResult(
        metadata={
            **active_metadata(),
            "source": source.name,
            "last_session": str(until),
            "snapshots_loaded_by_index": _plain(loaded),
            "snapshots_new_by_index": _plain(load.inserted),
            "snapshots_replaced_by_index": _plain(load.replaced),
            "snapshots_unchanged_by_index": _plain(load.unchanged),
            "members_latest_by_index": _plain({i: s["members_latest"] for i, s in held.items()}),
            "snapshots_held_by_index": _plain({i: s["snapshots"] for i, s in held.items()}),
            "snapshot_range_by_index": _plain({i: f"{s['first']} .. {s['latest']}" for i, s in held.items()}),
            "rows_left_out": _plain(left_out),
            "rows_left_out_by_index": _plain(load.left_out),
            "unmapped_members": _plain(load.unmapped),
            "unmapped_count": sum(len(v) for v in load.unmapped.values()),
            "class_share_candidates": _plain(load.class_share_candidates),
            "funds_failed": _plain(batch.failed),
            "indexes_without_members": ", ".join(without) or "none",
            "files_skipped": _plain(batch.skipped),
            "rows_written": load.rows_written,
            "changed_from": str(load.changed_from) if load.changed_from else dg.MetadataValue.null(),
            "dagster/row_count": total,
        }
    )
