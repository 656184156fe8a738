"""`make bench`: the warehouse at Russell-3000 size, every phase measured in a fresh process.

    python -m bench.run                       # 3,000 tickers x 30 years, 3 repeats
    python -m bench.run --tickers 50 --years 2 --repeat 1 --no-write   # a quick look
    python -m bench.run --from-results        # BENCHMARKS.md again from bench/results.json, after
                                              # an edit of bench/notes.md: no run

Each repeat builds a new warehouse file: load, floor (the marts' SQL in plain DuckDB), yardstick
(the heavy models in polars, checked equal to the floor's tables: bench/yardstick_polars.py),
Dagster (the same marts through Dagster, in process), incremental (one more session, then the daily update
of every mart through Dagster), incremental_sql (another session, the same update without Dagster)
and pandas (the same breadth and relative-strength metrics in plain pandas).
Figures are medians over the repeats; peak memory is each phase process's maximum resident set.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import launched, members_daily, overhead, workload

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["load", "floor", "yardstick", "dagster", "incremental", "incremental_sql", "pandas"]
# Phases run by their own module (the rest by bench.phase): the polars yardstick needs the floor's
# tables, to check its frames against them, and the `bench` extra.
PHASE_MODULES = {"yardstick": "bench.yardstick_polars"}
# The models the yardstick computes, in the order BENCHMARKS.md lists them.
HEAVY = ["returns_daily", "period_returns", "highs_drawdowns", "breadth", "relative_strength"]


def one_repeat(n: int, years: int, env: dict) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="rotation-bench-"))
    db = folder / "bench.duckdb"
    results = {}
    try:
        for phase in ORDER:
            cmd = [
                sys.executable,
                "-m",
                PHASE_MODULES.get(phase, "bench.phase"),
                phase,
                "--db",
                str(db),
                "--tickers",
                str(n),
                "--years",
                str(years),
            ]
            # Files, not pipes: Dagster logs a lot to stderr and a full pipe would stall the child.
            with open(folder / "out.txt", "w+") as out, open(folder / "err.txt", "w+") as err:
                proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env, cwd=ROOT)
                _, status, usage = os.wait4(proc.pid, 0)
                out.seek(0)
                err.seek(0)
                stdout, stderr = out.read(), err.read()
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError(f"bench phase {phase} failed:\n{stderr[-3000:]}")
            line = next(ln for ln in stdout.splitlines() if ln.startswith("BENCH "))
            result = json.loads(line[6:])
            result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux reports kilobytes
            results[phase] = result
            print(f"  {phase:<12} {result['seconds']:8.2f} s  peak {result['peak_rss_mb']:7.0f} MB", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return results


def summarise(repeats: list[dict]) -> dict:
    def med(phase, key="seconds"):
        return statistics.median(r[phase][key] for r in repeats)

    s = {
        phase: {"seconds": med(phase), "peak_rss_mb": max(r[phase]["peak_rss_mb"] for r in repeats)} for phase in ORDER
    }
    s["load"]["rows"] = repeats[0]["load"]["rows"]
    s["load"]["rows_per_second"] = med("load", "rows_per_second")
    for phase in ("incremental", "incremental_sql"):
        s[phase]["build_seconds"] = med(phase, "build_seconds")
        s[phase]["load_seconds"] = med(phase, "load_seconds")
        s[phase]["modes"] = repeats[-1][phase]["modes"]
    s["incremental_sql"]["per_model"] = {
        name: statistics.median(r["incremental_sql"]["per_model"][name] for r in repeats)
        for name in repeats[0]["incremental_sql"]["per_model"]
    }
    s["floor"]["per_model"] = {
        name: statistics.median(r["floor"]["per_model"][name] for r in repeats)
        for name in repeats[0]["floor"]["per_model"]
    }
    s["yardstick"]["per_model"] = {
        name: {
            "sql": s["floor"]["per_model"][name],
            **{
                part: statistics.median(r["yardstick"]["per_model"][name][part] for r in repeats)
                for part in ("read", "compute", "write")
            },
        }
        for name in HEAVY
    }
    heavy = s["yardstick"]["per_model"]
    s["yardstick"]["sql_seconds"] = sum(m["sql"] for m in heavy.values())
    s["yardstick"]["compute_seconds"] = sum(m["compute"] for m in heavy.values())
    s["ratios"] = {
        "sql_over_polars": s["yardstick"]["sql_seconds"] / s["yardstick"]["compute_seconds"],
        "worst_sql_over_polars": max(m["sql"] / m["compute"] for m in heavy.values()),
        "dagster_over_floor": s["dagster"]["seconds"] / s["floor"]["seconds"],
        "incremental_over_full": s["incremental"]["seconds"] / s["dagster"]["seconds"],
        "incremental_sql_over_floor": s["incremental_sql"]["seconds"] / s["floor"]["seconds"],
        "pandas_over_sql": s["pandas"]["seconds"]
        / (s["floor"]["per_model"].get("breadth", 0) + s["floor"]["per_model"].get("relative_strength", 0) or 1),
    }
    return s


def machine() -> str:
    mem = ""
    try:
        with open("/proc/meminfo") as meminfo:
            kb = int(next(ln for ln in meminfo if ln.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB memory"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{os.cpu_count()} cores{mem}, {platform.system()} {platform.machine()}, Python {platform.python_version()}"


def write_markdown(summary: dict, n: int, years: int, repeats: int, command: str, dagster_overhead: dict | None = None,
                   launched_runs: dict | None = None) -> str:
    load, r = summary["load"], summary["ratios"]
    # The warehouse's own phases: polars (bench-only) and pandas hold whole tables in memory by design.
    peak = max(summary[phase]["peak_rss_mb"] for phase in ORDER if phase not in ("yardstick", "pandas"))
    lines = [
        "# Benchmarks",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine()}  ",
        f"Workload: {n:,} tickers x {years} years of NYSE sessions from the sample generator, "
        f"{load['rows']:,} price rows; median of {repeats} runs (peak memory: the largest).",
        "",
        "| phase | median seconds | peak memory (MB) | notes |",
        "|---|---:|---:|---|",
        f"| load | {load['seconds']:.2f} | {load['peak_rss_mb']:.0f} | {load['rows_per_second'] / 1e6:.2f} M rows/s through `warehouse.load.upsert` |",
        f"| floor | {summary['floor']['seconds']:.2f} | {summary['floor']['peak_rss_mb']:.0f} | every mart's SQL in plain DuckDB |",
        f"| full build (Dagster) | {summary['dagster']['seconds']:.2f} | {summary['dagster']['peak_rss_mb']:.0f} | every mart as Dagster assets, in process |",
        f"| incremental (Dagster) | {summary['incremental']['seconds']:.2f} | {summary['incremental']['peak_rss_mb']:.0f} | one new session: load {summary['incremental']['load_seconds']:.2f} s + every mart's update as Dagster assets {summary['incremental']['build_seconds']:.2f} s |",
        f"| incremental (SQL) | {summary['incremental_sql']['seconds']:.2f} | {summary['incremental_sql']['peak_rss_mb']:.0f} | another session: load {summary['incremental_sql']['load_seconds']:.2f} s + every model's update in plain DuckDB {summary['incremental_sql']['build_seconds']:.2f} s |",
        f"| polars yardstick | {summary['yardstick']['seconds']:.2f} | {summary['yardstick']['peak_rss_mb']:.0f} | the heavy models' compute in polars, every row checked equal to the SQL's tables |",
        f"| pandas | {summary['pandas']['seconds']:.2f} | {summary['pandas']['peak_rss_mb']:.0f} | breadth + relative strength in pandas (after reading the table) |",
        "",
        "| target | measured | met |",
        "|---|---:|---|",
        f"| every heavy model's SQL full build within 1.5x of polars' compute | worst {r['worst_sql_over_polars']:.2f}x, all {r['sql_over_polars']:.2f}x | {'yes' if r['worst_sql_over_polars'] <= 1.5 else 'no'} |",
        f"| full build within 1.5x of the floor | {r['dagster_over_floor']:.2f}x | {'yes' if r['dagster_over_floor'] <= 1.5 else 'no'} |",
        f"| incremental at most 5% of the full build (Dagster) | {100 * r['incremental_over_full']:.1f}% | {'yes' if r['incremental_over_full'] <= 0.05 else 'no'} |",
        f"| incremental at most 5% of the full build (SQL: against the floor) | {100 * r['incremental_sql_over_floor']:.1f}% | {'yes' if r['incremental_sql_over_floor'] <= 0.05 else 'no'} |",
        f"| load at least 5 M rows/s | {load['rows_per_second'] / 1e6:.2f} M/s | {'yes' if load['rows_per_second'] >= 5e6 else 'no'} |",
        *(
            [f"| Dagster overhead on the default universe (whole graph vs its SQL and loading alone) at most 1.5x | {dagster_overhead['ratio']:.2f}x | {'yes' if dagster_overhead['met'] else 'no'} |"]
            if dagster_overhead else []
        ),
        *(
            [f"| Launched runs (dg dev, GraphQL) on the default universe vs the same work alone at most 1.5x | {launched_runs['ratio']:.2f}x | {'yes' if launched_runs['met'] else 'no'} |"]
            if launched_runs else []
        ),
        f"| peak memory under 6 GB (the warehouse's phases: load, builds, updates) | {peak / 1024:.2f} GB | {'yes' if peak < 6144 else 'no'} |",
        "",
        "Heavy models: the SQL's full build (the floor's figure) against the same columns computed in polars "
        "(`bench/yardstick_polars.py`, checked equal on every row in the same run; median seconds). Reading "
        "the inputs into polars and writing the results back are not part of its compute:",
        "",
        "| model | SQL full build | polars compute | ratio | polars read | polars write |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {name} | {m['sql']:.2f} | {m['compute']:.2f} | {m['sql'] / m['compute']:.2f}x | {m['read']:.2f} | {m['write']:.2f} |"
            for name, m in summary["yardstick"]["per_model"].items()
        ),
        f"| total | {summary['yardstick']['sql_seconds']:.2f} | {summary['yardstick']['compute_seconds']:.2f} | "
        f"{r['sql_over_polars']:.2f}x | {sum(m['read'] for m in summary['yardstick']['per_model'].values()):.2f} | "
        f"{sum(m['write'] for m in summary['yardstick']['per_model'].values()):.2f} |",
        "",
        "Floor time per mart (median seconds):",
        "",
        "| model | seconds |",
        "|---|---:|",
        *(
            f"| {name} | {sec:.2f} |"
            for name, sec in sorted(summary["floor"]["per_model"].items(), key=lambda kv: -kv[1])
        ),
        "",
        *(
            ["## Dagster overhead on the default universe", "", "Command: `python -m bench.overhead --repeat "
             f"{dagster_overhead['repeat']}`", "", "```", overhead.render(dagster_overhead), "```", ""]
            if dagster_overhead else []
        ),
        *(
            ["## Launched runs on the default universe", "", "Command: `python -m bench.launched --repeat "
             f"{launched_runs['repeat']}`", "", "```", launched.render(launched_runs), "```", ""]
            if launched_runs else []
        ),
        "Incremental update per model, without Dagster (median seconds; how each was built):",
        "",
        "| model | seconds | build |",
        "|---|---:|---|",
        *(
            f"| {name} | {sec:.3f} | {summary['incremental_sql']['modes'].get(name, '')} |"
            for name, sec in sorted(summary["incremental_sql"]["per_model"].items(), key=lambda kv: -kv[1])
        ),
        "",
    ]
    notes = ROOT / "bench" / "notes.md"
    return "\n".join(lines) + ("\n" + notes.read_text(encoding="utf-8") if notes.exists() else "")


def render(summary: dict) -> str:
    """BENCHMARKS.md's text from a run's summary (what bench/results.json keeps) and bench/notes.md."""
    run = summary["run"]
    text = write_markdown(summary, run["tickers"], run["years"], run["repeat"], run["command"],
                          summary.get("dagster_overhead"), summary.get("launched_runs"))
    if summary.get("members_daily"):
        text = members_daily.place_in(text, members_daily.render_markdown(
            summary["members_daily"], f"python -m bench.members_daily --members {run['members']} --years {run['years']}"))
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=3000)
    parser.add_argument("--years", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print, do not rewrite BENCHMARKS.md")
    parser.add_argument("--overhead-repeat", type=int, default=None,
                        help="repeats of the default-universe Dagster overhead measure (default: --repeat; 0 skips it)")
    parser.add_argument("--members", type=int, default=None,
                        help="index members of the daily run at index size (bench/members_daily.py; default: "
                             "9 in 10 of --tickers, 2,700 of 3,000; 0 skips it)")
    parser.add_argument("--from-results", action="store_true",
                        help="rewrite the report from the results file (after editing bench/notes.md), no run")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results.json", help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, default=ROOT / "BENCHMARKS.md", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.from_results:
        summary = json.loads(args.results.read_text(encoding="utf-8"))
        args.report.write_text(render(summary), encoding="utf-8")
        return 0
    config = workload.write_config(Path(tempfile.mkdtemp(prefix="rotation-bench-config-")), args.tickers)
    env = {**os.environ, "ROTATION_CONFIG_DIR": str(config), "ROTATION_SOURCE": "sample", "PYTHONPATH": str(ROOT)}
    repeats = []
    for i in range(args.repeat):
        print(f"run {i + 1}/{args.repeat}: {args.tickers} tickers x {args.years} years", flush=True)
        repeats.append(one_repeat(args.tickers, args.years, env))
    summary = summarise(repeats)
    overhead_repeat = args.repeat if args.overhead_repeat is None else args.overhead_repeat
    dagster_overhead = launched_runs = None
    if overhead_repeat:
        print(f"Dagster overhead on the default universe, {overhead_repeat} repeats", flush=True)
        dagster_overhead = overhead.measure(overhead_repeat)
        summary["dagster_overhead"] = dagster_overhead
        print(f"Launched runs on the default universe, {overhead_repeat} repeats", flush=True)
        launched_runs = launched.measure(overhead_repeat)
        summary["launched_runs"] = launched_runs
    members_run = None
    if args.members is None:
        args.members = args.tickers * 9 // 10
    if args.members:
        print(f"The daily run at index size: {args.members} members x {args.years} years", flush=True)
        members_run = members_daily.measure(args.members, args.years)
        summary["members_daily"] = members_run
    command = "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:])
    summary["run"] = {"tickers": args.tickers, "years": args.years, "repeat": args.repeat, "members": args.members,
                      "command": command.strip()}
    text = render(summary)
    print(text)
    if not args.no_write:
        args.report.write_text(text, encoding="utf-8")
        args.results.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
