"""The files and sample membership sources."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from tests.ishares_fake import Row, cash_and_derivatives, holdings_csv
from warehouse import calendar
from warehouse.sources.base import SourceError
from warehouse.sources.members import open_members_source
from warehouse.sources.members_files import FilesMembersSource
from warehouse.sources.sample_members import GICS_SECTORS, SAMPLE_INDEXES, SampleMembersSource, snapshot_dates
from warehouse.universe import load_universe

D = dt.date.fromisoformat
INDEXES = load_universe().indexes  # russell_2000 (IWM), sp_600 (IJR), sp_500 (IVV)
UNTIL = D("2026-11-30")


def write(folder, name: str, data: bytes) -> None:
    (folder / "holdings").mkdir(parents=True, exist_ok=True)
    (folder / "holdings" / name).write_bytes(data)


def test_files_are_matched_to_indexes_by_the_fund_their_first_line_names(tmp_path):
    iwm = [Row("AAA", "A INC", weight=60.0), Row("MOGA", "MOOG INC CLASS A", weight=39.5, exchange="NYSE"),
           *cash_and_derivatives()]
    write(tmp_path, "download (3).csv", holdings_csv("IWM", D("2026-04-10"), iwm))
    write(tmp_path, "core.csv", holdings_csv("IVV", D("2026-04-09"), [Row("BRKB", "BERKSHIRE HATHAWAY INC CLASS B")]))
    write(tmp_path, "copy of core.csv", holdings_csv("IVV", D("2026-04-09"), [Row("BRKB", "BERKSHIRE HATHAWAY INC CLASS B")]))
    write(tmp_path, "iwb.csv", holdings_csv("IWB", D("2026-04-10"), [Row("AAA", "A INC")], fund_name="iShares Russell 1000 ETF"))
    write(tmp_path, "iwv.csv", holdings_csv("IWV", D("2026-04-10"), [Row("AAA", "A INC")]))
    batch = FilesMembersSource(tmp_path).snapshots(INDEXES, {}, UNTIL)
    got = {(s.index_id, s.as_of_date): sorted(s.members["ticker"]) for s in batch.snapshots}
    assert got == {("russell_2000", D("2026-04-10")): ["AAA", "MOG-A"], ("sp_500", D("2026-04-09")): ["BRK-B"]}
    iwm_snap = next(s for s in batch.snapshots if s.index_id == "russell_2000")
    assert dict(iwm_snap.left_out) == {"money_market": 1, "cash": 1, "collateral": 1, "futures": 1}
    assert iwm_snap.origin.endswith("holdings/download (3).csv")
    skipped = {k.rsplit("/", 1)[1]: v for k, v in batch.skipped.items()}
    # Files are read in name order: "copy of core.csv" first, so "core.csv" is the copy.
    assert set(skipped) == {"core.csv", "iwb.csv", "iwv.csv"}
    assert "the same holdings as" in skipped["core.csv"] and "copy of core.csv" in skipped["core.csv"]
    assert "'iShares Russell 1000 ETF' is not one this warehouse knows" in skipped["iwb.csv"]
    assert "holdings of IWV" in skipped["iwv.csv"] and "no enabled [indexes] entry" in skipped["iwv.csv"]
    assert batch.failed == {}


def test_a_malformed_file_is_refused_by_name_and_line_and_the_others_still_load(tmp_path):
    good = holdings_csv("IWM", D("2026-04-10"), [Row("AAA", "A INC")])
    write(tmp_path, "good.csv", good)
    write(tmp_path, "cut.csv", good.replace(b'"AAA","A INC",', b'"AAA",'))
    write(tmp_path, "saturday.csv", holdings_csv("IJR", D("2026-04-11"), [Row("BBB", "B INC")]))
    write(tmp_path, "empty.csv", holdings_csv("IJR", D("2026-04-09"), []))
    write(tmp_path, "other.csv", holdings_csv("IVV", D("2026-04-09"), [Row("CCC", "C INC")]).replace(b"Fund Holdings as of", b"As of"))
    write(tmp_path, "same day.csv", holdings_csv("IWM", D("2026-04-10"), [Row("ZZZ", "Z INC")]))
    batch = FilesMembersSource(tmp_path).snapshots(INDEXES, {}, UNTIL)
    assert [(s.index_id, s.as_of_date) for s in batch.snapshots] == [("russell_2000", D("2026-04-10"))]
    failed = {k.rsplit("/", 1)[1]: v for k, v in batch.failed.items()}
    assert set(failed) == {"cut.csv", "saturday.csv", "empty.csv", "other.csv", "same day.csv"}
    assert "cut.csv line 11: 14 cells where the header has 15" in failed["cut.csv"]
    assert "dated 2026-04-11 (Saturday), which is not an NYSE session" in failed["saturday.csv"]
    assert "the holdings table has no rows" in failed["empty.csv"]
    assert "no 'Fund Holdings as of' line" in failed["other.csv"]
    # Two files of one fund and day that differ: the first in name order loads, the other is refused.
    assert "differ from those of" in failed["same day.csv"] and "good.csv" in failed["same day.csv"]
    assert all("the other files still load" in why for why in failed.values())


def test_files_before_the_history_start_or_after_the_last_session_wait(tmp_path):
    write(tmp_path, "old.csv", holdings_csv("IWM", D("2019-12-31"), [Row("AAA", "A INC")]))
    write(tmp_path, "new.csv", holdings_csv("IWM", D("2026-04-10"), [Row("AAA", "A INC")]))
    batch = FilesMembersSource(tmp_path).snapshots(INDEXES, {}, D("2026-04-09"), D("2020-01-02"))
    assert batch.snapshots == []
    assert "before [history] start 2020-01-02" in batch.skipped[str(tmp_path / "holdings" / "old.csv")]
    assert "after the last completed session 2026-04-09" in batch.skipped[str(tmp_path / "holdings" / "new.csv")]


def test_a_missing_folder_is_said_and_the_files_source_needs_its_folder(tmp_path):
    batch = FilesMembersSource(tmp_path).snapshots(INDEXES, {}, UNTIL)
    assert batch.snapshots == [] and "does not exist" in batch.notes[0]
    with pytest.raises(SourceError, match="ROTATION_FILES_DIR"):
        open_members_source("files", None)


@pytest.mark.realdata
def test_the_real_files_load_from_a_folder_with_their_class_shares_mapped(realdata, tmp_path):
    (tmp_path / "holdings").mkdir()
    for path in (realdata / "holdings").glob("*.csv"):
        shutil.copy(path, tmp_path / "holdings" / path.name)
    batch = FilesMembersSource(tmp_path).snapshots(INDEXES, {}, UNTIL)
    got = {(s.index_id, str(s.as_of_date)): len(s.members) for s in batch.snapshots}
    # Member counts of test_members_parser.py (counted by hand); no two tickers map to one symbol.
    assert got == {("russell_2000", "2025-05-13"): 1926, ("russell_2000", "2025-11-05"): 1952,
                   ("russell_2000", "2026-04-10"): 1924, ("russell_2000", "2026-04-23"): 1920,
                   ("russell_2000", "2026-05-05"): 1912, ("sp_500", "2023-04-06"): 503, ("sp_500", "2025-05-08"): 503}
    assert "no enabled [indexes] entry" in batch.skipped[str(tmp_path / "holdings" / "IWV_2025-05-02.csv")]
    iwm = next(s for s in batch.snapshots if str(s.as_of_date) == "2026-04-10")
    ivv = next(s for s in batch.snapshots if str(s.as_of_date) == "2025-05-08")
    assert {"MOG-A", "GEF-B", "CRD-A"} <= set(iwm.members["ticker"])
    assert {"BRK-B", "BF-B"} <= set(ivv.members["ticker"])
    assert not ({"MOGA", "BRKB"} & set(iwm.members["ticker"]) | {"BRKB", "BFB"} & set(ivv.members["ticker"]))
    assert all(s.unmapped == [] and s.class_share_candidates == [] for s in batch.snapshots)
    assert 0.99 < iwm.members["weight"].sum() < 1.0


# --- the sample ---------------------------------------------------------------------------------


def test_sample_snapshots_are_monthly_from_the_sample_start():
    dates = snapshot_dates(D("2015-01-02"), D("2015-04-15"))
    assert dates == [D("2015-01-02"), D("2015-01-30"), D("2015-02-27"), D("2015-03-31")]
    assert snapshot_dates(D("2015-01-02"), D("2015-04-30"))[-1] == D("2015-04-30")
    assert all(calendar.is_session(d) for d in snapshot_dates(D("2015-01-02"), UNTIL))


def test_the_sample_is_deterministic_small_and_changes_over_time():
    first = SampleMembersSource().snapshots(INDEXES, {}, UNTIL)
    shorter = SampleMembersSource().snapshots(INDEXES, {}, D("2020-06-30"))
    by_key = {s.key: s for s in first.snapshots}
    for s in shorter.snapshots:  # a month's members do not depend on how far the sample runs
        assert by_key[s.key].members.equals(s.members)
    tickers = set()
    for index_id, shape in SAMPLE_INDEXES.items():
        snaps = [s for s in first.snapshots if s.index_id == index_id]
        assert len(snaps) == 144  # 2015-01-02, then the 143 month ends to 2026-11-30
        assert all(len(s.members) == shape.size for s in snaps)
        assert all(abs(s.members["weight"].sum() - 1) < 1e-9 for s in snaps)
        assert all(set(s.members["sector"]) <= set(GICS_SECTORS) for s in snaps)
        sets = [set(s.members["ticker"]) for s in snaps]
        added = sum(len(b - a) for a, b in zip(sets, sets[1:], strict=False))
        removed = sum(len(a - b) for a, b in zip(sets, sets[1:], strict=False))
        assert added == removed > 20  # members join and leave, the count stays
        tickers |= set().union(*sets)
    assert len(tickers) <= 150 and all(t.startswith("SAMP") for t in tickers)
    assert all(s.origin == "sample" for s in first.snapshots)


def test_the_sample_has_no_members_for_an_index_it_does_not_know():
    from warehouse.universe import IndexSpec

    batch = SampleMembersSource().snapshots([IndexSpec("russell_3000", "IWV", "^RUA", "/x")], {}, UNTIL)
    assert batch.snapshots == [] and "none for it" in batch.notes[0]
