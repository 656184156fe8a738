/*
description: >
  Do the published claims hold? Every claim of core.published_claims (config/claims.csv),
  recomputed from the warehouse's data, with a verdict: 'holds' when |computed_value -
  claimed_value| <= tolerance (plus 1e-9, so a value exactly at the tolerance is not lost to
  floating point), 'contradicted' when it is farther, 'no data' when the warehouse lacks what the
  claim needs (a date that is not a stored session of the ticker, a pair without a streak that day,
  a day the policy rate does not reach, no published valuation). How each metric is computed:
  close - the raw close of the ticker on the session as_of_date (core.prices_daily).
  price_return - raw close on as_of_date / raw close on start_date - 1: a price return, as index
  gains are quoted (dividends left out); both dates must be stored sessions of the ticker.
  ytd_return - raw close on as_of_date / the ticker's last raw close before 1 January of that year
  - 1 (price return; marts.period_returns.ret_ytd is the same on adjusted closes).
  outperformance_streak - marts.outperformance_streaks.streak of the pair on as_of_date.
  fed_target_lower / fed_target_upper - the target range in force on the calendar day as_of_date
  (marts.fed_policy), percent. fed_cuts_in_cycle - marts.fed_policy.cuts_in_cycle that day (its
  easing-cycle rule), 0 when the latest change was a hike.
  valuation_discount - 1 - small P/E / large P/E from published observations: the pair's
  marts.valuation_gap rows of metric pe and source 'published' (two P/Es one publisher printed for
  the same day, config/published_valuations.csv), the latest on or before as_of_date; among several
  that day the claim's own publisher first, then by basis and publisher. The sample warehouse
  holds no published figures, so there the verdict is 'no data'.
  Units are the warehouse's: fractions for returns and discounts, percent for Fed rates. One row
  per claim, in file order.
date_column: as_of_date
unique_key: [claim_id]
columns:
  claim_id: varchar | the claim's name in config/claims.csv
  publisher: varchar | who published it
  source_ref: varchar | the article's URL or title
  published_on: date | the day it was published, when known
  metric: varchar | the metric kind (see the description)
  subject: varchar | the ticker or pair; NULL for the Fed metrics
  start_date: date | the base session of a price_return; NULL otherwise
  as_of_date: date | the day the value refers to
  claimed_value: double | the value as published, in the metric's unit
  tolerance: double | the largest distance at which the claim still holds
  computed_value: double | the same metric computed from the warehouse; NULL when it lacks the data
  difference: double | computed_value - claimed_value; NULL without a computed value
  verdict: varchar | 'holds', 'contradicted' or 'no data'
  notes: varchar | the reading chosen for an ambiguous account, from the file
headline:
  claims_holding: select count(*) from marts.claims where verdict = 'holds'
  claims_contradicted: select count(*) from marts.claims where verdict = 'contradicted'
  claims_without_data: select count(*) from marts.claims where verdict = 'no data'
*/
with claims as (
    select
        claim_id,
        publisher,
        source_ref,
        published_on,
        metric,
        subject,
        start_date,
        as_of_date,
        claimed_value,
        tolerance,
        notes,
        line_number,
        date_trunc('year', as_of_date)::date as year_start
    from core.published_claims
),

-- only the tickers some claim is about: the table holds the whole universe's history
prices as (
    select ticker, trade_date, close
    from core.prices_daily
    where ticker in (select subject from claims)
),

close_claims as (
    select claims.claim_id, end_price.close as computed_value
    from claims
    inner join prices as end_price
        on end_price.ticker = claims.subject and end_price.trade_date = claims.as_of_date
    where claims.metric = 'close'
),

return_claims as (
    -- exact sessions on both ends: a date that is not a session is a misread claim, not a
    -- reason to take a neighbouring close
    select claims.claim_id, end_price.close / start_price.close - 1 as computed_value
    from claims
    inner join prices as end_price
        on end_price.ticker = claims.subject and end_price.trade_date = claims.as_of_date
    inner join prices as start_price
        on start_price.ticker = claims.subject and start_price.trade_date = claims.start_date
    where claims.metric = 'price_return'
),

ytd_claims_base as (
    select claims.claim_id, claims.subject, claims.as_of_date, base_price.close as base_close
    from (select * from claims where metric = 'ytd_return') as claims
    -- the ticker's last close of an earlier year: the year's base even when 31 December was no
    -- session or the ticker skipped it
    asof inner join prices as base_price
        on base_price.ticker = claims.subject and claims.year_start > base_price.trade_date
),

ytd_claims as (
    select ytd_claims_base.claim_id, end_price.close / ytd_claims_base.base_close - 1 as computed_value
    from ytd_claims_base
    inner join prices as end_price
        on end_price.ticker = ytd_claims_base.subject and end_price.trade_date = ytd_claims_base.as_of_date
),

streak_claims as (
    select claims.claim_id, streaks.streak::double as computed_value
    from claims
    inner join marts.outperformance_streaks as streaks
        on streaks.pair = claims.subject and streaks.trade_date = claims.as_of_date
    where claims.metric = 'outperformance_streak'
),

fed_claims as (
    select
        claims.claim_id,
        case claims.metric
            when 'fed_target_lower' then fed.target_lower
            when 'fed_target_upper' then fed.target_upper
            -- no cycle in force (the latest change was a hike) is zero cuts, not missing data
            when 'fed_cuts_in_cycle' then coalesce(fed.cuts_in_cycle, 0)
        end::double as computed_value
    from claims
    inner join marts.fed_policy as fed
        on fed.day = claims.as_of_date
    where claims.metric in ('fed_target_lower', 'fed_target_upper', 'fed_cuts_in_cycle')
),

published_discounts as (
    -- the discount computed from two P/Es a publisher printed for the same day (source
    -- 'published': config/published_valuations.csv), whatever the basis
    select pair, as_of_date, basis, publisher, discount
    from marts.valuation_gap
    where source = 'published' and metric = 'pe'
),

valuation_claims as (
    -- the latest published pair of P/Es on or before the claim's date; on a date with several,
    -- the claim's own publisher first, then by basis and publisher so the choice is stable
    select claims.claim_id, published_discounts.discount as computed_value
    from claims
    inner join published_discounts
        on published_discounts.pair = claims.subject
        and published_discounts.as_of_date <= claims.as_of_date
    where claims.metric = 'valuation_discount'
    qualify row_number() over (
        partition by claims.claim_id
        order by published_discounts.as_of_date desc,
            published_discounts.publisher = claims.publisher desc,
            published_discounts.basis,
            published_discounts.publisher
    ) = 1
),

computed as (
    select * from close_claims
    union all select * from return_claims
    union all select * from ytd_claims
    union all select * from streak_claims
    union all select * from fed_claims
    union all select * from valuation_claims
)

select
    claims.claim_id,
    claims.publisher,
    claims.source_ref,
    claims.published_on,
    claims.metric,
    claims.subject,
    claims.start_date,
    claims.as_of_date,
    claims.claimed_value,
    claims.tolerance,
    computed.computed_value,
    computed.computed_value - claims.claimed_value as difference,
    case
        when computed.computed_value is null then 'no data'
        when abs(computed.computed_value - claims.claimed_value) <= claims.tolerance + 1e-9 then 'holds'
        else 'contradicted'
    end as verdict,
    claims.notes
from claims
left join computed
    on computed.claim_id = claims.claim_id
order by claims.line_number
