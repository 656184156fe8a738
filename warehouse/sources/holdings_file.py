"""The holdings CSV iShares publishes for each fund, read into the fund's equity holdings.

The file (see the test files and README "Index members"): a UTF-8 BOM; the fund's name on line 1;
`Fund Holdings as of,"Apr 10, 2026"` on line 2; more fund facts and a line holding only a
non-breaking space; then the table, its header unquoted and every cell quoted, numbers with
thousands separators, `-` for a missing value; then another non-breaking-space line and the legal
disclaimer as one quoted field spanning several lines. Columns are found by name, so the renamed
`Shares`/`Quantity` column and the column order do not matter.

Only equity holdings that trade are members. Every table row left out is counted by reason, none
silently (`LEFT_OUT_REASONS`, checked in this order, the first that applies counts):
cash, money_market, collateral, futures and not_equity (the other asset classes); no_ticker (`-`:
vesting rights, private placements); right (`MPTI RT`); cvr; warrant; escrow; unlisted (exchange
`NO MARKET`); zero_price (priced 0.00 or not priced: an escrow or a delisted line kept at 0).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

# The fund names the first line of the file gives, for the funds the shipped universe uses; an
# [indexes] entry may name another fund's with `fund_name`.
FUND_NAMES = {
    "IWM": "iShares Russell 2000 ETF",
    "IJR": "iShares Core S&P Small-Cap ETF",
    "IVV": "iShares Core S&P 500 ETF",
    "IWV": "iShares Russell 3000 ETF",
}
AS_OF_LABEL = "fund holdings as of"
DATE_FORMAT = "%b %d, %Y"  # Apr 10, 2026
# Columns read, by their normalised header name.
REQUIRED = ("ticker", "name", "sector", "asset class", "weight (%)", "price")
OPTIONAL = ("exchange",)
MISSING = "-"
# Asset classes that are not equity, and the reason their rows are left out under.
ASSET_CLASS_REASONS = {
    "cash": "cash",
    "money market": "money_market",
    "cash collateral and margins": "collateral",
    "futures": "futures",
}
LEFT_OUT_REASONS = (
    "cash", "money_market", "collateral", "futures", "not_equity", "no_ticker", "right", "cvr",
    "warrant", "escrow", "unlisted", "zero_price",
)
# Names are matched on whole words at the places a security's kind is written, because companies
# carry these letters too: CVR ENERGY INC (CVI) and CVRX INC are stocks, BRIGHTSPIRE is no right.
RIGHT = re.compile(r"\bRIGHTS\b")
CVR = re.compile(r"\bCVR$")
WARRANT = re.compile(r"\bWARRANTS?\b")
ESCROW = re.compile(r"\bESCROW\b|^ESC\b", re.I)
# How far into the file the table's header may start (it is line 10 in every file seen).
HEADER_WITHIN = 30


class HoldingsFileError(ValueError):
    """A holdings file that cannot be read; the message names the file and, where it applies, the line."""


@dataclass(frozen=True)
class Holding:
    """One equity row of the table that is a member."""

    ticker: str  # as the file writes it
    name: str
    sector: str | None
    weight: float | None  # fraction of the fund: the file's percent / 100
    exchange: str | None
    line: int  # the file's line where the row starts


@dataclass
class ParsedHoldings:
    path: str  # the file, or the address it was downloaded from
    fund_name: str
    as_of: dt.date | None  # None: the file says `-` (a download for a day the fund has nothing for)
    holdings: list[Holding] = field(default_factory=list)
    left_out: Counter = field(default_factory=Counter)  # reason -> table rows not members
    table_rows: int = 0

    @property
    def empty(self) -> bool:
        return self.table_rows == 0


def normalise_name(name: str) -> str:
    """A fund name compared loosely: case, spaces, punctuation and '&' spelled out ignored
    ("S&P SmallCap" = "S&P Small-Cap")."""
    return re.sub(r"[^a-z0-9]", "", name.replace("\u00a0", " ").casefold().replace("&", "and"))


def fund_of_name(name: str, known: dict[str, str] | None = None) -> str | None:
    """The fund ticker whose name the first line says, from `known` (fund -> name) and FUND_NAMES."""
    wanted = normalise_name(name)
    for fund, fund_name in {**FUND_NAMES, **(known or {})}.items():
        if normalise_name(fund_name) == wanted:
            return fund
    return None


def read_holdings(path: Path) -> ParsedHoldings:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HoldingsFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    return parse_holdings(data, str(path))


def _number(text: str, where: str, column: str) -> float | None:
    text = text.strip()
    if text in (MISSING, ""):
        return None
    try:
        return float(text.replace(",", ""))
    except ValueError:
        raise HoldingsFileError(f"{where}: {column} {text!r} is not a number") from None


def _blank(cells: list[str]) -> bool:
    return not any(c.replace("\u00a0", " ").strip() for c in cells)


def parse_holdings(data: bytes | str, path: str) -> ParsedHoldings:
    """The fund, its as-of date and its member holdings, with every other row counted by reason.

    Raises HoldingsFileError naming `path` (and the line) for a file that is not a holdings file:
    no fund name, no `Fund Holdings as of` line or an unreadable date, no table header with the
    columns read, a table row with another number of cells, a number that is not one."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise HoldingsFileError(f"{path}: not UTF-8 text (byte {exc.start}): not a holdings download") from None
    else:
        text = data.removeprefix("\ufeff")
    if text.lstrip().startswith("<"):
        start = " ".join(text.strip().split())[:60]
        raise HoldingsFileError(f"{path}: an HTML page, not a holdings file (it starts with {start!r})")
    reader = csv.reader(text.splitlines(keepends=True))
    records: list[tuple[int, list[str]]] = []  # (line where the record starts, cells)
    line = 1
    try:
        for cells in reader:
            records.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise HoldingsFileError(f"{path} line {reader.line_num}: not CSV ({exc})") from None
    if not records or _blank(records[0][1]):
        raise HoldingsFileError(
            f"{path} line 1: no fund name (a holdings file starts with it, e.g. 'iShares Russell 2000 ETF')")
    fund_name = records[0][1][0].strip()
    as_of = _as_of(records, path)

    header_at = next(
        (i for i, (_, cells) in enumerate(records[:HEADER_WITHIN])
         if {"ticker", "name"} <= {c.strip().lower() for c in cells}),
        None,
    )
    if header_at is None:
        if as_of is None:  # a download for a day without holdings: facts, no table
            return ParsedHoldings(path, fund_name, None)
        raise HoldingsFileError(
            f"{path}: no table header (a line starting 'Ticker,Name,Sector,...') in its first {HEADER_WITHIN} lines"
        )
    header_line, header = records[header_at]
    columns = {c.strip().lower(): i for i, c in enumerate(header)}
    absent = [c for c in REQUIRED if c not in columns]
    if absent:
        raise HoldingsFileError(
            f"{path} line {header_line}: the table header has no {', '.join(repr(c) for c in absent)} column "
            f"(it has {', '.join(c.strip() for c in header)})"
        )
    parsed = ParsedHoldings(path, fund_name, as_of)
    for line, cells in records[header_at + 1:]:
        if _blank(cells) or len(cells) == 1:
            break  # the blank line before the disclaimer, or the disclaimer itself
        if len(cells) != len(header):
            raise HoldingsFileError(
                f"{path} line {line}: {len(cells)} cells where the header has {len(header)}: a row cut or "
                "edited; download the file again"
            )
        parsed.table_rows += 1
        holding = _row(cells, columns, f"{path} line {line}", line, parsed.left_out)
        if holding is not None:
            parsed.holdings.append(holding)
    if parsed.table_rows and as_of is None:
        raise HoldingsFileError(f"{path} line 2: the table has rows but the file gives no 'Fund Holdings as of' date")
    return parsed


def _as_of(records: list[tuple[int, list[str]]], path: str) -> dt.date | None:
    for line, cells in records[1:HEADER_WITHIN]:
        if cells and cells[0].strip().lower() == AS_OF_LABEL:
            value = cells[1].strip() if len(cells) > 1 else ""
            if value in (MISSING, ""):
                return None
            try:
                return dt.datetime.strptime(value, DATE_FORMAT).date()
            except ValueError:
                raise HoldingsFileError(
                    f"{path} line {line}: 'Fund Holdings as of' {value!r} is not a date like 'Apr 10, 2026'"
                ) from None
    raise HoldingsFileError(
        f"{path}: no 'Fund Holdings as of' line (line 2 of a holdings file): not a holdings download")


def _row(cells: list[str], columns: dict[str, int], where: str, line: int, left_out: Counter) -> Holding | None:
    """The member the row is, or None after counting why it is not one."""

    def cell(name: str) -> str | None:
        i = columns.get(name)
        value = cells[i].strip() if i is not None else ""
        return None if value in (MISSING, "") else value

    asset_class = (cell("asset class") or "").lower()
    reason = None
    if asset_class != "equity":
        reason = ASSET_CLASS_REASONS.get(asset_class, "not_equity")
    ticker, name = cell("ticker"), (cell("name") or "").upper()
    exchange = cell("exchange")
    if reason is None:
        if ticker is None:
            reason = "no_ticker"
        elif " " in ticker or RIGHT.search(name):
            reason = "right"
        elif CVR.search(name):
            reason = "cvr"
        elif WARRANT.search(name):
            reason = "warrant"
        elif ESCROW.search(name):
            reason = "escrow"
        elif exchange is not None and exchange.upper().startswith("NO MARKET"):
            reason = "unlisted"
    # Numbers are read for every row, so a damaged cell is named even on a row left out.
    weight = _number(cells[columns["weight (%)"]], where, "Weight (%)")
    price = _number(cells[columns["price"]], where, "Price")
    if reason is None and (price is None or price == 0):
        reason = "zero_price"
    if reason is not None:
        left_out[reason] += 1
        return None
    return Holding(
        ticker=ticker, name=cell("name") or "", sector=cell("sector"),
        # Percent to a fraction in decimal, so 1.93 is stored as 0.0193, not 0.019299999999999998.
        weight=None if weight is None else float(Decimal(repr(weight)) / 100), exchange=exchange, line=line,
    )
