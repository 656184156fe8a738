"""The report renders real images from the marts it finds and says which it could not."""

import datetime as dt

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.transforms import Bbox
from PIL import Image

from warehouse import reports


def _relative_strength_rows(days) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    parts = []
    for pair in ("IWM/SPY", "^RUT/^GSPC"):
        rs = 0.4 + np.cumsum(rng.normal(0, 0.002, len(days)))
        parts.append(pd.DataFrame({"pair": pair, "trade_date": days, "rs": rs, "rs_sma50": rs * 1.01, "rs_sma200": None}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture
def marts(conn):
    days = [dt.date(2025, 1, 2) + dt.timedelta(days=i) for i in range(400)]
    cut = dt.date(2025, 9, 18)
    conn.execute("create schema if not exists marts")
    conn.execute("create table marts.relative_strength (pair varchar, trade_date date, rs double, rs_sma50 double, rs_sma200 double)")
    # Inserted from frames: row-by-row inserts made this fixture the slowest part of the file.
    conn.register("relative_rows", _relative_strength_rows(days))
    conn.execute("insert into marts.relative_strength select * from relative_rows")
    conn.execute("create table marts.fed_policy (day date, target_lower double, target_upper double, effective double, last_change_date date, last_change_bp integer)")
    fed = pd.DataFrame(
        [(d, 4.0 if d < cut else 3.75, 4.25 if d < cut else 4.0, 4.1 if d < cut else 3.85,
          cut if d >= cut else None, -25 if d >= cut else None) for d in days]
    )
    conn.register("fed_rows", fed)
    conn.execute("insert into marts.fed_policy select * from fed_rows")
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


# The fed funds target from 2015 as (effective date, upper bound, change in bp): the hikes set the
# scale of the chart, the 2019-2020 and 2024-2025 cuts are the close ones whose labels collided.
DECISIONS = [
    ("2015-12-17", 0.50, 25), ("2016-12-15", 0.75, 25), ("2017-03-16", 1.00, 25), ("2017-06-15", 1.25, 25),
    ("2017-12-14", 1.50, 25), ("2018-03-22", 1.75, 25), ("2018-06-14", 2.00, 25), ("2018-09-27", 2.25, 25),
    ("2018-12-20", 2.50, 25), ("2019-08-01", 2.25, -25), ("2019-09-19", 2.00, -25), ("2019-10-31", 1.75, -25),
    ("2020-03-04", 1.25, -50), ("2020-03-16", 0.25, -100), ("2022-03-17", 0.50, 25), ("2022-05-05", 1.00, 50),
    ("2022-06-16", 1.75, 75), ("2022-07-28", 2.50, 75), ("2022-09-22", 3.25, 75), ("2022-11-03", 4.00, 75),
    ("2022-12-15", 4.50, 50), ("2023-02-02", 4.75, 25), ("2023-03-23", 5.00, 25), ("2023-05-04", 5.25, 25),
    ("2023-07-27", 5.50, 25), ("2024-09-19", 5.00, -50), ("2024-11-08", 4.75, -25), ("2024-12-19", 4.50, -25),
    ("2025-09-18", 4.25, -25), ("2025-10-30", 4.00, -25), ("2025-12-11", 3.75, -25),
]


@pytest.fixture
def fed_frame():
    """marts.fed_policy from 2015 as the chart reads it, one row per calendar day."""
    days = pd.date_range("2015-01-01", "2026-11-30", freq="D")
    changes = pd.DataFrame(
        {"change": pd.to_datetime([d for d, _, _ in DECISIONS]), "upper": [u for _, u, _ in DECISIONS],
         "bp": [b for _, _, b in DECISIONS]}
    )
    frame = pd.merge_asof(pd.DataFrame({"day": days}), changes, left_on="day", right_on="change")
    frame["target_upper"] = frame["upper"].fillna(0.25)
    frame["target_lower"] = frame["target_upper"] - 0.25
    frame["effective"] = frame["target_lower"] + 0.08
    return frame.rename(columns={"change": "last_change_date", "bp": "last_change_bp"})[
        ["day", "target_lower", "target_upper", "effective", "last_change_date", "last_change_bp"]
    ]


def _drawn(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _cut_labels(ax):
    return [t for t in ax.texts if t.get_text().endswith(" bp")]


def test_fed_legend_is_clear_of_the_plotted_data(fed_frame):
    fig = reports.fed_figure(fed_frame)
    renderer = _drawn(fig)
    (ax,) = fig.axes
    legend = ax.get_legend().get_window_extent(renderer)
    # Outside the axes' box entirely: then no line, band or marker can be under it.
    assert not legend.overlaps(ax.get_window_extent(renderer))
    plt.close(fig)


def test_line_chart_legends_sit_outside_the_axes(fed_frame):
    days = pd.date_range("2024-01-01", periods=300, freq="D")
    breadth = pd.DataFrame(
        {"group_name": np.repeat(["sectors", "story_stocks"], 150), "trade_date": np.tile(days[:150], 2),
         "share_above_sma50": np.tile(np.linspace(0, 1, 150), 2), "share_above_sma200": 0.5}
    )
    valuation = pd.DataFrame(
        {"pair": "IWM/SPY", "metric": "pe", "basis": "trailing", "method": "synthetic", "as_of_date": days,
         "discount": np.linspace(0.3, -0.1, 300), "discount_avg_prior": 0.1}
    )
    relative = _relative_strength_rows(days)
    index = pd.DataFrame(
        {"index_id": "russell_2000", "trade_date": days[:150], "share_advancing": np.linspace(1, 0, 150),
         "share_above_sma50": np.linspace(0, 1, 150)}
    )
    figures = [
        reports.breadth_figure(breadth),
        reports.breadth_figure(breadth, index),
        reports.breadth_figure(None, index),
        reports.valuation_figure(valuation),
        reports.relative_strength_figure(relative),
        reports.fed_figure(fed_frame),
    ]
    for fig in figures:
        renderer = _drawn(fig)
        for ax in fig.axes:
            legend = ax.get_legend().get_window_extent(renderer)
            assert not any(legend.overlaps(other.get_window_extent(renderer)) for other in fig.axes), fig.axes[0].get_title()
        plt.close(fig)


def test_cut_labels_do_not_overlap_each_other_or_the_markers(fed_frame):
    fig = reports.fed_figure(fed_frame)
    renderer = _drawn(fig)
    (ax,) = fig.axes
    labels = _cut_labels(ax)
    cuts = [d for d in DECISIONS if d[2] < 0]
    assert sorted(t.get_text() for t in labels) == sorted(f"{bp} bp" for _, _, bp in cuts)
    boxes = [reports.text_box(t, renderer) for t in labels]
    for i, box in enumerate(boxes):
        for other in boxes[i + 1:]:
            assert not box.overlaps(other), (labels[i].get_text(), box, other)
    # The old labels were centred over their marker, so each one sat on the next cut's triangle.
    centres = ax.transData.transform([(mdates.date2num(pd.Timestamp(d)), upper) for d, upper, _ in cuts])
    markers = [Bbox.from_extents(x - 4, y - 4, x + 4, y + 4) for x, y in centres]
    for box in boxes:
        assert not any(box.overlaps(marker) for marker in markers)
        assert ax.get_window_extent(renderer).contains(box.x1, box.y1), "a label pokes out of the axes"
    plt.close(fig)


def test_crowded_labels_are_left_out_rather_than_printed_over_each_other():
    fig, ax = plt.subplots(figsize=(4, 3), dpi=reports.DPI)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    renderer = _drawn(fig)
    notes = reports.annotate_apart(ax, [(f"label {i}", (5, 5)) for i in range(40)], reports.POINT_LABEL_OFFSETS)
    assert 1 < len(notes) < 40
    boxes = [reports.text_box(n, renderer) for n in notes]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    plt.close(fig)


def test_rrg_ticker_labels_do_not_overlap():
    week = pd.Timestamp("2026-01-16")
    # XLF and KRE a hair apart, as financials and regional banks often are.
    recent = pd.DataFrame(
        {"ticker": ["XLF", "KRE", "XLK", "XBI", "IWM"], "week_end": week,
         "rs_ratio": [98.40, 98.30, 100.70, 100.90, 100.40], "rs_momentum": [100.37, 100.27, 99.85, 99.98, 100.08],
         "quadrant": ["improving", "improving", "weakening", "weakening", "leading"]}
    )
    fig = reports.rrg_figure(recent, week, 4)
    renderer = _drawn(fig)
    (ax,) = fig.axes
    tickers = [t for t in ax.texts if t.get_text() in set(recent["ticker"])]
    assert len(tickers) == 5
    boxes = [reports.text_box(t, renderer) for t in tickers]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    plt.close(fig)


@pytest.fixture
def dashboard(conn):
    conn.execute("create schema if not exists marts")
    conn.execute(
        "create table marts.rotation_dashboard (pair varchar, as_of date, streak bigint, rs double, "
        "rs_above_sma50 boolean, small_last_record_date date, regime_label varchar)"
    )
    conn.execute(
        "insert into marts.rotation_dashboard values "
        "('IWM/SPY', '2026-01-16', 14, 0.6636, true, '2026-01-09', 'small-cap leadership'), "
        "('^RUT/^GSPC', '2026-01-16', 3, 0.6601, false, null, 'a | b')"
    )
    return conn


def test_dates_print_as_plain_iso_dates(dashboard, tmp_path):
    frame = reports.dashboard_table(dashboard)
    markdown = reports.markdown_table(frame)
    page = reports.render(dashboard, tmp_path / "reports").page.read_text()
    for text in (markdown, page):
        assert "2026-01-16" in text and "2026-01-09" in text
        assert "00:00:00" not in text and "NaT" not in text
    assert "| IWM/SPY | 2026-01-16 | 14 | 0.6636 | True | 2026-01-09 | small-cap leadership |" in markdown
    # A NULL date is an empty cell, and a pipe in a value does not split the row.
    assert "| ^RUT/^GSPC | 2026-01-16 | 3 | 0.6601 | False |  | a \\| b |" in markdown


def test_cell_text_keeps_a_real_time_of_day():
    assert reports.cell_text(pd.Timestamp("2026-01-16 00:00:00")) == "2026-01-16"
    assert reports.cell_text(dt.date(2026, 1, 16)) == "2026-01-16"
    assert reports.cell_text(pd.Timestamp("2026-01-16 18:30")) == "2026-01-16 18:30"
    assert reports.cell_text(pd.NaT) == "" and reports.cell_text(None) == "" and reports.cell_text(float("nan")) == ""


def test_dashboard_on_the_page_has_one_column_per_pair_in_a_scrolling_wrapper(dashboard, tmp_path):
    page = reports.render(dashboard, tmp_path / "reports").page.read_text()
    # Twenty-odd fields across overflowed a 1100 px page; pairs across fit, and anything wider scrolls
    # inside its wrapper instead of off the right edge.
    assert ".table-wrap{max-width:100%;overflow-x:auto}" in page
    table = page[page.index("<div class='table-wrap'>"):page.index("</table></div>")]
    header = table[: table.index("</tr>")]
    assert header.count("<th scope='col'>") == 3 and "IWM/SPY" in header and "^RUT/^GSPC" in header
    assert table.count("<th scope='row'>") == 6
    assert "<tr><th scope='row'>as_of</th><td>2026-01-16</td><td>2026-01-16</td></tr>" in table
    assert "<td class='num'>14</td>" in table


def test_breadth_chart_reads_the_index_point_in_time(conn, tmp_path, monkeypatch):
    conn.execute("create schema if not exists marts")
    conn.execute(
        "create table marts.index_breadth (index_id varchar, trade_date date, membership_basis varchar, "
        "share_advancing double, share_above_sma50 double)"
    )
    conn.execute(
        """insert into marts.index_breadth values
        ('russell_2000', date '2024-01-02', 'projected', 0.9, 0.9),
        ('russell_2000', date '2024-01-03', 'point_in_time', 0.6, 0.4),
        ('russell_2000', date '2024-01-04', 'point_in_time', 0.3, 0.5),
        ('sp_500', date '2024-01-04', 'point_in_time', 0.7, 0.7)"""
    )
    drawn = []
    real = reports.breadth_figure
    monkeypatch.setattr(reports, "breadth_figure", lambda frame, index=None: drawn.append((frame, index)) or real(frame, index))
    # no marts.breadth: the index alone still makes the chart
    path = reports.breadth_chart(conn, tmp_path, years=3, index_id="russell_2000")
    assert path is not None and path.exists()
    ((groups, index),) = drawn
    assert groups is None
    # the projected row (survivors only) and the other index are left out
    assert index["trade_date"].dt.date.tolist() == [dt.date(2024, 1, 3), dt.date(2024, 1, 4)]
    assert index["share_advancing"].tolist() == [0.6, 0.3]
