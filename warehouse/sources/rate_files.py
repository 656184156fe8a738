"""FRED's CSV layouts, read from a file of the `files` source or from the keyless download.

Layouts recognised (by the header, not by the file name):
- today's fredgraph CSV: ``observation_date,<ID>``, a missing value is an empty cell;
- the older one: ``DATE,<ID>``, a missing value is ``.``.
Either may hold ISO dates (``1954-07-01``) or US ones (``7/1/1954``, as a spreadsheet re-saves
them). A missing value becomes no row, counted; it is never read as zero.

The `files` source reads ``fred/<ID>.csv`` in the folder named by ROTATION_FILES_DIR.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from warehouse.load import rejects_frame
from warehouse.sources.base import SourceError
from warehouse.sources.rates import RATE_COLUMNS, RateBatch, Starts, empty_observations, start_of

DATE_HEADERS = {"observation_date", "date"}
MISSING = {"", "."}
ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


class FredCsvError(ValueError):
    """The text is not a FRED CSV of the series asked for; the message says where and why."""


@dataclass
class ParsedSeries:
    observations: pd.DataFrame  # RATE_COLUMNS
    missing_dates: list[dt.date] = field(default_factory=list)  # published as '.' or empty
    rejects: list[dict] = field(default_factory=list)  # rows that cannot be read, with the line
    layout: str = ""

    def since(self, start: dt.date | None) -> ParsedSeries:
        """The part of the series from `start` on (all of it for None)."""
        if start is None:
            return self
        keep = self.observations["obs_date"] >= start
        return ParsedSeries(
            self.observations[keep].reset_index(drop=True),
            [d for d in self.missing_dates if d >= start],
            self.rejects,
            self.layout,
        )


def parse_date(text: str) -> dt.date | None:
    """ISO (1954-07-01) or US month/day/year (7/1/1954) dates; None for anything else."""
    text = text.strip()
    if m := ISO.match(text):
        year, month, day = int(m[1]), int(m[2]), int(m[3])
    elif m := US.match(text):
        year, month, day = int(m[3]), int(m[1]), int(m[2])
    else:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _describe_start(text: str) -> str:
    first = text.lstrip()[:40].replace("\n", " ")
    return f"it starts with {first!r}" if first else "it is empty"


def parse_fred_csv(text: str, series_id: str, origin: str) -> ParsedSeries:
    """Read FRED CSV text of `series_id`; `origin` (a path or a URL) is named in every message."""
    text = text.lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    first = next((i for i, row in enumerate(rows) if any(c.strip() for c in row)), None)
    if first is None:
        raise FredCsvError(f"{origin}: no data: {_describe_start(text)}")
    header = [c.strip() for c in rows[first]]
    if len(header) != 2 or header[0].lower() not in DATE_HEADERS:
        raise FredCsvError(
            f"{origin}: not a FRED CSV of {series_id} ({_describe_start(text)}); expected the "
            f"header 'observation_date,{series_id}' or 'DATE,{series_id}'"
        )
    if header[1].upper() != series_id.upper():
        raise FredCsvError(
            f"{origin}: the value column is {header[1]!r}, not {series_id}: the file holds another "
            f"series (or a transformation of it); download fredgraph.csv?id={series_id} unchanged"
        )
    layout = "fredgraph csv" if header[0].lower() == "observation_date" else "older fredgraph csv"

    records: list[tuple[str, dt.date, float]] = []
    missing: list[dt.date] = []
    rejects: list[dict] = []
    for line_no, row in enumerate(rows[first + 1 :], start=first + 2):
        if not row or all(not c.strip() for c in row):
            continue
        where = f"{origin} line {line_no}"
        payload = {"row": row}
        if len(row) != 2:
            rejects.append(
                {
                    "key": f"{series_id} {row[0] if row else ''}",
                    "origin": where,
                    "reason": f"expected 2 cells, found {len(row)} ({where})",
                    "payload": payload,
                }
            )
            continue
        day = parse_date(row[0])
        if day is None:
            rejects.append(
                {
                    "key": f"{series_id} {row[0].strip()}",
                    "origin": where,
                    "reason": f"unparseable date {row[0].strip()!r} ({where})",
                    "payload": payload,
                }
            )
            continue
        cell = row[1].strip()
        if cell in MISSING:
            missing.append(day)
            continue
        try:
            value = float(cell)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            rejects.append(
                {
                    "key": f"{series_id} {day}",
                    "origin": where,
                    "reason": f"the value {cell!r} is not a number ({where})",
                    "payload": payload,
                }
            )
            continue
        records.append((series_id, day, value))
    frame = (
        pd.DataFrame.from_records(records, columns=RATE_COLUMNS)
        if records
        else empty_observations()
    )
    frame = frame.sort_values("obs_date", kind="stable").reset_index(drop=True)
    return ParsedSeries(frame, missing, rejects, layout)


def read_fred_file(path: Path, series_id: str) -> ParsedSeries:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FredCsvError(f"{path}: not a text CSV file ({exc.reason})") from exc
    return parse_fred_csv(text, series_id, str(path))


class FilesRatesSource:
    """FRED CSV downloads in ``<folder>/fred/<ID>.csv``."""

    name = "files"

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceError(
                f"ROTATION_FILES_DIR={self.folder} is not a folder: point it at the folder that "
                "holds fred/<ID>.csv"
            )

    def series_path(self, series_id: str) -> Path:
        return self.folder / "fred" / f"{series_id}.csv"

    def observations(self, series: Sequence[str], starts: Starts | None = None) -> RateBatch:
        frames, rejects, failed, notes, missing = [], [], {}, [], 0
        for series_id in dict.fromkeys(series):
            path = self.series_path(series_id)
            if not path.exists():
                failed[series_id] = (
                    f"no file {path}: download "
                    f"https://fred.stlouisfed.org/graph/fredgraph.csv?id={series_id} into it"
                )
                continue
            try:
                parsed = read_fred_file(path, series_id).since(start_of(starts, series_id))
            except FredCsvError as exc:
                failed[series_id] = str(exc)
                continue
            if len(parsed.observations):
                frames.append(parsed.observations)
            rejects.extend(parsed.rejects)
            missing += len(parsed.missing_dates)
            if parsed.missing_dates:
                notes.append(
                    f"{path.name}: skipped {len(parsed.missing_dates)} missing values "
                    "('.' or empty)"
                )
        observations = pd.concat(frames, ignore_index=True) if frames else empty_observations()
        return RateBatch(observations[RATE_COLUMNS], failed, missing, rejects_frame(rejects), notes)
