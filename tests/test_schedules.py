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


def test_holidays_run_tagged_with_the_holiday():
    # A holiday's run re-checks the month, so the freshness policy never flags a holiday.
    request = tick(schedules.prices_after_close, dt.datetime(2025, 12, 25, 18, 30, tzinfo=NY))
    assert isinstance(request, dg.RunRequest)
    assert (request.run_key, request.partition_key) == ("prices-2025-12-25", "2025-12-01")
    assert request.tags["rotation/no_session"] == "2025-12-25 is not an NYSE session (Christmas)"
    request = tick(schedules.prices_after_close, dt.datetime(2025, 1, 9, 18, 30, tzinfo=NY))
    assert "special closure" in request.tags["rotation/no_session"]


def test_sessions_carry_no_holiday_tag_and_every_run_names_its_source(monkeypatch):
    monkeypatch.setenv("ROTATION_SOURCE", "sample")
    request = tick(schedules.prices_after_close, dt.datetime(2026, 1, 12, 18, 30, tzinfo=NY))
    assert "rotation/no_session" not in request.tags
    assert request.tags["rotation/source"] == "sample" and request.tags["rotation/flavour"] == "sample"


def test_the_new_york_date_is_used_not_utc():
    # The tick arrives as 23:30 UTC: 18:30 on Thanksgiving in New York.
    request = tick(schedules.prices_after_close, dt.datetime(2026, 11, 26, 23, 30, tzinfo=dt.UTC))
    assert "Thanksgiving" in request.tags["rotation/no_session"]
    assert request.run_key == "prices-2026-11-26"


def test_sensors_start_running():
    assert schedules.report_run_failure.default_status == dg.DefaultSensorStatus.RUNNING
    assert schedules.automation.default_status == dg.DefaultSensorStatus.RUNNING


def test_valuations_follow_the_close_and_skip_holidays():
    s = schedules.valuations_after_close
    assert (s.cron_schedule, s.execution_timezone) == ("30 18 * * 1-5", "America/New_York")
    assert s.default_status == dg.DefaultScheduleStatus.RUNNING
    assert isinstance(tick(s, dt.datetime(2026, 1, 12, 18, 30, tzinfo=NY)), dg.RunRequest)
    assert "Good Friday" in tick(s, dt.datetime(2026, 4, 3, 18, 30, tzinfo=NY)).tags["rotation/no_session"]


def test_valuation_runs_are_keyed_by_day_without_a_partition():
    request = tick(schedules.valuations_after_close, dt.datetime(2026, 1, 12, 18, 30, tzinfo=NY))
    assert (request.run_key, request.partition_key) == ("valuations-2026-01-12", None)
    assert schedules.valuations_after_close.description == (
        "After each weekday's close: today's valuation snapshot. On an NYSE holiday the run "
        "re-checks the last session and is tagged with the holiday."
    )


def test_rates_run_every_evening_on_their_own_schedule():
    s = schedules.rates_daily_fetch
    assert (s.cron_schedule, s.execution_timezone) == ("0 19 * * *", "America/New_York")
    assert s.default_status == dg.DefaultScheduleStatus.RUNNING
    request = tick(s, dt.datetime(2026, 11, 21, 19, 0, tzinfo=NY))
    assert request.run_key == "rates-2026-11-21"


def test_the_jobs_target_the_ingest_assets(project_env):
    from pipelines.definitions import defs

    d = defs()
    # the day's members first: the prices of that day cover every member of a configured index
    for name, keys in [("daily_prices", {schedules.MEMBERS, schedules.PRICES}),
                       ("daily_valuations", {schedules.VALUATIONS}), ("daily_rates", {schedules.RATES})]:
        job = d.resolve_job_def(name)
        assert job.asset_layer.executable_asset_keys == keys
