"""The warehouse resource waits for a lock another process holds, and gives up after its limit."""

import subprocess
import sys
import time

import duckdb
import pytest

from pipelines.defs.resources import open_waiting_for_lock

HOLD = """
import duckdb, sys, time
conn = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.close()
"""


def hold_lock(path, seconds):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_lock_held_by_another_process_is_waited_for(tmp_path):
    path = tmp_path / "w.duckdb"
    holder = hold_lock(path, 1.5)
    try:
        with pytest.raises(duckdb.IOException):  # DuckDB itself refuses at once
            duckdb.connect(str(path))
        start = time.monotonic()
        conn = open_waiting_for_lock(str(path), {}, wait_s=30)
        waited = time.monotonic() - start
        conn.execute("create table t as select 1 as x")
        conn.close()
    finally:
        holder.wait(timeout=30)
    assert waited > 0.5  # it really waited for the other process to let go


def test_a_lock_held_too_long_fails_with_duckdbs_error(tmp_path):
    path = tmp_path / "w.duckdb"
    holder = hold_lock(path, 10)
    try:
        with pytest.raises(duckdb.IOException, match="lock"):
            open_waiting_for_lock(str(path), {}, wait_s=1.0)
    finally:
        holder.kill()
        holder.wait()
