"""Reading one price file as users really have them, whatever tool wrote it.

Layouts recognised (by their headers, not by the file name):
- Yahoo's download CSV: ``Date,Open,High,Low,Close,Adj Close,Volume``;
- ``yf.download(...).to_csv()``: a multi-row header (``Price`` / ``Ticker`` / ``Date`` rows), where
  a data column named ``Price`` (as some pandas versions write it) is the adjusted close;
- ``Ticker.history().to_csv()``: timezone-aware timestamps, ``Dividends`` and ``Stock Splits``
  columns, and prices already adjusted: the raw close is rebuilt from the dividends;
- vendor exports: lower-case headers (``timestamp`` or ``date``), columns in any order, rows
  newest first, ``Adjusted_close`` spellings, and files with a close column only.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from warehouse.sources.base import ORIGIN_COLUMNS, PRICE_COLUMNS

ALIASES = {
    "date": "date", "timestamp": "date", "datetime": "date", "time": "date", "day": "date",
    "open": "open", "high": "high", "low": "low", "close": "close", "last": "close",
    "adjclose": "adj_close", "adjustedclose": "adj_close", "adjclosingprice": "adj_close",
    "volume": "volume", "vol": "volume",
    "dividends": "dividends", "stocksplits": "splits", "capitalgains": "capital_gains",
}
BLANK = {"", "null", "nan", "none", "na", "n/a", "-"}
ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
EPOCH = re.compile(r"^\d{9,10}$")


class PriceFileError(ValueError):
    """The file cannot be read as prices at all; the message names it and says what to fix."""


@dataclass
class ParsedFile:
    bars: pd.DataFrame
    rejects: list[dict] = field(default_factory=list)  # unparseable rows, with file and line
    skipped_blank: int = 0
    layout: str = ""


def _canonical(name: str) -> str:
    key = re.sub(r"[^a-z]", "", name.strip().lower())
    return ALIASES.get(key, key)


def parse_date(text: str) -> dt.date | None:
    """An exchange-local date from ISO dates or timestamps (any offset), US m/d/Y, or epoch seconds."""
    text = text.strip()
    if m := ISO.match(text):
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
    if m := US.match(text):
        try:
            return dt.date(int(m[3]), int(m[1]), int(m[2]))
        except ValueError:
            return None
    if EPOCH.match(text):
        stamp = pd.Timestamp(int(text), unit="s", tz="UTC").tz_convert("America/New_York")
        return stamp.date()
    return None


def _header(rows: list[list[str]], path: Path) -> tuple[list[str], int, str]:
    """The canonical column names and the index of the first data row."""
    first = [c.strip() for c in rows[0]]
    if first and first[0] == "Price" and len(rows) > 1 and rows[1] and rows[1][0].strip() == "Ticker":
        names = ["date"]
        for i, raw in enumerate(first[1:], start=1):
            # Some pandas versions write the 'Adj Close' label as a repeat of the level name.
            names.append("adj_close" if raw == "Price" and i == 1 else _canonical(raw))
        start = 1
        while start < len(rows) and rows[start] and rows[start][0].strip() in {"Ticker", "Date", "Datetime"}:
            start += 1
        return names, start, "yf.download csv"
    names = [_canonical(c) for c in first]
    layout = "history csv" if "dividends" in names else "csv"
    return names, 1, layout


def read_price_file(path: Path, ticker: str, *, with_origin: bool = False) -> ParsedFile:
    """The file's bars (PRICE_COLUMNS), oldest first. `with_origin`: also the ORIGIN_COLUMNS, the
    file's path and each bar's line, so a bar the loader refuses is quarantined with them."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError as exc:
        raise PriceFileError(f"{path}: not a text CSV file ({exc.reason})") from exc
    if not rows:
        raise PriceFileError(f"{path}: the file is empty")
    names, start, layout = _header(rows, path)
    if "date" not in names:
        raise PriceFileError(
            f"{path}: no date column (looked for Date, timestamp or datetime in the header "
            f"{rows[0]!r}); add one or export the file with dates"
        )
    if "close" not in names and "adj_close" not in names:
        raise PriceFileError(
            f"{path}: no close column (looked for Close, Adj Close or Adjusted_close in the header "
            f"{rows[0]!r}); the warehouse needs at least a date and a close per row"
        )
    dupes = {n for n in names if names.count(n) > 1 and n}
    if dupes:
        raise PriceFileError(f"{path}: the header names {sorted(dupes)} more than once")
    col = {n: i for i, n in enumerate(names)}
    wanted = [n for n in ("open", "high", "low", "close", "adj_close", "volume", "dividends", "splits") if n in col]

    records: list[tuple] = []
    rejects: list[dict] = []
    skipped = 0
    for line_no, row in enumerate(rows[start:], start=start + 1):
        if not row or all(not c.strip() for c in row):
            continue
        cells = {n: (row[col[n]].strip() if col[n] < len(row) else "") for n in ["date", *wanted]}
        if any(cells[n].lower() in BLANK for n in wanted if n not in ("dividends", "splits")):
            skipped += 1
            continue
        day = parse_date(cells["date"])
        where = f"{path.name} line {line_no}"
        if day is None:
            rejects.append({"key": f"{ticker} {cells['date']}", "origin": f"{path} line {line_no}",
                            "reason": f"unparseable date {cells['date']!r} ({where})", "payload": cells})
            continue
        try:
            values = tuple(float(cells[n]) for n in wanted)
        except ValueError:
            rejects.append({"key": f"{ticker} {day}", "origin": f"{path} line {line_no}",
                            "reason": f"a number cannot be read ({where})", "payload": cells})
            continue
        records.append((day, *values, line_no))

    frame = pd.DataFrame.from_records(records, columns=["trade_date", *wanted, "origin_line"])
    frame = frame.sort_values("trade_date", kind="stable").reset_index(drop=True)
    if layout == "history csv":
        frame = _unadjust_history(frame)
    if "close" not in frame:
        frame["close"] = frame["adj_close"]
    if "adj_close" not in frame:
        # No adjusted series in the file: the close stands for both.
        frame["adj_close"] = frame["close"]
    for name in ("open", "high", "low", "volume"):
        if name not in frame:
            frame[name] = np.nan
    frame.insert(0, "ticker", ticker)
    frame["origin_file"] = str(path)
    columns = [*PRICE_COLUMNS, *ORIGIN_COLUMNS] if with_origin else PRICE_COLUMNS
    return ParsedFile(frame[columns], rejects, skipped, layout)


def _unadjust_history(frame: pd.DataFrame) -> pd.DataFrame:
    """`history()` prices are adjusted for dividends; rebuild the traded close from the dividends.

    Yahoo multiplies every price before an ex-date d by f_d = 1 - D_d / close_{d-1}. Walking back
    from the last row (where adjusted equals traded), close_{d-1} = adj_{d-1} / F_d + D_d, with F
    the product of the factors after the row.
    """
    frame = frame.copy()
    adj = frame["close"].to_numpy(dtype=float)
    dividends = frame["dividends"].to_numpy(dtype=float) if "dividends" in frame else np.zeros(len(adj))
    raw = adj.copy()
    after = 1.0  # product of the factors of the ex-dates after row i
    for i in range(len(adj) - 1, 0, -1):
        if dividends[i] > 0:
            raw_prev = adj[i - 1] / after + dividends[i]
            after *= 1.0 - dividends[i] / raw_prev
        raw[i - 1] = adj[i - 1] / after
    scale = raw / adj
    frame["adj_close"] = adj
    frame["close"] = raw
    for name in ("open", "high", "low"):
        if name in frame:
            frame[name] = frame[name] * scale
    return frame.drop(columns=[c for c in ("dividends", "splits") if c in frame])
