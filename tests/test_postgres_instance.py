"""The Dagster instance on PostgreSQL (deploy/dagster-postgres.yaml) against a real server: the
graph runs on it, and its runs, events and schedule ticks are rows in PostgreSQL's tables."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

ROOT = Path(__file__).resolve().parents[1]
RATES = [["core", "rates_daily"], ["core", "policy_rate_daily"], ["core", "fomc_decisions"]]


@pytest.fixture
def pg_instance(pg_server, tmp_path, monkeypatch):
    psycopg2 = pytest.importorskip("psycopg2", reason="the `postgres` extra (psycopg2) is not installed")
    pytest.importorskip("dagster_postgres", reason="the `postgres` extra (dagster-postgres) is not installed")
    db = f"dagster_{uuid.uuid4().hex[:8]}"
    pg_server.create_database(db)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster-postgres.yaml", home / "dagster.yaml")
    for name, value in pg_server.env(db).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("ROTATION_SOURCE", "sample")
    monkeypatch.setenv("ROTATION_WAREHOUSE", str(tmp_path / "wh.duckdb"))
    with dg.DagsterInstance.get() as instance:
        yield instance, psycopg2.connect(pg_server.dsn(db))


def _rows(pg, sql: str, params=()) -> list[tuple]:
    with pg.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def test_runs_and_their_events_land_in_postgres(pg_instance):
    instance, pg = pg_instance
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
    from pipelines.definitions import defs

    job = defs().resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey(k) for k in RATES], raise_on_error=False
    )
    assert result.success
    run_id = result.run_id
    assert _rows(pg, "select status from runs where run_id = %s", (run_id,)) == [("SUCCESS",)]
    materialised = _rows(
        pg,
        "select asset_key from event_logs where run_id = %s and dagster_event_type = 'ASSET_MATERIALIZATION' "
        "order by asset_key",
        (run_id,),
    )
    assert [key for (key,) in materialised] == sorted(dg.AssetKey(k).to_string() for k in RATES)
    # The asset checks' results are events of the run too.
    checks = _rows(
        pg, "select count(*) from event_logs where run_id = %s and dagster_event_type = 'ASSET_CHECK_EVALUATION'",
        (run_id,),
    )[0][0]
    assert checks > 0
    # Dagster's own reads go through the same tables: the latest materialisation is this run's.
    record = instance.get_latest_materialization_event(dg.AssetKey(RATES[0]))
    assert record is not None and record.run_id == run_id
    # The rows went into the warehouse the run was pointed at, not into PostgreSQL.
    from warehouse import settings
    from warehouse.db import connect

    with connect(settings.active().warehouse, read_only=True) as conn:
        assert conn.execute("select count(*) from core.policy_rate_daily").fetchall()[0][0] > 10_000


def test_a_schedule_tick_lands_in_postgres(pg_instance):
    """The scheduler (the daemon's own iteration, run here in-process) evaluates `rates_daily_fetch`
    at its next cron time and records the tick, and the run it requests, in PostgreSQL."""
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.workspace.load_target import ModuleTarget
    from dagster._daemon import get_default_daemon_logger
    from dagster._scheduler.scheduler import launch_scheduled_runs

    instance, pg = pg_instance
    new_york = ZoneInfo("America/New_York")
    now = dt.datetime.now(new_york)
    # The schedule's next tick: 19:00 New York, every day.
    tick = now.replace(hour=19, minute=0, second=0, microsecond=0)
    if tick <= now:
        tick += dt.timedelta(days=1)
    target = ModuleTarget(
        module_name="pipelines.definitions", attribute="defs", working_directory=str(ROOT), location_name="rotation"
    )
    logger = get_default_daemon_logger("SchedulerDaemon")
    with create_test_daemon_workspace_context(target, instance) as context:
        # First pass at the real time: the schedule (RUNNING by default) gets its state; nothing is due.
        list(launch_scheduled_runs(context, logger, end_datetime_utc=dt.datetime.now(dt.UTC), iteration_times={}))
        # Then one minute past its cron time: one tick, one run requested.
        list(launch_scheduled_runs(
            context, logger, end_datetime_utc=(tick + dt.timedelta(minutes=1)).astimezone(dt.UTC), iteration_times={},
        ))
    ticks = _rows(
        pg,
        "select status, timestamp from job_ticks where type = 'SCHEDULE' and tick_body like %s",
        ('%"rates_daily_fetch"%',),
    )
    assert [status for status, _ in ticks] == ["SUCCESS"], ticks
    assert ticks[0][1] == tick.astimezone(dt.UTC).replace(tzinfo=None)
    runs = _rows(
        pg,
        "select r.status, r.pipeline_name from runs r join run_tags t on t.run_id = r.run_id "
        "where t.key = 'dagster/schedule_name' and t.value = 'rates_daily_fetch'",
    )
    # Queued by the QueuedRunCoordinator: the daemon would start it; here it stays in the queue.
    assert runs == [("QUEUED", "daily_rates")], runs
