"""Resources, configured from the environment (see README: ROTATION_* and FRED_API_KEY)."""


import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from warehouse import settings
from warehouse.sources.base import Source, open_source


class MarketSourceResource(dg.ConfigurableResource):
    """Which source feeds the warehouse: live services, a folder of files, or the sample."""

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


class WarehouseResource(DuckDBResource):
    """The warehouse file, opened once per run process and shared by its steps.

    DuckDBResource opens the file for every `get_connection` and closes it after, which costs a
    checkpoint and a cold cache each time (1.3 s of a 9 s sample build, see BENCHMARKS.md). This
    keeps one database open from the first step that asks for it to the end of the process's
    execution and hands each block its own connection to it (a DuckDB cursor: its own
    transactions and temp tables, the same database and cache). In-process runs share it across
    all their steps; the multiprocess executor still opens it once per step process.
    """

    _database: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._database is None:
            self._database = duckdb.connect(self.database, config=dict(self.connection_config))
        conn = self._database.cursor()
        try:
            yield conn
        finally:
            conn.close()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._database is not None:
            self._database.close()
            self._database = None


def market_source_from_env() -> MarketSourceResource:
    # FRED_API_KEY stays an EnvVar so its value is resolved at run time and never shown in the UI.
    key = dg.EnvVar("FRED_API_KEY") if os.environ.get("FRED_API_KEY") else None
    files = settings.files_dir()
    return MarketSourceResource(
        kind=settings.source_kind(),
        files_dir=str(files) if files else None,
        fred_api_key=key,
        fred_base_url=os.environ.get("ROTATION_FRED_BASE_URL"),
    )


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "duckdb": WarehouseResource(
                database=str(settings.warehouse_path()),
                connection_config={"memory_limit": settings.duckdb_memory_limit()},
            ),
            "market_source": market_source_from_env(),
        }
    )
