"""The daily run at index size: one new session for an index of N members, through the path the
schedule takes, against the full build.

    python -m bench.members_daily                                  # 2,700 members, 30 years
    python -m bench.members_daily --members 40 --years 2 --no-write  # a quick look

The warehouse (phase `setup`, not part of either figure): the benchmark's configured tickers, and
one index, `russell_3000`, of N members with a snapshot at every month end of the history; each
month two members leave and two join, 150 at the June reconstitution. Every member's prices are
what the prices ingest keeps for it (warehouse/price_universe.py): from its first snapshot less
the models' longest window, to the session before the snapshot that dropped it. Everything up to
the session before the last closed one, D-1; bars come from the sample generator.

- `full`: every model built from scratch through Dagster, in process (as `bench.phase dagster`).
- `daily`: session D, as the schedule runs it: the `daily_prices` job of the definitions (its
  asset checks included) for D's month: the index's snapshot of D (one member joins, one leaves:
  the newcomer's history is backfilled in this run), then the month's bars of the configured
  tickers and every member (plus the re-fetched sessions before it); then every model's
  incremental update through Dagster, as the automation sensor follows. The bars come from the
  sample generator: the time it spends making them is reported apart (`source_seconds`); the
  live source's network time cannot be measured offline (see the notes in BENCHMARKS.md).

Each phase runs in a fresh process (peak memory is its own); the target: daily at most 5% of full.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
INDEX_ID = "russell_3000"
FUND = "IWV"
INDEX_SYMBOL = "^RUA"
# The configured tickers: the main benchmark's, and the symbol the index is compared with.
CONFIGURED = ["^RUT", "^GSPC", INDEX_SYMBOL, "IWM", "SPY", "QQQ", "IJR", "RSP"]
MONTHLY_CHANGES = 2
JUNE_CHANGES = 150  # the Russell reconstitution replaces a few percent of the index each June
SECTORS = ("Communication", "Consumer Discretionary", "Consumer Staples", "Energy", "Financials",
           "Health Care", "Industrials", "Information Technology", "Materials", "Real Estate", "Utilities")
TARGET = 0.05
PHASES = ("setup", "full", "daily", "newcomer")


def member(i: int) -> str:
    return f"M{i:04d}"


# -- the synthetic index -----------------------------------------------------------------------------


def days(years: int) -> tuple[dt.date, dt.date, dt.date, dt.date]:
    """The first session of the history, the last one the setup loads (D-2), the plain day's
    session (D-1) and the newcomer day's (D, the last closed session)."""
    from bench import workload
    from warehouse import calendar

    start, new_day = workload.date_range(years)
    return start, calendar.shift_sessions(new_day, -2), calendar.shift_sessions(new_day, -1), new_day


def snapshot_dates(first: dt.date, last: dt.date) -> list[dt.date]:
    """The last session of every month from `first` to `last` (a month ending after `last` is out)."""
    from warehouse import calendar

    sessions = calendar.sessions(first, calendar.shift_sessions(last, 1))
    return [d for d, nxt in zip(sessions, sessions[1:], strict=False) if nxt.month != d.month and d <= last]


def membership(members: int, dates: list[dt.date], extra: tuple[tuple[dt.date, int], ...] = ()
               ) -> list[tuple[dt.date, list[str]]]:
    """The members on each date: N names at the first, then each month a few leave and as many
    new names join (more in June); on each `extra` (day, changes), that many. Deterministic."""
    rng = np.random.default_rng(20261201)
    current = [member(i) for i in range(members)]
    next_id = members
    out = []
    schedule = [(d, JUNE_CHANGES if d.month == 6 else MONTHLY_CHANGES) for d in dates] + list(extra)
    for k, (day, changes) in enumerate(schedule):
        if k:
            changes = min(changes, len(current))
            leave = set(rng.choice(len(current), size=changes, replace=False).tolist())
            joining = [member(next_id + j) for j in range(changes)]
            current = [t for i, t in enumerate(current) if i not in leave] + joining
            next_id += changes
        out.append((day, list(current)))
    return out


def snapshot(day: dt.date, tickers: list[str]):
    import pandas as pd

    from warehouse.sources.members import Snapshot

    size = np.array([np.exp((zlib.crc32(t.encode()) % 1000) / 250.0) for t in tickers])
    frame = pd.DataFrame({
        "ticker": tickers,
        "holding_ticker": tickers,
        "name": [f"{t} Corp" for t in tickers],
        "sector": [SECTORS[zlib.crc32(t.encode()) % len(SECTORS)] for t in tickers],
        "weight": size / size.sum(),
    })
    return Snapshot(INDEX_ID, FUND, day, frame, origin="bench")


class BenchMembersSource:
    """The index's snapshots as a membership source: monthly over the history, then one per
    session as the live source goes on: D-1 with the same members, D with one newcomer."""

    name = "sample"

    def __init__(self, members: int, years: int, snapshot_years: int, until: dt.date | None = None):
        self.members, self.years, self.snapshot_years, self.until = members, years, snapshot_years, until

    def plan(self, daily: bool = True) -> list[tuple[dt.date, list[str]]]:
        from warehouse import calendar

        start, last, plain_day, new_day = days(self.years)
        first = max(start, calendar.shift_sessions(last, -252 * self.snapshot_years))
        extra = ((plain_day, 0), (new_day, 1)) if daily else ()
        return membership(self.members, snapshot_dates(first, last), extra)

    def snapshots(self, indexes, stored, until, start=None):
        from warehouse.sources.members import MembersBatch

        held = stored.get(INDEX_ID, set())
        if INDEX_ID not in {spec.index_id for spec in indexes}:
            return MembersBatch()
        until = min(until, self.until) if self.until else until
        return MembersBatch(snapshots=[snapshot(d, t) for d, t in self.plan() if d <= until and d not in held])


def market_source(n_members: int, n_years: int, n_snapshot_years: int, until: dt.date):
    """The Dagster resource: the sample's prices from the benchmark's first session (so re-fetched
    bars equal the stored ones, as a real source's would), and the benchmark's index members."""
    from pipelines.defs.resources import MarketSourceResource
    from warehouse.sources.sample import SampleSource

    class BenchMarketSource(MarketSourceResource):
        bench_members: int = 0
        bench_years: int = 0
        bench_snapshot_years: int = 0
        bench_until: str = ""  # the session the run plays as the last closed one

        def prices(self):
            return TimedSource(SampleSource(start=days(self.bench_years)[0]), dt.date.fromisoformat(self.bench_until))

        def members(self):
            return BenchMembersSource(self.bench_members, self.bench_years, self.bench_snapshot_years,
                                      dt.date.fromisoformat(self.bench_until))

    return BenchMarketSource(kind="sample", bench_members=n_members, bench_years=n_years,
                             bench_snapshot_years=n_snapshot_years, bench_until=until.isoformat())


class TimedSource:
    """A price source that adds the time it spends making bars to TimedSource.seconds, and has
    no bar after `until` (the day the run plays; the sample has every session to the present)."""

    seconds = 0.0

    def __init__(self, inner, until: dt.date):
        self.inner, self.name, self.until = inner, inner.name, until

    def daily_bars(self, tickers, start, end):
        started = time.perf_counter()
        try:
            return self.inner.daily_bars(tickers, start, min(end, self.until))
        finally:
            TimedSource.seconds += time.perf_counter() - started

    def first_date(self, tickers):
        return self.inner.first_date(tickers)


# -- the config folder ------------------------------------------------------------------------------


def write_config(folder: Path) -> Path:
    """config/ with the benchmark's universe (its tickers, the shipped pairs, one index) and the
    shipped model parameters, breadth groups pointed at the benchmark's groups."""
    from warehouse.universe import load_universe

    folder.mkdir(parents=True, exist_ok=True)
    for path in (ROOT / "config").iterdir():
        if path.is_file() and path.suffix != ".toml":
            shutil.copy(path, folder / path.name)
    for name in ("checks.toml",):
        shutil.copy(ROOT / "config" / name, folder / name)
    shipped = load_universe(ROOT / "config" / "universe.toml")
    pairs = "".join(f'[[pairs]]\nsmall = "{p.small}"\nlarge = "{p.large}"\n\n' for p in shipped.pairs)
    quoted = ", ".join(f'"{t}"' for t in CONFIGURED[3:])
    (folder / "universe.toml").write_text(
        '[history]\nstart = "1990-01-02"\n\n[prices.groups]\n'
        f'indices = ["^RUT", "^GSPC", "{INDEX_SYMBOL}"]\netfs = [{quoted}]\n\n{pairs}'
        f'[indexes.{INDEX_ID}]\nfund = "{FUND}"\nindex_symbol = "{INDEX_SYMBOL}"\n'
        'page = "/us/products/239714/ishares-russell-3000-etf"\n'
    )
    text = (ROOT / "config" / "models.toml").read_text()
    groups = tomllib.loads(text).get("breadth", {}).get("groups", {})
    named = tuple(f"{g} " for g in groups) + tuple(f"{g}=" for g in groups)
    lines = [ln for ln in text.splitlines() if not ln.startswith(named)]
    (folder / "models.toml").write_text("\n".join(lines).replace(
        "[breadth.groups]", '[breadth.groups]\netfs = "etfs"\nsectors = "indices"') + "\n")
    return folder


# -- the phases (each in its own process) -----------------------------------------------------------


def setup(db: Path, members: int, years: int, snapshot_years: int) -> dict:
    """The warehouse up to D-1: the monthly snapshots, then every ticker's prices over its span."""
    import pyarrow as pa

    from warehouse import price_universe
    from warehouse.db import connect, ensure_schema
    from warehouse.load import upsert
    from warehouse.members import load_snapshots
    from warehouse.prices import PRICES
    from warehouse.sources.sample import SampleSource
    from warehouse.universe import load_universe

    started = time.perf_counter()
    universe = load_universe()
    start, last, _, _ = days(years)
    plan = BenchMembersSource(members, years, snapshot_years).plan(daily=False)
    window = price_universe.window_sessions()
    with connect(db) as conn:
        ensure_schema(conn)
        load_snapshots(conn, [snapshot(d, t) for d, t in plan], source="sample", run_id="bench-setup")
        spans = price_universe.member_spans(conn, window, universe.history_start)
    source = SampleSource(start=start)
    ranges = [(t, start, last) for t in universe.tickers]
    ranges += [(t, s.start, min(s.until or last, last)) for t, s in sorted(spans.items())]
    parts = []
    for ticker, first, until in ranges:
        frame = source.market.bars(ticker, max(first, start), until)
        if len(frame):
            table = pa.Table.from_pandas(frame, preserve_index=False)
            parts.append(table.set_column(1, "trade_date", table["trade_date"].cast(pa.date32())))
    # In date order, as monthly partitions lay the table out (see bench/workload.py).
    bars = pa.concat_tables(parts).sort_by([("trade_date", "ascending"), ("ticker", "ascending")])
    with connect(db) as conn:
        upsert(conn, PRICES, bars, source="sample", run_id="bench-setup")
        counts = conn.execute(
            "select (select count(*) from core.prices_daily), (select count(distinct ticker) from core.prices_daily), "
            "(select count(*) from core.index_members), (select count(distinct as_of_date) from core.index_members)"
        ).fetchone()
    return {"seconds": time.perf_counter() - started, "price_rows": counts[0], "tickers": counts[1],
            "member_rows": counts[2], "snapshots": counts[3], "members_ever": len(spans),
            "members_latest": len(plan[-1][1]), "window_sessions": window, "last_day": str(last)}


def build_models(db: Path) -> dict:
    """Every model through Dagster, in process, without checks (as `bench.phase dagster`), with
    each model's step time and build mode."""
    import dagster as dg

    from pipelines.definitions import defs as load_defs

    os.environ["ROTATION_WAREHOUSE"] = str(db)  # the resources read it when the definitions load
    defs = load_defs()
    graph = defs.resolve_asset_graph()
    selection = [k for k in graph.get_all_asset_keys() if k.path[0] in ("marts", "staging", "config")]
    models_job = dg.define_asset_job("bench_models", selection=dg.AssetSelection.assets(*selection).without_checks())
    job = dg.Definitions.merge(defs, dg.Definitions(jobs=[models_job])).resolve_job_def("bench_models")
    instance = dg.DagsterInstance.ephemeral()
    started = time.perf_counter()
    result = job.execute_in_process(instance=instance, raise_on_error=True)
    seconds = time.perf_counter() - started
    modes, per_model, rebuilt_from = {}, {}, {}
    for event in result.get_asset_materialization_events():
        entry = event.materialization.metadata.get("build_mode")
        if entry is not None:
            modes[event.materialization.asset_key.to_user_string()] = entry.value
        since = event.materialization.metadata.get("rebuilt_from")
        if since is not None:
            rebuilt_from[event.materialization.asset_key.to_user_string()] = str(since.value)
    for stats in instance.get_run_step_stats(result.run_id):
        if stats.start_time and stats.end_time:
            per_model[stats.step_key] = stats.end_time - stats.start_time
    counts: dict[str, int] = {}
    for mode in modes.values():
        counts[mode] = counts.get(mode, 0) + 1
    return {"seconds": seconds, "assets": len(selection), "modes": counts, "mode_by_model": modes,
            "rebuilt_from": rebuilt_from,
            "step_seconds": dict(sorted(per_model.items(), key=lambda kv: -kv[1]))}


def full(db: Path) -> dict:
    return build_models(db)


def daily(db: Path, members: int, years: int, snapshot_years: int) -> dict:
    """D-1, a day without a change of membership."""
    return one_session(db, members, years, snapshot_years, days(years)[2])


def newcomer(db: Path, members: int, years: int, snapshot_years: int) -> dict:
    """D, a day one member leaves and one joins: the newcomer's history is backfilled."""
    return one_session(db, members, years, snapshot_years, days(years)[3])


def one_session(db: Path, members: int, years: int, snapshot_years: int, new_day: dt.date) -> dict:
    """`new_day` through the daily_prices job of the definitions, as the schedule launches it for
    the month holding it, then every model's update through Dagster."""
    import dagster as dg

    import pipelines.defs.resources as resources
    from pipelines.definitions import defs as load_defs
    from pipelines.defs.partitions import month_key

    os.environ["ROTATION_WAREHOUSE"] = str(db)
    bench_source = market_source(members, years, snapshot_years, new_day)
    resources.market_source_from_env = lambda active=None: bench_source
    job = load_defs().resolve_job_def("daily_prices")
    instance = dg.DagsterInstance.ephemeral()
    started = time.perf_counter()
    result = job.execute_in_process(partition_key=month_key(new_day), instance=instance, raise_on_error=True)
    ingest_seconds = time.perf_counter() - started
    ingest_steps = {s.step_key: s.end_time - s.start_time for s in instance.get_run_step_stats(result.run_id)
                    if s.start_time and s.end_time}
    meta = {}
    for event in result.get_asset_materialization_events():
        key = event.materialization.asset_key.to_user_string()
        meta[key] = {k: v.value for k, v in event.materialization.metadata.items()
                     if k.startswith(("members_", "rows_", "tickers_loaded", "snapshots_new"))}
    checks = [(e.asset_check_key.name, e.passed) for e in result.get_asset_check_evaluations()] if hasattr(
        result, "get_asset_check_evaluations") else []
    build = build_models(db)
    return {
        "seconds": ingest_seconds + build["seconds"],
        "ingest_seconds": ingest_seconds,
        "source_seconds": TimedSource.seconds,
        "build_seconds": build["seconds"],
        "modes": build["modes"],
        "mode_by_model": build["mode_by_model"],
        "rebuilt_from": build["rebuilt_from"],
        "step_seconds": build["step_seconds"],
        "day": str(new_day),
        "ingest_metadata": meta,
        "ingest_step_seconds": ingest_steps,
        "ingest_check_seconds": check_seconds(instance, result.run_id),
        "ingest_checks": len(checks),
        "ingest_checks_failed": [name for name, passed in checks if not passed],
    }


def check_seconds(instance, run_id: str) -> dict[str, float]:
    """Each asset check's time in a run: from the previous check's evaluation (or its step's start)
    to its own, as the checks of one asset run one after another in their step."""
    out: dict[str, float] = {}
    mark: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type_value == "STEP_START":
            mark[event.step_key] = entry.timestamp
        elif event.event_type_value == "ASSET_CHECK_EVALUATION" and event.step_key in mark:
            data = event.event_specific_data
            name = f"{data.asset_key.to_user_string()}:{data.check_name}"
            out[name] = entry.timestamp - mark[event.step_key]
            mark[event.step_key] = entry.timestamp
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def run_phase(name: str, db: Path, members: int, years: int, snapshot_years: int, env: dict, folder: Path) -> dict:
    cmd = [sys.executable, "-m", "bench.members_daily", "--phase", name, "--db", str(db), "--members", str(members),
           "--years", str(years), "--snapshot-years", str(snapshot_years)]
    # Files, not pipes: Dagster logs a lot to stderr and a full pipe would stall the child.
    with open(folder / "out.txt", "w+") as out, open(folder / "err.txt", "w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"members_daily phase {name} failed:\n{stderr[-3000:]}")
    line = next(ln for ln in stdout.splitlines() if ln.startswith("BENCH "))
    result = json.loads(line[6:])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux reports kilobytes
    return result


def measure(members: int = 2700, years: int = 30, snapshot_years: int | None = None) -> dict:
    """Every phase once, each in a fresh process, on a new warehouse file; the ratio daily / full."""
    snapshot_years = years if snapshot_years is None else snapshot_years
    folder = Path(tempfile.mkdtemp(prefix="rotation-members-daily-"))
    try:
        config = write_config(folder / "config")
        db = folder / "bench.duckdb"
        env = {**os.environ, "ROTATION_CONFIG_DIR": str(config), "ROTATION_SOURCE": "sample",
               "ROTATION_WAREHOUSE": str(db), "DAGSTER_HOME": str(folder), "PYTHONPATH": str(ROOT)}
        results = {}
        for name in PHASES:
            results[name] = run_phase(name, db, members, years, snapshot_years, env, folder)
            print(f"  members_daily {name:<6} {results[name]['seconds']:8.2f} s  "
                  f"peak {results[name]['peak_rss_mb']:7.0f} MB", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    full_seconds = results["full"]["seconds"]
    for name in ("daily", "newcomer"):
        r = results[name]
        r["ratio"] = r["seconds"] / full_seconds
        r["ratio_without_source"] = (r["seconds"] - r["source_seconds"]) / full_seconds
    ratio = results["daily"]["ratio"]
    return {"members": members, "years": years, "snapshot_years": snapshot_years, **results,
            "ratio": ratio, "target": TARGET, "met": ratio <= TARGET, "load_average": os.getloadavg()}


def _day_row(label: str, d: dict) -> str:
    prices = d["ingest_metadata"].get("core/prices_daily", {})
    return (
        f"| {label} | {d['seconds']:.2f} | {d['peak_rss_mb']:.0f} | session {d['day']}: the `daily_prices` job "
        f"(members snapshot + prices of the month, with their checks) {d['ingest_seconds']:.2f} s, of which the "
        f"sample generator making the bars {d['source_seconds']:.2f} s ({prices.get('members_fetched', '?')} members "
        f"fetched, {prices.get('members_backfilled', '?')} backfilled, {prices.get('rows_inserted', '?')} rows "
        f"inserted); every model's update {d['build_seconds']:.2f} s (builds: {d['modes']}) |"
    )


def _ingest_lines(*runs: dict) -> list[str]:
    """The daily_prices job's steps and its slowest asset checks, for each day that recorded them."""
    lines = []
    for d in runs:
        steps = d.get("ingest_step_seconds")
        if not steps:
            continue
        lines += [
            f"The `daily_prices` job of {d['day']}, step by step (seconds): "
            + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()) + "; its slowest checks: "
            + ", ".join(f"{k} {v:.1f}" for k, v in list(d.get("ingest_check_seconds", {}).items())[:5]) + ".",
            "",
        ]
    return lines


def render_markdown(r: dict, command: str) -> str:
    s, d, n, f = r["setup"], r["daily"], r["newcomer"], r["full"]
    return "\n".join([
        "## The daily run at index size",
        "",
        f"Command: `{command}`  ",
        f"Load average when it finished (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in r['load_average'])}  ",
        f"Warehouse: one index of {r['members']:,} members, a snapshot at each of {s['snapshots']:,} month ends "
        f"({s['member_rows']:,} member rows, {s['members_ever']:,} members over time), {s['tickers']:,} tickers, "
        f"{s['price_rows']:,} price rows (each member from its first snapshot less {s['window_sessions']} sessions); "
        f"built in {s['seconds']:.1f} s (not part of any figure).",
        "",
        "| phase | seconds | peak memory (MB) | notes |",
        "|---|---:|---:|---|",
        f"| full build (Dagster) | {f['seconds']:.2f} | {f['peak_rss_mb']:.0f} | "
        "every model from scratch, in process |",
        _day_row("daily run (Dagster)", d),
        _day_row("daily run with a new member (Dagster)", n),
        "",
        "| target | measured | met |",
        "|---|---:|---|",
        f"| daily run at most 5% of the full build | {100 * d['ratio']:.1f}% "
        f"({100 * d['ratio_without_source']:.1f}% without the sample's bar generation) | "
        f"{'yes' if d['ratio'] <= TARGET else 'no'} |",
        f"| the same on a day a member joins (its history backfilled) | {100 * n['ratio']:.1f}% "
        f"({100 * n['ratio_without_source']:.1f}% without the sample's bar generation) | "
        f"{'yes' if n['ratio'] <= TARGET else 'no'} |",
        "",
        *_ingest_lines(d, n),
        "Slowest model steps (seconds: full build, plain day, newcomer day, and how each day built it):",
        "",
        "| step | full | day | day build | newcomer day | newcomer build |",
        "|---|---:|---:|---|---:|---|",
        *(
            f"| {step} | {sec:.2f} | {d['step_seconds'].get(step, 0):.2f} | "
            f"{d['mode_by_model'].get(step.replace('__', '/'), '')} | {n['step_seconds'].get(step, 0):.2f} | "
            f"{n['mode_by_model'].get(step.replace('__', '/'), '')} |"
            for step, sec in list(f["step_seconds"].items())[:12]
        ),
        "",
    ])


def place_in(benchmarks: str, section: str) -> str:
    """BENCHMARKS.md's text with `section` before the notes on reading the figures (bench/notes.md)."""
    marker = "\n## Reading the figures"
    if marker in benchmarks:
        return benchmarks.replace(marker, "\n" + section + marker, 1)
    return benchmarks.rstrip("\n") + "\n\n" + section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=int(os.environ.get("ROTATION_BENCH_MEMBERS", 2700)))
    parser.add_argument("--years", type=int, default=30)
    parser.add_argument("--snapshot-years", type=int, default=None,
                        help="years of monthly snapshots (default: --years)")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="print only; do not write bench/members_daily.json")
    args = parser.parse_args(argv)
    if args.phase:
        snapshot_years = args.years if args.snapshot_years is None else args.snapshot_years
        if args.phase == "full":
            out = full(args.db)
        else:
            out = PHASE_FUNCTIONS[args.phase](args.db, args.members, args.years, snapshot_years)
        out["pid"] = os.getpid()
        print("BENCH " + json.dumps(out, default=str))
        return 0
    result = measure(args.members, args.years, args.snapshot_years)
    command = "python -m bench.members_daily " + " ".join(argv if argv is not None else sys.argv[1:])
    print(render_markdown(result, command.strip()))
    if not args.no_write:
        (ROOT / "bench" / "members_daily.json").write_text(json.dumps(result, indent=2, default=str))
    return 0


PHASE_FUNCTIONS = {"setup": setup, "daily": daily, "newcomer": newcomer}


if __name__ == "__main__":
    sys.exit(main())
