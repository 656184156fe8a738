"""The scorecard people read (HTML page, Dagster metadata), the rotation claims, and the verdicts
the issue describes on real exports (../shared/realdata)."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from PIL import Image

from tests.model_harness import insert_prices, rows, run_models, small_universe
from tests.test_claims_figures import CLAIMS_MODELS, insert_policy_days, score, weekdays
from warehouse import scorecard
from warehouse.claims import load_claims
from warehouse.db import claim_flavour
from warehouse.prices import load_prices
from warehouse.rates import load_fomc_reference, load_rates, rebuild_fomc_decisions, rebuild_policy_rate_daily
from warehouse.sources.files import FilesSource
from warehouse.sources.rates import open_rates_source
from warehouse.sources.sample import SampleSource
from warehouse.sources.sample_rates import SampleRatesSource

D = dt.date.fromisoformat


# ------------------------------------------------------------------------------ rotation claims


@pytest.fixture
def cycles(conn):
    """^RUT and ^GSPC on 700 weekdays from 2019-01-01, and two easing cycles with a hike between."""
    days = weekdays("2019-01-01", "2021-09-30")[:700]
    prices = {}
    for i, day in enumerate(days):
        prices[("^RUT", day)] = 100 * (1 + 0.0008 * i + 0.03 * math.sin(i / 40))
        prices[("^GSPC", day)] = 100 * (1 + 0.0006 * i)
    insert_prices(conn, [(t, d, c) for (t, d), c in prices.items()])
    insert_policy_days(conn, "2019-01-01", "2021-12-31", {
        "2019-03-01": (2.00, 2.25),  # first cut: cycle A
        "2019-04-01": (1.75, 2.00),  # the same cycle
        "2019-10-01": (2.00, 2.25),  # hike
        "2020-01-15": (1.75, 2.00),  # first cut: cycle B
    }, initial=(2.25, 2.50))
    return days, prices


def test_rotation_claims_against_the_study(conn, tmp_path, cycles):
    days, prices = cycles
    got = score(conn, tmp_path, [
        "share_6m,P,x,,easing_share_beat_6m,^RUT/^GSPC,,2021-09-30,0.5,0,,,above",
        "share_12m,P,x,,easing_share_beat_12m,^RUT/^GSPC,,2021-09-30,0.5,0,,,above",
        "best,P,x,,easing_best_horizon,^RUT/^GSPC,,2021-09-30,189,63,",
        "this_cycle,P,x,,easing_excess_this_cycle,^RUT/^GSPC,,2020-06-30,0,0,,,above",
        "share_early,P,x,,easing_share_beat_12m,^RUT/^GSPC,,2019-06-28,0.5,0,,,above",
        "streak,P,x,,outperformance_streak,^RUT/^GSPC,,2020-06-30,3,0,",
    ])
    # second method: the study's rows, counted in python
    study = rows(conn, "select first_cut_date, horizon_sessions, horizon_date, excess from marts.easing_cycle_study")
    assert sorted({r[0] for r in study}) == [D("2019-03-01"), D("2020-01-15")]
    for claim, horizon in (("share_6m", 126), ("share_12m", 252)):
        done = [r[3] for r in study if r[1] == horizon and r[2] is not None and r[2] <= D("2021-09-30")]
        assert len(done) == 2
        assert got[claim]["computed_value"] == pytest.approx(sum(e > 0 for e in done) / len(done)), claim
    medians = {}
    for horizon in (21, 63, 126, 252):
        values = sorted(r[3] for r in study if r[1] == horizon and r[2] is not None and r[2] <= D("2021-09-30"))
        medians[horizon] = (values[0] + values[1]) / 2
    assert got["best"]["computed_value"] == max(medians, key=medians.get)
    # this cycle: base the close of 2020-01-15, end 2020-06-30
    base, end = D("2020-01-15"), D("2020-06-30")
    excess = (prices[("^RUT", end)] / prices[("^RUT", base)]) / (prices[("^GSPC", end)] / prices[("^GSPC", base)]) - 1
    assert got["this_cycle"]["computed_value"] == pytest.approx(excess)
    assert got["this_cycle"]["verdict"] == ("holds" if excess > 0 else "contradicted")
    # in mid-2019 no cycle's twelve months had ended: no data, never a share of nothing
    assert (got["share_early"]["computed_value"], got["share_early"]["verdict"]) == (None, "no data")
    streak = rows(conn, "select streak from marts.outperformance_streaks where trade_date = date '2020-06-30'")[0][0]
    assert got["streak"]["computed_value"] == streak


# ---------------------------------------------------------------------------- the scorecard


@pytest.fixture
def sample_scored(conn):
    """The shipped claims scored on the synthetic sample, offline."""
    claim_flavour(conn, "sample")
    tickers = ["^RUT", "^GSPC", "^DJI", "^IXIC", "^NDX", "IWM", "AAPL", "NVDA", "^SP600"]
    load_prices(conn, SampleSource().daily_bars(tickers, D("2024-06-01"), D("2026-02-27")), source="sample")
    batch = SampleRatesSource(end=D("2026-02-27")).observations(
        ["DFEDTARL", "DFEDTARU", "DFEDTAR", "DFF", "DGS2", "DGS10", "T10Y2Y", "CPIAUCSL"]
    )
    load_rates(conn, batch, source="sample")
    rebuild_policy_rate_daily(conn)
    rebuild_fomc_decisions(conn)
    load_fomc_reference(conn)
    load_claims(conn)
    run_models(conn, *CLAIMS_MODELS, universe=small_universe(pairs=(("^RUT", "^GSPC"),)))
    return conn


def test_the_scorecard_renders_offline_on_the_sample(sample_scored, tmp_path):
    conn = sample_scored
    total = rows(conn, "select count(*) from marts.claims")[0][0]
    page = scorecard.write_page(conn, tmp_path).read_text()
    assert scorecard.SAMPLE_NOTE in page
    # every verdict cell says the data is synthetic
    assert page.count("(synthetic sample)</td>") == total
    assert "On January 8, the index reached 2,603.90" in page
    pngs = sorted(tmp_path.glob("scorecard_*.png"))
    assert {p.name for p in pngs} == {"scorecard_first_week.png", "scorecard_fed_path.png", "scorecard_streak.png"}
    for path in pngs:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size[0] > 300
    md = scorecard.markdown(conn)
    assert md.startswith(f"**{scorecard.SAMPLE_NOTE}**")
    assert md.count("(synthetic sample) |") == total
    # the Fed claims follow the real decisions in the sample: the three cuts of 2025 hold
    fed = dict(rows(conn, "select claim_id, verdict from marts.claims where metric like 'fed_%' and as_of_date = date '2025-12-11'"))
    assert set(fed.values()) == {"holds"} and len(fed) == 4


def test_the_claims_asset_shows_the_scorecard(sample_scored):
    from pipelines.defs.models import people_metadata

    metadata = people_metadata("marts.claims", sample_scored)
    assert set(metadata) == {"scorecard", "scorecard_chart_first_week", "scorecard_chart_fed_path", "scorecard_chart_streak"}
    assert "| claim | subject | as of | claimed | figure | verdict | reading |" in metadata["scorecard"].value
    assert metadata["scorecard_chart_fed_path"].value.startswith("![fed_path](data:image/png;base64,iVBOR")
    assert people_metadata("marts.fed_policy", sample_scored) == {}


def test_values_read_in_their_units():
    assert scorecard.format_value(0.0232, "price_return") == "+2.32%"
    assert scorecard.format_value(2603.909912, "close") == "2,603.91"
    assert scorecard.format_value(3.5, "fed_target_lower") == "3.50%"
    assert scorecard.format_value(-25, "fed_change_bp") == "-25 bp"
    assert scorecard.format_value(1.0, "record_close") == "yes"
    assert scorecard.format_value(None, "close") == ""


# ------------------------------------------------------------------------- real exports


@pytest.fixture
def real_exports(realdata, tmp_path):
    """A files-source folder built from ../shared/realdata: its FRED series and Yahoo index CSVs."""
    folder = tmp_path / "exports"
    (folder / "prices").mkdir(parents=True)
    (folder / "fred").mkdir()
    for path in (realdata / "prices" / "yahoo-csv").glob("*.csv"):
        (folder / "prices" / path.name).symlink_to(path)
    for path in (realdata / "fred").glob("*.csv"):
        (folder / "fred" / path.name).symlink_to(path)
    return folder


@pytest.mark.realdata
def test_real_exports_fed_claims_fall_back_to_the_shipped_decisions(conn, real_exports):
    batch = open_rates_source("files", real_exports).observations(["DFEDTAR", "DFEDTARL", "DFEDTARU", "DFF"])
    load_rates(conn, batch, source="files")
    rebuild_policy_rate_daily(conn)
    rebuild_fomc_decisions(conn)
    load_fomc_reference(conn)
    load_prices(conn, FilesSource(real_exports).daily_bars(["^RUT", "^GSPC"], D("2000-01-01"), D("2026-12-31")),
                source="files")
    load_claims(conn)
    run_models(conn, *CLAIMS_MODELS, universe=small_universe(pairs=(("^RUT", "^GSPC"),)))
    got = {r[0]: r[1:] for r in rows(conn, "select claim_id, computed_value, verdict, evidence, detail from marts.claims")}
    # the real DFEDTARU ends 2025-12-10: the three claims of 2025-12-11 read the shipped decisions
    shipped = "shipped FOMC decisions (config/fomc_decisions.csv), FRED ends 2025-12-10"
    assert got["fed_target_lower_2025_12_11"][:3] == (3.50, "holds", shipped)
    assert got["fed_target_upper_2025_12_11"][:3] == (3.75, "holds", shipped)
    assert got["fed_cuts_2025_12_11"][:3] == (3.0, "holds", shipped)
    assert got["fed_bp_2025_12_11"][:3] == (75.0, "holds", shipped)
    # beyond both: January 2026 is no data, with the dates named
    assert got["fed_no_cut_2026_01"][1] == "no data" and "stored to 2025-12-10" in got["fed_no_cut_2026_01"][3]
    # the real ^RUT export ends 2022-11-18: the 2026 price claims say which dates are missing
    assert got["rut_close_2026_01_08"][1] == "no data"
    assert got["rut_close_2026_01_08"][3] == "no ^RUT close on 2026-01-08 (^RUT stored from 2000-01-03 to 2022-11-18)"
    # the easing cycle the real FRED data gives for the last cut it holds: the one rule, 2025-09-18
    assert rows(conn, "select cycle_start from core.fomc_decisions order by effective_date desc limit 1") == [(D("2025-09-18"),)]


@pytest.mark.realdata
def test_real_exports_real_history_decides_the_strongest_start(conn, real_exports):
    """On the real ^RUT (2000-2022): the span from the last close of 2021 to 14 November 2022
    against the same span of every earlier year, by plain python as the second method."""
    batch = FilesSource(real_exports).daily_bars(["^RUT"], D("2000-01-01"), D("2022-12-31"))
    load_prices(conn, batch, source="files")
    closes = {r[0]: r[1] for r in rows(conn, "select trade_date, close from core.prices_daily where ticker = '^RUT'")}
    got = score(conn, tmp_path_of(conn), ["ytd_span,P,x,,years_since_stronger_start,^RUT,,2022-11-14,5,0,,,at_least"])

    def span(year):
        end = max(d for d in closes if d <= dt.date(year, 11, 14))
        base = max(d for d in closes if d < dt.date(year, 1, 1))
        return closes[end] / closes[base] - 1

    this = span(2022)
    stronger = [y for y in range(2001, 2022) if span(y) >= this]
    assert got["ytd_span"]["computed_value"] == 2022 - max(stronger)


def tmp_path_of(conn):
    """The folder of the connection's warehouse file, for the claims file of a test."""
    import pathlib

    path = conn.execute("select path from duckdb_databases() where database_name = current_database()").fetchall()[0][0]
    return pathlib.Path(path).parent
