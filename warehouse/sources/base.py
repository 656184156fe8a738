"""The interface every source implements, and the standard shapes of what it returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from warehouse.load import ORIGIN_COLUMNS as ORIGIN_COLUMNS
from warehouse.load import empty_rejects

# The standard frame of daily bars: one row per ticker and session.
PRICE_COLUMNS = ["ticker", "trade_date", "open", "high", "low", "close", "adj_close", "volume"]
# Optional columns after them, ORIGIN_COLUMNS: the file and line of each bar (the files source),
# so a bar the loader refuses is quarantined with where it came from. Never stored.


def empty_bars() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ticker": pd.Series(dtype="str"),
            "trade_date": pd.Series(dtype="object"),
            **{c: pd.Series(dtype="float64") for c in PRICE_COLUMNS[2:]},
        }
    )


@dataclass
class PriceBatch:
    """Daily bars from a source, with everything it could not deliver said by name."""

    bars: pd.DataFrame  # PRICE_COLUMNS (+ ORIGIN_COLUMNS, optional); trade_date holds datetime.date values
    failed: dict[str, str] = field(default_factory=dict)  # ticker -> why nothing was loaded
    rejects: pd.DataFrame = field(default_factory=empty_rejects)  # rows refused, for quarantine
    skipped_blank: int = 0  # rows with blank or null cells, skipped and counted
    notes: list[str] = field(default_factory=list)

    @property
    def tickers(self) -> list[str]:
        return sorted(self.bars["ticker"].unique().tolist())


class SourceError(RuntimeError):
    """A source could not answer at all (as opposed to failing for some tickers)."""


class Source(Protocol):
    name: str  # 'live' | 'files' | 'sample': written to every row's `source` column

    def daily_bars(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> PriceBatch:
        """Bars for sessions from start to end inclusive. Never raises for a single ticker."""
        ...

    def first_date(self, tickers: Sequence[str]) -> dt.date | None:
        """The earliest date the source has bars for, among these tickers; None when it cannot tell
        without fetching them (then the history start is assumed). Cheap: no download, no full read."""
        ...


def open_source(kind: str, files_dir: Path | str | None = None, **options) -> Source:
    """The source of that kind; `files` needs the folder it reads."""
    if kind == "live":
        from warehouse.sources.live import LiveSource

        return LiveSource(**options)
    if kind == "files":
        from warehouse.sources.files import FilesSource

        if not files_dir:
            raise SourceError(
                "ROTATION_SOURCE=files needs ROTATION_FILES_DIR: the folder holding prices/<SYMBOL>.csv"
            )
        return FilesSource(Path(files_dir))
    if kind == "sample":
        from warehouse.sources.sample import SampleSource

        return SampleSource()
    raise SourceError(f"unknown source {kind!r}: use live, files or sample")
