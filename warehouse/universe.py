"""The universe file: which tickers, pairs and series the warehouse ingests.

It is edited by hand, so every entry is validated when it is read and a bad one is refused with
the file and the entry named.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from warehouse import settings

# Yahoo symbols: letters, digits, '.', '-', '=' and an optional leading '^' for indices.
SYMBOL = re.compile(r"^\^?[A-Z0-9][A-Z0-9.\-=]{0,14}$")
# FRED series ids are upper-case letters and digits.
SERIES_ID = re.compile(r"^[A-Z0-9][A-Z0-9_]{0,39}$")
# Index ids name SQL rows and Dagster metadata keys: lower case, digits and underscores.
INDEX_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# A fund page on www.ishares.com, without the host: the live download is <page>/<file>.ajax.
FUND_PAGE = re.compile(r"^/[A-Za-z0-9/_\-]+$")
INDEX_KEYS = {"fund", "index_symbol", "page", "fund_name", "enabled"}
# The first session of price history Yahoo has (^GSPC's first bar), the default [history] start
# and the earliest one allowed: the NYSE calendar (warehouse/calendar.py) and the monthly
# partitions start there.
EARLIEST_START = dt.date(1927, 12, 30)


class UniverseError(ValueError):
    """A universe file that cannot be used; the message names the file and the entry."""

    needle: str | tuple[str, str] | None = None  # text of the offending entry (in a section), to find its line


@dataclass(frozen=True)
class Pair:
    small: str
    large: str

    @property
    def name(self) -> str:
        return f"{self.small}/{self.large}"


@dataclass(frozen=True)
class IndexSpec:
    """An index whose members the warehouse follows, through the holdings of a fund tracking it."""

    index_id: str  # e.g. russell_2000
    fund: str  # the ETF whose holdings define the members, e.g. IWM
    index_symbol: str  # the index the members are compared with, e.g. ^RUT
    page: str  # the fund's page on www.ishares.com, e.g. /us/products/239710/ishares-russell-2000-etf
    # The fund's name as the first line of its holdings file says it; None: the shipped table
    # (warehouse/sources/holdings_file.py FUND_NAMES) knows it.
    fund_name: str | None = None


@dataclass(frozen=True)
class Universe:
    path: Path
    history_start: dt.date
    refetch_sessions: int
    groups: dict[str, tuple[str, ...]]
    pairs: tuple[Pair, ...]
    rate_series: tuple[str, ...] = ()
    revision_days: int = 30  # [rates]: days re-fetched before each series' last stored date
    valuation_tickers: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)
    # True when [history] start is set in the file; False when it is the default, EARLIEST_START.
    start_configured: bool = False
    indexes: tuple[IndexSpec, ...] = ()  # [indexes.<id>] entries that are enabled

    def index(self, index_id: str) -> IndexSpec:
        for spec in self.indexes:
            if spec.index_id == index_id:
                return spec
        raise KeyError(index_id)
    # [prices] batch_size, batch_pause_seconds: how the live source spreads ~2,700 tickers (an
    # index's members) over Yahoo: tickers per download call, and the wait between two calls.
    batch_size: int = 100
    batch_pause_seconds: float = 2.0

    @property
    def tickers(self) -> tuple[str, ...]:
        return tuple(t for members in self.groups.values() for t in members)

    def group_of(self, ticker: str) -> str:
        for name, members in self.groups.items():
            if ticker in members:
                return name
        raise KeyError(ticker)


def default_path() -> Path:
    return settings.config_dir() / "universe.toml"


def load_universe(path: Path | None = None) -> Universe:
    path = Path(path or default_path())
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UniverseError(f"{path}: the universe file does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UniverseError(f"{path}: not valid TOML ({exc})") from exc
    try:
        return _parse(raw, path)
    except UniverseError as exc:
        if exc.needle is None:
            raise
        line = _line_of(path.read_text(encoding="utf-8"), exc.needle)
        if line is None:
            raise
        raise UniverseError(str(exc).replace(f"{path}: ", f"{path} line {line}: ", 1)) from exc


def _line_of(text: str, needle: str | tuple[str, str]) -> int | None:
    """The first line (1-based) outside comments that holds `needle`; for (section, text), the
    first such line after the section's header line (the header's own line when none follows
    before the next section)."""
    section = None
    if isinstance(needle, tuple):
        section, needle = needle
    lines = text.splitlines()
    start = 0
    if section is not None:
        header = next((i for i, line in enumerate(lines) if line.split("#", 1)[0].strip() == section), None)
        if header is None:
            return None
        start = header + 1
    for number, line in enumerate(lines[start:], start=start + 1):
        code = line.split("#", 1)[0]
        if section is not None and code.strip().startswith("["):
            return start  # the section ended: its header names the entry
        if section is not None and re.match(rf"\s*{re.escape(needle)}\s*=", code):
            return number  # the key's own line, not another key that contains its name
        if section is None and needle in code:
            return number
    return start or None


def _fail(path: Path, message: str, needle: str | tuple[str, str] | None = None) -> UniverseError:
    """The error; `needle` is text of the offending entry, so the file's line can be named."""
    error = UniverseError(f"{path}: {message}")
    error.needle = needle
    return error


def _symbol_list(path: Path, where: str, value: object, pattern: re.Pattern, kind: str) -> list:
    if not isinstance(value, list):
        raise _fail(path, f"{where} must be a list of {kind}s, got {value!r}")
    out = []
    for item in value:
        if not isinstance(item, str) or not pattern.match(item):
            raise _fail(
                path,
                f"{where}: {item!r} is not a valid {kind} "
                f"(upper case, e.g. {'IWM or ^RUT' if kind == 'ticker' else 'DFF'})",
                needle=f'"{item}"' if isinstance(item, str) else None,
            )
        if item in out:
            raise _fail(path, f"{where}: {item!r} is listed twice", needle=f'"{item}"')
        out.append(item)
    return out


def _batch_settings(path: Path, prices: dict) -> tuple[int, float]:
    size = prices.get("batch_size", Universe.batch_size)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1000:
        raise _fail(path, f"[prices] batch_size must be a whole number of tickers from 1 to 1000, got {size!r}",
                    needle="batch_size")
    pause = prices.get("batch_pause_seconds", Universe.batch_pause_seconds)
    if isinstance(pause, bool) or not isinstance(pause, int | float) or not 0 <= pause <= 600:
        raise _fail(path, f"[prices] batch_pause_seconds must be a number of seconds from 0 to 600, got {pause!r}",
                    needle="batch_pause_seconds")
    return size, float(pause)


def _parse(raw: dict, path: Path) -> Universe:
    history = raw.get("history", {})
    configured = "start" in history
    raw_start = history.get("start", EARLIEST_START)
    try:
        # TOML dates arrive as datetime.date, quoted ones as strings.
        start = raw_start if type(raw_start) is dt.date else dt.date.fromisoformat(str(raw_start))
    except ValueError as exc:
        raise _fail(path, f"[history] start {raw_start!r} is not a date") from exc
    if start < EARLIEST_START:
        raise _fail(
            path,
            f"[history] start {start} is before {EARLIEST_START}, the first session the warehouse's NYSE "
            "calendar and partitions cover (and the first Yahoo has): set it to that date or later, or "
            "remove it to keep the whole history",
        )
    refetch = history.get("refetch_sessions", 10)
    if not isinstance(refetch, int) or refetch < 10:
        raise _fail(path, f"[history] refetch_sessions must be an integer >= 10, got {refetch!r}")

    groups_raw = raw.get("prices", {}).get("groups")
    if not isinstance(groups_raw, dict) or not groups_raw:
        raise _fail(path, "[prices.groups] is missing or empty: list the tickers by group")
    groups: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    for name, members in groups_raw.items():
        tickers = _symbol_list(path, f"[prices.groups] {name}", members, SYMBOL, "ticker")
        for ticker in tickers:
            if ticker in seen:
                raise _fail(
                    path,
                    f"[prices.groups] ticker {ticker!r} is in both {seen[ticker]!r} and "
                    f"{name!r}: keep it in one group",
                )
            seen[ticker] = name
        groups[name] = tuple(tickers)

    pairs: list[Pair] = []
    for i, entry in enumerate(raw.get("pairs", []), start=1):
        if not isinstance(entry, dict) or set(entry) != {"small", "large"}:
            raise _fail(path, f"[[pairs]] entry {i} must have exactly 'small' and 'large': {entry!r}")
        pair = Pair(entry["small"], entry["large"])
        for side in (pair.small, pair.large):
            if side not in seen:
                raise _fail(
                    path, f"[[pairs]] {pair.name}: {side!r} is not in any [prices.groups] list"
                )
        if pair.small == pair.large:
            raise _fail(path, f"[[pairs]] {pair.name}: a pair needs two different tickers")
        if pair in pairs:
            raise _fail(path, f"[[pairs]] {pair.name} is listed twice")
        pairs.append(pair)

    rate_series = _symbol_list(
        path, "[rates] series", raw.get("rates", {}).get("series", []), SERIES_ID, "series id"
    )
    revision_days = raw.get("rates", {}).get("revision_days", 30)
    if isinstance(revision_days, bool) or not isinstance(revision_days, int) or not 0 <= revision_days <= 3660:
        raise _fail(
            path, f"[rates] revision_days must be a whole number of days from 0 to 3660, got {revision_days!r}"
        )
    valuation_tickers = _symbol_list(
        path,
        "[valuations] tickers",
        raw.get("valuations", {}).get("tickers", []),
        SYMBOL,
        "ticker",
    )
    batch_size, batch_pause = _batch_settings(path, raw.get("prices", {}))
    indexes = _indexes(path, raw.get("indexes", {}))
    known = {"history", "prices", "pairs", "rates", "valuations", "indexes"}
    return Universe(
        path=path,
        history_start=start,
        refetch_sessions=refetch,
        groups=groups,
        pairs=tuple(pairs),
        rate_series=tuple(rate_series),
        revision_days=revision_days,
        valuation_tickers=tuple(valuation_tickers),
        extra={k: v for k, v in raw.items() if k not in known},
        start_configured=configured,
        batch_size=batch_size,
        batch_pause_seconds=batch_pause,
        indexes=indexes,
    )


def _indexes(path: Path, raw: object) -> tuple[IndexSpec, ...]:
    """The enabled [indexes.<id>] entries; each one is validated, enabled or not."""
    if not isinstance(raw, dict):
        raise _fail(path, f"[indexes] must hold one [indexes.<id>] table per index, got {raw!r}")
    specs: list[IndexSpec] = []
    funds: dict[str, str] = {}
    for index_id, entry in raw.items():
        header = f"[indexes.{index_id}]"
        if not INDEX_ID.match(index_id):
            raise _fail(path, f"{header}: the id must be lower case letters, digits and _ (e.g. russell_2000)",
                        needle=header)
        if not isinstance(entry, dict):
            raise _fail(path, f"{header} must be a table with fund, index_symbol and page", needle=header)
        unknown = sorted(set(entry) - INDEX_KEYS)
        if unknown:
            raise _fail(path, f"{header}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(INDEX_KEYS))})",
                        needle=(header, unknown[0]))
        for key in ("fund", "index_symbol", "page"):
            if key not in entry:
                raise _fail(path, f"{header} has no {key!r}", needle=header)
        fund, symbol, page = entry["fund"], entry["index_symbol"], entry["page"]
        for key, value in (("fund", fund), ("index_symbol", symbol)):
            if not isinstance(value, str) or not SYMBOL.match(value):
                raise _fail(path, f"{header} {key} {value!r} is not a valid ticker (upper case, e.g. IWM or ^RUT)",
                            needle=(header, key))
        if not isinstance(page, str) or not FUND_PAGE.match(page):
            raise _fail(
                path,
                f"{header} page {page!r} must be the path of the fund's page on www.ishares.com, "
                "e.g. /us/products/239710/ishares-russell-2000-etf",
                needle=(header, "page"),
            )
        fund_name = entry.get("fund_name")
        if fund_name is not None and (not isinstance(fund_name, str) or not fund_name.strip()):
            raise _fail(path, f"{header} fund_name must be the fund's name as its holdings file's first line says it",
                        needle=(header, "fund_name"))
        enabled = entry.get("enabled", True)
        if not isinstance(enabled, bool):
            raise _fail(path, f"{header} enabled must be true or false, got {enabled!r}", needle=(header, "enabled"))
        if fund in funds:
            raise _fail(path, f"{header} fund {fund!r} already defines [indexes.{funds[fund]}]: one index per fund",
                        needle=(header, "fund"))
        funds[fund] = index_id
        if enabled:
            specs.append(IndexSpec(index_id, fund, symbol, page, fund_name.strip() if fund_name else None))
    return tuple(specs)
