"""kill -9 of the process that writes, inside each step that writes: a price load, a model build,
the read snapshot's publication.

Each test prepares a warehouse, takes its fingerprint (every table's rows, tests/faults_helpers.py),
starts a child process that does the step and prints a marker at a known point inside it, kills
the child with SIGKILL there, and then asserts that the warehouse opens, holds exactly what it held
before the step (the fingerprint is equal), and that the step, run again, completes with the result
a run that was never killed gives.

Two kinds of kill point: after the step's last statement and before its COMMIT (the step's
writes are all made and none is committed: the worst moment), and inside the step's longest
statement (the marker is printed just before it, the kill follows at once).

The last test (marker `faults`) kills `make run` itself (python -m pipelines.run) inside each of
the three steps, through the hooks of tests/faults_helpers.py (SITECUSTOMIZE).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.faults_helpers import (
    FIRST_DAY,
    LAST_DAY,
    PRELUDE,
    ROOT,
    RUN_GROUPS,
    Child,
    build_small_models,
    child_env,
    config_copy,
    fingerprint,
    load_sample_prices,
    row_counts,
    run_universe,
    small_warehouse,
    write_hooks,
)
from tools.ui_stack import instance_yaml
from warehouse import calendar
from warehouse.db import connect
from warehouse.snapshot import publish, snapshot_path

# A connection that says which statement it is about to run: the kill point "inside a statement".
PROXY = """
class Announcing:
    '''Delegates to a DuckDB connection; prints STATEMENT before a statement starting with `prefix`.'''

    def __init__(self, conn, prefix):
        self._conn, self._prefix = conn, prefix

    def execute(self, sql, *args, **kwargs):
        if sql.lstrip().lower().startswith(self._prefix):
            say("STATEMENT", sql.split()[:4])
        return self._conn.execute(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._conn.close()
"""

# Hold the process inside the open transaction: the change log is written last, just before the
# COMMIT of a load (warehouse/load.py) and of a model build (warehouse/models.py).
HOLD_BEFORE_COMMIT = """
from warehouse import changes
_record = changes.record
def record_then_hold(*args, **kwargs):
    out = _record(*args, **kwargs)
    say("BEFORE_COMMIT")
    time.sleep(600)
    return out
changes.record = record_then_hold
"""

LOAD = PRELUDE + PROXY + HOLD_BEFORE_COMMIT + """
import datetime as dt
import numpy as np
import pandas as pd
from warehouse import calendar
from warehouse.db import connect
from warehouse.prices import load_prices
from warehouse.sources.base import PriceBatch

path, mode, n_tickers = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode != "before_commit":
    changes.record = _record
days = calendar.sessions(dt.date(2023, 1, 3), dt.date(2024, 6, 28))
tickers = [f"F{i:04d}" for i in range(n_tickers)]
close = np.linspace(10, 20, len(days) * n_tickers)
bars = pd.DataFrame({
    "ticker": np.repeat(tickers, len(days)), "trade_date": days * n_tickers,
    "open": close, "high": close, "low": close, "close": close, "adj_close": close, "volume": 1000.0,
})
conn = connect(path)
if mode == "in_statement":
    conn = Announcing(conn, "insert into core.prices_daily")
say("LOADING", len(bars))
load = load_prices(conn, PriceBatch(bars), source="sample", run_id="killed")
say("COMMITTED", load.result.inserted)
"""


def extra_batch_rows(n_tickers: int) -> int:
    return n_tickers * len(calendar.sessions(FIRST_DAY, LAST_DAY))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A small warehouse with prices and models; each test works on a copy."""
    return small_warehouse(tmp_path_factory.mktemp("faults-kill") / "template.duckdb")


@pytest.fixture
def warehouse(prepared, tmp_path):
    path = tmp_path / "wh.duckdb"
    shutil.copyfile(prepared, path)
    return path


def test_fingerprint_sees_every_change(warehouse, tmp_path):
    """The fingerprint changes with one value, one row removed, one row added twice, and not
    with the order of the rows; compared with the sorted rows read in Python."""
    before = fingerprint(warehouse)
    copy = tmp_path / "copy.duckdb"
    with connect(warehouse) as conn:
        rows = sorted(conn.execute("select * from core.prices_daily").fetchall())
        conn.execute("create table core.shuffled as select * from core.prices_daily order by random()")
        conn.execute("delete from core.prices_daily")
        conn.execute("insert into core.prices_daily select * from core.shuffled")
        conn.execute("drop table core.shuffled")
        assert sorted(conn.execute("select * from core.prices_daily").fetchall()) == rows
    assert fingerprint(warehouse) == before
    for change in (
        "update core.prices_daily set close = close + 0.01 where rowid = (select min(rowid) from core.prices_daily)",
        "delete from core.prices_daily where rowid = (select min(rowid) from core.prices_daily)",
        "insert into core.prices_daily select * from core.prices_daily limit 1",
    ):
        shutil.copyfile(warehouse, copy)
        with connect(copy) as conn:
            conn.execute(change)
        after = fingerprint(copy)
        assert after != before, change
        assert [k for k in before if before[k] != after[k]] == ["core.prices_daily"], change


@pytest.mark.parametrize("mode", ["before_commit", "in_statement"])
def test_kill_during_a_price_load(warehouse, mode):
    before = fingerprint(warehouse)
    n = 120 if mode == "before_commit" else 1500
    with Child(LOAD, warehouse, mode, n) as child:
        child.wait_for("LOADING")
        child.wait_for("STATEMENT" if mode == "in_statement" else "BEFORE_COMMIT")
        assert child.kill() == -9
        committed = any(line.startswith("COMMITTED") for line in child.lines)
    assert not committed, "the kill came after the commit: make the batch larger"
    # It opens, and holds exactly what it held: no row of the killed batch, no change recorded.
    assert fingerprint(warehouse) == before
    # The next load completes, and holds the batch once.
    with Child(LOAD, warehouse, "complete", n) as child:
        assert child.finish() == 0, child.stderr
        assert child.lines[-1] == f"COMMITTED {extra_batch_rows(n)}"
    after = row_counts(fingerprint(warehouse))
    assert after["core.prices_daily"] == row_counts(before)["core.prices_daily"] + extra_batch_rows(n)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("select count(*) from core.prices_daily where ticker like 'F%'").fetchall() == [
            (extra_batch_rows(n),)
        ]
        assert conn.execute("select count(*) from meta.changes where run_id = 'killed'").fetchall() == [(1,)]


BUILD = PRELUDE + PROXY + HOLD_BEFORE_COMMIT + """
from tests.faults_helpers import build_small_models
from warehouse.db import connect

path, mode = sys.argv[1], sys.argv[2]
if mode != "before_commit":
    changes.record = _record
conn = connect(path)
if mode == "in_statement":
    # A full build's one long statement: create or replace table <model> as <its SQL>.
    conn = Announcing(conn, "create or replace table")
say("BUILDING")
results = build_small_models(conn, full_refresh=mode == "in_statement")
say("BUILT", sorted((name, r.mode) for name, r in results.items()))
"""

LATER = (dt.date(2024, 7, 1), dt.date(2024, 8, 30))  # prices the models have not seen yet


def with_new_prices(path):
    """Load prices after the models' last date (committed): the next build has work to do."""
    with connect(path) as conn:
        load = load_sample_prices(conn, *LATER)
    assert load.result.inserted > 0
    return path


@pytest.mark.parametrize("mode", ["before_commit", "in_statement"])
def test_kill_during_a_model_build(warehouse, prepared, tmp_path, mode):
    with_new_prices(warehouse)
    before = fingerprint(warehouse)
    with Child(BUILD, warehouse, mode) as child:
        child.wait_for("BUILDING")
        child.wait_for("STATEMENT" if mode == "in_statement" else "BEFORE_COMMIT")
        assert child.kill() == -9
        assert not any(line.startswith("BUILT") for line in child.lines)
    assert fingerprint(warehouse) == before
    # The next build completes and gives exactly the models of a build that was never killed.
    with Child(BUILD, warehouse, "complete") as child:
        assert child.finish() == 0, child.stderr
        assert child.lines[-1].startswith("BUILT")
    reference = with_new_prices(shutil.copyfile(prepared, tmp_path / "reference.duckdb"))
    with connect(reference) as conn:
        build_small_models(conn)
    models = ("staging", "marts")
    assert fingerprint(warehouse, models) == fingerprint(reference, models)
    assert fingerprint(warehouse, models) != {k: v for k, v in before.items() if k.split(".")[0] in models}


PUBLISH = PRELUDE + PROXY + """
import os
from warehouse.db import connect
from warehouse.snapshot import publish

path, mode = sys.argv[1], sys.argv[2]
if mode == "before_rename":
    # The copy is complete in the temporary file; hold before it is renamed over the snapshot.
    def hold(src, dst):
        say("BEFORE_RENAME", src)
        time.sleep(600)
    os.replace = hold
conn = connect(path)
if mode == "in_statement":
    conn = Announcing(conn, "copy from database")
say("PUBLISHING")
target = publish(conn, path)
say("PUBLISHED", target)
"""


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("mode", ["before_rename", "in_statement"])
def test_kill_during_the_snapshot_publication(warehouse, mode):
    with connect(warehouse) as conn:
        publish(conn, warehouse)
    snapshot = snapshot_path(warehouse)
    published = sha256(snapshot)
    published_rows = fingerprint(snapshot)
    # The warehouse moves on: the next publication would change the snapshot.
    with connect(warehouse) as conn:
        if mode == "in_statement":
            # Large enough that the copy takes a good fraction of a second.
            conn.execute(
                "insert into core.prices_daily select 'B' || (i % 1000), date '1990-01-02' + (i // 1000)::int, "
                "1, 1, 1, 1, 1, 1, 'sample', now() from range(2000000) r(i)"
            )
    with_new_prices(warehouse)
    before = fingerprint(warehouse)
    assert before != published_rows
    with Child(PUBLISH, warehouse, mode) as child:
        child.wait_for("PUBLISHING")
        child.wait_for("STATEMENT" if mode == "in_statement" else "BEFORE_RENAME")
        assert child.kill() == -9
        assert not any(line.startswith("PUBLISHED") for line in child.lines)
    # The snapshot readers see is the previous one, byte for byte; the warehouse is untouched.
    assert sha256(snapshot) == published
    assert fingerprint(snapshot) == published_rows
    assert fingerprint(warehouse) == before
    # The next publication completes: the snapshot then holds what the warehouse holds.
    with Child(PUBLISH, warehouse, "complete") as child:
        assert child.finish() == 0, child.stderr
        assert child.lines[-1] == f"PUBLISHED {snapshot}"
    assert fingerprint(snapshot) == before == fingerprint(warehouse)


def test_a_killed_publication_leaves_no_temporary_copy_behind(warehouse):
    snapshot = snapshot_path(warehouse)
    with Child(PUBLISH, warehouse, "before_rename") as child:
        child.wait_for("BEFORE_RENAME")
        child.kill()
    with Child(PUBLISH, warehouse, "complete") as child:
        assert child.finish() == 0, child.stderr
    # The copy is as large as the warehouse: one left per killed run fills the disk in the end.
    assert sorted(p.name for p in snapshot.parent.iterdir()) == [snapshot.name]


# -- the run process itself (`make run`), killed inside each step (slow) --------------------------

@pytest.mark.faults
def test_kill_9_of_make_run_inside_each_step_then_the_next_run_completes(tmp_path):
    hooks = write_hooks(tmp_path / "hooks")
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(home), encoding="utf-8")
    warehouse = tmp_path / "wh.duckdb"
    before_file = tmp_path / "before.json"
    env = child_env(DAGSTER_HOME=str(home), ROTATION_WAREHOUSE=str(warehouse),
                    ROTATION_CONFIG_DIR=str(config_copy(tmp_path / "config", universe=run_universe())),
                    FAULT_BEFORE=str(before_file))
    env["PYTHONPATH"] = f"{hooks}:{env['PYTHONPATH']}"
    snapshot = snapshot_path(warehouse)
    steps = ["prices", "model:marts.relative_strength", "publish"]
    for step in steps:
        before_file.unlink(missing_ok=True)
        Path(f"{before_file}.held").unlink(missing_ok=True)
        run = Child("import runpy; runpy.run_module('pipelines.run', run_name='__main__')",
                    env={**env, "FAULT_HOLD": step})
        with run:
            assert run.wait_for("FAULT HOLD", timeout=600).startswith("FAULT HOLD")
            assert run.kill() == -9
        before = json.loads(before_file.read_text())
        assert json.loads(json.dumps(fingerprint(warehouse))) == before, step
        assert not snapshot.exists(), step  # no run got to rename a copy into place
    # The next run, not interrupted, completes.
    done = subprocess.run([sys.executable, "-m", "pipelines.run"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    sessions = len(calendar.sessions(dt.date(2024, 1, 2), calendar.last_completed_session()))
    final = fingerprint(warehouse)
    assert row_counts(final)["core.prices_daily"] == sum(map(len, RUN_GROUPS.values())) * sessions
    assert all(row_counts(final)[f"marts.{m}"] > 0 for m in ("relative_strength", "rotation_dashboard"))
    assert fingerprint(snapshot) == final
    assert sorted(p.name for p in snapshot.parent.iterdir() if not p.name.endswith((".tmp", ".tmp.wal"))) == [
        snapshot.name]
