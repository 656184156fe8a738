"""The sample rates: synthetic, but the policy rate follows the real FOMC decisions."""

import datetime as dt

import pytest

from warehouse.checks.rates import decisions_match_reference
from warehouse.fomc_reference import read_reference
from warehouse.rates import (
    load_fomc_reference,
    load_rates,
    rebuild_fomc_decisions,
    rebuild_policy_rate_daily,
)
from warehouse.sources.rates import open_rates_source
from warehouse.sources.sample_rates import SampleRatesSource
from warehouse.universe import UniverseError, load_universe

D = dt.date
END = D(2026, 3, 31)


@pytest.fixture(scope="module")
def batch():
    return SampleRatesSource(end=END).observations(load_universe().rate_series)


def values(batch, series_id, *dates):
    rows = batch.observations[batch.observations["series_id"] == series_id].set_index("obs_date")[
        "value"
    ]
    return [rows.get(d) for d in dates]


def test_every_configured_series_is_there(batch):
    assert batch.failed == {}
    assert batch.series == sorted(load_universe().rate_series)


def test_the_target_follows_the_real_decisions(batch):
    assert values(
        batch, "DFEDTAR", D(1990, 1, 1), D(1990, 7, 12), D(1990, 7, 13), D(2008, 12, 15)
    ) == [8.25, 8.25, 8.0, 1.0]
    assert values(batch, "DFEDTAR", D(2008, 12, 16)) == [None]  # the single target ends 2008-12-15
    assert values(
        batch, "DFEDTARL", D(2008, 12, 16), D(2024, 9, 18), D(2024, 9, 19), D(2025, 12, 11)
    ) == [0.0, 5.25, 4.75, 3.5]
    assert values(
        batch, "DFEDTARU", D(2008, 12, 16), D(2024, 9, 18), D(2024, 9, 19), D(2025, 12, 11)
    ) == [0.25, 5.5, 5.0, 3.75]


def test_derived_decisions_from_the_sample_are_the_published_ones(conn, batch):
    load_rates(conn, batch, source="sample")
    rebuild_policy_rate_daily(conn)
    rebuild_fomc_decisions(conn)
    load_fomc_reference(conn)
    outcome = decisions_match_reference(conn)
    assert outcome.passed and outcome.counts["newer_than_reference"] == 0
    assert outcome.counts["decisions_agreeing"] == len(read_reference()) == 109
    assert conn.execute("select distinct source from core.rates_daily").fetchall() == [("sample",)]
    # The sample's effective rate sits inside the range on every day of the range era.
    assert conn.execute(
        "select count(*) filter (where not effective_in_range), "
        "count(*) filter (where effective is null) "
        "from core.policy_rate_daily where target_kind = 'range'"
    ).fetchone() == (0, 0)


def test_the_spread_is_the_difference_of_the_yields_and_monthly_series_are_monthly(batch):
    ten, two, spread = (values(batch, s, D(2024, 6, 3))[0] for s in ("DGS10", "DGS2", "T10Y2Y"))
    assert spread == pytest.approx(round(ten - two, 2))
    cpi = batch.observations[batch.observations["series_id"] == "CPIAUCSL"]["obs_date"]
    assert {d.day for d in cpi} == {1} and len(cpi) == 12 * 36 + 3  # Jan 1990 .. Mar 2026


def test_holidays_are_missing_values_not_rows(batch):
    assert values(batch, "DGS10", D(2024, 12, 24), D(2024, 12, 25), D(2025, 1, 1)) == [
        values(batch, "DGS10", D(2024, 12, 24))[0],
        None,
        None,
    ]
    assert values(batch, "DGS10", D(2024, 12, 24))[0] is not None

    def holiday_weekdays(first):
        day, count = first, 0
        while day <= END:
            count += day.weekday() < 5 and (day.month, day.day) in {
                (1, 1),
                (7, 4),
                (11, 11),
                (12, 25),
            }
            day += dt.timedelta(1)
        return count

    # Four Treasury series from 1990, the high-yield spread from its first day, 1996-12-31.
    assert batch.missing_count == 4 * holiday_weekdays(D(1990, 1, 1)) + holiday_weekdays(
        D(1996, 12, 31)
    )


def test_a_day_does_not_depend_on_how_far_the_sample_runs():
    short = SampleRatesSource(end=D(2010, 1, 31)).observations(["DFF", "DGS10", "UNRATE"])
    long = SampleRatesSource(end=END).observations(["DFF", "DGS10", "UNRATE"])
    merged = short.observations.merge(
        long.observations, on=["series_id", "obs_date"], suffixes=("_s", "_l")
    )
    assert len(merged) == len(short.observations)
    assert (merged["value_s"] == merged["value_l"]).all()


def test_starts_and_unknown_series():
    source = open_rates_source("sample")
    batch = source.observations(["DFF", "NOSUCH"], {"DFF": D(2025, 1, 1)})
    assert batch.observations["obs_date"].min() == D(2025, 1, 1)
    assert "the sample has no series 'NOSUCH'" in batch.failed["NOSUCH"]


def test_revision_days_is_read_from_the_universe_and_checked(tmp_path):
    assert load_universe().revision_days == 30
    base = '[prices.groups]\nindices = ["^RUT"]\n[rates]\nseries = ["DFF"]\n'
    path = tmp_path / "universe.toml"
    path.write_text(base + "revision_days = 7\n")
    assert load_universe(path).revision_days == 7
    path.write_text(base)
    assert load_universe(path).revision_days == 30
    path.write_text(base + "revision_days = -1\n")
    with pytest.raises(UniverseError, match=r"\[rates\] revision_days must be a whole number"):
        load_universe(path)
