import datetime as dt

import pytest

from tests.model_harness import insert_prices, rows, run_models
from warehouse import models as sql_models


def test_returns_daily(conn):
    insert_prices(conn, [("IWM", "2024-01-02", 100.0, 99.0), ("IWM", "2024-01-03", 101.0, 99.99),
                         ("IWM", "2024-01-05", 103.0, 102.0), ("SPY", "2024-01-03", 50.0)])
    run_models(conn, "returns_daily")
    got = rows(conn, "select ticker, trade_date, ret_1d from marts.returns_daily order by 1, 2")
    assert got[0] == ("IWM", dt.date(2024, 1, 2), None)
    assert got[1][2] == pytest.approx(99.99 / 99.0 - 1)
    assert got[2][2] == pytest.approx(102.0 / 99.99 - 1)  # against the previous stored session
    assert got[3] == ("SPY", dt.date(2024, 1, 3), None)


def test_every_model_documents_every_column_and_parses():
    params = sql_models.load_params()
    found = sql_models.discover()
    assert found, "no models found under sql/"
    for model in found:
        assert model.description
        assert model.dependencies(params), f"{model.path} reads nothing"
        if model.layer == "marts":
            assert set(model.column_types) == set(model.columns), f"{model.path}: declare every type"


def test_a_failed_build_keeps_the_previous_version(conn, tmp_path):
    insert_prices(conn, [("IWM", "2024-01-02", 100.0)])
    run_models(conn, "returns_daily")
    bad = tmp_path / "marts" / "returns_daily.sql"
    bad.parent.mkdir()
    bad.write_text("/*\ndescription: broken\ncolumns:\n  ticker: varchar | x\n*/\nselect ticker, 1/0::int as x from core.nothing")
    model = sql_models.parse_model(bad, "marts")
    with pytest.raises(sql_models.ModelError, match="returns_daily.sql"):
        sql_models.build(conn, model, {})
    assert rows(conn, "select count(*) from marts.returns_daily") == [(1,)]


def test_undocumented_columns_are_refused(conn, tmp_path):
    path = tmp_path / "marts" / "x.sql"
    path.parent.mkdir()
    path.write_text("/*\ndescription: d\ncolumns:\n  a: integer | the a\n*/\nselect 1 as a, 2 as b")
    with pytest.raises(sql_models.ModelError, match=r"undocumented: \['b'\]"):
        sql_models.build(conn, sql_models.parse_model(path, "marts"), {})


def test_parameters_are_substituted_and_unknown_ones_named(tmp_path):
    path = tmp_path / "marts" / "p.sql"
    path.parent.mkdir()
    path.write_text("/*\ndescription: d\ncolumns:\n  n: integer | n\n*/\nselect {{ window }} as n, {{ nope }} as m")
    model = sql_models.parse_model(path, "marts")
    with pytest.raises(sql_models.ModelError, match="nope"):
        model.render({"window": 5})
    assert model.render({"window": 5, "nope": "it's"}).endswith("select 5 as n, 'it''s' as m")
