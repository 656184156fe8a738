/*
description: >
  The fed funds target on every calendar day of core.policy_rate_daily (from 1990), with the last
  change of the target and the easing cycle it belongs to. The changes are those of
  core.fomc_decisions: a day whose target bounds differ from the day before; it is a hike when the
  midpoint rose and a cut otherwise (so the 2008-12-16 switch from the single 1.00 target to the
  0-0.25 range is a cut), and its size is the change of the upper bound in basis points (-75 on
  2008-12-16), the conventions of config/fomc_decisions.csv too.
  EASING CYCLE RULE (the one definition, README "Easing cycles"): a cut starts a new easing cycle
  when it is the first change of the history, when the previous change was a hike, or when it
  comes more than easing_cycle_gap_days (config/models.toml, 180) calendar days after the previous
  cut; otherwise it continues the cycle of the previous cut. A hike ends the cycle: from a hike on,
  stance is 'tightening' and every cycle column is NULL. The rule is applied once, in
  core.fomc_decisions.cycle_start (warehouse/rates.py); this model, the event study, the claims and
  the queries read it from there, so cycle_first_cut_date equals the cycle_start of every cut.
  Consequence for 2024-2025: 2024-12-19 and 2025-09-18 are 273 days apart, so the 2024 cycle
  (2024-09-19, 3 cuts, 100 bp) and the 2025 cycle (first cut 2025-09-18: three consecutive 25 bp
  cuts to 3.50-3.75 by 2025-12-11, 75 bp) are two cycles, which is the "three consecutive 25 bp
  cuts" of the rotation story. The history's first cut (1990-07-13) starts a cycle because no
  earlier change is stored; it came 205 days after the previous real cut (1989-12-20), so the
  rule would have started one anyway.
  easing_active is true while stance is 'easing' and the last cut is fewer than
  easing_active_days (default 365) days old (the day of the cut counts as day 0).
  One row per calendar day.
date_column: day
unique_key: [day]
key_metrics: [target_lower, target_upper, target_mid]
columns:
  day: date | calendar day, weekends and holidays included
  target_lower: double | lower bound of the target range in force, percent (the single target before 2008-12-16)
  target_upper: double | upper bound of the target range in force, percent (the single target before 2008-12-16)
  target_mid: double | midpoint of the range (the single target before 2008-12-16)
  effective: double | effective fed funds rate of the day (DFF), percent; NULL when FRED has none (weekends)
  last_change_date: date | the first day of the latest target change on or before this day; NULL before the first change of the history
  last_change_bp: integer | that change of the upper bound in basis points, negative for a cut
  stance: varchar | 'easing' when the latest change was a cut, 'tightening' when it was a hike; NULL before the first change
  cycle_first_cut_date: date | first cut of the easing cycle in force (see the rule); NULL when stance is not 'easing'
  cuts_in_cycle: bigint | cuts of the cycle on or before this day, the first included; NULL when stance is not 'easing'
  bp_cut_in_cycle: bigint | basis points cut so far in the cycle, a positive number (sum of the cuts' upper-bound changes, negated); NULL when stance is not 'easing'
  days_since_first_cut: bigint | calendar days from cycle_first_cut_date to this day (0 on the day of the cut); NULL when stance is not 'easing'
  easing_active: boolean | stance is 'easing' and the last cut is fewer than easing_active_days (default 365) days before this day; false otherwise
headline:
  target_mid_latest: select target_mid from marts.fed_policy order by day desc limit 1
  cuts_in_cycle_latest: select coalesce(cuts_in_cycle, 0) from marts.fed_policy order by day desc limit 1
  days_since_first_cut_latest: select days_since_first_cut from marts.fed_policy order by day desc limit 1
*/
with policy as (
    select calendar_date as day, target_lower, target_upper, target_mid, effective
    from core.policy_rate_daily
),

decisions as (
    -- core.fomc_decisions numbers the cycles (cycle_start, the rule above); hikes get these
    -- columns too (their own run's), but stance 'tightening' NULLs them below
    select
        effective_date as change_date,
        change_bp,
        direction,
        cycle_start as cycle_first_cut_date,
        count(*) over by_cycle_so_far as cuts_in_cycle,
        -sum(change_bp) over by_cycle_so_far as bp_cut_in_cycle
    from core.fomc_decisions
    window by_cycle_so_far as (
        partition by cycle_start order by effective_date
        rows between unbounded preceding and current row
    )
),

days as (
    -- Each day takes the latest change on or before it: an as-of join, one sorted pass.
    select
        policy.day,
        policy.target_lower,
        policy.target_upper,
        policy.target_mid,
        policy.effective,
        decisions.change_date as last_change_date,
        decisions.change_bp as last_change_bp,
        case decisions.direction when 'cut' then 'easing' when 'hike' then 'tightening' end as stance,
        decisions.cycle_first_cut_date,
        decisions.cuts_in_cycle,
        decisions.bp_cut_in_cycle
    from policy
    asof left join decisions
        on policy.day >= decisions.change_date
)

select
    day,
    target_lower,
    target_upper,
    target_mid,
    effective,
    last_change_date,
    last_change_bp,
    stance,
    case when stance = 'easing' then cycle_first_cut_date end as cycle_first_cut_date,
    case when stance = 'easing' then cuts_in_cycle end as cuts_in_cycle,
    cast(case when stance = 'easing' then bp_cut_in_cycle end as bigint) as bp_cut_in_cycle,
    case when stance = 'easing' then day - cycle_first_cut_date end as days_since_first_cut,
    -- with stance 'easing' the latest change is the last cut
    coalesce(stance = 'easing' and day - last_change_date < {{ easing_active_days }}, false) as easing_active
from days
order by day
