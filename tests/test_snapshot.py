"""Ad-hoc SQL never collides with a run: readers use the published snapshot."""

import os
import subprocess
import sys
import textwrap
import time

import duckdb

from warehouse.cli import main as cli
from warehouse.db import connect, ensure_schema
from warehouse.snapshot import open_for_reading, publish, snapshot_path

READER = textwrap.dedent(
    """
    import sys, time, duckdb
    from warehouse.snapshot import open_for_reading
    path, seconds = sys.argv[1], float(sys.argv[2])
    ok = errors = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            conn, _ = open_for_reading(path)
            with conn:
                n = conn.execute("select count(*) from core.prices_daily").fetchall()[0][0]
                assert n > 0
            ok += 1
        except Exception as exc:
            errors += 1
            print(repr(exc), file=sys.stderr)
    print(ok, errors)
    """
)


def fill(conn, n, start=0):
    conn.execute(
        "insert into core.prices_daily select 'T' || (i % 50), date '2000-01-03' + (i // 50)::int, "
        "1, 1, 1, 1, 1, 1, 'sample', now() from range(?, ?) r(i)",
        [start, start + n],
    )


def test_publish_is_a_full_readable_copy(tmp_path):
    path = tmp_path / "w.duckdb"
    with connect(path) as conn:
        ensure_schema(conn)
        fill(conn, 100)
        conn.execute("create schema marts; create view marts.v as select count(*) n from core.prices_daily")
        target = publish(conn, path)
    assert target == snapshot_path(path) == tmp_path / "snapshots" / "w.duckdb"
    with duckdb.connect(str(target), read_only=True) as snap:
        assert snap.execute("select n from marts.v").fetchall() == [(100,)]
    assert not list(target.parent.glob(".*tmp"))


def test_two_readers_query_while_a_run_writes(tmp_path):
    path = tmp_path / "w.duckdb"
    writer = connect(path)
    ensure_schema(writer)
    fill(writer, 1000)
    publish(writer, path)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    readers = [
        subprocess.Popen([sys.executable, "-c", READER, str(path), "6"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    # The run: it keeps writing the warehouse and re-publishing while the readers query.
    writes = 0
    started = time.monotonic()
    while time.monotonic() - started < 5:
        fill(writer, 5000, start=1000 + writes * 5000)
        publish(writer, path)
        writes += 1
    writer.close()
    for proc in readers:
        out, err = proc.communicate(timeout=60)
        ok, errors = map(int, out.split())
        assert errors == 0, err
        assert ok > 10
    assert writes >= 3
    conn, used = open_for_reading(path)
    with conn:
        assert used == snapshot_path(path)
        assert conn.execute("select count(*) from core.prices_daily").fetchall()[0][0] == 1000 + writes * 5000


def test_cli_prints_a_table_from_the_snapshot(tmp_path, capsys):
    path = tmp_path / "w.duckdb"
    with connect(path) as conn:
        ensure_schema(conn)
        fill(conn, 3)
        publish(conn, path)
    assert cli(["--warehouse", str(path), "sql", "select ticker, count(*) as n from core.prices_daily group by 1 order by 1"]) == 0
    out = capsys.readouterr()
    assert "T0" in out.out and "T2" in out.out and "snapshots" in out.err
    assert cli(["--warehouse", str(path), "sql", "select * from nope"]) == 1
    assert "nope" in capsys.readouterr().err
    assert cli(["--warehouse", str(tmp_path / "missing.duckdb"), "sql", "select 1"]) == 2
