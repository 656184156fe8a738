"""The `live` rates source: one FRED client (API or keyless CSV) asked series by series."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from warehouse.sources.fred import FredApiClient, FredCsvClient, FredError, FredKeyRejected
from warehouse.sources.rates import RATE_COLUMNS, RateBatch, Starts, empty_observations, start_of


class LiveRatesSource:
    name = "live"

    def __init__(self, client: FredApiClient | FredCsvClient):
        self.client = client

    def observations(self, series: Sequence[str], starts: Starts | None = None) -> RateBatch:
        frames: list[pd.DataFrame] = []
        failed: dict[str, str] = {}
        notes: list[str] = []
        missing = 0
        retry_may_help: set[str] = set()
        wanted = list(dict.fromkeys(series))
        for i, series_id in enumerate(wanted):
            try:
                parsed = self.client.fetch(series_id, start_of(starts, series_id), notes)
            except FredKeyRejected as exc:
                # Every later request would be refused the same way: stop asking.
                for rest in wanted[i:]:
                    failed[rest] = str(exc)
                notes.append(
                    f"stopped after FRED rejected the API key; {len(wanted) - i} series not loaded"
                )
                break
            except FredError as exc:
                failed[series_id] = str(exc)
                if exc.transient:
                    retry_may_help.add(series_id)
                continue
            if len(parsed.observations):
                frames.append(parsed.observations)
            missing += len(parsed.missing_dates)
        observations = pd.concat(frames, ignore_index=True) if frames else empty_observations()
        return RateBatch(
            observations[RATE_COLUMNS], failed, missing, notes=notes, retry_may_help=retry_may_help
        )
