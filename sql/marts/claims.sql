/*
description: >
  The story scorecard: do the published claims hold? Every claim of core.published_claims
  (config/claims.csv: the story's words, the reading used, the claimed value) with the figure the
  warehouse's data gives and a verdict. The figures come from one model per family of metrics
  (marts.claims_prices, claims_rotation, claims_macro, claims_valuation, claims_breadth; their
  headers say how each metric is computed); this model grades them. Verdicts, tried in order:
  'pending' - a forecast (published_on before as_of_date) whose date is after the warehouse's last
  session (the latest trade_date of core.prices_daily, never the wall clock); 'no data' - no
  figure, the detail says which series and dates are missing; 'holds' - the figure satisfies the
  comparison (about: |figure - claimed| <= tolerance; at_least: figure >= claimed - tolerance;
  at_most: figure <= claimed + tolerance; above: figure > claimed; below: figure < claimed), with
  1e-9 of slack so a value exactly at the tolerance is not lost to floating point; 'holds as
  rounded' - an 'about' claim stated as a rounded figure (tolerance half its last digit, not a
  stated band) whose figure truncated or rounded to the claim's precision (the decimals it is
  written with) gives the claimed value (2,603.909912 truncated to cents is
  2,603.90); 'close' - within close_tolerance (relative to the claimed value) of satisfying it;
  'contradicted' otherwise. Units are the warehouse's: fractions for returns, shares and
  discounts, percent for Fed rates, basis points for Fed changes. One row per claim, in file
  order; a claim read several ways is several rows, one per reading.
date_column: as_of_date
unique_key: [claim_id]
columns:
  claim_id: varchar | the claim's name in config/claims.csv (one reading of one statement)
  publisher: varchar | who published it
  source_ref: varchar | the article's URL or title
  published_on: date | the day it was published, when known; a claim about a later day is a forecast
  words: varchar | the story's words, quoted
  metric: varchar | the metric kind (warehouse/claims.py, METRICS)
  subject: varchar | the ticker, pair or FRED series; NULL for the Fed metrics
  start_date: date | the start of the span the metric reads; NULL when it reads none
  as_of_date: date | the day the value refers to
  comparison: varchar | about, at_least, at_most, above or below
  claimed_value: double | the value as published, in the metric's unit
  tolerance: double | how far the figure may be from claimed_value and the claim still holds
  close_tolerance: double | relative to claimed_value - within it of holding the verdict is 'close'; NULL never 'close'
  computed_value: double | the figure from the warehouse's data; NULL when it lacks the data
  difference: double | computed_value - claimed_value; NULL without a computed value
  verdict: varchar | 'holds', 'holds as rounded', 'close', 'contradicted', 'pending' or 'no data'
  evidence: varchar | the data the figure comes from (for the Fed, FRED's target or the shipped decisions)
  detail: varchar | how the figure came out, or why there is none (the series and dates missing)
  reading: varchar | how the story's words are read (which dates, which base, the tolerance used)
headline:
  claims_holding: select count(*) from marts.claims where verdict in ('holds', 'holds as rounded')
  claims_close: select count(*) from marts.claims where verdict = 'close'
  claims_contradicted: select count(*) from marts.claims where verdict = 'contradicted'
  claims_pending: select count(*) from marts.claims where verdict = 'pending'
  claims_without_data: select count(*) from marts.claims where verdict = 'no data'
*/
with claims as (
    select
        claim_id,
        publisher,
        source_ref,
        published_on,
        words,
        metric,
        subject,
        start_date,
        as_of_date,
        comparison,
        claimed_value,
        tolerance,
        close_tolerance,
        claimed_precision,
        reading,
        line_number
    from core.published_claims
),

figures as (
    select claim_id, computed_value, evidence, detail from marts.claims_prices
    union all select claim_id, computed_value, evidence, detail from marts.claims_rotation
    union all select claim_id, computed_value, evidence, detail from marts.claims_macro
    union all select claim_id, computed_value, evidence, detail from marts.claims_valuation
    union all select claim_id, computed_value, evidence, detail from marts.claims_breadth
),

last_session as (
    select max(trade_date) as last_session
    from core.prices_daily
),

measured as (
    select
        claims.*,
        figures.computed_value,
        figures.evidence,
        figures.detail,
        figures.claim_id is not null as has_family,
        claims.published_on < claims.as_of_date as is_forecast,
        last_session.last_session,
        -- how far the figure is from satisfying the comparison (0 when it does)
        case claims.comparison
            when 'about' then greatest(abs(figures.computed_value - claims.claimed_value) - claims.tolerance, 0)
            when 'at_least' then greatest(claims.claimed_value - claims.tolerance - figures.computed_value, 0)
            when 'at_most' then greatest(figures.computed_value - claims.claimed_value - claims.tolerance, 0)
            when 'above' then greatest(claims.claimed_value - figures.computed_value, 0)
            when 'below' then greatest(figures.computed_value - claims.claimed_value, 0)
        end as shortfall,
        case claims.comparison
            when 'above' then figures.computed_value > claims.claimed_value
            when 'below' then figures.computed_value < claims.claimed_value
        end as strictly_satisfied,
        -- the figure cut to the claim's precision: toward zero, and to the nearest (a hair of slack
        -- so 2603.90 stored as 2603.8999... is not cut to 2603.89)
        trunc(figures.computed_value / claims.claimed_precision + sign(figures.computed_value) * 1e-9)
            * claims.claimed_precision as truncated,
        round(figures.computed_value / claims.claimed_precision) * claims.claimed_precision as rounded
    from claims
    left join figures
        on figures.claim_id = claims.claim_id
    cross join last_session
),

graded as (
    select
        *,
        case
            when computed_value is null and is_forecast and (last_session is null or as_of_date > last_session)
                then 'pending'
            when computed_value is null then 'no data'
            when comparison in ('above', 'below') and strictly_satisfied then 'holds'
            when comparison not in ('above', 'below') and shortfall <= 1e-9 then 'holds'
            -- only for a rounded figure (tolerance half its last digit), not a stated band
            when comparison = 'about'
                and abs(tolerance * 2 - claimed_precision) <= claimed_precision * 1e-6
                and (abs(truncated - claimed_value) < claimed_precision / 1000
                    or abs(rounded - claimed_value) < claimed_precision / 1000)
                then 'holds as rounded'
            when shortfall <= close_tolerance * abs(claimed_value) + 1e-9 then 'close'
            else 'contradicted'
        end as verdict
    from measured
)

select
    claim_id,
    publisher,
    source_ref,
    published_on,
    words,
    metric,
    subject,
    start_date,
    as_of_date,
    comparison,
    claimed_value,
    tolerance,
    close_tolerance,
    computed_value,
    computed_value - claimed_value as difference,
    verdict,
    evidence,
    case
        when verdict = 'pending' then printf(
            'a forecast for %s; the warehouse''s last session is %s', as_of_date,
            coalesce(last_session::varchar, 'none')
        )
        when not has_family then 'no claims_* model computes metric ' || metric
        else detail
    end as detail,
    reading
from graded
order by line_number
