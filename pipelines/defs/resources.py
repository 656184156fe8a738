"""Resources, configured from the environment (see README: ROTATION_* and FRED_API_KEY).

Which source and which warehouse file come from `warehouse.settings.active()`, the same decision
`make run` takes, so the UI, the schedules and launched runs write the warehouse `make run` built.
Each resource's description in the UI says what is active, and the sample says it is synthetic.
"""

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from warehouse import lake as ducklake
from warehouse import settings
from warehouse.db import check_file, open_error
from warehouse.sources.base import Source, open_source

# A lock held by another process (a reader of the warehouse file, `make run` while the UI runs)
# passes; a run waits for it with backoff instead of failing at once.
LOCK_WAIT_S = 120.0


class MarketSourceResource(dg.ConfigurableResource):
    """Which source feeds the warehouse: live services (Yahoo, FRED), a folder of files, or the
    synthetic sample."""

    kind: str = "live"
    files_dir: str | None = None
    fred_api_key: str | None = None
    fred_base_url: str | None = None

    def prices(self) -> Source:
        return open_source(self.kind, self.files_dir)

    def rates(self):
        from warehouse.sources.rates import open_rates_source

        return open_rates_source(
            self.kind, self.files_dir, api_key=self.fred_api_key, base_url=self.fred_base_url
        )

    def valuations(self):
        from warehouse.sources.valuations import open_valuations_source

        return open_valuations_source(self.kind, self.files_dir)

    def members(self):
        from warehouse.sources.members import open_members_source

        return open_members_source(self.kind, self.files_dir)


def _is_lock_error(exc: duckdb.Error) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def open_waiting_for_lock(path: str, config: dict, wait_s: float = LOCK_WAIT_S, log=None) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, retried with backoff while another process holds the file's lock. A file
    that is not a DuckDB database (or a damaged one) is refused by name and left unchanged."""
    check_file(path)
    deadline = time.monotonic() + wait_s
    delay = 0.2
    while True:
        try:
            return duckdb.connect(path, config=config)
        except duckdb.Error as exc:
            if not _is_lock_error(exc) or time.monotonic() + delay > deadline:
                clear = open_error(path, exc)
                if clear is not None:
                    raise clear from exc
                raise
            if log is not None:
                log.info(f"{path} is locked by another process; retrying in {delay:.1f} s")
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


class WarehouseResource(DuckDBResource):
    """The warehouse file, opened once per run process and shared by its steps.

    DuckDBResource opens the file for every `get_connection` and closes it after, which costs a
    checkpoint and a cold cache each time (1.3 s of a 9 s sample build, see BENCHMARKS.md). This
    keeps one database open from the first step that asks for it to the end of the run's process
    and hands each block its own connection to it (a DuckDB cursor: its own transactions and
    temp tables, the same database and cache). Runs use the in-process executor, so every step of
    a run shares it. A lock held by another process is waited for, with backoff.
    """

    # ROTATION_LAKE and ROTATION_LAKE_DATA: when set, the warehouse is that DuckLake (the catalog
    # is read from the environment at run time, so a password in it is never shown in the UI) and
    # `database` only names it for people.
    lake: str | None = None
    lake_data: str | None = None

    _database: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)
    _log: object = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._log = context.log
        run = context.dagster_run
        if context.instance is not None and run is not None:
            # Every run says which source and warehouse it wrote, so sample and live runs are
            # told apart in the run history (filter by tag rotation/flavour).
            missing = {k: v for k, v in settings.active().tags().items() if run.tags.get(k) != v}
            if missing:
                context.instance.add_run_tags(run.run_id, missing)

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._database is None and self.lake:
            # Many processes may write a lake at once: there is no lock to wait for, and commits
            # that conflict are retried by the writers (warehouse/lake.py).
            self._database = ducklake.connect(
                ducklake.Lake(self.lake, self.lake_data), memory_limit=self.connection_config.get("memory_limit")
            )
        if self._database is None:
            os.makedirs(os.path.dirname(os.path.abspath(self.database)), exist_ok=True)
            self._database = open_waiting_for_lock(self.database, dict(self.connection_config), log=self._log)
        conn = self._database.cursor()
        if self.lake:
            # `use` is per connection, and a cursor starts on the in-memory database.
            conn.execute(f"use {ducklake.ALIAS}")
        try:
            yield conn
        finally:
            conn.close()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._database is not None:
            self._database.close()
            self._database = None


def described(resource: dg.ConfigurableResource, text: str) -> dg.ConfigurableResource:
    """The resource, with `text` first in its description in the UI (Dagster shows the class
    docstring, so the text goes on a subclass made for this process)."""
    cls = type(resource)
    doc = f"{text}\n\n{cls.__doc__ or ''}".strip()
    subclass = type(cls.__name__, (cls,), {"__doc__": doc, "__module__": cls.__module__})
    return subclass(**{name: getattr(resource, name) for name in cls.model_fields})


def market_source_from_env(active: settings.Active | None = None) -> MarketSourceResource:
    active = active or settings.active()
    # FRED_API_KEY stays an EnvVar so its value is resolved at run time and never shown in the UI.
    key = dg.EnvVar("FRED_API_KEY") if os.environ.get("FRED_API_KEY") else None
    files = settings.files_dir()
    return MarketSourceResource(
        kind=active.source,
        files_dir=str(files) if files else None,
        fred_api_key=key,
        fred_base_url=os.environ.get("ROTATION_FRED_BASE_URL"),
    )


def warehouse_from_env(active: settings.Active | None = None) -> WarehouseResource:
    active = active or settings.active()
    if active.lake is not None:
        return WarehouseResource(
            database=active.location,
            lake=dg.EnvVar("ROTATION_LAKE"),
            lake_data=active.lake.data_path,
            connection_config={"memory_limit": settings.duckdb_memory_limit()},
        )
    return WarehouseResource(
        database=str(active.warehouse),
        connection_config={"memory_limit": settings.duckdb_memory_limit()},
    )


@dg.definitions
def resources() -> dg.Definitions:
    active = settings.active()
    return dg.Definitions(
        resources={
            "duckdb": described(warehouse_from_env(active), active.headline),
            "market_source": described(market_source_from_env(active), active.headline),
        },
        # Every step of a run in one process: the steps share the open warehouse, a run holds
        # DuckDB's single writer lock once, and no step pays a new process that imports the
        # code location (seconds each on 2 cores). Runs that write are serialised by the
        # `duckdb_writer` pool at run granularity (dagster.yaml), so they queue, not collide.
        executor=dg.in_process_executor,
    )
