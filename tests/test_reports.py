"""The report renders real images from the marts it finds and says which it could not."""

import datetime as dt

import numpy as np
import pytest
from PIL import Image

from warehouse import reports


@pytest.fixture
def marts(conn):
    days = [dt.date(2025, 1, 2) + dt.timedelta(days=i) for i in range(400)]
    rng = np.random.default_rng(1)
    conn.execute("create schema if not exists marts")
    conn.execute("create table marts.relative_strength (pair varchar, trade_date date, rs double, rs_sma50 double, rs_sma200 double)")
    rows = []
    for pair in ("IWM/SPY", "^RUT/^GSPC"):
        rs = 0.4 + np.cumsum(rng.normal(0, 0.002, len(days)))
        rows += [(pair, d, float(v), float(v) * 1.01, None) for d, v in zip(days, rs, strict=True)]
    conn.executemany("insert into marts.relative_strength values (?, ?, ?, ?, ?)", rows)
    conn.execute("create table marts.fed_policy (day date, target_lower double, target_upper double, effective double, last_change_date date, last_change_bp integer)")
    conn.executemany("insert into marts.fed_policy values (?, ?, ?, ?, ?, ?)",
                     [(d, 4.0 if d < dt.date(2025, 9, 18) else 3.75, 4.25 if d < dt.date(2025, 9, 18) else 4.0,
                       4.1 if d < dt.date(2025, 9, 18) else 3.85, dt.date(2025, 9, 18) if d >= dt.date(2025, 9, 18) else None,
                       -25 if d >= dt.date(2025, 9, 18) else None) for d in days])
    return conn


def test_charts_are_valid_images_and_missing_marts_are_named(marts, tmp_path):
    report = reports.render(marts, tmp_path / "reports")
    assert set(report.charts) == {"relative_strength", "fed_policy"}
    assert set(report.skipped) == {"valuation_discount", "rrg", "breadth"}
    for path in report.charts.values():
        with Image.open(path) as image:
            image.verify()
            assert image.format == "PNG"
        with Image.open(path) as image:
            width, height = image.size
            assert width > 600 and height > 300
    page = report.page.read_text()
    assert 'src="relative_strength.png"' in page and "fed_policy.png" in page
    assert "valuation_discount: its mart is missing or empty" in page


def test_embedded_markdown_is_a_data_uri(marts, tmp_path):
    report = reports.render(marts, tmp_path / "reports")
    md = reports.embedded_markdown(report.charts["fed_policy"], "fed")
    assert md.startswith("![fed](data:image/png;base64,iVBOR")
