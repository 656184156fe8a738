/*
description: >
  Is the market in a small-cap or a large-cap regime? One row per session of the regime pair
  (regime_pair in config/models.toml, default IWM/SPY) in marts.relative_strength, with six yes/no
  components, each true when it favours the small caps:
  (1) rs_above_sma50 - the pair's rs above its 50-session average (rs_sma50);
  (2) excess_63d_positive - the small side beat the large side over the last 63 common sessions;
  (3) discount_above_average - the small caps' valuation discount is wider than its own history:
  the latest marts.valuation_gap row of the pair on or before the session, for the metric and basis
  regime_valuation_metric / regime_valuation_basis (default the trailing P/E) and from the snapshot
  series (live, files or sample; not the sparse published figures; of two series on one date the
  one with more earlier dates, then by source and method), whose discount (1 - small / large) is
  above discount_avg_prior, the mean of that series' earlier discounts;
  (4) easing_active - the Fed is in an easing cycle whose last cut is under a year old
  (marts.fed_policy.easing_active on the session's calendar day);
  (5) curve_steepening - the 10y-2y spread widened over the last 63 observations
  (marts.yield_curve, its latest row on or before the session);
  (6) index_breadth_above_half - more than half of the members of the index regime_breadth_index
  (default russell_2000), as they were on the session, trade above their own 50-session average
  (marts.index_breadth.share_above_sma50 > 0.5 on the session; point-in-time rows only: rows
  projected back before the index's first membership snapshot carry survivorship bias and are
  not used).
  A component without data that day (a window not yet full, no valuation yet, no rates, no
  index members) is NULL
  and counts neither for nor against. THRESHOLDS: score counts the true components and
  components_with_data the non-NULL ones; the label is 'small-cap leadership' when
  score / components_with_data >= regime_small_leadership_share (default 0.66, e.g. 4 of 6 or 2 of
  3), 'large-cap leadership' when it is <= regime_large_leadership_share (default 0.34, e.g. 2 of
  6 or 1 of 3), 'neutral' in between, and NULL when fewer than regime_min_components (default 3)
  components have data.
date_column: trade_date
unique_key: [trade_date]  # a single pair (regime_pair): the date alone is the grain
key_metrics: [score, components_with_data, score_share, label]
columns:
  pair: varchar | the regime pair, small/large (regime_pair in config/models.toml)
  trade_date: date | a common session of the pair
  rs_above_sma50: boolean | rs > rs_sma50 of marts.relative_strength; NULL until the 50-session average exists
  excess_63d_positive: boolean | excess_63d > 0 - the small side outperformed over 63 common sessions; NULL with fewer than 63 earlier common sessions
  valuation_as_of: date | as_of_date of the marts.valuation_gap row used (the latest snapshot-series row on or before the session, regime_valuation_metric and regime_valuation_basis); NULL when there is none
  discount_above_average: boolean | that row's discount > its discount_avg_prior (mean of the earlier discounts of its series); NULL without a row or when it is its series' first date
  easing_active: boolean | marts.fed_policy.easing_active on the session - in an easing cycle whose last cut is fewer than easing_active_days (365) days old; NULL when the policy rate does not reach the day
  curve_steepening: boolean | marts.yield_curve.curve_steepening of its latest row on or before the session - the 10y-2y spread widened over 63 observations; NULL without such a row or a full window
  index_breadth_above_half: boolean | share_above_sma50 of the index regime_breadth_index (russell_2000) that session > 0.5 (marts.index_breadth, membership_basis 'point_in_time'); NULL when the index has no such row that session (before its first snapshot, or no members data) or no member with 50 sessions
  score: integer | components that are true (0-6)
  components_with_data: integer | components that are not NULL (0-6)
  score_share: double | score / components_with_data; NULL when no component has data
  label: varchar | 'small-cap leadership' when score_share >= regime_small_leadership_share (0.66), 'large-cap leadership' when <= regime_large_leadership_share (0.34), else 'neutral'; NULL when components_with_data < regime_min_components (3)
headline:
  score_latest: select score from marts.rotation_regime order by trade_date desc limit 1
  score_share_latest: select score_share from marts.rotation_regime order by trade_date desc limit 1
*/
with sessions as (
    select pair, trade_date, rs, rs_sma50, excess_63d
    from marts.relative_strength
    where pair = {{ regime_pair }}
),

valuations as (
    -- One figure per date. The published figures (config/published_valuations.csv) are a few
    -- articles, too sparse for a historical average: the snapshot series only. When two of them
    -- share a date (a files source beside the live one), the one with the longer history.
    select pair, as_of_date, discount, discount_avg_prior
    from marts.valuation_gap
    where pair = {{ regime_pair }}
        and metric = {{ regime_valuation_metric }}
        and basis = {{ regime_valuation_basis }}
        and source <> 'published'
    qualify row_number() over (partition by pair, as_of_date order by n_prior desc, source, method) = 1
),

fed as (
    select day, easing_active
    from marts.fed_policy
),

curve as (
    select obs_date, curve_steepening
    from marts.yield_curve
),

-- the index's members as they were on each session; a row projected back before its first
-- snapshot would vote with the survivors only
index_breadth as (
    select trade_date, share_above_sma50
    from marts.index_breadth
    where index_id = {{ regime_breadth_index }}
        and membership_basis = 'point_in_time'
),

components as (
    select
        sessions.pair,
        sessions.trade_date,
        sessions.rs > sessions.rs_sma50 as rs_above_sma50,
        sessions.excess_63d > 0 as excess_63d_positive,
        valuations.as_of_date as valuation_as_of,
        valuations.discount > valuations.discount_avg_prior as discount_above_average,
        fed.easing_active,
        curve.curve_steepening,
        index_breadth.share_above_sma50 > 0.5 as index_breadth_above_half
    from sessions
    -- valuations are published on their own calendar (a snapshot, a quarterly figure): each
    -- session takes the latest one it could have known
    asof left join valuations
        on valuations.pair = sessions.pair and sessions.trade_date >= valuations.as_of_date
    -- the rates are FRED's dates, which include days the exchange is closed and lack some it is
    -- open: the latest curve observation on or before the session
    asof left join curve
        on sessions.trade_date >= curve.obs_date
    left join fed
        on fed.day = sessions.trade_date
    left join index_breadth
        on index_breadth.trade_date = sessions.trade_date
),

scored as (
    select
        *,
        -- true counts 1, false 0, NULL (no data) 0: a missing component is not a vote
        (coalesce(rs_above_sma50::integer, 0)
            + coalesce(excess_63d_positive::integer, 0)
            + coalesce(discount_above_average::integer, 0)
            + coalesce(easing_active::integer, 0)
            + coalesce(curve_steepening::integer, 0)
            + coalesce(index_breadth_above_half::integer, 0))::integer as score,
        ((rs_above_sma50 is not null)::integer
            + (excess_63d_positive is not null)::integer
            + (discount_above_average is not null)::integer
            + (easing_active is not null)::integer
            + (curve_steepening is not null)::integer
            + (index_breadth_above_half is not null)::integer)::integer as components_with_data
    from components
)

select
    pair,
    trade_date,
    rs_above_sma50,
    excess_63d_positive,
    valuation_as_of,
    discount_above_average,
    easing_active,
    curve_steepening,
    index_breadth_above_half,
    score,
    components_with_data,
    score::double / nullif(components_with_data, 0) as score_share,
    case
        when components_with_data < {{ regime_min_components }} then null
        when score::double / components_with_data >= {{ regime_small_leadership_share }} then 'small-cap leadership'
        when score::double / components_with_data <= {{ regime_large_leadership_share }} then 'large-cap leadership'
        else 'neutral'
    end as label
from scored
order by trade_date
