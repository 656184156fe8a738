"""Shared helpers for what assets show in the Dagster UI."""


import dagster as dg

from warehouse import settings
from warehouse.schema_docs import core_columns

WRITER_POOL = "duckdb_writer"


def column_schema(table: str) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(c.name, c.type, description=c.description)
            for c in core_columns()[table]
        ]
    )


def table_metadata(table: str) -> dict:
    return {
        "dagster/column_schema": column_schema(table),
        "dagster/table_name": table,
    }


def active_metadata() -> dict[str, str]:
    """Which source fed the run, which warehouse it wrote and whether its numbers are real or
    the synthetic sample: on every materialisation, so no figure is read without it."""
    return settings.active().metadata()
