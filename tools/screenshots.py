"""Screenshots of the Dagster UI's main pages and of the charts page, for reviewing a change.

    make screenshots                                  # installs the `screenshots` extra first
    .venv/bin/python -m tools.screenshots --out DIR   # the same, without the install

Not part of `make test`. It builds nothing: it shows the warehouse and the run history that
`make run` left (the live warehouse when there is one, else the sample; `--warehouse` to choose).
It starts `dg dev` on a free loopback port in its own process group, with a temporary
DAGSTER_HOME holding a copy of the project's dagster.yaml. That file's storage folders are
relative, and `dg dev` runs from the project root, so the UI reads the project's `.dagster/`
history as `make ui` does (`--fresh-instance` keeps everything under the temporary home instead).
Whatever happens, the whole process group is stopped before the script ends. `--url` shoots a UI
that is already running instead.

A page that is missing (an asset renamed, a group moved) is reported and the rest are still taken.
Chromium comes from Debian (`apt-get install chromium`): Playwright's own browser download is not
needed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1600, "height": 1000}
CHARTS_WIDTH = 1280  # the narrower of the widths the charts page is checked at
START_TIMEOUT_S = 300  # `dg dev` loads the code location in about a minute on two busy cores
SETTLE_TIMEOUT_S = 45
# Dagster's UI shows these while a page still waits for data; a screenshot taken then shows nothing.
BUSY = '[class*="Spinner_spinner"]:visible, [class*="Skeleton_skeleton"]:visible'
BUSY_TEXT = (re.compile(r"^Loading"), re.compile(r"\(fetching statuses\)"))

LOCATIONS = """
query { workspaceOrError { __typename ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
ASSET_KEYS = "query { assetNodes { assetKey { path } } }"


@dataclass(frozen=True)
class UiPage:
    name: str  # the file name, without .png
    path: str  # the URL path in the UI
    asset: tuple[str, ...] | None = None  # the asset the page shows, checked to exist first


UI_PAGES = [
    UiPage("asset-graph", "/asset-groups"),
    UiPage("asset-catalog", "/assets"),
    UiPage("asset-marts-relative_strength", "/assets/marts/relative_strength", ("marts", "relative_strength")),
    UiPage("asset-reports-rotation_charts", "/assets/reports/rotation_charts", ("reports", "rotation_charts")),
    UiPage("runs", "/runs"),
    UiPage("automation", "/automation"),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/rotation-screenshots"), help="folder for the PNGs")
    parser.add_argument("--warehouse", type=Path, help="the DuckDB file to show (default: what `make run` built)")
    parser.add_argument("--source", choices=["live", "files", "sample"], help="ROTATION_SOURCE for the UI")
    parser.add_argument("--url", help="shoot a Dagster UI already running at this address instead of starting one")
    parser.add_argument("--port", type=int, help="port for `dg dev` (default: a free one)")
    parser.add_argument(
        "--fresh-instance", action="store_true", help="keep the UI's run history under the temporary DAGSTER_HOME"
    )
    return parser.parse_args(argv)


def choose_warehouse(explicit: Path | None) -> tuple[Path, dict[str, str]]:
    """The warehouse to show, and the environment that makes the code location read the same one."""
    from warehouse import settings

    if explicit:
        path = explicit.resolve()
        env = {"ROTATION_WAREHOUSE": str(path)}
        if not os.environ.get("ROTATION_SOURCE") and "sample" in path.stem:
            # The live source's reachability probe would otherwise put the sample beside this file.
            env["ROTATION_SOURCE"] = "sample"
        return path, env
    if os.environ.get("ROTATION_SOURCE") or os.environ.get("ROTATION_WAREHOUSE"):
        return settings.warehouse_path(), {}
    live = settings.warehouse_path("live")
    if live.exists():
        return live, {}
    return settings.warehouse_path("sample"), {"ROTATION_SOURCE": "sample"}


def charts_page(warehouse: Path) -> Path | None:
    """The report's index.html for this warehouse, wherever this version of the project puts it."""
    candidates = [
        warehouse.parent / "reports" / warehouse.stem / "index.html",
        warehouse.parent / "reports" / "index.html",
    ]
    return next((page for page in candidates if page.exists()), None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_home(home: Path, fresh: bool) -> None:
    text = (ROOT / "dagster.yaml").read_text(encoding="utf-8")
    if fresh:
        text = text.replace("base_dir: .dagster/", f"base_dir: {home}/.dagster/")
    (home / "dagster.yaml").write_text(text, encoding="utf-8")
    # Marks the "join the community" dialog as seen: it would cover every screenshot.
    (home / ".nux").mkdir(exist_ok=True)
    (home / ".nux" / "nux.yaml").write_text("seen: 1\n", encoding="utf-8")


def start_ui(home: Path, port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    dg = Path(sys.executable).with_name("dg")
    environment = {**os.environ, **env, "DAGSTER_HOME": str(home)}
    if sys.prefix != sys.base_prefix:
        environment["VIRTUAL_ENV"] = sys.prefix  # dg warns when the active venv is not the project's
    with log.open("w") as out:
        return subprocess.Popen(
            [str(dg if dg.exists() else "dg"), "dev", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the webserver, daemon and code server stop together
        )


def stop_ui(process: subprocess.Popen, grace_s: float = 15.0) -> None:
    """Stops `dg dev` and everything it started (webserver, daemon, code servers, run workers)."""
    # Ctrl-C is what `dg dev` shuts down cleanly on; it ignores SIGTERM. Whatever is still up after
    # the grace period is killed, the whole group, so no child outlives the script.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["data"]


def wait_until_up(base: str, process: subprocess.Popen | None, log: Path | None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise RuntimeError(f"dg dev exited with {process.returncode}:\n{tail}")
        with contextlib.suppress(OSError, ValueError):
            get(f"{base}/server_info")
            return
        time.sleep(1)
    raise TimeoutError(f"the Dagster UI did not answer at {base} within {START_TIMEOUT_S} s (log: {log})")


def wait_for_code_location(base: str) -> str | None:
    """Waits until every code location has loaded or failed; returns the first load error."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            entries = graphql(base, LOCATIONS)["workspaceOrError"]["locationEntries"]
            loaded = [e["locationOrLoadError"] for e in entries if e["locationOrLoadError"]]
            if entries and len(loaded) == len(entries):
                errors = [e.get("message", "") for e in loaded if e["__typename"] == "PythonError"]
                return errors[0] if errors else None
        time.sleep(1)
    return f"the code location had not loaded after {START_TIMEOUT_S} s"


def asset_keys(base: str) -> set[tuple[str, ...]] | None:
    """The asset keys the UI knows, or None when it cannot say (then every page is just tried)."""
    try:
        return {tuple(node["assetKey"]["path"]) for node in graphql(base, ASSET_KEYS)["assetNodes"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_busy(page) -> bool:
    if page.locator(BUSY).count():
        return True
    return any(page.get_by_text(text).filter(visible=True).count() for text in BUSY_TEXT)


def settle(page) -> bool:
    """Waits for the page's data: network quiet, then no spinner, skeleton or "Loading" text left."""
    with contextlib.suppress(Exception):  # the UI polls for live data: the network may never fall quiet
        page.wait_for_load_state("networkidle", timeout=15_000)
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        if not is_busy(page):
            page.wait_for_timeout(800)  # lets the last render and any layout animation finish
            if not is_busy(page):
                return True
        page.wait_for_timeout(500)
    return False


GRAPH_EXTENT = """() => {
  const nodes = [...document.querySelectorAll('foreignObject')].map(n => n.getBoundingClientRect());
  if (!nodes.length) return null;
  let view = document.querySelector('foreignObject').ownerSVGElement.parentElement;
  while (view && !['hidden', 'clip'].includes(getComputedStyle(view).overflowX)) view = view.parentElement;
  const v = (view || document.body).getBoundingClientRect();
  return {count: nodes.length, view: [v.left, v.top, v.right, v.bottom],
          nodes: [Math.min(...nodes.map(r => r.left)), Math.min(...nodes.map(r => r.top)),
                  Math.max(...nodes.map(r => r.right)), Math.max(...nodes.map(r => r.bottom))]};
}"""
GRAPH_TOOLBAR_PX = 70  # the search bar floats over the top of the graph
GRAPH_VIEWPORT = {"width": 1800, "height": 2000}
ZOOM_OUT, ZOOM_IN = 6, -6  # wheel steps with Ctrl held: a few percent each


def _graph_extent(page) -> dict | None:
    extent = page.evaluate(GRAPH_EXTENT)
    if extent:
        extent["view"][1] += GRAPH_TOOLBAR_PX
    return extent


def _fits(extent: dict) -> bool:
    (x0, y0, x1, y1), (v0, w0, v1, w1) = extent["nodes"], extent["view"]
    return x0 >= v0 and y0 >= w0 and x1 <= v1 and y1 <= w1


def expand_and_fit_graph(page) -> None:
    """Opens every asset group and zooms so that all assets are in view, as large as they fit.

    The global lineage opens with its groups collapsed. Zoomed out far enough to fit a normal
    window, Dagster draws assets as blank boxes, so this page is shot in a taller window.
    """
    extent = _graph_extent(page)
    if not extent:
        return
    view = extent["view"]
    page.mouse.click(view[2] - 120, view[1] + 60, button="right")  # the background's menu
    expand = page.locator("text=Expand all groups >> visible=true")
    if expand.count():
        expand.first.click()
        page.wait_for_timeout(1500)
    page.set_viewport_size(GRAPH_VIEWPORT)
    page.wait_for_timeout(800)
    # Out until every asset is drawn and inside, then back in while that still holds.
    _zoom_while(page, lambda e, before: not (_fits(e) and e["count"] == before), ZOOM_OUT)
    _centre_graph(page, _graph_extent(page))
    _zoom_while(page, lambda e, before: _fits(e) and before in (None, e["count"]), ZOOM_IN)
    _zoom(page, _graph_extent(page)["view"], ZOOM_OUT)  # the last step in went one too far
    _centre_graph(page, _graph_extent(page))


def _zoom_while(page, keep_going, delta: int, limit: int = 40) -> None:
    before = None  # the number of assets drawn before the last step
    for _ in range(limit):
        extent = _graph_extent(page)
        if not keep_going(extent, before):
            return
        before = extent["count"]
        _zoom(page, extent["view"], delta)


def _zoom(page, view, delta: int) -> None:
    page.mouse.move((view[0] + view[2]) / 2, (view[1] + view[3]) / 2)
    page.keyboard.down("Control")
    page.mouse.wheel(0, delta)
    page.keyboard.up("Control")
    page.wait_for_timeout(250)


def _centre_graph(page, extent) -> None:
    (x0, y0, x1, y1), (v0, w0, v1, w1) = extent["nodes"], extent["view"]
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2)
    page.mouse.down()
    page.mouse.move((v0 + v1) / 2, (w0 + w1) / 2, steps=10)
    page.mouse.up()
    page.wait_for_timeout(800)


def shoot_ui_page(context, base: str, spec: UiPage, out: Path, known: set | None) -> tuple[Path, str | None]:
    """Takes one page; returns the PNG and a note for the reader (missing asset, still loading)."""
    note = None
    if spec.asset and known is not None and tuple(spec.asset) not in known:
        note = f"asset {'/'.join(spec.asset)} is not in the code location: the screenshot shows what the UI says"
    page = context.new_page()
    try:
        page.goto(base + spec.path, wait_until="domcontentloaded", timeout=60_000)
        settled = settle(page)
        if spec.name == "asset-graph" and settled:
            try:
                expand_and_fit_graph(page)
            except Exception as exc:  # the graph as it opened is still worth a screenshot
                note = f"graph not expanded and fitted ({exc.__class__.__name__}: {exc})"
            settled = settle(page)
        if not settled:
            note = note or f"still loading after {SETTLE_TIMEOUT_S} s"
        path = out / f"{spec.name}.png"
        page.screenshot(path=str(path))
        return path, note
    finally:
        page.close()


def shoot_charts(context, page_file: Path, out: Path) -> Path:
    page = context.new_page()
    try:
        page.set_viewport_size({"width": CHARTS_WIDTH, "height": 900})
        page.goto(page_file.resolve().as_uri(), wait_until="load")
        path = out / "charts-page.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    finally:
        page.close()


def take_all(base: str, warehouse: Path, out: Path) -> tuple[int, list[str]]:
    """Every screenshot; returns how many were taken and what a reviewer should know about the rest."""
    from playwright.sync_api import sync_playwright

    taken, notes = 0, []
    known = asset_keys(base)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            for spec in UI_PAGES:
                try:
                    path, note = shoot_ui_page(context, base, spec, out, known)
                except Exception as exc:  # one page failing must not cost the others
                    notes.append(f"{spec.name}: not taken ({exc.__class__.__name__}: {exc})")
                    continue
                taken += 1
                print(path, flush=True)
                if note:
                    notes.append(f"{spec.name}: {note}")
            page_file = charts_page(warehouse)
            if page_file is None:
                notes.append(f"charts page: none beside {warehouse} (has `make run` rendered the reports?)")
            else:
                print(shoot_charts(context, page_file, out), flush=True)
                taken += 1
        finally:
            browser.close()
    return taken, notes


@contextlib.contextmanager
def running_ui(args: argparse.Namespace, env: dict[str, str]):
    """The address of a Dagster UI that answers: the one at --url, or a `dg dev` started here."""
    if args.url:
        base = args.url.rstrip("/")
        wait_until_up(base, None, None)
        yield base
        return
    home = Path(tempfile.mkdtemp(prefix="rotation-ui-"))
    log = args.out / "dg-dev.log"  # beside the screenshots: the temporary home is removed at the end
    prepare_home(home, args.fresh_instance)
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_ui(home, port, env, log)
    try:
        print(f"Starting dg dev at {base} (log: {log})", flush=True)
        wait_until_up(base, process, log)
        yield base
    finally:
        stop_ui(process)
        shutil.rmtree(home, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 2
    if args.source:
        os.environ["ROTATION_SOURCE"] = args.source
    warehouse, env = choose_warehouse(args.warehouse)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"Warehouse: {warehouse}{'' if warehouse.exists() else ' (missing: run `make run` first)'}", flush=True)
    with running_ui(args, env) as base:
        load_error = wait_for_code_location(base)
        if load_error:
            print(f"note: code location: {load_error.strip().splitlines()[0]}", flush=True)
        taken, notes = take_all(base, warehouse, args.out)
    for note in notes:
        print(f"note: {note}", flush=True)
    print(f"{taken} screenshots in {args.out}", flush=True)
    return 0 if taken else 1


if __name__ == "__main__":
    sys.exit(main())
