"""The FRED API key never leaves the process's memory: not in logs, metadata, the warehouse or
Dagster's storage.

The rates asset runs against the fake FRED with a key from FRED_API_KEY, the way the definitions
configure it (an EnvVar), on a Dagster instance with the project's dagster.yaml under a temporary
DAGSTER_HOME: a run FRED accepts (one series unknown), a run with a key FRED rejects, and one with
a malformed key (characters a URL must escape). Then everything is scanned for each key, as typed
and as a URL carries it: the captured log records and output, every file under DAGSTER_HOME (the
SQLite event log and run storage, compute logs), the warehouse file's bytes and every text column
of every table in it. A control plants a key in each place first, to show the scan finds it.
"""

from __future__ import annotations

import logging
import urllib.parse
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.defs.ingest.rates import rates_daily
from pipelines.defs.resources import market_source_from_env, warehouse_from_env
from tests.faults_helpers import config_copy, universe_toml
from tests.fred_fake import API_KEY, FakeFred
from tools.ui_stack import instance_yaml
from warehouse import settings

REJECTED = "zyxwvutsrqponmlkjihgfedcba987654"  # well formed, not registered
MALFORMED = "My Key/with+odd=chars&more?"  # FRED refuses it as malformed; a URL must escape it
KEYS = (API_KEY, REJECTED, MALFORMED)


def forms(key: str) -> set[bytes]:
    """The key as typed, and as it travels in a URL (both escapings)."""
    return {key.encode(), urllib.parse.quote_plus(key).encode(), urllib.parse.quote(key, safe="").encode()}


def files_holding(folder: Path, keys=KEYS) -> list[str]:
    """Every file under `folder` whose bytes hold one of the keys in any of its forms."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{path} holds {key!r}" for key in keys if any(f in data for f in forms(key))]
    return found


def text_cells_holding(warehouse: Path, keys=KEYS) -> list[str]:
    """Every text column of every table (the key may not appear as raw bytes in a compressed file)."""
    found = []
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        columns = conn.execute(
            "select schema_name, table_name, column_name from duckdb_columns() "
            "where data_type = 'VARCHAR' or data_type like '%VARCHAR%' or data_type = 'JSON'"
        ).fetchall()
        for schema, table, column in columns:
            for key in keys:
                patterns = [f.decode() for f in forms(key)]
                hits = conn.execute(
                    f'select count(*) from "{schema}"."{table}" '
                    f'where list_bool_or([contains(cast("{column}" as varchar), p) for p in ?])',
                    [patterns],
                ).fetchall()[0][0]
                if hits:
                    found.append(f"{schema}.{table}.{column}: {hits} rows hold {key!r}")
    return found


@pytest.fixture
def instance_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(home), encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def fred():
    days = [f"2025-11-{d:02d}" for d in range(3, 29)]
    series = {
        "DFF": [(d, "3.88") for d in days],
        "DFEDTARL": [(d, "3.75") for d in days],
        "DFEDTARU": [(d, "4.00") for d in days],
    }
    with FakeFred(series) as fake:
        yield fake


@pytest.fixture
def live_env(tmp_path, monkeypatch, fred, instance_home):
    host, port = fred.url.removeprefix("http://").split(":")
    monkeypatch.setenv("ROTATION_SOURCE", "live")
    monkeypatch.setenv("ROTATION_LIVE_PROBE", f"{host}:{port}")  # the live hosts answer: the fake is up
    monkeypatch.setenv("ROTATION_FRED_BASE_URL", fred.url)
    monkeypatch.setenv("ROTATION_WAREHOUSE", str(tmp_path / "wh.duckdb"))
    monkeypatch.setenv("ROTATION_CONFIG_DIR", str(config_copy(
        tmp_path / "config", universe=universe_toml(series=("DFF", "DFEDTARL", "DFEDTARU", "UNKNOWNSERIES")))))
    import warehouse.sources.rates as rates_sources

    real = rates_sources.open_rates_source
    monkeypatch.setattr(rates_sources, "open_rates_source",
                        lambda *a, **k: real(*a, **{**k, "sleep": lambda s: None, "timeout": 2.0}))
    assert settings.active().source == "live"
    return tmp_path / "wh.duckdb"


def materialise_rates(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """The rates asset with the resources the definitions build from the environment."""
    return dg.materialize(
        [rates_daily], instance=instance, raise_on_error=False,
        resources={"duckdb": warehouse_from_env(), "market_source": market_source_from_env()},
    )


def test_the_fred_key_never_appears_anywhere(live_env, instance_home, monkeypatch, caplog, capfd):
    warehouse = live_env
    caplog.set_level(logging.DEBUG)
    outcomes = {}
    with dg.DagsterInstance.get() as instance:
        for key in KEYS:
            monkeypatch.setenv("FRED_API_KEY", key)
            result = materialise_rates(instance)
            outcomes[key] = result
            failures = "\n".join(e.event_specific_data.error.to_string() for e in result.all_events
                                 if e.event_type_value in ("STEP_FAILURE", "STEP_UP_FOR_RETRY"))
            events = " ".join(repr(entry) for entry in instance.all_logs(result.run_id))
            for secret in KEYS:
                assert secret not in failures and secret not in events
        run_ids = [r.run_id for r in outcomes.values()]
        assert len(instance.get_runs()) >= 3 and set(run_ids) <= {r.run_id for r in instance.get_runs()}

    # What each run did, so the scan covers a success and both refusals.
    accepted, rejected, malformed = (outcomes[k] for k in KEYS)
    assert accepted.success
    metadata = accepted.asset_materializations_for_node("core__rates_daily")[0].metadata
    assert metadata["series_loaded"].value == ["DFEDTARL", "DFEDTARU", "DFF"]
    assert "FRED has no series 'UNKNOWNSERIES'" in metadata["series_failed"].value["UNKNOWNSERIES"]
    assert not rejected.success and not malformed.success
    for result, says in ((rejected, "is not registered"), (malformed, "is not a 32 character")):
        text = "\n".join(e.event_specific_data.error.to_string() for e in result.all_events
                         if e.event_type_value == "STEP_FAILURE")
        assert "FRED rejected the API key" in text and says in text, text

    captured = capfd.readouterr()
    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    for key in KEYS:
        for form in forms(key):
            text = form.decode()
            assert text not in captured.out and text not in captured.err, key
            assert text not in logged, key
    assert "FRED rejected the API key" in captured.err + logged  # the logs were captured, and say why

    storage = sorted(p.relative_to(instance_home) for p in instance_home.rglob("*") if p.is_file())
    assert any(p.suffix == ".db" for p in storage), storage  # the SQLite event log and run storage
    assert any("logs" in p.parts for p in storage), storage  # compute logs
    assert files_holding(instance_home) == []
    assert files_holding(warehouse.parent, keys=KEYS) == []  # the warehouse file (and any .wal)
    assert text_cells_holding(warehouse) == []
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("select count(*) from core.rates_daily").fetchall() == [(3 * 26,)]


def test_the_scans_find_a_key_where_there_is_one(tmp_path):
    """The control: a key planted in a file, in a SQLite database, in a DuckDB text column
    (compressed) and in a URL is found by the same scans."""
    import sqlite3

    (tmp_path / "a.log").write_text(f"url=https://x/?api_key={urllib.parse.quote_plus(MALFORMED)}\n")
    with sqlite3.connect(tmp_path / "events.db") as conn:
        conn.execute("create table event_logs (event text)")
        conn.execute("insert into event_logs values (?)", [f'{{"message": "{REJECTED}"}}'])
    warehouse = tmp_path / "wh.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("create schema core")
        conn.execute(
            "create table core.t as select 'note ' || range || case when range = 77777 then ? else '' end as note "
            "from range(200000)", [API_KEY])
    assert sorted(files_holding(tmp_path)) == sorted([
        f"{tmp_path / 'a.log'} holds {MALFORMED!r}",
        f"{tmp_path / 'events.db'} holds {REJECTED!r}",
    ])
    assert text_cells_holding(warehouse) == [f"core.t.note: 1 rows hold {API_KEY!r}"]
