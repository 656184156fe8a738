"""Mutation testing of the core modules (`make mutate`): mutmut plants one-line bugs in a module and
runs the tests meant to catch them; a mutant the tests do not notice is a gap in the tests.

Each module is mutated against its own tests only (MODULES below), not the whole suite, so a run
takes minutes, and in a scratch copy of the project: mutmut writes a `mutants/` folder beside the
code it mutates, which must never appear in a work tree other people use. The scores are written
into MUTATION.md (between its `mutation-scores` markers); the surviving mutants are listed in the
output so they can be killed with a test or explained there as equivalent.

    python -m tools.mutate                    # every module, scores recorded in MUTATION.md
    python -m tools.mutate --only price_file  # one module (its row of the table is updated)
    python -m tools.mutate --no-record        # print only
    python -m tools.mutate --all              # the modules marked slow too (none at present)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "MUTATION.md"
START, END = "<!-- mutation-scores:start -->", "<!-- mutation-scores:end -->"
# What the scratch copy needs to import the code and run the tests; nothing generated.
COPIED = ("pipelines", "warehouse", "tests", "config", "sql", "pyproject.toml")
IGNORED = shutil.ignore_patterns("__pycache__", "*.duckdb", "*.duckdb.wal", "snapshots", "reports", ".dagster")


@dataclass(frozen=True)
class Module:
    path: str
    tests: tuple[str, ...]
    # Only these functions are mutated (None: the whole file), for a file of which only one part
    # is under test here.
    functions: tuple[str, ...] | None = None
    # Slow tests that exercise the module only through Dagster: left out of the selection.
    deselect: tuple[str, ...] = field(default=())
    # Hours rather than minutes: run only when named (--only) or with --all.
    slow: bool = False


QUARANTINE_DAGSTER = (
    "tests/test_quarantine_rules.py::test_one_bad_bar_no_longer_stops_the_marts",
    "tests/test_quarantine_rules.py::test_a_mostly_refused_batch_blocks_what_depends_on_prices",
)
LOADER_TESTS = ("tests/test_prices_load.py", "tests/test_quarantine_rules.py", "tests/test_reject_loader.py")

MODULES: dict[str, Module] = {
    # The per-rule tables of tests/test_quarantine_rules.py add little here but time: every test
    # of the loader runs for every mutant of upsert.
    "load": Module("warehouse/load.py", ("tests/test_prices_load.py", "tests/test_reject_loader.py")),
    "prices": Module("warehouse/prices.py", LOADER_TESTS, deselect=QUARANTINE_DAGSTER),
    "price_file": Module("warehouse/sources/price_file.py",
                         ("tests/test_price_files.py", "tests/test_reject_files.py")),
    "rate_files": Module("warehouse/sources/rate_files.py",
                         ("tests/test_rates_files.py", "tests/test_reject_files.py")),
    "valuation_files": Module("warehouse/sources/valuation_files.py",
                              ("tests/test_valuations_files.py", "tests/test_valuations_published.py",
                               "tests/test_reject_files.py")),
    # tests/test_checks_prices_scope.py: the checks scoped to the latest load (`since`);
    # tests/test_checks_outcomes.py: each check's whole outcome (summary, columns, counts).
    "checks_prices": Module("warehouse/checks/prices.py",
                            ("tests/test_checks_prices.py", "tests/test_reject_checks.py",
                             "tests/test_checks_prices_scope.py", "tests/test_checks_outcomes.py")),
    "checks_quarantine": Module("warehouse/checks/quarantine.py", LOADER_TESTS, deselect=QUARANTINE_DAGSTER),
    # The claims file's reader and loader. The scorecard's tests (tests/test_claims_figures.py,
    # tests/test_claims_scorecard.py) load claims too, but build every claims model per test: only
    # the tests of the file itself are selected.
    "claims": Module("warehouse/claims.py",
                     ("tests/test_claims_rules.py",
                      *(f"tests/test_marts_regime_claims.py::{t}" for t in (
                          "test_the_shipped_claims_file_loads", "test_a_bad_line_is_named_and_nothing_loads",
                          "test_malformed_rows_are_refused_with_the_reason", "test_every_bad_line_is_reported_at_once",
                          "test_a_wrong_header_is_refused")),
                      "tests/test_claims_figures.py::test_every_metric_is_computed_by_its_family_model",
                      "tests/test_changes.py::test_the_claims_record_a_whole_table_change_only_when_the_file_changed")),
    # The model runner's planning: what to rebuild and from which date, against unit tests on
    # hand-made tables. Parsing and building are covered by the equivalence tests of every model
    # (tests/test_incremental_models.py), which are too slow to run per mutant.
    "models_planning": Module("warehouse/models.py", ("tests/test_models_planning.py",),
                              functions=("plan", "window_start", "input_relations", "in_build_order")),
}

STATUS = {1: "killed", 3: "killed", 0: "survived", 36: "timeout", 24: "timeout", -24: "timeout",
          152: "timeout", 255: "timeout", 5: "no tests", 33: "no tests", None: "no tests"}


def _scratch_copy(where: Path, module: Module) -> None:
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, where / name, ignore=IGNORED)
        else:
            shutil.copy2(source, where / name)
    args = [*(a for node in module.deselect for a in ("--deselect", node)), "-p", "no:cacheprovider"]
    config = [
        "", "[tool.mutmut]",
        'source_paths = ["warehouse"]',
        f"only_mutate = [{json.dumps(module.path)}]",
        'also_copy = ["pipelines", "config", "sql", "tests"]',
        f"pytest_add_cli_args_test_selection = {json.dumps(list(module.tests))}",
        f"pytest_add_cli_args = {json.dumps(args)}",
        "use_git_change_detection = false",
    ]
    pyproject = where / "pyproject.toml"
    text = re.sub(r"(?ms)^\[tool\.mutmut\].*?(?=^\[|\Z)", "", pyproject.read_text())
    pyproject.write_text(text + "\n".join(config) + "\n")


def _mangled(module: Module, function: str) -> str:
    dotted = module.path.removesuffix(".py").replace("/", ".")
    return f"{dotted}.x_{function}__mutmut_*"


def run_module(name: str, module: Module, max_children: int, keep: bool, recheck: dict | None = None) -> dict:
    """Mutate the module and count the outcomes. `recheck`: an earlier result of this module; only
    its survivors are run again (after tests were added to kill them) and its other counts kept."""
    where = Path(tempfile.mkdtemp(prefix=f"rotation-mutate-{name}-"))
    started = time.monotonic()
    try:
        _scratch_copy(where, module)
        selection = [_mangled(module, f) for f in module.functions] if module.functions else []
        if recheck is not None:
            selection = sorted(recheck["survivors"])
        env = {**os.environ, "PYTHONPATH": str(where)}
        env.pop("ROTATION_WAREHOUSE", None)
        command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children), *selection]
        done = subprocess.run(command, cwd=where, env=env, capture_output=True, text=True)
        meta = where / "mutants" / f"{module.path}.meta"
        if not meta.exists():
            raise RuntimeError(
                f"mutmut wrote no results for {module.path}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if module.functions:
            wanted = tuple(f"x_{f}__mutmut_" for f in module.functions)
            codes = {k: v for k, v in codes.items() if k.split(".")[-1].startswith(wanted)}
        counts: dict[str, int] = {}
        if recheck is not None:
            codes = {k: codes.get(k) for k in recheck["survivors"]}
            counts = {k: v for k, v in recheck["counts"].items() if k != "survived"}
            counts["survived"] = 0
        for code in codes.values():
            status = STATUS.get(code, "suspicious")
            counts[status] = counts.get(status, 0) + 1
        survivors = sorted(k for k, v in codes.items() if STATUS.get(v) == "survived")
        diffs = _diffs(where, env, module.path, survivors)
        seconds = round(time.monotonic() - started)
        return {"module": name, "path": module.path, "tests": list(module.tests),
                "functions": list(module.functions or ()), "counts": counts,
                "total": recheck["total"] if recheck is not None else len(codes), "survivors": diffs,
                "seconds": seconds, "recheck_seconds": seconds if recheck is not None else None,
                "date": dt.date.today().isoformat()}
    finally:
        if keep:
            print(f"  scratch copy kept: {where}")
        else:
            shutil.rmtree(where, ignore_errors=True)


DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
path, names = sys.argv[1], json.loads(sys.stdin.read())
print(json.dumps({n: get_diff_for_mutant(n, path=path) for n in names}))
"""


def _diffs(where: Path, env: dict, path: str, names: list[str]) -> dict[str, str]:
    """The diff of each mutant, from one process (mutmut's `show` starts one per mutant)."""
    if not names:
        return {}
    shown = subprocess.run([sys.executable, "-c", DIFFS, path], cwd=where, env=env, input=json.dumps(names),
                           capture_output=True, text=True)
    if shown.returncode:
        return {n: f"(no diff: {shown.stderr.strip()[-300:]})" for n in names}
    return {n: d.strip() for n, d in json.loads(shown.stdout.strip().splitlines()[-1]).items()}


def row(result: dict) -> str:
    c, total = result["counts"], result["total"]
    killed = c.get("killed", 0) + c.get("timeout", 0)
    score = f"{100 * killed / total:.0f}%" if total else "-"
    what = result["path"] + (f" ({', '.join(result['functions'])})" if result["functions"] else "")
    return (f"| {result['module']} | `{what}` | {c.get('killed', 0)} | {c.get('survived', 0)} | "
            f"{c.get('timeout', 0)} | {c.get('no tests', 0)} | {total} | {score} | {result['seconds']} s | "
            f"{result['date']} |")


HEADER = ("| module | mutated | killed | survived | timeout | no tests | total | score | run time | date |\n"
          "|---|---|---|---|---|---|---|---|---|---|")


def record(results: list[dict]) -> None:
    """Replace the rows of these modules in MUTATION.md's table; the other rows stay."""
    text = REPORT.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{REPORT} has no {START} ... {END} block to write the scores into")
    head, rest = text.split(START, 1)
    block, tail = rest.split(END, 1)
    rows = {line.split("|")[1].strip(): line for line in block.splitlines()
            if line.startswith("| ") and not line.startswith("| module")}
    for result in results:
        rows[result["module"]] = row(result)
    ordered = [rows[name] for name in MODULES if name in rows]
    REPORT.write_text(f"{head}{START}\n{HEADER}\n" + "\n".join(ordered) + f"\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=sorted(MODULES), help="mutate only this module")
    parser.add_argument("--all", action="store_true", help="the modules marked slow too (none at present)")
    parser.add_argument("--max-children", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--no-record", action="store_true", help="do not write the scores into MUTATION.md")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copies (to inspect mutants)")
    parser.add_argument("--json", type=Path, help="also write the results, survivors' diffs included, here")
    parser.add_argument("--recheck", type=Path, metavar="JSON",
                        help="a --json file of an earlier run: run only its survivors again, keep its other counts")
    args = parser.parse_args(argv)
    earlier = {r["module"]: r for r in json.loads(args.recheck.read_text())} if args.recheck else {}
    results = []
    default = [name for name, module in MODULES.items() if args.all or not module.slow]
    for name in args.only or list(earlier or default):
        print(f"mutating {MODULES[name].path} against {', '.join(MODULES[name].tests)}", flush=True)
        if name in earlier and not earlier[name]["survivors"]:
            result = earlier[name]  # nothing to run again
        else:
            result = run_module(name, MODULES[name], args.max_children, args.keep, earlier.get(name))
        if name in earlier and result is not earlier[name]:
            # The run time of the module: the whole earlier run plus this recheck.
            result["seconds"] = earlier[name]["seconds"] + result["seconds"]
        results.append(result)
        print(row(result), flush=True)
        for key, diff in result["survivors"].items():
            print(f"  survived: {key}\n" + "\n".join(f"    {line}" for line in diff.splitlines()), flush=True)
    print(HEADER)
    print("\n".join(row(r) for r in results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if not args.no_record:
        record(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
