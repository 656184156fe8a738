"""Opening the warehouse file and creating its schemas.

What is at the warehouse path is checked before DuckDB opens it: a file that is not a DuckDB
database (an SQLite file, a CSV, random bytes, an empty file) is refused with what it seems to be,
and a damaged DuckDB file with what DuckDB found; in both cases the file is left byte for byte as
it was. Without the check DuckDB 2 answers an SQLite file by trying to download its SQLite
extension from the network, and a damaged file with a bare "Could not read enough bytes".

A file another process holds (a run writing it) is waited for, with backoff, instead of failing
at once. A write that fails inside `transaction` rolls the whole step back and raises the error
that caused the failure (not DuckDB's follow-on "Current transaction is aborted" from the next
statement); a disk that is full, or a file size limit reached, is said in those words.
See RELIABILITY.md for every fault and the test that proves what happens.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from warehouse import lake as ducklake
from warehouse import settings

DDL_DIR = Path(__file__).parent / "ddl"

# Every DuckDB database file carries these bytes at offset 8 (after the header's checksum).
DUCKDB_MAGIC = b"DUCK"
MAGIC_AT = 8
# Leading bytes of files that turn up where a database was expected.
FOREIGN_FORMATS = (
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"PAR1", "a Parquet file"),
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook is one)"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"ARROW1", "an Arrow IPC file"),
    (b"%PDF", "a PDF document"),
)
# DuckDB's own words for a DuckDB file it cannot read.
DAMAGED = re.compile(
    r"Corrupt database file|checksum|Could not read enough bytes|not a valid DuckDB database|"
    r"database file with version number|Failed to read database header",
    re.I,
)
# A write that failed for want of space: ENOSPC, EFBIG (RLIMIT_FSIZE, a file system's limit), EDQUOT.
NO_SPACE = re.compile(r"No space left on device|File too large|Disk quota exceeded|not enough space", re.I)
WRITTEN_FILE = re.compile(r'(?:write|writing|extend|truncate)[^"]*"([^"]+)"', re.I)
ABORTED = "Current transaction is aborted"
ERROR_KIND = re.compile(r"^[A-Z][A-Za-z]*(?: [A-Z][A-Za-z]*)* Error: ")
# How long `connect` waits for another process to let go of the file (the Dagster resource waits
# as long: pipelines/defs/resources.py LOCK_WAIT_S).
LOCK_WAIT_S = 120.0


class WarehouseFileError(RuntimeError):
    """The file at the warehouse path is not a usable DuckDB database. It was not changed."""


class WarehouseFullError(duckdb.IOException):
    """A write failed because the disk, or the process's file size limit, was full. The step's
    transaction was rolled back."""


def _recovery(path: Path) -> str:
    from warehouse.snapshot import snapshot_path  # snapshot.py does not import this module

    snapshot = snapshot_path(path)
    hint = (
        "Move it away (or set ROTATION_WAREHOUSE to another file) and run again: a new warehouse "
        "is created there and the next run fills it from the sources."
    )
    if snapshot.exists() and snapshot.resolve() != path.resolve():
        hint += f" The last published copy of this warehouse is {snapshot}: copy it to {path} to restore it."
    return hint


def _looks_like(head: bytes, size: int) -> str | None:
    """What a file that is not a DuckDB database seems to be, from its first bytes; None for a
    DuckDB file."""
    if size == 0:
        return "an empty file (0 bytes)"
    if head[MAGIC_AT:MAGIC_AT + len(DUCKDB_MAGIC)] == DUCKDB_MAGIC:
        return None
    for magic, name in FOREIGN_FORMATS:
        if head.startswith(magic):
            return name
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\r\n\t" for c in text):
        first = text.strip().splitlines()[0][:60] if text.strip() else ""
        return f"a text file (it starts with {first!r})"
    return f"{size:,} bytes without DuckDB's signature ({DUCKDB_MAGIC.decode()} at byte {MAGIC_AT})"


def check_file(path: Path | str) -> None:
    """Refuse, with WarehouseFileError, a file at `path` that is not a DuckDB database, reading
    only its first bytes. A missing file passes (DuckDB creates it)."""
    path = Path(path)
    if path.is_dir():
        raise WarehouseFileError(f"{path} is a folder, not a DuckDB database file. {_recovery(path)}")
    try:
        with path.open("rb") as file:
            head = file.read(64)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise WarehouseFileError(f"{path} cannot be read ({exc.strerror or exc}).") from exc
    what = _looks_like(head, path.stat().st_size)
    if what is not None:
        raise WarehouseFileError(
            f"{path} is not a DuckDB database: it is {what}. The warehouse did not open it and left "
            f"it unchanged. {_recovery(path)}"
        )


def open_error(path: Path | str, exc: BaseException) -> WarehouseFileError | None:
    """A clear error for DuckDB's refusal to open `path` when the file itself is the cause (a
    damaged or foreign file, one written by a newer DuckDB); None for anything else (a lock held
    by another process, say)."""
    # DuckDB 1.5 starts its messages with the error's kind ("IO Error: "), 2.x does not: say the
    # same either way.
    said = ERROR_KIND.sub("", " ".join(str(exc).split()), count=1)
    if not isinstance(exc, duckdb.Error) or not DAMAGED.search(said):
        return None
    path = Path(path)
    if "version number" in said:
        what = f"a DuckDB database this DuckDB ({duckdb.__version__}) cannot read: {said}"
    else:
        what = f"a damaged DuckDB database (DuckDB says: {said})"
    return WarehouseFileError(
        f"{path} is {what}. The warehouse did not open it and left it unchanged. {_recovery(path)}"
    )


def is_lock_error(exc: BaseException) -> bool:
    """DuckDB's refusal because another process has the file open ("Could not set lock on file")."""
    return isinstance(exc, duckdb.IOException) and "could not set lock" in str(exc).lower()


def connect(
    path: Path | str, read_only: bool = False, *, lock_wait_s: float = LOCK_WAIT_S
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file.

    A file that is not a usable DuckDB database is refused, unchanged, with WarehouseFileError.
    While another process holds the file (a run writing it: DuckDB allows one writer process, and
    no reader beside it), the open is retried with backoff for up to `lock_wait_s` seconds, then
    DuckDB's lock error is raised: two `make run` at once, or a summary read after a run while the
    next one writes, wait instead of failing.
    """
    path = Path(path)
    check_file(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_wait_s
    delay = 0.1
    while True:
        try:
            return duckdb.connect(
                str(path), read_only=read_only, config={"memory_limit": settings.duckdb_memory_limit()}
            )
        except duckdb.Error as exc:
            if is_lock_error(exc) and time.monotonic() + delay <= deadline:
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            clear = open_error(path, exc)
            if clear is None:
                raise
            raise clear from exc


def connect_active(active: settings.Active, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """The active warehouse: the lake when ROTATION_LAKE names one, else the file (`connect`)."""
    if active.lake is not None:
        return ducklake.connect(active.lake, read_only=read_only, memory_limit=settings.duckdb_memory_limit())
    return connect(active.warehouse, read_only=read_only)


# On a lake: one row counting the changes recorded (warehouse/changes.py), so that two writers
# recording changes conflict and one retries, which keeps change ids in commit order.
LAKE_DDL = """
create table if not exists meta.change_head (last_id bigint not null);
insert into meta.change_head select 0 where not exists (select 1 from meta.change_head);
"""


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create every schema and table the warehouse needs; safe to run on every connection."""
    if ducklake.is_lake(conn):
        _ensure_lake_schema(conn)
        return
    for ddl in sorted(DDL_DIR.glob("*.sql")):
        conn.execute(ddl.read_text(encoding="utf-8"))


def _ensure_lake_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """The same tables without key constraints, in one transaction: two processes creating them at
    once conflict, and the one that lost finds them made when it retries. A lake that has them
    all is left alone (each DDL statement is a round trip to the catalog)."""
    if conn.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and schema_name = 'meta' and table_name = 'change_head'"
    ).fetchall()[0][0]:
        return

    def create() -> None:
        with transaction(conn):
            for ddl in sorted(DDL_DIR.glob("*.sql")):
                conn.execute(ducklake.lake_ddl(ddl.read_text(encoding="utf-8")))
            conn.execute(LAKE_DDL)

    ducklake.retrying(create)


def _cause(exc: BaseException) -> BaseException:
    """The error that aborted the transaction: a statement run after a failed one fails with
    "Current transaction is aborted", which says nothing of why; the failed one is its context."""
    seen = exc
    while isinstance(seen, duckdb.Error) and ABORTED in str(seen) and isinstance(seen.__context__, duckdb.Error):
        seen = seen.__context__
    return seen


def no_space_error(exc: BaseException) -> WarehouseFullError | None:
    """A WarehouseFullError saying what happened when `exc` is a write that ran out of space."""
    said = " ".join(str(exc).split())
    if not isinstance(exc, duckdb.Error) or not NO_SPACE.search(said):
        return None
    written = WRITTEN_FILE.search(said)
    where = f"writing {written[1]}" if written else "writing the warehouse"
    return WarehouseFullError(
        f"{where} failed: the disk is full or the process's file size limit was reached (DuckDB says: "
        f"{said}). The step was rolled back: the warehouse holds what it held before it. Free disk space "
        "(or raise the limit) and run the step again."
    )


def _rollback(conn: duckdb.DuckDBPyConnection, exc: BaseException) -> None:
    try:
        conn.execute("rollback")
    except duckdb.Error as failed:  # no transaction left (a failed COMMIT ends it), or a fatal error
        if "no transaction is active" not in str(failed).lower():
            exc.add_note(f"(the rollback after it failed too: {failed})")


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: a failure inside rolls back every statement of the block, and the error
    raised is the one that caused it (see `_cause`; a full disk is a WarehouseFullError)."""
    conn.execute("begin transaction")
    try:
        yield conn
    except BaseException as exc:
        _rollback(conn, exc)
        cause = _cause(exc)
        full = no_space_error(cause)
        if full is not None:
            raise full from cause
        if cause is not exc:
            raise cause from None  # the follow-on "transaction is aborted" says nothing more
        raise
    try:
        conn.execute("commit")
    except duckdb.Error as exc:
        _rollback(conn, exc)
        full = no_space_error(exc)
        if full is not None:
            raise full from exc
        raise


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
