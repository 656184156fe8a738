"""Charts of the rotation, rendered from the marts to PNG files and one HTML page.

Each chart reads one mart; a chart whose mart is missing or empty is left out and named in the
result, so the report still renders while a part of the warehouse is being rebuilt.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import matplotlib

matplotlib.use("Agg")  # no display: render to files
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.text import Annotation, Text  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

RS_PAIRS = ("IWM/SPY", "^RUT/^GSPC")
QUADRANT_COLOURS = {"leading": "#2a9d8f", "weakening": "#e9c46a", "lagging": "#e76f51", "improving": "#457b9d"}
# Figures are laid out at the resolution they are saved at, so the label placement measured while
# drawing is the one in the PNG.
DPI = 110
# Candidate label offsets in points (dx, dy, ha, va), tried in order until one overlaps nothing.
# A cut label goes above and right of its marker: after a cut the range is lower, so that corner
# is empty until the next hike; labels of close cuts climb in steps of one text line.
CUT_LABEL_OFFSETS = [(4, 4 + 9 * level, "left", "bottom") for level in range(6)]
# A ticker label tries the four corners of its point, then the same corners further out.
POINT_LABEL_OFFSETS = [
    (dx * reach, dy * reach, "left" if dx > 0 else "right", "bottom" if dy > 0 else "top")
    for reach in (1, 3, 5)
    for dx, dy in ((4, 3), (4, -3), (-4, 3), (-4, -3))
]


@dataclass
class Report:
    folder: Path
    charts: dict[str, Path] = field(default_factory=dict)  # name -> PNG
    skipped: dict[str, str] = field(default_factory=dict)  # name -> why
    page: Path | None = None
    scorecard: Path | None = None  # scorecard.html: the published claims and their verdicts


def _exists(conn: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, name = relation.split(".")
    found = conn.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, name]
    ).fetchall()[0][0]
    return found > 0


def _frame(conn, relation: str, sql: str, parameters: list | None = None) -> pd.DataFrame | None:
    if not _exists(conn, relation):
        return None
    frame = conn.execute(sql, parameters).df()
    return frame if len(frame) else None


def _style(ax, title: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=12, loc="left")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=9))
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))


def _legend_outside(ax, **kwargs) -> None:
    # Any corner inside the axes covers data for some history (breadth fills the whole height), so
    # the legend goes to the right of the plot, where it can cover nothing.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize=8, frameon=False, **kwargs)


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _marker_boxes(ax, points, half: float = 5.0) -> list[Bbox]:
    """Display-space squares reaching `half` pixels around data points: where markers are, for labels to keep off."""
    xy = ax.transData.transform(points) if len(points) else []
    return [Bbox.from_extents(x - half, y - half, x + half, y + half) for x, y in xy]


def text_box(note: Annotation, renderer) -> Bbox:
    """The display box of a label's text alone: an annotation's own extent includes its leader line."""
    note.update_positions(renderer)  # the text's place follows xyann only once recomputed
    return Text.get_window_extent(note, renderer)


def annotate_apart(ax, labels, offsets, obstacles=(), leader: dict | None = None, **text) -> list[Annotation]:
    """Labels each (text, (x, y)) at the first offset where it overlaps no other label or obstacle.

    Placement is measured with the figure's renderer, so it holds for the current axes limits and
    figure size: set those first. A label that had to move away from the first offset gets a
    `leader` line (arrowprops) back to its point. When every offset collides the label is left out
    (its marker still shows): text printed over text helps no reader.
    """
    renderer = ax.figure.canvas.get_renderer()
    taken = list(obstacles)
    placed = []
    for label, xy in labels:
        note = ax.annotate(label, xy, textcoords="offset points", xytext=offsets[0][:2], **text)
        offset, box = _first_free_offset(note, offsets, taken, renderer)
        if offset is None:
            note.remove()
            continue
        if offset != offsets[0] and leader:
            note.remove()
            dx, dy, ha, va = offset
            note = ax.annotate(
                label, xy, textcoords="offset points", xytext=(dx, dy), ha=ha, va=va, arrowprops=leader, **text
            )
        taken.append(box)
        placed.append(note)
    return placed


def _first_free_offset(note: Annotation, offsets, taken: list[Bbox], renderer):
    for offset in offsets:
        dx, dy, ha, va = offset
        note.xyann = (dx, dy)
        note.set_horizontalalignment(ha)
        note.set_verticalalignment(va)
        box = text_box(note, renderer)
        if not any(box.overlaps(other) for other in taken):
            return offset, box
    return None, None


def relative_strength_figure(frame: pd.DataFrame):
    pairs = [p for p in RS_PAIRS if p in set(frame["pair"])]
    fig, axes = plt.subplots(len(pairs), 1, figsize=(10, 3.6 * len(pairs)), squeeze=False, dpi=DPI)
    for ax, pair in zip(axes[:, 0], pairs, strict=True):
        part = frame[frame["pair"] == pair]
        ax.plot(part["trade_date"], part["rs"], label="relative strength", color="#1d3557", lw=1.2)
        ax.plot(part["trade_date"], part["rs_sma50"], label="50-session average", color="#e76f51", lw=1)
        ax.plot(part["trade_date"], part["rs_sma200"], label="200-session average", color="#2a9d8f", lw=1)
        _style(ax, f"{pair}: small / large, adjusted close", "ratio")
        _legend_outside(ax)
    fig.tight_layout()
    return fig


def relative_strength_chart(conn, folder: Path, years: int) -> Path | None:
    frame = _frame(
        conn,
        "marts.relative_strength",
        f"select pair, trade_date, rs, rs_sma50, rs_sma200 from marts.relative_strength "
        f"where pair in {RS_PAIRS} and trade_date >= "
        f"(select max(trade_date) from marts.relative_strength) - interval {int(years)} year order by trade_date",
    )
    if frame is None:
        return None
    return _save(relative_strength_figure(frame), folder / "relative_strength.png")


def valuation_figure(frame: pd.DataFrame):
    series = frame.groupby(["pair", "metric", "basis", "method"]).size().reset_index(name="n")
    # The rotation story's measure first (trailing P/E of IWM vs SPY), then the longest history.
    series["preferred"] = (series["pair"] == "IWM/SPY") & (series["metric"] == "pe") & (series["basis"] == "trailing")
    best = series.sort_values(["preferred", "n"], ascending=False).iloc[0]
    pair, metric, basis, method = best["pair"], best["metric"], best["basis"], best["method"]
    part = frame[
        (frame["pair"] == pair) & (frame["metric"] == metric) & (frame["basis"] == basis) & (frame["method"] == method)
    ]
    fig, ax = plt.subplots(figsize=(10, 3.8), dpi=DPI)
    ax.plot(part["as_of_date"], 100 * part["discount"], label="discount", color="#1d3557", lw=1.2)
    ax.plot(
        part["as_of_date"],
        100 * part["discount_avg_prior"],
        label="average of\nearlier dates",
        color="#e76f51",
        lw=1,
        ls="--",
    )
    ax.axhline(0, color="grey", lw=0.8)
    _style(ax, f"Valuation discount of {pair} ({basis} {metric}, {method})", "discount, % (1 - small / large)")
    _legend_outside(ax)
    return fig


def valuation_chart(conn, folder: Path) -> Path | None:
    frame = _frame(
        conn,
        "marts.valuation_gap",
        "select pair, metric, basis, method, as_of_date, discount, discount_avg_prior "
        "from marts.valuation_gap order by as_of_date",
    )
    if frame is None:
        return None
    return _save(valuation_figure(frame), folder / "valuation_discount.png")


def _label_cuts(ax, cuts: pd.DataFrame) -> list[Annotation]:
    labels = [(f"{int(c.last_change_bp)} bp", (c.day, c.target_upper)) for c in cuts.itertuples(index=False)]
    # Dates become matplotlib's float days so the markers can be turned into display boxes.
    obstacles = _marker_boxes(ax, [(mdates.date2num(pd.Timestamp(x)), y) for _, (x, y) in labels])
    return annotate_apart(
        ax,
        labels,
        CUT_LABEL_OFFSETS,
        obstacles,
        leader={"arrowstyle": "-", "color": "#999", "lw": 0.5, "shrinkA": 0, "shrinkB": 4},
        fontsize=7,
    )


def _keep_labels_inside(ax, place) -> list[Annotation]:
    """Places labels, raising the top of the axes until none pokes out above it."""
    notes = place()
    renderer = ax.figure.canvas.get_renderer()
    for _ in range(4):
        top = max((text_box(n, renderer).y1 for n in notes), default=0)
        overflow = top - ax.get_window_extent(renderer).y1
        if overflow <= 0:
            break
        low, high = ax.get_ylim()
        pixels = ax.get_window_extent(renderer).height
        # Raising the top squeezes the data, so the new room is sized from the overflow plus a margin.
        ax.set_ylim(low, high + (overflow + 6) * (high - low) / max(pixels - overflow - 6, 1))
        for note in notes:
            note.remove()
        notes = place()
    return notes


def fed_figure(frame: pd.DataFrame):
    fig, ax = plt.subplots(figsize=(10, 3.8), dpi=DPI)
    ax.fill_between(
        frame["day"], frame["target_lower"], frame["target_upper"], step="post", color="#a8dadc", label="target range"
    )
    ax.plot(frame["day"], frame["effective"], color="#1d3557", lw=1, label="effective rate (DFF)")
    cuts = frame[(frame["day"] == frame["last_change_date"]) & (frame["last_change_bp"] < 0)]
    ax.scatter(cuts["day"], cuts["target_upper"], marker="v", color="#e63946", zorder=3, label="cut")
    _style(ax, "Federal funds: target range, effective rate and cuts", "percent")
    _legend_outside(ax)
    # Limits and layout are settled before the labels are placed: placement is measured in pixels.
    ax.set_ylim(min(0, frame["target_lower"].min()), ax.get_ylim()[1])
    fig.canvas.draw()
    _keep_labels_inside(ax, lambda: _label_cuts(ax, cuts))
    return fig


def fed_chart(conn, folder: Path, since: dt.date) -> Path | None:
    frame = _frame(
        conn,
        "marts.fed_policy",
        f"select day, target_lower, target_upper, effective, last_change_date, last_change_bp "
        f"from marts.fed_policy where day >= '{since}' order by day",
    )
    if frame is None:
        return None
    return _save(fed_figure(frame), folder / "fed_policy.png")


def _rrg_quadrant_names(ax) -> None:
    for label, (x, y) in {
        "leading": (0.98, 0.98),
        "weakening": (0.98, 0.02),
        "lagging": (0.02, 0.02),
        "improving": (0.02, 0.98),
    }.items():
        ax.text(
            x,
            y,
            label,
            transform=ax.transAxes,
            ha="right" if x > 0.5 else "left",
            va="top" if y > 0.5 else "bottom",
            color=QUADRANT_COLOURS[label],
            fontsize=10,
            alpha=0.8,
            zorder=0,
        )


def rrg_figure(recent: pd.DataFrame, latest, tail_weeks: int):
    fig, ax = plt.subplots(figsize=(8, 7), dpi=DPI)
    ax.axhline(100, color="grey", lw=0.8)
    ax.axvline(100, color="grey", lw=0.8)
    heads = []
    for ticker, part in recent.groupby("ticker"):
        last = part.iloc[-1]
        colour = QUADRANT_COLOURS.get(last["quadrant"], "grey")
        ax.plot(part["rs_ratio"], part["rs_momentum"], color=colour, lw=1, alpha=0.7)
        ax.scatter([last["rs_ratio"]], [last["rs_momentum"]], color=colour, s=28, zorder=3)
        heads.append((str(ticker), (float(last["rs_ratio"]), float(last["rs_momentum"]))))
    _rrg_quadrant_names(ax)
    ax.set_xlabel("RS-ratio (100 = in line with the benchmark)")
    ax.set_ylabel("RS-momentum")
    ax.set_title(
        f"Relative rotation against the benchmark, week of {latest:%Y-%m-%d}, {tail_weeks}-week tails",
        fontsize=11,
        loc="left",
    )
    ax.grid(alpha=0.3)
    fig.canvas.draw()
    # Tickers near each other in the scatter would print their names on top of one another.
    annotate_apart(ax, heads, POINT_LABEL_OFFSETS, _marker_boxes(ax, [xy for _, xy in heads]), fontsize=8)
    return fig


def rrg_chart(conn, folder: Path, tail_weeks: int = 4) -> Path | None:
    frame = _frame(
        conn,
        "marts.rrg",
        "select ticker, week_end, rs_ratio, rs_momentum, quadrant from marts.rrg "
        "where rs_ratio is not null and rs_momentum is not null order by week_end",
    )
    if frame is None:
        return None
    latest = frame["week_end"].max()
    recent = frame[frame["week_end"] > latest - pd.Timedelta(weeks=tail_weeks)]
    groups = (
        conn.execute("select ticker, group_name from config.ticker_groups").df()
        if _exists(conn, "config.ticker_groups")
        else None
    )
    if groups is not None:
        # Sectors answer "which sectors lead"; IWM and QQQ place small caps and tech among them.
        keep = set(groups[groups["group_name"] == "sector_etfs"]["ticker"]) | {"IWM", "QQQ"}
        recent = recent[recent["ticker"].isin(keep)] if keep & set(recent["ticker"]) else recent
    return _save(rrg_figure(recent, latest, tail_weeks), folder / "rrg.png")


def breadth_figure(frame: pd.DataFrame | None, index: pd.DataFrame | None = None):
    """Share above the 50-session average of the index's members (`index`: marts.index_breadth rows
    of one index) and of the configured groups (`frame`: marts.breadth); under it, when the index is
    there, the share of its members advancing."""
    rows = 2 if index is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(10, 3.8 * rows), dpi=DPI, sharex=True, squeeze=False)
    ax = axes[0][0]
    if index is not None:
        name = f"{index['index_id'].iloc[0]} members".replace("_", " ")
        ax.plot(index["trade_date"], 100 * index["share_above_sma50"], lw=1.6, color="black", label=name)
    for group, part in (frame.groupby("group_name") if frame is not None else ()):
        ax.plot(part["trade_date"], 100 * part["share_above_sma50"], lw=1.1, label=str(group).replace("_", " "))
    ax.axhline(50, color="grey", lw=0.8, ls="--")
    ax.set_ylim(0, 100)
    _style(ax, "Breadth: share of members above their 50-session average", "% of members")
    _legend_outside(ax)
    if index is not None:
        # a single session's share swings widely; its 10-session mean shows the trend under it
        low = axes[1][0]
        share = 100 * index["share_advancing"]
        low.plot(index["trade_date"], share, lw=0.5, color="grey", alpha=0.6, label="each session")
        low.plot(index["trade_date"], share.rolling(10).mean(), lw=1.4, color="black", label="10-session mean")
        low.axhline(50, color="grey", lw=0.8, ls="--")
        low.set_ylim(0, 100)
        _style(low, f"{name.capitalize()} advancing, as the index was each day", "% of members")
        _legend_outside(low)
    return fig


def breadth_chart(conn, folder: Path, years: int, index_id: str | None = None) -> Path | None:
    """The chart of the index's breadth (regime_breadth_index of config/models.toml unless
    `index_id` is given), point-in-time rows only, beside the configured groups' breadth."""
    if index_id is None:
        from warehouse.models import load_params

        index_id = str(load_params()["regime_breadth_index"])
    frame = _frame(
        conn,
        "marts.breadth",
        f"select group_name, trade_date, share_above_sma50, share_above_sma200 from marts.breadth "
        f"where trade_date >= (select max(trade_date) from marts.breadth) - interval {int(years)} year "
        "order by trade_date",
    )
    # rows projected back before the first membership snapshot are today's survivors: not shown
    index = _frame(
        conn,
        "marts.index_breadth",
        "select index_id, trade_date, share_advancing, share_above_sma50 from marts.index_breadth "
        "where index_id = $1 and membership_basis = 'point_in_time' and trade_date >= "
        f"(select max(trade_date) from marts.index_breadth where index_id = $1) - interval {int(years)} year "
        "order by trade_date",
        [index_id],
    )
    if frame is None and index is None:
        return None
    return _save(breadth_figure(frame, index), folder / "breadth.png")


def dashboard_table(conn) -> pd.DataFrame | None:
    return _frame(conn, "marts.rotation_dashboard", "select * from marts.rotation_dashboard order by pair")


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or array cell: not a single missing value
        return False


def cell_text(value) -> str:
    """A table cell as a reader wants it: DATE columns arrive as midnight timestamps, shown as dates."""
    if _missing(value):
        return ""
    if isinstance(value, dt.datetime):  # pd.Timestamp included
        midnight = value.hour == value.minute == value.second == value.microsecond == 0
        return value.strftime("%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown_table(frame: pd.DataFrame) -> str:
    def cell(value) -> str:
        return cell_text(value).replace("|", "\\|")  # a pipe inside a cell would split it

    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not _missing(value)


def _html_cell(value) -> str:
    # Numbers align on the right so their magnitudes compare down a column.
    kind = " class='num'" if _is_number(value) else ""
    return f"<td{kind}>{html.escape(cell_text(value))}</td>"


def html_table(frame: pd.DataFrame, key: str = "pair") -> str:
    """The dashboard turned on its side: one column per pair, one row per field.

    It has a handful of pairs and over twenty fields, so pairs across and fields down fits a page
    where fields across cannot; the wrapper scrolls sideways if a universe has many pairs.
    """
    key = key if key in frame.columns else frame.columns[0]
    head = "".join(f"<th scope='col'>{html.escape(cell_text(v))}</th>" for v in frame[key])
    rows = []
    for column in (c for c in frame.columns if c != key):
        cells = "".join(_html_cell(v) for v in frame[column].tolist())
        rows.append(f"<tr><th scope='row'>{html.escape(str(column))}</th>{cells}</tr>")
    return (
        f"<div class='table-wrap'><table><thead><tr><th scope='col'>{html.escape(str(key))}</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def render(conn: duckdb.DuckDBPyConnection, folder: Path, years: int = 3) -> Report:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # Each chart shows the last `years` of its own data, so an old export still renders.
    report = Report(folder)
    builders = {
        "relative_strength": lambda: relative_strength_chart(conn, folder, years),
        "valuation_discount": lambda: valuation_chart(conn, folder),
        "fed_policy": lambda: fed_chart(conn, folder, dt.date(2015, 1, 1)),
        "rrg": lambda: rrg_chart(conn, folder),
        "breadth": lambda: breadth_chart(conn, folder, years),
    }
    for name, build in builders.items():
        path = build()
        if path is None:
            report.skipped[name] = "its mart is missing or empty"
        else:
            report.charts[name] = path
    dashboard = dashboard_table(conn)
    from warehouse import scorecard  # its own page, linked from index.html

    report.scorecard = scorecard.write_page(conn, folder)
    report.page = write_page(folder, report, dashboard)
    return report


# The dashboard sits in a wrapper that scrolls sideways instead of pushing the page wider, and its
# field names stay in view while it scrolls. Cells do not wrap, so a date never breaks at a hyphen.
PAGE_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
.table-wrap{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 8px;white-space:nowrap;text-align:left}
thead th{background:#f3f5f7}
tbody th{font-weight:normal;color:#444;background:#fff}
tbody th,thead th:first-child{position:sticky;left:0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;height:auto}
figure{margin:1.5em 0}
"""


SCORECARD_LINK = (
    '<p><a href="scorecard.html">The story scorecard</a>: every published claim, the data&#39;s figure '
    "and the verdict.</p>"
)


def write_page(folder: Path, report: Report, dashboard: pd.DataFrame | None) -> Path:
    table = html_table(dashboard) if dashboard is not None else "<p>No dashboard yet.</p>"
    images = "\n".join(
        f'<figure><img src="{path.name}" alt="{html.escape(name)}">'
        f"<figcaption>{html.escape(name.replace('_', ' '))}</figcaption></figure>"
        for name, path in report.charts.items()
    )
    skipped = "".join(f"<li>{html.escape(n)}: {html.escape(why)}</li>" for n, why in report.skipped.items())
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Small-cap rotation</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{PAGE_STYLE}</style></head>
<body><h1>Small-cap vs large-cap rotation</h1>
<p>Generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC from the warehouse.</p>
{SCORECARD_LINK if report.scorecard else ""}
<h2>Dashboard</h2>{table}
<h2>Charts</h2>{images}
{f"<h2>Not rendered</h2><ul>{skipped}</ul>" if skipped else ""}
</body></html>
"""
    path = folder / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def embedded_markdown(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f"![{alt}](data:image/png;base64,{data})"
