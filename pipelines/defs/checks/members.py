"""Asset checks of core/index_members; the logic is warehouse/checks/members.py."""

import dagster as dg

from pipelines.defs.checks.common import ERROR, WARN, CheckDef, asset_checks, schema_matches_ddl
from warehouse.checks import members
from warehouse.universe import load_universe

MEMBERS_KEY = dg.AssetKey(["core", "index_members"])
TABLE = "core.index_members"

CHECKS = [
    CheckDef(
        "unique_key",
        lambda conn, cfg, run: members.unique_key(conn),
        ERROR,
        blocking=True,
        description=(
            "Protects index breadth from counting a member twice: one row per (index_id, "
            "as_of_date, ticker) and no NULL in that key. ERROR and blocking. When it fails: the "
            "table was written around the loader; delete the snapshots named and materialise "
            "core/index_members again (a snapshot is reloaded whole)."
        ),
    ),
    CheckDef(
        "snapshots_on_sessions",
        lambda conn, cfg, run: members.session_dates(conn),
        ERROR,
        blocking=True,
        description=(
            "Protects point-in-time membership: every snapshot is dated on an NYSE session (a "
            "holdings file describes a session's close). ERROR and blocking. When it fails: the "
            "table was written around the loader; delete the snapshots named."
        ),
    ),
    schema_matches_ddl(TABLE, "50_members.sql"),
    CheckDef(
        "weights_sum_to_one",
        lambda conn, cfg, run: members.weights_sum(conn),
        WARN,
        description=(
            "Shows snapshots whose members' weights do not add up to the fund (between 0.97 and "
            "1.01; cash, futures margin and the rows left out make up the rest). WARN: breadth "
            "counts members, not weights. When it fails: a holdings file was cut short or lists "
            "members twice; download it again."
        ),
    ),
    CheckDef(
        "member_counts_plausible",
        lambda conn, cfg, run: members.member_counts(conn),
        WARN,
        description=(
            "Shows snapshots with a member count their index cannot have (Russell 2000: 1,500 to "
            "2,100; S&P 600: 560 to 640; S&P 500: 495 to 510; Russell 3000: 2,300 to 3,100; the "
            "sample: 20 to 80). WARN. When it fails: the file is another fund's, or cut short, or "
            "many members were left out (see the load's rows_left_out and unmapped_members)."
        ),
    ),
    CheckDef(
        "snapshots_recent",
        lambda conn, cfg, run: members.freshness(conn, indexes=[i.index_id for i in load_universe().indexes]),
        WARN,
        description=(
            "Shows configured indexes whose latest snapshot is more than 35 days older than the "
            "last completed session, or that have none: breadth of the latest sessions then runs "
            "over a stale member list. WARN. When it fails: the live download failed for weeks "
            "(see the runs' funds_failed), or the files source has no recent holdings file; add one."
        ),
    ),
]

member_checks = asset_checks(MEMBERS_KEY, CHECKS, name="core__index_members__checks")
