"""Shared tools of the fault-injection tests (tests/test_faults_*.py).

- `fingerprint`: what a warehouse holds, table by table (row count and an order-independent digest
  of every row), plus the definitions of its views, so "holds exactly what it held before" is one
  equality.
- `Child`: a Python process that does one step of the warehouse's work and prints markers, so
  the parent can SIGKILL it at a known point inside the step; always killed in `close`.
- `small_warehouse`: a warehouse with a few sample tickers and the models that read them, built
  in seconds through the warehouse layer (no Dagster).
- `config_copy`, `universe_toml`, `run_universe`: a copy of config/ with files replaced, e.g. a
  universe small enough for a whole `make run` in about half a minute.
- `SITECUSTOMIZE`, `write_hooks`: hooks a run process (`make run`, a UI run worker) loads at
  start, holding a chosen step at a known point so the test can kill the process there.
"""

from __future__ import annotations

import datetime as dt
import os
import queue
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]

# The schemas that hold data: core (ingested), staging and marts (models), meta (change log,
# model builds, load batches, the flavour) and config (the universe as tables).
DATA_SCHEMAS = ("core", "staging", "marts", "meta", "config")

# A few sample tickers and the two pairs they make: enough for every per-ticker and per-pair model.
TICKERS = ("IWM", "SPY", "QQQ", "^RUT", "^GSPC")
PAIRS = (("IWM", "SPY"), ("^RUT", "^GSPC"))
FIRST_DAY = dt.date(2023, 1, 3)
LAST_DAY = dt.date(2024, 6, 28)


def table_digest(conn: duckdb.DuckDBPyConnection, relation: str) -> tuple[int, str]:
    """(rows, digest) of a table: the exact sum and the xor of the row hashes, so row order does
    not matter and a duplicated row does (the xor alone would cancel a pair of equal rows)."""
    # hash(t) hashes the row as a struct; DuckDB 2 refuses hash(t.*) ("STAR expression is only
    # allowed as the root element").
    rows, total, xor = conn.execute(
        f"select count(*), coalesce(sum(h::hugeint), 0), coalesce(bit_xor(h), 0) "
        f"from (select hash(t) as h from {relation} t)"
    ).fetchall()[0]
    return rows, f"{total:x}.{xor:x}"


def fingerprint(path: Path | str, schemas: tuple[str, ...] = DATA_SCHEMAS) -> dict[str, tuple]:
    """{relation: (columns and types, rows, digest)} of every table and view of `schemas`,
    read through a read-only connection."""
    with duckdb.connect(str(path), read_only=True) as conn:
        return fingerprint_of(conn, schemas)


def fingerprint_of(conn: duckdb.DuckDBPyConnection, schemas: tuple[str, ...] = DATA_SCHEMAS) -> dict[str, tuple]:
    """`fingerprint` through an open connection (the writer's own, inside a run)."""
    out: dict[str, tuple] = {}
    tables = conn.execute(
        "select schema_name, table_name from duckdb_tables() where not temporary "
        "and database_name = current_database() and schema_name in (select unnest(?::varchar[])) order by 1, 2",
        [list(schemas)],
    ).fetchall()
    for schema, table in tables:
        relation = f'"{schema}"."{table}"'
        columns = tuple(
            conn.execute(
                "select column_name, data_type from duckdb_columns() where database_name = current_database() "
                "and schema_name = ? and table_name = ? order by column_index",
                [schema, table],
            ).fetchall()
        )
        out[f"{schema}.{table}"] = (columns, *table_digest(conn, relation))
    for schema, view, sql in conn.execute(
        "select schema_name, view_name, sql from duckdb_views() where not internal "
        "and database_name = current_database() and schema_name in (select unnest(?::varchar[])) order by 1, 2",
        [list(schemas)],
    ).fetchall():
        out[f"{schema}.{view}"] = ("view", sql)
    return out


def row_counts(print_of: dict[str, tuple]) -> dict[str, int]:
    return {name: value[1] for name, value in print_of.items() if value[0] != "view"}


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: this checkout importable, the sample source, no
    live probe, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROTATION_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["ROTATION_SOURCE"] = "sample"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Child:
    """A Python child process running `script` (source text, dedented) with `args`.

    Its stdout lines are read by a thread into a queue, so `wait_for` can wait for a marker with
    a timeout. `close` kills it (SIGKILL) if it still runs; use it as a context manager.
    """

    def __init__(self, script: str, *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or child_env(), cwd=cwd,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self._stderr.extend(self.proc.stderr), daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, marker: str, timeout: float = 120.0) -> str:
        """Wait until the child prints a line starting with `marker`; that line."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {marker!r} from the child within {timeout:g}s; it said {self.lines}"
                                     f"\n{self.stderr}")
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait()
                raise AssertionError(
                    f"the child ended (exit {self.proc.returncode}) before {marker!r}; it said {self.lines}"
                    f"\n{self.stderr}"
                )
            self.lines.append(line)
            if line.startswith(marker):
                return line

    def kill(self) -> int:
        """SIGKILL, as `kill -9` does; the exit status (-9)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        return self.proc.wait(timeout=30)

    def finish(self, timeout: float = 180.0) -> int:
        """Wait for the child to end by itself; its exit status. Its output is then in `lines`."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        while True:
            try:
                line = self._queue.get(timeout=5)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return code

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def config_copy(folder: Path, **files: str) -> Path:
    """A copy of config/ in `folder`, with the named files (universe="...", or "claims.csv" via
    **{"claims.csv": ...}) replaced by the given text; point ROTATION_CONFIG_DIR at it."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in (ROOT / "config").iterdir():
        if path.is_file():
            shutil.copyfile(path, folder / path.name)
    for name, text in files.items():
        name = name if "." in name else f"{name}.toml"
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def _quoted(items) -> str:
    return ", ".join(f'"{item}"' for item in items)


def universe_toml(tickers=TICKERS, pairs=PAIRS, series=("DFF",), valuations=(), start: str | None = None,
                  groups: dict[str, tuple[str, ...]] | None = None) -> str:
    """The text of a universe.toml holding just these tickers (in one group, or in `groups`),
    pairs and series."""
    groups = groups or {"all": tuple(tickers)}
    lines = ["[history]", *([f'start = "{start}"'] if start else []), "refetch_sessions = 10", "",
             "[prices.groups]", *(f"{name} = [{_quoted(members)}]" for name, members in groups.items()), ""]
    for small, large in pairs:
        lines += ["[[pairs]]", f'small = "{small}"', f'large = "{large}"', ""]
    lines += ["[rates]", f"series = [{_quoted(series)}]", "", "[valuations]", f"tickers = [{_quoted(valuations)}]"]
    return "\n".join(lines) + "\n"


# A universe small enough for a whole `make run` on the sample in about half a minute, with the
# groups config/models.toml's breadth groups name.
RUN_GROUPS = {"indices": ("^RUT", "^GSPC", "^SP600"), "etfs": ("IWM", "SPY", "QQQ"),
              "sector_etfs": ("XLF", "XLK"), "rotation_stocks": ("KEY", "CAT")}
RUN_SERIES = ("DFF", "DFEDTARU", "DFEDTARL", "DFEDTAR", "DGS2", "DGS10", "T10Y2Y", "BAMLH0A0HYM2")


def run_universe() -> str:
    return universe_toml(pairs=(("IWM", "SPY"), ("^RUT", "^GSPC")), series=RUN_SERIES, valuations=("IWM", "SPY"),
                         start="2024-01-02", groups=RUN_GROUPS)


def small_universe():
    from warehouse.universe import Pair, Universe, load_universe

    base = load_universe()
    return Universe(
        path=base.path, history_start=base.history_start, refetch_sessions=10,
        groups={"etfs": ("IWM", "SPY", "QQQ"), "indices": ("^RUT", "^GSPC")},
        pairs=tuple(Pair(small, large) for small, large in PAIRS),
    )


def load_sample_prices(conn: duckdb.DuckDBPyConnection, first: dt.date = FIRST_DAY, last: dt.date = LAST_DAY,
                       tickers=TICKERS):
    """Sample bars of `tickers` from `first` to `last` into core.prices_daily (the loader's path)."""
    from warehouse.prices import load_prices
    from warehouse.sources.sample import SampleSource

    batch = SampleSource().daily_bars(list(tickers), first, last)
    return load_prices(conn, batch, source="sample", run_id="prepare")


# The models of the small warehouse: the per-ticker and per-pair models over prices.
SMALL_MODELS = ("returns_daily", "pair_sessions", "relative_strength", "outperformance_streaks",
                "highs_drawdowns", "period_returns")


def build_small_models(conn: duckdb.DuckDBPyConnection, **kwargs) -> dict:
    """Build SMALL_MODELS (in build order) on the small universe; {name: BuildResult}."""
    from warehouse import models as sql_models

    params = sql_models.load_params() | {"_breadth_groups": {}}
    sql_models.write_config_tables(conn, small_universe(), params)
    by_name = {m.name: m for m in sql_models.discover()}
    catalog = {m.relation: m for m in by_name.values()}
    out = {}
    for model in sql_models.in_build_order([by_name[n] for n in SMALL_MODELS], params):
        out[model.name] = sql_models.build(conn, model, params, catalog=catalog, **kwargs)
    return out


def small_warehouse(path: Path) -> Path:
    """A warehouse at `path` holding sample prices of TICKERS and SMALL_MODELS built on them."""
    from warehouse.db import connect, ensure_schema

    with connect(path) as conn:
        ensure_schema(conn)
        load_sample_prices(conn)
        build_small_models(conn)
    return path


# Code a child script starts with: the project importable, markers printed and flushed.
PRELUDE = """
import sys, time
def say(*parts):
    print(*parts, flush=True)
"""


# Loaded at interpreter start (sitecustomize) by a run's process (`make run`, a UI run worker):
# takes the warehouse's fingerprint at the start of the step named by FAULT_HOLD, through the
# run's own connection, writes it to FAULT_BEFORE (and the process id to FAULT_BEFORE.pid), and
# holds the step before its COMMIT (or, for the snapshot, before the rename) so it can be killed
# there. It holds once: while FAULT_BEFORE.held exists, later runs (a retry) go through.
SITECUSTOMIZE = '''
import json, os, sys, time

_hold, _out = os.environ.get("FAULT_HOLD"), os.environ.get("FAULT_BEFORE")
if _hold:
    from tests.faults_helpers import fingerprint_of
    from warehouse import changes, models, prices, snapshot

    _armed = []

    def _announce(conn):
        if os.path.exists(_out + ".held"):
            return
        with open(_out, "w") as out:
            json.dump(fingerprint_of(conn), out)
        with open(_out + ".pid", "w") as out:
            out.write(str(os.getpid()))
        _armed.append(True)

    def _stop_here(what):
        open(_out + ".held", "w").close()
        print(f"FAULT HOLD {what}", flush=True)
        time.sleep(600)

    _record = changes.record

    def _recording(conn, relation, *args, **kwargs):
        out = _record(conn, relation, *args, **kwargs)
        if _armed and _hold in ("prices" if relation == "core.prices_daily" else "", f"model:{relation}"):
            _stop_here(relation)
        return out

    changes.record = _recording
    if _hold == "prices":
        _load = prices.load_prices

        def _loading(conn, *args, **kwargs):
            _announce(conn)
            return _load(conn, *args, **kwargs)

        prices.load_prices = _loading
    elif _hold.startswith("model:"):
        _build = models.build

        def _building(conn, model, *args, **kwargs):
            if _hold == f"model:{model.relation}":
                _announce(conn)
            return _build(conn, model, *args, **kwargs)

        models.build = _building
    elif _hold == "publish":
        _publish, _replace = snapshot.publish, os.replace

        def _renaming(src, dst):
            if str(src).endswith(".tmp"):
                _stop_here("publish")
            return _replace(src, dst)

        def _publishing(conn, warehouse):
            _announce(conn)
            os.replace = _renaming
            try:
                return _publish(conn, warehouse)
            finally:
                os.replace = _replace

        snapshot.publish = _publishing
'''


def write_hooks(folder: Path) -> Path:
    """A folder holding SITECUSTOMIZE as sitecustomize.py: put it first on a child's PYTHONPATH."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    return folder
