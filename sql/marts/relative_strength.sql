/*
description: >
  Relative strength of the small side of every universe pair against its large side, on the
  pair's common dates (sessions where both tickers have a row; other dates are left out, so every
  window below counts common dates). rs is the ratio of adjusted closes; excess_<N>d is the small
  side's N-common-date return relative to the large side's; corr_63d and beta_63d regress the
  small side's daily returns on the large side's, both taken between consecutive common dates.
  The moving-average and correlation windows come from config/models.toml (rs_sma_short,
  rs_sma_long, corr_window); the column names carry their default lengths. Any window value is
  NULL until the window is full. One row per pair and common date.
date_column: trade_date
unique_key: [pair, trade_date]
incremental:
  partition_by: pair
  lookback_rows: greatest(252, {{ rs_sma_long }}, {{ rs_sma_short }}, {{ corr_window }})  # 252: excess_252d
key_metrics: [rs, rs_index, rs_sma50, rs_sma200, excess_21d, excess_63d, excess_252d]
columns:
  pair: varchar | the pair, small/large, e.g. IWM/SPY
  small: varchar | the small-cap ticker of the pair
  large: varchar | the large-cap ticker of the pair
  trade_date: date | a session on which both tickers have a row
  rs: double | small adj_close / large adj_close
  rs_index: double | 100 * rs / rs on the pair's first common date (100 on that date)
  rs_sma50: double | mean rs of the last rs_sma_short (default 50) common dates including this one; NULL until full
  rs_sma200: double | mean rs of the last rs_sma_long (default 200) common dates including this one; NULL until full
  excess_21d: double | (1 + small return) / (1 + large return) - 1 over 21 common dates; NULL with fewer than 21 earlier common dates
  excess_63d: double | the same over 63 common dates
  excess_126d: double | the same over 126 common dates
  excess_252d: double | the same over 252 common dates
  corr_63d: double | sample correlation of small and large daily returns over the last corr_window (default 63) common dates; NULL until full or when a side does not move
  beta_63d: double | sample covariance of small and large daily returns / sample variance of large over the last corr_window (default 63) common dates; NULL until full or when large does not move
headline:
  iwm_spy_rs: select rs from marts.relative_strength where pair = 'IWM/SPY' order by trade_date desc limit 1
  iwm_spy_rs_index: select rs_index from marts.relative_strength where pair = 'IWM/SPY' order by trade_date desc limit 1
  rut_gspc_excess_63d: select excess_63d from marts.relative_strength where pair = '^RUT/^GSPC' order by trade_date desc limit 1
*/
with common_dates as (
    select pair, small, large, trade_date, small_adj_close, large_adj_close, small_ret, large_ret
    from staging.pair_sessions
    where trade_date >= {{ window_start }}
),

-- rs on the pair's first common date, the base of rs_index, when it is stored already
carried as (
    select pair, arg_min(rs, trade_date) as first_rs
    from {{ this }}
    where trade_date < {{ since }}
    group by pair
),

-- Window sums in exact decimal arithmetic: a window's value then does not depend on the rows
-- before it (floating-point sums do, through their order), so an incremental build gives the
-- full build's figures to the last bit. Returns keep 15 decimals, rs 18.
exact as (
    select
        *,
        small_adj_close / large_adj_close as rs,
        (small_adj_close / large_adj_close)::decimal(38, 18) as rs_exact,
        -- daily returns between consecutive common dates, not the tickers' own sessions
        small_ret::decimal(38, 15) as x,
        large_ret::decimal(38, 15) as y
    from common_dates
),

-- every window in one pass: they share the partition and the order, so the rows are sorted once
windowed as (
    select
        pair,
        small,
        large,
        trade_date,
        rs,
        100 * rs / coalesce(carried.first_rs, first_value(rs) over common) as rs_index,
        count(rs) over sma_short as sma_short_n,
        avg(rs_exact) over sma_short as sma_short,
        count(rs) over sma_long as sma_long_n,
        avg(rs_exact) over sma_long as sma_long,
        (small_adj_close / lag(small_adj_close, 21) over common)
            / (large_adj_close / lag(large_adj_close, 21) over common) - 1 as excess_21d,
        (small_adj_close / lag(small_adj_close, 63) over common)
            / (large_adj_close / lag(large_adj_close, 63) over common) - 1 as excess_63d,
        (small_adj_close / lag(small_adj_close, 126) over common)
            / (large_adj_close / lag(large_adj_close, 126) over common) - 1 as excess_126d,
        (small_adj_close / lag(small_adj_close, 252) over common)
            / (large_adj_close / lag(large_adj_close, 252) over common) - 1 as excess_252d,
        -- count(x + y) counts the dates where both returns exist (the first common date has none)
        count(x + y) over corr_window as corr_n,
        sum(x) over corr_window as sum_x,
        sum(y) over corr_window as sum_y,
        sum(x * y) over corr_window as sum_xy,
        sum(x * x) over corr_window as sum_xx,
        sum(y * y) over corr_window as sum_yy
    from exact
    left join carried using (pair)
    window
        common as (partition by pair order by trade_date),
        sma_short as (partition by pair order by trade_date rows between {{ rs_sma_short }} - 1 preceding and current row),
        sma_long as (partition by pair order by trade_date rows between {{ rs_sma_long }} - 1 preceding and current row),
        corr_window as (partition by pair order by trade_date rows between {{ corr_window }} - 1 preceding and current row)
),

-- n times the sample (co)variances times n - 1, still exact: the factors cancel in corr and beta
moments as (
    select
        *,
        (corr_n * sum_xy - sum_x * sum_y)::double as co_moment,
        (corr_n * sum_xx - sum_x * sum_x)::double as small_moment,
        (corr_n * sum_yy - sum_y * sum_y)::double as large_moment
    from windowed
)

select
    pair,
    small,
    large,
    trade_date,
    rs,
    rs_index,
    case when sma_short_n = {{ rs_sma_short }} then sma_short end as rs_sma50,
    case when sma_long_n = {{ rs_sma_long }} then sma_long end as rs_sma200,
    excess_21d,
    excess_63d,
    excess_126d,
    excess_252d,
    -- a flat side has no variance: NULL rather than a division by zero
    case when corr_n = {{ corr_window }}
        then co_moment / sqrt(nullif(small_moment, 0) * nullif(large_moment, 0)) end as corr_63d,
    case when corr_n = {{ corr_window }} then co_moment / nullif(large_moment, 0) end as beta_63d
from moments
