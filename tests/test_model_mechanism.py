import datetime as dt

import pytest

from tests.model_harness import insert_prices, rows, run_models
from warehouse import models as sql_models


def test_returns_daily(conn):
    insert_prices(conn, [("IWM", "2024-01-02", 100.0, 99.0), ("IWM", "2024-01-03", 101.0, 99.99),
                         ("IWM", "2024-01-05", 103.0, 102.0), ("SPY", "2024-01-03", 50.0)])
    run_models(conn, "returns_daily")
    got = rows(conn, "select ticker, trade_date, ret_1d from staging.returns_daily order by 1, 2")
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
        assert set(model.column_types) == set(model.columns), f"{model.path}: declare every type"
        # the grain (STYLE.md, example 6): checked by the generated unique_key check
        assert model.unique_key is not None, f"{model.path}: declare unique_key: [..] in the header"


def test_a_failed_build_keeps_the_previous_version(conn, tmp_path):
    insert_prices(conn, [("IWM", "2024-01-02", 100.0)])
    run_models(conn, "returns_daily")
    bad = tmp_path / "staging" / "returns_daily.sql"
    bad.parent.mkdir()
    bad.write_text(
        "/*\ndescription: broken\nmaterialized: table\ncolumns:\n  ticker: varchar | x\n*/\n"
        "select ticker, 1/0::int as x from core.nothing"
    )
    model = sql_models.parse_model(bad, "staging")
    with pytest.raises(sql_models.ModelError, match="returns_daily.sql"):
        sql_models.build(conn, model, {})
    assert rows(conn, "select count(*) from staging.returns_daily") == [(1,)]


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


def test_staging_never_reads_a_mart():
    """The layers point one way: core and config -> staging -> marts."""
    params = sql_models.load_params()
    for model in sql_models.discover():
        if model.layer == "staging":
            read = sorted(d for d in model.dependencies(params) if not d.startswith(("core.", "config.", "staging.")))
            assert read == [], f"{model.path} reads {read}"


def _header(tmp_path, lines: str):
    path = tmp_path / "marts" / "k.sql"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        "/*\ndescription: d\ncolumns:\n  pair: varchar | p\n  trade_date: date | d\n  note: varchar | n\n"
        f"{lines}*/\nselect 1"
    )
    return sql_models.parse_model(path, "marts")


def test_the_unique_key_is_read_from_the_header(tmp_path):
    model = _header(tmp_path, "unique_key: [pair, trade_date]\n")
    assert (model.unique_key, model.unique_key_nullable) == (("pair", "trade_date"), ())
    assert _header(tmp_path, "unique_key: []\n").unique_key == ()
    assert _header(tmp_path, "").unique_key is None
    nullable = _header(tmp_path, "unique_key: [pair, note]\nunique_key_nullable: [note]\n")
    assert nullable.unique_key_nullable == ("note",)


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        ("unique_key: [pair, day]\n", r"unique_key names \['day'\], which the header's columns do not document"),
        ("unique_key: pair\n", "unique_key must be a list of columns"),
        ("unique_key: [pair, pair]\n", "names a column twice"),
        ("unique_key: [pair]\nunique_key_nullable: [note]\n", "unique_key_nullable must be columns of unique_key"),
    ],
)
def test_a_unique_key_that_is_not_the_headers_columns_is_refused(tmp_path, lines, error):
    with pytest.raises(sql_models.ModelError, match=error):
        _header(tmp_path, lines)
