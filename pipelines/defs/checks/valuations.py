"""Asset checks of core/valuations; the logic is warehouse/checks/valuations.py."""

import dagster as dg

from pipelines.defs.checks.common import (
    ERROR,
    WARN,
    CheckDef,
    asset_checks,
    no_rows_quarantined,
    schema_matches_ddl,
)
from warehouse.checks import valuations
from warehouse.universe import load_universe

VALUATIONS_KEY = dg.AssetKey(["core", "valuations"])
TABLE = "core.valuations"

CHECKS = [
    CheckDef(
        "one_snapshot_per_day",
        lambda conn, cfg, run: valuations.one_snapshot_per_day(conn),
        ERROR,
        blocking=True,
        description=(
            "Protects the valuation gap from picking one of two figures at random: one row per "
            "(as_of_date, ticker, metric, source), and one snapshot per day and (ticker, metric) "
            "across live, files and sample (published figures sit beside them by design). ERROR "
            "and blocking. When it fails: two sources snapshotted the same day; delete one "
            "source's rows for those days (the failing rows name them) and re-materialise."
        ),
    ),
    schema_matches_ddl(TABLE, "30_valuations.sql"),
    CheckDef(
        "values_plausible",
        lambda conn, cfg, run: valuations.bounds(conn, **cfg),
        WARN,
        config_key="valuations.bounds",
        description=(
            "Protects the valuation marts from absurd figures: every value lies strictly inside "
            "its measure's bounds ([valuations.bounds.limits], e.g. 0 < P/E < 200, a discount "
            "between -1 and 1). WARN: single stocks really trade above 200x earnings at times "
            "(TSLA, NVDA), so this names rows instead of stopping the run. When it fails on an "
            "index or ETF: the provider's field is broken that day; delete the row or wait for the "
            "next snapshot."
        ),
    ),
    CheckDef(
        "snapshots_fresh",
        lambda conn, cfg, run: valuations.freshness(
            conn, tickers=list(load_universe().valuation_tickers), **cfg
        ),
        WARN,
        config_key="valuations.freshness",
        description=(
            "Protects the valuation history from silent holes: each [valuations] ticker of "
            "config/universe.toml has a snapshot of the last completed NYSE session (New York "
            "time), or at most max_lag_sessions older; lagging tickers are named. WARN: a missed "
            "day cannot be snapshotted later, the history only has a gap. When it fails: make "
            "sure the daily schedule runs after the close; a ticker without any snapshot has no "
            "valuation fields at the source."
        ),
    ),
    no_rows_quarantined(
        TABLE,
        what="figures",
        why="a zero or non-finite value, an unknown metric or method, a future date",
        fix="fix the source file, or ignore a provider's empty field.",
    ),
]

valuation_checks = asset_checks(VALUATIONS_KEY, CHECKS, name="core__valuations__checks")
