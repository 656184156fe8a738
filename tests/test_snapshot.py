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
    import os, sys, duckdb
    from warehouse.snapshot import open_for_reading
    path, progress, stop = sys.argv[1:4]
    ok = errors = 0
    # Reads until the writer says stop; after each, the count of reads so far goes to `progress`
    # (written whole, then renamed, so the writer never sees half a number).
    while not os.path.exists(stop):
        try:
            conn, _ = open_for_reading(path)
            with conn:
                n = conn.execute("select count(*) from core.prices_daily").fetchall()[0][0]
                assert n > 0
            ok += 1
        except Exception as exc:
            errors += 1
            print(repr(exc), file=sys.stderr)
        with open(progress + ".tmp", "w") as fh:
            fh.write(str(ok + errors))
        os.replace(progress + ".tmp", progress)
    print(ok, errors)
    """
)
# Only a guard against a reader that hangs: no assertion depends on how fast anything runs.
HANG_GUARD_S = 120.0
PUBLICATIONS = 6


def reads_so_far(progress):
    try:
        return int(progress.read_text() or 0)
    except FileNotFoundError:
        return 0


def wait_for_reads(progresses, at_least, procs):
    """Block until every reader has made `at_least` reads (events, not seconds)."""
    deadline = time.monotonic() + HANG_GUARD_S
    while min(reads_so_far(p) for p in progresses) < at_least:
        for proc in procs:
            assert proc.poll() is None, f"a reader stopped early: {proc.communicate()}"
        assert time.monotonic() < deadline, "the readers made no progress: hung?"
        time.sleep(0.01)


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
    stop = tmp_path / "stop"
    progresses = [tmp_path / f"reader-{i}.progress" for i in range(2)]
    readers = [
        subprocess.Popen([sys.executable, "-c", READER, str(path), str(progress), str(stop)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for progress in progresses
    ]
    try:
        # The run: each publication waits until both readers have read the snapshot since the
        # previous one, so every publication happens while readers are reading.
        wait_for_reads(progresses, 1, readers)
        for writes in range(1, PUBLICATIONS + 1):
            fill(writer, 5000, start=1000 + (writes - 1) * 5000)
            publish(writer, path)
            wait_for_reads(progresses, min(reads_so_far(p) for p in progresses) + 1, readers)
    finally:
        writer.close()
        stop.touch()
    for proc in readers:
        out, err = proc.communicate(timeout=HANG_GUARD_S)
        ok, errors = map(int, out.split())
        assert errors == 0, err
        assert ok >= PUBLICATIONS + 1
    conn, used = open_for_reading(path)
    with conn:
        assert used == snapshot_path(path)
        assert conn.execute("select count(*) from core.prices_daily").fetchall()[0][0] == 1000 + PUBLICATIONS * 5000


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
