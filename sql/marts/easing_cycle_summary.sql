/*
description: >
  Summary of marts.easing_cycle_study per pair and horizon: across the easing cycles whose
  horizon has data (excess not NULL), how often and by how much the small side beat the large
  side after the Fed's first cut. The claim "small caps lead 6-12 months after the first cut" reads
  at 126 and 252 sessions: a median excess above 0 and a share of positive cycles above one half.
  Cycles without data at the horizon (before the pair's history, or too recent) are counted in
  cycles_total only. One row per pair and horizon.
unique_key: [pair, horizon_sessions]
columns:
  pair: varchar | the pair, small/large, e.g. IWM/SPY
  small: varchar | the small-cap ticker of the pair
  large: varchar | the large-cap ticker of the pair
  horizon_sessions: integer | the horizon h in common sessions after the base (21, 63, 126 or 252)
  cycles_total: bigint | easing cycles (first cuts) in the study, with data or not
  cycles: bigint | cycles with data at this horizon (excess not NULL)
  first_cycle: date | first_cut_date of the earliest cycle with data; NULL without any
  last_cycle: date | first_cut_date of the latest cycle with data; NULL without any
  median_excess: double | median excess of the cycles with data (the mean of the middle two for an even count); NULL without any
  mean_excess: double | mean excess of the cycles with data; NULL without any
  share_positive: double | share of the cycles with data whose excess is above 0, from 0 to 1; NULL without any
  median_small_return: double | median small_return of the cycles with data; NULL without any
  median_large_return: double | median large_return of the cycles with data; NULL without any
headline:
  rut_gspc_median_excess_252d: select median_excess from marts.easing_cycle_summary where pair = '^RUT/^GSPC' and horizon_sessions = 252
  rut_gspc_share_positive_252d: select share_positive from marts.easing_cycle_summary where pair = '^RUT/^GSPC' and horizon_sessions = 252
*/
with study as (
    select pair, small, large, horizon_sessions, first_cut_date, small_return, large_return, excess
    from marts.easing_cycle_study
)

select
    pair,
    small,
    large,
    horizon_sessions,
    count(*) as cycles_total,
    count(excess) as cycles,
    min(first_cut_date) filter (where excess is not null) as first_cycle,
    max(first_cut_date) filter (where excess is not null) as last_cycle,
    -- quantile_cont interpolates: the usual median for an even count of cycles
    quantile_cont(excess, 0.5) as median_excess,
    avg(excess) as mean_excess,
    -- count(excess) is 0 without data: nullif keeps the share NULL instead of dividing by zero
    count(*) filter (where excess > 0) / nullif(count(excess), 0) as share_positive,
    quantile_cont(small_return, 0.5) filter (where excess is not null) as median_small_return,
    quantile_cont(large_return, 0.5) filter (where excess is not null) as median_large_return
from study
group by pair, small, large, horizon_sessions
order by pair, horizon_sessions
