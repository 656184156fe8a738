"""The DuckDB layer of the rotation warehouse: configuration, sources, loading and models.

Nothing in this package imports Dagster, so every piece can be used and tested on its own.
"""
