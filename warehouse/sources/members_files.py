"""Index members from holdings files in ROTATION_FILES_DIR/holdings/ (any file names).

Each file says which fund and which day it holds (its first two lines), so a user drops in
the files as downloaded, named as they like. A file is matched to the [indexes] entry whose
fund it is; a file of a fund no index uses is reported and skipped. A malformed file is refused by
name (and line) and the other files still load.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from warehouse.sources.holding_symbols import SymbolMap, load_symbol_map
from warehouse.sources.holdings_file import FUND_NAMES, HoldingsFileError, fund_of_name, read_holdings
from warehouse.sources.members import MembersBatch, MembersSourceError, Snapshot, Stored, snapshot_from_holdings
from warehouse.universe import IndexSpec

FOLDER = "holdings"
SUFFIXES = {".csv", ".txt"}


class FilesMembersSource:
    name = "files"

    def __init__(self, root: Path, symbols: SymbolMap | None = None):
        self.root = Path(root)
        self._symbols = symbols

    @property
    def folder(self) -> Path:
        return self.root / FOLDER

    def snapshots(self, indexes: Sequence[IndexSpec], stored: Stored, until: dt.date,
                  start: dt.date | None = None) -> MembersBatch:
        batch = MembersBatch()
        if not self.folder.is_dir():
            batch.notes.append(f"{self.folder} does not exist: no holdings files, no index members loaded")
            return batch
        symbols = self._symbols or load_symbol_map()
        by_fund = {spec.fund: spec for spec in indexes}
        names = {spec.fund: spec.fund_name for spec in indexes if spec.fund_name}
        taken: dict[tuple[str, dt.date], Snapshot] = {}
        files = sorted(p for p in self.folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
        for path in files:
            try:
                parsed = read_holdings(path)
                fund = fund_of_name(parsed.fund_name, names)
                if fund is None:
                    batch.skipped[str(path)] = (
                        f"fund {parsed.fund_name!r} is not one this warehouse knows (known: "
                        f"{', '.join(sorted({**FUND_NAMES, **names}.values()))}); give its name with "
                        "fund_name in its [indexes] entry of config/universe.toml to load it"
                    )
                    continue
                spec = by_fund.get(fund)
                if spec is None:
                    batch.skipped[str(path)] = (
                        f"holdings of {fund} ({parsed.fund_name}), and no enabled [indexes] entry of "
                        "config/universe.toml uses that fund"
                    )
                    continue
                if parsed.empty:
                    raise MembersSourceError(f"{path}: the holdings table has no rows")
                snapshot = snapshot_from_holdings(parsed, spec, symbols)
            except (HoldingsFileError, MembersSourceError) as exc:
                batch.failed[str(path)] = f"{exc} (file refused; the other files still load)"
                continue
            if snapshot.as_of_date > until:
                batch.skipped[str(path)] = (
                    f"dated {snapshot.as_of_date}, after the last completed session {until}: loaded once it closes"
                )
                continue
            if start is not None and snapshot.as_of_date < start:
                batch.skipped[str(path)] = (
                    f"dated {snapshot.as_of_date}, before [history] start {start} in config/universe.toml"
                )
                continue
            earlier = taken.get(snapshot.key)
            if earlier is not None:
                if _same(earlier, snapshot):
                    batch.skipped[str(path)] = (
                        f"the same holdings as {earlier.origin} ({spec.fund} on {snapshot.as_of_date})")
                else:
                    batch.failed[str(path)] = (
                        f"{spec.fund} holdings of {snapshot.as_of_date} differ from those of {earlier.origin}: "
                        "keep one file per fund and day (file refused; the other files still load)"
                    )
                continue
            taken[snapshot.key] = snapshot
            batch.snapshots.append(snapshot)
        if not files:
            batch.notes.append(f"{self.folder} holds no .csv files: no index members loaded")
        return batch


def _same(a: Snapshot, b: Snapshot) -> bool:
    return a.members.sort_values("ticker").reset_index(drop=True).equals(
        b.members.sort_values("ticker").reset_index(drop=True))
