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

RS_PAIRS = ("IWM/SPY", "^RUT/^GSPC")
QUADRANT_COLOURS = {"leading": "#2a9d8f", "weakening": "#e9c46a", "lagging": "#e76f51", "improving": "#457b9d"}


@dataclass
class Report:
    folder: Path
    charts: dict[str, Path] = field(default_factory=dict)  # name -> PNG
    skipped: dict[str, str] = field(default_factory=dict)  # name -> why
    page: Path | None = None


def _exists(conn: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, name = relation.split(".")
    found = conn.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, name]
    ).fetchall()[0][0]
    return found > 0


def _frame(conn, relation: str, sql: str) -> pd.DataFrame | None:
    if not _exists(conn, relation):
        return None
    frame = conn.execute(sql).df()
    return frame if len(frame) else None


def _style(ax, title: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=12, loc="left")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=9))
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


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
    pairs = [p for p in RS_PAIRS if p in set(frame["pair"])]
    fig, axes = plt.subplots(len(pairs), 1, figsize=(10, 3.6 * len(pairs)), squeeze=False)
    for ax, pair in zip(axes[:, 0], pairs, strict=True):
        part = frame[frame["pair"] == pair]
        ax.plot(part["trade_date"], part["rs"], label="relative strength", color="#1d3557", lw=1.2)
        ax.plot(part["trade_date"], part["rs_sma50"], label="50-session average", color="#e76f51", lw=1)
        ax.plot(part["trade_date"], part["rs_sma200"], label="200-session average", color="#2a9d8f", lw=1)
        _style(ax, f"{pair}: small / large, adjusted close", "ratio")
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return _save(fig, folder / "relative_strength.png")


def valuation_chart(conn, folder: Path) -> Path | None:
    frame = _frame(
        conn,
        "marts.valuation_gap",
        "select pair, metric, basis, method, as_of_date, discount, discount_avg_prior "
        "from marts.valuation_gap order by as_of_date",
    )
    if frame is None:
        return None
    series = frame.groupby(["pair", "metric", "basis", "method"]).size().reset_index(name="n")
    # The rotation story's measure first (trailing P/E of IWM vs SPY), then the longest history.
    series["preferred"] = (series["pair"] == "IWM/SPY") & (series["metric"] == "pe") & (series["basis"] == "trailing")
    best = series.sort_values(["preferred", "n"], ascending=False).iloc[0]
    pair, metric, basis, method = best["pair"], best["metric"], best["basis"], best["method"]
    part = frame[
        (frame["pair"] == pair) & (frame["metric"] == metric) & (frame["basis"] == basis) & (frame["method"] == method)
    ]
    fig, ax = plt.subplots(figsize=(10, 3.8))
    ax.plot(part["as_of_date"], 100 * part["discount"], label="discount", color="#1d3557", lw=1.2)
    ax.plot(
        part["as_of_date"],
        100 * part["discount_avg_prior"],
        label="average of earlier dates",
        color="#e76f51",
        lw=1,
        ls="--",
    )
    ax.axhline(0, color="grey", lw=0.8)
    _style(ax, f"Valuation discount of {pair} ({basis} {metric}, {method})", "discount, % (1 - small / large)")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, folder / "valuation_discount.png")


def fed_chart(conn, folder: Path, since: dt.date) -> Path | None:
    frame = _frame(
        conn,
        "marts.fed_policy",
        f"select day, target_lower, target_upper, effective, last_change_date, last_change_bp "
        f"from marts.fed_policy where day >= '{since}' order by day",
    )
    if frame is None:
        return None
    fig, ax = plt.subplots(figsize=(10, 3.8))
    ax.fill_between(
        frame["day"], frame["target_lower"], frame["target_upper"], step="post", color="#a8dadc", label="target range"
    )
    ax.plot(frame["day"], frame["effective"], color="#1d3557", lw=1, label="effective rate (DFF)")
    cuts = frame[(frame["day"] == frame["last_change_date"]) & (frame["last_change_bp"] < 0)]
    ax.scatter(cuts["day"], cuts["target_upper"], marker="v", color="#e63946", zorder=3, label="cut")
    for _, row in cuts.iterrows():
        ax.annotate(
            f"{int(row['last_change_bp'])} bp",
            (row["day"], row["target_upper"]),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
            fontsize=7,
        )
    _style(ax, "Federal funds: target range, effective rate and cuts", "percent")
    ax.legend(loc="lower left", fontsize=8)
    return _save(fig, folder / "fed_policy.png")


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
    fig, ax = plt.subplots(figsize=(8, 7))
    ax.axhline(100, color="grey", lw=0.8)
    ax.axvline(100, color="grey", lw=0.8)
    for ticker, part in recent.groupby("ticker"):
        last = part.iloc[-1]
        colour = QUADRANT_COLOURS.get(last["quadrant"], "grey")
        ax.plot(part["rs_ratio"], part["rs_momentum"], color=colour, lw=1, alpha=0.7)
        ax.scatter([last["rs_ratio"]], [last["rs_momentum"]], color=colour, s=28, zorder=3)
        ax.annotate(
            ticker, (last["rs_ratio"], last["rs_momentum"]), textcoords="offset points", xytext=(4, 3), fontsize=8
        )
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
    ax.set_xlabel("RS-ratio (100 = in line with the benchmark)")
    ax.set_ylabel("RS-momentum")
    ax.set_title(
        f"Relative rotation against the benchmark, week of {latest:%Y-%m-%d}, {tail_weeks}-week tails",
        fontsize=11,
        loc="left",
    )
    ax.grid(alpha=0.3)
    return _save(fig, folder / "rrg.png")


def breadth_chart(conn, folder: Path, years: int) -> Path | None:
    frame = _frame(
        conn,
        "marts.breadth",
        f"select group_name, trade_date, share_above_sma50, share_above_sma200 from marts.breadth "
        f"where trade_date >= (select max(trade_date) from marts.breadth) - interval {int(years)} year "
        "order by trade_date",
    )
    if frame is None:
        return None
    fig, ax = plt.subplots(figsize=(10, 3.8))
    for group, part in frame.groupby("group_name"):
        ax.plot(part["trade_date"], 100 * part["share_above_sma50"], lw=1.1, label=f"{group}: above 50-session average")
    ax.axhline(50, color="grey", lw=0.8, ls="--")
    ax.set_ylim(0, 100)
    _style(ax, "Breadth: share of members above their 50-session average", "% of members")
    ax.legend(loc="lower left", fontsize=8)
    return _save(fig, folder / "breadth.png")


def dashboard_table(conn) -> pd.DataFrame | None:
    return _frame(conn, "marts.rotation_dashboard", "select * from marts.rotation_dashboard order by pair")


def markdown_table(frame: pd.DataFrame) -> str:
    def cell(v):
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return ""
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


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
    report.page = write_page(folder, report, dashboard)
    return report


def write_page(folder: Path, report: Report, dashboard: pd.DataFrame | None) -> Path:
    table = (
        dashboard.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}")
        if dashboard is not None
        else "<p>No dashboard yet.</p>"
    )
    images = "\n".join(
        f'<figure><img src="{path.name}" alt="{html.escape(name)}">'
        f"<figcaption>{html.escape(name.replace('_', ' '))}</figcaption></figure>"
        for name, path in report.charts.items()
    )
    skipped = "".join(f"<li>{html.escape(n)}: {html.escape(why)}</li>" for n, why in report.skipped.items())
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Small-cap rotation</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 6px}}
img{{max-width:100%}}figure{{margin:1.5em 0}}</style></head>
<body><h1>Small-cap vs large-cap rotation</h1>
<p>Generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC from the warehouse.</p>
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
