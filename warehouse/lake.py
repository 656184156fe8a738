"""The warehouse as a DuckLake: the catalog in PostgreSQL (or a local DuckDB catalog file), the
tables as Parquet files under a data path that many machines can reach.

`ROTATION_LAKE` names the catalog (`postgres:dbname=rotation host=db port=5432`, or a file path
for one machine) and `ROTATION_LAKE_DATA` the data path (a folder or an object-store URL). Every
connection is an in-memory DuckDB with the lake attached as `lake` and made the default, so the
project's SQL (`core.prices_daily`, `marts.x`, temp tables) runs unchanged.

Where DuckLake differs from a DuckDB file, and what the project does about it:
- No PRIMARY KEY, UNIQUE, index or sequence. The DDL is created without its key constraints
  (`lake_ddl`); the embedded file keeps them. Uniqueness was never left to the constraint: the
  loader never writes a key twice, and the asset checks (`prices_integrity`, one row per grain of
  every model) verify it on the lake as on the file. `insert or replace` needs a key, so the model
  runner deletes and inserts instead (both targets).
- Several writers at once. DuckLake commits optimistically: two transactions that both insert into
  a table commit, but one that deletes or updates rows of a table another transaction changed
  since it began fails at COMMIT with "Transaction conflict" and writes nothing. Every write that
  records a change also bumps one counter row (`meta.change_head`), so two writers recording
  changes always conflict and one of them retries (`retrying`): change ids then follow commit
  order, which the incremental models rely on (a model never misses a change committed after it
  read the log). The loader retries the whole load (a new transaction, a new snapshot).
- Readers read the lake directly (a snapshot per transaction); there is no read snapshot file.
- The extensions come from PyPI (`duckdb-extension-ducklake`, `duckdb-extension-postgres-scanner`,
  the `lake` extra) and are loaded by file path: DuckDB would otherwise download them from its
  own repository at first use.
"""

from __future__ import annotations

import glob
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb

ALIAS = "lake"
# The lake's extensions as PyPI packages (module name, extension file name).
EXTENSIONS = (("duckdb_extension_ducklake", "ducklake"), ("duckdb_extension_postgres_scanner", "postgres_scanner"))
# DuckLake's words when a commit lost against another writer.
CONFLICT = re.compile(r"Transaction conflict|Failed to commit DuckLake transaction", re.I)
# A commit lost against another writer is retried this many times, with jittered backoff.
CONFLICT_RETRIES = 8
CONFLICT_BACKOFF_S = 0.2
CREATED_MEANWHILE = re.compile(r"Failed to initialize DuckLake.*(already exists|duplicate key)", re.I | re.S)
# A password in a libpq key=value string or in a postgresql:// URI.
SECRET = re.compile(r"(password\s*=\s*)(\S+)", re.I)
URI_SECRET = re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)")

T = TypeVar("T")


class LakeSetupError(RuntimeError):
    """The lake cannot be opened as configured (an extension missing, no data path)."""


@dataclass(frozen=True)
class Lake:
    catalog: str  # 'postgres:<libpq DSN>' or a local catalog file path
    data_path: str | None = None

    @property
    def uri(self) -> str:
        return self.catalog if self.catalog.startswith("ducklake:") else f"ducklake:{self.catalog}"

    def describe(self) -> str:
        """For logs, tags and the UI: the catalog with any password masked, and the data path."""
        shown = URI_SECRET.sub(r"\1***\3", SECRET.sub(r"\1***", self.uri))
        return f"{shown} (data {self.data_path})" if self.data_path else shown

    @property
    def on_postgres(self) -> bool:
        return self.uri.startswith("ducklake:postgres:")


def from_env() -> Lake | None:
    catalog = os.environ.get("ROTATION_LAKE", "").strip()
    if not catalog:
        return None
    return Lake(catalog, os.environ.get("ROTATION_LAKE_DATA", "").strip() or None)


def extension_file(module: str, name: str) -> Path:
    try:
        package = __import__(module)
    except ImportError as exc:
        raise LakeSetupError(
            f"the DuckLake needs the Python package {module.replace('_', '-')} (DuckDB {duckdb.__version__}): "
            "install the project's `lake` extra (pip install -e '.[lake]')"
        ) from exc
    found = glob.glob(os.path.join(os.path.dirname(package.__file__), "extensions", "*", f"{name}.duckdb_extension"))
    wanted = [f for f in found if f"v{duckdb.__version__}" in f]
    if not wanted:
        raise LakeSetupError(
            f"{module} holds no {name} extension for DuckDB {duckdb.__version__} (found: {found or 'none'}): "
            "the extension package's version must equal DuckDB's"
        )
    return Path(wanted[0])


def connect(lake: Lake, *, read_only: bool = False, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached as `lake` and in use: unqualified names resolve
    to the lake's schemas, temp tables stay local to the connection."""
    config = {"memory_limit": memory_limit} if memory_limit else {}
    # A catalog on PostgreSQL is reached by the postgres extension; a local one is a DuckDB file.
    needed = EXTENSIONS if lake.on_postgres else EXTENSIONS[:1]
    conn = duckdb.connect(":memory:", config=config)
    try:
        for module, name in needed:
            conn.execute(f"load '{extension_file(module, name)}'")
        options = []
        if lake.data_path:
            options.append(f"data_path '{_quote(lake.data_path)}'")
        if read_only:
            options.append("read_only")
        attach = f"attach '{_quote(lake.uri)}' as {ALIAS}" + (f" ({', '.join(options)})" if options else "")
        for attempt in range(1, CONFLICT_RETRIES + 1):
            try:
                conn.execute(attach)
                break
            except duckdb.Error as exc:
                # Two clients that find no lake both create its catalog tables, and the slower one
                # fails on PostgreSQL's duplicate key: the lake exists now, so attach again.
                if not CREATED_MEANWHILE.search(str(exc)) or attempt == CONFLICT_RETRIES:
                    raise
                time.sleep(backoff_s_for(attempt))
        conn.execute(f"use {ALIAS}")
    except duckdb.Error as exc:
        conn.close()
        if "data_path" in str(exc).lower() and not lake.data_path:
            raise LakeSetupError(
                f"the lake {lake.describe()} has no data path yet: set ROTATION_LAKE_DATA for its first use"
            ) from exc
        raise
    except BaseException:
        conn.close()
        raise
    return conn


def _quote(text: str) -> str:
    return text.replace("'", "''")


def is_lake(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether the connection's default database is a DuckLake."""
    rows = conn.execute(
        "select type from duckdb_databases() where database_name = current_database()"
    ).fetchall()
    return bool(rows) and rows[0][0] == "ducklake"


# `primary key` after a column, and a trailing `primary key (a, b)` line with the comma before it
# (the comment on the previous line kept).
COLUMN_KEY = re.compile(r"\s+primary key\b", re.I)
TABLE_KEY = re.compile(r",(\s*--[^\n]*)?\n\s*primary key\s*\([^)]*\)", re.I)


def lake_ddl(sql: str) -> str:
    """The DDL without key constraints, which DuckLake refuses ("PRIMARY KEY/UNIQUE constraints
    are not supported"). NOT NULL stays: DuckLake enforces it."""
    return COLUMN_KEY.sub("", TABLE_KEY.sub(lambda m: (m[1] or "") + "\n", sql))


def is_conflict(exc: BaseException) -> bool:
    """DuckLake's refusal of a commit because another writer changed the same table first."""
    return isinstance(exc, duckdb.Error) and bool(CONFLICT.search(str(exc)))


def retrying(fn: Callable[[], T], *, attempts: int = CONFLICT_RETRIES, log: Callable[[str], None] | None = None,
             backoff_s: float = CONFLICT_BACKOFF_S) -> T:
    """Call `fn` (a whole transaction: it must begin and commit its own) until it commits or has
    lost `attempts` times to another writer; any other error is raised at once. A lost commit wrote
    nothing, so running the transaction again from the start is safe; the jitter keeps two writers
    from colliding again in step."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except duckdb.Error as exc:
            if not is_conflict(exc) or attempt == attempts:
                if is_conflict(exc):
                    exc.add_note(f"(lost to another writer {attempts} times in a row; not retried again)")
                raise
            wait = backoff_s_for(attempt, backoff_s)
            if log is not None:
                log(f"commit lost to another writer of the lake (attempt {attempt} of {attempts}); "
                    f"retrying in {wait:.2f} s: {' '.join(str(exc).split())[:200]}")
            time.sleep(wait)
    raise AssertionError("unreachable")


def backoff_s_for(attempt: int, base: float = CONFLICT_BACKOFF_S) -> float:
    """Exponential, jittered: two writers that collided do not retry in step."""
    return min(base * (2 ** (attempt - 1)), 5.0) * (0.5 + random.random())

