"""When things run by themselves (with `make ui`, whose daemon ticks schedules and sensors).

- Prices and valuation snapshots: 18:30 New York, Monday to Friday, after the close has settled;
  a weekday without an NYSE session is skipped with the holiday named.
- Rates: every day at 19:00 New York (FRED publishes the previous day's rates through the day).
- Models, checks, the read snapshot and the reports follow their inputs through declarative
  automation (each has AutomationCondition.eager()); the automation sensor below evaluates them.
- A run-failure sensor logs one line per failed run: the place to hook alerts.
"""

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.defs.partitions import monthly_partitions
from warehouse import calendar

PRICES = dg.AssetKey(["core", "prices_daily"])
VALUATIONS = dg.AssetKey(["core", "valuations"])
RATES = dg.AssetKey(["core", "rates_daily"])

prices_job = dg.define_asset_job(
    "daily_prices",
    selection=dg.AssetSelection.assets(PRICES),
    partitions_def=monthly_partitions,
    description="Loads the current month's bars (and the sessions re-fetched before it).",
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


def session_or_skip(context: dg.ScheduleEvaluationContext) -> dt.date | dg.SkipReason:
    """The New York date of this tick, or a SkipReason naming the holiday."""
    day = context.scheduled_execution_time.astimezone(ZoneInfo(calendar.NEW_YORK)).date()
    if not calendar.is_session(day):
        reason = f"{day} is not an NYSE session ({calendar.closed_reason(day)}): nothing to load"
        context.log.info(reason)
        return dg.SkipReason(reason)
    return day


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
    """18:30 New York, Monday to Friday: one run of the job per NYSE session (run key
    '<prefix>-<date>', so a tick evaluated twice starts one run); other weekdays are skipped
    with the holiday named."""

    @dg.schedule(
        name=name,
        cron_schedule="30 18 * * 1-5",
        execution_timezone=calendar.NEW_YORK,
        job=job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"After each NYSE session: {what}. Holidays are skipped.",
    )
    def _after_close(context: dg.ScheduleEvaluationContext):
        day = session_or_skip(context)
        if isinstance(day, dg.SkipReason):
            return day
        return dg.RunRequest(
            run_key=f"{run_key_prefix}-{day}",
            partition_key=partition_key(day) if partition_key else None,
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
    day = context.scheduled_execution_time.astimezone(ZoneInfo(calendar.NEW_YORK)).date()
    return dg.RunRequest(run_key=f"rates-{day}")


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Logs one line per failed run (job, run id, the error): hook alerts here.",
)
def report_run_failure(context: dg.RunFailureSensorContext):
    run = context.dagster_run
    message = context.failure_event.message or "no message"
    context.log.error(f"RUN FAILED: job={run.job_name} run_id={run.run_id} error={message.splitlines()[0]}")


automation = dg.AutomationConditionSensorDefinition(
    "follow_inputs",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Builds models, checks, the read snapshot and the reports after their inputs change.",
)
