"""The asset graph, pinned: every asset's key, group, deps, kinds, owners and checks, and the jobs
and schedules, compared with tests/snapshots/graph.json. A change to the graph shows up in review
as a diff of that file; regenerate it with `ROTATION_UPDATE_SNAPSHOTS=1 make test`.

And the layers point one way: config and core, then staging, then marts, then reports.
"""

import json
import os
from pathlib import Path

import dagster as dg
import pytest

SNAPSHOT = Path(__file__).parent / "snapshots" / "graph.json"
ORDER = {"config": 0, "core": 0, "staging": 1, "marts": 2, "reports": 3}


@pytest.fixture(scope="module")
def defs():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ROTATION_SOURCE", "sample")
        from pipelines.definitions import defs as build

        return build()


def describe(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    checks: dict[str, list[str]] = {}
    for key in graph.asset_check_keys:
        checks.setdefault(key.asset_key.to_user_string(), []).append(key.name)
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.path):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "kinds": sorted(node.kinds),
            "owners": sorted(node.owners),
            "partitioned": node.partitions_def is not None,
            "pools": sorted(node.pools or []),
            "freshness": type(node.freshness_policy).__name__ if node.freshness_policy else None,
            "checks": sorted(checks.get(key.to_user_string(), [])),
        }
    repo = defs.get_repository_def()
    jobs = {
        job.name: sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys)
        for job in repo.get_all_jobs() if not job.name.startswith("__")
    }
    schedules = {s.name: {"cron": s.cron_schedule, "job": s.job_name, "timezone": s.execution_timezone}
                 for s in repo.schedule_defs}
    sensors = sorted(s.name for s in repo.sensor_defs)
    return {"assets": assets, "jobs": jobs, "schedules": schedules, "sensors": sensors}


def test_the_graph_matches_its_snapshot(defs):
    current = describe(defs)
    if os.environ.get("ROTATION_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    assert current == json.loads(SNAPSHOT.read_text(encoding="utf-8"))


def test_every_group_is_its_keys_layer(defs):
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert graph.get(key).group_name == key.path[0], key


def test_the_layers_point_one_way(defs):
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        layer = key.path[0]
        for parent in graph.get(key).parent_keys:
            # A layer reads its own layer or the ones before it; nothing reads a later layer.
            assert ORDER[parent.path[0]] <= ORDER[layer], f"{key.to_user_string()} reads {parent.to_user_string()}"
        if layer == "staging":
            assert not any(p.path[0] == "marts" for p in graph.get(key).parent_keys), key
        if layer == "reports":
            assert all(ORDER[p.path[0]] >= ORDER["staging"] for p in graph.get(key).parent_keys), key


def test_every_asset_links_to_its_code_and_every_resource_is_described(defs):
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        refs = graph.get(key).metadata["dagster/code_references"].code_references
        assert refs, key
        if key.path[0] in ("staging", "marts"):
            assert refs[0].label == "SQL model"
            target = getattr(refs[0], "file_path", None) or refs[0].url
            assert target.endswith(f"sql/{key.path[0]}/{key.path[1]}.sql")
    for name, resource in defs.resources.items():
        assert resource.get_resource_definition().description, name


def test_column_lineage_follows_the_sql(defs):
    graph = defs.resolve_asset_graph()
    lineage = graph.get(dg.AssetKey(["marts", "relative_strength"])).metadata["dagster/column_lineage"]
    deps = {c: {(d.asset_key.to_user_string(), d.column_name) for d in ds} for c, ds in lineage.deps_by_column.items()}
    # Columns passed through from the pairs' common sessions keep their names.
    assert deps["pair"] == {("staging/pair_sessions", "pair")}
    assert deps["trade_date"] == {("staging/pair_sessions", "trade_date")}
    assert "rs" not in deps or deps["rs"] <= {("staging/pair_sessions", "small_adj_close"),
                                              ("staging/pair_sessions", "large_adj_close")}
