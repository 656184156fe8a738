-- What was the fed funds target and the effective rate on a given day since 1990, and when were
-- the cuts of this easing cycle?
--
-- Ask about a day by setting it first (DuckDB CLI or Python), then run the file:
--     set variable day = date '2001-09-17';
-- Without it the query answers for the latest day in the warehouse.
--
-- One result with two kinds of row, ordered by date:
--   'asked day'  the target on that day (a range from 2008-12-16, a single rate before: both
--                bounds hold it), the effective rate (FRED's DFF) and whether it sat inside;
--   'cut'        each cut of the latest easing cycle (core.fomc_decisions.cycle_start: a cut
--                after a hike or more than easing_cycle_gap_days, 180, after the previous cut
--                starts one), dated on the day it took effect, with the range it set, the size
--                of the cut and the effective rate that day: the three 25 bp cuts from
--                2025-09-18. See sql/queries/fed_cycle.sql.
-- Reads core.policy_rate_daily and core.fomc_decisions, which the rates assets build from
-- core.rates_daily. Rates are in percent; changes in basis points.
with asked as (
    select coalesce(
        cast(getvariable('day') as date),
        (select max(calendar_date) from core.policy_rate_daily)
    ) as calendar_date
),
latest_easing as (
    select max(cycle_start) as cycle_start
    from core.fomc_decisions
    where direction = 'cut'
),
answer as (
    select
        'asked day' as row_kind,
        p.calendar_date,
        p.target_lower,
        p.target_upper,
        cast(null as integer) as change_bp,
        p.effective,
        p.effective_in_range
    from core.policy_rate_daily p
    join asked a on a.calendar_date = p.calendar_date

    union all

    select
        'cut',
        d.effective_date,
        d.target_lower,
        d.target_upper,
        d.change_bp,
        p.effective,
        p.effective_in_range
    from core.fomc_decisions d
    join latest_easing l on l.cycle_start = d.cycle_start
    left join core.policy_rate_daily p on p.calendar_date = d.effective_date
)
select
    row_kind,
    calendar_date,
    case when target_lower = target_upper then format('{:.2f}', target_upper)
         else format('{:.2f}-{:.2f}', target_lower, target_upper) end as target,
    target_lower,
    target_upper,
    change_bp,
    effective,
    effective_in_range
from answer
order by row_kind = 'cut', calendar_date;
