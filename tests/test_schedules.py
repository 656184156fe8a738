import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.defs import schedules

NY = ZoneInfo("America/New_York")


def tick(schedule, when):
    context = dg.build_schedule_context(scheduled_execution_time=when)
    return schedule(context)


def test_prices_schedule_runs_after_the_close_on_weekdays_in_new_york():
    s = schedules.prices_after_close
    assert s.cron_schedule == "30 18 * * 1-5"
    assert s.execution_timezone == "America/New_York"
    assert s.default_status == dg.DefaultScheduleStatus.RUNNING


def test_a_session_day_requests_its_month():
    request = tick(schedules.prices_after_close, dt.datetime(2026, 1, 12, 18, 30, tzinfo=NY))
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == "2026-01-01"
    assert request.run_key == "prices-2026-01-12"


def test_holidays_are_skipped_with_the_reason():
    skip = tick(schedules.prices_after_close, dt.datetime(2025, 12, 25, 18, 30, tzinfo=NY))
    assert isinstance(skip, dg.SkipReason)
    assert skip.skip_message == "2025-12-25 is not an NYSE session (Christmas): nothing to load"
    skip = tick(schedules.prices_after_close, dt.datetime(2025, 1, 9, 18, 30, tzinfo=NY))
    assert "special closure" in skip.skip_message


def test_the_new_york_date_is_used_not_utc():
    # The tick arrives as 23:30 UTC: 18:30 on Thanksgiving in New York.
    skip = tick(schedules.prices_after_close, dt.datetime(2026, 11, 26, 23, 30, tzinfo=dt.UTC))
    assert "Thanksgiving" in skip.skip_message


def test_sensors_start_running():
    assert schedules.report_run_failure.default_status == dg.DefaultSensorStatus.RUNNING
    assert schedules.automation.default_status == dg.DefaultSensorStatus.RUNNING
