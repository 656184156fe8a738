"""Loading valuation figures into core.valuations: source batches and the published observations.

Two kinds of rows share the table, told apart by `source`:
- ``live`` / ``files`` / ``sample``: what the configured source gave. A run for a session replaces
  that session's figures from the same source (a second snapshot on one day updates the first;
  a field missing on the second run keeps the first run's figure). Backfill (Yahoo's quarterly
  series) only fills keys the warehouse does not hold, so it never overwrites a snapshot.
- ``published``: config/published_valuations.csv, figures people published (with ``publisher``,
  ``url`` and ``notes`` saying who, where and how the row was read). The file is the truth for
  these rows: a row removed or re-dated in the file is removed here, once the file loads cleanly.

The key is (as_of_date, ticker, metric, source), so a published figure and a live one for the
same day sit side by side, and a model picks by `source` and `method`.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from warehouse import changes, settings
from warehouse.db import transaction
from warehouse.load import LoadResult, TableSpec, rejects_frame, upsert
from warehouse.sources.valuation_files import ParsedValuations, ValuationFileError, read_valuation_csv
from warehouse.sources.valuations import VALUATION_COLUMNS, ValuationBatch
from warehouse.valuation_terms import quarantine_rules

VALUATIONS = TableSpec(
    name="core.valuations",
    key=("as_of_date", "ticker", "metric", "source"),
    date_column="as_of_date",
    values=("value", "basis", "method", "publisher", "url", "notes"),
    rules=quarantine_rules(),
)
PUBLISHED_SOURCE = "published"
PUBLISHED_FILE = "published_valuations.csv"
KEY = ["as_of_date", "ticker", "metric"]


def published_path() -> Path:
    return settings.config_dir() / PUBLISHED_FILE


@dataclass
class ValuationLoad:
    result: LoadResult
    tickers_loaded: list[str]
    tickers_failed: dict[str, str]
    missing: dict[str, list[str]]
    backfill_offered: int
    backfill_skipped: int  # history rows for keys the warehouse (or this batch) already holds
    first_date: dt.date | None
    last_date: dt.date | None
    notes: list[str] = field(default_factory=list)


def new_keys_only(
    conn: duckdb.DuckDBPyConnection, backfill: pd.DataFrame, rows: pd.DataFrame, source: str
) -> pd.DataFrame:
    """The backfill rows whose key is neither in `rows` nor already stored from `source`."""
    if backfill.empty:
        return backfill
    taken = rows[KEY].drop_duplicates() if len(rows) else pd.DataFrame(columns=KEY)
    fresh = backfill.merge(taken, on=KEY, how="left", indicator=True)
    fresh = fresh[fresh["_merge"] == "left_only"].drop(columns="_merge")
    if fresh.empty:
        return fresh[VALUATION_COLUMNS]
    conn.register("_backfill_keys", pa.Table.from_pandas(fresh[KEY], preserve_index=False))
    try:
        stored = conn.execute(
            """
            select b.as_of_date, b.ticker, b.metric from _backfill_keys b
            join core.valuations t using (as_of_date, ticker, metric)
            where t.source = ?
            """,
            [source],
        ).df()
    finally:
        conn.unregister("_backfill_keys")
    if len(stored):
        stored["as_of_date"] = pd.to_datetime(stored["as_of_date"]).dt.date
        fresh = fresh.merge(stored, on=KEY, how="left", indicator=True)
        fresh = fresh[fresh["_merge"] == "left_only"].drop(columns="_merge")
    return fresh[VALUATION_COLUMNS].reset_index(drop=True)


def load_valuations(
    conn: duckdb.DuckDBPyConnection,
    batch: ValuationBatch,
    *,
    source: str,
    run_id: str | None = None,
) -> ValuationLoad:
    """Upsert a source's batch (rows and the new backfill) in one transaction."""
    backfill = new_keys_only(conn, batch.backfill, batch.rows, source)
    frames = [f for f in (batch.rows, backfill) if len(f)]
    rows = pd.concat(frames, ignore_index=True) if frames else batch.rows
    result = upsert(conn, VALUATIONS, rows[VALUATION_COLUMNS], source=source, run_id=run_id,
                    rejects=batch.rejects)
    dates = rows["as_of_date"]
    return ValuationLoad(
        result=result,
        tickers_loaded=sorted(rows["ticker"].unique().tolist()),
        tickers_failed=dict(sorted(batch.failed.items())),
        missing=dict(sorted(batch.missing.items())),
        backfill_offered=len(batch.backfill),
        backfill_skipped=len(batch.backfill) - len(backfill),
        first_date=dates.min() if len(dates) else None,
        last_date=dates.max() if len(dates) else None,
        notes=list(batch.notes),
    )


@dataclass
class PublishedLoad:
    path: Path
    result: LoadResult
    rows: int
    problems: list[str]  # '<file> line <n>: <reason>' for every refused row
    removed: int  # published rows no longer in the file
    notes: list[str] = field(default_factory=list)


def _header_line(path: Path) -> int | None:
    """The line of the file's header: its first line that is not blank or a '#' comment (as the
    reader skips them)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    reader = csv.reader(text.splitlines(keepends=True))
    for cells in reader:
        if cells and any(c.strip() for c in cells) and not cells[0].lstrip().startswith("#"):
            return reader.line_num
    return None


def read_published(path: Path | None = None, today: dt.date | None = None) -> ParsedValuations:
    """The published observations; every row must name its publisher.

    A malformed row is refused with its line (ParsedValuations.problems); a header that cannot be
    used refuses the file with ValuationFileError naming the header's line."""
    path = Path(path or published_path())
    try:
        return read_valuation_csv(path, require_publisher=True, today=today)
    except ValuationFileError as exc:
        prefix = f"{path}: "
        line = _header_line(path) if "header" in str(exc) else None
        if line is None or not str(exc).startswith(prefix):
            raise
        raise ValuationFileError(f"{path} line {line}: {str(exc)[len(prefix):]}") from exc


def load_published(
    conn: duckdb.DuckDBPyConnection,
    path: Path | None = None,
    *,
    run_id: str | None = None,
    today: dt.date | None = None,
) -> PublishedLoad:
    """Load the file's rows as source 'published'; refused lines go to the quarantine."""
    parsed = read_published(path, today)
    result = upsert(conn, VALUATIONS, parsed.rows, source=PUBLISHED_SOURCE, run_id=run_id,
                    rejects=rejects_frame(parsed.rejects))
    notes = list(parsed.notes)
    removed = 0
    if parsed.rejects:
        notes.append(
            f"{parsed.path}: {len(parsed.rejects)} line(s) refused, so published rows no longer "
            "in the file are kept until it loads cleanly"
        )
    else:
        removed = remove_stale_published(conn, parsed.rows, run_id=run_id)
        if removed:
            notes.append(f"removed {removed} published row(s) no longer in {parsed.path}")
    return PublishedLoad(parsed.path, result, len(parsed.rows), parsed.problems, removed, notes)


def remove_stale_published(
    conn: duckdb.DuckDBPyConnection, rows: pd.DataFrame, *, run_id: str | None = None
) -> int:
    """Delete the published rows whose key the file no longer has; the number deleted.

    A deletion is a change of core.valuations from the earliest date deleted.
    """
    keys = pa.Table.from_pandas(rows[KEY], preserve_index=False) if len(rows) else pa.table(
        {"as_of_date": pa.array([], pa.date32()), "ticker": pa.array([], pa.string()),
         "metric": pa.array([], pa.string())}
    )
    with transaction(conn):
        conn.register("_published_keys", keys)
        try:
            stale = (
                "source = ? and not exists (select 1 from _published_keys k where "
                "k.as_of_date = v.as_of_date and k.ticker = v.ticker and k.metric = v.metric)"
            )
            # fetchall, not fetchone: duckdb 2 keeps a statement open until its result is read
            # to the end, and would then refuse to unregister the view.
            count, first = conn.execute(
                f"select count(*), min(as_of_date) from core.valuations v where {stale}",
                [PUBLISHED_SOURCE],
            ).fetchall()[0]
            if count:
                conn.execute(f"delete from core.valuations v where {stale}",
                             [PUBLISHED_SOURCE]).fetchall()
                changes.record(conn, VALUATIONS.name, first, run_id)
        finally:
            conn.unregister("_published_keys")
    return int(count)


def latest_figures(
    conn: duckdb.DuckDBPyConnection, tickers: tuple[str, ...], metric: str, source: str
) -> dict[str, tuple[dt.date, float]]:
    """ticker -> (day, value) of the newest `metric` figure from `source`."""
    rows = conn.execute(
        f"""
        select ticker, as_of_date, value from core.valuations
        where metric = ? and source = ? and ticker in ({", ".join("?" for _ in tickers)})
        qualify row_number() over (partition by ticker order by as_of_date desc) = 1
        """,
        [metric, source, *tickers],
    ).fetchall()
    return {ticker: (day, value) for ticker, day, value in rows}
