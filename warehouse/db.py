"""Opening the warehouse file and creating its schemas."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from warehouse import settings

DDL_DIR = Path(__file__).parent / "ddl"


def connect(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(
        str(path), read_only=read_only, config={"memory_limit": settings.duckdb_memory_limit()}
    )


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create every schema and table the warehouse needs; safe to run on every connection."""
    for ddl in sorted(DDL_DIR.glob("*.sql")):
        conn.execute(ddl.read_text(encoding="utf-8"))


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: a failure inside rolls back every statement of the block."""
    conn.execute("begin transaction")
    try:
        yield conn
    except BaseException:
        conn.execute("rollback")
        raise
    conn.execute("commit")


class MixedDataError(RuntimeError):
    """Synthetic sample rows were about to go into a warehouse of real data, or the reverse."""


def claim_flavour(conn: duckdb.DuckDBPyConnection, source: str) -> None:
    """Mark the file as 'sample' or 'real' on its first load and refuse to mix the two later."""
    flavour = "sample" if source == "sample" else "real"
    # fetchall, not fetchone: duckdb 2 refuses register() while a result is left unfinished.
    rows = conn.execute("select value from meta.warehouse_info where key = 'flavour'").fetchall()
    row = rows[0] if rows else None
    if row is None:
        conn.execute("insert into meta.warehouse_info values ('flavour', ?)", [flavour])
    elif row[0] != flavour:
        db = conn.execute(
            "select path from duckdb_databases() where database_name = current_database()"
        ).fetchall()
        raise MixedDataError(
            f"{db[0][0] if db else 'this warehouse'} holds {row[0]} data; refusing to load "
            f"{flavour} rows from the {source!r} source into it. Point ROTATION_WAREHOUSE at "
            "another file (the sample builds into warehouse/sample.duckdb by default)."
        )
