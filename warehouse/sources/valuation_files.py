"""Valuation figures from a CSV file people edit by hand, and the `files` source that reads one.

The columns are those of core.valuations: ``as_of_date, ticker, metric, value, basis, method`` and
optionally ``publisher, url, notes`` (see warehouse/valuation_terms.py for the words allowed).
Blank lines and lines starting with ``#`` are skipped, so a file can explain itself.

A malformed row is refused with its file and line and what to fix; the other rows still load.
Only a file that cannot be read as valuations at all (no header, unknown columns) raises.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from warehouse.calendar import NEW_YORK
from warehouse.load import rejects_frame
from warehouse.sources.base import SourceError
from warehouse.sources.valuations import ValuationBatch, valuation_frame
from warehouse.valuation_terms import row_problem

REQUIRED = ("as_of_date", "ticker", "metric", "value", "basis", "method")
OPTIONAL = ("publisher", "url", "notes")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FILE_NAME = "valuations.csv"


class ValuationFileError(ValueError):
    """The file cannot be read as valuations at all; the message names it and says what to fix."""


@dataclass
class ParsedValuations:
    path: Path
    rows: pd.DataFrame
    lines: list[int]  # the file line of each row, in order
    # key, reason, origin (file:line), payload and line of every refused row
    rejects: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """'<file> line <n>: <reason>' for every refused row, in line order."""
        return [f"{self.path} line {r['line']}: {r['reason']}"
                for r in sorted(self.rejects, key=lambda r: r["line"])]


def _number(text: str) -> float | str:
    """The float in `text`, or the reason it is not one."""
    cleaned = text.strip()
    if cleaned.endswith("%"):
        return f"value {text!r} is a percent: write fractions, e.g. 19% as 0.19"
    if cleaned.lower().endswith("x"):
        return f"value {text!r} has a unit: write the number alone, e.g. 18.11 for 18.11x"
    try:
        return float(cleaned)
    except ValueError:
        return f"value {text!r} is not a number"


def _today(now: pd.Timestamp | None = None) -> dt.date:
    """The New York date at `now` (default: now): a figure dated after it is refused."""
    return (now or pd.Timestamp.now(tz="UTC")).tz_convert(NEW_YORK).date()


def _header(cells: list[str], path: Path) -> list[str]:
    names = [c.strip().lower() for c in cells]
    unknown = [n for n in names if n not in REQUIRED + OPTIONAL]
    if unknown:
        raise ValuationFileError(
            f"{path}: unknown column(s) {unknown} in the header; the columns are "
            f"{', '.join(REQUIRED + OPTIONAL)} (the last three optional)"
        )
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        raise ValuationFileError(f"{path}: the header lacks the column(s) {missing}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValuationFileError(f"{path}: the header names {repeated} more than once")
    return names


def _record(raw: dict[str, str], *, today: dt.date, require_publisher: bool) -> dict | str:
    """The row of one line's cells, or the reason it cannot be stored."""
    empty = [k for k in REQUIRED if not raw[k]]
    if require_publisher and not raw.get("publisher"):
        empty.append("publisher")
    if empty:
        return f"no value for {', '.join(empty)}"
    if not ISO_DATE.match(raw["as_of_date"]):
        return f"as_of_date {raw['as_of_date']!r} is not a date: write it as YYYY-MM-DD"
    try:
        day = dt.date.fromisoformat(raw["as_of_date"])
    except ValueError:
        return f"as_of_date {raw['as_of_date']!r} is not a real day"
    value = _number(raw["value"])
    if isinstance(value, str):
        return value
    problem = row_problem(
        as_of_date=day, ticker=raw["ticker"], metric=raw["metric"], value=value,
        basis=raw["basis"], method=raw["method"], today=today,
    )
    if problem:
        return problem
    return {
        **{k: raw[k] for k in REQUIRED}, "as_of_date": day, "value": value,
        **{k: raw.get(k) or None for k in OPTIONAL},
    }


def read_valuation_csv(
    path: Path | str,
    *,
    require_publisher: bool = False,
    today: dt.date | None = None,
) -> ParsedValuations:
    """Every well-formed row of the file; each malformed one refused with its line number."""
    path = Path(path)
    today = today or _today()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ValuationFileError(f"{path}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise ValuationFileError(f"{path}: not UTF-8 text ({exc}); save it as UTF-8 CSV") from exc

    header: list[str] | None = None
    records: list[dict] = []
    lines: list[int] = []
    rejects: list[dict] = []
    reader = csv.reader(text.splitlines(keepends=True))
    for cells in reader:
        line = reader.line_num
        if not cells or all(not c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = _header(cells, path)
            continue
        raw = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header)}

        def refuse(reason: str, raw=raw, line=line) -> None:
            rejects.append({
                "key": " ".join(raw.get(k) or "NULL" for k in ("as_of_date", "ticker", "metric")),
                "reason": reason,
                "origin": f"{path}:{line}",
                "payload": raw,
                "line": line,
            })

        if len(cells) > len(header):
            refuse(f"has {len(cells)} cells but the header has {len(header)}: "
                   "put a field that contains a comma in double quotes")
            continue
        record = _record(raw, today=today, require_publisher=require_publisher)
        if isinstance(record, str):
            refuse(record)
            continue
        records.append(record)
        lines.append(line)

    if header is None:
        raise ValuationFileError(
            f"{path}: no header row; the first line must name the columns {', '.join(REQUIRED)}"
        )
    rows, lines, notes = _drop_duplicates(valuation_frame(records), lines, path, rejects)
    return ParsedValuations(path, rows, lines, rejects, notes)


def _drop_duplicates(
    rows: pd.DataFrame, lines: list[int], path: Path, rejects: list[dict]
) -> tuple[pd.DataFrame, list[int], list[str]]:
    """Identical repeats are dropped; two different figures for one key are both refused."""
    notes: list[str] = []
    if rows.empty:
        return rows, lines, notes
    rows = rows.assign(_line=lines)
    key = ["as_of_date", "ticker", "metric"]
    keep = pd.Series(True, index=rows.index)
    for _, group in rows.groupby(key, sort=False):
        if len(group) == 1:
            continue
        distinct = group.drop(columns="_line").astype(str).drop_duplicates()
        if len(distinct) == 1:
            keep[group.index[1:]] = False
            repeats = ", ".join(map(str, group["_line"]))
            notes.append(f"{path}: lines {repeats} repeat one row; kept once")
            continue
        for idx, row in group.iterrows():
            others = [str(n) for n in group["_line"] if n != row["_line"]]
            rejects.append({
                "key": f"{row['as_of_date']} {row['ticker']} {row['metric']}",
                "reason": (f"line(s) {', '.join(others)} give another figure for the same "
                           "as_of_date, ticker and metric: keep one of them"),
                "origin": f"{path}:{row['_line']}",
                "payload": row.drop(labels="_line").to_dict(),
                "line": int(row["_line"]),
            })
            keep[idx] = False
    rows = rows[keep]
    return rows.drop(columns="_line").reset_index(drop=True), rows["_line"].tolist(), notes


class FilesValuationSource:
    """``valuations.csv`` in the user's folder, loaded whole: its rows are the user's choice."""

    name = "files"

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceError(
                f"ROTATION_FILES_DIR={self.folder} is not a folder: point it at the folder that "
                f"holds {FILE_NAME}"
            )

    @property
    def path(self) -> Path:
        return self.folder / FILE_NAME

    def _read(self, first: dt.date, last: dt.date) -> ValuationBatch:
        if not self.path.exists():
            # Valuations are optional beside price files: no file is nothing to load, not a failure.
            return ValuationBatch(notes=[
                f"no {FILE_NAME} in {self.folder}: no valuations from files (its columns: "
                "as_of_date,ticker,metric,value,basis,method[,publisher,url,notes])"
            ])
        try:
            parsed = read_valuation_csv(self.path)
        except ValuationFileError as exc:
            return ValuationBatch(failed={FILE_NAME: str(exc)})
        rows = parsed.rows
        in_range = rows["as_of_date"].map(lambda day: first <= day <= last).astype(bool)
        notes = list(parsed.notes)
        outside = int((~in_range).sum())
        if outside:
            notes.append(f"{self.path}: {outside} rows dated outside {first} .. {last} not loaded")
        return ValuationBatch(
            rows=rows[in_range].reset_index(drop=True),
            rejects=rejects_frame(parsed.rejects),
            notes=notes,
        )

    def snapshot(self, tickers: Sequence[str], as_of: dt.date) -> ValuationBatch:
        batch = self._read(as_of, as_of)
        batch.rows = batch.rows[batch.rows["ticker"].isin(tickers)].reset_index(drop=True)
        return batch

    def valuations(self, tickers: Sequence[str], as_of: dt.date, start: dt.date) -> ValuationBatch:
        return self._read(start, as_of)
