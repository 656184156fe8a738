"""Where DuckDB 1.5.5's bulk load loses against 2.0.1: scans of a registered Arrow batch.

    python -m bench.arrow_scan                 # with each interpreter, e.g. /tmp/venv-duckdb2/bin/python
Prints the seconds of a plain copy of the benchmark batch, a copy with a filter, and the loader's
upsert of it, in a new warehouse file (300 tickers x 30 years, 2,268,300 rows).
"""

import os
import tempfile
import time

import duckdb

from bench import workload
from warehouse.db import ensure_schema
from warehouse.load import upsert
from warehouse.prices import PRICES


def main() -> None:
    table = workload.generate(300, 30)
    conn = duckdb.connect(os.path.join(tempfile.mkdtemp(), "x.duckdb"))
    conn.register("batch", table)
    timings = {}
    for name, sql in (("copy", "create table p as select * from batch"),
                      ("copy with a filter", "create table q as select * from batch where close > 0")):
        started = time.perf_counter()
        conn.execute(sql)
        timings[name] = time.perf_counter() - started
    ensure_schema(conn)
    started = time.perf_counter()
    upsert(conn, PRICES, table, source="sample")
    timings["upsert"] = time.perf_counter() - started
    print(f"duckdb {duckdb.__version__}, {table.num_rows:,} rows: "
          + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))


if __name__ == "__main__":
    main()
