"""FRED series into core.rates_daily, and the policy-rate tables derived from them.

- `load_rates` upserts a source's observations (warehouse.load: staged, validated, idempotent).
- `fetch_starts` makes runs incremental: each series from its last stored date minus a revision
  window, so values FRED revised lately are corrected without fetching whole histories.
- `rebuild_policy_rate_daily` and `rebuild_fomc_decisions` rebuild the derived tables with SQL,
  each in one transaction, so a reader never sees half a table.
- `load_fomc_reference` replaces core.fomc_reference with the shipped, hand-edited file; the
  check `decisions_match_reference` (warehouse/checks/rates.py) says where the two disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from warehouse.db import transaction
from warehouse.fomc_reference import read_reference
from warehouse.load import LoadResult, TableSpec, replace_contents, upsert
from warehouse.sources.rates import RATE_COLUMNS, RateBatch

RATES = TableSpec(
    name="core.rates_daily",
    key=("series_id", "obs_date"),
    date_column="obs_date",
    values=("value",),
    rules=(("value is NULL or not a finite number", "value is null or not isfinite(value)"),),
)

# The policy-rate history starts here; DFEDTAR observations before it only set its first day.
POLICY_SINCE = dt.date(1990, 1, 1)
SINGLE_TARGET, RANGE_LOWER, RANGE_UPPER, EFFECTIVE = "DFEDTAR", "DFEDTARL", "DFEDTARU", "DFF"
POLICY_SERIES = (SINGLE_TARGET, RANGE_LOWER, RANGE_UPPER, EFFECTIVE)


@dataclass
class RatesLoad:
    result: LoadResult
    series_loaded: list[str]
    series_failed: dict[str, str]
    missing_values: int  # published as '.' or empty: skipped, never stored
    first_date: dt.date | None
    last_date: dt.date | None
    notes: list[str] = field(default_factory=list)
    retry_may_help: set[str] = field(default_factory=set)  # failed on something transient


def load_rates(
    conn: duckdb.DuckDBPyConnection,
    batch: RateBatch,
    *,
    source: str,
    run_id: str | None = None,
    now: dt.datetime | None = None,
) -> RatesLoad:
    observations = batch.observations[RATE_COLUMNS]
    result = upsert(
        conn, RATES, observations, source=source, run_id=run_id, rejects=batch.rejects, now=now
    )
    dates = observations["obs_date"]
    return RatesLoad(
        result=result,
        series_loaded=sorted(observations["series_id"].unique().tolist()),
        series_failed=dict(sorted(batch.failed.items())),
        missing_values=batch.missing_count,
        first_date=dates.min() if len(dates) else None,
        last_date=dates.max() if len(dates) else None,
        notes=list(batch.notes),
        retry_may_help=set(batch.retry_may_help),
    )


def last_observations(conn: duckdb.DuckDBPyConnection, series: Sequence[str]) -> dict[str, dt.date]:
    rows = conn.execute(
        "select series_id, max(obs_date) from core.rates_daily where series_id in "
        "(select unnest(?::varchar[])) group by 1",
        [list(series)],
    ).fetchall()
    return dict(rows)


def fetch_starts(
    conn: duckdb.DuckDBPyConnection, series: Sequence[str], revision_days: int
) -> dict[str, dt.date | None]:
    """Per series, the first date to fetch: its last stored date minus the revision window, or
    None (the whole history) for a series never loaded."""
    last = last_observations(conn, series)
    window = dt.timedelta(days=revision_days)
    return {s: (last[s] - window if s in last else None) for s in series}


POLICY_SQL = f"""
create or replace temp table _policy as
with single as (
    select obs_date, value as lower_bound, value as upper_bound, 'single' as target_kind
    from core.rates_daily
    where series_id = '{SINGLE_TARGET}'
),
ranged as (
    select lo.obs_date, lo.value as lower_bound, up.value as upper_bound, 'range' as target_kind
    from core.rates_daily lo
    join core.rates_daily up on up.series_id = '{RANGE_UPPER}' and up.obs_date = lo.obs_date
    where lo.series_id = '{RANGE_LOWER}'
),
-- Once the range exists it is the target: a DFEDTAR value after its start would be stale.
observed as (
    select * from single
    where obs_date < coalesce((select min(obs_date) from ranged), date '9999-12-31')
    union all
    select * from ranged
),
calendar as (
    select cast(unnest(generate_series(
        greatest(cast(? as date), (select min(obs_date) from observed)),
        (select max(obs_date) from observed),
        interval 1 day)) as date) as calendar_date
),
-- The target in force on a day is the latest observation on or before it: a day FRED skipped
-- keeps the target of the day before, so a change is still dated on the day it took effect.
targets as (
    select c.calendar_date, o.lower_bound, o.upper_bound, o.target_kind
    from calendar c
    asof join observed o on c.calendar_date >= o.obs_date
),
effective as (
    select obs_date, value from core.rates_daily where series_id = '{EFFECTIVE}'
)
select
    t.calendar_date,
    t.lower_bound as target_lower,
    t.upper_bound as target_upper,
    (t.lower_bound + t.upper_bound) / 2 as target_mid,
    t.target_kind,
    e.value as effective,
    e.value between t.lower_bound and t.upper_bound as effective_in_range,
    round((e.value - (t.lower_bound + t.upper_bound) / 2) * 100, 2) as effective_spread_bp
from targets t
left join effective e on e.obs_date = t.calendar_date
order by t.calendar_date
"""

DECISIONS_SQL = """
create or replace temp table _decisions as
with steps as (
    select
        calendar_date,
        target_lower,
        target_upper,
        target_mid,
        target_kind,
        lag(target_lower) over by_day as previous_lower,
        lag(target_upper) over by_day as previous_upper,
        lag(target_mid) over by_day as previous_mid
    from core.policy_rate_daily
    window by_day as (order by calendar_date)
),
changes as (
    select
        calendar_date as effective_date,
        target_lower,
        target_upper,
        previous_lower,
        previous_upper,
        cast(round((target_upper - previous_upper) * 100) as integer) as change_bp,
        -- by the midpoint, so the 2008 switch from a point to a range reads as the cut it was
        case when target_mid > previous_mid then 'hike' else 'cut' end as direction,
        target_kind
    from steps
    where previous_upper is not null
      and (target_lower <> previous_lower or target_upper <> previous_upper)
),
numbered as (
    select *,
        -- The easing-cycle rule (README, "Easing cycles"): a new cycle starts at every change of
        -- direction, and at a cut more than the gap after the previous cut (the previous change,
        -- since a hike in between is a change of direction); a run of hikes is one cycle.
        sum(
            case
                when direction is distinct from previous_direction then 1
                when direction = 'cut' and effective_date - previous_date > $gap_days then 1
                else 0
            end
        ) over (order by effective_date) as run_number
    from (
        select *,
            lag(direction) over (order by effective_date) as previous_direction,
            lag(effective_date) over (order by effective_date) as previous_date
        from changes
    )
)
select
    effective_date, target_lower, target_upper, previous_lower, previous_upper, change_bp,
    direction,
    min(effective_date) over (partition by run_number) as cycle_start,
    target_kind
from numbered
order by effective_date
"""


def easing_cycle_gap_days() -> int:
    """easing_cycle_gap_days of config/models.toml: the one parameter of the easing-cycle rule."""
    from warehouse.models import load_params  # the model runner imports this module's callers

    return int(load_params()["easing_cycle_gap_days"])


def rebuild_policy_rate_daily(
    conn: duckdb.DuckDBPyConnection, since: dt.date = POLICY_SINCE, *, run_id: str | None = None
) -> int:
    """Replace core.policy_rate_daily from core.rates_daily, in one transaction; its row count.

    The change is recorded from the first day whose row differs (a revised DFF moves it to that
    day); a rebuild that gives the same table writes and records nothing.
    """
    with transaction(conn):
        conn.execute(POLICY_SQL, [since])
        replace_contents(conn, "core.policy_rate_daily", "select * from _policy",
                         date_column="calendar_date", run_id=run_id)
        conn.execute("drop table _policy")
        return conn.execute("select count(*) from core.policy_rate_daily").fetchall()[0][0]


def rebuild_fomc_decisions(
    conn: duckdb.DuckDBPyConnection, *, run_id: str | None = None, gap_days: int | None = None
) -> int:
    """Replace core.fomc_decisions from core.policy_rate_daily in one transaction; its row count.

    cycle_start follows the easing-cycle rule with `gap_days` (default: easing_cycle_gap_days of
    config/models.toml), the rule every table, query and chart reads from here.
    Recorded like the policy table: from the first decision added, changed or removed.
    """
    gap = easing_cycle_gap_days() if gap_days is None else int(gap_days)
    with transaction(conn):
        conn.execute(DECISIONS_SQL, {"gap_days": gap})
        replace_contents(conn, "core.fomc_decisions", "select * from _decisions",
                         date_column="effective_date", run_id=run_id)
        conn.execute("drop table _decisions")
        return conn.execute("select count(*) from core.fomc_decisions").fetchall()[0][0]


def load_fomc_reference(
    conn: duckdb.DuckDBPyConnection, path: Path | None = None, *, run_id: str | None = None
) -> int:
    """Replace core.fomc_reference with the file (config/fomc_decisions.csv by default).

    Not through `upsert`: the file is configuration, not source data, and a row deleted from it
    must disappear from the table, which an upsert never does. Every row is checked first
    (ReferenceError names each bad line), so a bad file leaves the table as it was. An
    unchanged file writes and records nothing.
    """
    decisions = read_reference(path)
    frame = pd.DataFrame(
        {
            "effective_date": [d.effective_date for d in decisions],
            "target_lower": [d.target_lower for d in decisions],
            "target_upper": [d.target_upper for d in decisions],
            "change_bp": [d.change_bp for d in decisions],
            "notes": [d.notes or None for d in decisions],
            "line_number": [d.line for d in decisions],
        }
    )
    with transaction(conn):
        conn.register("_reference", frame)
        try:
            replace_contents(conn, "core.fomc_reference", "select * from _reference",
                             date_column="effective_date", run_id=run_id)
        finally:
            conn.unregister("_reference")
    return len(frame)


def latest_policy(conn: duckdb.DuckDBPyConnection) -> dict | None:
    """The last day of core.policy_rate_daily, and the latest effective rate with its date."""
    row = conn.execute(
        """
        select calendar_date, target_lower, target_upper, target_mid, target_kind
        from core.policy_rate_daily order by calendar_date desc limit 1
        """
    ).fetchone()
    if row is None:
        return None
    effective = conn.execute(
        """
        select calendar_date, effective, effective_in_range from core.policy_rate_daily
        where effective is not null order by calendar_date desc limit 1
        """
    ).fetchone()
    keys = ("date", "target_lower", "target_upper", "target_mid", "target_kind")
    out = dict(zip(keys, row, strict=True))
    out["effective_date"], out["effective"], out["effective_in_range"] = effective or (
        None,
        None,
        None,
    )
    return out


def latest_easing_cycle(conn: duckdb.DuckDBPyConnection) -> list[tuple[dt.date, int, float, float]]:
    """(effective date, change in bp, new lower, new upper) of each cut of the latest easing
    cycle (core.fomc_decisions.cycle_start: the cycle rule with its gap, so 2025-09-18 on)."""
    return conn.execute(
        """
        select effective_date, change_bp, target_lower, target_upper
        from core.fomc_decisions
        where cycle_start = (
            select max(cycle_start) from core.fomc_decisions where direction = 'cut'
        )
        order by effective_date
        """
    ).fetchall()
