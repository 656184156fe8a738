"""The checks generated for every SQL model, and the schema check of the core tables."""

import dataclasses
import datetime as dt

import pandas as pd
import pytest

from tests.model_harness import insert_prices, run_models
from warehouse import models as sql_models
from warehouse.checks import marts as checks
from warehouse.checks.config import load_config

D = dt.date


@pytest.fixture(scope="module")
def models():
    return {m.name: m for m in sql_models.discover()}


@pytest.fixture(scope="module")
def params():
    return sql_models.load_params()


def inputs_of(model, models, params):
    settings = load_config()["marts"]
    return checks.dated_inputs(
        model,
        params,
        models.values(),
        settings["input_dates"],
        settings["input_filters"].get(model.name),
    )


PRICES = [
    ("IWM", "2024-01-02", 200.0),
    ("IWM", "2024-01-03", 198.0),
    ("IWM", "2024-01-04", 199.0),
    ("SPY", "2024-01-02", 470.0),
    ("SPY", "2024-01-03", 468.0),
    ("SPY", "2024-01-04", 471.0),
]


# --- non-empty ------------------------------------------------------------------------------


def test_non_empty(conn, models):
    insert_prices(conn, PRICES)
    run_models(conn, "returns_daily")
    out = checks.non_empty(conn, models["returns_daily"])
    assert out.passed and out.counts["rows"] == 6


def test_non_empty_fails_on_an_empty_model(conn, models):
    run_models(conn, "returns_daily")  # no prices loaded
    out = checks.non_empty(conn, models["returns_daily"])
    assert not out.passed
    assert out.summary == "staging.returns_daily is empty"


def test_non_empty_fails_when_the_model_was_never_built(conn, models):
    assert not checks.non_empty(conn, models["returns_daily"]).passed


# --- latest date ----------------------------------------------------------------------------


def test_dated_inputs_come_from_headers_and_config(models, params):
    got = {
        m: [(i.relation, i.date_column, i.where) for i in inputs_of(models[m], models, params)]
        for m in ("returns_daily", "relative_strength", "rrg", "yield_curve")
    }
    assert got["returns_daily"] == [("core.prices_daily", "trade_date", None)]
    assert got["relative_strength"] == [("staging.pair_sessions", "trade_date", None)]
    assert got["rrg"] == [("core.prices_daily", "trade_date", None)]
    assert got["yield_curve"] == [("core.rates_daily", "obs_date", "series_id = 'DGS10'")]


def test_latest_date_equals_the_inputs(conn, models, params):
    insert_prices(conn, PRICES)
    run_models(conn, "returns_daily", "relative_strength")
    for name in ("returns_daily", "relative_strength"):
        out = checks.latest_date(conn, models[name], inputs=inputs_of(models[name], models, params))
        assert out.passed, out.summary
        assert out.counts["latest_date"] == "2024-01-04"


def test_latest_date_names_a_model_behind_its_inputs(conn, models, params):
    insert_prices(conn, PRICES)
    run_models(conn, "returns_daily")
    insert_prices(conn, [("IWM", "2024-01-05", 201.0), ("SPY", "2024-01-05", 473.0)])  # not rebuilt
    model = models["returns_daily"]
    out = checks.latest_date(conn, model, inputs=inputs_of(model, models, params))
    assert not out.passed
    assert (
        out.summary == "staging.returns_daily ends 2024-01-04, before 2024-01-05, "
        "the latest date all its inputs have"
    )
    assert out.rows == [
        ("staging.returns_daily", D(2024, 1, 4), "model"),
        ("core.prices_daily", D(2024, 1, 5), "input"),
    ]


def test_latest_date_is_exempt_for_event_dated_models(conn, models):
    out = checks.latest_date(conn, models["returns_daily"], inputs=[], exempt="dated by the claims")
    assert out.passed and out.summary == "not judged: dated by the claims"


def rates(conn, rows):
    frame = pd.DataFrame(rows, columns=["series_id", "obs_date", "value"])  # noqa: F841
    conn.execute(
        "insert into core.rates_daily select series_id, obs_date, value, 'files', now() from frame"
    )


def curve_rows(last_day, *, dgs2_until=None, t10y2y_until=None):
    out = []
    for day in pd.bdate_range("2024-06-03", last_day).date:
        out.append(("DGS10", day, 4.2))
        if dgs2_until is None or day <= dgs2_until:
            out.append(("DGS2", day, 4.6))
        if t10y2y_until is None or day <= t10y2y_until:
            out.append(("T10Y2Y", day, -0.4))
    # DFF is published for every calendar day: its latest date is not the curve's
    out += [
        ("DFF", d.date(), 5.33)
        for d in pd.date_range("2024-06-01", pd.Timestamp(last_day) + pd.Timedelta(days=2))
    ]
    return out


def test_latest_date_reads_only_the_rows_a_model_uses(conn, models, params):
    rates(conn, curve_rows("2024-06-28"))
    run_models(conn, "yield_curve")
    model = models["yield_curve"]
    out = checks.latest_date(conn, model, inputs=inputs_of(model, models, params))
    assert out.passed, out.summary
    # without the filter of config/checks.toml, DFF's weekend date would look like a lag
    unfiltered = [checks.DatedInput("core.rates_daily", "obs_date")]
    assert not checks.latest_date(conn, model, inputs=unfiltered).passed


# --- key metrics ----------------------------------------------------------------------------


def test_key_metrics_pass_when_every_value_is_there(conn, models):
    rates(conn, curve_rows("2024-06-28"))
    run_models(conn, "yield_curve")
    model = dataclasses.replace(
        models["yield_curve"], key_metrics=("spread_10y2y", "dgs10", "spread_change_63d")
    )
    out = checks.key_metrics_not_null(conn, model)
    # spread_change_63d never had a value: its window is not full yet, which is no failure
    assert out.passed, out.summary


def test_key_metrics_name_a_spread_missing_on_the_latest_date(conn, models):
    # the real shape: FRED has published the 10-year yield of 06-28 but not yet the 2-year or T10Y2Y
    rates(conn, curve_rows("2024-06-28", dgs2_until=D(2024, 6, 27), t10y2y_until=D(2024, 6, 27)))
    run_models(conn, "yield_curve")
    model = dataclasses.replace(models["yield_curve"], key_metrics=("spread_10y2y", "dgs10"))
    out = checks.key_metrics_not_null(conn, model)
    assert not out.passed
    assert out.rows == [(D(2024, 6, 28), "spread_10y2y", D(2024, 6, 27))]
    assert out.columns == ["latest_date", "key_metric", "last_value_date"]


def test_key_metrics_judge_each_entity_by_its_own_history(conn, models):
    """A ticker whose value vanished is named; one on its first row (window not full) is not."""
    model = dataclasses.replace(models["returns_daily"], key_metrics=("ret_1d",))
    conn.execute("create schema if not exists staging")
    conn.execute(
        """
        create table staging.returns_daily as select * from (values
            ('IWM', date '2024-01-02', 200.0, 200.0, null::double),
            ('IWM', date '2024-01-03', 198.0, 198.0, -0.01),
            ('IWM', date '2024-01-04', 199.0, 199.0, null),
            ('SMLF', date '2024-01-04', 50.0, 50.0, null)
        ) t(ticker, trade_date, close, adj_close, ret_1d)
        """
    )
    out = checks.key_metrics_not_null(conn, model)
    assert not out.passed
    assert out.rows == [("IWM", D(2024, 1, 4), "ret_1d", D(2024, 1, 3))]
    assert checks.entity_columns(model) == ["ticker"]


def test_headers_name_only_their_own_columns_as_key_metrics(models):
    for model in models.values():
        assert set(model.key_metrics) <= set(model.columns), model.name


def test_a_header_with_an_unknown_key_metric_is_refused(tmp_path):
    path = tmp_path / "bad.sql"
    path.write_text(
        "/*\ndescription: x\ncolumns:\n  a: integer | a\nkey_metrics: [b]\n*/\nselect 1 as a"
    )
    with pytest.raises(sql_models.ModelError, match="key_metrics"):
        sql_models.parse_model(path, "marts")


# --- unique key -----------------------------------------------------------------------------


def test_unique_key_passes_on_a_built_model(conn, models):
    insert_prices(conn, PRICES)
    run_models(conn, "returns_daily", "relative_strength")
    for name in ("returns_daily", "pair_sessions", "relative_strength"):
        out = checks.unique_key(conn, models[name])
        assert out.passed, (name, out.summary, out.rows)
    out = checks.unique_key(conn, models["returns_daily"])
    assert out.summary == "staging.returns_daily is one row per (ticker, trade_date): 6 rows"
    assert out.counts["duplicated_keys"] == 0 and out.counts["rows_with_null_key"] == 0


def test_unique_key_fails_with_the_duplicated_rows(conn, models):
    insert_prices(conn, PRICES)
    run_models(conn, "returns_daily")
    # a fan-out: the IWM row of 01-03 stored twice, with two different returns
    conn.execute(
        "insert into staging.returns_daily values ('IWM', date '2024-01-03', 198.0, 198.0, 0.5)"
    )
    out = checks.unique_key(conn, models["returns_daily"])
    assert not out.passed
    assert out.summary == (
        "staging.returns_daily is not one row per (ticker, trade_date): "
        "1 key stored more than once (2 rows)"
    )
    assert out.columns == ["key_problem", "ticker", "trade_date", "close", "adj_close", "ret_1d"]
    assert sorted(out.rows, key=lambda r: r[-1]) == [
        ("key stored 2 times", "IWM", D(2024, 1, 3), 198.0, 198.0, pytest.approx(198.0 / 200.0 - 1)),
        ("key stored 2 times", "IWM", D(2024, 1, 3), 198.0, 198.0, 0.5),
    ]
    assert out.failing == 2
    assert out.counts["duplicated_keys"] == 1 and out.counts["rows_with_duplicated_key"] == 2


def test_unique_key_fails_on_a_null_key_and_shows_at_most_20_rows(conn, models):
    conn.execute("create schema if not exists staging")
    conn.execute(
        """
        create table staging.returns_daily as
        select 'IWM' as ticker, date '2024-01-01' + i::integer as trade_date, 1.0 as close,
               1.0 as adj_close, 0.0 as ret_1d
        from range(30) t(i)
        union all select 'IWM', date '2024-01-01' + i::integer, 1.0, 1.0, 0.0 from range(30) t(i)
        union all select null, date '2024-01-01', 1.0, 1.0, 0.0
        """
    )
    out = checks.unique_key(conn, models["returns_daily"])
    assert not out.passed
    assert out.failing == 61 and len(out.rows) == 20
    assert out.rows[0][:3] == ("NULL in the key", None, D(2024, 1, 1))  # NULL keys first
    assert out.counts["duplicated_keys"] == 30 and out.counts["rows_with_null_key"] == 1
    assert out.summary.endswith("30 keys stored more than once (60 rows), 1 row with a NULL in the key")


def test_unique_key_nullable_columns_are_one_value_of_the_key(conn, models):
    model = models["valuation_gap"]
    assert model.unique_key_nullable == ("publisher",)
    conn.execute("create schema if not exists marts")
    conn.execute(
        """
        create table marts.valuation_gap as
        select pair, 'pe' as metric, 'trailing' as basis, 'synthetic' as method, 'sample' as source,
               null::varchar as publisher, date '2024-01-02' as as_of_date
        from (values ('IWM/SPY'), ('^RUT/^GSPC')) t(pair)
        """
    )
    assert checks.unique_key(conn, model).passed  # the NULL publisher is no failure ...
    conn.execute("insert into marts.valuation_gap values ('IWM/SPY', 'pe', 'trailing', 'synthetic', 'sample', null, "
                 "date '2024-01-02')")
    out = checks.unique_key(conn, model)  # ... but two rows of the same NULL-publisher series are
    assert not out.passed and out.failing == 2
    assert {r[0] for r in out.rows} == {"key stored 2 times"}


def test_an_empty_unique_key_means_at_most_one_row(conn, models):
    model = dataclasses.replace(models["rotation_dashboard"], unique_key=())
    conn.execute("create schema if not exists marts")
    conn.execute("create table marts.rotation_dashboard as select 'IWM/SPY' as pair")
    assert checks.unique_key(conn, model).passed
    conn.execute("insert into marts.rotation_dashboard values ('^RUT/^GSPC')")
    out = checks.unique_key(conn, model)
    assert not out.passed and out.failing == 2
    assert out.summary == "marts.rotation_dashboard holds 2 rows, but unique_key: [] allows one"


def test_unique_key_without_a_declared_key_or_table(conn, models):
    undeclared = dataclasses.replace(models["returns_daily"], unique_key=None)
    assert checks.unique_key(conn, undeclared).passed
    missing = checks.unique_key(conn, models["returns_daily"])
    assert not missing.passed and "does not exist" in missing.summary


# --- schema drift ---------------------------------------------------------------------------


def test_schema_matches_the_header(conn, models):
    insert_prices(conn, PRICES)
    run_models(conn, "returns_daily", "relative_strength")
    for name in ("returns_daily", "relative_strength"):
        out = checks.schema_matches(conn, models[name])
        assert out.passed, out.rows


def test_schema_names_a_changed_type(conn, models):
    insert_prices(conn, PRICES)
    run_models(conn, "returns_daily")
    # the header says ret_1d is a double; an upstream change made it a decimal
    conn.execute("alter table staging.returns_daily alter ret_1d type decimal(18, 6)")
    conn.execute("alter table staging.returns_daily add column note varchar")
    out = checks.schema_matches(conn, models["returns_daily"])
    assert not out.passed
    assert out.rows == [
        ("ret_1d", "DOUBLE", "DECIMAL(18,6)", "type differs"),
        ("note", None, "VARCHAR", "present but not declared"),
    ]


def test_core_schema_matches_the_ddl(conn):
    for table in (
        "core.prices_daily",
        "core.rates_daily",
        "core.policy_rate_daily",
        "core.fomc_decisions",
        "core.valuations",
    ):
        out = checks.core_schema_matches(conn, table)
        assert out.passed, (table, out.rows)


def test_core_schema_names_a_table_of_another_shape(conn):
    # an older warehouse file: volume missing, close stored as text
    conn.execute("alter table core.prices_daily drop column volume")
    conn.execute("alter table core.prices_daily alter close type varchar")
    out = checks.core_schema_matches(conn, "core.prices_daily")
    assert not out.passed
    assert out.rows == [
        ("close", "double", "VARCHAR", "type differs"),
        ("volume", "double", None, "declared but absent"),
    ]


def test_type_names_are_compared_by_meaning():
    assert checks.normalise_type("int") == "INTEGER"
    assert checks.normalise_type("timestamptz") == "TIMESTAMP WITH TIME ZONE"
    assert checks.normalise_type("timestamp with time zone") == "TIMESTAMP WITH TIME ZONE"
    assert checks.normalise_type("float8") == "DOUBLE"
    assert checks.normalise_type("interval") == "INTERVAL"
