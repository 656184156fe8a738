"""`make run` with faults in the prices: one bad bar is quarantined and everything builds; a ticker
whose load is mostly refused stops only what depends on the prices, and the run says what it
left out and why."""

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines import run
from warehouse import settings
from warehouse.sources.sample import SampleSource

ROOT = Path(__file__).resolve().parents[1]
BAD_DAY = pd.Timestamp("2025-06-10").date()


@pytest.fixture
def short_history(tmp_path, monkeypatch):
    """The project's config with history from 2025 (a short build), the sample source, a fresh
    warehouse and Dagster home."""
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    universe = config / "universe.toml"
    universe.write_text(universe.read_text().replace("[history]\n", '[history]\nstart = "2025-01-02"\n', 1))
    monkeypatch.setenv("ROTATION_CONFIG_DIR", str(config))
    monkeypatch.setenv("ROTATION_SOURCE", "sample")
    monkeypatch.setenv("ROTATION_WAREHOUSE", str(tmp_path / "wh.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    settings._resolve.cache_clear()
    yield tmp_path / "wh.duckdb"
    settings._resolve.cache_clear()


def corrupt(monkeypatch, ticker: str, pick):
    """The sample source, with the high and low swapped on the bars of `ticker` that `pick` selects."""
    original = SampleSource.daily_bars

    def daily_bars(self, tickers, start, end):
        batch = original(self, tickers, start, end)
        bars = batch.bars
        hit = (bars["ticker"] == ticker) & pick(bars)
        bars.loc[hit, ["high", "low"]] = bars.loc[hit, ["low", "high"]].to_numpy()
        return batch

    monkeypatch.setattr(SampleSource, "daily_bars", daily_bars)


def counts(path: Path, schema: str) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as conn:
        tables = conn.execute(
            "select table_name from duckdb_tables() where schema_name = ?", [schema]).fetchall()
        return {t: conn.execute(f"select count(*) from {schema}.{t}").fetchall()[0][0] for (t,) in tables}


def test_one_bad_bar_is_quarantined_and_every_mart_builds(short_history, monkeypatch, capsys):
    corrupt(monkeypatch, "^GSPC", lambda bars: bars["trade_date"] == BAD_DAY)
    assert run.main() == 0
    out = capsys.readouterr().out
    assert "FAILED" not in out and "NOT BUILT" not in out
    marts = counts(short_history, "marts")
    assert set(marts) == {p.stem for p in (ROOT / "sql" / "marts").glob("*.sql")}
    assert all(n > 0 for n in marts.values()), marts
    with duckdb.connect(str(short_history), read_only=True) as conn:
        quarantined = conn.execute(
            "select key, reason from core.quarantine where target_table = 'core.prices_daily'").fetchall()
        assert [(k, "high below low" in r) for k, r in quarantined] == [("^GSPC 2025-06-10", True)]
        # The other sessions of ^GSPC loaded, the hole is only that day.
        days = conn.execute("select count(*) from core.prices_daily where ticker = '^GSPC'").fetchall()[0][0]
        spy_days = conn.execute("select count(*) from core.prices_daily where ticker = 'SPY'").fetchall()[0][0]
        assert days == spy_days - 1


def test_a_mostly_refused_ticker_stops_only_what_reads_the_prices(short_history, monkeypatch, capsys):
    corrupt(monkeypatch, "IWM", lambda bars: bars["trade_date"].map(lambda d: d.day % 5 != 0))
    assert run.main() == 1
    out = capsys.readouterr().out
    assert "STOPPED BY A BLOCKING CHECK:\n  core/prices_daily: blocking check prices_integrity failed" in out
    assert "marts/relative_strength: depends on core/prices_daily, which did not build" in out
    assert "staging/returns_daily: depends on core/prices_daily, which did not build" in out
    marts = counts(short_history, "marts")
    # What does not read the prices built: the Fed tables, the curve, the valuation gap.
    for built in ("fed_policy", "yield_curve", "valuation_gap"):
        assert marts.get(built, 0) > 0, built
    for stopped in ("relative_strength", "breadth", "highs_drawdowns", "claims"):
        assert stopped not in marts, stopped
    assert counts(short_history, "core")["rates_daily"] > 0
