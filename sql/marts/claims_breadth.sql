/*
description: >
  The figures of the index-breadth claims of core.published_claims (config/claims.csv): the
  metrics of warehouse/claims.py's family breadth, one row per claim; marts.claims grades them.
  share_advancing - the share of the index's members that closed up on as_of_date.
  years_since_broader - years back from as_of_date to the latest earlier session whose share was
  at least as high; when none is, the years the stored breadth spans, or no figure while it spans
  fewer years than claimed. Breadth is marts.index_breadth's point-in-time rows of the configured
  index whose index_symbol is the claim's subject (^RUT: russell_2000).
unique_key: [claim_id]
columns:
  claim_id: varchar | the claim's name in config/claims.csv
  computed_value: double | the claim's figure from the data, in the metric's unit; NULL when the data lacks what it needs
  evidence: varchar | the data the figure comes from
  detail: varchar | how the figure came out, or, without a figure, what is missing
*/
with claims as (
    select claim_id, metric, subject as index_id, as_of_date, claimed_value
    from core.published_claims
    where metric in ('share_advancing', 'years_since_broader')
),

-- The claims name the index by its symbol (^RUT); breadth is kept per configured index. Only
-- point-in-time rows answer a claim: projected members would flatter the past.
breadth as (
    select indexes.index_symbol as index_id, index_breadth.trade_date, index_breadth.share_advancing
    from marts.index_breadth
    inner join config.indexes
        on indexes.index_id = index_breadth.index_id
    where index_breadth.membership_basis = 'point_in_time'
        and index_breadth.share_advancing is not null
),

on_day as (
    select claims.*, breadth.share_advancing
    from claims
    inner join breadth
        on breadth.index_id = claims.index_id and breadth.trade_date = claims.as_of_date
),

share_figures as (
    select
        claim_id,
        share_advancing as computed_value,
        printf('%.1f%% of members closed up on %s', share_advancing * 100, as_of_date) as detail
    from on_day
    where metric = 'share_advancing'
),

broader_figures as (
    select
        on_day.claim_id,
        case
            when max(earlier.trade_date) filter (where earlier.share_advancing >= on_day.share_advancing) is not null
                then (on_day.as_of_date - max(earlier.trade_date) filter (where earlier.share_advancing >= on_day.share_advancing)) / 365.25
            when (on_day.as_of_date - min(earlier.trade_date)) / 365.25 >= on_day.claimed_value
                then (on_day.as_of_date - min(earlier.trade_date)) / 365.25
        end as computed_value,
        printf(
            '%.1f%% advancing on %s; %s', on_day.share_advancing * 100, on_day.as_of_date,
            coalesce(
                printf(
                    'at least as broad on %s',
                    max(earlier.trade_date) filter (where earlier.share_advancing >= on_day.share_advancing)
                ),
                printf('the broadest since %s, the first stored session', min(earlier.trade_date))
            )
        ) as detail
    from on_day
    inner join breadth as earlier
        on earlier.index_id = on_day.index_id and earlier.trade_date < on_day.as_of_date
    where on_day.metric = 'years_since_broader'
    group by on_day.claim_id, on_day.as_of_date, on_day.share_advancing, on_day.claimed_value
),

figures as (
    select * from share_figures
    union all select * from broader_figures
)

select
    claims.claim_id,
    figures.computed_value,
    'index breadth' as evidence,
    coalesce(
        figures.detail,
        case
            when not exists (select 1 from breadth where breadth.index_id = claims.index_id)
                then printf(
                    'no index breadth of %s: no configured index compares with it, or its members have no snapshot '
                    'in core.index_members on or before %s', claims.index_id, claims.as_of_date)
            else printf(
                'no breadth of %s on %s (its index breadth runs from %s to %s)', claims.index_id, claims.as_of_date,
                (select min(trade_date) from breadth where breadth.index_id = claims.index_id),
                (select max(trade_date) from breadth where breadth.index_id = claims.index_id))
        end
    ) as detail
from claims
left join figures
    on figures.claim_id = claims.claim_id
order by claims.claim_id
