"""A `make run` killed mid-run leaves its run STARTED, holding the writer pool; it is released."""

import socket
import subprocess
import sys

import dagster as dg

from pipelines.orphans import HOST, LAUNCHED_BY, PID, release_orphaned_runs


def started_run(instance: dg.DagsterInstance, pid: int, host: str | None = None) -> str:
    run = instance.create_run_for_job(
        dg.define_asset_job("j", selection="*").resolve(asset_graph=dg.Definitions(assets=[a]).resolve_asset_graph()),
        tags={LAUNCHED_BY: "make run", HOST: host or socket.gethostname(), PID: str(pid)},
    )
    instance.handle_new_event(
        dg.EventLogEntry(
            error_info=None, level="debug", user_message="", run_id=run.run_id, timestamp=0.0,
            dagster_event=dg.DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name=run.job_name),
        )
    )
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
    return run.run_id


@dg.asset
def a():
    return 1


def test_only_runs_whose_process_is_gone_are_marked_failed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
            orphan = started_run(instance, dead.pid)
            living = started_run(instance, alive.pid)
            elsewhere = started_run(instance, dead.pid, host="another-host")
            assert release_orphaned_runs(instance) == [orphan]
            assert instance.get_run_by_id(orphan).status == dg.DagsterRunStatus.FAILURE
            assert instance.get_run_by_id(living).status == dg.DagsterRunStatus.STARTED
            assert instance.get_run_by_id(elsewhere).status == dg.DagsterRunStatus.STARTED
            assert release_orphaned_runs(instance) == []  # once is enough
    finally:
        alive.kill()
        alive.wait()
