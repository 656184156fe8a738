"""The `files` source: a folder of the user's own exports.

Layout of the folder: ``prices/<SYMBOL>.csv`` (indices by their symbol, e.g. ``^RUT.csv``).

A file loads from its first row: `daily_bars` returns every row in the range it is asked for, and
the prices asset asks for the whole history (from the earliest row `first_date` finds) when a run
covers the first partition. Rows before `history.start` are left out there, counted and named.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from warehouse.load import rejects_frame
from warehouse.sources.base import ORIGIN_COLUMNS, PRICE_COLUMNS, PriceBatch, SourceError, empty_bars
from warehouse.sources.price_file import PriceFileError, _header, parse_date, read_price_file

# Bytes read from each end of a file to find its first and last dates, and rows tried at each end.
EDGE_BYTES = 16_384
EDGE_ROWS = 50


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
                parsed = read_price_file(path, ticker, with_origin=True)
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
        # Each bar keeps its file and line (ORIGIN_COLUMNS): a bar the loader refuses is quarantined with them.
        return PriceBatch(bars[[c for c in (*PRICE_COLUMNS, *ORIGIN_COLUMNS) if c in bars]], failed,
                          rejects_frame(rejects), skipped, notes)

    def first_date(self, tickers: Sequence[str]) -> dt.date | None:
        """The earliest date in the price files of these tickers (None when none has a readable date).

        Read cheaply: the header and the rows at both ends of each file, since exports run oldest or
        newest first; the whole file is read only when neither end has a date that parses.
        """
        dates = [d for t in tickers if (d := first_date_in_file(self.price_path(t))) is not None]
        return min(dates) if dates else None


def _dates(rows: list[list[str]], column: int) -> list[dt.date]:
    out = []
    for row in rows:
        if column < len(row) and (day := parse_date(row[column])) is not None:
            out.append(day)
    return out


def _edge_dates(path: Path, head: bytes, tail: bytes, size: int) -> list[dt.date] | None:
    """The dates of the rows at both ends (the whole file when `head` holds it); None: no date column."""
    head_rows = list(csv.reader(io.StringIO(head.decode("utf-8-sig", errors="replace"))))
    if not head_rows:
        return None
    names, start, _ = _header(head_rows, path)
    if "date" not in names:
        return None
    column = names.index("date")
    if size <= len(head):
        return _dates(head_rows[start:], column)
    # The row cut at the end of `head` and the one cut at the start of `tail` are left out.
    first_rows = head_rows[start:-1][:EDGE_ROWS]
    last_rows = list(csv.reader(tail.decode("utf-8", errors="replace").splitlines()[1:]))[-EDGE_ROWS:]
    return _dates(first_rows, column) + _dates(last_rows, column)


def first_date_in_file(path: Path) -> dt.date | None:
    """The earliest date of a price file, from its first and last rows; None if it has none."""
    if not path.is_file():
        return None
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(EDGE_BYTES)
        fh.seek(max(0, size - EDGE_BYTES))
        tail = fh.read()
    try:
        found = _edge_dates(path, head, tail, size)
    except csv.Error:  # a quoted cell cut by the partial read
        found = []
    if found is None:
        return None
    if found:
        return min(found)
    try:
        bars = read_price_file(path, path.stem).bars
    except PriceFileError:
        return None
    return bars["trade_date"].min() if len(bars) else None

