/*
description: >
  The figures of the rotation claims of core.published_claims (config/claims.csv): the pair
  metrics of warehouse/claims.py's family rotation, one row per claim; marts.claims grades them.
  outperformance_streak - marts.outperformance_streaks.streak of the pair on as_of_date.
  easing_share_beat_6m / _12m - over the easing cycles of marts.easing_cycle_study (the one
  easing-cycle rule, core.fomc_decisions.cycle_start) whose 126 / 252-session horizon ended on or
  before as_of_date, the share in which the pair's small side beat its large side (excess > 0).
  easing_best_horizon - the horizon (21, 63, 126 or 252 sessions) with the highest median excess
  over the cycles whose horizon ended on or before as_of_date. easing_excess_this_cycle - the
  pair's excess total return from the study's base of the cycle in force on as_of_date
  (marts.fed_policy.cycle_first_cut_date) to the pair's last common session on or before
  as_of_date (staging.pair_sessions).
unique_key: [claim_id]
columns:
  claim_id: varchar | the claim's name in config/claims.csv
  computed_value: double | the claim's figure from the data, in the metric's unit; NULL when the data lacks what it needs
  evidence: varchar | the data the figure comes from
  detail: varchar | how the figure came out, or, without a figure, what is missing
*/
with claims as (
    select claim_id, metric, subject as pair, as_of_date
    from core.published_claims
    where metric in (
        'outperformance_streak', 'easing_share_beat_6m', 'easing_share_beat_12m',
        'easing_best_horizon', 'easing_excess_this_cycle'
    )
),

study as (
    select pair, first_cut_date, horizon_sessions, base_date, horizon_date, excess
    from marts.easing_cycle_study
),

streak_figures as (
    select
        claims.claim_id,
        streaks.streak::double as computed_value,
        'marts.outperformance_streaks' as evidence,
        printf('%d sessions in a row up to %s', streaks.streak, streaks.trade_date) as detail
    from claims
    inner join marts.outperformance_streaks as streaks
        on streaks.pair = claims.pair and streaks.trade_date = claims.as_of_date
    where claims.metric = 'outperformance_streak'
),

finished_cycles as (
    -- only horizons over by the claim's date: a later session cannot confirm an earlier claim
    select claims.claim_id, claims.metric, study.*
    from claims
    inner join study
        on study.pair = claims.pair and study.horizon_date <= claims.as_of_date
    where claims.metric in ('easing_share_beat_6m', 'easing_share_beat_12m', 'easing_best_horizon')
),

share_figures as (
    select
        claim_id,
        avg((excess > 0)::int) as computed_value,
        'marts.easing_cycle_study' as evidence,
        printf(
            'small side ahead in %d of %d cycles (first cuts %s to %s), median excess %+.2f%%',
            count(*) filter (where excess > 0), count(*), min(first_cut_date), max(first_cut_date),
            median(excess) * 100
        ) as detail
    from finished_cycles
    where (metric = 'easing_share_beat_6m' and horizon_sessions = 126)
        or (metric = 'easing_share_beat_12m' and horizon_sessions = 252)
    group by claim_id
),

horizon_medians as (
    select claim_id, horizon_sessions, median(excess) as median_excess, count(*) as cycles
    from finished_cycles
    where metric = 'easing_best_horizon'
    group by claim_id, horizon_sessions
),

horizon_figures as (
    select
        claim_id,
        arg_max(horizon_sessions, median_excess)::double as computed_value,
        'marts.easing_cycle_study' as evidence,
        'median excess by horizon: ' || string_agg(
            printf('%d sessions %+.2f%% (%d cycles)', horizon_sessions, median_excess * 100, cycles),
            ', ' order by horizon_sessions
        ) as detail
    from horizon_medians
    group by claim_id
),

this_cycle as (
    select claims.claim_id, claims.pair, claims.as_of_date, fed.cycle_first_cut_date
    from claims
    inner join marts.fed_policy as fed
        on fed.day = claims.as_of_date
    where claims.metric = 'easing_excess_this_cycle' and fed.cycle_first_cut_date is not null
),

cycle_bases as (
    select distinct this_cycle.*, study.base_date
    from this_cycle
    inner join study
        on study.pair = this_cycle.pair and study.first_cut_date = this_cycle.cycle_first_cut_date
    where study.base_date is not null
),

cycle_ends as (
    select cycle_bases.*, ends.trade_date as end_date, ends.small_adj_close as end_small, ends.large_adj_close as end_large
    from cycle_bases
    asof inner join staging.pair_sessions as ends
        on ends.pair = cycle_bases.pair and cycle_bases.as_of_date >= ends.trade_date
),

excess_figures as (
    select
        cycle_ends.claim_id,
        (cycle_ends.end_small / bases.small_adj_close) / (cycle_ends.end_large / bases.large_adj_close) - 1
            as computed_value,
        'marts.fed_policy, marts.easing_cycle_study, staging.pair_sessions' as evidence,
        printf(
            'cycle from the cut of %s: %s %+.2f%%, %s %+.2f%% from %s to %s',
            cycle_ends.cycle_first_cut_date, bases.small, (cycle_ends.end_small / bases.small_adj_close - 1) * 100,
            bases.large, (cycle_ends.end_large / bases.large_adj_close - 1) * 100, cycle_ends.base_date,
            cycle_ends.end_date
        ) as detail
    from cycle_ends
    inner join staging.pair_sessions as bases
        on bases.pair = cycle_ends.pair and bases.trade_date = cycle_ends.base_date
),

figures as (
    select * from streak_figures
    union all select * from share_figures
    union all select * from horizon_figures
    union all select * from excess_figures
)

select
    claims.claim_id,
    figures.computed_value,
    coalesce(
        figures.evidence,
        case claims.metric
            when 'outperformance_streak' then 'marts.outperformance_streaks'
            when 'easing_excess_this_cycle' then 'marts.fed_policy, marts.easing_cycle_study, staging.pair_sessions'
            else 'marts.easing_cycle_study'
        end
    ) as evidence,
    coalesce(
        figures.detail,
        case claims.metric
            when 'outperformance_streak' then printf('no common session of %s on %s', claims.pair, claims.as_of_date)
            when 'easing_excess_this_cycle' then printf(
                'no easing cycle in force on %s, or %s has no session at its first cut', claims.as_of_date, claims.pair
            )
            else printf('no easing cycle of %s whose horizon ended by %s', claims.pair, claims.as_of_date)
        end
    ) as detail
from claims
left join figures
    on figures.claim_id = claims.claim_id
order by claims.claim_id
