"""Dagster's overhead on the default universe: the whole graph in process vs the same work alone.

    python -m bench.overhead --repeat 3

Each phase runs in a fresh process with a fresh warehouse file, the sample source and
config/universe.toml (or ROTATION_CONFIG_DIR), the phases alternating:

- dagster: every asset and every asset check, materialised in process on an ephemeral instance the
  way pipelines/run.py does it (one run: the partitioned prices over its whole partition range and
  the rest). The clock runs around the `execute_in_process` call only; loading the definitions is
  not counted.
- alone: the same source reads, warehouse loader calls, model builds (warehouse.models.build in
  build order), check functions (the very CheckDef objects the Dagster checks run), snapshot and
  charts, in one plain process on one connection.
- alone_per_step_connection: the same, opening and closing the warehouse for every asset and
  every asset's checks, as a plain DuckDBResource would make the Dagster steps do. It is not the
  baseline; it shows what sharing one open warehouse across the steps (WarehouseResource) saves.

Each phase reports wall, CPU (all threads) and garbage-collection time of its timed section. The
ratio dagster / alone is the benchmark target (at most 1.5). The breakdown comes from the
Dagster run's event log, as the instance stores it, with the time inside the step compute
functions measured at Dagster's call into them. What the asset bodies do beyond warehouse calls
(inline count queries, metadata values, the instance lookup of the last materialisation) is not
repeated alone: it shows as time inside compute that the plain path does not have.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("dagster", "alone", "alone_per_step_connection")
TARGET = 1.5  # the benchmark issue: the whole graph in Dagster within 1.5x of its SQL and loading alone
TOP_STEPS = 10


# --------------------------------------------------------------------------------------------
# Shared by both phases (in the child process)


def _table_counts(db: Path) -> dict[str, int]:
    from warehouse.db import connect

    with connect(db, read_only=True) as conn:
        tables = conn.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where schema_name in ('core', 'staging', 'marts') order by 1, 2"
        ).fetchall()
        return {
            f"{s}.{t}": conn.execute(f"select count(*) from {s}.{t}").fetchall()[0][0] for s, t in tables
        }


def _load_definitions():
    """The project's definitions, the graph's asset keys and check keys (as strings)."""
    from pipelines.definitions import defs as load_defs

    defs = load_defs()
    graph = defs.resolve_asset_graph()
    assets = {k.to_user_string() for k in graph.get_all_asset_keys()}
    checks = {f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys}
    return defs, assets, checks


def _partition_window() -> tuple[str, str, object, object]:
    """The first and last partition key and the New York days they span, as pipelines/run.py runs them."""
    import pandas as pd

    from pipelines.defs.partitions import monthly_partitions
    from pipelines.run import partition_keys
    from warehouse import calendar

    keys = partition_keys()  # the months the source can have, as `make run` loads them
    first = monthly_partitions.time_window_for_partition_key(keys[0]).start
    end = monthly_partitions.time_window_for_partition_key(keys[-1]).end
    first_day = pd.Timestamp(first).tz_convert(calendar.NEW_YORK).date()
    last_day = (pd.Timestamp(end).tz_convert(calendar.NEW_YORK) - pd.Timedelta(days=1)).date()
    return keys[0], keys[-1], first_day, last_day


class Clock:
    """Wall, CPU (all threads, DuckDB's included) and garbage-collection time of the timed section.

    On a shared machine the CPU time moves less than the wall time; the collector's time shows
    what a larger Python heap costs the same work.
    """

    def __init__(self):
        self.gc_seconds = 0.0
        self.gc_collections = 0
        self._gc_started = None

    def _gc(self, phase, info):
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started is not None:
            self.gc_seconds += time.perf_counter() - self._gc_started
            self.gc_collections += 1
            self._gc_started = None

    def __enter__(self):
        gc.callbacks.append(self._gc)
        self.cpu = time.process_time()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        self.cpu_seconds = time.process_time() - self.cpu
        gc.callbacks.remove(self._gc)

    def report(self) -> dict:
        return {"seconds": self.seconds, "cpu_seconds": self.cpu_seconds, "gc_seconds": self.gc_seconds,
                "gc_collections": self.gc_collections}


# --------------------------------------------------------------------------------------------
# Phase "dagster"


class Probe:
    """Times every event the instance stores and every call into a step's compute function.

    Event writes made from inside a compute function (its context.log calls) are taken out of that
    function's time, so nothing counts twice; a check generator's results are written after it
    yields them, outside its time.
    """

    def __init__(self, instance):
        self.events: list[tuple[float, float, str, str | None, bool]] = []  # start, seconds, type, step, in compute
        self.compute: dict[str, float] = defaultdict(float)
        self.current_step: str | None = None
        self.depth = 0
        self.compute_hooked = False
        original = instance.handle_new_event

        def handle_new_event(event, **kwargs):
            started = time.perf_counter()
            try:
                return original(event, **kwargs)
            finally:
                seconds = time.perf_counter() - started
                kind = event.dagster_event.event_type_value if event.dagster_event else "LOG_MESSAGE"
                if kind == "STEP_START":
                    self.current_step = event.step_key
                self.events.append((started, seconds, kind, event.step_key, self.depth > 0))

        # An attribute on this instance only: the log handler looks the method up on each event.
        instance.handle_new_event = handle_new_event

    def hook_compute(self) -> None:
        # Dagster calls every op's (and asset's, and check's) function through this module-level
        # helper, looked up at call time; a generator function runs later, as it is iterated.
        from dagster._core.execution.plan import compute_generator

        original = getattr(compute_generator, "invoke_compute_fn", None)
        if original is None:
            return
        probe = self

        def invoke_compute_fn(*args, **kwargs):
            step = probe.current_step
            probe.depth += 1
            started = time.perf_counter()
            try:
                result = original(*args, **kwargs)
            finally:
                probe.compute[step] += time.perf_counter() - started
                probe.depth -= 1
            return probe._timed(result, step) if inspect.isgenerator(result) else result

        compute_generator.invoke_compute_fn = invoke_compute_fn
        self.compute_hooked = True

    def _timed(self, generator, step):
        try:
            while True:
                self.depth += 1
                started = time.perf_counter()
                try:
                    item = next(generator)
                except StopIteration as stop:
                    return stop.value
                finally:
                    self.compute[step] += time.perf_counter() - started
                    self.depth -= 1
                yield item
        finally:
            generator.close()

    def breakdown(self, calls: list[tuple[float, float]], seconds: float) -> dict:
        """Where the wall time went; `calls` are the (start, end) of each execute_in_process.

        seconds = compute + event writes + step orchestration + run machinery (+ the moment between
        the two calls): every event write counts once, wherever it happened.
        """
        events = sorted(self.events)
        spans: dict[str, list[float]] = {}
        for started, took, kind, step, _ in events:
            if step is not None and kind == "STEP_START":
                spans.setdefault(step, [started, started])
            elif step is not None and kind in ("STEP_SUCCESS", "STEP_FAILURE") and step in spans:
                spans[step][1] = started + took
        rows = {step: {"step": step, "start": a, "seconds": b - a, "events": 0, "event_writes_seconds": 0.0,
                       "in_compute_writes": 0.0, "materializations": 0, "check_evaluations": 0}
                for step, (a, b) in spans.items()}
        by_start = sorted(rows.values(), key=lambda r: r["start"])
        writes_by_type: dict[str, float] = defaultdict(float)
        outside_step_writes = 0.0
        for started, took, kind, _, inside in events:
            writes_by_type[kind] += took
            # In process, steps run one after another: an event written during a step's span is its.
            row = next((r for r in by_start if r["start"] <= started <= r["start"] + r["seconds"]), None)
            if row is None:
                outside_step_writes += took
                continue
            row["events"] += 1
            row["event_writes_seconds"] += took
            if inside:
                row["in_compute_writes"] += took
            if kind == "ASSET_MATERIALIZATION":
                row["materializations"] += 1
            elif kind == "ASSET_CHECK_EVALUATION":
                row["check_evaluations"] += 1
        hooked = self.compute_hooked
        for r in by_start:
            r["kind"] = "check" if r["check_evaluations"] and not r["materializations"] else "asset"
            r["compute_seconds"] = self.compute.get(r["step"], 0.0) - r.pop("in_compute_writes") if hooked else None
            r["overhead_seconds"] = r["seconds"] - r["compute_seconds"] if hooked else None

        runs = []
        for call_start, call_end in calls:
            mine = [e for e in events if call_start <= e[0] <= call_end]
            kinds: dict[str, float] = defaultdict(float)
            for e in mine:
                kinds[e[2]] += e[1]
            runs.append({
                "seconds": call_end - call_start,
                "steps": [r["step"] for r in by_start if call_start <= r["start"] <= call_end],
                "events": len(mine),
                "event_writes_seconds": sum(e[1] for e in mine),
                "write_seconds_by_type": dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
            })
        setup = between = teardown = 0.0
        for call_start, call_end in calls:
            inside = [r for r in by_start if call_start <= r["start"] <= call_end]
            if not inside:
                setup += call_end - call_start
                continue
            setup += inside[0]["start"] - call_start
            teardown += call_end - (inside[-1]["start"] + inside[-1]["seconds"])
            between += sum(b["start"] - (a["start"] + a["seconds"]) for a, b in zip(inside, inside[1:], strict=False))
        writes = sum(e[1] for e in events)
        compute = sum(r["compute_seconds"] for r in by_start) if hooked else None
        in_step_writes = sum(r["event_writes_seconds"] for r in by_start)
        in_steps = sum(r["seconds"] for r in by_start)
        by_kind = {}
        for kind in ("asset", "check"):
            mine = [r for r in by_start if r["kind"] == kind]
            by_kind[kind] = {
                "steps": len(mine),
                "seconds": sum(r["seconds"] for r in mine),
                "compute_seconds": sum(r["compute_seconds"] for r in mine) if hooked else None,
                "overhead_seconds": sum(r["overhead_seconds"] for r in mine) if hooked else None,
                "event_writes_seconds": sum(r["event_writes_seconds"] for r in mine),
            }
        return {
            "seconds": seconds,
            "compute_seconds": compute,
            "outside_compute_seconds": seconds - compute if hooked else None,
            "outside": {
                "event_writes": writes,
                "step_orchestration": in_steps - compute - in_step_writes if hooked else None,
                "run_machinery": setup + between + teardown - outside_step_writes,
            },
            "timeline": {"run_setup": setup, "in_steps": in_steps,
                         "between_steps": between, "run_teardown": teardown},
            "steps": len(by_start),
            "runs": runs,
            "by_kind": by_kind,
            "events": {
                "count": len(events),
                "by_type": dict(Counter(e[2] for e in events).most_common()),
                "write_seconds_by_type": dict(sorted(writes_by_type.items(), key=lambda kv: -kv[1])),
            },
            "per_step": [{k: v for k, v in r.items() if k != "start"} for r in by_start],
        }


def run_dagster(db: Path) -> dict:
    import dagster as dg

    defs, assets, checks = _load_definitions()
    first, last, _, _ = _partition_window()
    graph = defs.get_repository_def().asset_graph
    partitioned = [k for k in graph.get_all_asset_keys() if graph.get(k).partitions_def is not None]
    others = [k for k in graph.get_all_asset_keys() if k not in partitioned]
    job = defs.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.ephemeral()
    probe = Probe(instance)
    probe.hook_compute()

    # One run, as pipelines/run.py does it: the prices over their range and everything else.
    runs = [(partitioned + others, {"dagster/asset_partition_range_start": first,
                                    "dagster/asset_partition_range_end": last} if partitioned else {})]
    calls, results = [], []
    with Clock() as clock:
        for selection, tags in runs:
            t = time.perf_counter()
            result = job.execute_in_process(
                instance=instance, asset_selection=selection, tags=tags, raise_on_error=False
            )
            calls.append((t, time.perf_counter()))
            results.append(result)
            if not result.success:
                break
    seconds = clock.seconds

    evaluations = [
        e for r in results for e in r.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    outcomes = {
        f"{e.event_specific_data.asset_key.to_user_string()}:{e.event_specific_data.check_name}":
            bool(e.event_specific_data.passed)
        for e in evaluations
    }
    materialized = {
        e.asset_key.to_user_string()
        for r in results
        for e in r.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    }
    failures = [
        f"{e.step_key}: {e.event_specific_data.error.message.strip() if e.event_specific_data.error else ''}"
        for r in results
        for e in r.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]
    return {
        **clock.report(),
        "success": all(r.success for r in results) and len(results) == len(runs),
        "failures": failures,
        "runs": len(results),
        "assets": sorted(materialized),
        "assets_expected": len(assets),
        "checks": outcomes,
        "checks_expected": len(checks),
        "breakdown": probe.breakdown(calls, seconds),
    }


# --------------------------------------------------------------------------------------------
# Phase "alone"


def _check_defs(defs) -> dict[str, list]:
    """asset key -> the CheckDef objects its Dagster check op runs, read from the op's closure.

    pipelines/defs/checks/common.py builds each op around its list of CheckDefs; taking that list
    keeps the plain path on exactly the checks, lambdas and thresholds keys Dagster runs.
    """
    out: dict[str, list] = {}
    for checks_def in defs.asset_checks or []:
        fn = checks_def.node_def.compute_fn.decorated_fn
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False))
        if "checks" not in cells or "asset_key" not in cells:
            raise RuntimeError(
                f"{checks_def.node_def.name}: not built by pipelines.defs.checks.common.asset_checks; "
                "bench/overhead.py cannot run its checks without Dagster"
            )
        out.setdefault(cells["asset_key"].cell_contents.to_user_string(), []).extend(cells["checks"].cell_contents)
    return out


class Alone:
    """The graph's work without Dagster; records what it covered and how long each part took.

    With `per_step` it opens (and closes) a warehouse connection for each asset and each asset's
    checks, as the Dagster steps do through DuckDBResource; otherwise everything shares one.
    """

    def __init__(self, db: Path, run_id: str, checks: dict[str, list], per_step: bool):
        from warehouse.db import connect

        self.db, self.run_id, self.checks, self.per_step = db, run_id, checks, per_step
        self.connect = lambda: connect(db)
        self.conn = None if per_step else self.connect()
        self.assets: list[str] = []
        self.outcomes: dict[str, bool] = {}
        self.parts: dict[str, float] = defaultdict(float)
        self.steps: dict[str, float] = {}  # named as the Dagster step doing the same work

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def timed(self, part: str, fn, *args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.parts[part] += time.perf_counter() - started

    def _in_step(self, step: str, part: str, fn) -> None:
        started = time.perf_counter()
        if self.per_step:
            with self.connect() as conn:
                self.conn = conn
                self.timed(part, fn)
            self.conn = None
        else:
            self.timed(part, fn)
        self.steps[step] = time.perf_counter() - started

    def asset(self, key: str, part: str, fn) -> None:
        step = key.replace("/", "__")
        self._in_step(step, part, fn)
        self.assets.append(key)
        if self.checks.get(key):
            self._in_step(f"{step}__checks", "checks", lambda: self.run_checks(key))

    def run_checks(self, key: str) -> None:
        from pipelines.defs.checks.common import RunInfo
        from warehouse.checks.base import CheckOutcome, markdown_table
        from warehouse.checks.config import load_config

        config = load_config()
        info = RunInfo(run_id=self.run_id, load_run_id=self.run_id)
        for check in self.checks[key]:
            thresholds = config.get(check.config_key, {}) if check.config_key else {}
            try:
                outcome = check.run(self.conn, thresholds, info)
            except Exception as exc:  # as the Dagster op does: a check that cannot run fails
                outcome = CheckOutcome(check.name, False, f"could not run: {type(exc).__name__}: {exc}", failing=1)
            markdown_table(outcome.columns, outcome.rows, outcome.failing)
            self.outcomes[f"{key}:{check.name}"] = bool(outcome.passed)


def run_alone(db: Path, per_step: bool = False) -> dict:
    from pipelines.defs.ingest.valuations import HEADLINE_METRIC, HEADLINE_TICKERS
    from warehouse import calendar, reports, settings
    from warehouse import models as sql_models
    from warehouse import rates as rates_db
    from warehouse.claims import load_claims
    from warehouse.db import ensure_schema
    from warehouse.prices import load_prices
    from warehouse.snapshot import open_for_reading, publish
    from warehouse.sources.base import open_source
    from warehouse.sources.rates import open_rates_source
    from warehouse.sources.valuations import SnapshotDateError, open_valuations_source
    from warehouse.universe import load_universe
    from warehouse.valuations import latest_figures, load_published, load_valuations

    # What Dagster works out when the definitions load, worked out here before the clock too.
    defs, assets_expected, checks_expected = _load_definitions()
    checks = _check_defs(defs)
    params = sql_models.load_params()
    discovered = sql_models.discover()
    ordered = sql_models.in_build_order(discovered, params)
    # The keywords the model assets pass, where this version of the model runner takes them.
    accepted = inspect.signature(sql_models.build).parameters
    build_kwargs = {k: v for k, v in {"catalog": {m.relation: m for m in discovered}}.items() if k in accepted}
    _, _, first_day, last_day = _partition_window()
    kind, files = settings.source_kind(), settings.files_dir()
    run_id = f"alone-{uuid.uuid4()}"

    w: Alone  # the steps below read the connection of the step they run in from it

    def members():
        from warehouse.members import load_snapshots, stored_snapshots
        from warehouse.sources.members import open_members_source

        universe = load_universe()
        if not universe.indexes:
            return
        ensure_schema(w.conn)
        source = open_members_source(kind, files)
        start = universe.history_start if universe.start_configured else None
        batch = w.timed("source reads", source.snapshots, universe.indexes, stored_snapshots(w.conn),
                        calendar.last_completed_session(), start)
        load_snapshots(w.conn, batch.snapshots, source=source.name, run_id=run_id)

    def prices():
        # The asset's own rules for where a run starts, which members it fetches from when, and
        # what it leaves out before the start.
        from pipelines.defs.ingest.prices import fetch_groups, fetch_start, leave_out_before, plan_members

        universe = load_universe()
        sessions = calendar.sessions(first_day, min(last_day, calendar.last_completed_session()))
        source = open_source(kind, files)
        fetch_from = fetch_start(universe, source, first_day, sessions[0])
        ensure_schema(w.conn)
        plan = plan_members(w.conn, universe, fetch_from, sessions[-1], None)
        batch = w.timed("source reads", fetch_groups, source, plan.groups)
        leave_out_before(batch, universe.history_start)
        load_prices(w.conn, batch, source=source.name, run_id=run_id)

    def claims():
        ensure_schema(w.conn)
        load_claims(w.conn)

    def reference():
        ensure_schema(w.conn)
        rates_db.load_fomc_reference(w.conn)

    def published():
        if kind != "sample":  # the asset skips the file for the sample warehouse
            ensure_schema(w.conn)
            load_published(w.conn, run_id=run_id)

    def valuations():
        universe = load_universe()
        day = calendar.last_completed_session()
        source = open_valuations_source(kind, files)
        try:
            batch = w.timed("source reads", source.valuations, universe.valuation_tickers, day, universe.history_start)
        except SnapshotDateError:
            return
        ensure_schema(w.conn)
        load_valuations(w.conn, batch, source=source.name, run_id=run_id)
        latest_figures(w.conn, HEADLINE_TICKERS, HEADLINE_METRIC, source.name)

    def rates():
        universe = load_universe()
        ensure_schema(w.conn)
        starts = rates_db.fetch_starts(w.conn, universe.rate_series, universe.revision_days)
        source = open_rates_source(kind, files, api_key=os.environ.get("FRED_API_KEY"),
                                   base_url=os.environ.get("ROTATION_FRED_BASE_URL"))
        batch = w.timed("source reads", source.observations, universe.rate_series, starts)
        rates_db.load_rates(w.conn, batch, source=source.name, run_id=run_id)

    def policy():
        ensure_schema(w.conn)
        rates_db.rebuild_policy_rate_daily(w.conn)
        rates_db.latest_policy(w.conn)

    def decisions():
        ensure_schema(w.conn)
        rates_db.rebuild_fomc_decisions(w.conn)
        rates_db.latest_easing_cycle(w.conn)

    def universe_config():
        universe = load_universe()
        ensure_schema(w.conn)
        sql_models.write_config_tables(w.conn, universe, sql_models.load_params())

    def model(m):
        def build():
            sql_models.build(w.conn, m, params, **build_kwargs, **({"run_id": run_id} if "run_id" in accepted else {}))
            sql_models.column_types(w.conn, m.relation)
        return build

    def snapshot():
        publish(w.conn, db)

    def charts():
        reader, _ = open_for_reading(db)
        with reader:
            report = reports.render(reader, db.parent / "reports")
            dashboard = reports.dashboard_table(reader)
        if dashboard is not None:
            reports.markdown_table(dashboard)
        for name, path in report.charts.items():
            reports.embedded_markdown(path, name)

    with Clock() as clock:
        w = Alone(db, run_id, checks, per_step)
        try:
            w.asset("core/index_members", "loads", members)
            w.asset("core/prices_daily", "loads", prices)
            w.asset("core/published_claims", "loads", claims)
            w.asset("core/fomc_reference", "loads", reference)
            w.asset("core/valuations_published", "loads", published)
            w.asset("core/valuations", "loads", valuations)
            w.asset("core/rates_daily", "loads", rates)
            w.asset("core/policy_rate_daily", "loads", policy)
            w.asset("core/fomc_decisions", "loads", decisions)
            w.asset("config/universe", "models", universe_config)
            for m in ordered:
                w.asset(f"{m.layer}/{m.name}", "models", model(m))
            w.asset("reports/read_snapshot", "snapshot and charts", snapshot)
            w.asset("reports/rotation_charts", "snapshot and charts", charts)
        finally:
            w.close()

    parts = dict(w.parts)
    # Source reads happen inside the loads; report them apart.
    parts["loads"] = parts.get("loads", 0.0) - parts.get("source reads", 0.0)
    missing_assets = sorted(assets_expected - set(w.assets))
    missing_checks = sorted(checks_expected - set(w.outcomes))
    if missing_assets or missing_checks:
        raise RuntimeError(
            "the plain path does not cover the whole graph: add these to bench/overhead.py run_alone: "
            f"assets {missing_assets}, checks {missing_checks}"
        )
    return {**clock.report(), "success": True, "assets": sorted(w.assets), "assets_expected": len(assets_expected),
            "checks": w.outcomes, "checks_expected": len(checks_expected), "parts": parts, "steps": w.steps}


# --------------------------------------------------------------------------------------------
# The parent: fresh processes, alternating, medians


def _spawn(phase: str, env: dict) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"rotation-overhead-{phase}-"))
    db = folder / "warehouse.duckdb"
    try:
        cmd = [sys.executable, "-m", "bench.overhead", "--phase", phase, "--db", str(db)]
        # Files, not pipes: Dagster logs every event to stderr and a full pipe would stall the child.
        with open(folder / "out.txt", "w+") as out, open(folder / "err.txt", "w+") as err:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env={**env, "ROTATION_WAREHOUSE": str(db)},
                                    cwd=ROOT)
            _, status, usage = os.wait4(proc.pid, 0)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"overhead phase {phase} failed:\n{stderr[-3000:]}")
        line = next(ln for ln in stdout.splitlines() if ln.startswith("BENCH "))
        result = json.loads(line[6:])
        result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux reports kilobytes
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _child_env(config_dir: Path | None) -> dict:
    env = {**os.environ, "ROTATION_SOURCE": "sample", "PYTHONPATH": str(ROOT)}
    env.pop("DAGSTER_HOME", None)  # the phase uses an ephemeral instance; keep the project's history out of it
    if config_dir is not None:
        env["ROTATION_CONFIG_DIR"] = str(config_dir)
    return env


def _median(values) -> float:
    return statistics.median(list(values))


def measure(repeat: int = 3, *, config_dir: Path | None = None, per_step_connections: bool = True,
            progress: bool = False) -> dict:
    """Each phase `repeat` times in fresh processes, alternating the order; medians, ratio, breakdown.

    `per_step_connections` adds the plain path once more with a connection per step: what
    reopening the warehouse in every step would cost.
    """
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    env = _child_env(config_dir)
    load_before = os.getloadavg()
    phases = PHASES if per_step_connections else PHASES[:2]
    runs: dict[str, list[dict]] = {p: [] for p in phases}
    for i in range(repeat):
        for phase in phases if i % 2 == 0 else phases[::-1]:
            result = _spawn(phase, env)
            if not result["success"]:
                raise RuntimeError(
                    f"the {phase} phase did not materialise the whole graph: {result.get('failures') or result}")
            runs[phase].append(result)
            if progress:
                print(f"  run {i + 1}/{repeat} {phase:<25} {result['seconds']:7.2f} s  "
                      f"peak {result['peak_rss_mb']:6.0f} MB", flush=True)

    seconds = {p: _median(r["seconds"] for r in runs[p]) for p in phases}
    clocks = {
        p: {k: _median(r[k] for r in runs[p]) for k in ("cpu_seconds", "gc_seconds", "gc_collections")}
        for p in phases
    }
    # The breakdown of one whole Dagster run (its parts add up): the run at the median.
    by_time = sorted(runs["dagster"], key=lambda r: r["seconds"])
    b = by_time[(len(by_time) - 1) // 2]["breakdown"]
    alone_steps = {s: _median(r["steps"][s] for r in runs["alone"]) for s in runs["alone"][0]["steps"]}
    per_step_steps = (
        {s: _median(r["steps"][s] for r in runs[PHASES[2]]) for s in runs[PHASES[2]][0]["steps"]}
        if per_step_connections else {}
    )
    rows = []
    for r in b.pop("per_step"):
        alone = alone_steps.get(r["step"])
        rows.append({**r, "alone_seconds": alone, "alone_per_step_connection_seconds": per_step_steps.get(r["step"]),
                     "extra_seconds": r["seconds"] - alone if alone is not None else None})
    top = sorted(rows, key=lambda r: -(r["extra_seconds"] or 0.0))[:TOP_STEPS]
    for run in b["runs"]:
        run["alone_seconds"] = sum(alone_steps.get(step, 0.0) for step in run["steps"])
    compute = b["compute_seconds"]
    inside = None
    if compute is not None:
        # The time inside the step functions, against the same work alone (medians of each phase).
        # The Dagster steps share one open warehouse (WarehouseResource), so the per-step
        # connection phase is a reference for what reopening would cost, not a share of this.
        inside = {"alone_work": seconds["alone"], "beyond_the_alone_work": compute - seconds["alone"]}
    counts = {p: runs[p][-1]["table_rows"] for p in phases}
    checks = {p: runs[p][-1]["checks"] for p in phases}
    ratio = seconds["dagster"] / seconds["alone"]
    out = {
        "repeat": repeat,
        "universe": str(Path(config_dir or os.environ.get("ROTATION_CONFIG_DIR") or ROOT / "config") / "universe.toml"),
        "source": "sample",
        # Other work on the machine shows here; the alternating order spreads it over both phases.
        "load_average": {"before": load_before[0], "after": os.getloadavg()[0]},
        "dagster": {
            "seconds": seconds["dagster"],
            "runs_seconds": [r["seconds"] for r in runs["dagster"]],
            **clocks["dagster"],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs["dagster"]),
            "steps": b["steps"],
            "assets": len(runs["dagster"][-1]["assets"]),
            "checks": len(checks["dagster"]),
        },
        "alone": {
            "seconds": seconds["alone"],
            "runs_seconds": [r["seconds"] for r in runs["alone"]],
            **clocks["alone"],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs["alone"]),
            "parts": {k: _median(r["parts"].get(k, 0.0) for r in runs["alone"]) for k in runs["alone"][0]["parts"]},
            "assets": len(runs["alone"][-1]["assets"]),
            "checks": len(checks["alone"]),
        },
        "ratio": ratio,
        "cpu_ratio": clocks["dagster"]["cpu_seconds"] / clocks["alone"]["cpu_seconds"],
        "target": TARGET,
        "met": ratio <= TARGET,
        "breakdown": {**b, "inside_compute": inside, "top_steps": top},
        "row_counts": counts,
        "row_counts_match": all(c == counts["dagster"] for c in counts.values()),
        "check_outcomes_match": all(c == checks["dagster"] for c in checks.values()),
        "checks_failed": {p: sorted(k for k, ok in checks[p].items() if not ok) for p in phases},
    }
    if per_step_connections:
        out[PHASES[2]] = {
            "seconds": seconds[PHASES[2]],
            "runs_seconds": [r["seconds"] for r in runs[PHASES[2]]],
            **clocks[PHASES[2]],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs[PHASES[2]]),
        }
    return out


def render(result: dict) -> str:
    d, a, b = result["dagster"], result["alone"], result["breakdown"]
    o, total = b["outside"], b["seconds"]

    def sec(v) -> str:
        return f"{v:7.2f} s" if v is not None else "    n/a"

    def share(v) -> str:
        return f"{100 * v / total:5.1f}%" if v is not None and total else "     "

    def ms(v) -> str:
        return f"{1000 * v:.0f}" if v is not None else "n/a"

    def clock(phase: dict) -> str:
        return f"cpu {phase['cpu_seconds']:6.2f} s, gc {phase['gc_seconds']:5.2f} s"

    lines = [
        f"Dagster overhead: sample source, {result['universe']}, median of {result['repeat']} "
        "(each run a fresh process and warehouse file)",
        f"  load average {result['load_average']['before']:.1f} before, {result['load_average']['after']:.1f} after",
        "",
        f"  dagster  whole graph in process      {sec(d['seconds'])}  ({clock(d)})  {d['assets']} assets, "
        f"{d['checks']} checks, {d['steps']} steps; peak {d['peak_rss_mb']:.0f} MB",
        f"  alone    same work, plain Python     {sec(a['seconds'])}  ({clock(a)})  {a['assets']} assets, "
        f"{a['checks']} checks; peak {a['peak_rss_mb']:.0f} MB",
    ]
    if PHASES[2] in result:
        c = result[PHASES[2]]
        lines.append(f"  alone, a connection per step        {sec(c['seconds'])}  ({clock(c)})  "
                     "for reference: reopening the warehouse in every step")
    lines += [
        f"  ratio dagster / alone                 {result['ratio']:5.2f}x   target <= {result['target']}x: "
        f"{'met' if result['met'] else 'NOT met'} (in CPU time {result['cpu_ratio']:.2f}x)",
        f"  same rows in every core and marts table: {'yes' if result['row_counts_match'] else 'NO'}; "
        f"same check outcomes: {'yes' if result['check_outcomes_match'] else 'NO'}",
        "  alone by part: " + "; ".join(f"{k} {v:.2f} s" for k, v in sorted(a["parts"].items(), key=lambda kv: -kv[1])),
        "",
        f"Where the median Dagster run's {total:.2f} s went:",
        f"  inside step compute functions        {sec(b['compute_seconds'])}  {share(b['compute_seconds'])}",
    ]
    for name, v in (b["inside_compute"] or {}).items():
        lines.append(f"    {name.replace('_', ' '):<34} {sec(v)}  {share(v)}")
    lines += [
        f"  outside them                         {sec(b['outside_compute_seconds'])}  "
        f"{share(b['outside_compute_seconds'])}",
        f"    event log writes                   {sec(o['event_writes'])}  {share(o['event_writes'])}  "
        f"{b['events']['count']} events",
        f"    step orchestration                 {sec(o['step_orchestration'])}  {share(o['step_orchestration'])}  "
        "inside steps, neither compute nor event writes",
        f"    run machinery                      {sec(o['run_machinery'])}  {share(o['run_machinery'])}  "
        f"before, between and after steps (setup {b['timeline']['run_setup']:.2f} s with its writes)",
        "",
        "  by run (as pipelines/run.py: one run, the partitioned prices over the source's months and the rest):",
    ]
    for i, run in enumerate(b["runs"], 1):
        named = ", ".join(run["steps"][:2]) + (", ..." if len(run["steps"]) > 2 else "")
        lines.append(f"    run {i}: {run['seconds']:6.2f} s for {len(run['steps']):2d} steps ({named}); the same steps "
                     f"alone {run['alone_seconds']:.2f} s; {run['events']} events written in "
                     f"{run['event_writes_seconds']:.2f} s")
    lines += [
        "",
        "  by step kind:",
    ]
    for kind, k in b["by_kind"].items():
        per = k["overhead_seconds"] / k["steps"] if k["steps"] and k["overhead_seconds"] is not None else None
        lines.append(f"    {kind:<6} {k['steps']:3d} steps  {k['seconds']:6.2f} s, "
                     f"compute {sec(k['compute_seconds'])}, framework {sec(k['overhead_seconds'])} "
                     f"({ms(per)} ms a step, "
                     f"{k['event_writes_seconds']:.2f} s of it event writes)")
    writes = b["events"]["write_seconds_by_type"]
    lines += [
        "",
        "  event writes by type: " + ", ".join(
            f"{kind} {b['events']['by_type'][kind]} ({v:.2f} s)" for kind, v in list(writes.items())[:6]),
        "",
        f"  top {len(b['top_steps'])} steps by time beyond the same work alone (milliseconds):",
        f"    {'step':<40} {'kind':<5} {'alone':>6} {'1 conn':>6} {'step':>6} {'compute':>7} {'framework':>9} "
        f"{'extra':>6} {'events':>6}",
    ]
    for r in b["top_steps"]:
        lines.append(
            f"    {r['step'][:40]:<40} {r['kind']:<5} {ms(r['alone_seconds']):>6} "
            f"{ms(r['alone_per_step_connection_seconds']):>6} {ms(r['seconds']):>6} {ms(r['compute_seconds']):>7} "
            f"{ms(r['overhead_seconds']):>9} {ms(r['extra_seconds']):>6} {r['events']:6d}"
        )
    lines.append("    (alone: one connection; 1 conn: a connection per step; framework: step minus compute; "
                 "extra: step minus alone)")
    if not result["row_counts_match"]:
        lines += ["", "  row counts differ: " + json.dumps(result["row_counts"])]
    if not result["check_outcomes_match"]:
        lines += ["", "  failing checks differ: " + json.dumps(result["checks_failed"])]
    return "\n".join(lines)


def _phase_main(phase: str, db: Path) -> None:
    out = run_dagster(db) if phase == "dagster" else run_alone(db, per_step=phase == PHASES[2])
    # A failed step can leave its connection open in this process; the parent reports the failure.
    out["table_rows"] = _table_counts(db) if out["success"] else {}
    out["pid"] = os.getpid()
    print("BENCH " + json.dumps(out, default=str), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-per-step", action="store_true",
                        help="skip the plain path with a connection per step (it only explains the breakdown)")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        _phase_main(args.phase, args.db)
        return 0
    result = measure(args.repeat, per_step_connections=not args.no_per_step, progress=True)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
