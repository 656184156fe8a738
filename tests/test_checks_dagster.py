"""The checks in Dagster: they run with every materialisation of their asset, show their failing
rows, and a failed blocking check keeps the marts from being built from the data it failed."""

import datetime as dt

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import MarketSourceResource
from warehouse import calendar
from warehouse.checks.config import ChecksConfigError, load_config

D = dt.date
PARTITION = "2024-03-01"  # March 2024, plus the 10 sessions re-fetched before it
SESSIONS = calendar.sessions(D(2024, 2, 15), D(2024, 3, 28))
PRICES_KEY = dg.AssetKey(["core", "prices_daily"])
MODEL_KEY = dg.AssetKey(["staging", "returns_daily"])


@pytest.fixture
def prices_asset(project_env):
    from pipelines.defs.ingest.prices import prices_daily

    return prices_daily


@pytest.fixture
def checks_def(project_env):
    from pipelines.defs.checks.prices import prices_checks

    return prices_checks


@pytest.fixture
def returns_asset(project_env):
    from pipelines.defs.models import model_asset
    from warehouse import models as sql_models

    model = next(m for m in sql_models.discover() if m.name == "returns_daily")
    return model_asset(model, sql_models.load_params())


def resources(db, kind="sample", files_dir=None):
    return {
        "duckdb": DuckDBResource(database=str(db)),
        "market_source": MarketSourceResource(
            kind=kind, files_dir=str(files_dir) if files_dir else None
        ),
    }


def write_csv(folder, ticker, bars, extra_lines=()):
    """bars: {date: (open, high, low, close)} in Yahoo's download layout."""
    (folder / "prices").mkdir(parents=True, exist_ok=True)
    lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    lines += [f"{day},{o},{h},{lo},{c},{c},1000000" for day, (o, h, lo, c) in sorted(bars.items())]
    lines += list(extra_lines)
    (folder / "prices" / f"{ticker}.csv").write_text("\n".join(lines) + "\n")


def clean_bars(level):
    out = {}
    for i, day in enumerate(SESSIONS):
        close = level * (1 + 0.003 * ((i * 7) % 5 - 2))
        out[day] = (close * 0.999, close * 1.01, close * 0.99, close)
    return out


def evaluations(result):
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def materialized(result):
    return {
        e.event_specific_data.materialization.asset_key
        for e in result.get_asset_materialization_events()
    }


def test_the_checks_run_with_the_prices_materialisation(prices_asset, checks_def, project_env):
    db = project_env / "wh.duckdb"
    result = dg.materialize(
        [prices_asset, checks_def], partition_key=PARTITION, resources=resources(db)
    )
    assert result.success
    got = evaluations(result)
    assert set(got) == {
        "prices_integrity",
        "schema_matches_ddl",
        "prices_calendar_complete",
        "prices_fresh",
        "prices_no_stale_bars",
        "prices_outliers",
        "prices_etf_tracks_index",
        "prices_adjustment_plausible",
        "no_rows_quarantined",
    }
    for name, evaluation in got.items():
        assert evaluation.asset_key == PRICES_KEY
        assert isinstance(evaluation.metadata["failing_rows"], dg.MarkdownMetadataValue)
        assert isinstance(evaluation.metadata["failing_count"], dg.IntMetadataValue)
        if name != "prices_fresh":
            assert evaluation.passed, (name, evaluation.description)
    # data of March 2024 is not fresh today: WARN, named tickers, and the run goes on
    fresh = got["prices_fresh"]
    assert not fresh.passed and fresh.severity == dg.AssetCheckSeverity.WARN
    assert fresh.metadata["failing_count"].value == 44
    table = fresh.metadata["failing_rows"].value
    assert table.startswith("| ticker | latest_session | expected_session |")
    assert "| AAPL | 2024-03-28 |" in table and "_first 20 of 44 shown_" in table
    assert got["prices_integrity"].severity == dg.AssetCheckSeverity.ERROR
    assert got["prices_integrity"].blocking


def test_a_failed_blocking_check_stops_the_mart(prices_asset, checks_def, returns_asset, project_env):
    files = project_env / "files"
    spy = clean_bars(470.0)
    iwm = clean_bars(200.0)
    # high and low swapped on most of IWM's sessions: a broken source for that ticker, which the
    # blocking integrity check does not let through (one such bar is quarantined at load alone)
    for day in SESSIONS[:20]:
        o, h, lo, c = iwm[day]
        iwm[day] = (o, lo, h, c)
    write_csv(files, "IWM", iwm)
    write_csv(files, "SPY", spy)
    db = project_env / "wh.duckdb"
    result = dg.materialize(
        [prices_asset, checks_def, returns_asset],
        partition_key=PARTITION,
        resources=resources(db, "files", files),
        raise_on_error=False,
    )
    assert not result.success
    integrity = evaluations(result)["prices_integrity"]
    assert not integrity.passed and integrity.severity == dg.AssetCheckSeverity.ERROR
    assert "| IWM |" in integrity.metadata["failing_rows"].value
    # the check judges the table, and nothing downstream is built from it
    assert materialized(result) == {PRICES_KEY}
    with duckdb.connect(str(db), read_only=True) as conn:
        assert (
            conn.execute(
                "select count(*) from duckdb_tables() where schema_name in ('staging', 'marts')"
            ).fetchone()[0]
            == 0
        )


def test_warnings_let_the_mart_build(prices_asset, checks_def, returns_asset, project_env):
    files = project_env / "files"
    iwm = clean_bars(200.0)
    for day in (D(2024, 3, 11), D(2024, 3, 12), D(2024, 3, 13)):
        iwm[day] = iwm[D(2024, 3, 8)]  # a Friday bar served again three times: WARN
    write_csv(files, "IWM", iwm)
    write_csv(files, "SPY", clean_bars(470.0))
    db = project_env / "wh.duckdb"
    result = dg.materialize(
        [prices_asset, checks_def, returns_asset],
        partition_key=PARTITION,
        resources=resources(db, "files", files),
    )
    assert result.success
    got = evaluations(result)
    assert got["prices_integrity"].passed
    stale = got["prices_no_stale_bars"]
    assert not stale.passed and stale.severity == dg.AssetCheckSeverity.WARN
    assert "| IWM | 2024-03-08 | 2024-03-13 | 4 |" in stale.metadata["failing_rows"].value
    assert materialized(result) == {PRICES_KEY, MODEL_KEY}


def test_rows_refused_at_load_are_quarantined_counted_and_shown(
    prices_asset, checks_def, project_env
):
    files = project_env / "files"
    write_csv(files, "SPY", clean_bars(470.0))
    write_csv(files, "IWM", clean_bars(200.0), extra_lines=["2024-13-01,1,1,1,1,1,1"])
    # a non-positive close: kept out of the table by the load's rule
    text = (
        (files / "prices" / "SPY.csv")
        .read_text()
        .replace(
            "2024-03-26," + ",".join(str(v) for v in clean_bars(470.0)[D(2024, 3, 26)]),
            "2024-03-26,470,471,469,0",
        )
    )
    (files / "prices" / "SPY.csv").write_text(text)
    db = project_env / "wh.duckdb"
    result = dg.materialize(
        [prices_asset, checks_def], partition_key=PARTITION, resources=resources(db, "files", files)
    )
    assert result.success  # quarantine protects the table: WARN
    meta = result.asset_materializations_for_node("core__prices_daily")[0].metadata
    assert meta["rows_quarantined"].value == 2
    reasons = meta["quarantine_reasons"].value
    assert reasons["close is NULL or not positive"] == 1
    assert any(r.startswith("unparseable date '2024-13-01'") for r in reasons)
    shown = evaluations(result)["no_rows_quarantined"]
    assert not shown.passed and shown.severity == dg.AssetCheckSeverity.WARN
    assert shown.metadata["failing_count"].value == 2
    assert (
        "| SPY 2024-03-26 | close is NULL or not positive |" in shown.metadata["failing_rows"].value
    )
    with duckdb.connect(str(db), read_only=True) as conn:
        rows = conn.execute(
            "select key, source, run_id from core.quarantine order by key"
        ).fetchall()
        assert rows == [
            ("IWM 2024-13-01", "files", result.run_id),
            ("SPY 2024-03-26", "files", result.run_id),
        ]
        assert (
            conn.execute(
                "select count(*) from core.prices_daily "
                "where ticker = 'SPY' and trade_date = '2024-03-26'"
            ).fetchone()[0]
            == 0
        )


# --- the definitions ------------------------------------------------------------------------


@pytest.fixture
def defs(project_env):
    from pipelines.definitions import defs as build

    return build()


BLOCKING = {
    ("core/prices_daily", "prices_integrity"),
    ("core/prices_daily", "schema_matches_ddl"),
    ("core/rates_daily", "unique_keys"),
    ("core/rates_daily", "schema_matches_ddl"),
    ("core/rates_daily", "target_range_sane"),
    ("core/policy_rate_daily", "unique_keys"),
    ("core/policy_rate_daily", "schema_matches_ddl"),
    ("core/fomc_decisions", "unique_keys"),
    ("core/fomc_decisions", "schema_matches_ddl"),
    ("core/fomc_decisions", "decisions_match_reference"),
    ("core/valuations", "one_snapshot_per_day"),
    ("core/valuations", "schema_matches_ddl"),
    ("core/index_members", "unique_key"),
    ("core/index_members", "snapshots_on_sessions"),
    ("core/index_members", "schema_matches_ddl"),
}


def test_every_model_gets_its_generated_checks(defs):
    from warehouse import models as sql_models

    graph = defs.resolve_asset_graph()
    keys = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    for model in sql_models.discover():
        key = f"{model.layer}/{model.name}"
        for name in (
            "non_empty",
            "unique_key",
            "latest_date_current",
            "key_metrics_not_null",
            "schema_matches_header",
        ):
            assert (key, name) in keys, (key, name)
        spec = graph.get_check_spec(dg.AssetCheckKey(dg.AssetKey([model.layer, model.name]), "unique_key"))
        assert spec.metadata["severity"] == "ERROR" and f"one row per ({', '.join(model.unique_key)})" in (
            spec.description
        ), key


def test_blocking_checks_are_the_integrity_checks_of_ingested_tables(defs):
    graph = defs.resolve_asset_graph()
    ours = {}
    for key in graph.asset_check_keys:
        spec = graph.get_check_spec(key)
        if "severity" not in (spec.metadata or {}):
            continue  # a check defined outside pipelines/defs/checks
        ours[(key.asset_key.to_user_string(), key.name)] = spec
        assert spec.description and "When it fails" in spec.description, key
        assert spec.automation_condition is None  # rides along with its asset's materialisation
    blocking = {k for k, spec in ours.items() if spec.blocking}
    assert blocking == BLOCKING
    for k in blocking:
        assert ours[k].metadata["severity"] == "ERROR"


def test_every_ingested_table_shows_its_quarantined_rows_as_a_warning(defs):
    graph = defs.resolve_asset_graph()
    for table in ("core/prices_daily", "core/rates_daily", "core/valuations"):
        key = dg.AssetCheckKey(dg.AssetKey.from_user_string(table), "no_rows_quarantined")
        spec = graph.get_check_spec(key)
        assert not spec.blocking and spec.metadata["severity"] == "WARN", table
        assert f"the latest load of {table} refused (" in spec.description, table


def test_models_wait_for_blocking_checks_upstream(defs):
    from warehouse import models as sql_models

    graph = defs.resolve_asset_graph()
    for model in sql_models.discover():
        condition = graph.get(dg.AssetKey([model.layer, model.name])).automation_condition
        labels = str(condition)
        assert "all_deps_blocking_checks_passed" in labels and "eager" in labels, model.name


# --- configuration --------------------------------------------------------------------------


def test_the_shipped_config_sets_every_threshold_it_documents():
    config = load_config()
    assert config["prices.outliers"]["max_abs_return"] == 0.25
    assert config["prices.tracking"]["pairs"] == {
        "IWM": "^RUT",
        "SPY": "^GSPC",
        "QQQ": "^NDX",
        "IJR": "^SP600",
    }
    assert config["rates.target_range"]["width_bp"] == 25.0
    assert config["valuations.bounds"]["limits"]["pe"] == [0.0, 200.0]
    assert config["marts"]["input_filters"]["yield_curve"] == {
        "core.rates_daily": "series_id = 'DGS10'"
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[prices.outliers]\nvol_multipel = 8\n",
            r"\[prices.outliers\] vol_multipel is not a threshold",
        ),
        ("[prices.outliers]\nvol_multiple = 'ten'\n", "has the wrong type"),
        ("[prices.spikes]\nx = 1\n", r"\[prices.spikes\] is not a check"),
        ("[marts]\nlatest = {}\n", r"\[marts\] latest is not a setting"),
        ("[prices.outliers\n", "cannot read"),
    ],
)
def test_a_bad_config_is_refused_with_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "checks.toml"
    path.write_text(text)
    with pytest.raises(ChecksConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_a_config_value_overrides_the_default(tmp_path):
    path = tmp_path / "checks.toml"
    path.write_text("[prices.outliers]\nvol_multiple = 8\naccepted = ['2020-03-16']\n")
    config = load_config(path)
    assert config["prices.outliers"]["vol_multiple"] == 8.0
    assert config["prices.outliers"]["accepted"] == ("2020-03-16",)
    assert config["prices.outliers"]["vol_window"] == 63  # not set: the function's default


def test_a_check_that_cannot_run_fails_instead_of_passing(project_env):
    from pipelines.defs.checks.common import ERROR, CheckDef, asset_checks

    key = dg.AssetKey(["core", "toy"])

    @dg.asset(key=key)
    def toy() -> dg.MaterializeResult:
        return dg.MaterializeResult()

    def broken(conn, cfg, run):
        conn.execute("select * from core.no_such_table")

    checks = asset_checks(
        key,
        [CheckDef("toy_check", broken, ERROR, description="Protects nothing. When it fails: fix.")],
        name="toy_checks",
    )
    db = project_env / "wh.duckdb"
    result = dg.materialize([toy, checks], resources={"duckdb": DuckDBResource(database=str(db))})
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.description.startswith("the check could not run: CatalogException")
    # the connection was closed: the file opens read-only again in this process
    with duckdb.connect(str(db), read_only=True) as conn:
        conn.execute("select 1").fetchall()
