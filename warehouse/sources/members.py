"""The index membership interface every source implements, and the standard shape it returns.

A membership source answers one question: the snapshots of each configured index's members that
the warehouse does not hold yet (it may return held ones again: loading an unchanged snapshot
changes nothing). A snapshot is the member list of one index on one NYSE session, from the
holdings of the fund that tracks the index. Live (iShares' holdings downloads), files (holdings
CSVs in ROTATION_FILES_DIR/holdings/) and sample (synthetic members) implement it alike.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from warehouse import calendar
from warehouse.sources.base import SourceError
from warehouse.sources.holding_symbols import SymbolMap
from warehouse.sources.holdings_file import ParsedHoldings
from warehouse.universe import IndexSpec

# The standard frame of one snapshot's members: one row per Yahoo symbol.
MEMBER_COLUMNS = ["ticker", "holding_ticker", "name", "sector", "weight"]
# Index id -> the snapshot dates the warehouse holds.
Stored = Mapping[str, "set[dt.date]"]


def empty_members() -> pd.DataFrame:
    return pd.DataFrame({
        **{c: pd.Series(dtype="object") for c in MEMBER_COLUMNS[:4]},
        "weight": pd.Series(dtype="float64"),
    })


@dataclass
class Snapshot:
    """The members of one index on one session, and what the source left out of them."""

    index_id: str
    fund: str
    as_of_date: dt.date
    members: pd.DataFrame  # MEMBER_COLUMNS, one row per ticker
    origin: str  # the file or the address it came from; 'sample' for the synthetic one
    left_out: Counter = field(default_factory=Counter)  # reason -> rows of the file not loaded
    unmapped: list[str] = field(default_factory=list)  # 'HOLDING (NAME): why', not loaded
    class_share_candidates: list[str] = field(default_factory=list)  # 'HOLDING (NAME)', loaded as is

    @property
    def key(self) -> tuple[str, dt.date]:
        return self.index_id, self.as_of_date


@dataclass
class MembersBatch:
    """Snapshots from a source, with everything it could not deliver said by name."""

    snapshots: list[Snapshot] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # index id (or file) -> why nothing came
    skipped: dict[str, str] = field(default_factory=dict)  # file -> why it was not loaded (not an error)
    notes: list[str] = field(default_factory=list)
    # Index ids that failed on something transient (a time-out, HTTP 429 or 5xx): a retry may help.
    retry_may_help: set[str] = field(default_factory=set)


class MembersSourceError(SourceError):
    """A membership source could not deliver an index (or a file); the message says what to do."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class MembersSource(Protocol):
    name: str  # 'live' | 'files' | 'sample': written to every row's `source` column

    def snapshots(self, indexes: Sequence[IndexSpec], stored: Stored, until: dt.date,
                  start: dt.date | None = None) -> MembersBatch:
        """Snapshots of these indexes from `start` (None: as far back as the source goes) to the
        session `until`, at least those not in `stored`. Never raises for a single index or file."""
        ...


def snapshot_from_holdings(parsed: ParsedHoldings, spec: IndexSpec, symbols: SymbolMap) -> Snapshot:
    """The members a parsed holdings file gives for `spec`: tickers mapped to Yahoo's, one row per
    symbol (a ticker listed twice, or two tickers mapping to one symbol, is one member with the
    weights added), every row left out counted by reason."""
    if parsed.as_of is None:
        raise MembersSourceError(f"{parsed.path}: the file gives no 'Fund Holdings as of' date")
    if not calendar.is_session(parsed.as_of):
        raise MembersSourceError(
            f"{parsed.path}: dated {parsed.as_of} ({parsed.as_of:%A}), which is not an NYSE session "
            f"({calendar.closed_reason(parsed.as_of)}): holdings describe a session's close, so this is "
            "not a holdings file of that fund as published"
        )
    left_out = Counter(parsed.left_out)
    unmapped: list[str] = []
    candidates: list[str] = []
    rows: dict[str, dict] = {}
    for holding in parsed.holdings:
        symbol, why = symbols.symbol(holding.ticker)
        label = f"{holding.ticker} ({holding.name})"
        if symbol is None:
            unmapped.append(f"{label}: {why}")
            left_out["unmapped"] += 1
            continue
        if symbols.class_share_candidate(holding):
            candidates.append(label)
        if symbol in rows:
            left_out["duplicate"] += 1
            if holding.weight is not None:
                first = rows[symbol]["weight"]
                rows[symbol]["weight"] = holding.weight + (first or 0.0)
            continue
        rows[symbol] = {"ticker": symbol, "holding_ticker": holding.ticker, "name": holding.name,
                        "sector": holding.sector, "weight": holding.weight}
    members = pd.DataFrame.from_records(list(rows.values()), columns=MEMBER_COLUMNS) if rows else empty_members()
    members["weight"] = members["weight"].astype("float64")
    return Snapshot(spec.index_id, spec.fund, parsed.as_of, members, parsed.path, left_out, unmapped, candidates)


def open_members_source(kind: str, files_dir: Path | str | None = None, **options) -> MembersSource:
    """The membership source of that kind; `files` needs the folder holding holdings/."""
    if kind == "live":
        from warehouse.sources.members_live import ISharesMembersSource

        return ISharesMembersSource(**options)
    if kind == "files":
        from warehouse.sources.members_files import FilesMembersSource

        if not files_dir:
            raise SourceError(
                "ROTATION_SOURCE=files needs ROTATION_FILES_DIR: the folder holding holdings/<any name>.csv"
            )
        return FilesMembersSource(Path(files_dir), **options)
    if kind == "sample":
        from warehouse.sources.sample_members import SampleMembersSource

        return SampleMembersSource(**options)
    raise SourceError(f"unknown source {kind!r}: use live, files or sample")
