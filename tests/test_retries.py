"""Only transient failures are retried; a deterministic one fails once, with its cause named."""

import dagster as dg
import duckdb
import pytest
import requests

from pipelines.defs.retries import is_transient, transient_only


def attempts_of(error: Exception) -> tuple[int, dg.ExecuteInProcessResult]:
    calls = []

    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=2, delay=0))
    @transient_only
    def flaky(context: dg.AssetExecutionContext):
        calls.append(context.retry_number)
        raise error

    result = dg.materialize([flaky], raise_on_error=False)
    return len(calls), result


@pytest.mark.parametrize("error", [ValueError("bad config line 3"), KeyError("missing"),
                                   duckdb.CatalogException('Table "staging.pair_sessions" does not exist')])
def test_a_deterministic_error_runs_once_and_names_its_cause(error):
    attempts, result = attempts_of(error)
    assert attempts == 1
    failure = result.get_step_failure_events()[0].event_specific_data.error
    assert type(error).__name__ in failure.message and "not retried" in failure.message


@pytest.mark.parametrize("error", [requests.Timeout("read timed out"), requests.ConnectionError("reset"),
                                   TimeoutError("slow"), duckdb.IOException('Could not set lock on file "w.duckdb"')])
def test_a_transient_error_is_retried_by_the_policy(error):
    attempts, result = attempts_of(error)
    assert attempts == 3  # the first try and the policy's two retries
    assert not result.success


def test_an_io_error_other_than_the_lock_is_not_transient():
    assert not is_transient(duckdb.IOException("No space left on device"))
    assert is_transient(duckdb.IOException("IO Error: Could not set lock on file"))
