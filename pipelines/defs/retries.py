"""Which failures an ingest step retries: the transient ones only.

Dagster's RetryPolicy retries whatever a step raises. A source that timed out, a 5xx or a rate
limit may pass on the next attempt; a SQL error, a missing relation, a malformed config file or
a refused file will fail the same way again, and three red attempts for one click say nothing
more than one. `transient_only` turns every other error into a Failure that is not retried, with
the original error attached.
"""

from __future__ import annotations

import functools

import dagster as dg
import duckdb
import requests

from warehouse.lake import is_conflict

# Network trouble, and DuckDB's lock held by another process, may pass.
TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, TimeoutError, ConnectionError)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT_ERRORS):
        return True
    if is_conflict(exc):  # on a lake: another writer committed first (warehouse/lake.py)
        return True
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def transient_only(fn):
    """Decorate an asset's body (under @dg.asset): only transient errors reach its RetryPolicy."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (dg.Failure, dg.RetryRequested):
            raise
        except Exception as exc:
            if is_transient(exc):
                raise
            raise dg.Failure(
                description=f"{type(exc).__name__}: {exc} (not retried: it would fail the same way again)",
                allow_retries=False,
            ) from exc

    return wrapper
