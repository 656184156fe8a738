"""The shipped list of published claims (config/claims.csv), read, checked and loaded.

Each row is one checkable statement of the rotation story under one reading: a close, a return,
a record, a streak, the Fed's target, inflation, a valuation, a forecast. The marts
sql/marts/claims_<family>.sql compute each claim's figure from the warehouse's data (one model
per family of metrics, FAMILIES below) and sql/marts/claims.sql grades it (GRADES).

The file is edited by hand, so every problem is reported with its file and line, all of them at
once, before anything is loaded: a bad file leaves core.published_claims as it was.

Units follow the warehouse: returns, shares and discounts are fractions (4.69% is 0.0469), Fed
rates are percent as FRED publishes them (3.50), closes are index points or dollars, streaks,
cuts and years are counts. A value written with '%' or thousands separators is refused with the
fix. The decimals a claimed value is written with are its precision (2603.90: 0.01, 0.023: 0.001),
which grades 'holds as rounded'.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb
import pandas as pd

from warehouse import settings
from warehouse.db import DDL_DIR, transaction
from warehouse.load import replace_contents
from warehouse.valuation_terms import PAIR, SYMBOL

# The first ten columns are required; the last five may be left out of a row (empty).
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
    "reading",
    "words",
    "comparison",
    "close_tolerance",
    "target_level",
]
REQUIRED_CELLS = 10
MAX_REPORTED = 20
CLAIM_ID = re.compile(r"^[a-z0-9][a-z0-9_]*$")
SERIES = re.compile(r"^[A-Z0-9]{2,30}$")  # a FRED series id, e.g. CPIAUCSL

# How a claimed value is compared with the figure (holds when true; tolerance in the value's unit).
COMPARISONS = {
    "about": "|figure - claimed| <= tolerance",
    "at_least": "figure >= claimed - tolerance",
    "at_most": "figure <= claimed + tolerance",
    "above": "figure > claimed",
    "below": "figure < claimed",
}

# The verdicts of marts.claims, in the order they are tried.
GRADES = {
    "pending": "a forecast (published before its date) whose date is after the warehouse's last "
    "session",
    "no data": "the warehouse lacks what the claim needs; the detail names the series and dates",
    "holds": "the figure satisfies the comparison within the tolerance (half the last digit "
    "written, so a correctly rounded figure holds)",
    "holds as rounded": "an 'about' claim: the figure truncated (or rounded) to the claim's "
    "precision, the decimals it is written with, gives the claim (2603.909912 -> 2603.90)",
    "close": "within close_tolerance, relative to the claimed value, of satisfying it",
    "contradicted": "none of the above",
}

# The model computing each family's figures: sql/marts/claims_<family>.sql.
FAMILIES = ("prices", "rotation", "macro", "valuation", "breadth")


@dataclass(frozen=True)
class MetricKind:
    family: str  # the claims_<family> model that computes it
    subject: str | None  # 'ticker', 'pair', 'series' or None (the Fed metrics are about no ticker)
    start: str  # 'required', 'optional' or 'none': whether start_date is used
    unit: str
    description: str
    needs_target: bool = False  # target_level is the price target an upside is measured to


def _kind(family, subject, start, unit, description, needs_target=False) -> MetricKind:
    return MetricKind(family, subject, start, unit, " ".join(description.split()), needs_target)


# The metric kinds the claims_* models know how to compute; each model has one CTE per name.
METRICS = {
    "close": _kind("prices", "ticker", "none", "price", "raw close of the ticker on the session as_of_date"),
    "price_return": _kind(
        "prices", "ticker", "required", "fraction",
        """raw close on as_of_date / raw close on start_date - 1 (a price return, as index gains are
        quoted; both dates must be stored sessions)""",
    ),
    "ytd_return": _kind(
        "prices", "ticker", "none", "fraction",
        "raw close on as_of_date / the ticker's last raw close of an earlier calendar year - 1",
    ),
    "day_return": _kind(
        "prices", "ticker", "none", "fraction",
        "raw close on as_of_date / the raw close of the ticker's previous stored session - 1",
    ),
    "point_change": _kind(
        "prices", "ticker", "none", "points",
        "raw close on as_of_date - the raw close of the ticker's previous stored session",
    ),
    "low_return": _kind(
        "prices", "ticker", "none", "fraction",
        """the session's low on as_of_date / the previous session's raw close - 1: the deepest the
        ticker fell that day (daily bars hold no time of day)""",
    ),
    "worse_sessions": _kind(
        "prices", "ticker", "required", "sessions",
        """sessions from start_date to the session before as_of_date whose close-to-close return
        was below as_of_date's (0: the worst day of the span)""",
    ),
    "record_close": _kind(
        "prices", "ticker", "none", "flag",
        "1 when the close on as_of_date is above every earlier stored close of the ticker, else 0",
    ),
    "record_high": _kind(
        "prices", "ticker", "none", "flag",
        "1 when the session's high on as_of_date is above every earlier stored high, else 0",
    ),
    "max_close": _kind(
        "prices", "ticker", "optional", "price",
        "the highest raw close from start_date (empty: the first stored session) to as_of_date",
    ),
    "years_since_stronger_start": _kind(
        "prices", "ticker", "none", "years",
        """the return from the last close of the previous year to as_of_date's day of the year,
        against the same span of every earlier year: years back to the latest year at least as
        strong (all earlier years weaker: their count, or no data when fewer than claimed)""",
    ),
    "upside_to_target": _kind(
        "prices", "ticker", "none", "fraction",
        "target_level / raw close on as_of_date - 1: the upside a price target implies from that close",
        needs_target=True,
    ),
    "outperformance_streak": _kind(
        "rotation", "pair", "none", "sessions",
        """consecutive common sessions up to as_of_date on which the pair's small side beat its
        large side (marts.outperformance_streaks)""",
    ),
    "easing_share_beat_6m": _kind(
        "rotation", "pair", "none", "fraction",
        """share of the easing cycles (marts.easing_cycle_study) whose 126-session horizon ended by
        as_of_date in which the pair's small side beat its large side""",
    ),
    "easing_share_beat_12m": _kind(
        "rotation", "pair", "none", "fraction",
        "the same at 252 sessions (twelve months)",
    ),
    "easing_best_horizon": _kind(
        "rotation", "pair", "none", "sessions",
        """the horizon (21, 63, 126 or 252 sessions after the first cut) with the highest median
        excess over the cycles whose horizon ended by as_of_date""",
    ),
    "easing_excess_this_cycle": _kind(
        "rotation", "pair", "none", "fraction",
        """the pair's excess return from its base at the first cut of the cycle in force on
        as_of_date (total returns, as marts.easing_cycle_study) to the last common session on or
        before as_of_date""",
    ),
    "fed_target_lower": _kind(
        "macro", None, "none", "percent", "lower bound of the fed funds target range in force on as_of_date"
    ),
    "fed_target_upper": _kind(
        "macro", None, "none", "percent", "upper bound of the fed funds target range in force on as_of_date"
    ),
    "fed_cuts_in_cycle": _kind(
        "macro", None, "none", "cuts",
        """cuts of the easing cycle in force on as_of_date (the one easing-cycle rule; 0 when the
        latest change was a hike)""",
    ),
    "fed_bp_cut_in_cycle": _kind(
        "macro", None, "none", "bp", "basis points cut so far in the easing cycle in force on as_of_date"
    ),
    "fed_change_bp": _kind(
        "macro", None, "required", "bp",
        "upper bound of the target in force on as_of_date - that on start_date, in basis points",
    ),
    "fred_yoy": _kind(
        "macro", "series", "none", "fraction",
        """a monthly FRED series (the subject, e.g. CPIAUCSL) in the month of as_of_date / twelve
        months earlier - 1: inflation year on year""",
    ),
    "curve_change": _kind(
        "macro", None, "none", "points",
        """the 10y-2y spread's change over curve_change_window observations (a quarter) to the last
        observation on or before as_of_date (marts.yield_curve.spread_change_63d)""",
    ),
    "valuation_discount": _kind(
        "valuation", "pair", "none", "fraction",
        """1 - P/E(small) / P/E(large) of the pair from published P/Es
        (config/published_valuations.csv via marts.valuation_gap): the latest published pair on or
        before as_of_date""",
    ),
    "pe_forward": _kind(
        "valuation", "ticker", "none", "ratio",
        """the ticker's latest published forward P/E on or before as_of_date (the claim's own
        publisher first)""",
    ),
    "years_since_wider_discount": _kind(
        "valuation", "pair", "none", "years",
        """years back from as_of_date to the latest day the pair's forward P/E discount was at least
        as wide as on as_of_date; no data while the stored history is shorter than claimed""",
    ),
    "share_advancing": _kind(
        "breadth", "ticker", "none", "fraction",
        "share of the index's members that closed up on as_of_date (index breadth)",
    ),
    "years_since_broader": _kind(
        "breadth", "ticker", "none", "years",
        """years back from as_of_date to the latest session whose share of advancing members was at
        least as high""",
    ),
}


def metrics_of(family: str) -> list[str]:
    return [name for name, kind in METRICS.items() if kind.family == family]


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
    reading: str | None
    line: int
    words: str | None = None
    comparison: str = "about"
    close_tolerance: float | None = None
    target_level: float | None = None
    precision: float = 1.0  # the unit of the last digit claimed_value is written with


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


def precision_of(cell: str) -> float:
    """The unit of the last digit written: '2603.90' -> 0.01, '0.023' -> 0.001, '3' -> 1."""
    try:
        exponent = Decimal(cell).as_tuple().exponent
    except InvalidOperation:
        return 1.0
    return float(Decimal(1).scaleb(min(int(exponent), 0)))


def _subject_problem(kind: MetricKind, metric: str, subject: str | None) -> str | None:
    if kind.subject is None and subject:
        return f"metric {metric} takes no subject; leave it empty, got {subject!r}"
    if kind.subject == "ticker" and not (subject and SYMBOL.match(subject)):
        return (
            f"metric {metric} needs a ticker as subject (a Yahoo symbol such as ^RUT or IWM), "
            f"got {subject or 'nothing'!r}"
        )
    if kind.subject == "pair" and not (subject and PAIR.match(subject)):
        return f"metric {metric} needs a pair SMALL/LARGE as subject (e.g. ^RUT/^GSPC), got {subject or 'nothing'!r}"
    if kind.subject == "series" and not (subject and SERIES.match(subject)):
        return f"metric {metric} needs a FRED series id as subject (e.g. CPIAUCSL), got {subject or 'nothing'!r}"
    return None


def _parse_row(cells: list[str], line: int, where: str, problems: list[str]) -> Claim | None:
    if not REQUIRED_CELLS <= len(cells) <= len(HEADER):
        problems.append(
            f"{where}: expected {REQUIRED_CELLS} to {len(HEADER)} cells ({','.join(HEADER)}), "
            f"found {len(cells)}; quote a cell that holds a comma"
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
    if kind is not None and (problem := _subject_problem(kind, row["metric"], subject)):
        problems.append(f"{where}: {problem}")

    start = _date(
        row["start_date"], "start_date", problems, where,
        required=bool(kind and kind.start == "required"),
    )
    as_of = _date(row["as_of_date"], "as_of_date", problems, where, required=True)
    if kind is not None and kind.start == "none" and row["start_date"]:
        problems.append(f"{where}: metric {row['metric']} has no start_date; leave it empty")
    if start and as_of and start >= as_of:
        problems.append(f"{where}: start_date {start} is not before as_of_date {as_of}")

    unit = kind.unit if kind else None
    value = _number(row["claimed_value"], "claimed_value", unit, problems, where)
    tolerance = _number(row["tolerance"], "tolerance", unit, problems, where)
    if tolerance is not None and tolerance < 0:
        problems.append(f"{where}: tolerance {tolerance} is negative")

    comparison = row["comparison"] or "about"
    if comparison not in COMPARISONS:
        problems.append(f"{where}: comparison {comparison!r} is not one of {', '.join(COMPARISONS)}")
    close_tolerance = None
    if row["close_tolerance"]:
        close_tolerance = _number(row["close_tolerance"], "close_tolerance", "relative", problems, where)
        if close_tolerance is not None and not 0 < close_tolerance < 1:
            problems.append(
                f"{where}: close_tolerance {close_tolerance} is relative to the claimed value: "
                "between 0 and 1 (0.2 is within 20%)"
            )
    target = None
    if row["target_level"]:
        target = _number(row["target_level"], "target_level", "price", problems, where)
    if kind is not None and kind.needs_target and not row["target_level"]:
        problems.append(f"{where}: metric {row['metric']} needs target_level (the price target)")
    if kind is not None and not kind.needs_target and row["target_level"]:
        problems.append(f"{where}: metric {row['metric']} has no target_level; leave it empty")

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
        reading=row["reading"] or None,
        line=line,
        words=row["words"] or None,
        comparison=comparison,
        close_tolerance=close_tolerance,
        target_level=target,
        precision=precision_of(row["claimed_value"]),
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


def _recreate_if_older(conn: duckdb.DuckDBPyConnection, columns: list[str]) -> None:
    """A table made by an earlier version (other columns) is dropped and made again: it holds
    nothing but the file, which is loaded next."""
    stored = [
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'core' and table_name = 'published_claims' order by ordinal_position"
        ).fetchall()
    ]
    if stored and stored != columns:
        conn.execute("drop table core.published_claims")
        conn.execute((DDL_DIR / "40_claims.sql").read_text(encoding="utf-8"))


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
    columns = [*HEADER, "claimed_precision", "line_number"]
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
                c.reading,
                c.words,
                c.comparison,
                c.close_tolerance,
                c.target_level,
                c.precision,
                c.line,
            )
            for c in claims
        ],
        columns=columns,
    )
    # Explicit types: an all-empty column (no published_on anywhere) must still be a date.
    kinds = {
        "published_on": "date", "start_date": "date", "as_of_date": "date",
        "subject": "varchar", "reading": "varchar", "words": "varchar",
        "close_tolerance": "double", "target_level": "double",
    }
    casts = ", ".join(f"cast({c} as {kinds[c]}) as {c}" if c in kinds else c for c in columns)
    with transaction(conn):
        _recreate_if_older(conn, columns)
        conn.register("_claims", frame)
        try:
            # No date: a claim's row holds several (published, start, as of), none orders it in
            # time, so a change means the whole list may have changed.
            replace_contents(conn, "core.published_claims", f"select {casts} from _claims",
                             date_column=None, run_id=run_id)
        finally:
            conn.unregister("_claims")
    return len(frame)
