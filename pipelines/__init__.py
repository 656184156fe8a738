"""The Dagster code location of the rotation warehouse."""
