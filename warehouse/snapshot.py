"""The read snapshot: a copy of the warehouse that people query while runs write the original.

DuckDB lets one process write a file, and a reader holding the file blocks the writer. So readers
never open the warehouse itself: after each build, the writer copies the whole database into a
new file and renames it over the snapshot. The rename is atomic, so a reader sees the old
snapshot or the new one, never a half-written file, and a reader that still has the old one open
keeps reading it undisturbed. The copy is written in DuckDB's 1.5 storage format so the
`duckdb-cli` package (1.5) and other 1.5 tools can open it too.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import duckdb

STORAGE_VERSION = "v1.5.0"


def snapshot_path(warehouse: Path) -> Path:
    warehouse = Path(warehouse)
    return warehouse.parent / "snapshots" / f"{warehouse.stem}.duckdb"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphaned_copies(target: Path) -> list[Path]:
    """Delete the temporary copies (and their WAL) left by publications whose process died, e.g.
    killed: each is as large as the warehouse. Copies of a living process are left alone."""
    pattern = re.compile(rf"^\.{re.escape(target.stem)}\.(\d+)\.\d+\.tmp(\.wal)?$")
    removed = []
    for path in target.parent.glob(f".{target.stem}.*.tmp*"):
        match = pattern.match(path.name)
        if match and not _pid_alive(int(match[1])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def publish(conn: duckdb.DuckDBPyConnection, warehouse: Path) -> Path:
    """Copy the database behind `conn` (the writer's connection) to the snapshot, atomically.

    The copy is written beside the snapshot and renamed over it; a publication that fails removes
    its copy, and one killed before it could is cleaned up by the next publication."""
    target = snapshot_path(warehouse)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_orphaned_copies(target)
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.{time.time_ns()}.tmp")
    source = conn.execute("select current_database()").fetchall()[0][0]
    try:
        conn.execute(f"attach '{tmp}' as _snapshot (storage_version '{STORAGE_VERSION}')")
        try:
            conn.execute(f'copy from database "{source}" to _snapshot')
        finally:
            conn.execute("detach _snapshot")
        os.replace(tmp, target)
    except BaseException:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
        raise
    return target


def open_for_reading(warehouse: Path) -> tuple[duckdb.DuckDBPyConnection, Path]:
    """A read-only connection to the snapshot (or, before the first publish, to the warehouse)."""
    snap = snapshot_path(warehouse)
    path = snap if snap.exists() else Path(warehouse)
    if not path.exists():
        raise FileNotFoundError(
            f"no warehouse at {warehouse} and no snapshot at {snap}: run `make run` first"
        )
    return duckdb.connect(str(path), read_only=True), path
