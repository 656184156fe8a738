"""The interface every rates source implements, and the standard shape of what it returns.

A rates source answers one question: the observations of some FRED series, each from a start
date (or from its first observation). Live (FRED's API or its keyless CSV download), files (a
folder of FRED CSV downloads) and sample (synthetic series) implement it alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from warehouse.load import empty_rejects
from warehouse.sources.base import SourceError

# The standard frame of observations: one row per series and date, missing values never present.
RATE_COLUMNS = ["series_id", "obs_date", "value"]

# Per series, the first date wanted; None (or a series not named) means the whole history.
Starts = Mapping[str, "dt.date | None"]


def empty_observations() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series_id": pd.Series(dtype="str"),
            "obs_date": pd.Series(dtype="object"),
            "value": pd.Series(dtype="float64"),
        }
    )


@dataclass
class RateBatch:
    """Observations from a source, with everything it could not deliver said by name."""

    observations: pd.DataFrame  # RATE_COLUMNS; obs_date holds datetime.date values
    failed: dict[str, str] = field(default_factory=dict)  # series -> why nothing was loaded
    missing_count: int = 0  # observations published as '.' or empty: skipped, never stored as 0
    rejects: pd.DataFrame = field(default_factory=empty_rejects)  # rows refused, for quarantine
    notes: list[str] = field(default_factory=list)
    # Series that failed on something transient (a time-out, HTTP 429 or 5xx): a later retry may
    # load them, unlike an unknown series or a rejected key.
    retry_may_help: set[str] = field(default_factory=set)

    @property
    def series(self) -> list[str]:
        return sorted(self.observations["series_id"].unique().tolist())


class RatesSource(Protocol):
    name: str  # 'live' | 'files' | 'sample': written to every row's `source` column

    def observations(self, series: Sequence[str], starts: Starts | None = None) -> RateBatch:
        """Observations of each series from its start on. Never raises for a single series."""
        ...


def start_of(starts: Starts | None, series_id: str) -> dt.date | None:
    return (starts or {}).get(series_id)


def open_rates_source(
    kind: str,
    files_dir: Path | str | None = None,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    **options,
) -> RatesSource:
    """The rates source of that kind.

    `live` uses FRED's API through fredapi when an API key is given, else FRED's keyless CSV
    download; `base_url` (ROTATION_FRED_BASE_URL) points both at a mirror or a test server.
    """
    if kind == "live":
        from warehouse.sources.fred import FredApiClient, FredCsvClient
        from warehouse.sources.live_rates import LiveRatesSource

        client = (
            FredApiClient(api_key, base_url=base_url, **options)
            if api_key
            else FredCsvClient(base_url=base_url, **options)
        )
        return LiveRatesSource(client)
    if kind == "files":
        from warehouse.sources.rate_files import FilesRatesSource

        if not files_dir:
            raise SourceError(
                "ROTATION_SOURCE=files needs ROTATION_FILES_DIR: the folder holding fred/<ID>.csv"
            )
        return FilesRatesSource(Path(files_dir))
    if kind == "sample":
        from warehouse.sources.sample_rates import SampleRatesSource

        return SampleRatesSource(**options)
    raise SourceError(f"unknown source {kind!r}: use live, files or sample")
