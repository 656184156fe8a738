"""The shipped list of published claims (config/claims.csv), read, checked and loaded.

Each row is one number a publisher printed about the rotation: a close, a return, a streak, the
Fed's target, a valuation discount. marts.claims (sql/marts/claims.sql) recomputes every claim
from the warehouse's data and says whether it holds.

The file is edited by hand, so every problem is reported with its file and line, all of them at
once, before anything is loaded: a bad file leaves core.published_claims as it was.

Units follow the warehouse: returns and discounts are fractions (4.69% is 0.0469), Fed rates are
percent as FRED publishes them (3.50), closes are index points or dollars, streaks and cuts are
counts. A value written with '%' or thousands separators is refused with the fix.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from warehouse import settings
from warehouse.db import transaction
from warehouse.load import replace_contents
from warehouse.valuation_terms import PAIR, SYMBOL

HEADER = [
    "claim_id",
    "publisher",
    "source_ref",
    "published_on",
    "metric",
    "subject",
    "start_date",
    "as_of_date",
    "claimed_value",
    "tolerance",
    "notes",
]
MAX_REPORTED = 20
CLAIM_ID = re.compile(r"^[a-z0-9][a-z0-9_]*$")


@dataclass(frozen=True)
class MetricKind:
    subject: str | None  # 'ticker', 'pair' or None (the Fed metrics are about no ticker)
    needs_start: bool  # only a return between two dates has a base date
    unit: str
    description: str


# The metric kinds marts.claims knows how to compute; the SQL has one branch per name.
METRICS = {
    "close": MetricKind(
        "ticker",
        False,
        "price",
        "raw close of the ticker on the session as_of_date",
    ),
    "price_return": MetricKind(
        "ticker",
        True,
        "fraction",
        "raw close on as_of_date / raw close on start_date - 1 (a price return, as index gains are "
        "quoted; both dates must be stored sessions)",
    ),
    "ytd_return": MetricKind(
        "ticker",
        False,
        "fraction",
        "raw close on as_of_date / the ticker's last raw close of an earlier calendar year - 1",
    ),
    "outperformance_streak": MetricKind(
        "pair",
        False,
        "sessions",
        "consecutive common sessions up to as_of_date on which the pair's small side beat its "
        "large side (marts.outperformance_streaks)",
    ),
    "fed_target_lower": MetricKind(
        None,
        False,
        "percent",
        "lower bound of the fed funds target range in force on as_of_date",
    ),
    "fed_target_upper": MetricKind(
        None,
        False,
        "percent",
        "upper bound of the fed funds target range in force on as_of_date",
    ),
    "fed_cuts_in_cycle": MetricKind(
        None,
        False,
        "cuts",
        "cuts of the easing cycle in force on as_of_date (marts.fed_policy's cycle rule; 0 when "
        "the latest change was a hike)",
    ),
    "valuation_discount": MetricKind(
        "pair",
        False,
        "fraction",
        "1 - P/E(small) / P/E(large) of the pair from published P/Es "
        "(config/published_valuations.csv via marts.valuation_gap): the latest published pair "
        "on or before as_of_date",
    ),
}


class ClaimsError(ValueError):
    """The claims file cannot be used; the message lists each bad line."""


@dataclass(frozen=True)
class Claim:
    claim_id: str
    publisher: str
    source_ref: str
    published_on: dt.date | None
    metric: str
    subject: str | None
    start_date: dt.date | None
    as_of_date: dt.date
    claimed_value: float
    tolerance: float
    notes: str | None
    line: int


def default_path() -> Path:
    return settings.config_dir() / "claims.csv"


def _content_lines(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every line that is not blank or a '#' comment."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ClaimsError(f"{path}: the claims file does not exist") from exc
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        out.append((number, next(csv.reader([line]))))
    return out


def _date(cell: str, name: str, problems: list[str], where: str, required: bool) -> dt.date | None:
    if not cell:
        if required:
            problems.append(f"{where}: {name} is empty; write a YYYY-MM-DD date")
        return None
    try:
        return dt.date.fromisoformat(cell)
    except ValueError:
        problems.append(f"{where}: {name} {cell!r} is not a YYYY-MM-DD date")
        return None


def _number(
    cell: str, name: str, unit: str | None, problems: list[str], where: str
) -> float | None:
    if cell.endswith("%"):
        problems.append(
            f"{where}: {name} {cell!r} is a percent: write fractions, e.g. 4.69% as 0.0469"
        )
        return None
    if "," in cell:
        problems.append(
            f"{where}: {name} {cell!r} has a thousands separator: write 2603.90, not 2,603.90"
        )
        return None
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        problems.append(
            f"{where}: {name} {cell!r} is not a number" + (f" (unit: {unit})" if unit else "")
        )
        return None
    return value


def _parse_row(cells: list[str], line: int, where: str, problems: list[str]) -> Claim | None:
    if len(cells) not in (len(HEADER) - 1, len(HEADER)):
        problems.append(
            f"{where}: expected {len(HEADER)} cells ({','.join(HEADER)}), found {len(cells)}; "
            "quote a cell that holds a comma"
        )
        return None
    cells = [c.strip() for c in cells] + [""] * (len(HEADER) - len(cells))
    row = dict(zip(HEADER, cells, strict=True))
    before = len(problems)

    if not CLAIM_ID.match(row["claim_id"]):
        problems.append(
            f"{where}: claim_id {row['claim_id']!r} must be lowercase letters, digits and '_', "
            "starting with a letter or digit"
        )
    for name in ("publisher", "source_ref"):
        if not row[name]:
            problems.append(f"{where}: {name} is empty; say who published the claim and where")
    published_on = _date(row["published_on"], "published_on", problems, where, required=False)

    kind = METRICS.get(row["metric"])
    if kind is None:
        problems.append(f"{where}: metric {row['metric']!r} is not one of {', '.join(METRICS)}")
    subject = row["subject"] or None
    if kind is not None:
        if kind.subject is None and subject:
            problems.append(
                f"{where}: metric {row['metric']} takes no subject; leave it empty, got {subject!r}"
            )
        elif kind.subject == "ticker" and not (subject and SYMBOL.match(subject)):
            problems.append(
                f"{where}: metric {row['metric']} needs a ticker as subject (a Yahoo symbol "
                f"such as ^RUT or IWM), got {subject or 'nothing'!r}"
            )
        elif kind.subject == "pair" and not (subject and PAIR.match(subject)):
            problems.append(
                f"{where}: metric {row['metric']} needs a pair SMALL/LARGE as subject (e.g. "
                f"^RUT/^GSPC), got {subject or 'nothing'!r}"
            )

    start = _date(
        row["start_date"], "start_date", problems, where, required=bool(kind and kind.needs_start)
    )
    as_of = _date(row["as_of_date"], "as_of_date", problems, where, required=True)
    if kind is not None and not kind.needs_start and row["start_date"]:
        problems.append(f"{where}: metric {row['metric']} has no start_date; leave it empty")
    if start and as_of and start >= as_of:
        problems.append(f"{where}: start_date {start} is not before as_of_date {as_of}")

    unit = kind.unit if kind else None
    value = _number(row["claimed_value"], "claimed_value", unit, problems, where)
    tolerance = _number(row["tolerance"], "tolerance", unit, problems, where)
    if tolerance is not None and tolerance < 0:
        problems.append(f"{where}: tolerance {tolerance} is negative")

    if len(problems) > before:
        return None
    return Claim(
        claim_id=row["claim_id"],
        publisher=row["publisher"],
        source_ref=row["source_ref"],
        published_on=published_on,
        metric=row["metric"],
        subject=subject,
        start_date=start,
        as_of_date=as_of,
        claimed_value=value,
        tolerance=tolerance,
        notes=row["notes"] or None,
        line=line,
    )


def read_claims(path: Path | None = None) -> list[Claim]:
    """The claims of the file, in file order. Raises ClaimsError naming every bad line."""
    path = Path(path or default_path())
    lines = _content_lines(path)
    if not lines:
        raise ClaimsError(f"{path}: no header and no rows")
    header_line, header = lines[0]
    if [c.strip() for c in header] != HEADER:
        raise ClaimsError(
            f"{path} line {header_line}: the header must be {','.join(HEADER)}, "
            f"got {','.join(header)}"
        )
    problems: list[str] = []
    claims: list[Claim] = []
    seen: dict[str, int] = {}
    for number, cells in lines[1:]:
        where = f"{path} line {number}"
        claim = _parse_row(cells, number, where, problems)
        if claim is None:
            continue
        if claim.claim_id in seen:
            problems.append(
                f"{where}: claim_id {claim.claim_id!r} is already used on line "
                f"{seen[claim.claim_id]}"
            )
            continue
        seen[claim.claim_id] = number
        claims.append(claim)
    if problems:
        shown = problems[:MAX_REPORTED]
        more = (
            f"\n... and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
        )
        raise ClaimsError(
            f"{path}: {len(problems)} bad row(s); fix them and run again:\n"
            + "\n".join(shown)
            + more
        )
    return claims


def load_claims(
    conn: duckdb.DuckDBPyConnection, path: Path | None = None, *, run_id: str | None = None
) -> int:
    """Replace core.published_claims with the file (config/claims.csv by default).

    Not through `warehouse.load.upsert`: the file is configuration, not source data, and a claim
    deleted from it must disappear from the table, which an upsert never does (the same choice as
    core.fomc_reference). Every row is checked first, so a bad file leaves the table as it was.
    An unchanged file writes and records nothing.
    """
    claims = read_claims(path)
    columns = [*HEADER, "line_number"]
    frame = pd.DataFrame.from_records(
        [
            (
                c.claim_id,
                c.publisher,
                c.source_ref,
                c.published_on,
                c.metric,
                c.subject,
                c.start_date,
                c.as_of_date,
                c.claimed_value,
                c.tolerance,
                c.notes,
                c.line,
            )
            for c in claims
        ],
        columns=columns,
    )
    # Explicit types: an all-empty column (no published_on anywhere) must still be a date.
    casts = ", ".join(
        f"cast({c} as date) as {c}"
        if c in ("published_on", "start_date", "as_of_date")
        else f"cast({c} as varchar) as {c}"
        if c in ("subject", "notes")
        else c
        for c in columns
    )
    with transaction(conn):
        conn.register("_claims", frame)
        try:
            # No date: a claim's row holds several (published, start, as of), none orders it in
            # time, so a change means the whole list may have changed.
            replace_contents(conn, "core.published_claims", f"select {casts} from _claims",
                             date_column=None, run_id=run_id)
        finally:
            conn.unregister("_claims")
    return len(frame)
