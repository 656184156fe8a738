/*
description: >
  Event study of the claim that small caps lead in the 6-12 months after the Fed's first cut:
  for the first cut of every easing cycle of marts.fed_policy (the one easing-cycle rule,
  core.fomc_decisions.cycle_start) on or after
  easing_study_since (default 1990-01-01), every pair of config.pairs and the horizons 21, 63, 126
  and 252 sessions, the small and large sides' total returns (adj_close) and the small side's
  excess return. Sessions are the pair's common sessions (both tickers have a row). The base is
  the pair's last common session on or before the cut's effective date (a cut effective on a
  weekend or holiday is measured from the last close before it); horizon h is the h-th common
  session after the base. The effective date is the day the new target was in force, from 2017 on
  the day after the announcement, so the base close may already reflect the decision. Returns are NULL when the horizon runs past the pair's data
  (the latest cycle, until enough sessions exist) and when the pair has no session on or before
  the cut (the base_date is then NULL too). One row per first cut, pair and horizon.
date_column: first_cut_date
unique_key: [first_cut_date, pair, horizon_sessions]
columns:
  pair: varchar | the pair, small/large, e.g. IWM/SPY
  small: varchar | the small-cap ticker of the pair
  large: varchar | the large-cap ticker of the pair
  first_cut_date: date | effective date of the easing cycle's first cut (marts.fed_policy.cycle_first_cut_date)
  first_cut_bp: integer | size of that cut in basis points, positive (e.g. 50 for 2024-09-19)
  horizon_sessions: integer | the horizon h in common sessions after the base (21, 63, 126 or 252)
  base_date: date | the pair's last common session on or before first_cut_date; NULL when there is none
  horizon_date: date | the h-th common session after base_date; NULL when the data ends first
  small_return: double | small adj_close on horizon_date / on base_date - 1; NULL when horizon_date is
  large_return: double | large adj_close on horizon_date / on base_date - 1; NULL when horizon_date is
  excess: double | (1 + small_return) / (1 + large_return) - 1; NULL when horizon_date is
headline:
  cycles_studied: select count(distinct first_cut_date) from marts.easing_cycle_study
  rut_gspc_excess_252d_latest_cycle: select excess from marts.easing_cycle_study where pair = '^RUT/^GSPC' and horizon_sessions = 252 and excess is not null order by first_cut_date desc limit 1
*/
with first_cuts as (
    select
        cycle_first_cut_date as first_cut_date,
        -last_change_bp as first_cut_bp
    from marts.fed_policy
    -- the day of the first cut: its last change is the cut itself
    where day = cycle_first_cut_date
      and cycle_first_cut_date >= cast({{ easing_study_since }} as date)
),

pairs as (
    select pair, small, large
    from config.pairs
),

prices as (
    -- only the pairs' tickers: the join below never sees the rest of the 22M rows
    select ticker, trade_date, adj_close
    from core.prices_daily
    where ticker in (select small from pairs union select large from pairs)
),

common_sessions as (
    -- Numbered per pair, so "h sessions later" is a plain equi-join on the number.
    select
        pairs.pair,
        pairs.small,
        pairs.large,
        small_side.trade_date,
        small_side.adj_close as small_adj_close,
        large_side.adj_close as large_adj_close,
        row_number() over (partition by pairs.pair order by small_side.trade_date) as session_number
    from pairs
    inner join prices as small_side
        on small_side.ticker = pairs.small
    inner join prices as large_side
        on large_side.ticker = pairs.large and large_side.trade_date = small_side.trade_date
),

events as (
    select pairs.pair, pairs.small, pairs.large, first_cuts.first_cut_date, first_cuts.first_cut_bp
    from first_cuts
    cross join pairs
),

bases as (
    -- the last common session on or before the cut: an as-of join instead of a lookup per event
    select
        events.*,
        common_sessions.trade_date as base_date,
        common_sessions.session_number as base_session,
        common_sessions.small_adj_close as base_small,
        common_sessions.large_adj_close as base_large
    from events
    asof left join common_sessions
        on common_sessions.pair = events.pair
        and common_sessions.trade_date <= events.first_cut_date
),

horizons as (
    -- the issue's horizons: one, three, six and twelve months of sessions
    select cast(unnest([21, 63, 126, 252]) as integer) as horizon_sessions
),

measured as (
    select
        bases.pair,
        bases.small,
        bases.large,
        bases.first_cut_date,
        bases.first_cut_bp,
        horizons.horizon_sessions,
        bases.base_date,
        later.trade_date as horizon_date,
        later.small_adj_close / bases.base_small - 1 as small_return,
        later.large_adj_close / bases.base_large - 1 as large_return
    from bases
    cross join horizons
    left join common_sessions as later
        on later.pair = bases.pair
        and later.session_number = bases.base_session + horizons.horizon_sessions
)

select
    pair,
    small,
    large,
    first_cut_date,
    first_cut_bp,
    horizon_sessions,
    base_date,
    horizon_date,
    small_return,
    large_return,
    (1 + small_return) / (1 + large_return) - 1 as excess
from measured
order by pair, first_cut_date, horizon_sessions
