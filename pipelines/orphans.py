"""Runs whose process is gone: `make run` executes in its own process, and when that process is
killed (kill -9, the machine's OOM killer) its run stays STARTED in the instance and keeps the
`duckdb_writer` pool, so every writing run launched from the UI would queue for ever.

`make run` tags its runs with the host and process that execute them; a run so tagged whose
process no longer exists on this host is marked failed, which frees the pool. `make run` does it
when it starts, and the `release_orphaned_runs` sensor does it while the UI is up.
"""

from __future__ import annotations

import os
import socket

import dagster as dg

LAUNCHED_BY = "rotation/launched_by"
HOST = "rotation/host"
PID = "rotation/pid"


def process_tags() -> dict[str, str]:
    """The tags of a run executed by this process."""
    return {LAUNCHED_BY: "make run", HOST: socket.gethostname(), PID: str(os.getpid())}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release_orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the `make run` runs of this host still STARTED whose process is gone; their ids."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING],
                              tags={LAUNCHED_BY: "make run", HOST: socket.gethostname()})
    )
    released = []
    for run in runs:
        pid = run.tags.get(PID, "")
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            instance.report_run_failed(
                run, f"the `make run` process (pid {pid}) that executed this run is gone (killed?): "
                     "marked failed so the duckdb_writer pool is free again"
            )
            released.append(run.run_id)
    return released
