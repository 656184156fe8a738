/*
description: >
  How much cheaper the small side of a pair trades than the large side, per valuation series and
  date: ratio = small value / large value and discount = 1 - ratio (0.19 = small caps 19% cheaper,
  negative = a premium), with the discount's mean and z-score over the series' EARLIER dates only
  (no look-ahead: a date never sees itself or later dates). Pairs are config.pairs (universe.toml)
  plus valuation_extra_pairs of config/models.toml (default "^SP600/^GSPC": published index pairs
  that have no price pair), deduplicated.
  metric is the measure of core.valuations' metric without its basis suffix (pe for pe_trailing),
  so metric and basis are two columns, as regime_valuation_metric / regime_valuation_basis read
  them. A SERIES is (pair, metric, basis, method, source, publisher): both figures of a row come
  from core.valuations with the same as_of_date, metric and basis (pe_trailing with pe_trailing),
  method and source. Source is in the series, so the published observations
  (source 'published', config/published_valuations.csv) never mix with the live or files
  snapshots of the same day, and the synthetic sample never mixes with real data (a warehouse
  file holds one or the other). For published rows the publisher is in the series too and both
  figures must come from the same publisher: two articles' P/Es are made differently and are not
  one history. For other sources the publisher is ignored (NULL here). The pair measures
  themselves (pe_discount_*) are not re-paired; a publisher's own stated discount is shown beside
  the computed one as published_discount. One row per series and date where both figures exist.
date_column: as_of_date
# a series and a date; publisher is NULL for every source but 'published', and NULL is then one
# value of the key (one series per pair, metric, basis, method and source)
unique_key: [pair, metric, basis, method, source, publisher, as_of_date]
unique_key_nullable: [publisher]
key_metrics: [ratio, discount, discount_avg_prior]
columns:
  pair: varchar | the pair, small/large, e.g. IWM/SPY
  small: varchar | the small-cap ticker of the pair
  large: varchar | the large-cap ticker of the pair
  metric: varchar | the measure of both figures - core.valuations.metric without the _<basis> suffix, e.g. pe, holdings_pe, pb (warehouse/valuation_terms.py)
  basis: varchar | trailing or forward
  method: varchar | how both figures were made, e.g. provider_field, holdings_average, synthetic
  source: varchar | where both figures came from - live, files, sample or published; part of the series
  publisher: varchar | the publisher of both figures for published rows (part of the series); NULL for other sources
  as_of_date: date | the day both figures describe
  small_value: double | the small side's figure
  large_value: double | the large side's figure
  ratio: double | small_value / large_value
  discount: double | 1 - ratio; 0.19 = the small side is 19% cheaper, negative = a premium
  discount_avg_prior: double | mean discount of the series over all earlier dates; NULL on the series' first date
  discount_std_prior: double | sample standard deviation of the discount over all earlier dates; NULL with fewer than 2 earlier dates
  discount_z: double | (discount - discount_avg_prior) / discount_std_prior; NULL with fewer than 2 earlier dates or a zero deviation
  n_prior: bigint | earlier dates of the series (with both figures)
  published_discount: double | the pe_discount_<basis> figure the same source and publisher give for the pair that day (only for metric pe), for comparison with discount; NULL when there is none
headline:
  iwm_spy_pe_trailing_discount: select discount from marts.valuation_gap where pair = 'IWM/SPY' and metric = 'pe' and basis = 'trailing' and source <> 'published' order by as_of_date desc, source, method limit 1
  iwm_spy_pe_trailing_discount_z: select discount_z from marts.valuation_gap where pair = 'IWM/SPY' and metric = 'pe' and basis = 'trailing' and source <> 'published' order by as_of_date desc, source, method limit 1
*/
with extra_pairs as (
    -- "SMALL/LARGE, SMALL/LARGE" from config/models.toml; an empty string gives no pair
    select trim(entry) as pair
    from (select unnest(string_split({{ valuation_extra_pairs }}, ',')) as entry)
    where trim(entry) <> ''
),

pairs as (
    select pair, small, large
    from config.pairs
    union
    select pair, split_part(pair, '/', 1) as small, split_part(pair, '/', 2) as large
    from extra_pairs
),

valuations as (
    select
        as_of_date,
        ticker,
        -- pe_trailing -> pe: the basis has a column of its own (the load checks the suffix)
        left(metric, length(metric) - length(basis) - 1) as metric,
        basis,
        method,
        source,
        -- only a published figure's publisher says which history it belongs to
        case when source = 'published' then publisher end as publisher,
        value
    from core.valuations
),

paired as (
    select
        pairs.pair,
        pairs.small,
        pairs.large,
        small_side.metric,
        small_side.basis,
        small_side.method,
        small_side.source,
        small_side.publisher,
        small_side.as_of_date,
        small_side.value as small_value,
        large_side.value as large_value
    from pairs
    inner join valuations as small_side
        on small_side.ticker = pairs.small
    inner join valuations as large_side
        on large_side.ticker = pairs.large
        and large_side.as_of_date = small_side.as_of_date
        and large_side.metric = small_side.metric
        and large_side.basis = small_side.basis
        and large_side.method = small_side.method
        and large_side.source = small_side.source
        and large_side.publisher is not distinct from small_side.publisher
    -- a zero is never stored (valuation_terms), but a division by it must not be possible
    where large_side.value <> 0
),

gaps as (
    select
        *,
        small_value / large_value as ratio,
        1 - small_value / large_value as discount
    from paired
),

history as (
    -- Every window ends one row before the current one: one row per series and date (the
    -- table's key), so "rows before" is "earlier dates".
    select
        *,
        avg(discount) over earlier as discount_avg_prior,
        stddev_samp(discount) over earlier as discount_std_prior,
        count(*) over earlier as n_prior
    from gaps
    window earlier as (
        partition by pair, metric, basis, method, source, publisher
        order by as_of_date
        rows between unbounded preceding and 1 preceding
    )
),

stated_discounts as (
    -- a publisher's own discount for the pair, e.g. 0.19 for ^RUT/^GSPC on 2026-01-02
    select as_of_date, ticker as pair, basis, source, publisher, value as published_discount
    from valuations
    where metric = 'pe_discount'
)

select
    history.pair,
    history.small,
    history.large,
    history.metric,
    history.basis,
    history.method,
    history.source,
    history.publisher,
    history.as_of_date,
    history.small_value,
    history.large_value,
    history.ratio,
    history.discount,
    history.discount_avg_prior,
    case when history.n_prior >= 2 then history.discount_std_prior end as discount_std_prior,
    case when history.n_prior >= 2 and history.discount_std_prior > 0
        then (history.discount - history.discount_avg_prior) / history.discount_std_prior
    end as discount_z,
    history.n_prior,
    stated_discounts.published_discount
from history
left join stated_discounts
    on history.metric = 'pe'
    and stated_discounts.pair = history.pair
    and stated_discounts.as_of_date = history.as_of_date
    and stated_discounts.basis = history.basis
    and stated_discounts.source = history.source
    and stated_discounts.publisher is not distinct from history.publisher
order by history.pair, history.metric, history.method, history.source, history.publisher, history.as_of_date
