/*
description: >
  The figures of the Fed and macro claims of core.published_claims (config/claims.csv): the
  metrics of warehouse/claims.py's family macro, one row per claim; marts.claims grades them.
  Fed metrics (fed_target_lower, fed_target_upper, fed_cuts_in_cycle, fed_bp_cut_in_cycle,
  fed_change_bp) read FRED's target (marts.fed_policy) when it reaches every day the claim needs;
  when FRED stops short they read the shipped published decisions (core.fomc_reference, from
  config/fomc_decisions.csv), which hold every change from their first to their last row, so a day
  up to the last row is known; evidence says which. The cycle columns follow the one easing-cycle
  rule (a cut more than easing_cycle_gap_days after the previous cut, or after a hike, starts a
  cycle: core.fomc_decisions.cycle_start), applied to the shipped decisions the same way.
  fed_cuts_in_cycle is 0 when the latest change was a hike. fed_change_bp is the upper bound on
  as_of_date minus that on start_date, in basis points. fred_yoy - the subject series' monthly
  observation of as_of_date's month over the one twelve months before, minus 1 (CPIAUCSL: CPI
  inflation). curve_change - marts.yield_curve.spread_change_63d of the last observation on or
  before as_of_date, at most 7 days before it (the 10y-2y spread's change over a quarter).
unique_key: [claim_id]
columns:
  claim_id: varchar | the claim's name in config/claims.csv
  computed_value: double | the claim's figure from the data, in the metric's unit; NULL when the data lacks what it needs
  evidence: varchar | the data the figure comes from; for the Fed, FRED's target or the shipped decisions
  detail: varchar | how the figure came out, or, without a figure, which series and dates are missing
*/
with claims as (
    select claim_id, metric, subject, start_date, as_of_date
    from core.published_claims
    where metric in (
        'fed_target_lower', 'fed_target_upper', 'fed_cuts_in_cycle', 'fed_bp_cut_in_cycle',
        'fed_change_bp', 'fred_yoy', 'curve_change'
    )
),

fed_claims as (
    select *
    from claims
    where metric like 'fed_%'
),

fred_days as (
    select day, target_lower, target_upper, cuts_in_cycle, bp_cut_in_cycle, cycle_first_cut_date
    from marts.fed_policy
),

fred_span as (
    select min(day) as first_day, max(day) as last_day
    from fred_days
),

shipped as (
    select
        effective_date,
        target_lower,
        target_upper,
        change_bp,
        case when change_bp < 0 then 'cut' else 'hike' end as direction
    from core.fomc_reference
),

shipped_numbered as (
    -- the easing-cycle rule of core.fomc_decisions.cycle_start (warehouse/rates.py), same gap
    select
        *,
        sum(
            case
                when direction is distinct from previous_direction then 1
                when direction = 'cut' and effective_date - previous_date > {{ easing_cycle_gap_days }} then 1
                else 0
            end
        ) over (order by effective_date) as cycle_number
    from (
        select
            *,
            lag(direction) over (order by effective_date) as previous_direction,
            lag(effective_date) over (order by effective_date) as previous_date
        from shipped
    )
),

shipped_cycles as (
    select
        effective_date,
        target_lower,
        target_upper,
        direction,
        min(effective_date) over by_cycle as cycle_first_cut_date,
        count(*) over by_cycle_so_far as cuts_in_cycle,
        -sum(change_bp) over by_cycle_so_far as bp_cut_in_cycle
    from shipped_numbered
    window
        by_cycle as (partition by cycle_number),
        by_cycle_so_far as (
            partition by cycle_number order by effective_date
            rows between unbounded preceding and current row
        )
),

shipped_span as (
    select min(effective_date) as first_day, max(effective_date) as last_day
    from shipped
),

fed_sources as (
    -- FRED when it reaches every day the claim needs, else the shipped decisions when they do
    select
        fed_claims.*,
        -- an empty source (no span) covers nothing
        coalesce(
            fed_claims.as_of_date between fred_span.first_day and fred_span.last_day
            and (fed_claims.start_date is null or fed_claims.start_date between fred_span.first_day and fred_span.last_day),
            false
        ) as fred_covers,
        coalesce(
            fed_claims.as_of_date between shipped_span.first_day and shipped_span.last_day
            and (fed_claims.start_date is null or fed_claims.start_date between shipped_span.first_day and shipped_span.last_day),
            false
        ) as shipped_covers,
        fred_span.last_day as fred_last_day,
        shipped_span.last_day as shipped_last_day
    from fed_claims
    cross join fred_span
    cross join shipped_span
),

fed_days as (
    -- the Fed's state on the claim's day (and start day) from the chosen source; the shipped
    -- state of a day is its latest decision on or before it
    select
        fed_sources.claim_id,
        fed_sources.metric,
        fed_sources.start_date,
        fed_sources.as_of_date,
        'FRED target range (marts.fed_policy)' as evidence,
        fred_end.target_lower,
        fred_end.target_upper,
        fred_end.cuts_in_cycle,
        fred_end.bp_cut_in_cycle,
        fred_end.cycle_first_cut_date,
        fred_start.target_upper as start_upper
    from fed_sources
    inner join fred_days as fred_end
        on fred_end.day = fed_sources.as_of_date
    left join fred_days as fred_start
        on fred_start.day = fed_sources.start_date
    where fed_sources.fred_covers

    union all

    select
        shipped_end.claim_id,
        shipped_end.metric,
        shipped_end.start_date,
        shipped_end.as_of_date,
        'shipped FOMC decisions (config/fomc_decisions.csv), FRED ends ' || shipped_end.fred_last_day as evidence,
        shipped_end.target_lower,
        shipped_end.target_upper,
        case when shipped_end.direction = 'cut' then shipped_end.cuts_in_cycle end,
        case when shipped_end.direction = 'cut' then shipped_end.bp_cut_in_cycle end,
        case when shipped_end.direction = 'cut' then shipped_end.cycle_first_cut_date end,
        shipped_start.target_upper as start_upper
    from (
        select fed_sources.*, shipped_cycles.* exclude (effective_date)
        from (select * from fed_sources where not fred_covers and shipped_covers) as fed_sources
        asof inner join shipped_cycles
            on fed_sources.as_of_date >= shipped_cycles.effective_date
    ) as shipped_end
    asof left join shipped_cycles as shipped_start
        on shipped_end.start_date >= shipped_start.effective_date
),

fed_figures as (
    select
        claim_id,
        case metric
            when 'fed_target_lower' then target_lower
            when 'fed_target_upper' then target_upper
            -- no cycle in force (the latest change was a hike) is zero cuts, not missing data
            when 'fed_cuts_in_cycle' then coalesce(cuts_in_cycle, 0)
            when 'fed_bp_cut_in_cycle' then coalesce(bp_cut_in_cycle, 0)
            when 'fed_change_bp' then round((target_upper - start_upper) * 100)
        end::double as computed_value,
        evidence,
        case
            when metric = 'fed_change_bp' then printf(
                'upper bound %.2f on %s, %.2f on %s', start_upper, start_date, target_upper, as_of_date
            )
            else printf(
                'target %.2f-%.2f on %s; %s', target_lower, target_upper, as_of_date,
                coalesce(
                    printf('easing cycle from %s: %d cuts, %d bp', cycle_first_cut_date, cuts_in_cycle, bp_cut_in_cycle),
                    'no easing cycle in force'
                )
            )
        end as detail
    from fed_days
),

fed_missing as (
    select
        claim_id,
        'FRED target range (marts.fed_policy) or shipped FOMC decisions' as evidence,
        printf(
            'FRED''s target range (DFEDTARL/DFEDTARU) is stored to %s and the shipped decisions '
            '(config/fomc_decisions.csv) end with %s: neither reaches %s',
            coalesce(fred_last_day::varchar, 'no day'), coalesce(shipped_last_day::varchar, 'no row'),
            coalesce(start_date::varchar || ' and ', '') || as_of_date
        ) as detail
    from fed_sources
    where not fred_covers and not shipped_covers
),

series as (
    select series_id, obs_date, value
    from core.rates_daily
    where series_id in (select subject from claims where metric = 'fred_yoy')
),

yoy_figures as (
    select
        claims.claim_id,
        this_month.value / year_before.value - 1 as computed_value,
        'core.rates_daily ' || claims.subject as evidence,
        printf(
            '%s %.3f for %s / %.3f for %s - 1 = %+.2f%%', claims.subject, this_month.value,
            strftime(this_month.obs_date, '%Y-%m'), year_before.value, strftime(year_before.obs_date, '%Y-%m'),
            (this_month.value / year_before.value - 1) * 100
        ) as detail
    from claims
    inner join series as this_month
        on this_month.series_id = claims.subject
        and this_month.obs_date = date_trunc('month', claims.as_of_date)
    inner join series as year_before
        on year_before.series_id = claims.subject
        and year_before.obs_date = date_trunc('month', claims.as_of_date) - interval 12 month
    where claims.metric = 'fred_yoy'
),

yoy_missing as (
    select
        claims.claim_id,
        'core.rates_daily ' || claims.subject as evidence,
        printf(
            'no %s observation for %s or %s (stored: %s)', claims.subject,
            strftime(claims.as_of_date, '%Y-%m'), strftime(claims.as_of_date - interval 12 month, '%Y-%m'),
            coalesce((
                select min(obs_date)::varchar || ' to ' || max(obs_date)::varchar
                from series where series.series_id = claims.subject
            ), 'none')
        ) as detail
    from claims
    where claims.metric = 'fred_yoy'
),

curve as (
    select obs_date, spread_10y2y, spread_change_63d
    from marts.yield_curve
    where spread_change_63d is not null
),

curve_figures as (
    select
        curve_claims.claim_id,
        case when curve_claims.as_of_date - curve.obs_date <= 7 then curve.spread_change_63d end as computed_value,
        'marts.yield_curve (T10Y2Y)' as evidence,
        case
            when curve_claims.as_of_date - curve.obs_date <= 7 then printf(
                '10y-2y spread %.2f on %s, %+.2f points over the last 63 observations',
                curve.spread_10y2y, curve.obs_date, curve.spread_change_63d
            )
            else printf(
                'the 10y-2y spread''s quarterly change is stored to %s, more than 7 days before %s',
                curve.obs_date, curve_claims.as_of_date
            )
        end as detail
    from (select * from claims where metric = 'curve_change') as curve_claims
    asof inner join curve
        on curve_claims.as_of_date >= curve.obs_date
),

curve_missing as (
    select
        claim_id,
        'marts.yield_curve (T10Y2Y)' as evidence,
        printf('no quarterly change of the 10y-2y spread on or before %s', as_of_date) as detail
    from claims
    where metric = 'curve_change'
),

figures as (
    select * from fed_figures
    union all select * from yoy_figures
    union all select * from curve_figures
),

reasons as (
    select * from fed_missing
    union all select * from yoy_missing
    union all select * from curve_missing
)

select
    claims.claim_id,
    figures.computed_value,
    coalesce(figures.evidence, reasons.evidence) as evidence,
    coalesce(figures.detail, reasons.detail) as detail
from claims
left join figures
    on figures.claim_id = claims.claim_id
left join reasons
    on reasons.claim_id = claims.claim_id
order by claims.claim_id
