"""The benchmark harness on a tiny workload, so `make bench` keeps working. No timing asserted."""

from bench import run, workload


def test_the_harness_runs_every_phase_and_its_report_comes_back_from_the_results(capsys, tmp_path):
    results, report = tmp_path / "results.json", tmp_path / "BENCHMARKS.md"
    paths = ["--results", str(results), "--report", str(report)]
    assert run.main(["--tickers", "12", "--years", "1", "--repeat", "1", "--overhead-repeat", "0", *paths]) == 0
    out = capsys.readouterr().out
    for phase in ("load", "floor", "full build (Dagster)", "incremental (Dagster)", "incremental (SQL)", "pandas"):
        assert f"| {phase} |" in out
    assert "| load at least 5 M rows/s |" in out
    assert "| highs_drawdowns |" in out and "## The daily run at index size" in out
    # bench/notes.md is edited after a run: --from-results gives the run's own report again
    written = report.read_text(encoding="utf-8")
    report.unlink()
    assert run.main(["--from-results", *paths]) == 0
    assert report.read_text(encoding="utf-8") == written


def test_the_workload_is_the_sample_on_nyse_sessions():
    table = workload.generate(9, 1)
    assert table.num_rows == 9 * len(set(table.column("trade_date").to_pylist()))
    assert set(table.column("ticker").to_pylist()) == set(workload.tickers(9))

