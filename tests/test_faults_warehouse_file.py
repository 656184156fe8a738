"""Something else at the warehouse path: random bytes, an SQLite database, a text file, an empty
file, a DuckDB file cut short or with a damaged block. Opening it fails with an error that names
the file and what it is, and the file is left byte for byte as it was, with nothing created beside it.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.defs.resources import WarehouseResource
from tests.faults_helpers import ROOT, child_env, config_copy, fingerprint, small_warehouse, universe_toml
from warehouse.db import WarehouseFileError, check_file, connect
from warehouse.snapshot import publish, snapshot_path


def random_bytes(path: Path) -> str:
    path.write_bytes(random.Random(7).randbytes(50_000))
    return "50,000 bytes without DuckDB's signature (DUCK at byte 8)"


def sqlite_file(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        conn.execute("create table prices (ticker text, close real)")
        conn.execute("insert into prices values ('IWM', 200.5)")
    return "an SQLite database"


def text_file(path: Path) -> str:
    path.write_text("ticker,trade_date,close\nIWM,2024-01-02,199.0\n", encoding="utf-8")
    return "a text file (it starts with 'ticker,trade_date,close')"


def empty_file(path: Path) -> str:
    path.write_bytes(b"")
    return "an empty file (0 bytes)"


def real_warehouse(path: Path) -> None:
    with duckdb.connect(str(path)) as conn:
        conn.execute("create table t as select range as x, 'row ' || range as label from range(200000)")


def cut_short(path: Path) -> str:
    real_warehouse(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return "a damaged DuckDB database (DuckDB says: Could not read enough bytes from file"


def damaged_block(path: Path) -> str:
    real_warehouse(path)
    data = path.read_bytes()
    # The headers (the first 12 KiB) intact, every block after them overwritten: the catalog's
    # blocks fail their checksums when the file is opened.
    path.write_bytes(data[:12288] + random.Random(3).randbytes(len(data) - 12288))
    return "a damaged DuckDB database (DuckDB says: Corrupt database file: computed checksum"


KINDS = {
    "random bytes": random_bytes,
    "sqlite": sqlite_file,
    "text": text_file,
    "empty": empty_file,
    "cut short": cut_short,
    "damaged block": damaged_block,
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(params=list(KINDS), ids=list(KINDS))
def foreign(request, tmp_path):
    """A folder holding, at the warehouse's path, a file that is no usable warehouse."""
    path = tmp_path / "wh.duckdb"
    what = KINDS[request.param](path)
    return request.param, path, what, sha256(path), sorted(os.listdir(tmp_path))


@pytest.mark.parametrize("read_only", [False, True], ids=["read-write", "read-only"])
def test_opening_it_fails_clearly_and_leaves_it_unchanged(foreign, read_only):
    kind, path, what, digest, listing = foreign
    with pytest.raises(WarehouseFileError) as error:
        connect(path, read_only=read_only)
    message = str(error.value)
    assert message.startswith(f"{path} is "), message
    assert what in message, message
    assert "The warehouse did not open it and left it unchanged." in message
    assert "Move it away (or set ROTATION_WAREHOUSE to another file)" in message
    assert sha256(path) == digest
    assert sorted(os.listdir(path.parent)) == listing  # no .wal, no temp folder beside it


def test_a_real_warehouse_opens(tmp_path):
    """The control: a DuckDB file passes the check, and so does a path where nothing is yet."""
    path = tmp_path / "wh.duckdb"
    check_file(path)
    real_warehouse(path)
    check_file(path)
    with connect(path, read_only=True) as conn:
        assert conn.execute("select count(*) from t").fetchall() == [(200000,)]


def test_the_message_points_at_the_published_copy_when_there_is_one(tmp_path):
    path = small_warehouse(tmp_path / "wh.duckdb")
    with connect(path) as conn:
        publish(conn, path)
    published = fingerprint(snapshot_path(path))
    path.write_bytes(b"")  # the warehouse is lost (an empty file where it was)
    with pytest.raises(WarehouseFileError) as error:
        connect(path)
    assert f"The last published copy of this warehouse is {snapshot_path(path)}: copy it to {path}" in str(error.value)
    # The advice works: the copy opens as the warehouse and holds what was published.
    path.write_bytes(snapshot_path(path).read_bytes())
    assert fingerprint(path) == published
    with connect(path) as conn:  # and takes writes again
        conn.execute("delete from core.quarantine")


# What a Dagster run says: the project's resource checks the file before DuckDB opens it.
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_dagster_run_fails_naming_the_file_and_leaves_it_unchanged(tmp_path, monkeypatch, kind):
    from pipelines.defs.ingest.claims import published_claims

    path = tmp_path / "wh.duckdb"
    KINDS[kind](path)
    digest, listing = sha256(path), sorted(os.listdir(tmp_path))
    monkeypatch.setenv("ROTATION_SOURCE", "sample")
    monkeypatch.setenv("ROTATION_WAREHOUSE", str(path))
    # No extension may be fetched from the network (DuckDB would try for an SQLite file).
    resource = WarehouseResource(database=str(path), connection_config={
        "autoinstall_known_extensions": False, "autoload_known_extensions": False})
    result = dg.materialize([published_claims], resources={"duckdb": resource}, raise_on_error=False)
    assert not result.success
    text = "\n".join(e.event_specific_data.error.to_string() for e in result.all_events
                     if e.event_type_value == "STEP_FAILURE")
    assert str(path) in text, text
    assert re.search(r"not a (valid )?DuckDB database|damaged DuckDB database", text), text
    assert sha256(path) == digest
    assert sorted(os.listdir(tmp_path)) == listing


@pytest.mark.faults
@pytest.mark.parametrize("kind", ["random bytes", "text"])
def test_make_run_stops_with_the_file_named_and_leaves_it_unchanged(tmp_path, kind):
    path = tmp_path / "wh.duckdb"
    what = KINDS[kind](path)
    digest, listing = sha256(path), sorted(os.listdir(tmp_path))
    config = config_copy(tmp_path / "config", universe=universe_toml(start="2024-01-02"))
    (tmp_path / "home").mkdir()
    env = child_env(ROTATION_CONFIG_DIR=str(config), ROTATION_WAREHOUSE=str(path), DAGSTER_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-m", "pipelines.run"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert f"{path} is not a DuckDB database: it is {what}" in output, output[-3000:]
    assert sha256(path) == digest
    assert sorted(p for p in os.listdir(tmp_path) if p not in ("home", "config")) == listing
