"""Dagster's overhead on the path users take: runs launched through the instance, as the UI's
Materialize button and the daemon launch them, against the same work in plain Python.

    python -m bench.launched --repeat 3

`dg dev` (webserver, daemon, the project's dagster.yaml: queued runs, the writer pool per run)
runs on a loopback port with a temporary DAGSTER_HOME, the sample source and a fresh warehouse
for each repeat. The automation sensor is stopped, so only the launched run writes. One run is
launched through GraphQL as `make run` does it (the prices over the sample's months and every
other asset with its checks). The clock runs from the launch to the end of the run: the queue,
the run worker's start and its loading of the definitions are in it, as a user waits for them.
The "alone" phase of bench/overhead.py (the same source reads, loads, models, checks, snapshot
and charts in one plain process) runs alternately, in fresh processes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import overhead
from tools.ui_stack import UiStack

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.5
SETTLE_SECONDS = 20


def launch_phases(home: Path, run_id: str) -> dict[str, float]:
    """How long the run waited in each step of its launch, from the instance's event log: in the
    queue until the daemon handed it to the code server, then the new run process starting (Python,
    the imports, the definitions) until the run began."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        times = {}
        for kind in (dg.DagsterEventType.RUN_ENQUEUED, dg.DagsterEventType.RUN_STARTING,
                     dg.DagsterEventType.RUN_START):
            records = instance.get_records_for_run(run_id, of_type=kind).records
            if records:
                times[kind] = records[0].event_log_entry.timestamp
    if len(times) < 3:
        return {}
    return {
        "in_queue_seconds": times[dg.DagsterEventType.RUN_STARTING] - times[dg.DagsterEventType.RUN_ENQUEUED],
        "run_process_start_seconds": times[dg.DagsterEventType.RUN_START] - times[dg.DagsterEventType.RUN_STARTING],
    }


def _graph_selection() -> tuple[list[list[str]], list[list[str]]]:
    from pipelines.definitions import defs

    graph = defs().resolve_asset_graph()
    executable = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]
    partitioned = sorted(k.path for k in executable if graph.get(k).partitions_def is not None)
    others = sorted(k.path for k in executable if graph.get(k).partitions_def is None)
    return partitioned, others


def _partition_range() -> tuple[str, str]:
    from pipelines.defs.partitions import source_partition_keys
    from warehouse.sources.base import open_source
    from warehouse.universe import load_universe

    keys = source_partition_keys(open_source("sample", None), load_universe())
    return keys[0], keys[-1]


def launched_once(folder: Path, env: dict[str, str]) -> dict:
    """One repeat: the UI up (not timed), then both runs launched and waited for (timed)."""
    partitioned, others = _graph_selection()
    first, last = _partition_range()
    db = folder / "warehouse.duckdb"
    stack_env = {**{k: v for k, v in env.items() if k.startswith("ROTATION_")}, "ROTATION_WAREHOUSE": str(db)}
    with UiStack(folder / "home", env=stack_env) as ui:
        ui.stop_sensor("follow_inputs")
        # A user clicks long after the UI came up: let the daemon's and the code server's start-up
        # work finish first, so it is not counted against the run.
        time.sleep(SETTLE_SECONDS)
        t0 = time.perf_counter()
        runs = []
        # One run, as `make run` does it: the prices over the source's months and everything else.
        keys = partitioned + others
        tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
        launched = time.perf_counter()
        run_id = ui.launch_assets(keys, tags=tags)
        run = ui.wait_for_run(run_id, timeout=1800)
        done = time.perf_counter()
        if run["status"] != "SUCCESS":
            raise RuntimeError(f"launched run {run_id} ended {run['status']}; see {ui.log}")
        seconds = done - t0
        runs.append({
            "assets": len(keys),
            "click_to_done_seconds": done - launched,
            # From the run worker's start to the run's end, as the instance records them.
            "run_seconds": run["endTime"] - run["startTime"],
            "queued_seconds": run["startTime"] - run["creationTime"],
            **launch_phases(folder / "home", run_id),
        })
    return {"seconds": seconds, "runs": runs}


def measure(repeat: int = 3, progress: bool = False) -> dict:
    env = overhead._child_env(None)
    env.pop("ROTATION_WAREHOUSE", None)
    load_before = os.getloadavg()
    launched, alone = [], []
    for i in range(repeat):
        for phase in ("launched", "alone") if i % 2 == 0 else ("alone", "launched"):
            if phase == "alone":
                result = overhead._spawn("alone", env)
                alone.append(result["seconds"])
            else:
                folder = Path(tempfile.mkdtemp(prefix="rotation-launched-"))
                try:
                    result = launched_once(folder, env)
                finally:
                    shutil.rmtree(folder, ignore_errors=True)
                launched.append(result)
            if progress:
                print(f"  run {i + 1}/{repeat} {phase:<9} {result['seconds']:7.2f} s", flush=True)
    median = statistics.median(r["seconds"] for r in launched)
    at_median = sorted(launched, key=lambda r: r["seconds"])[(len(launched) - 1) // 2]
    alone_s = statistics.median(alone)
    return {
        "repeat": repeat,
        "load_average": {"before": load_before[0], "after": os.getloadavg()[0]},
        "launched_seconds": median,
        "launched_runs_seconds": [r["seconds"] for r in launched],
        "alone_seconds": alone_s,
        "alone_runs_seconds": alone,
        "ratio": median / alone_s,
        "target": TARGET,
        "met": median / alone_s <= TARGET,
        "median_run_parts": at_median["runs"],
    }


def render(result: dict) -> str:
    lines = [
        f"Launched runs (dg dev, GraphQL, queued, in-process executor): sample source, median of {result['repeat']}",
        f"  load average {result['load_average']['before']:.1f} before, {result['load_average']['after']:.1f} after",
        f"  launched  whole graph, one run       {result['launched_seconds']:7.2f} s  "
        f"(runs: {', '.join(f'{s:.2f}' for s in result['launched_runs_seconds'])})",
        f"  alone     same work, plain Python     {result['alone_seconds']:7.2f} s  "
        f"(runs: {', '.join(f'{s:.2f}' for s in result['alone_runs_seconds'])})",
        f"  ratio launched / alone               {result['ratio']:7.2f}x  target <= {result['target']}x: "
        f"{'met' if result['met'] else 'NOT met'}",
        "  where the median launched time went, per run (click to done = queued + worker start + run):",
    ]
    for i, run in enumerate(result["median_run_parts"], 1):
        lines.append(
            f"    run {i}: {run['assets']:>2} assets  click to done {run['click_to_done_seconds']:6.2f} s  "
            f"before the run began {run['queued_seconds']:5.2f} s  run {run['run_seconds']:6.2f} s"
        )
        if "in_queue_seconds" in run:
            lines.append(
                f"      before it began: in the queue {run['in_queue_seconds']:.2f} s, the run process "
                f"starting (Python, imports, definitions) {run['run_process_start_seconds']:.2f} s"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    result = measure(args.repeat, progress=True)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
