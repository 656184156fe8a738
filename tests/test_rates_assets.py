"""The rates assets materialised by Dagster: from the sample, and from a fake FRED over HTTP."""

import datetime as dt
import functools

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

import warehouse.sources.rates as rates_sources
from pipelines.defs.ingest.rates import (
    fomc_decisions,
    fomc_reference,
    policy_rate_daily,
    rates_daily,
)
from pipelines.defs.resources import MarketSourceResource
from tests.fred_fake import API_KEY, FakeFred
from warehouse.checks.rates import decisions_match_reference
from warehouse.universe import load_universe

D = dt.date
ASSETS = [rates_daily, policy_rate_daily, fomc_decisions, fomc_reference]


def materialize(db, market_source, assets=ASSETS):
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        assets,
        instance=instance,
        resources={"duckdb": DuckDBResource(database=str(db)), "market_source": market_source},
        raise_on_error=False,
    )
    result.dagster_run_instance = instance  # for all_text: the run's whole event log
    return result


def metadata(result, node):
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()}


def test_the_sample_builds_every_rates_table(project_env):
    db = project_env / "wh.duckdb"
    result = materialize(db, MarketSourceResource(kind="sample"))
    assert result.success
    loaded = metadata(result, "core__rates_daily")
    assert loaded["source"] == "sample" and loaded["series_failed"] == {}
    assert loaded["series_loaded"] == sorted(load_universe().rate_series)
    assert (
        loaded["missing_values_skipped"] > 0
        and loaded["rows_inserted"] == loaded["dagster/row_count"]
    )
    policy = metadata(result, "core__policy_rate_daily")
    # The sample holds the last published range (3.50-3.75 since 2025-12-11) up to today.
    assert (policy["target_lower"], policy["target_upper"], policy["target_mid"]) == (
        3.5,
        3.75,
        3.625,
    )
    assert policy["range_days_effective_outside"] == 0
    decisions = metadata(result, "core__fomc_decisions")
    assert decisions["dagster/row_count"] == 109 and decisions["cuts_in_latest_easing_cycle"] == 3
    # 2024-12-19 to 2025-09-18 is 273 days, more than easing_cycle_gap_days (180): a new cycle
    assert decisions["latest_easing_cycle"][0] == {
        "effective_date": "2025-09-18",
        "change_bp": -25,
        "target": "4.00-4.25",
    }
    with duckdb.connect(str(db), read_only=True) as conn:
        outcome = decisions_match_reference(conn)
        assert outcome.passed and outcome.counts["decisions_agreeing"] == 109
        assert (
            conn.execute(
                "select count(*) from core.policy_rate_daily where calendar_date < '1990-01-01'"
            ).fetchone()[0]
            == 0
        )


def ranges():
    """Late 2025 as FRED shows it: 4.00-4.25, the cut of 2025-10-30, the cut of 2025-12-11."""
    day, out = D(2025, 10, 25), []
    while day <= D(2025, 12, 12):
        lower = 4.0 if day < D(2025, 10, 30) else 3.75 if day < D(2025, 12, 11) else 3.5
        out.append((day, lower))
        day += dt.timedelta(1)
    return out


@pytest.fixture
def fake():
    series = {
        "DFEDTARL": [(d.isoformat(), f"{v:.2f}") for d, v in ranges()],
        "DFEDTARU": [(d.isoformat(), f"{v + 0.25:.2f}") for d, v in ranges()],
        # DFF: a day published as '.', then the first day of the new range.
        "DFF": [("2025-12-09", "3.89"), ("2025-12-10", ""), ("2025-12-11", "3.64")],
    }
    with FakeFred(series) as server:
        yield server


@pytest.fixture
def no_waiting(monkeypatch):
    """The live clients' throttle and backoff call this sleep: the test does not wait."""
    monkeypatch.setattr(
        rates_sources,
        "open_rates_source",
        functools.partial(rates_sources.open_rates_source, sleep=lambda seconds: None),
    )


def all_text(result) -> str:
    """Everything the run recorded: log lines, messages, errors and metadata."""
    return " ".join(repr(entry) for entry in result.dagster_run_instance.all_logs(result.run_id))


def test_live_from_a_fake_fred_loads_names_failures_and_keeps_the_key_out(
    project_env, fake, no_waiting
):
    db = project_env / "wh.duckdb"
    source = MarketSourceResource(kind="live", fred_api_key=API_KEY, fred_base_url=fake.url)
    result = materialize(db, source)
    assert result.success
    loaded = metadata(result, "core__rates_daily")
    assert loaded["source"] == "live"
    assert loaded["series_loaded"] == ["DFEDTARL", "DFEDTARU", "DFF"]
    # The fake knows 3 of the 11 configured series: the other 8 are failed by name.
    assert sorted(loaded["series_failed"]) == sorted(
        set(load_universe().rate_series) - {"DFEDTARL", "DFEDTARU", "DFF"}
    )
    assert all("FRED has no series" in why for why in loaded["series_failed"].values())
    assert loaded["rows_inserted"] == 49 + 49 + 2 and loaded["missing_values_skipped"] == 1
    assert loaded["fetch_starts"]["DFF"] == "full history"

    policy = metadata(result, "core__policy_rate_daily")
    assert (policy["target_lower"], policy["target_upper"], policy["target_mid"]) == (
        3.5,
        3.75,
        3.625,
    )
    assert (policy["effective"], policy["effective_date"]) == (3.64, "2025-12-11")
    assert metadata(result, "core__fomc_decisions")["latest_easing_cycle"] == [
        {"effective_date": "2025-10-30", "change_bp": -25, "target": "3.75-4.00"},
        {"effective_date": "2025-12-11", "change_bp": -25, "target": "3.50-3.75"},
    ]
    with duckdb.connect(str(db), read_only=True) as conn:
        outcome = decisions_match_reference(conn)
    assert outcome.passed and outcome.counts["decisions_agreeing"] == 2

    text = all_text(result)
    assert "DGS10: not loaded: FRED has no series 'DGS10'" in text  # the log lines are in it
    assert API_KEY not in text
    with duckdb.connect(str(db), read_only=True) as conn:
        tables = [
            "core.rates_daily",
            "core.quarantine",
            "core.policy_rate_daily",
            "core.fomc_decisions",
        ]
        for table in tables:
            dump = str(conn.execute(f"select * from {table}").fetchall())
            assert API_KEY not in dump


def test_the_second_run_is_incremental_and_picks_up_revisions(project_env, fake, no_waiting):
    db = project_env / "wh.duckdb"
    source = MarketSourceResource(kind="live", fred_api_key=API_KEY, fred_base_url=fake.url)
    assert materialize(db, source).success
    fake.requests.clear()
    fake.series["DFF"][0] = ("2025-12-09", "3.88")  # FRED revised a value inside the window
    result = materialize(db, source)
    loaded = metadata(result, "core__rates_daily")
    # Last stored: DFF 2025-12-11, the range series 2025-12-12; minus 30 days.
    starts = {r["params"]["series_id"]: r["params"].get("observation_start") for r in fake.requests}
    assert starts["DFF"] == "2025-11-11" and starts["DFEDTARL"] == "2025-11-12"
    assert starts["DGS10"] is None  # never loaded: asked for its whole history again
    assert loaded["rows_inserted"] == 0 and loaded["rows_updated"] == 1
    assert loaded["rows_unchanged"] == 31 + 31 + 1


def test_a_rejected_key_fails_the_asset_and_says_so_without_the_key(project_env, fake, no_waiting):
    bad_key = "zyxwvutsrqponmlkjihgfedcba987654"
    source = MarketSourceResource(kind="live", fred_api_key=bad_key, fred_base_url=fake.url)
    result = materialize(project_env / "wh.duckdb", source, [rates_daily])
    assert not result.success
    text = all_text(result)
    assert "rejected the API key" in text and bad_key not in text


def test_files_in_both_layouts_build_the_policy_tables(project_env, tmp_path):
    fred = tmp_path / "exports" / "fred"
    fred.mkdir(parents=True)
    # The older layout with US dates and '.', the newer one with ISO dates and empty cells.
    (fred / "DFEDTAR.csv").write_text("DATE,DFEDTAR\n12/14/2008,1.00\n12/15/2008,1.00\n")
    (fred / "DFEDTARL.csv").write_text(
        "observation_date,DFEDTARL\n2008-12-16,0.00\n2008-12-17,0.00\n"
    )
    (fred / "DFEDTARU.csv").write_text(
        "observation_date,DFEDTARU\n2008-12-16,0.25\n2008-12-17,0.25\n"
    )
    (fred / "DFF.csv").write_text("DATE,DFF\n12/15/2008,.\n12/16/2008,0.16\n12/17/2008,\n")
    db = project_env / "wh.duckdb"
    source = MarketSourceResource(kind="files", files_dir=str(tmp_path / "exports"))
    result = materialize(db, source)
    assert result.success
    loaded = metadata(result, "core__rates_daily")
    assert loaded["source"] == "files" and loaded["rows_inserted"] == 2 + 2 + 2 + 1
    assert loaded["missing_values_skipped"] == 2
    assert "DGS10" in loaded["series_failed"] and "no file" in loaded["series_failed"]["DGS10"]
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute(
            "select calendar_date, target_lower, target_upper, effective "
            "from core.policy_rate_daily order by 1"
        ).fetchall() == [
            (D(2008, 12, 14), 1.0, 1.0, None),
            (D(2008, 12, 15), 1.0, 1.0, None),
            (D(2008, 12, 16), 0.0, 0.25, 0.16),
            (D(2008, 12, 17), 0.0, 0.25, None),
        ]
        assert conn.execute(
            "select effective_date, change_bp from core.fomc_decisions"
        ).fetchall() == [(D(2008, 12, 16), -75)]
