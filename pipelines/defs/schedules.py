"""When things run by themselves (with `make ui`, whose daemon ticks schedules and sensors).

- Prices and valuation snapshots: 18:30 New York, Monday to Friday, after the close has settled.
  A weekday without an NYSE session still runs, tagged with the holiday: it re-checks the month
  (revisions land) and records that the last session is still the latest, so the freshness
  policies (pipelines/graph.py) never flag a holiday.
- Rates: every day at 19:00 New York (FRED publishes the previous day's rates through the day).
- Models, checks, the read snapshot and the reports follow their inputs through declarative
  automation (each has AutomationCondition.eager()); the automation sensor below evaluates them.
- A run-failure sensor logs one line per failed run with the failing steps' errors: the place to
  hook alerts.

Every run request carries the active source's tags (rotation/source, rotation/flavour,
rotation/warehouse), so sample and live runs are told apart in the run history.
"""

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.defs.partitions import monthly_partitions
from warehouse import calendar, settings

PRICES = dg.AssetKey(["core", "prices_daily"])
VALUATIONS = dg.AssetKey(["core", "valuations"])
RATES = dg.AssetKey(["core", "rates_daily"])
MEMBERS = dg.AssetKey(["core", "index_members"])

prices_job = dg.define_asset_job(
    "daily_prices",
    # The index members first (core/prices_daily depends on them): the day's prices cover the
    # members of the day's snapshot. The members asset is not partitioned; it runs once per run.
    selection=dg.AssetSelection.assets(MEMBERS, PRICES),
    partitions_def=monthly_partitions,
    description=(
        "Loads the index members' latest snapshot, then the current month's bars (and the "
        "sessions re-fetched before it)."
    ),
)


valuations_job = dg.define_asset_job(
    "daily_valuations",
    selection=dg.AssetSelection.assets(VALUATIONS),
    description="Snapshots today's valuation fields (they cannot be taken for past days).",
)

rates_job = dg.define_asset_job(
    "daily_rates",
    selection=dg.AssetSelection.assets(RATES),
    description="Fetches FRED series from the last stored observation minus the revision window.",
)


def tick_day(context: dg.ScheduleEvaluationContext) -> dt.date:
    """The New York date of this tick."""
    return context.scheduled_execution_time.astimezone(ZoneInfo(calendar.NEW_YORK)).date()


def session_tags(day: dt.date) -> dict[str, str]:
    """The active source's tags, and on a weekday without a session, which holiday it is."""
    tags = settings.active().tags()
    if not calendar.is_session(day):
        tags["rotation/no_session"] = f"{day} is not an NYSE session ({calendar.closed_reason(day)})"
    return tags


def month_of(day: dt.date) -> str:
    """The monthly partition holding the day."""
    return day.replace(day=1).isoformat()


def after_close_schedule(
    name: str,
    job,
    *,
    run_key_prefix: str,
    what: str,
    partition_key: Callable[[dt.date], str] | None = None,
) -> dg.ScheduleDefinition:
    """18:30 New York, Monday to Friday: one run of the job per weekday (run key
    '<prefix>-<date>', so a tick evaluated twice starts one run). A weekday without a session
    runs too, tagged rotation/no_session with the holiday: the run finds nothing newer than the
    last session and records that it looked."""

    @dg.schedule(
        name=name,
        cron_schedule="30 18 * * 1-5",
        execution_timezone=calendar.NEW_YORK,
        job=job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            f"After each weekday's close: {what}. On an NYSE holiday the run re-checks the last "
            "session and is tagged with the holiday."
        ),
    )
    def _after_close(context: dg.ScheduleEvaluationContext):
        day = tick_day(context)
        tags = session_tags(day)
        if "rotation/no_session" in tags:
            context.log.info(f"{tags['rotation/no_session']}: re-checking the last session")
        return dg.RunRequest(
            run_key=f"{run_key_prefix}-{day}",
            partition_key=partition_key(day) if partition_key else None,
            tags=tags,
        )

    return _after_close


prices_after_close = after_close_schedule(
    "prices_after_close",
    prices_job,
    run_key_prefix="prices",
    what="today's bars into core.prices_daily",
    partition_key=month_of,
)

valuations_after_close = after_close_schedule(
    "valuations_after_close",
    valuations_job,
    run_key_prefix="valuations",
    what="today's valuation snapshot",
)


@dg.schedule(
    cron_schedule="0 19 * * *",
    execution_timezone=calendar.NEW_YORK,
    job=rates_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every evening: FRED series, incrementally, with revisions of the last weeks.",
)
def rates_daily_fetch(context: dg.ScheduleEvaluationContext):
    day = tick_day(context)
    return dg.RunRequest(run_key=f"rates-{day}", tags=settings.active().tags())


def failure_message(context: dg.RunFailureSensorContext) -> str:
    """One line per failed run: the job, the run, its source, and each failed step's error (the
    run's own message only says which steps failed)."""
    run = context.dagster_run
    steps = []
    for event in context.get_step_failure_events():
        error = getattr(event.event_specific_data, "error", None)
        # Dagster wraps the step's own error ("Error occurred while executing op ..."): the cause
        # at the bottom of the chain is what went wrong.
        while error is not None and error.cause is not None:
            error = error.cause
        text = (error.message if error else event.message) or "no message"
        steps.append(f"{event.step_key}: {text.strip().splitlines()[0]}")
    if not steps:
        steps.append((context.failure_event.message or "no message").strip().splitlines()[0])
    source = run.tags.get("rotation/source", "?")
    return f"RUN FAILED: job={run.job_name} run_id={run.run_id} source={source} " + " | ".join(steps)


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Logs one line per failed run (job, run id, source, each failed step's error): hook alerts here.",
)
def report_run_failure(context: dg.RunFailureSensorContext):
    context.log.error(failure_message(context))


automation = dg.AutomationConditionSensorDefinition(
    "follow_inputs",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Builds models, checks, the read snapshot and the reports after their inputs change.",
)


@dg.sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Marks failed the runs of a `make run` whose process is gone (killed), so the duckdb_writer "
        "pool they held is free and the runs launched from the UI stop queueing behind them."
    ),
)
def release_orphaned_runs(context: dg.SensorEvaluationContext):
    from pipelines.orphans import release_orphaned_runs as release

    released = release(context.instance)
    return dg.SkipReason(f"marked failed: {', '.join(released)}" if released else "no orphaned run")
