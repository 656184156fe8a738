"""The benchmark harness on a tiny workload, so `make bench` keeps working. No timing asserted."""

from bench import run, workload


def test_the_harness_runs_every_phase(capsys):
    assert run.main(["--tickers", "12", "--years", "1", "--repeat", "1", "--no-write", "--overhead-repeat", "0"]) == 0
    out = capsys.readouterr().out
    for phase in ("load", "floor", "full build (Dagster)", "incremental (Dagster)", "incremental (SQL)", "pandas"):
        assert f"| {phase} |" in out
    assert "| load at least 5 M rows/s |" in out


def test_the_workload_is_the_sample_on_nyse_sessions():
    table = workload.generate(9, 1)
    assert table.num_rows == 9 * len(set(table.column("trade_date").to_pylist()))
    assert set(table.column("ticker").to_pylist()) == set(workload.tickers(9))
