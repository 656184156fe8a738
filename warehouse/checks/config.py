"""The thresholds of the checks, from config/checks.toml.

Each [<domain>.<check>] table holds keyword arguments of one check function (warehouse/checks/
<domain>.py); a key the file does not set keeps the function's default. A key that is no threshold
of that check, or a value of the wrong type, is refused with the file's path, the line and the
key's name ("config/checks.toml line 42: [prices.outliers] vol_multipel is not a threshold ...").
"""

from __future__ import annotations

import inspect
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from warehouse import settings

# Keyword arguments that are inputs of a check, not thresholds: never read from the file.
NOT_THRESHOLDS = {
    "table",
    "reference",
    "now",
    "tickers",
    "series",
    "model",
    "inputs",
    "exempt",
    "today",
}


class ChecksConfigError(ValueError):
    """config/checks.toml cannot be used; the message names the file and the key."""


def default_path() -> Path:
    return settings.config_dir() / "checks.toml"


def registry() -> dict[str, Callable]:
    """'<domain>.<check>' -> the check function whose thresholds that table sets."""
    from warehouse.checks import prices, rates, valuations

    out = {}
    for domain, module in (("prices", prices), ("rates", rates), ("valuations", valuations)):
        for name in module.CHECKS:
            out[f"{domain}.{name}"] = getattr(module, name)
    return out


# [marts] is read by the generated model checks, not by one function.
MARTS_DEFAULTS: dict[str, Any] = {
    "input_dates": {},  # core table -> the column holding its date
    "input_filters": {},  # model -> {input relation -> SQL predicate}
    "latest_date_exempt": {},  # model -> why its latest date is not its inputs'
}


def thresholds_of(fn: Callable) -> dict[str, Any]:
    """The keyword arguments of a check that the file may set, with their defaults."""
    return {
        name: p.default
        for name, p in inspect.signature(fn).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
        and name not in NOT_THRESHOLDS
        and p.default is not inspect.Parameter.empty
    }


def _type_ok(default: Any, value: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, Mapping):
        return isinstance(value, Mapping)
    if isinstance(default, Sequence):
        return isinstance(value, list | tuple)
    return True


def _convert(default: Any, value: Any) -> Any:
    if isinstance(default, float) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, tuple | list) and not isinstance(default, str):
        return tuple(value)
    if isinstance(default, Mapping):
        return dict(value)
    return value


TABLE_HEADER = re.compile(r"^\s*\[\[?\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
TOML_ERROR_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def _key_name(text: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in text.split("."))


def toml_line(text: str, table: str | None, key: str | None = None) -> int | None:
    """The line (1-based) of `key` inside the table `table` ('prices.outliers'; None for the
    top level) of a TOML text, or of the table's header when `key` is None or not written there
    as `key = ...`; None when neither is found. For error messages: tomllib gives no positions."""
    current: str | None = None
    header_line = None
    assignment = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=") if key else None
    for number, line in enumerate(text.splitlines(), start=1):
        header = TABLE_HEADER.match(line)
        if header:
            current = _key_name(header[1])
            if current == table and header_line is None:
                header_line = number
            continue
        if current == table and assignment is not None and assignment.match(line):
            return number
    return header_line


def toml_error_line(exc: tomllib.TOMLDecodeError) -> int | None:
    """The line tomllib's error names ("... (at line 7, column 3)")."""
    found = TOML_ERROR_LINE.search(str(exc))
    return int(found[1]) if found else None


def _where(path: Path, line: int | None) -> str:
    return f"{path} line {line}" if line else f"{path}"


@lru_cache(maxsize=8)
def _load(path: Path, mtime: float) -> dict[str, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except FileNotFoundError:
        text, raw = "", {}
    except tomllib.TOMLDecodeError as exc:
        raise ChecksConfigError(
            f"{_where(path, toml_error_line(exc))}: not valid TOML, cannot read the check thresholds: {exc}"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ChecksConfigError(f"{path}: cannot read the check thresholds: {exc}") from exc

    def at(table: str | None, key: str | None = None) -> str:
        return _where(path, toml_line(text, table, key))

    functions = registry()
    out: dict[str, dict[str, Any]] = {key: thresholds_of(fn) for key, fn in functions.items()}
    out["marts"] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in MARTS_DEFAULTS.items()}
    for domain, tables in raw.items():
        if not isinstance(tables, dict):
            raise ChecksConfigError(f"{at(None, domain)}: {domain} must be a table like [{domain}.<check>]")
        if domain == "marts":
            for key, value in tables.items():
                if key not in MARTS_DEFAULTS:
                    raise ChecksConfigError(
                        f"{at('marts', key)}: [marts] {key} is not a setting; "
                        f"use one of {', '.join(MARTS_DEFAULTS)}"
                    )
                if not isinstance(value, dict):
                    raise ChecksConfigError(f"{at('marts', key)}: [marts] {key} must be a table")
                out["marts"][key] = value
            continue
        for check, values in tables.items():
            key = f"{domain}.{check}"
            if key not in functions:
                known = ", ".join(sorted(functions))
                raise ChecksConfigError(f"{at(key)}: [{key}] is not a check; the checks are {known}")
            if not isinstance(values, dict):
                raise ChecksConfigError(f"{at(domain, check)}: [{key}] must be a table of thresholds")
            defaults = thresholds_of(functions[key])
            for name, value in values.items():
                if name not in defaults:
                    allowed = ", ".join(defaults) or "none"
                    raise ChecksConfigError(
                        f"{at(key, name)}: [{key}] {name} is not a threshold of this check ({allowed})"
                    )
                if not _type_ok(defaults[name], value):
                    raise ChecksConfigError(
                        f"{at(key, name)}: [{key}] {name} = {value!r} has the wrong type; "
                        f"expected one like {defaults[name]!r}"
                    )
                out[key][name] = _convert(defaults[name], value)
    return out


def load_config(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every check's thresholds: {'prices.outliers': {'vol_multiple': 10.0, ...}, ...}."""
    path = Path(path or default_path())
    mtime = path.stat().st_mtime if path.exists() else 0.0
    loaded = _load(path, mtime)
    return {k: dict(v) for k, v in loaded.items()}
