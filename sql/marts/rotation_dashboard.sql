/*
description: >
  The rotation at a glance: one row per universe pair, on the pair's latest common date (the
  latest session on which both tickers have a row, i.e. its last row in marts.relative_strength),
  so a pair whose data stops early still shows, dated. Returns and relative strength of that date
  come from marts.period_returns, marts.relative_strength and marts.outperformance_streaks; the
  record-high columns from marts.highs_drawdowns of the small ticker; the valuation discount from
  the pair's latest marts.valuation_gap row on or before the date (metric and basis
  regime_valuation_metric / regime_valuation_basis of config/models.toml, default the trailing
  P/E; the snapshot series that marts.rotation_regime reads, not the published figures; NULL when
  the pair has none); the Fed from marts.fed_policy on the date's calendar day; the
  regime label from marts.rotation_regime on the date (the market-wide regime, computed from the
  regime pair, so the same for every pair dated that day; NULL when that day is no session of the
  regime pair); the breadth of the index regime_breadth_index (default russell_2000) from
  marts.index_breadth on the date, over its members as they were that day (market-wide too; NULL
  before the index's first membership snapshot: projected rows are not shown).
date_column: as_of
unique_key: [pair]  # one row per pair, each on its own latest common date
columns:
  pair: varchar | the pair, small/large, e.g. IWM/SPY
  small: varchar | the small-cap ticker of the pair
  large: varchar | the large-cap ticker of the pair
  as_of: date | the pair's latest common date - every other column is as of this day
  ytd_excess: double | (1 + small ret_ytd) / (1 + large ret_ytd) - 1, from marts.period_returns (adjusted closes); NULL when either side has no base in an earlier year
  excess_21d: double | small vs large return over 21 common sessions (marts.relative_strength)
  excess_63d: double | the same over 63 common sessions
  streak: bigint | common sessions in a row, up to as_of, on which small beat large (marts.outperformance_streaks)
  rs: double | small adj_close / large adj_close
  rs_sma50: double | mean rs of the last 50 common sessions; NULL until full
  rs_sma200: double | mean rs of the last 200 common sessions; NULL until full
  rs_above_sma50: boolean | rs > rs_sma50; NULL while rs_sma50 is
  rs_above_sma200: boolean | rs > rs_sma200; NULL while rs_sma200 is
  small_is_record_high: boolean | the small ticker closed at a record (raw close above every earlier stored close) on as_of
  small_last_record_date: date | the small ticker's latest record-high session on or before as_of; NULL before its first record
  pct_from_record: double | the small ticker's raw close / its record close - 1 (0 at a record, negative below)
  valuation_as_of: date | as_of_date of the valuation_gap row used; NULL when the pair has none on or before as_of
  valuation_discount: double | that row's discount, 1 - small / large valuation multiple (0.19 = small caps 19% cheaper)
  valuation_discount_z: double | that row's discount_z, the discount's z-score against its earlier history
  fed_stance: varchar | marts.fed_policy.stance on as_of - 'easing' or 'tightening'; NULL when the policy rate does not reach the day
  days_since_first_cut: bigint | calendar days since the first cut of the easing cycle in force; NULL when not easing
  regime_label: varchar | marts.rotation_regime.label on as_of - 'small-cap leadership', 'large-cap leadership' or 'neutral'; NULL when too few components have data or as_of is not a regime session
  breadth_index: varchar | the index whose breadth the next columns give (regime_breadth_index in config/models.toml, e.g. russell_2000)
  breadth_share_advancing: double | marts.index_breadth.share_advancing of that index on as_of - the share (0-1) of its members with a return that rose; NULL without a point-in-time row that day
  breadth_share_above_sma50: double | marts.index_breadth.share_above_sma50 of that index on as_of - the share (0-1) of its members above their own 50-session average; NULL without a point-in-time row that day or a member with 50 sessions
headline:
  iwm_spy_ytd_excess: select ytd_excess from marts.rotation_dashboard where pair = 'IWM/SPY'
  iwm_spy_streak: select streak from marts.rotation_dashboard where pair = 'IWM/SPY'
*/
with latest as (
    -- the last common date of each pair: relative_strength only has dates both sides trade
    select pair, small, large, trade_date as as_of, excess_21d, excess_63d, rs, rs_sma50, rs_sma200
    from marts.relative_strength
    qualify row_number() over (partition by pair order by trade_date desc) = 1
),

-- The per-ticker marts hold every ticker's whole history; only the pairs' tickers on the pairs'
-- latest dates are needed, so those are the rows read.
pair_tickers as (
    select small as ticker from latest
    union
    select large as ticker from latest
),

period_returns as (
    select ticker, trade_date, ret_ytd
    from marts.period_returns
    where trade_date >= (select min(as_of) from latest)
        and ticker in (select ticker from pair_tickers)
),

streaks as (
    select pair, trade_date, streak
    from marts.outperformance_streaks
    where trade_date >= (select min(as_of) from latest)
),

highs as (
    select ticker, trade_date, is_record_high, last_record_date, pct_from_record
    from marts.highs_drawdowns
    where trade_date >= (select min(as_of) from latest)
        and ticker in (select ticker from pair_tickers)
),

valuations as (
    -- the series rotation_regime reads: snapshots only (published figures are too sparse for a
    -- z-score), one per date, the one with the longest history
    select pair, as_of_date, discount, discount_z
    from marts.valuation_gap
    where metric = {{ regime_valuation_metric }}
        and basis = {{ regime_valuation_basis }}
        and source <> 'published'
    qualify row_number() over (partition by pair, as_of_date order by n_prior desc, source, method) = 1
),

fed as (
    select day, stance, days_since_first_cut
    from marts.fed_policy
),

regime as (
    select trade_date, label
    from marts.rotation_regime
),

-- the index's members as they were that day: rows projected back before its first snapshot
-- would show the survivors' breadth as the market's
index_breadth as (
    select index_id, trade_date, share_advancing, share_above_sma50
    from marts.index_breadth
    where index_id = {{ regime_breadth_index }}
        and membership_basis = 'point_in_time'
)

select
    latest.pair,
    latest.small,
    latest.large,
    latest.as_of,
    (1 + small_returns.ret_ytd) / (1 + large_returns.ret_ytd) - 1 as ytd_excess,
    latest.excess_21d,
    latest.excess_63d,
    streaks.streak,
    latest.rs,
    latest.rs_sma50,
    latest.rs_sma200,
    latest.rs > latest.rs_sma50 as rs_above_sma50,
    latest.rs > latest.rs_sma200 as rs_above_sma200,
    highs.is_record_high as small_is_record_high,
    highs.last_record_date as small_last_record_date,
    highs.pct_from_record,
    valuations.as_of_date as valuation_as_of,
    valuations.discount as valuation_discount,
    valuations.discount_z as valuation_discount_z,
    fed.stance as fed_stance,
    fed.days_since_first_cut,
    regime.label as regime_label,
    {{ regime_breadth_index }} as breadth_index,
    index_breadth.share_advancing as breadth_share_advancing,
    index_breadth.share_above_sma50 as breadth_share_above_sma50
from latest
left join period_returns as small_returns
    on small_returns.ticker = latest.small and small_returns.trade_date = latest.as_of
left join period_returns as large_returns
    on large_returns.ticker = latest.large and large_returns.trade_date = latest.as_of
left join streaks
    on streaks.pair = latest.pair and streaks.trade_date = latest.as_of
left join highs
    on highs.ticker = latest.small and highs.trade_date = latest.as_of
-- a valuation is published on its own calendar: the latest one known on the day
asof left join valuations
    on valuations.pair = latest.pair and latest.as_of >= valuations.as_of_date
left join fed
    on fed.day = latest.as_of
left join regime
    on regime.trade_date = latest.as_of
left join index_breadth
    on index_breadth.trade_date = latest.as_of
order by latest.pair
