"""Where things live, read from the environment with defaults that suit a fresh clone."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

SOURCE_KINDS = ("live", "files", "sample")


def config_dir() -> Path:
    return Path(os.environ.get("ROTATION_CONFIG_DIR", PROJECT_ROOT / "config"))


def sql_dir() -> Path:
    return Path(os.environ.get("ROTATION_SQL_DIR", PROJECT_ROOT / "sql"))


def source_kind() -> str:
    kind = os.environ.get("ROTATION_SOURCE", "live").strip().lower()
    if kind not in SOURCE_KINDS:
        raise ValueError(
            f"ROTATION_SOURCE={kind!r} is not a source: use one of {', '.join(SOURCE_KINDS)}"
        )
    return kind


def warehouse_path(kind: str | None = None) -> Path:
    """The DuckDB file. The sample gets a file of its own so it never mixes with real data."""
    explicit = os.environ.get("ROTATION_WAREHOUSE")
    if explicit:
        return Path(explicit)
    kind = kind or source_kind()
    name = "sample.duckdb" if kind == "sample" else "rotation.duckdb"
    return PROJECT_ROOT / "warehouse" / name


def files_dir() -> Path | None:
    value = os.environ.get("ROTATION_FILES_DIR")
    return Path(value) if value else None


def duckdb_memory_limit() -> str:
    """DuckDB's memory limit for the warehouse's connections (it spills to disk beyond it).

    DuckDB's own default is 80% of the machine; a fixed default keeps a run, the UI and a reader
    from competing for all of it.
    """
    return os.environ.get("ROTATION_DUCKDB_MEMORY_LIMIT", "4GB")
