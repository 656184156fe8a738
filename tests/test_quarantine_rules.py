"""Fault isolation: a bar that fails a load rule is quarantined alone, with its reason, source, file
and line, and the rest of its ticker loads; only systemic faults block the marts.

Expected values are worked out by hand: the clean bars have high 101, low 99 and close 100, so
the 0.1% tolerance puts the limits for the close at 98.901 and 101.101.
"""

import datetime as dt
import math
import shutil

import dagster as dg
import duckdb
import pyarrow as pa
import pytest
from dagster_duckdb import DuckDBResource

from warehouse import calendar
from warehouse.checks import prices as checks
from warehouse.load import rejects_frame, upsert
from warehouse.prices import PRICES, load_prices
from warehouse.sources.base import PriceBatch
from warehouse.sources.price_file import read_price_file

D = dt.date
AFTER = dt.datetime(2025, 1, 10, 12, tzinfo=dt.UTC)
JANUARY = calendar.sessions(D(2024, 1, 2), D(2024, 1, 12))  # 9 sessions: 01-02 .. 01-05, 01-08 .. 01-12
HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"
COLUMNS = ["ticker", "trade_date", "open", "high", "low", "close", "adj_close", "volume"]


def csv_line(day, o=100.0, h=101.0, lo=99.0, c=100.0, adj=100.0, vol=1000000):
    return f"{day},{o},{h},{lo},{c},{adj},{vol}"


def write_prices(folder, ticker, lines):
    path = folder / "prices" / f"{ticker}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    return path


def file_batch(path, ticker):
    """The bars of one file as the files source gives them, with each bar's file and line."""
    parsed = read_price_file(path, ticker, with_origin=True)
    return PriceBatch(parsed.bars, rejects=rejects_frame(parsed.rejects))


def quarantine(conn):
    return conn.execute("select key, reason, origin, run_id from core.quarantine order by key, origin").fetchall()


def table_hash(conn, table="core.prices_daily"):
    return conn.execute(
        f"select md5(string_agg(t::varchar, '|' order by ticker, trade_date)) from {table} t"
    ).fetchall()[0][0]


def stored_dates(conn, ticker):
    return [d for (d,) in conn.execute(
        "select trade_date from core.prices_daily where ticker = ? order by 1", [ticker]).fetchall()]


# --- one bad bar among N ----------------------------------------------------------------------


def test_one_inverted_bar_is_quarantined_with_its_file_and_line_and_the_rest_loads(conn, tmp_path):
    # Line 1 is the header, so the bar of 2024-01-05 (the 4th session) is on line 5.
    lines = [csv_line(d) for d in JANUARY]
    lines[3] = csv_line(JANUARY[3], o=100.0, h=99.0, lo=101.0)  # high and low swapped
    path = write_prices(tmp_path, "IWM", lines)
    out = load_prices(conn, file_batch(path, "IWM"), source="files", run_id="run-1", now=AFTER)
    assert (out.result.inserted, out.result.quarantined) == (8, 1)
    assert out.result.quarantine_reasons == {"high below low": 1}
    assert quarantine(conn) == [("IWM 2024-01-05", "high below low", f"{path} line 5", "run-1")]
    assert stored_dates(conn, "IWM") == [d for d in JANUARY if d != D(2024, 1, 5)]
    assert conn.execute(
        "select source from core.quarantine where key = 'IWM 2024-01-05'").fetchall() == [("files",)]

    # The same batch again, by the same run (a retry): nothing changes, not even the quarantine.
    prices_before, quarantine_before = table_hash(conn), conn.execute("select * from core.quarantine").fetchall()
    again = load_prices(conn, file_batch(path, "IWM"), source="files", run_id="run-1", now=AFTER)
    assert (again.result.inserted, again.result.updated, again.result.unchanged, again.result.quarantined) == (
        0, 0, 8, 1)
    assert table_hash(conn) == prices_before
    assert conn.execute("select * from core.quarantine").fetchall() == quarantine_before

    # The completeness check names the hole and why it is there.
    hole = checks.completeness(conn)
    assert hole.rows == [
        ("IWM", D(2024, 1, 5), f"missing session (quarantined: high below low, {path} line 5)")]
    assert hole.counts["missing_sessions_quarantined"] == 1
    # One bar of nine is no systemic fault: the blocking check passes.
    assert checks.integrity(conn).passed


def test_a_later_run_refusing_the_same_bar_names_itself_without_a_second_row(conn, tmp_path):
    lines = [csv_line(d) for d in JANUARY]
    lines[3] = csv_line(JANUARY[3], h=99.0, lo=101.0)
    path = write_prices(tmp_path, "IWM", lines)
    load_prices(conn, file_batch(path, "IWM"), source="files", run_id="run-1", now=AFTER)
    before = table_hash(conn)
    load_prices(conn, file_batch(path, "IWM"), source="files", run_id="run-2", now=AFTER)
    assert table_hash(conn) == before
    assert quarantine(conn) == [("IWM 2024-01-05", "high below low", f"{path} line 5", "run-2")]
    shown = checks_quarantined(conn, "run-2")
    assert (shown.passed, shown.failing) == (False, 1)
    assert shown.counts["refused_by_ticker"] == {"IWM": "1 of 9"}


def checks_quarantined(conn, run_id):
    from warehouse.checks.quarantine import quarantined

    return quarantined(conn, target_table="core.prices_daily", run_id=run_id)


# --- each rule alone --------------------------------------------------------------------------

CLEAN = [("IWM", d, 100.0, 101.0, 99.0, 100.0, 100.0, 1e6) for d in JANUARY[:5]]  # 01-02 .. 01-08
DAY = D(2024, 1, 9)


def arrow(rows):
    """Rows as an Arrow table, NaN kept as NaN (not turned into NULL as pandas' conversion does)."""
    return pa.table({c: [r[i] for r in rows] for i, c in enumerate(COLUMNS)},
                    schema=pa.schema([("ticker", pa.string()), ("trade_date", pa.date32()),
                                      *((c, pa.float64()) for c in COLUMNS[2:])]))


NAN, INF = math.nan, math.inf
REFUSED = [
    ("saturday", ("IWM", D(2024, 1, 6), 100.0, 101.0, 99.0, 100.0, 100.0, 1e6),
     "trade_date is not an NYSE session (weekend)"),
    ("christmas", ("IWM", D(2024, 12, 25), 100.0, 101.0, 99.0, 100.0, 100.0, 1e6),
     "trade_date is not an NYSE session (Christmas)"),
    ("negative open", ("IWM", DAY, -100.0, 101.0, 99.0, 100.0, 100.0, 1e6), "open is not positive"),
    ("zero low", ("IWM", DAY, 100.0, 101.0, 0.0, 100.0, 100.0, 1e6), "low is not positive"),
    ("zero high", ("IWM", DAY, 100.0, 0.0, 99.0, 100.0, 100.0, 1e6), "high is not positive"),
    ("zero close", ("IWM", DAY, 100.0, 101.0, 99.0, 0.0, 100.0, 1e6), "close is NULL or not positive"),
    ("null close", ("IWM", DAY, 100.0, 101.0, 99.0, None, 100.0, 1e6), "close is NULL or not positive"),
    ("zero adj_close", ("IWM", DAY, 100.0, 101.0, 99.0, 100.0, 0.0, 1e6), "adj_close is NULL or not positive"),
    ("negative adj_close", ("IWM", DAY, 100.0, 101.0, 99.0, 100.0, -100.0, 1e6),
     "adj_close is NULL or not positive"),
    ("NaN close", ("IWM", DAY, 100.0, 101.0, 99.0, NAN, 100.0, 1e6), "close is NaN or infinite"),
    ("NaN adj_close", ("IWM", DAY, 100.0, 101.0, 99.0, 100.0, NAN, 1e6), "adj_close is NaN or infinite"),
    ("NaN open", ("IWM", DAY, NAN, 101.0, 99.0, 100.0, 100.0, 1e6), "open is NaN or infinite"),
    ("+inf high", ("IWM", DAY, 100.0, INF, 99.0, 100.0, 100.0, 1e6), "high is NaN or infinite"),
    ("+inf close", ("IWM", DAY, 100.0, 101.0, 99.0, INF, 100.0, 1e6), "close is NaN or infinite"),
    ("-inf low", ("IWM", DAY, 100.0, 101.0, -INF, 100.0, 100.0, 1e6), "low is NaN or infinite"),
    ("NaN volume", ("IWM", DAY, 100.0, 101.0, 99.0, 100.0, 100.0, NAN), "volume is NaN or infinite"),
    ("negative volume", ("IWM", DAY, 100.0, 101.0, 99.0, 100.0, 100.0, -5.0), "volume is negative"),
    ("high below low", ("IWM", DAY, 100.0, 99.0, 101.0, 100.0, 100.0, 1e6), "high below low"),
    # 101.2 / 101 - 1 = 0.198% above the high; 98.8 / 99 - 1 = -0.202% below the low
    ("close above high", ("IWM", DAY, 100.0, 101.0, 99.0, 101.2, 101.2, 1e6),
     "close outside [low, high] by more than 0.10%"),
    ("close below low", ("IWM", DAY, 100.0, 101.0, 99.0, 98.8, 98.8, 1e6),
     "close outside [low, high] by more than 0.10%"),
    ("open above high", ("IWM", DAY, 101.2, 101.0, 99.0, 100.0, 100.0, 1e6),
     "open outside [low, high] by more than 0.10%"),
]


@pytest.mark.parametrize(("bad", "reason"), [(b, r) for _, b, r in REFUSED], ids=[i for i, _, _ in REFUSED])
def test_each_rule_alone_refuses_the_bar_and_the_rest_loads(conn, bad, reason):
    out = upsert(conn, PRICES, arrow([*CLEAN, bad]), source="files", run_id="run-1")
    assert (out.inserted, out.quarantined) == (5, 1)
    assert out.quarantine_reasons == {reason: 1}
    assert quarantine(conn) == [(f"IWM {bad[1]}", reason, None, "run-1")]
    assert stored_dates(conn, "IWM") == JANUARY[:5]
    assert checks.integrity(conn).passed


ACCEPTED = [
    # 101.05 / 101 - 1 = 0.0495% above the high, 98.95 / 99 - 1 = -0.0505% below the low: rounding
    ("close a hair above high", ("IWM", DAY, 100.0, 101.0, 99.0, 101.05, 101.05, 1e6)),
    ("close a hair below low", ("IWM", DAY, 100.0, 101.0, 99.0, 98.95, 98.95, 1e6)),
    ("close-only bar", ("IWM", DAY, None, None, None, 100.0, 100.0, None)),
    ("zero volume", ("IWM", DAY, 100.0, 101.0, 99.0, 100.0, 100.0, 0.0)),
]


@pytest.mark.parametrize("good", [g for _, g in ACCEPTED], ids=[i for i, _ in ACCEPTED])
def test_bars_within_the_rules_load(conn, good):
    out = upsert(conn, PRICES, arrow([*CLEAN, good]), source="files")
    assert (out.inserted, out.quarantined) == (6, 0)
    assert checks.integrity(conn).passed


def test_the_tolerance_is_configurable(conn):
    above = ("IWM", DAY, 100.0, 101.0, 99.0, 101.2, 101.2, 1e6)  # 0.198% above the high
    frame = arrow([*CLEAN, above]).to_pandas()
    out = load_prices(conn, PriceBatch(frame), source="files", now=AFTER, ohlc_tolerance=0.002)
    assert (out.result.inserted, out.result.quarantined) == (6, 0)
    assert checks.integrity(conn, ohlc_tolerance=0.002).passed
    assert not checks.integrity(conn, ohlc_tolerance=0.001).passed  # the table is judged by the same rule


def test_a_conflicting_duplicate_in_one_file_is_refused_on_both_lines(conn, tmp_path):
    lines = [csv_line(d) for d in JANUARY[:5]]
    lines.insert(2, csv_line(JANUARY[1], c=100.5, adj=100.5))  # 01-03 again, another close: line 4
    path = write_prices(tmp_path, "IWM", lines)
    out = load_prices(conn, file_batch(path, "IWM"), source="files", run_id="run-1", now=AFTER)
    why = "the same key appears more than once in this batch with different values"
    assert (out.result.inserted, out.result.quarantined) == (4, 2)
    assert quarantine(conn) == [
        ("IWM 2024-01-03", why, f"{path} line 3", "run-1"),
        ("IWM 2024-01-03", why, f"{path} line 4", "run-1"),
    ]
    assert D(2024, 1, 3) not in stored_dates(conn, "IWM")


# --- real data --------------------------------------------------------------------------------


@pytest.mark.realdata
def test_one_swapped_bar_in_a_real_export_is_quarantined_alone(realdata, tmp_path):
    """^GSPC from Yahoo's download CSV (2000-01-03 .. 2022-11-18, 5,759 bars), with the high and
    low of 2022-06-16 (line 5652) swapped, loaded through the files source."""
    from warehouse.db import connect, ensure_schema
    from warehouse.sources.files import FilesSource

    (tmp_path / "prices").mkdir()
    path = tmp_path / "prices" / "^GSPC.csv"
    shutil.copy(realdata / "prices" / "yahoo-csv" / "^GSPC.csv", path)
    lines = path.read_text().splitlines()
    assert lines[5651].startswith("2022-06-16,")
    day, o, h, lo, *rest = lines[5651].split(",")
    lines[5651] = ",".join([day, o, lo, h, *rest])
    path.write_text("\n".join(lines) + "\n")

    batch = FilesSource(tmp_path).daily_bars(["^GSPC"], D(2000, 1, 1), D(2022, 12, 31))
    with connect(tmp_path / "wh.duckdb") as conn:
        ensure_schema(conn)
        out = load_prices(conn, batch, source="files", run_id="run-1",
                          now=dt.datetime(2023, 1, 3, tzinfo=dt.UTC))
        assert (out.result.inserted, out.result.quarantined) == (5758, 1)
        assert quarantine(conn) == [("^GSPC 2022-06-16", "high below low", f"{path} line 5652", "run-1")]
        assert conn.execute("select count(*), min(trade_date), max(trade_date) from core.prices_daily").fetchall() == [
            (5758, D(2000, 1, 3), D(2022, 11, 18))]
        assert checks.integrity(conn).passed
        assert checks.completeness(conn).rows == [
            ("^GSPC", D(2022, 6, 16), f"missing session (quarantined: high below low, {path} line 5652)")]


# --- in Dagster: the marts build for every ticker; a broken batch blocks ------------------------

PARTITION = "2024-03-01"  # March 2024, plus the 10 sessions re-fetched before it
SESSIONS = calendar.sessions(D(2024, 2, 15), D(2024, 3, 28))  # 30 sessions


def dagster_csv(folder, ticker, level, swapped=()):
    lines = []
    for i, day in enumerate(SESSIONS):
        close = round(level * (1 + 0.003 * ((i * 7) % 5 - 2)), 4)
        high, low = round(close * 1.01, 4), round(close * 0.99, 4)
        if day in swapped:
            high, low = low, high
        lines.append(csv_line(day, o=close, h=high, lo=low, c=close, adj=close))
    write_prices(folder, ticker, lines)


def run_prices_and_model(project_env, swapped):
    """Materialise the prices (files source), their checks and the returns model built on them."""
    from pipelines.defs.checks.prices import prices_checks
    from pipelines.defs.ingest.prices import prices_daily
    from pipelines.defs.models import model_asset
    from pipelines.defs.resources import MarketSourceResource
    from warehouse import models as sql_models

    files = project_env / "files"
    dagster_csv(files, "IWM", 200.0, swapped)
    dagster_csv(files, "SPY", 470.0)
    model = next(m for m in sql_models.discover() if m.name == "returns_daily")
    mart = model_asset(model, sql_models.load_params())
    db = project_env / "wh.duckdb"
    result = dg.materialize(
        [prices_daily, prices_checks, mart],
        partition_key=PARTITION,
        resources={"duckdb": DuckDBResource(database=str(db)),
                   "market_source": MarketSourceResource(kind="files", files_dir=str(files))},
        raise_on_error=False,
    )
    return result, db, f"{model.layer}.{model.name}", {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_one_bad_bar_no_longer_stops_the_marts(project_env):
    result, db, relation, checked = run_prices_and_model(project_env, swapped={D(2024, 3, 27)})
    assert result.success
    assert checked["prices_integrity"].passed
    shown = checked["no_rows_quarantined"]
    assert not shown.passed and shown.severity == dg.AssetCheckSeverity.WARN
    assert "| IWM 2024-03-27 | high below low |" in shown.metadata["failing_rows"].value
    hole = checked["prices_calendar_complete"]
    assert not hole.passed and hole.severity == dg.AssetCheckSeverity.WARN
    assert "| IWM | 2024-03-27 | missing session (quarantined: high below low" in hole.metadata["failing_rows"].value
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute(
            f"select ticker, count(*) from {relation} group by 1 order by 1").fetchall() == [
            ("IWM", len(SESSIONS) - 1), ("SPY", len(SESSIONS))]


def test_a_mostly_refused_batch_blocks_what_depends_on_prices(project_env):
    result, db, relation, checked = run_prices_and_model(project_env, swapped=set(SESSIONS[:20]))  # 20 of 30
    assert not result.success
    integrity = checked["prices_integrity"]
    assert not integrity.passed and integrity.severity == dg.AssetCheckSeverity.ERROR
    assert "refused 20 of 30 rows (67%, more than 50%)" in integrity.metadata["failing_rows"].value
    assert integrity.metadata["batches_mostly_rejected"].value == 1
    with duckdb.connect(str(db), read_only=True) as conn:
        schema, name = relation.split(".")
        assert conn.execute("select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
                            [schema, name]).fetchone()[0] == 0
