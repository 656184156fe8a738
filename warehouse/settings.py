"""Where things live, read from the environment with defaults that suit a fresh clone.

`active()` is the one place that decides which source feeds the warehouse and which file it
writes. `make run`, the Dagster definitions (so `make ui`, the schedules, sensors and launched
runs), the CLI and `make sql` all ask it, so they agree on the warehouse without passing anything
along: after an offline `make run`, a run launched from the UI writes the same sample warehouse.
"""

from __future__ import annotations

import os
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from warehouse.lake import Lake
from warehouse.lake import from_env as lake_from_env

PROJECT_ROOT = Path(__file__).resolve().parent.parent

SOURCE_KINDS = ("live", "files", "sample")

# What the live source needs: Yahoo's chart API and FRED. A DNS or TCP failure on either means
# the live source cannot run here.
LIVE_HOSTS = (("query1.finance.yahoo.com", 443), ("fred.stlouisfed.org", 443))
PROBE_TIMEOUT_S = 2.0


def config_dir() -> Path:
    return Path(os.environ.get("ROTATION_CONFIG_DIR", PROJECT_ROOT / "config"))


def sql_dir() -> Path:
    return Path(os.environ.get("ROTATION_SQL_DIR", PROJECT_ROOT / "sql"))


def source_kind() -> str:
    """The source the user asked for (ROTATION_SOURCE, `live` when unset)."""
    kind = os.environ.get("ROTATION_SOURCE", "live").strip().lower()
    if kind not in SOURCE_KINDS:
        raise ValueError(
            f"ROTATION_SOURCE={kind!r} is not a source: use one of {', '.join(SOURCE_KINDS)}"
        )
    return kind


def warehouse_path(kind: str | None = None) -> Path:
    """The DuckDB file for a source kind. The sample gets a file of its own so it never mixes
    with real data: `warehouse/sample.duckdb`, or `<name>-sample.duckdb` beside a warehouse the
    user named in ROTATION_WAREHOUSE."""
    kind = kind or source_kind()
    explicit = os.environ.get("ROTATION_WAREHOUSE")
    if explicit:
        path = Path(explicit)
        if kind == "sample" and source_kind() != "sample":
            # The user named a real warehouse; the sample stands in for it beside it.
            return path.with_name(f"{path.stem}-sample{path.suffix or '.duckdb'}")
        return path
    name = "sample.duckdb" if kind == "sample" else "rotation.duckdb"
    return PROJECT_ROOT / "warehouse" / name


def files_dir() -> Path | None:
    value = os.environ.get("ROTATION_FILES_DIR")
    return Path(value) if value else None


def duckdb_memory_limit() -> str:
    """DuckDB's memory limit for the warehouse's connections (it spills to disk beyond it).

    DuckDB's own default is 80% of the machine; a fixed default keeps a run, the UI and a reader
    from competing for all of it.
    """
    return os.environ.get("ROTATION_DUCKDB_MEMORY_LIMIT", "4GB")


def reports_dir(warehouse: Path) -> Path:
    """Charts and the dashboard page of one warehouse: `<folder>/reports/<warehouse name>/`, so
    the sample's page never overwrites the live one's."""
    warehouse = Path(warehouse)
    return warehouse.parent / "reports" / warehouse.stem


def lake_reports_dir() -> Path:
    """Charts of the lake: rendered on the machine that ran the report, beside the embedded ones."""
    return Path(os.environ.get("ROTATION_LAKE_REPORTS", PROJECT_ROOT / "warehouse" / "reports" / "lake"))


def _unreachable(host: str, port: int) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            return None
    except OSError as exc:
        return f"{host} ({exc.__class__.__name__}: {exc})"


def live_hosts() -> tuple[tuple[str, int], ...]:
    """The hosts probed for the live source; ROTATION_LIVE_PROBE ('host:port,host:port') replaces
    them, e.g. for a proxy, or for a test that must see them unreachable without a network."""
    value = os.environ.get("ROTATION_LIVE_PROBE")
    if not value:
        return LIVE_HOSTS
    hosts = []
    for item in value.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"ROTATION_LIVE_PROBE: {item!r} is not host:port")
        hosts.append((host, int(port)))
    return tuple(hosts)


def unreachable_live_hosts(hosts=None) -> list[str]:
    """The live hosts that cannot be reached (DNS or TCP), probed at once: at most PROBE_TIMEOUT_S."""
    hosts = hosts or live_hosts()
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        return [down for down in pool.map(lambda hp: _unreachable(*hp), hosts) if down]


@dataclass(frozen=True)
class Active:
    """The source that feeds the warehouse in this process, and the file it writes."""

    source: str  # live | files | sample
    warehouse: Path
    requested: str  # what ROTATION_SOURCE asked for
    fallback_reason: str | None = None  # why the sample stands in for the live source
    live_warehouse: Path | None = None  # the warehouse the live source would write
    # ROTATION_LAKE: the DuckLake the requested source writes instead of the file. A sample
    # standing in for an unreachable live source never writes it: it keeps its own file.
    lake: Lake | None = None

    @property
    def location(self) -> str:
        """Where the warehouse is, for people: the lake (password masked) or the file."""
        return self.lake.describe() if self.lake else str(self.warehouse)

    @property
    def flavour(self) -> str:
        """`sample` (synthetic numbers) or `real` (market data): what the warehouse holds."""
        return "sample" if self.source == "sample" else "real"

    @property
    def headline(self) -> str:
        """One line for people: which source, which file, and whether the numbers are real."""
        if self.fallback_reason:
            return (
                f"LIVE SOURCES UNREACHABLE ({self.fallback_reason}): the SYNTHETIC SAMPLE stands in, "
                f"in {self.warehouse}. Its numbers are NOT real market data; the live warehouse "
                f"({self.live_warehouse}) is not touched."
            )
        if self.source == "sample":
            return f"Source: the SYNTHETIC SAMPLE (not real market data), in {self.location}."
        return f"Source: {self.source} ({self.flavour} market data), in {self.location}."

    def tags(self) -> dict[str, str]:
        """Run tags that tell sample and real runs apart in the run history."""
        return {
            "rotation/source": self.source,
            "rotation/flavour": self.flavour,
            "rotation/warehouse": self.location,
        }

    def metadata(self) -> dict[str, str]:
        return {
            "source": self.source,
            "data_flavour": self.flavour,
            "warehouse": self.location,
        }


@cache
def _resolve(requested: str, explicit_warehouse: str | None, files: str | None, probe: str | None,
             lake: tuple[str | None, str | None] = (None, None)) -> Active:
    if requested != "live":
        return Active(requested, warehouse_path(requested), requested, lake=lake_from_env())
    down = unreachable_live_hosts()
    if not down:
        return Active("live", warehouse_path("live"), requested, lake=lake_from_env())
    return Active(
        "sample", warehouse_path("sample"), requested, fallback_reason="; ".join(down),
        live_warehouse=warehouse_path("live"),
    )


def active() -> Active:
    """Which source feeds the warehouse and which file it writes, decided the same way everywhere.

    ROTATION_SOURCE names the source; unset, it is `live`. When the live hosts cannot be reached,
    the synthetic sample stands in, in its own file, and says so everywhere (`headline`). The
    probe runs once per process and environment.
    """
    return _resolve(
        source_kind(), os.environ.get("ROTATION_WAREHOUSE"), os.environ.get("ROTATION_FILES_DIR"),
        os.environ.get("ROTATION_LIVE_PROBE"),
        (os.environ.get("ROTATION_LAKE"), os.environ.get("ROTATION_LAKE_DATA")),
    )
