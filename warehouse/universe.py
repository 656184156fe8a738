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
# The first session of price history Yahoo has (^GSPC's first bar), the default [history] start
# and the earliest one allowed: the NYSE calendar (warehouse/calendar.py) and the monthly
# partitions start there.
EARLIEST_START = dt.date(1927, 12, 30)


class UniverseError(ValueError):
    """A universe file that cannot be used; the message names the file and the entry."""

    needle: str | None = None  # text of the offending entry, to find its line


@dataclass(frozen=True)
class Pair:
    small: str
    large: str

    @property
    def name(self) -> str:
        return f"{self.small}/{self.large}"


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


def _line_of(text: str, needle: str) -> int | None:
    """The first line (1-based) outside comments that holds `needle`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line.split("#", 1)[0]:
            return number
    return None


def _fail(path: Path, message: str, needle: str | None = None) -> UniverseError:
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
    known = {"history", "prices", "pairs", "rates", "valuations"}
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
    )
