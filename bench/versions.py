"""The core benchmark phases under two DuckDB versions, in one run, alternating.

    python -m bench.versions --other /tmp/venv-duckdb2/bin/python            # 1,000 tickers x 30 years
    python -m bench.versions --other ... --tickers 3000 --years 30 --repeat 3

`--other` is a Python whose environment has the project installed with another DuckDB (e.g. a venv
made with `pip install -e . && pip install duckdb==2.0.1`); this venv's Python is the first. Each
repeat runs bench/phase.py's load, floor and incremental_sql phases in a fresh warehouse file per
interpreter, the order of the interpreters swapped every repeat, so a machine busy with other
work weighs on both alike. Medians per phase and version are printed and written as JSON.
Run after `floor` (which leaves no build records), `incremental_sql` appends one session and then
builds every model in full through the model runner (`warehouse.models.build`): the same work on
both versions, but a full build, not the daily incremental update of BENCHMARKS.md.
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASES = ["load", "floor", "incremental_sql"]


def version_of(python: str) -> str:
    return subprocess.run([python, "-c", "import duckdb; print(duckdb.__version__)"], capture_output=True,
                          text=True, check=True).stdout.strip()


def one(python: str, tickers: int, years: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="rotation-versions-"))
    out = {}
    try:
        for phase in PHASES:
            cmd = [python, "-m", "bench.phase", phase, "--db", str(folder / "bench.duckdb"),
                   "--tickers", str(tickers), "--years", str(years)]
            with open(folder / "out.txt", "w+") as stdout, open(folder / "err.txt", "w+") as stderr:
                proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, text=True, cwd=ROOT)
                _, status, usage = os.wait4(proc.pid, 0)
                stdout.seek(0)
                stderr.seek(0)
                text, errors = stdout.read(), stderr.read()
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError(f"{python} {phase} failed:\n{errors[-3000:]}")
            result = json.loads(next(ln for ln in text.splitlines() if ln.startswith("BENCH "))[6:])
            out[phase] = {"seconds": result["seconds"], "peak_rss_mb": usage.ru_maxrss / 1024}
            if phase == "load":
                out[phase]["rows"] = result["rows"]
        out["file_mb"] = (folder / "bench.duckdb").stat().st_size / 1e6
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", required=True, help="the Python of the environment with the other DuckDB")
    parser.add_argument("--tickers", type=int, default=1000)
    parser.add_argument("--years", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "versions.json")
    args = parser.parse_args()
    pythons = [sys.executable, args.other]
    versions = {p: version_of(p) for p in pythons}
    if len(set(versions.values())) != 2:
        sys.exit(f"both interpreters have DuckDB {versions[sys.executable]}: give --other a different one")
    runs: dict[str, list[dict]] = {v: [] for v in versions.values()}
    load_before = os.getloadavg()[0]
    for r in range(args.repeat):
        for python in pythons if r % 2 == 0 else reversed(pythons):
            v = versions[python]
            started = time.perf_counter()
            result = one(python, args.tickers, args.years)
            runs[v].append(result)
            print(f"repeat {r + 1} duckdb {v}: " + ", ".join(
                f"{p} {result[p]['seconds']:.2f} s ({result[p]['peak_rss_mb']:.0f} MB)" for p in PHASES
            ) + f", file {result['file_mb']:.0f} MB; {time.perf_counter() - started:.0f} s in all", flush=True)
    summary = {
        v: {
            **{p: {"seconds": statistics.median(x[p]["seconds"] for x in rs),
                   "peak_rss_mb": max(x[p]["peak_rss_mb"] for x in rs)} for p in PHASES},
            "file_mb": statistics.median(x["file_mb"] for x in rs),
            "rows": rs[0]["load"]["rows"],
        }
        for v, rs in runs.items()
    }
    record = {
        "command": "python -m bench.versions " + " ".join(sys.argv[1:]),
        "machine": f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
                   f"Python {platform.python_version()}",
        "load_average": {"before": round(load_before, 1), "after": round(os.getloadavg()[0], 1)},
        "tickers": args.tickers, "years": args.years, "repeat": args.repeat,
        "median": summary, "runs": runs,
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
