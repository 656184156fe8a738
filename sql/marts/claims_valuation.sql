/*
description: >
  The figures of the valuation claims of core.published_claims (config/claims.csv): the metrics of
  warehouse/claims.py's family valuation, one row per claim; marts.claims grades them.
  valuation_discount - 1 - small P/E / large P/E from published observations: the pair's
  marts.valuation_gap rows of metric pe and source 'published' (two P/Es one publisher printed for
  the same day, config/published_valuations.csv), the latest on or before as_of_date; among several
  that day the claim's own publisher first, then by basis and publisher. pe_forward - the ticker's
  published forward P/E (core.valuations, source 'published'), the latest on or before as_of_date,
  the claim's own publisher first. years_since_wider_discount - the pair's forward P/E discount on
  as_of_date (as valuation_discount, forward basis) against every earlier stored day of the pair's
  forward P/E discount (any source): years back to the latest day at least as wide, or, when none
  is, the years the stored history spans; no figure while the history spans fewer years than
  claimed (it cannot judge an extreme that long, whatever it holds). The sample holds no published figures: no data there.
unique_key: [claim_id]
columns:
  claim_id: varchar | the claim's name in config/claims.csv
  computed_value: double | the claim's figure from the data, in the metric's unit; NULL when the data lacks what it needs
  evidence: varchar | the data the figure comes from
  detail: varchar | how the figure came out (the figures and their publisher), or, without a figure, what is missing
*/
with claims as (
    select claim_id, publisher, metric, subject, as_of_date, claimed_value
    from core.published_claims
    where metric in ('valuation_discount', 'pe_forward', 'years_since_wider_discount')
),

published_discounts as (
    -- the discount computed from two P/Es a publisher printed for the same day, whatever the basis
    select pair, as_of_date, basis, publisher, small_value, large_value, discount
    from marts.valuation_gap
    where source = 'published' and metric = 'pe'
),

discount_figures as (
    -- the latest published pair of P/Es on or before the claim's date; on a date with several,
    -- the claim's own publisher first, then by basis and publisher so the choice is stable
    select
        claims.claim_id,
        published_discounts.discount as computed_value,
        'published P/Es (config/published_valuations.csv)' as evidence,
        printf(
            '1 - %.2f / %.2f = %.3f (%s, %s P/Es of %s)', published_discounts.small_value,
            published_discounts.large_value, published_discounts.discount, published_discounts.publisher,
            published_discounts.basis, published_discounts.as_of_date
        ) as detail
    from claims
    inner join published_discounts
        on published_discounts.pair = claims.subject
        and published_discounts.as_of_date <= claims.as_of_date
    where claims.metric in ('valuation_discount', 'years_since_wider_discount')
        and (claims.metric = 'valuation_discount' or published_discounts.basis = 'forward')
    qualify row_number() over (
        partition by claims.claim_id
        order by published_discounts.as_of_date desc,
            published_discounts.publisher = claims.publisher desc,
            published_discounts.basis,
            published_discounts.publisher
    ) = 1
),

published_pes as (
    select ticker, as_of_date, value, publisher
    from core.valuations
    where source = 'published' and metric = 'pe_forward'
),

pe_figures as (
    select
        claims.claim_id,
        published_pes.value as computed_value,
        'published P/Es (config/published_valuations.csv)' as evidence,
        printf('%.2fx, %s, as of %s', published_pes.value, published_pes.publisher, published_pes.as_of_date)
            as detail
    from claims
    inner join published_pes
        on published_pes.ticker = claims.subject
        and published_pes.as_of_date <= claims.as_of_date
    where claims.metric = 'pe_forward'
    qualify row_number() over (
        partition by claims.claim_id
        order by published_pes.as_of_date desc,
            published_pes.publisher = claims.publisher desc,
            published_pes.publisher
    ) = 1
),

forward_history as (
    select pair, as_of_date, discount
    from marts.valuation_gap
    where metric = 'pe' and basis = 'forward'
),

extreme_figures as (
    select
        claims.claim_id,
        now_figure.computed_value as discount,
        min(history.as_of_date) as first_date,
        max(history.as_of_date) filter (
            where history.as_of_date < claims.as_of_date and history.discount >= now_figure.computed_value
        ) as wider_date,
        (claims.as_of_date - min(history.as_of_date)) / 365.25 as years_stored,
        claims.as_of_date,
        claims.subject,
        claims.claimed_value,
        now_figure.detail
    from claims
    inner join discount_figures as now_figure
        on now_figure.claim_id = claims.claim_id
    inner join forward_history as history
        on history.pair = claims.subject and history.as_of_date <= claims.as_of_date
    where claims.metric = 'years_since_wider_discount'
    group by claims.claim_id, now_figure.computed_value, claims.as_of_date, claims.subject,
        claims.claimed_value, now_figure.detail
),

extreme_years as (
    select
        claim_id,
        -- a history shorter than the claim cannot judge it, whatever it holds: figures of other
        -- publishers and bases a few days apart say nothing of a 25-year extreme
        case
            when years_stored < claimed_value then null
            when wider_date is not null then (as_of_date - wider_date) / 365.25
            else years_stored
        end as computed_value,
        'marts.valuation_gap (forward P/E)' as evidence,
        printf(
            '%s; %s', detail,
            case
                when years_stored < claimed_value then printf(
                    'the %s forward P/E discount is stored from %s, %.1f years: too short for %d',
                    subject, first_date, years_stored, claimed_value::integer
                )
                when wider_date is not null then printf('at least as wide on %s', wider_date)
                else printf('the widest since %s, the first stored day', first_date)
            end
        ) as detail
    from extreme_figures
),

figures as (
    select * from discount_figures where claim_id in (select claim_id from claims where metric = 'valuation_discount')
    union all select * from pe_figures
    union all select * from extreme_years
)

select
    claims.claim_id,
    figures.computed_value,
    coalesce(figures.evidence, 'published P/Es (config/published_valuations.csv)') as evidence,
    coalesce(
        figures.detail,
        case claims.metric
            when 'pe_forward' then printf('no published forward P/E of %s on or before %s', claims.subject, claims.as_of_date)
            else printf('no published P/E pair of %s on or before %s', claims.subject, claims.as_of_date)
        end
    ) as detail
from claims
left join figures
    on figures.claim_id = claims.claim_id
order by claims.claim_id
