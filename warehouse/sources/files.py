"""The `files` source: a folder of the user's own exports.

Layout of the folder: ``prices/<SYMBOL>.csv`` (indices by their symbol, e.g. ``^RUT.csv``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from warehouse.load import rejects_frame
from warehouse.sources.base import PRICE_COLUMNS, PriceBatch, SourceError, empty_bars
from warehouse.sources.price_file import PriceFileError, read_price_file


class FilesSource:
    name = "files"

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceError(
                f"ROTATION_FILES_DIR={self.folder} is not a folder: point it at the folder that "
                "holds prices/<SYMBOL>.csv"
            )

    def price_path(self, ticker: str) -> Path:
        return self.folder / "prices" / f"{ticker}.csv"

    def daily_bars(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> PriceBatch:
        frames, rejects, failed, notes, skipped = [], [], {}, [], 0
        for ticker in tickers:
            path = self.price_path(ticker)
            if not path.exists():
                failed[ticker] = f"no file {path}"
                continue
            try:
                parsed = read_price_file(path, ticker)
            except PriceFileError as exc:
                failed[ticker] = str(exc)
                continue
            in_range = parsed.bars["trade_date"].between(start, end)
            if in_range.any():
                frames.append(parsed.bars[in_range])
            rejects.extend(parsed.rejects)
            skipped += parsed.skipped_blank
            if parsed.skipped_blank:
                notes.append(f"{path.name}: skipped {parsed.skipped_blank} rows with blank or null cells")
        bars = pd.concat(frames, ignore_index=True) if frames else empty_bars()
        return PriceBatch(bars[PRICE_COLUMNS], failed, rejects_frame(rejects), skipped, notes)
