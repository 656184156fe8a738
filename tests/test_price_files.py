import datetime as dt

import numpy as np
import pandas as pd
import pytest

from warehouse.sources.files import FilesSource
from warehouse.sources.price_file import PriceFileError, parse_date, read_price_file

D = dt.date


def write(folder, name, text):
    path = folder / "prices" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_yahoo_download_csv(tmp_path):
    path = write(tmp_path, "IWM.csv", "Date,Open,High,Low,Close,Adj Close,Volume\n"
                 "2024-01-02,200.0,201.5,198.25,199.0,197.5,74800.0\n"
                 "2024-01-03,null,null,null,null,null,null\n"
                 "2024-01-04,199.0,200.0,196.0,196.5,195.0,57600.0\n")
    parsed = read_price_file(path, "IWM")
    assert parsed.skipped_blank == 1
    assert parsed.bars.to_dict("records") == [
        {"ticker": "IWM", "trade_date": D(2024, 1, 2), "open": 200.0, "high": 201.5, "low": 198.25,
         "close": 199.0, "adj_close": 197.5, "volume": 74800.0},
        {"ticker": "IWM", "trade_date": D(2024, 1, 4), "open": 199.0, "high": 200.0, "low": 196.0,
         "close": 196.5, "adj_close": 195.0, "volume": 57600.0},
    ]


def yf17_frame():
    """A frame shaped exactly as yf.download(auto_adjust=False) returns it for one ticker."""
    columns = pd.MultiIndex.from_product(
        [["Adj Close", "Close", "High", "Low", "Open", "Volume"], ["SPY"]], names=["Price", "Ticker"]
    )
    index = pd.DatetimeIndex(["2024-01-02", "2024-01-03"], name="Date")
    data = [[468.0, 471.0, 472.0, 469.0, 470.0, 5e6], [465.0, 468.0, 470.0, 467.0, 469.0, 6e6]]
    return pd.DataFrame(data, index=index, columns=columns)


def test_csv_written_by_yf_download(tmp_path):
    path = tmp_path / "prices" / "SPY.csv"
    path.parent.mkdir()
    yf17_frame().to_csv(path)
    assert path.read_text().splitlines()[:3] == [
        "Price,Adj Close,Close,High,Low,Open,Volume", "Ticker,SPY,SPY,SPY,SPY,SPY,SPY", "Date,,,,,,"]
    parsed = read_price_file(path, "SPY")
    assert parsed.layout == "yf.download csv"
    assert parsed.bars[["trade_date", "close", "adj_close", "open"]].values.tolist() == [
        [D(2024, 1, 2), 471.0, 468.0, 470.0], [D(2024, 1, 3), 468.0, 465.0, 469.0]]


def test_yf_download_csv_with_repeated_price_label(tmp_path):
    # As in real exports: the Adj Close label written as a repeat of the level name "Price".
    path = write(tmp_path, "IWM.csv", "Price,Price,Close,High,Low,Open,Volume\n"
                 "Ticker,IWM,IWM,IWM,IWM,IWM,IWM\nTicker,IWM,IWM,IWM,IWM,IWM,IWM\nDate,,,,,,\n"
                 "2000-05-26 00:00:00,32.83,45.71875,45.71875,45.3125,45.53125,74800\n")
    bar = read_price_file(path, "IWM").bars.iloc[0]
    assert (bar["adj_close"], bar["close"], bar["open"]) == (32.83, 45.71875, 45.53125)


def test_history_csv_rebuilds_the_traded_close_from_dividends(tmp_path):
    # Traded closes 100, 102, 101 (ex-dividend 1.02 on day 3), 103. Yahoo's factor for the rows
    # before the ex-date: 1 - 1.02 / 102 = 0.99, so history() writes 99, 100.98, 101, 103.
    path = write(tmp_path, "VBR.csv", "Date,Open,High,Low,Close,Volume,Dividends,Stock Splits,Capital Gains\n"
                 "2024-03-18 00:00:00-04:00,99.0,99.99,98.01,99.0,1000,0.0,0.0,0.0\n"
                 "2024-03-19 00:00:00-04:00,100.98,101.97,99.99,100.98,1100,0.0,0.0,0.0\n"
                 "2024-03-20 00:00:00-04:00,101.0,101.5,100.5,101.0,1200,1.02,0.0,0.0\n"
                 "2024-03-21 00:00:00-04:00,103.0,103.5,102.5,103.0,900,0.0,0.0,0.0\n")
    parsed = read_price_file(path, "VBR")
    assert parsed.layout == "history csv"
    np.testing.assert_allclose(parsed.bars["close"], [100.0, 102.0, 101.0, 103.0])
    np.testing.assert_allclose(parsed.bars["adj_close"], [99.0, 100.98, 101.0, 103.0])
    np.testing.assert_allclose(parsed.bars["open"], [100.0, 102.0, 101.0, 103.0])
    assert parsed.bars["trade_date"].tolist() == [D(2024, 3, 18), D(2024, 3, 19), D(2024, 3, 20), D(2024, 3, 21)]


def test_vendor_file_lowercase_newest_first_any_order(tmp_path):
    path = write(tmp_path, "QQQ.csv", "volume,Adjusted_close,timestamp,close\n"
                 "300,402.5,2024-01-04,403\n100,400.5,2024-01-02,401\n200,,2024-01-03,402\n")
    parsed = read_price_file(path, "QQQ")
    assert parsed.skipped_blank == 1  # the blank adjusted close
    assert parsed.bars[["trade_date", "close", "adj_close", "volume"]].values.tolist() == [
        [D(2024, 1, 2), 401.0, 400.5, 100.0], [D(2024, 1, 4), 403.0, 402.5, 300.0]]
    assert parsed.bars["open"].isna().all()


def test_close_only_file_with_us_dates(tmp_path):
    path = write(tmp_path, "^RUT.csv", "date,close\n1/2/2024,2000.5\n1/3/2024,1980.25\n")
    bars = read_price_file(path, "^RUT").bars
    assert bars[["trade_date", "close", "adj_close"]].values.tolist() == [
        [D(2024, 1, 2), 2000.5, 2000.5], [D(2024, 1, 3), 1980.25, 1980.25]]


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-01-02", D(2024, 1, 2)), ("2000-05-26 00:00:00-04:00", D(2000, 5, 26)),
    ("7/1/1954", D(1954, 7, 1)), ("1704205800", D(2024, 1, 2)), ("2024-02-30", None), ("yesterday", None)])
def test_dates(text, expected):
    assert parse_date(text) == expected


def test_unparseable_date_is_rejected_with_file_and_line(tmp_path):
    path = write(tmp_path, "DIA.csv", "Date,Close\n2024-01-02,370\n2024-13-01,371\n")
    parsed = read_price_file(path, "DIA")
    assert len(parsed.bars) == 1
    assert parsed.rejects[0]["reason"] == "unparseable date '2024-13-01' (DIA.csv line 3)"
    assert parsed.rejects[0]["origin"] == f"{path} line 3"


def test_file_without_close_is_refused_and_the_others_still_load(tmp_path):
    write(tmp_path, "SPY.csv", "Date,Open,Volume\n2024-01-02,470,5\n")
    write(tmp_path, "IWM.csv", "Date,Close\n2024-01-02,199\n")
    with pytest.raises(PriceFileError, match=r"SPY.csv: no close column"):
        read_price_file(tmp_path / "prices" / "SPY.csv", "SPY")
    batch = FilesSource(tmp_path).daily_bars(["SPY", "IWM", "QQQ"], D(2024, 1, 1), D(2024, 1, 31))
    assert batch.tickers == ["IWM"]
    assert "no close column" in batch.failed["SPY"]
    assert batch.failed["QQQ"] == f"no file {tmp_path / 'prices' / 'QQQ.csv'}"


def test_file_without_date_is_refused(tmp_path):
    path = write(tmp_path, "SPY.csv", "Open,Close\n1,2\n")
    with pytest.raises(PriceFileError, match=r"SPY.csv: no date column"):
        read_price_file(path, "SPY")


@pytest.mark.realdata
@pytest.mark.parametrize(("folder", "ticker", "first", "rows"), [
    ("yahoo-csv", "^RUT", D(2000, 1, 3), 5759),
    ("yahoo-csv", "IWM", D(2000, 5, 26), 5658),
    ("yfinance-download", "SPY", D(1993, 1, 29), None),
    ("yfinance-history", "VBR", D(2004, 1, 30), None),
])
def test_real_exports(realdata, folder, ticker, first, rows):
    path = realdata / "prices" / folder / f"{ticker}.csv"
    parsed = read_price_file(path, ticker)
    bars = parsed.bars
    assert bars["trade_date"].iloc[0] == first
    assert bars["trade_date"].is_monotonic_increasing and bars["trade_date"].is_unique
    assert (bars["close"] > 0).all() and (bars["adj_close"] > 0).all()
    if rows is not None:
        data_lines = sum(1 for _ in path.open()) - 1
        assert len(bars) == rows == data_lines


@pytest.mark.realdata
def test_real_history_and_download_files_agree_on_the_traded_close(realdata):
    # The same IWM sessions from two tools: download's raw Close and history's rebuilt close.
    history = read_price_file(realdata / "prices/yfinance-history/IWM.csv", "IWM").bars
    download = read_price_file(realdata / "prices/yfinance-download/IWM.csv", "IWM").bars
    both = history.merge(download, on="trade_date", suffixes=("_h", "_d"))
    both = both[both["trade_date"] < D(2025, 2, 28)]  # the last history row is an open session
    assert len(both) > 6000
    rel = (both["close_h"] / both["close_d"] - 1).abs()
    assert rel.median() < 1e-6
    assert rel.quantile(0.99) < 0.002
