"""The benchmark's synthetic universe: N tickers over Y years of NYSE sessions, from the sample."""

from __future__ import annotations

import datetime as dt
import shutil
import tomllib
from pathlib import Path

import pyarrow as pa

from warehouse import calendar
from warehouse.sources.sample import SampleSource
from warehouse.universe import load_universe

BASE = ["^RUT", "^GSPC", "IWM", "SPY", "QQQ", "IJR", "RSP"]


def member(i: int) -> str:
    return f"M{i:04d}"


def tickers(n: int) -> list[str]:
    return BASE + [member(i) for i in range(max(0, n - len(BASE)))]


def date_range(years: int) -> tuple[dt.date, dt.date]:
    end = calendar.last_completed_session()
    start = calendar.shift_sessions(end, -252 * years)
    return start, end


def generate(n: int, years: int, end: dt.date | None = None) -> pa.Table:
    """All bars as one Arrow table (the loader's input), in (trade_date, ticker) order.

    Built ticker by ticker, then sorted by date as the real pipeline lays its table out: it
    loads monthly partitions (one month of every ticker per batch), so core.prices_daily ends up
    clustered by date, month by month, and date-range scans skip row groups by their trade_date
    zone maps. One batch in ticker order would give a table no date filter can prune. Not timed.
    """
    start, last = date_range(years)
    end = end or last
    source = SampleSource(start=start)
    parts = []
    for frame in source.iter_bars(tickers(n), start, end):
        table = pa.Table.from_pandas(frame, preserve_index=False)
        parts.append(table.set_column(1, "trade_date", table["trade_date"].cast(pa.date32())))
    bars = pa.concat_tables(parts)
    return bars.sort_by([("trade_date", "ascending"), ("ticker", "ascending")])


def next_session_bars(n: int, years: int, day: dt.date) -> pa.Table:
    """One more session for every ticker (the incremental phase's new data)."""
    start, _ = date_range(years)
    source = SampleSource(start=start)
    parts = []
    for frame in source.iter_bars(tickers(n), day, day):
        table = pa.Table.from_pandas(frame, preserve_index=False)
        parts.append(table.set_column(1, "trade_date", table["trade_date"].cast(pa.date32())))
    return pa.concat_tables(parts)


def write_config(folder: Path, n: int) -> Path:
    """A config folder whose universe is the benchmark's tickers; breadth over all members."""
    folder.mkdir(parents=True, exist_ok=True)
    members = [t for t in tickers(n) if t.startswith("M")]
    universe = load_universe()
    pairs = "\n".join(f'[[pairs]]\nsmall = "{p.small}"\nlarge = "{p.large}"\n' for p in universe.pairs)
    (folder / "universe.toml").write_text(
        f'[history]\nstart = "1990-01-02"\n\n[prices.groups]\n'
        f"indices = {BASE[:2]!r}\netfs = {BASE[2:]!r}\nmembers = {members!r}\n\n{pairs}".replace("'", '"')
    )
    source_models = universe.path.parent / "models.toml"
    text = source_models.read_text()
    raw = tomllib.loads(text)
    lines = [ln for ln in text.splitlines() if not ln.startswith(tuple(raw.get("breadth", {}).get("groups", {})))]
    (folder / "models.toml").write_text("\n".join(lines).replace(
        "[breadth.groups]", '[breadth.groups]\nmembers = "members"\nsectors = "etfs"') + "\n")
    for extra in universe.path.parent.glob("*.csv"):
        shutil.copy(extra, folder / extra.name)
    return folder
