"""A full disk while writing: the write fails with the cause named, the warehouse keeps exactly what
it held, and the step, run again with space, completes.

The full disk is a file size limit on a child process (RLIMIT_FSIZE, set after it has opened the
warehouse, with SIGXFSZ ignored so a write past the limit fails with EFBIG instead of killing the
process): DuckDB's writes past the limit fail the way they fail on a full file system.
"""

from __future__ import annotations

import hashlib
import shutil

import duckdb
import pytest

from tests.faults_helpers import (
    FIRST_DAY,
    LAST_DAY,
    PRELUDE,
    Child,
    child_env,
    fingerprint,
    load_sample_prices,
    row_counts,
    small_warehouse,
)
from warehouse import calendar
from warehouse.db import connect
from warehouse.snapshot import publish, snapshot_path

LIMIT = PRELUDE + """
import os, resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

def limit_files(path, spec):
    '''spec "+N": N bytes more than the file has now; "N": N bytes.'''
    size = os.path.getsize(path) + int(spec[1:]) if spec.startswith("+") else int(spec)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    say("LIMIT", size)

def report(exc):
    say("ERROR", type(exc).__name__, "|", " ".join(str(exc).split()))
"""

LOAD = LIMIT + """
import datetime as dt
import numpy as np
import pandas as pd
from warehouse import calendar
from warehouse.db import connect
from warehouse.prices import load_prices
from warehouse.sources.base import PriceBatch

path, spec, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
days = calendar.sessions(dt.date(2023, 1, 3), dt.date(2024, 6, 28))
close = np.linspace(10, 20, len(days) * n)
bars = pd.DataFrame({
    "ticker": np.repeat([f"F{i:04d}" for i in range(n)], len(days)), "trade_date": days * n,
    "open": close, "high": close, "low": close, "close": close, "adj_close": close, "volume": 1000.0,
})
conn = connect(path)
if spec != "none":
    limit_files(path, spec)
try:
    load = load_prices(conn, PriceBatch(bars), source="sample", run_id="disk")
    say("LOADED", load.result.inserted)
except Exception as exc:
    report(exc)
conn.close()
"""


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return small_warehouse(tmp_path_factory.mktemp("faults-disk") / "template.duckdb")


@pytest.fixture
def warehouse(prepared, tmp_path):
    path = tmp_path / "wh.duckdb"
    shutil.copyfile(prepared, path)
    return path


def batch_rows(n: int) -> int:
    return n * len(calendar.sessions(FIRST_DAY, LAST_DAY))


def run(script: str, *args) -> list[str]:
    with Child(script, *args, env=child_env(PYTHONDONTWRITEBYTECODE="1")) as child:
        assert child.finish() == 0, child.stderr
        return child.lines


def error_line(lines: list[str]) -> str:
    (line,) = [x for x in lines if x.startswith("ERROR")]
    return line


# A bulk load writes its row groups into the database file before the commit (DuckDB's optimistic
# writes); a small one writes only the WAL, at the commit.
@pytest.mark.parametrize(("case", "spec", "tickers", "written"), [
    ("bulk load, the database file fills up", "+65536", 1500, "wh.duckdb"),
    ("small load, the WAL cannot be written at the commit", "100000", 40, "wh.duckdb.wal"),
])
def test_a_full_disk_during_a_load_loses_nothing_and_says_so(warehouse, case, spec, tickers, written):
    before = fingerprint(warehouse)
    lines = run(LOAD, warehouse, spec, tickers)
    error = error_line(lines)
    assert error.startswith(f"ERROR WarehouseFullError | writing {warehouse.parent / written} failed: the disk is "
                            "full or the process's file size limit was reached (DuckDB says: "), error
    assert "File too large" in error
    assert "The step was rolled back: the warehouse holds what it held before it." in error
    assert fingerprint(warehouse) == before
    # With space again, the same load completes.
    assert run(LOAD, warehouse, "none", tickers)[-1] == f"LOADED {batch_rows(tickers)}"
    assert row_counts(fingerprint(warehouse))["core.prices_daily"] == (
        row_counts(before)["core.prices_daily"] + batch_rows(tickers)
    )


BUILD = LIMIT + """
from tests.faults_helpers import build_small_models
from warehouse.db import connect

path, spec = sys.argv[1], sys.argv[2]
conn = connect(path)
if spec != "none":
    limit_files(path, spec)
try:
    results = build_small_models(conn, full_refresh=True)
    say("BUILT", len(results))
except Exception as exc:
    report(exc)
conn.close()
"""


def test_a_full_disk_during_a_model_build_keeps_the_previous_version(warehouse):
    with connect(warehouse) as conn:
        load_sample_prices(conn, FIRST_DAY, LAST_DAY, tickers=("IWM", "SPY", "QQQ", "^RUT", "^GSPC", "DIA"))
    before = fingerprint(warehouse)
    error = error_line(run(BUILD, warehouse, "50000"))
    # The model runner names the model's file; the cause follows.
    assert error.startswith("ERROR ModelError | ") and "/sql/staging/returns_daily.sql: writing " in error, error
    assert "the disk is full or the process's file size limit was reached" in error
    assert fingerprint(warehouse) == before
    assert run(BUILD, warehouse, "none")[-1] == "BUILT 6"


PUBLISH = LIMIT + """
from warehouse.db import connect
from warehouse.snapshot import publish

path, spec = sys.argv[1], sys.argv[2]
conn = connect(path)
if spec != "none":
    limit_files(path, spec)
try:
    say("PUBLISHED", publish(conn, path))
except Exception as exc:
    report(exc)
conn.close()
"""


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_full_disk_during_the_snapshot_publication_keeps_the_previous_snapshot(warehouse):
    with connect(warehouse) as conn:
        publish(conn, warehouse)
    snapshot = snapshot_path(warehouse)
    published = sha256(snapshot)
    with connect(warehouse) as conn:
        load_sample_prices(conn, FIRST_DAY, LAST_DAY, tickers=("DIA",))
    before = fingerprint(warehouse)
    error = error_line(run(PUBLISH, warehouse, "200000"))
    # DuckDB's own words, naming the temporary copy it could not write and why.
    assert f'Could not write file "{snapshot.parent}/.wh.' in error and '": File too large' in error, error
    assert sha256(snapshot) == published
    assert fingerprint(warehouse) == before
    assert run(PUBLISH, warehouse, "none")[-1] == f"PUBLISHED {snapshot}"
    assert fingerprint(snapshot) == before


def test_a_publication_that_failed_for_space_leaves_no_temporary_copy(warehouse):
    snapshot = snapshot_path(warehouse)
    error_line(run(PUBLISH, warehouse, "200000"))
    assert run(PUBLISH, warehouse, "none")[-1] == f"PUBLISHED {snapshot}"
    assert sorted(p.name for p in snapshot.parent.iterdir()) == [snapshot.name]


def test_an_unreadable_follow_on_error_never_hides_the_cause(warehouse):
    """Inside a transaction, the statement after a failed one fails with "Current transaction is
    aborted"; the loader's cleanup (conn.unregister in a finally) runs such a statement. The error
    raised is the first one, and the transaction's writes are rolled back."""
    from warehouse.db import transaction

    before = fingerprint(warehouse)
    with connect(warehouse) as conn:
        # A failure while executing (a NOT NULL refused) aborts the transaction on DuckDB 1.5 and
        # 2.x alike; a binder error (an unknown table) aborts it only on 2.x.
        with pytest.raises(duckdb.ConstraintException, match="NOT NULL"), transaction(conn):
            conn.execute("delete from core.prices_daily")
            try:
                conn.execute("insert into meta.warehouse_info values ('test', null)")
            finally:
                with pytest.raises(duckdb.TransactionException, match="Current transaction is aborted"):
                    conn.execute("select 1")
                conn.execute("select 1")  # the follow-on, raised out of the block
        assert conn.execute("select count(*) from core.prices_daily").fetchall()[0][0] > 0
    assert fingerprint(warehouse) == before
