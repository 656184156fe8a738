"""Valuation figures into core.valuations: the daily snapshot of the configured source, and the
published observations of config/published_valuations.csv.

Both write the one table, told apart by its `source` column ('published' for the file's rows).
The published rows have an asset of their own so an edit of the file loads without asking Yahoo;
core/valuations depends on it, so models reading core.valuations sit downstream of both (they see
a published edit with the next snapshot run, or when core/valuations is materialised).
"""

import hashlib

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.metadata import WRITER_POOL, active_metadata, column_schema, table_metadata
from pipelines.defs.resources import MarketSourceResource
from pipelines.defs.retries import transient_only
from warehouse import calendar
from warehouse.db import ensure_schema
from warehouse.sources.live import TRANSIENT
from warehouse.sources.valuation_files import ValuationFileError
from warehouse.sources.valuations import SnapshotDateError
from warehouse.universe import load_universe
from warehouse.valuations import (
    PUBLISHED_SOURCE,
    latest_figures,
    load_published,
    load_valuations,
    published_path,
)

VALUATIONS_KEY = dg.AssetKey(["core", "valuations"])
PUBLISHED_KEY = dg.AssetKey(["core", "valuations_published"])
OWNERS = ["team:data-engineering"]
TABLE = "core.valuations"
# The headline figures every snapshot reports, to follow in the UI from run to run.
HEADLINE_TICKERS = ("IWM", "SPY")
HEADLINE_METRIC = "pe_trailing"


def published_version() -> str:
    """A new code version whenever the file changes, so an edit shows (and re-runs) the asset."""
    path = published_path()
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else "missing"


def _float(value) -> dg.MetadataValue:
    return dg.MetadataValue.float(float(value)) if value is not None else dg.MetadataValue.null()


@dg.asset(
    key=PUBLISHED_KEY,
    pool=WRITER_POOL,
    kinds={"duckdb", "csv"},
    owners=OWNERS,
    tags={"domain": "valuations"},
    code_version=published_version(),
    metadata={
        "dagster/column_schema": column_schema(TABLE),
        "table": TABLE,
        "file": dg.MetadataValue.path(str(published_path())),
    },
    automation_condition=(
        dg.AutomationCondition.on_missing() | dg.AutomationCondition.code_version_changed()
    ),
    description=(
        "Valuation figures published before or beside the warehouse (the Russell 2000 at 18.11x vs "
        "the S&P 500 at 22.3x in January 2026, the S&P 600 at 15x forward, the historical 5-10% "
        "small-cap discount, ...), from config/published_valuations.csv, edited by hand: each "
        "row names its publisher, url, basis and method, and how a vague date was read. Loaded "
        "into core.valuations with source = 'published'. A malformed row is refused with its line "
        "number (quarantined) and the others load; rows removed from the file are removed once it "
        "loads cleanly. Skipped in the sample warehouse, which holds synthetic data only."
    ),
)
def valuations_published(
    context: dg.AssetExecutionContext,
    duckdb: DuckDBResource,
    market_source: MarketSourceResource,
) -> dg.MaterializeResult:
    if market_source.kind == "sample":
        reason = "the sample warehouse holds synthetic data only; published figures are real"
        context.log.info(f"Not loading {published_path()}: {reason}.")
        return dg.MaterializeResult(metadata={**active_metadata(), "rows_in_file": 0, "skipped_reason": reason})
    try:
        with duckdb.get_connection() as conn:
            ensure_schema(conn)
            load = load_published(conn, run_id=context.run_id)
            publishers = dict(conn.execute(
                f"select publisher, count(*) from {TABLE} where source = ? group by 1 order by 1",
                [PUBLISHED_SOURCE],
            ).fetchall())
    except ValuationFileError as exc:
        raise dg.Failure(description=str(exc)) from exc
    for problem in load.problems:
        context.log.warning(f"refused: {problem}")
    for note in load.notes:
        context.log.info(note)
    r = load.result
    return dg.MaterializeResult(
        metadata={
            **active_metadata(),
            "rows_in_file": load.rows,
            "rows_inserted": r.inserted,
            "rows_updated": r.updated,
            "rows_unchanged": r.unchanged,
            "rows_refused": len(load.problems),
            "refused_lines": dg.MetadataValue.json(load.problems),
            "rows_removed": load.removed,
            "rows_by_publisher": dg.MetadataValue.json(publishers),
            "dagster/row_count": sum(publishers.values()),
        }
    )


@dg.asset(
    key=VALUATIONS_KEY,
    deps=[PUBLISHED_KEY],
    pool=WRITER_POOL,
    kinds={"duckdb", "yfinance"},
    owners=OWNERS,
    tags={"domain": "valuations"},
    retry_policy=dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL),
    metadata=table_metadata(TABLE),
    description=(
        "The valuation snapshot of the last completed NYSE session for the [valuations] tickers "
        "of config/universe.toml: Yahoo's trailingPE, forwardPE, priceToBook, ... from "
        "Ticker.info and, for funds, the holdings averages of Ticker.funds_data (P/E, P/B, P/S, "
        "P/CF), plus Yahoo's quarterly valuation series for stocks as backfill (it never "
        "overwrites a snapshot). Free sources give valuations only as of now, so the history "
        "builds up one snapshot a day; past days cannot be snapshotted, and a run while the "
        "market is open is skipped. A missing field is no row, counted by ticker, never a zero. "
        "Re-running on the same day replaces that day's figures. The files source loads "
        "valuations.csv; the sample a synthetic history."
    ),
)
@transient_only
def valuations(
    context: dg.AssetExecutionContext,
    duckdb: DuckDBResource,
    market_source: MarketSourceResource,
) -> dg.MaterializeResult:
    universe = load_universe()
    tickers = universe.valuation_tickers
    if not tickers:
        context.log.info("config/universe.toml lists no [valuations] tickers: nothing to load.")
        return dg.MaterializeResult(
            metadata={**active_metadata(), "rows_inserted": 0, "skipped_reason": "no [valuations] tickers"})
    day = calendar.last_completed_session()
    source = market_source.valuations()
    context.log.info(
        f"Valuations of {len(tickers)} tickers from the {source.name} source as of {day}")
    try:
        batch = source.valuations(tickers, day, universe.history_start)
    except SnapshotDateError as exc:
        context.log.warning(f"No snapshot taken: {exc}")
        return dg.MaterializeResult(
            metadata={**active_metadata(), "snapshot_day": str(day), "skipped_reason": str(exc)}
        )
    for note in batch.notes:
        context.log.info(note)
    with duckdb.get_connection() as conn:
        ensure_schema(conn)
        load = load_valuations(conn, batch, source=source.name, run_id=context.run_id)
        headline = latest_figures(conn, HEADLINE_TICKERS, HEADLINE_METRIC, source.name)
        total = conn.execute(f"select count(*) from {TABLE}").fetchall()[0][0]

    for ticker, why in load.tickers_failed.items():
        context.log.warning(f"{ticker}: not loaded: {why}")
    for ticker, fields in load.missing.items():
        context.log.info(f"{ticker}: {len(fields)} field(s) missing, no row: {', '.join(fields)}")
    if not load.tickers_loaded and load.tickers_failed:
        raise dg.Failure(
            description=f"No valuation loaded from the {source.name} source.",
            metadata={"tickers_failed": dg.MetadataValue.json(load.tickers_failed)},
            # A rate limit may pass in the retry's 30 s; an unknown symbol will not.
            allow_retries=any(TRANSIENT.search(why) for why in load.tickers_failed.values()),
        )
    r = load.result
    iwm, spy = (headline.get(t) for t in HEADLINE_TICKERS)
    same_day = iwm is not None and spy is not None and iwm[0] == spy[0]
    return dg.MaterializeResult(
        metadata={
            **active_metadata(),
            "source": source.name,
            "snapshot_day": str(day),
            "rows_inserted": r.inserted,
            "rows_updated": r.updated,
            "rows_unchanged": r.unchanged,
            "rows_quarantined": r.quarantined,
            "quarantine_reasons": dg.MetadataValue.json(r.quarantine_reasons),
            "fields_missing": sum(len(f) for f in load.missing.values()),
            "fields_missing_by_ticker": dg.MetadataValue.json(
                {t: len(f) for t, f in load.missing.items()}),
            "fields_missing_detail": dg.MetadataValue.json(load.missing),
            "backfill_rows_offered": load.backfill_offered,
            "backfill_rows_already_held": load.backfill_skipped,
            "tickers_loaded": len(load.tickers_loaded),
            "tickers_failed": dg.MetadataValue.json(load.tickers_failed),
            "first_date": str(load.first_date),
            "last_date": str(load.last_date),
            "iwm_pe_trailing": _float(iwm[1] if iwm else None),
            "spy_pe_trailing": _float(spy[1] if spy else None),
            "iwm_spy_pe_discount_trailing": _float(1 - iwm[1] / spy[1] if same_day else None),
            "headline_as_of": str(iwm[0] if iwm else spy[0] if spy else None),
            "dagster/row_count": total,
        }
    )
