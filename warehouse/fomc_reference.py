"""The shipped table of FOMC decisions (config/fomc_decisions.csv), read and checked row by row.

The file is edited by hand, so every problem is reported with its file and line, all of them at
once, before anything is loaded.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

from warehouse import settings

HEADER = ["effective_date", "target_lower", "target_upper", "change_bp", "notes"]
MAX_REPORTED = 20


class ReferenceError(ValueError):
    """The reference file cannot be used; the message lists each bad line."""


@dataclass(frozen=True)
class ReferenceDecision:
    effective_date: dt.date
    target_lower: float
    target_upper: float
    change_bp: int
    notes: str
    line: int


def default_path() -> Path:
    return settings.config_dir() / "fomc_decisions.csv"


def _content_lines(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every line that is not blank or a '#' comment."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ReferenceError(f"{path}: the FOMC reference file does not exist") from exc
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        out.append((number, next(csv.reader([line]))))
    return out


def _number(cell: str, name: str, problems: list[str], where: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        problems.append(f"{where}: {name} {cell!r} is not a number")
        return None
    return value


def _parse_row(cells: list[str], where: str, problems: list[str]) -> tuple | None:
    if len(cells) not in (4, 5):
        problems.append(
            f"{where}: expected {len(HEADER)} cells ({','.join(HEADER)}), found {len(cells)}; "
            "quote a note that holds a comma"
        )
        return None
    cells = [c.strip() for c in cells] + [""] * (5 - len(cells))
    before = len(problems)
    try:
        day = dt.date.fromisoformat(cells[0])
    except ValueError:
        problems.append(f"{where}: effective_date {cells[0]!r} is not a YYYY-MM-DD date")
        day = None
    lower = _number(cells[1], "target_lower", problems, where)
    upper = _number(cells[2], "target_upper", problems, where)
    try:
        change = int(cells[3])
    except ValueError:
        problems.append(f"{where}: change_bp {cells[3]!r} is not a whole number of basis points")
        change = None
    if lower is not None and upper is not None and lower > upper:
        problems.append(f"{where}: target_lower {lower} is above target_upper {upper}")
    if change == 0:
        problems.append(f"{where}: change_bp is 0; a row is a change of the target")
    if len(problems) > before:
        return None
    return day, lower, upper, change, cells[4]


def read_reference(path: Path | None = None) -> list[ReferenceDecision]:
    """The decisions of the file, oldest first. Raises ReferenceError naming every bad line."""
    path = Path(path or default_path())
    lines = _content_lines(path)
    if not lines:
        raise ReferenceError(f"{path}: no header and no rows")
    header_line, header = lines[0]
    if [c.strip() for c in header][: len(HEADER)] != HEADER or len(header) > len(HEADER):
        raise ReferenceError(
            f"{path} line {header_line}: the header must be {','.join(HEADER)}, "
            f"got {','.join(header)}"
        )

    problems: list[str] = []
    decisions: list[ReferenceDecision] = []
    follows_bad_row = False  # its change_bp cannot be checked against a row that was refused
    for number, cells in lines[1:]:
        where = f"{path} line {number}"
        parsed = _parse_row(cells, where, problems)
        if parsed is None:
            follows_bad_row = True
            continue
        day, lower, upper, change, notes = parsed
        if decisions:
            previous = decisions[-1]
            if day <= previous.effective_date:
                problems.append(
                    f"{where}: {day} is not after {previous.effective_date} "
                    f"(line {previous.line}); "
                    "keep one row per change, oldest first"
                )
                follows_bad_row = True
                continue
            expected = round((upper - previous.target_upper) * 100)
            if expected != change and not follows_bad_row:
                problems.append(
                    f"{where}: change_bp {change} does not match the move of the upper bound from "
                    f"{previous.target_upper:.2f} (line {previous.line}) to {upper:.2f}, "
                    f"{expected:+d} bp"
                )
        decisions.append(ReferenceDecision(day, lower, upper, change, notes, number))
        follows_bad_row = False
    if problems:
        shown = problems[:MAX_REPORTED]
        more = (
            f"\n... and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
        )
        raise ReferenceError(
            f"{path}: {len(problems)} problem(s); fix them and run again:\n"
            + "\n".join(shown)
            + more
        )
    return decisions
