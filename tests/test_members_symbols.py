"""Holdings tickers to Yahoo symbols (warehouse/sources/holding_symbols.py) and the snapshot a
holdings file gives (warehouse/sources/members.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.ishares_fake import Row, holdings_csv
from warehouse.sources.holding_symbols import HoldingSymbolsError, load_symbol_map
from warehouse.sources.holdings_file import Holding, parse_holdings
from warehouse.sources.members import MembersSourceError, snapshot_from_holdings
from warehouse.universe import IndexSpec

D = dt.date.fromisoformat
IWM = IndexSpec("russell_2000", "IWM", "^RUT", "/us/products/239710/ishares-russell-2000-etf")
HEADER = "holding_ticker,yahoo_symbol,name,note\n"


def write(tmp_path, body: str, header: str = HEADER):
    path = tmp_path / "holding_symbols.csv"
    path.write_text("# a comment\n" + header + body, encoding="utf-8")
    return path


def holding(ticker, name="X INC", exchange="NYSE") -> Holding:
    return Holding(ticker, name, "Industrials", 0.01, exchange, 11)


def test_the_shipped_file_maps_every_class_share_of_the_real_files():
    symbols = load_symbol_map()
    expected = {"MOGA": "MOG-A", "BRKB": "BRK-B", "GEFB": "GEF-B", "CRDA": "CRD-A", "HEIA": "HEI-A",
                "LENB": "LEN-B", "CWENA": "CWEN-A", "BFB": "BF-B", "BFA": "BF-A"}
    assert {t: symbols.symbol(t)[0] for t in expected} == expected
    # Complete symbols that end in their class letter stay as they are.
    assert [symbols.symbol(t)[0] for t in ("INFA", "ZVIA", "CVNA", "MA")] == ["INFA", "ZVIA", "CVNA", "MA"]


def test_rules_map_separators_and_plain_tickers_and_name_what_they_cannot(tmp_path):
    symbols = load_symbol_map(write(tmp_path, "MOGA,MOG-A,MOOG INC CLASS A,\nGONE,,DELISTED CO,no symbol\n"))
    assert symbols.symbol("MOGA") == ("MOG-A", None)
    assert symbols.symbol("BRK.B") == ("BRK-B", None)
    assert symbols.symbol("BF/B") == ("BF-B", None)
    assert symbols.symbol("CMCSA") == ("CMCSA", None)  # Nasdaq: the fifth letter is Yahoo's too
    assert symbols.symbol("P5N994") == ("P5N994", None)
    symbol, why = symbols.symbol("GONE")
    assert symbol is None and "says it has no Yahoo symbol" in why
    symbol, why = symbols.symbol("AB*C")
    assert symbol is None and "not a symbol Yahoo uses" in why and str(tmp_path) in why


def test_class_share_candidates_are_nyse_names_with_the_class_letter_not_in_the_file(tmp_path):
    symbols = load_symbol_map(write(tmp_path, "ZVIA,ZVIA,ZEVIA CLASS A,checked\n"))
    assert symbols.class_share_candidate(holding("XYZA", "XYZ CORP CLASS A"))
    assert not symbols.class_share_candidate(holding("ZVIA", "ZEVIA CLASS A"))  # checked in the file
    assert not symbols.class_share_candidate(holding("FOXA", "FOX CORP CLASS A", "NASDAQ"))
    assert not symbols.class_share_candidate(holding("GEF", "GREIF INC CLASS A"))  # no class letter at the end
    assert symbols.class_share_candidate(holding("XYZB", "XYZ CORP CLASS B", "New York Stock Exchange Inc."))


@pytest.mark.parametrize(
    ("body", "header", "named"),
    [
        ("MOGA,MOG-A,MOOG,\nMOGA,MOG-A,MOOG,\n", HEADER, "line 4: MOGA is listed twice (first on line 3)"),
        ("MOGA,MOG A,MOOG,\n", HEADER, "line 3: yahoo_symbol 'MOG A' is not a Yahoo symbol"),
        ("MOGA,MOG-A\n", HEADER, "line 3: 2 cells, expected 4"),
        ("MOGA,MOG-A,MOOG,\n", "ticker,symbol\n", "line 2: the header must be holding_ticker,yahoo_symbol,name,note"),
    ],
)
def test_a_malformed_overrides_file_is_refused_with_its_line(tmp_path, body, header, named):
    path = write(tmp_path, body, header)
    with pytest.raises(HoldingSymbolsError) as err:
        load_symbol_map(path)
    assert str(path) in str(err.value) and named in str(err.value)


def test_a_snapshot_maps_merges_duplicates_and_counts_what_it_leaves_out(tmp_path):
    symbols = load_symbol_map(write(tmp_path, "MOGA,MOG-A,MOOG INC CLASS A,\nGONE,,GONE CO,\n"))
    rows = [
        Row("MOGA", "MOOG INC CLASS A", weight=0.20, exchange="NYSE"),
        Row("ADRO", "CHINOOK THERAPEUTICS INC", weight=0.05, price=0.85),
        Row("ADRO", "CHINOOK THERAPEUTICS INC", weight=0.01, price=0.85),  # listed twice: one member
        Row("BRK.B", "BERKSHIRE HATHAWAY INC CLASS B", weight=1.5, exchange="NYSE"),
        Row("BRKB", "BERKSHIRE HATHAWAY INC CLASS B", weight=0.5, exchange="NYSE"),  # not mapped: a candidate
        Row("GONE", "GONE CO", weight=0.02),
        Row("XYZA", "XYZ HOLDINGS CLASS A", weight=0.03, exchange="NYSE"),
        Row("USD", "USD CASH", "Cash and/or Derivatives", "Cash", 0.1, 100.0, "-"),
    ]
    parsed = parse_holdings(holdings_csv("IWM", D("2026-04-10"), rows), "IWM.csv")
    snap = snapshot_from_holdings(parsed, IWM, symbols)
    assert (snap.index_id, snap.fund, snap.as_of_date, snap.origin) == ("russell_2000", "IWM", D("2026-04-10"), "IWM.csv")
    got = {r.ticker: (r.holding_ticker, round(r.weight, 6)) for r in snap.members.itertuples()}
    assert got == {"MOG-A": ("MOGA", 0.002), "ADRO": ("ADRO", 0.0006), "BRK-B": ("BRK.B", 0.015),
                   "BRKB": ("BRKB", 0.005), "XYZA": ("XYZA", 0.0003)}
    assert dict(snap.left_out) == {"duplicate": 1, "unmapped": 1, "cash": 1}
    assert snap.unmapped == [f"GONE (GONE CO): {symbols.path.name} says it has no Yahoo symbol"]
    assert snap.class_share_candidates == ["BRKB (BERKSHIRE HATHAWAY INC CLASS B)", "XYZA (XYZ HOLDINGS CLASS A)"]


def test_a_file_dated_on_a_day_without_a_session_is_refused():
    parsed = parse_holdings(holdings_csv("IWM", D("2026-04-11"), [Row("AAA", "A INC")]), "saturday.csv")
    with pytest.raises(MembersSourceError, match=r"saturday.csv: dated 2026-04-11 \(Saturday\), which is not an NYSE session"):
        snapshot_from_holdings(parsed, IWM, load_symbol_map())
