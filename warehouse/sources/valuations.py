"""The valuation interface every source implements, and the standard shape of what it returns.

Free sources give valuations only as of today, so the warehouse builds its own history from daily
snapshots. A source answers two questions:
- ``snapshot(tickers, as_of)``: the figures as of one session. The live source can only take the
  snapshot of the current session; asking it for any other day raises SnapshotDateError.
- ``valuations(tickers, as_of, start)``: everything to load on the run for the session ``as_of``:
  the snapshot where the source takes snapshots, and the dated history it holds from ``start``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from warehouse.load import empty_rejects
from warehouse.sources.base import SourceError

# The standard frame of valuation figures: one row per day, ticker and metric.
VALUATION_COLUMNS = [
    "as_of_date", "ticker", "metric", "value", "basis", "method", "publisher", "url", "notes",
]
TEXT_COLUMNS = ["ticker", "metric", "basis", "method", "publisher", "url", "notes"]


def empty_valuations() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "as_of_date": pd.Series(dtype="object"),
            **{c: pd.Series(dtype="str") for c in TEXT_COLUMNS[:4]},
            "value": pd.Series(dtype="float64"),
            **{c: pd.Series(dtype="object") for c in TEXT_COLUMNS[4:]},
        }
    )[VALUATION_COLUMNS]


def valuation_frame(records: list[dict]) -> pd.DataFrame:
    """The standard frame from dicts with the VALUATION_COLUMNS keys (publisher, url, notes
    optional)."""
    if not records:
        return empty_valuations()
    frame = pd.DataFrame.from_records(records).reindex(columns=VALUATION_COLUMNS)
    frame["value"] = frame["value"].astype("float64")
    for name in ("publisher", "url", "notes"):
        frame[name] = frame[name].astype("object").where(frame[name].notna(), None)
    return frame


@dataclass
class ValuationBatch:
    """Valuation figures from a source, with everything it could not deliver said by name."""

    # Figures the source states for their day; they replace an earlier load of the same key.
    rows: pd.DataFrame = field(default_factory=empty_valuations)
    # History the provider reconstructs later (Yahoo's quarterly series): it only fills days the
    # warehouse holds nothing for, so a snapshot taken on the day is never overwritten by it.
    backfill: pd.DataFrame = field(default_factory=empty_valuations)
    missing: dict[str, list[str]] = field(default_factory=dict)  # ticker -> fields absent: no row
    failed: dict[str, str] = field(default_factory=dict)  # ticker (or file) -> why nothing came
    rejects: pd.DataFrame = field(default_factory=empty_rejects)  # rows refused, for quarantine
    notes: list[str] = field(default_factory=list)

    @property
    def missing_count(self) -> int:
        return sum(len(fields) for fields in self.missing.values())

    @property
    def tickers(self) -> list[str]:
        return sorted(set(self.rows["ticker"]) | set(self.backfill["ticker"]))


class SnapshotDateError(SourceError):
    """A snapshot was asked for a day the source cannot observe (live sources see only now)."""


class ValuationSource(Protocol):
    name: str  # 'live' | 'files' | 'sample': written to every row's `source` column

    def snapshot(self, tickers: Sequence[str], as_of: dt.date) -> ValuationBatch:
        """The figures as of the session `as_of`. Never raises for a single ticker."""
        ...

    def valuations(self, tickers: Sequence[str], as_of: dt.date, start: dt.date) -> ValuationBatch:
        """What a run for the session `as_of` loads: its snapshot and any history from `start`."""
        ...


def open_valuations_source(
    kind: str, files_dir: Path | str | None = None, **options
) -> ValuationSource:
    """The valuation source of that kind; `files` needs the folder holding valuations.csv."""
    if kind == "live":
        from warehouse.sources.yahoo_valuations import YahooValuationSource

        return YahooValuationSource(**options)
    if kind == "files":
        from warehouse.sources.valuation_files import FilesValuationSource

        if not files_dir:
            raise SourceError(
                "ROTATION_SOURCE=files needs ROTATION_FILES_DIR: the folder holding valuations.csv"
            )
        return FilesValuationSource(Path(files_dir))
    if kind == "sample":
        from warehouse.sources.sample_valuations import SampleValuationSource

        return SampleValuationSource(**options)
    raise SourceError(f"unknown source {kind!r}: use live, files or sample")
