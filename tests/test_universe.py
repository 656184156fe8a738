import datetime as dt

import pytest

from warehouse.universe import UniverseError, load_universe

VALID = """
[history]
start = "2000-01-03"

[prices.groups]
indices = ["^RUT", "^GSPC"]
etfs = ["IWM", "SPY"]

[[pairs]]
small = "^RUT"
large = "^GSPC"

[rates]
series = ["DFF"]
"""


def write(tmp_path, text):
    path = tmp_path / "universe.toml"
    path.write_text(text)
    return path


def test_shipped_universe_lists_the_rotation_story():
    universe = load_universe()
    assert len(universe.tickers) == 44
    assert {"^RUT", "^SP600", "SMLF", "KRE", "TSLA", "GRC", "BAC"} <= set(universe.tickers)
    assert [p.name for p in universe.pairs] == ["^RUT/^GSPC", "IWM/SPY", "IWM/QQQ", "IJR/SPY", "RSP/SPY"]
    assert universe.group_of("XLK") == "sector_etfs"


def test_valid_file(tmp_path):
    universe = load_universe(write(tmp_path, VALID))
    assert universe.tickers == ("^RUT", "^GSPC", "IWM", "SPY")
    assert universe.history_start.isoformat() == "2000-01-03"
    assert universe.rate_series == ("DFF",)


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (('etfs = ["IWM", "SPY"]', 'etfs = ["IWM", "SPY", "^RUT"]'), "'^RUT' is in both 'indices' and 'etfs'"),
        (('etfs = ["IWM", "SPY"]', 'etfs = ["IWM", "IWM"]'), "'IWM' is listed twice"),
        (('etfs = ["IWM", "SPY"]', 'etfs = ["IWM", "s p y"]'), "'s p y' is not a valid ticker"),
        (('large = "^GSPC"', 'large = "QQQ"'), "'QQQ' is not in any [prices.groups] list"),
        (('series = ["DFF"]', 'series = ["DFF", "dff"]'), "'dff' is not a valid series id"),
        (('start = "2000-01-03"', 'start = "2000-13-03"'), "start '2000-13-03' is not a date"),
    ],
)
def test_bad_entries_are_refused_with_file_and_entry_named(tmp_path, edit, named):
    path = write(tmp_path, VALID.replace(*edit))
    with pytest.raises(UniverseError) as err:
        load_universe(path)
    assert str(path) in str(err.value)
    assert named in str(err.value)


def test_duplicate_pair_is_refused(tmp_path):
    path = write(tmp_path, VALID + '\n[[pairs]]\nsmall = "^RUT"\nlarge = "^GSPC"\n')
    with pytest.raises(UniverseError, match=r"\^RUT/\^GSPC is listed twice"):
        load_universe(path)


def test_broken_toml_names_the_file(tmp_path):
    path = write(tmp_path, VALID + "\n[prices\n")
    with pytest.raises(UniverseError, match="not valid TOML"):
        load_universe(path)


def test_without_a_start_the_whole_history_is_kept(tmp_path):
    # The shipped file sets no start: from ^GSPC's first session at Yahoo.
    shipped = load_universe()
    assert shipped.history_start == dt.date(1927, 12, 30) and not shipped.start_configured
    no_start = load_universe(write(tmp_path, VALID.replace('start = "2000-01-03"\n', "")))
    assert no_start.history_start == dt.date(1927, 12, 30) and not no_start.start_configured
    no_table = load_universe(write(tmp_path, VALID.replace('[history]\nstart = "2000-01-03"\n', "")))
    assert no_table.history_start == dt.date(1927, 12, 30)
    assert load_universe(write(tmp_path, VALID)).start_configured


def test_a_toml_date_is_a_start_too(tmp_path):
    universe = load_universe(write(tmp_path, VALID.replace('start = "2000-01-03"', "start = 1990-01-02")))
    assert universe.history_start == dt.date(1990, 1, 2) and universe.start_configured


def test_a_start_before_the_calendar_is_refused(tmp_path):
    path = write(tmp_path, VALID.replace('start = "2000-01-03"', 'start = "1900-01-02"'))
    with pytest.raises(UniverseError) as err:
        load_universe(path)
    assert str(path) in str(err.value)
    assert "[history] start 1900-01-02 is before 1927-12-30" in str(err.value)
