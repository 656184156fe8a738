"""What the tests see of the clock: the sample rates end on one day for the whole session (pinned
in tests/conftest.py), and that day is New York's, the day the freshness check counts from."""

import datetime as dt

import pandas as pd

from tests.conftest import SAMPLE_RATES_DAY
from warehouse.sources import sample_rates
from warehouse.sources.rates import open_rates_source

# Taken when the module is imported, before any test pins it.
REAL_TODAY = sample_rates.today


def test_the_sample_rates_end_on_the_pinned_day(_sample_rates_day):
    assert _sample_rates_day == SAMPLE_RATES_DAY
    assert sample_rates.SampleRatesSource().end == SAMPLE_RATES_DAY
    assert open_rates_source("sample").end == SAMPLE_RATES_DAY
    # An explicit end is kept.
    assert sample_rates.SampleRatesSource(end=dt.date(2010, 1, 29)).end == dt.date(2010, 1, 29)


def test_the_default_day_is_new_yorks_not_the_machines():
    # 02:30 UTC on 31 March is 22:30 on 30 March in New York (EDT, UTC-4).
    assert REAL_TODAY(pd.Timestamp("2026-03-31 02:30", tz="UTC")) == dt.date(2026, 3, 30)
    assert REAL_TODAY(pd.Timestamp("2026-03-31 04:30", tz="UTC")) == dt.date(2026, 3, 31)
    # Winter: EST, UTC-5.
    assert REAL_TODAY(pd.Timestamp("2026-01-15 04:59", tz="UTC")) == dt.date(2026, 1, 14)
    assert REAL_TODAY(pd.Timestamp("2026-01-15 05:00", tz="UTC")) == dt.date(2026, 1, 15)
