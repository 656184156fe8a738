"""The overhead benchmark on a two-year history: both phases do the same work, the figures add up.

No timing is asserted: the machine decides those. What must hold on any machine is that the plain
path built the same warehouse as Dagster and that the breakdown accounts for the Dagster run.
"""

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # bench/ is not an installed package
    sys.path.insert(0, str(ROOT))

from bench import overhead  # noqa: E402


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> dict:
    # The default universe with a short history: fewer bars, valuations and partitions, same graph.
    config = tmp_path_factory.mktemp("config")
    for path in (ROOT / "config").iterdir():
        if path.is_file():
            shutil.copy(path, config / path.name)
    universe = config / "universe.toml"
    text, n = re.subn(r'(?m)^\[history\]\n', '[history]\nstart = "2024-11-01"\n', universe.read_text())
    assert n == 1, "config/universe.toml has no [history] table to shorten"
    universe.write_text(text)
    return overhead.measure(1, config_dir=config)


def test_both_phases_are_timed_and_the_ratio_is_theirs(result):
    dagster, alone = result["dagster"]["seconds"], result["alone"]["seconds"]
    assert dagster > 0 and alone > 0 and result["alone_per_step_connection"]["seconds"] > 0
    assert result["ratio"] == pytest.approx(dagster / alone)
    assert result["met"] == (result["ratio"] <= result["target"])
    assert result["dagster"]["runs_seconds"] == [dagster]


def test_the_plain_path_built_the_same_warehouse(result):
    counts = result["row_counts"]
    assert set(counts) == {"dagster", "alone", "alone_per_step_connection"}
    dagster = counts["dagster"]
    assert dagster == counts["alone"] == counts["alone_per_step_connection"]
    assert dagster["core.prices_daily"] > 0 and dagster["core.rates_daily"] > 0
    marts = [t for t in dagster if t.startswith("marts.")]
    assert marts and all(dagster[t] > 0 for t in marts)
    assert result["row_counts_match"]


def test_the_plain_path_ran_every_asset_and_check(result):
    assert result["dagster"]["assets"] == result["alone"]["assets"] > 20
    assert result["dagster"]["checks"] == result["alone"]["checks"] > 50
    assert result["check_outcomes_match"]


def test_the_breakdown_accounts_for_the_dagster_run(result):
    b = result["breakdown"]
    assert b["seconds"] == result["dagster"]["seconds"]  # one run: the median is that run
    assert 0 < b["compute_seconds"] < b["seconds"]
    assert b["compute_seconds"] + b["outside_compute_seconds"] == pytest.approx(b["seconds"])
    # The parts add up to the run's own span exactly (every event write counted once, the timeline
    # telescoping from the call's start to its end); only float rounding separates them. The span
    # lies inside the clock around it, whatever the machine's load.
    parts = b["compute_seconds"] + sum(b["outside"].values())
    (run,) = b["runs"]
    assert parts == pytest.approx(run["seconds"], rel=1e-9)
    assert sum(b["timeline"].values()) == pytest.approx(run["seconds"], rel=1e-9)
    assert run["seconds"] <= b["seconds"]
    assert all(v >= 0 for v in b["outside"].values())
    inside = b["inside_compute"]
    assert sum(inside.values()) == pytest.approx(b["compute_seconds"])
    # pipelines/run.py's one run: the partitioned prices (with their checks) and the rest.
    assert len(b["runs"]) == 1 and "core__prices_daily" in b["runs"][0]["steps"]
    assert sum(len(r["steps"]) for r in b["runs"]) == b["steps"]
    assert sum(r["events"] for r in b["runs"]) == b["events"]["count"]
    kinds = b["by_kind"]
    assert kinds["asset"]["steps"] == result["dagster"]["assets"]
    assert kinds["asset"]["steps"] + kinds["check"]["steps"] == b["steps"]
    assert b["events"]["by_type"]["STEP_START"] == b["steps"]
    assert b["events"]["by_type"]["ASSET_CHECK_EVALUATION"] == result["dagster"]["checks"]
    top = b["top_steps"]
    assert 0 < len(top) <= overhead.TOP_STEPS
    for row in top:
        assert row["alone_seconds"] is not None and row["compute_seconds"] <= row["seconds"]
        assert row["extra_seconds"] == pytest.approx(row["seconds"] - row["alone_seconds"])


def test_the_result_is_json_and_renders(result):
    assert json.loads(json.dumps(result))["ratio"] == pytest.approx(result["ratio"])
    text = overhead.render(result)
    assert "ratio dagster / alone" in text and "event log writes" in text
    assert result["breakdown"]["top_steps"][0]["step"] in text
