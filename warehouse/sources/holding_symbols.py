"""From the ticker a holdings file writes to the member's Yahoo symbol.

iShares drops the separator of class shares (MOGA, BRKB, GEFB, CRDA, HEIA, LENB, CWENA, BFB for
Yahoo's MOG-A, BRK-B, ...). The obvious rule, "the name says CLASS A and the ticker ends in A, so
insert a dash", is wrong more often than right in the real files: of the NYSE members it would
touch, ACVA, BETA, CBNA, CIA, CVNA, IBTA, INFA, MA, UAA, VIA, ZETA and ZVIA are complete symbols,
and Nasdaq class shares (CMCSA, FOXA, NWSA, BELFB, LBTYA) keep the letter at Yahoo too. A wrong
symbol is worse than none: it loads another security's prices or nothing. So the only rules are
the safe ones:
1. config/holding_symbols.csv, edited by hand, maps each known exception (an empty symbol: the
   member has no Yahoo symbol and is not loaded);
2. a ticker written with a separator (BRK.B, BRK/B) takes Yahoo's dash;
3. any other ticker that is a plain symbol is the Yahoo symbol.
What none of them maps is named in the run and not loaded. Members that look like class shares
(an NYSE listing, the name says CLASS X, the ticker ends in X) and that the file does not list
are named too, as `class_share_candidates`, for someone to check and add.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from warehouse import settings
from warehouse.sources.holdings_file import Holding

FILE = "holding_symbols.csv"
COLUMNS = ["holding_ticker", "yahoo_symbol", "name", "note"]
SEPARATED = re.compile(r"^([A-Z0-9]{1,6})[./]([A-Z])$")
PLAIN = re.compile(r"^[A-Z0-9]{1,10}(-[A-Z]{1,2})?$")
HOLDING = re.compile(r"^[A-Z0-9][A-Z0-9./ \-]{0,14}$")
CLASS = re.compile(r"\bCLASS ([A-Z])\b")
# Exchanges where a class share's symbol has a separator (Nasdaq's fifth letter is part of it).
SEPARATOR_EXCHANGES = ("NYSE", "NEW YORK STOCK EXCHANGE")


class HoldingSymbolsError(ValueError):
    """config/holding_symbols.csv cannot be used; the message names the file and the line."""


def default_path() -> Path:
    return settings.config_dir() / FILE


@dataclass(frozen=True)
class SymbolMap:
    path: Path
    overrides: dict[str, str | None]  # holding ticker -> Yahoo symbol; None: none exists

    def symbol(self, holding_ticker: str) -> tuple[str | None, str | None]:
        """(Yahoo symbol, None) or (None, why it cannot be mapped)."""
        ticker = holding_ticker.strip().upper()
        if ticker in self.overrides:
            symbol = self.overrides[ticker]
            if symbol is None:
                return None, f"{self.path.name} says it has no Yahoo symbol"
            return symbol, None
        if m := SEPARATED.match(ticker):
            return f"{m[1]}-{m[2]}", None
        if PLAIN.match(ticker):
            return ticker, None
        return None, f"not a symbol Yahoo uses: add it to {self.path}"

    def class_share_candidate(self, holding: Holding) -> bool:
        """A member mapped to itself that may be a class share written without its separator."""
        ticker = holding.ticker.upper()
        if ticker in self.overrides or not PLAIN.match(ticker) or len(ticker) < 3:
            return False
        exchange = (holding.exchange or "").upper()
        m = CLASS.search(holding.name.upper())
        return bool(m) and ticker.endswith(m[1]) and exchange.startswith(SEPARATOR_EXCHANGES)


def load_symbol_map(path: Path | None = None) -> SymbolMap:
    """The overrides file, validated: a malformed or repeated line is refused with its number."""
    path = Path(path or default_path())
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise HoldingSymbolsError(
            f"{path}: the file of holdings tickers that are not Yahoo symbols does not exist "
            "(it ships with the project: restore it, even with only its header)"
        ) from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise HoldingSymbolsError(f"{path}: no header line ({','.join(COLUMNS)})")
    header_line, header = lines[0]
    if [c.strip() for c in next(csv.reader([header]))] != COLUMNS:
        raise HoldingSymbolsError(f"{path} line {header_line}: the header must be {','.join(COLUMNS)}, got {header!r}")
    overrides: dict[str, str | None] = {}
    seen: dict[str, int] = {}
    for number, line in lines[1:]:
        cells = [c.strip() for c in next(csv.reader([line]))]
        if len(cells) != len(COLUMNS):
            raise HoldingSymbolsError(
                f"{path} line {number}: {len(cells)} cells, expected {len(COLUMNS)} ({','.join(COLUMNS)}); "
                "quote a name that holds a comma"
            )
        holding, symbol = cells[0].upper(), cells[1].upper()
        if not HOLDING.match(holding):
            raise HoldingSymbolsError(f"{path} line {number}: holding_ticker {cells[0]!r} is not a ticker")
        if symbol and not PLAIN.match(symbol):
            raise HoldingSymbolsError(
                f"{path} line {number}: yahoo_symbol {cells[1]!r} is not a Yahoo symbol (e.g. MOG-A); "
                "leave it empty when there is none"
            )
        if holding in seen:
            raise HoldingSymbolsError(
                f"{path} line {number}: {holding} is listed twice (first on line {seen[holding]}): keep one line"
            )
        seen[holding] = number
        overrides[holding] = symbol or None
    return SymbolMap(path, overrides)
