"""Data-quality checks as plain functions over a DuckDB connection.

The Dagster wiring is in pipelines/defs/checks/.
"""

from warehouse.checks.base import MAX_ROWS, CheckOutcome, markdown_table

__all__ = ["MAX_ROWS", "CheckOutcome", "markdown_table"]
