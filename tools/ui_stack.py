"""The Dagster webserver and daemon as users run them (`dg dev`), driven through GraphQL.

Used by the end-to-end test, the launched-run benchmark and the screenshot script:

    with UiStack(home=tmp, env={...}) as ui:
        run_id = ui.launch_assets([["marts", "relative_strength"]])
        status = ui.wait_for_run(run_id)

`dg dev` starts in its own process group on a free loopback port, with DAGSTER_HOME pointing at
`home`, which gets the project's dagster.yaml with its storage under `home` (so a test never
writes the project's own run history). Leaving the block stops the whole group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
LOCATION = "rotation"
REPOSITORY = "__repository__"
ASSET_JOB = "__ASSET_JOB"
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}

LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PipelineNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}
"""

RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status startTime endTime creationTime tags { key value } }
  }
}
"""

LOCATION_STATUS = """
query { workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""

SENSOR = """
query Sensor($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) { __typename ... on Sensor { id } }
}
"""

STOP_SENSOR = """
mutation Stop($id: String) { stopSensor(id: $id) { __typename } }
"""

DRY_RUN = """
mutation DryRun($selector: ScheduleSelector!, $timestamp: Float) {
  scheduleDryRun(selectorData: $selector, timestamp: $timestamp) {
    __typename
    ... on DryRunInstigationTick {
      evaluationResult {
        runRequests { runKey tags { key value } }
        skipReason
        error { message }
      }
    }
    ... on PythonError { message }
  }
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def instance_yaml(home: Path) -> str:
    """The project's dagster.yaml with its storage folders moved under `home`."""
    text = (ROOT / "dagster.yaml").read_text(encoding="utf-8")
    return text.replace("base_dir: .dagster/", f"base_dir: {home}/.dagster/")


class UiStack:
    def __init__(self, home: Path, env: dict[str, str] | None = None, start_timeout: float = 180.0):
        self.home = Path(home)
        self.env = env or {}
        self.start_timeout = start_timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = self.home / "dg-dev.log"

    def __enter__(self) -> UiStack:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "dagster.yaml").write_text(instance_yaml(self.home), encoding="utf-8")
        env = {**os.environ, **self.env, "DAGSTER_HOME": str(self.home)}
        # As `make ui` does: the writer pool exists before the first run.
        subprocess.run([str(Path(sys.executable).with_name("dagster")), "instance", "concurrency", "set",
                        "duckdb_writer", "1"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
        dg = Path(sys.executable).with_name("dg")
        self.process = subprocess.Popen(
            [str(dg), "dev", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            self._wait_until_loaded()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        group = os.getpgid(self.process.pid)
        # dg dev shuts its services down on Ctrl-C (SIGINT); it does not act on SIGTERM.
        os.killpg(group, signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.process.wait(timeout=10)
        # The webserver's children (code server, daemon, run workers) share the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}},
                                 timeout=60)
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def _wait_until_loaded(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dg dev exited with {self.process.returncode}: {self.log.read_text()[-3000:]}")
            try:
                data = self.graphql(LOCATION_STATUS)
            except (requests.RequestException, RuntimeError):
                time.sleep(0.5)
                continue
            entries = data["workspaceOrError"].get("locationEntries") or []
            loaded = [e for e in entries if e["locationOrLoadError"]]
            errors = [e["locationOrLoadError"].get("message") for e in loaded
                      if e["locationOrLoadError"]["__typename"] == "PythonError"]
            if errors:
                raise RuntimeError(f"the code location failed to load: {errors[0]}")
            if any(e["locationOrLoadError"]["__typename"] == "RepositoryLocation" for e in loaded):
                return
            time.sleep(0.5)
        raise TimeoutError(f"dg dev did not load the code location in {self.start_timeout:.0f} s; see {self.log}")

    def launch_assets(self, keys: list[list[str]], tags: dict[str, str] | None = None,
                      run_config: dict | None = None) -> str:
        """Launch a run of the asset job for `keys`, as the UI's Materialize button does."""
        params = {
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": REPOSITORY,
                "pipelineName": ASSET_JOB,
                "assetSelection": [{"path": k} for k in keys],
                "assetCheckSelection": [],
            },
            "runConfigData": run_config or {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
        }
        result = self.graphql(LAUNCH, {"params": params})["launchPipelineExecution"]
        if result["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"launch refused: {result}")
        return result["run"]["runId"]

    def run(self, run_id: str) -> dict:
        return self.graphql(RUN, {"runId": run_id})["runOrError"]

    def wait_for_run(self, run_id: str, timeout: float = 600.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.run(run_id)
            if run.get("status") in FINISHED:
                return run
            time.sleep(0.5)
        raise TimeoutError(f"run {run_id} did not finish in {timeout:.0f} s")

    def stop_sensor(self, name: str) -> None:
        """Stop a sensor as the UI's toggle does (e.g. the automation sensor, while timing runs)."""
        selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": name}
        sensor = self.graphql(SENSOR, {"selector": selector})["sensorOrError"]
        if sensor["__typename"] != "Sensor":
            raise RuntimeError(f"no sensor {name}: {sensor}")
        result = self.graphql(STOP_SENSOR, {"id": sensor["id"]})["stopSensor"]
        if result["__typename"] != "StopSensorMutationResult":
            raise RuntimeError(f"sensor {name} not stopped: {result}")

    def schedule_dry_run(self, schedule: str, timestamp: float) -> dict:
        selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "scheduleName": schedule}
        return self.graphql(DRY_RUN, {"selector": selector, "timestamp": timestamp})["scheduleDryRun"]
