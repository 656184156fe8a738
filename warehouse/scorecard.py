"""The story scorecard: every published claim with the data's figure and the verdict (marts.claims).

Rendered two ways from one table: an HTML page beside the report (scorecard.html, linked from
index.html) and markdown for the claims asset's metadata in the Dagster UI. Small charts show what
a row alone cannot: the first full week per index, the Fed's path with the cycle's cuts, the
outperformance streak. On the synthetic sample every verdict says so: its prices are not market data.

matplotlib is imported by the functions that draw, not by importing this module.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from pathlib import Path

import duckdb
import pandas as pd

from warehouse.claims import METRICS

VERDICT_COLOURS = {
    "holds": "#2a9d8f",
    "holds as rounded": "#52b788",
    "close": "#e9c46a",
    "contradicted": "#e76f51",
    "pending": "#8d99ae",
    "no data": "#adb5bd",
}
SAMPLE_NOTE = (
    "SYNTHETIC SAMPLE: these figures come from made-up prices and rates; the verdicts test the "
    "scorecard, not the story. Load real data (ROTATION_SOURCE=live or files) to check the claims."
)
# the first full trading week of 2026, its indices in the order the story gives them
FIRST_WEEK = ("2026-01-02", "2026-01-09", ("^RUT", "^GSPC", "^DJI", "^IXIC"))


def _exists(conn: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(
        conn.execute(
            "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, name]
        ).fetchall()[0][0]
    )


def flavour(conn: duckdb.DuckDBPyConnection) -> str:
    """'sample' or 'real', as the warehouse file itself records it (meta.warehouse_info)."""
    if not _exists(conn, "meta", "warehouse_info"):
        return "real"
    rows = conn.execute("select value from meta.warehouse_info where key = 'flavour'").fetchall()
    return rows[0][0] if rows else "real"


def claims_frame(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
    if not _exists(conn, "marts", "claims"):
        return None
    frame = conn.execute("select * from marts.claims").df()
    return frame if len(frame) else None


def format_value(value, metric: str) -> str:
    """A figure in the unit people read it in: returns as percent, rates in percent, counts whole."""
    if value is None or pd.isna(value):
        return ""
    unit = METRICS[metric].unit if metric in METRICS else ""
    if unit == "fraction":
        return f"{value * 100:+.2f}%"
    if unit == "percent":
        return f"{value:.2f}%"
    if unit in ("price", "points"):
        return f"{value:,.2f}"
    if unit == "ratio":
        return f"{value:.1f}x"
    if unit == "years":
        return f"{value:.1f} years"
    if unit == "flag":
        return "yes" if value >= 0.5 else "no"
    if unit == "bp":
        return f"{value:+.0f} bp"
    return f"{value:,.0f}"


COMPARISON_WORDS = {"about": "", "at_least": "≥ ", "at_most": "≤ ", "above": "> ", "below": "< "}


def claimed_text(row) -> str:
    text = COMPARISON_WORDS.get(row["comparison"], "") + format_value(row["claimed_value"], row["metric"])
    if row["comparison"] == "about" and row["tolerance"] and METRICS.get(row["metric"], None):
        unit = METRICS[row["metric"]].unit
        # a stated band ("largely flat": within 1%) is shown; half a last digit is not
        if unit == "fraction" and row["tolerance"] >= 0.001:
            text += f" ± {row['tolerance'] * 100:.1f}%"
        elif unit in ("price", "sessions") and row["tolerance"] >= 1:
            text += f" ± {row['tolerance']:,.0f}"
    return text


def verdict_text(verdict: str, data_flavour: str) -> str:
    return f"{verdict} (synthetic sample)" if data_flavour == "sample" else verdict


def rows_for_people(frame: pd.DataFrame, data_flavour: str) -> pd.DataFrame:
    """One line per claim and reading: the words, the reading, the claim, the figure, the verdict."""
    return pd.DataFrame(
        {
            "claim": frame["words"].fillna(frame["claim_id"]),
            "subject": frame["subject"].fillna("Fed"),
            "as of": [d.date().isoformat() if hasattr(d, "date") else str(d) for d in frame["as_of_date"]],
            "claimed": [claimed_text(r) for _, r in frame.iterrows()],
            "figure": [format_value(v, m) for v, m in zip(frame["computed_value"], frame["metric"], strict=True)],
            "verdict": [verdict_text(v, data_flavour) for v in frame["verdict"]],
            "reading": frame["reading"].fillna(""),
            "detail": frame["detail"].fillna(""),
            "evidence": frame["evidence"].fillna(""),
            "claim_id": frame["claim_id"],
        }
    )


def counts(frame: pd.DataFrame) -> dict[str, int]:
    found = frame["verdict"].value_counts().to_dict()
    return {v: int(found.get(v, 0)) for v in VERDICT_COLOURS if found.get(v, 0)}


def _md_cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown(conn: duckdb.DuckDBPyConnection) -> str:
    """The scorecard as a markdown table (the claims asset's metadata in the Dagster UI)."""
    frame = claims_frame(conn)
    if frame is None:
        return "No claims scored yet: marts.claims is missing or empty."
    data_flavour = flavour(conn)
    people = rows_for_people(frame, data_flavour)
    columns = ["claim", "subject", "as of", "claimed", "figure", "verdict", "reading"]
    lines = []
    if data_flavour == "sample":
        lines += [f"**{SAMPLE_NOTE}**", ""]
    lines.append("Verdicts: " + ", ".join(f"{v} {n}" for v, n in counts(frame).items()))
    lines.append("")
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "---|" * len(columns))
    for _, row in people.iterrows():
        lines.append("| " + " | ".join(_md_cell(row[c]) for c in columns) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- charts


def _figure(width=6.0, height=2.6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), dpi=100)


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def first_week_chart(conn: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> bytes | None:
    """Claimed against computed first-full-week returns per index, on the story's own reading."""
    start, end, tickers = FIRST_WEEK
    week = frame[
        (frame["metric"] == "price_return")
        & (frame["start_date"].astype(str).str[:10] == start)
        & (frame["as_of_date"].astype(str).str[:10] == end)
        & frame["subject"].isin(tickers)
    ]
    if week.empty:
        return None
    week = week.set_index("subject").reindex([t for t in tickers if t in set(week["subject"])])
    fig, ax = _figure()
    positions = range(len(week))
    ax.bar([p - 0.2 for p in positions], week["claimed_value"] * 100, width=0.4, color="#a8dadc", label="claimed")
    computed = week["computed_value"].astype(float).fillna(0) * 100
    colours = [VERDICT_COLOURS.get(v, "#adb5bd") for v in week["verdict"]]
    ax.bar([p + 0.2 for p in positions], computed, width=0.4, color=colours, label="data (colour: verdict)")
    ax.set_xticks(list(positions), list(week.index))
    ax.set_ylabel("percent")
    ax.set_title(f"First full trading week ({start} close to {end})", fontsize=10)
    ax.axhline(0, color="#444", lw=0.6)
    ax.legend(fontsize=7, frameon=False)
    return _png(fig)


def fed_chart(conn: duckdb.DuckDBPyConnection) -> bytes | None:
    """The target range since the 2024 cuts, the current cycle's cuts marked (the one cycle rule)."""
    if not _exists(conn, "marts", "fed_policy"):
        return None
    days = conn.execute(
        "select day, target_lower, target_upper, last_change_date, last_change_bp, cycle_first_cut_date "
        "from marts.fed_policy where day >= date '2024-06-01' order by day"
    ).df()
    if days.empty:
        return None
    fig, ax = _figure()
    ax.fill_between(
        days["day"], days["target_lower"], days["target_upper"], step="post", color="#a8dadc", label="target range"
    )
    cuts = days[(days["day"] == days["last_change_date"]) & (days["last_change_bp"] < 0)]
    latest = days["cycle_first_cut_date"].dropna()
    current = cuts[cuts["day"] >= latest.iloc[-1]] if len(latest) else cuts.iloc[0:0]
    ax.scatter(cuts["day"], cuts["target_upper"], marker="v", color="#999", zorder=3, label="cut")
    ax.scatter(
        current["day"], current["target_upper"], marker="v", color="#e63946", zorder=4, label="this cycle's cuts"
    )
    ax.set_ylabel("percent")
    ax.set_title("Fed funds target and the current easing cycle", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    return _png(fig)


def streak_chart(conn: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> bytes | None:
    """The pair's streak over the weeks before the streak claim's day."""
    claims = frame[frame["metric"] == "outperformance_streak"]
    if claims.empty or not _exists(conn, "marts", "outperformance_streaks"):
        return None
    claim = claims.iloc[0]
    day = pd.Timestamp(claim["as_of_date"]).date()
    streak = conn.execute(
        "select trade_date, streak from marts.outperformance_streaks where pair = ? and trade_date between ? and ? "
        "order by trade_date",
        [claim["subject"], day - dt.timedelta(days=45), day],
    ).df()
    if streak.empty:
        return None
    fig, ax = _figure()
    ax.bar(streak["trade_date"], streak["streak"], color="#457b9d", width=0.8)
    ax.axhline(claim["claimed_value"], color="#e63946", lw=0.8, ls="--", label=f"claimed: {claim['claimed_value']:.0f}")
    ax.set_ylabel("sessions in a row")
    ax.set_title(f"{claim['subject']}: sessions in a row the small side beat the large", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    fig.autofmt_xdate()
    return _png(fig)


def charts(conn: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> dict[str, bytes]:
    drawn = {
        "first_week": first_week_chart(conn, frame),
        "fed_path": fed_chart(conn),
        "streak": streak_chart(conn, frame),
    }
    return {name: png for name, png in drawn.items() if png is not None}


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def metadata_markdown(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Markdown entries for the claims asset's metadata: the table and each chart, embedded."""
    out = {"scorecard": markdown(conn)}
    frame = claims_frame(conn)
    if frame is not None:
        for name, png in charts(conn, frame).items():
            out[f"scorecard_chart_{name}"] = f"![{name}]({_data_uri(png)})"
    return out


# --------------------------------------------------------------------------------------- page

PAGE_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
thead th{background:#f3f5f7}
td.verdict{font-weight:600;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.small{font-size:11px;color:#555}
.banner{background:#fff3cd;border:1px solid #e0c36a;padding:.6em 1em;font-weight:600}
img{max-width:100%;height:auto}
figure{display:inline-block;margin:.5em 1em .5em 0}
"""


def write_page(conn: duckdb.DuckDBPyConnection, folder: Path) -> Path:
    """scorecard.html in `folder`: the banner (on the sample), the counts, the charts, the table."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frame = claims_frame(conn)
    data_flavour = flavour(conn)
    parts = []
    if data_flavour == "sample":
        parts.append(f"<p class='banner'>{html.escape(SAMPLE_NOTE)}</p>")
    if frame is None:
        parts.append("<p>No claims scored yet: marts.claims is missing or empty.</p>")
    else:
        summary = ", ".join(
            f"<span style='color:{VERDICT_COLOURS[v]}'>{html.escape(v)}</span> {n}" for v, n in counts(frame).items()
        )
        parts.append(f"<p>{len(frame)} claims and readings: {summary}.</p>")
        figures = []
        for name, png in charts(conn, frame).items():
            path = folder / f"scorecard_{name}.png"
            path.write_bytes(png)
            figures.append(f"<figure><img src='{path.name}' alt='{html.escape(name)}'></figure>")
        parts.append("".join(figures))
        people = rows_for_people(frame, data_flavour)
        names = ("claim", "subject", "as of", "claimed", "figure", "verdict", "reading", "detail", "evidence")
        head = "".join(f"<th>{c}</th>" for c in names)
        body = []
        for (_, row), verdict in zip(people.iterrows(), frame["verdict"], strict=True):
            colour = VERDICT_COLOURS.get(verdict, "#222")
            body.append(
                "<tr>"
                f"<td title='{html.escape(row['claim_id'])}'>{html.escape(row['claim'])}</td>"
                f"<td>{html.escape(row['subject'])}</td><td class='num'>{html.escape(row['as of'])}</td>"
                f"<td class='num'>{html.escape(row['claimed'])}</td><td class='num'>{html.escape(row['figure'])}</td>"
                f"<td class='verdict' style='color:{colour}'>{html.escape(row['verdict'])}</td>"
                f"<td class='small'>{html.escape(row['reading'])}</td>"
                f"<td class='small'>{html.escape(row['detail'])}</td>"
                f"<td class='small'>{html.escape(row['evidence'])}</td>"
                "</tr>"
            )
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Story scorecard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{PAGE_STYLE}</style></head>
<body><h1>The story scorecard</h1>
<p>Every checkable statement of the rotation story, the data's figure and the verdict (marts.claims).
<a href="index.html">Charts and dashboard</a>.</p>
{''.join(parts)}
</body></html>
"""
    path = folder / "scorecard.html"
    path.write_text(page, encoding="utf-8")
    return path
