-- Do small caps lead 6 to 12 months after the first cut? Excess return after each easing
-- cycle's first cut, summarised per pair and horizon (126 sessions ~ 6 months, 252 ~ 12).
select pair, horizon_sessions, cycles, round(100 * median_excess, 1) as median_excess_pct,
       round(100 * share_positive, 0) as share_of_cycles_positive_pct, first_cycle, last_cycle
from marts.easing_cycle_summary
order by pair, horizon_sessions;
