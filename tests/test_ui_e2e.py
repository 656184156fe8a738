"""The path users take: an offline `make run`, then the webserver and daemon (`dg dev`), runs
launched through GraphQL as the UI's Materialize button launches them, a schedule's tick.

Nothing is mocked: `dg dev` runs on a loopback port with a temporary DAGSTER_HOME holding the
project's dagster.yaml (queued runs, the writer pool per run, run retries), and the live hosts
are probed at a closed loopback port, so the live source is unreachable as on a machine offline.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest

from tools.ui_stack import UiStack, free_port, instance_yaml
from warehouse.snapshot import snapshot_path

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """An offline `make run` into a temporary folder: the sample stands in for the live source."""
    folder = tmp_path_factory.mktemp("ui")
    home = folder / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(home), encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ROTATION_")},
        "DAGSTER_HOME": str(home),
        "ROTATION_WAREHOUSE": str(folder / "rotation.duckdb"),
        # Nothing listens there: the live hosts are unreachable, as offline.
        "ROTATION_LIVE_PROBE": f"127.0.0.1:{free_port()}",
    }
    build = subprocess.run([sys.executable, "-m", "pipelines.run"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "LIVE SOURCES UNREACHABLE" in build.stdout
    return folder, home, env


@pytest.fixture(scope="module")
def ui(offline):
    folder, home, env = offline
    with UiStack(home, env={k: v for k, v in env.items() if k.startswith("ROTATION_")}) as stack:
        yield stack


def unpartitioned_assets() -> list[list[str]]:
    from pipelines.definitions import defs

    graph = defs().resolve_asset_graph()
    return sorted(
        k.path for k in graph.get_all_asset_keys()
        if graph.get(k).is_materializable and graph.get(k).partitions_def is None
    )


def test_materialize_from_the_ui_writes_the_sample_warehouse_make_run_built(offline, ui, monkeypatch):
    folder, home, env = offline
    sample = folder / "rotation-sample.duckdb"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    keys = unpartitioned_assets()
    run_id = ui.launch_assets(keys)
    run = ui.wait_for_run(run_id)
    assert run["status"] == "SUCCESS", (home / "dg-dev.log").read_text()[-4000:]
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags["rotation/source"] == "sample" and tags["rotation/flavour"] == "sample"
    assert tags["rotation/warehouse"] == str(sample)
    assert not (folder / "rotation.duckdb").exists()  # the live warehouse is never created

    # Each materialisation names the sample warehouse, and its row count is that table's there.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        events = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
        meta = {
            e.event_log_entry.dagster_event.asset_key.to_user_string():
                e.event_log_entry.dagster_event.materialization.metadata
            for e in events
        }
    assert set(meta) == {"/".join(k) for k in keys}
    assert {m["warehouse"].value for m in meta.values()} == {str(sample)}
    assert {m["data_flavour"].value for m in meta.values()} == {"sample"}
    with duckdb.connect(str(snapshot_path(sample)), read_only=True) as conn:
        rs_rows = conn.execute("select count(*) from marts.relative_strength").fetchall()[0][0]
    assert rs_rows > 0
    assert meta["marts/relative_strength"]["dagster/row_count"].value == rs_rows
    # The charts of the sample are in the sample's own folder.
    assert (folder / "reports" / "rotation-sample" / "index.html").exists()


def test_a_schedule_tick_requests_the_month_of_the_session(ui):
    tick = dt.datetime(2026, 1, 12, 18, 30, tzinfo=ZoneInfo("America/New_York")).timestamp()
    result = ui.schedule_dry_run("prices_after_close", tick)
    assert result["__typename"] == "DryRunInstigationTick"
    requests = result["evaluationResult"]["runRequests"]
    assert [r["runKey"] for r in requests] == ["prices-2026-01-12"]
    tags = {t["key"]: t["value"] for t in requests[0]["tags"]}
    assert tags["dagster/partition"] == "2026-01-01"
    assert tags["rotation/source"] == "sample"


def test_a_deterministic_failure_is_not_retried_and_the_alert_names_the_error(offline, ui):
    folder, home, _ = offline
    warehouse = folder / "rotation-sample.duckdb"
    # The charts read the snapshot (or the warehouse before the first one): without either they
    # cannot render, and no retry would change that.
    moved = [(p, p.with_name(p.name + ".hidden")) for p in (snapshot_path(warehouse), warehouse)]
    for path, hidden in moved:
        path.rename(hidden)
    try:
        run_id = ui.launch_assets([["reports", "rotation_charts"]])
        run = ui.wait_for_run(run_id)
    finally:
        for path, hidden in moved:
            hidden.rename(path)
    assert run["status"] == "FAILURE"
    time.sleep(8)  # the run-retry daemon would have launched a retry by now
    with dg.DagsterInstance.from_config(str(home)) as instance:
        retries = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/parent_run_id": run_id}))
        assert retries == []
        from pipelines.defs.schedules import failure_message

        failure = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records[0]
        context = dg.build_run_status_sensor_context(
            sensor_name="report_run_failure",
            dagster_event=failure.event_log_entry.dagster_event,
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(run_id),
        ).for_run_failure()
        message = failure_message(context)
    assert message.startswith(f"RUN FAILED: job=__ASSET_JOB run_id={run_id} source=sample ")
    assert "reports__rotation_charts: " in message
    assert "no warehouse at" in message and "make run" in message
