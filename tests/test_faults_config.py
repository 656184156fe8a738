"""Malformed configuration: universe.toml, models.toml, checks.toml and the shipped CSVs.

Each case breaks one line of a copy of config/ (ROTATION_CONFIG_DIR) and expects the error to name
the file and that line: from the file's own reader (fast, here), from the Dagster run that reads
the file (the CSVs), and, behind the `faults` marker, from loading the definitions the way `make
run` (the CLI) and `dg dev` (the UI: `dagster definitions validate`) load them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.defs.resources import MarketSourceResource, WarehouseResource
from tests.faults_helpers import ROOT, child_env, config_copy

CONFIG = ROOT / "config"


@dataclass(frozen=True)
class Broken:
    """One malformed file: its name, its new text and the line the error must name."""

    file: str
    text: str
    line: int
    says: str  # words the error must hold besides the file and the line


def original(name: str) -> list[str]:
    return (CONFIG / name).read_text(encoding="utf-8").splitlines()


def appended(name: str, line: str, says: str) -> Broken:
    lines = original(name)
    return Broken(name, "\n".join([*lines, line]) + "\n", len(lines) + 1, says)


def replaced(name: str, pattern: str, new: str, says: str, after: bool = False) -> Broken:
    """The first line matching `pattern` replaced by `new` (or, with `after`, `new` inserted after it)."""
    lines = original(name)
    index = next(i for i, text in enumerate(lines) if re.search(pattern, text))
    if after:
        lines.insert(index + 1, new)
        index += 1
    else:
        lines[index] = new if "{}" not in new else new.format(lines[index])
    return Broken(name, "\n".join(lines) + "\n", index + 1, says)


def first_ticker_lowercased() -> Broken:
    lines = original("universe.toml")
    index = next(i for i, text in enumerate(lines) if re.match(r"^\s*\w+\s*=\s*\[\s*\"[A-Z]", text))
    ticker = re.search(r'"([A-Z][A-Z0-9.]*)"', lines[index])[1]
    lines[index] = lines[index].replace(f'"{ticker}"', f'"{ticker.lower()}"', 1)
    return Broken("universe.toml", "\n".join(lines) + "\n", index + 1, f"{ticker.lower()!r} is not a valid ticker")



CASES = {
    "universe syntax": lambda: appended("universe.toml", "broken = = 1", "not valid TOML"),
    "universe bad ticker": first_ticker_lowercased,
    "models syntax": lambda: appended("models.toml", "broken = = 1", "models.toml"),
    "models parameter type": lambda: replaced("models.toml", r"^rs_sma_short\s*=", "rs_sma_short = [50]",
                                              "rs_sma_short must be a number or a string"),
    "checks syntax": lambda: appended("checks.toml", "[prices.outliers", "not valid TOML"),
    "checks unknown threshold": lambda: replaced("checks.toml", r"^\[prices\.outliers\]", "vol_multipel = 8",
                                                 "[prices.outliers] vol_multipel is not a threshold", after=True),
    "checks wrong type": lambda: replaced("checks.toml", r"^max_lag_sessions\s*=", "max_lag_sessions = 'zero'",
                                          "max_lag_sessions = 'zero' has the wrong type"),
    "fomc reference row": lambda: appended("fomc_decisions.csv", "2030-01-02,3.25,3.50,-25x,a typo",
                                           "change_bp '-25x' is not a whole number of basis points"),
    "claims row": lambda: appended("claims.csv", "typo_claim,Someone,a note,,close,^RUT,,2025-01-02,4.69%,0.005,",
                                   "claimed_value '4.69%' is a percent"),
    "published valuations header": lambda: replaced("published_valuations.csv", r"^as_of_date,", "as_of_dat,{}",
                                                    "unknown column(s) ['as_of_dat"),
}
def case_params(names):
    return [pytest.param(name, id=name) for name in names]


def broken_config(tmp_path: Path, case: str) -> tuple[Path, Broken]:
    broken = CASES[case]()
    folder = config_copy(tmp_path / "config", **{broken.file: broken.text})
    return folder / broken.file, broken


def assert_names_file_and_line(text: str, path: Path, broken: Broken) -> None:
    assert broken.says in text, text[-3000:]
    # "<file> line <n>" (the readers' form) or tomllib's "(at line <n>, ...)" after the file's name.
    assert re.search(rf"{re.escape(str(path))}(:| line {broken.line}\b)", text), text[-3000:]
    assert re.search(rf"\bline {broken.line}\b", text), text[-3000:]


def read_with_its_reader(path: Path, name: str):
    """Read the file the way the project reads it; what the reader raises, or its problems."""
    from warehouse import models
    from warehouse.checks.config import load_config
    from warehouse.claims import read_claims
    from warehouse.fomc_reference import read_reference
    from warehouse.universe import load_universe
    from warehouse.valuations import read_published

    if name == "universe.toml":
        return load_universe(path)
    if name == "models.toml":
        params = models.load_params(path)
        for model in models.discover():
            model.dependencies(params)  # renders the SQL with the parameters, as the definitions do
        return params
    if name == "checks.toml":
        return load_config(path)
    if name == "fomc_decisions.csv":
        return read_reference(path)
    if name == "claims.csv":
        return read_claims(path)
    if name == "published_valuations.csv":
        return read_published(path)
    raise AssertionError(name)


@pytest.mark.parametrize("case", case_params(CASES))
def test_the_reader_names_the_file_and_the_line(tmp_path, monkeypatch, case):
    path, broken = broken_config(tmp_path, case)
    monkeypatch.setenv("ROTATION_CONFIG_DIR", str(path.parent))
    with pytest.raises(Exception) as error:  # noqa: B017 - each reader has its own error class
        read_with_its_reader(path, broken.file)
    assert isinstance(error.value, ValueError), error.value  # every reader's error is a ValueError
    assert_names_file_and_line(str(error.value), path, broken)


def test_a_malformed_published_valuation_row_is_named_and_the_others_load(tmp_path):
    from warehouse.valuations import read_published

    broken = appended("published_valuations.csv", "2026-01-05,^RUT,pe_forward,18x,forward,unstated,Someone,,",
                      "value '18x' has a unit")
    path = config_copy(tmp_path / "config", **{broken.file: broken.text}) / broken.file
    parsed = read_published(path)
    assert parsed.problems == [f"{path} line {broken.line}: {broken.says}: write the number alone, e.g. 18.11 "
                               "for 18.11x"]
    good = read_published(CONFIG / broken.file)
    assert len(parsed.rows) == len(good.rows) and good.problems == []


# The CSVs are read when their asset runs: the run fails naming the file and the line, and the
# table keeps what it held (the file is checked whole before anything is written).
@pytest.mark.parametrize(("case", "asset_name", "table"), [
    ("fomc reference row", "fomc_reference", "core.fomc_reference"),
    ("claims row", "published_claims", "core.published_claims"),
    ("published valuations header", "published_valuations", "core.valuations"),
])
def test_the_run_reading_a_malformed_csv_fails_naming_file_and_line(tmp_path, monkeypatch, case, asset_name, table):
    from pipelines.defs.ingest import claims, rates, valuations

    asset = {"fomc_reference": rates.fomc_reference, "published_claims": claims.published_claims,
             "published_valuations": valuations.valuations_published}[asset_name]
    db = tmp_path / "wh.duckdb"
    monkeypatch.setenv("ROTATION_SOURCE", "files")
    monkeypatch.setenv("ROTATION_FILES_DIR", str(tmp_path))
    monkeypatch.setenv("ROTATION_WAREHOUSE", str(db))
    # The project's resource: it closes the warehouse when the run ends, failed or not.
    # The files source: the sample skips the published figures (they are real data).
    resources = {"duckdb": WarehouseResource(database=str(db)),
                 "market_source": MarketSourceResource(kind="files", files_dir=str(tmp_path))}
    assert dg.materialize([asset], resources=resources).success  # the shipped file loads
    with duckdb.connect(str(db), read_only=True) as conn:
        held = sorted(conn.execute(f"select * from {table}").fetchall())
    path, broken = broken_config(tmp_path, case)
    monkeypatch.setenv("ROTATION_CONFIG_DIR", str(path.parent))
    result = dg.materialize([asset], resources=resources, raise_on_error=False)
    assert not result.success
    text = "\n".join(e.event_specific_data.error.to_string() for e in result.all_events
                     if e.event_type_value == "STEP_FAILURE")
    assert_names_file_and_line(text, path, broken)
    with duckdb.connect(str(db), read_only=True) as conn:
        assert sorted(conn.execute(f"select * from {table}").fetchall()) == held


# -- the definitions, loaded as the CLI and the UI load them (slow: a process each) ----------------

DEFINITIONS_CASES = [c for c in CASES if not c.startswith(("fomc", "claims", "published"))]


def definitions_params(csv: bool = True):
    out = case_params(DEFINITIONS_CASES)
    if csv:
        out += [pytest.param(c, id=c) for c in ("fomc reference row", "claims row")]
    return out


def run_process(args: list[str], tmp_path: Path, config: Path) -> subprocess.CompletedProcess:
    env = child_env(ROTATION_CONFIG_DIR=str(config), ROTATION_WAREHOUSE=str(tmp_path / "wh.duckdb"),
                    DAGSTER_HOME=str(tmp_path))
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.faults
@pytest.mark.parametrize("case", definitions_params())
def test_the_ui_refuses_to_load_the_definitions_naming_file_and_line(tmp_path, case):
    path, broken = broken_config(tmp_path, case)
    dagster = Path(sys.executable).with_name("dagster")
    done = run_process([str(dagster), "definitions", "validate", "-m", "pipelines.definitions"], tmp_path,
                       path.parent)
    assert done.returncode != 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert_names_file_and_line(done.stdout + done.stderr, path, broken)


# The CSV cases are left to the UI test above: today `make run` goes on to a whole run there and
# fails in the asset (test_the_run_reading_a_malformed_csv_fails_naming_file_and_line).
@pytest.mark.faults
@pytest.mark.parametrize("case", definitions_params(csv=False))
def test_make_run_refuses_to_start_naming_file_and_line(tmp_path, case):
    path, broken = broken_config(tmp_path, case)
    done = run_process([sys.executable, "-m", "pipelines.run"], tmp_path, path.parent)
    assert done.returncode != 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert_names_file_and_line(done.stdout + done.stderr, path, broken)
    # Nothing was written: the warehouse file was not even created.
    assert not (tmp_path / "wh.duckdb").exists()


@pytest.mark.parametrize("name", sorted({case().file for case in CASES.values()}))
def test_the_shipped_file_loads_without_error(monkeypatch, name):
    """The control: the same reader accepts the shipped file as it is."""
    monkeypatch.delenv("ROTATION_CONFIG_DIR", raising=False)
    assert read_with_its_reader(CONFIG / name, name)
