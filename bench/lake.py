"""Two writers and a reader on one DuckLake at once, measured against a real PostgreSQL catalog.

    python -m bench.lake                       # 300 tickers x 2 years, monthly batches
    python -m bench.lake --tickers 1000 --years 5

Starts a throwaway PostgreSQL server (tests/pg_server.py, Debian's binaries), makes a lake, and
loads the benchmark's prices month by month through `warehouse.load.upsert`, as the prices asset
loads its monthly partitions: first one writer alone (every month), then into a new lake two
writer processes at once (odd and even months), while a reader process counts the rows of every
month again and again. Reported: seconds, the commits each writer lost to the other and retried,
the reader's query times, and whether the reader ever saw a month half-written (it must not: a
load commits whole or not at all). Writes bench/lake.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _months(n: int, years: int):
    import pyarrow.compute as pc

    from bench import workload

    table = workload.generate(n, years)
    month = pc.strftime(table["trade_date"], format="%Y-%m")
    keys = sorted(set(month.to_pylist()))
    return [(k, table.filter(pc.equal(month, k))) for k in keys]


def writer(lake_spec: dict, n: int, years: int, part: int, parts: int) -> dict:
    from warehouse import lake as ducklake
    from warehouse.db import ensure_schema
    from warehouse.load import upsert
    from warehouse.prices import PRICES

    months = [m for i, m in enumerate(_months(n, years)) if i % parts == part]
    lost = []
    with ducklake.connect(ducklake.Lake(**lake_spec)) as conn:
        ensure_schema(conn)  # two writers creating the tables at once: one retries
        started = time.perf_counter()
        rows = 0
        for _, batch in months:
            result = upsert(conn, PRICES, batch, source="sample", run_id=f"writer{part}", log=lost.append)
            rows += result.inserted
        seconds = time.perf_counter() - started
    return {"part": part, "months": len(months), "rows": rows, "seconds": seconds, "retries": len(lost)}


def reader(lake_spec: dict, stop: Path, expected: dict[str, int]) -> dict:
    """Count every month's rows until the file `stop` appears; a month is either absent or complete."""
    from warehouse import lake as ducklake

    times, partial, seen_rows = [], 0, []
    deadline = time.monotonic() + 900
    while True:  # a read-only client cannot create the lake: wait for the first writer to
        try:
            conn = ducklake.connect(ducklake.Lake(**lake_spec), read_only=True)
            break
        except Exception as exc:  # noqa: BLE001
            if "does not exist" not in str(exc) or time.monotonic() > deadline or stop.exists():
                raise
            time.sleep(0.1)
    with conn:
        while not stop.exists():
            started = time.perf_counter()
            try:
                counts = dict(conn.execute(
                    "select strftime(trade_date, '%Y-%m'), count(*) from core.prices_daily group by 1"
                ).fetchall())
            except Exception as exc:  # noqa: BLE001 - before the writers made the table
                if "does not exist" not in str(exc):
                    raise
                time.sleep(0.05)
                continue
            times.append(time.perf_counter() - started)
            partial += sum(1 for k, c in counts.items() if c != expected.get(k))
            seen_rows.append(sum(counts.values()))
    return {"queries": len(times), "median_s": statistics.median(times) if times else None,
            "max_s": max(times) if times else None, "months_seen_partial": partial,
            "rows_seen_min": min(seen_rows) if seen_rows else 0, "rows_seen_max": max(seen_rows) if seen_rows else 0}


def _spawn(role: str, args: list[str], folder: Path) -> subprocess.Popen:
    out = open(folder / f"{role}-{uuid.uuid4().hex[:6]}.out", "w+")  # noqa: SIM115 - read after exit
    proc = subprocess.Popen([sys.executable, "-m", "bench.lake", "--role", role, *args], stdout=out,
                            stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    proc.out = out
    return proc


def _result(proc: subprocess.Popen) -> dict:
    proc.wait()
    proc.out.seek(0)
    text = proc.out.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{proc.args} failed:\n{text[-3000:]}")
    return json.loads(next(ln for ln in text.splitlines() if ln.startswith("BENCH "))[6:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=300)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "lake.json")
    parser.add_argument("--role", choices=["writer", "reader"], help=argparse.SUPPRESS)
    parser.add_argument("--lake", help=argparse.SUPPRESS)
    parser.add_argument("--part", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--parts", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--stop", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--expected", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "writer":
        print("BENCH " + json.dumps(writer(json.loads(args.lake), args.tickers, args.years, args.part, args.parts)))
        return
    if args.role == "reader":
        expected = json.loads(Path(args.expected).read_text())
        print("BENCH " + json.dumps(reader(json.loads(args.lake), args.stop, expected)))
        return

    from tests import pg_server

    folder = Path(tempfile.mkdtemp(prefix="rotation-lake-bench-"))
    pg = pg_server.start()
    try:
        months = _months(args.tickers, args.years)
        expected = {k: t.num_rows for k, t in months}
        (folder / "expected.json").write_text(json.dumps(expected))
        common = ["--tickers", str(args.tickers), "--years", str(args.years)]

        def new_lake(name: str) -> str:
            pg.create_database(name)
            return json.dumps({"catalog": f"postgres:{pg.dsn(name)}", "data_path": str(folder / name) + "/"})

        alone_lake = new_lake("alone")
        started = time.perf_counter()
        alone = _result(_spawn("writer", [*common, "--lake", alone_lake], folder))
        alone_wall = time.perf_counter() - started

        both_lake = new_lake("both")
        started = time.perf_counter()
        writers = [_spawn("writer", [*common, "--lake", both_lake, "--part", str(p), "--parts", "2"], folder)
                   for p in (0, 1)]
        stop = folder / "stop"
        read = _spawn("reader", [*common, "--lake", both_lake, "--stop", str(stop),
                                 "--expected", str(folder / "expected.json")], folder)
        both = [_result(w) for w in writers]
        both_wall = time.perf_counter() - started
        stop.touch()
        read_result = _result(read)
        from warehouse import lake as ducklake

        with ducklake.connect(ducklake.Lake(**json.loads(both_lake)), read_only=True) as conn:
            stored = conn.execute(
                "select count(*), count(distinct (ticker, trade_date)) from core.prices_daily"
            ).fetchall()[0]
            change_ids = conn.execute("select count(*), count(distinct change_id) from meta.changes").fetchall()[0]
        record = {
            "command": "python -m bench.lake " + " ".join(sys.argv[1:]),
            "machine": f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the end",
            "tickers": args.tickers, "years": args.years, "months": len(months), "rows": sum(expected.values()),
            "one_writer": {**alone, "wall_s": alone_wall},
            "two_writers": {"wall_s": both_wall, "writers": both},
            "reader_during_writes": read_result,
            "after": {"rows": stored[0], "distinct_keys": stored[1], "changes": change_ids[0],
                      "distinct_change_ids": change_ids[1]},
        }
        args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(record, indent=2))
    finally:
        pg.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
