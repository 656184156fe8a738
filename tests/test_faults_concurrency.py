"""Two runs at once, and readers while a run writes.

DuckDB lets one process open a file for writing and no other process open it beside: the second
run waits for the first (the warehouse resource and `warehouse.db.connect` retry a held lock with
backoff), runs launched from the UI queue behind each other (the `duckdb_writer` pool, limit 1 per
run, dagster.yaml), and readers read the published snapshot, which a run replaces atomically.
"""

from __future__ import annotations

import ast
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.faults_helpers import (
    PRELUDE,
    ROOT,
    RUN_GROUPS,
    Child,
    child_env,
    config_copy,
    fingerprint,
    run_universe,
    small_warehouse,
    write_hooks,
)
from warehouse import calendar
from warehouse.db import connect
from warehouse.snapshot import publish, snapshot_path

HOLD = PRELUDE + """
import ast
import datetime as dt
from warehouse.db import connect
path, seconds = sys.argv[1], float(sys.argv[2])
conn = connect(path)
conn.execute("begin transaction")
conn.execute("delete from core.prices_daily where trade_date >= date '2024-06-01'")
say("WRITING")
time.sleep(seconds)
conn.execute("commit")
conn.close()
say("DONE")
"""


def test_a_reader_of_the_warehouse_waits_for_the_writer_and_sees_its_commit(tmp_path):
    path = small_warehouse(tmp_path / "wh.duckdb")
    with duckdb.connect(str(path), read_only=True) as conn:
        before = conn.execute("select count(*) from core.prices_daily").fetchall()[0][0]
        june = conn.execute("select count(*) from core.prices_daily where trade_date >= '2024-06-01'").fetchall()[0][0]
    assert june > 0
    with Child(HOLD, path, 2.0) as writer:
        writer.wait_for("WRITING")
        with pytest.raises(duckdb.IOException, match="Could not set lock"):  # DuckDB itself refuses at once
            duckdb.connect(str(path), read_only=True)
        started = time.monotonic()
        with connect(path, read_only=True) as conn:  # waits for the writer to let go
            waited = time.monotonic() - started
            after = conn.execute("select count(*) from core.prices_daily").fetchall()[0][0]
        assert writer.finish() == 0
    assert waited > 0.5
    assert after == before - june  # the writer's whole transaction, not part of it


READER = PRELUDE + """
from warehouse.snapshot import open_for_reading
path, seconds = sys.argv[1], float(sys.argv[2])
seen, errors = set(), 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        conn, _ = open_for_reading(path)
        with conn:
            seen.add(conn.execute("select count(*), count(distinct ticker) from core.prices_daily").fetchall()[0])
    except Exception as exc:
        errors += 1
        print(repr(exc), file=sys.stderr)
say("SEEN", sorted(seen))
say("ERRORS", errors)
"""


def test_readers_during_writes_see_one_published_state_or_the_next_never_a_part(tmp_path):
    path = small_warehouse(tmp_path / "wh.duckdb")
    writer = connect(path)
    published = set()
    try:
        publish(writer, path)
        published.add(writer.execute("select count(*), count(distinct ticker) from core.prices_daily").fetchall()[0])
        readers = [Child(READER, path, 8) for _ in range(2)]
        try:
            # The run: loads (each in one transaction) and publishes, again and again.
            day = dt.date(2024, 7, 1)
            for batch in range(6):
                writer.execute(
                    "insert into core.prices_daily select 'W' || ?, d, 1, 1, 1, 1, 1, 1, 'sample', now() "
                    "from (select unnest(?::date[]) as d)",
                    [batch, calendar.sessions(day, day + dt.timedelta(days=60))],
                )
                publish(writer, path)
                published.add(
                    writer.execute("select count(*), count(distinct ticker) from core.prices_daily").fetchall()[0]
                )
                time.sleep(0.5)
            outcomes = []
            for reader in readers:
                assert reader.finish() == 0, reader.stderr
                outcomes.append(reader.lines)
        finally:
            for reader in readers:
                reader.close()
    finally:
        writer.close()
    for lines in outcomes:
        seen = ast.literal_eval(lines[-2].removeprefix("SEEN "))  # a list of (rows, tickers) tuples
        assert lines[-1] == "ERRORS 0"
        assert seen and set(seen) <= published, (seen, published)
    assert fingerprint(snapshot_path(path)) == fingerprint(path)


# -- whole runs (slow) ------------------------------------------------------------------------------


@pytest.fixture
def run_home(tmp_path):
    """A Dagster home with the project's dagster.yaml, its storage created once (as after a first
    `make run` or `make ui`), and a small universe: a whole sample run takes about half a minute."""
    import dagster as dg

    from tools.ui_stack import instance_yaml

    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(home), encoding="utf-8")
    with dg.DagsterInstance.from_config(str(home)):
        pass
    config = config_copy(tmp_path / "config", universe=run_universe())
    env = child_env(DAGSTER_HOME=str(home), ROTATION_CONFIG_DIR=str(config),
                    ROTATION_WAREHOUSE=str(tmp_path / "wh.duckdb"))
    return home, env, tmp_path / "wh.duckdb"


def expected_price_rows(warehouse) -> int:
    """Every sample ticker on every NYSE session from the history start to the last one closed."""
    last = calendar.last_completed_session()
    return sum(len(members) for members in RUN_GROUPS.values()) * len(calendar.sessions(dt.date(2024, 1, 2), last))


@pytest.mark.faults
def test_two_make_runs_at_once_the_second_waits_and_both_succeed(run_home):
    home, env, warehouse = run_home
    runs = []
    try:
        first = subprocess.Popen([sys.executable, "-m", "pipelines.run"], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        runs.append(first)
        for line in first.stdout:  # the first run has started its steps (and holds the file)
            if line.startswith("Materialising"):
                break
        time.sleep(2)
        second = subprocess.Popen([sys.executable, "-m", "pipelines.run"], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        runs.append(second)
        out_second, _ = second.communicate(timeout=900)
        out_first = first.stdout.read()
        first.wait(timeout=900)
    finally:
        for proc in runs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert first.returncode == 0, out_first[-4000:]
    assert second.returncode == 0, out_second[-4000:]
    assert "is locked by another process; retrying" in out_first + out_second  # one of them waited
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        prices = conn.execute("select count(*), count(distinct (ticker, trade_date)) from core.prices_daily").fetchall()
        assert prices == [(expected_price_rows(warehouse),) * 2]
        assert conn.execute("select count(*) from core.quarantine").fetchall() == [(0,)]
        runs_logged = conn.execute("select count(distinct run_id) from meta.changes where relation = "
                                   "'core.prices_daily'").fetchall()[0][0]
        assert runs_logged == 1  # the second run found the same bars: unchanged rows are left alone
    assert fingerprint(snapshot_path(warehouse), ("core", "staging", "marts")) == fingerprint(
        warehouse, ("core", "staging", "marts"))


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """`dg dev` (webserver and daemon) on the project's dagster.yaml with the small universe; its
    processes load the fault hooks (tests/faults_helpers.py SITECUSTOMIZE), armed for the price
    load: a run of core/prices_daily holds inside its load until it is killed."""
    import dagster as dg

    from tools.ui_stack import UiStack, instance_yaml

    folder = tmp_path_factory.mktemp("faults-ui")
    home = folder / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(home), encoding="utf-8")
    with dg.DagsterInstance.from_config(str(home)):
        pass
    hooks = write_hooks(folder / "hooks")
    env = {
        "ROTATION_SOURCE": "sample",
        "ROTATION_CONFIG_DIR": str(config_copy(folder / "config", universe=run_universe())),
        "ROTATION_WAREHOUSE": str(folder / "wh.duckdb"),
        "PYTHONPATH": f"{hooks}{os.pathsep}{ROOT}",
        "FAULT_HOLD": "prices",
        "FAULT_BEFORE": str(folder / "before.json"),
    }
    with UiStack(home, env=env) as stack:
        stack.stop_sensor("follow_inputs")  # only the runs the tests launch
        yield stack, home, folder


FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
ACTIVE = {"STARTING", "STARTED"}


def watch(stack, run_ids, timeout=600):
    """Poll the runs' statuses until all finish; every combination seen, and the last."""
    seen = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = tuple(stack.run(r)["status"] for r in run_ids)
        seen.add(now)
        if all(s in FINISHED for s in now):
            return seen, now
        time.sleep(0.3)
    raise TimeoutError(f"runs {run_ids} still {now} after {timeout} s")


WRITERS = [["core", "rates_daily"], ["core", "fomc_reference"]]


@pytest.mark.faults
def test_two_runs_launched_from_the_ui_queue_and_both_succeed(ui):
    import dagster as dg

    stack, home, folder = ui
    # The first time the pool is used it is created by the queue daemon as it dequeues: two runs
    # launched together in that same pass both start. They still both succeed: the second waits
    # for the warehouse's lock.
    seen, last = watch(stack, [stack.launch_assets(WRITERS), stack.launch_assets(WRITERS)])
    assert last == ("SUCCESS", "SUCCESS"), (home / "dg-dev.log").read_text()[-4000:]
    # From then on the pool holds them in the queue: never both at work.
    first, second = stack.launch_assets(WRITERS), stack.launch_assets(WRITERS)
    seen, last = watch(stack, [first, second])
    assert last == ("SUCCESS", "SUCCESS"), (home / "dg-dev.log").read_text()[-4000:]
    assert not any(a in ACTIVE and b in ACTIVE for a, b in seen), seen
    assert any("QUEUED" in pair and set(pair) & ACTIVE for pair in seen), seen
    with dg.DagsterInstance.from_config(str(home)) as instance:
        a, b = sorted((instance.get_run_record_by_id(r) for r in (first, second)), key=lambda r: r.start_time)
        assert b.start_time >= a.end_time
    with duckdb.connect(str(folder / "wh.duckdb"), read_only=True) as conn:
        assert conn.execute("select count(*) from core.fomc_reference").fetchall()[0][0] > 100


@pytest.mark.faults
def test_a_run_worker_killed_in_its_load_keeps_the_warehouse_and_is_retried(ui):
    """The code server that started the run worker sees it die and fails the run, which frees the
    pool; dagster.yaml's run_retries launches the run again, and it completes."""
    import json

    import dagster as dg

    stack, home, folder = ui
    warehouse, before_file = folder / "wh.duckdb", folder / "before.json"
    for path in (before_file, Path(f"{before_file}.pid"), Path(f"{before_file}.held")):
        path.unlink(missing_ok=True)
    killed = stack.launch_assets([["core", "prices_daily"]], tags={"dagster/partition": "2024-03-01"})
    deadline = time.monotonic() + 300
    while not Path(f"{before_file}.held").exists():
        assert time.monotonic() < deadline, (home / "dg-dev.log").read_text()[-3000:]
        time.sleep(0.5)
    os.kill(int(Path(f"{before_file}.pid").read_text()), signal.SIGKILL)
    before = json.loads(before_file.read_text())  # taken by the killed run as its load began
    # The dead run is failed, not left STARTED with the pool; the next writer run goes through.
    after = stack.launch_assets(WRITERS)
    seen, last = watch(stack, [killed, after], timeout=300)
    assert last == ("FAILURE", "SUCCESS"), seen
    with dg.DagsterInstance.from_config(str(home)) as instance:
        failure = instance.get_records_for_run(killed, of_type=dg.DagsterEventType.RUN_FAILURE).records
        assert failure, "the killed run has no failure event"
        deadline = time.monotonic() + 300
        while True:
            retries = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/parent_run_id": killed}))
            if retries and retries[0].status.value in FINISHED:
                break
            assert time.monotonic() < deadline, f"no finished retry of {killed}: {retries}"
            time.sleep(1)
    assert retries[0].status.value == "SUCCESS"
    # The retry holds the file from its start, so the warehouse is read after it: nothing of the
    # killed load is in it. The killed load began on no bars; now the month's bars are there once,
    # and every change and batch record of the prices is the retry's.
    assert before["core.prices_daily"][1] == 0
    sessions = calendar.sessions(calendar.shift_sessions(dt.date(2024, 3, 1), -10), dt.date(2024, 3, 31))
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("select count(*), count(distinct (ticker, trade_date)) from core.prices_daily"
                            ).fetchall() == [(sum(map(len, RUN_GROUPS.values())) * len(sessions),) * 2]
        assert conn.execute("select run_id, count(*) from meta.changes where relation = 'core.prices_daily' "
                            "group by 1").fetchall() == [(retries[0].run_id, 1)]
        assert conn.execute("select distinct run_id from meta.load_batches where relation = 'core.prices_daily'"
                            ).fetchall() == [(retries[0].run_id,)]
    assert json.loads(json.dumps(fingerprint(warehouse, ("core",))["core.quarantine"])) == before["core.quarantine"]


# Last in this module: it leaves a run STARTED that holds the pool.
@pytest.mark.faults
def test_a_killed_make_run_does_not_block_the_uis_queue(ui):
    import dagster as dg

    stack, home, folder = ui
    with dg.DagsterInstance.from_config(str(home)) as instance:  # the pool exists (not its first use)
        instance.event_log_storage.set_concurrency_slots("duckdb_writer", 1)
    before = folder / "make-run-before.json"
    env = child_env(DAGSTER_HOME=str(home), ROTATION_CONFIG_DIR=stack.env["ROTATION_CONFIG_DIR"],
                    ROTATION_WAREHOUSE=stack.env["ROTATION_WAREHOUSE"], FAULT_HOLD="prices", FAULT_BEFORE=str(before))
    env["PYTHONPATH"] = stack.env["PYTHONPATH"]
    with Child("import runpy; runpy.run_module('pipelines.run', run_name='__main__')", env=env) as run:
        run.wait_for("FAULT HOLD", timeout=300)
        assert run.kill() == -9
    after = stack.launch_assets(WRITERS)
    seen, last = watch(stack, [after], timeout=60)
    assert last == ("SUCCESS",), seen
