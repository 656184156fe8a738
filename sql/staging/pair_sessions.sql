/*
description: >
  The sessions both sides of each configured pair have stored (config.pairs), with each side's
  adjusted close and its return since the pair's previous common session. The pair metrics count
  their windows in these rows, so a ratio or a return never mixes a close with a stale one.
date_column: trade_date
unique_key: [pair, trade_date]
# a table, not a view: the pair marts then read the few rows they need instead of re-joining the
# tickers' whole history on every build
materialized: table
incremental:
  partition_by: pair
  lookback_rows: 1  # the previous common session, for the returns
columns:
  pair: varchar | small/large, e.g. IWM/SPY
  small: varchar | the small-cap side's ticker
  large: varchar | the large-cap side's ticker
  trade_date: date | an NYSE session both tickers have a bar for
  small_adj_close: double | small side's adjusted close
  large_adj_close: double | large side's adjusted close
  small_ret: double | small_adj_close / its value on the previous common session - 1; NULL on the first
  large_ret: double | large_adj_close / its value on the previous common session - 1; NULL on the first
*/
with pairs as (
    select pair, small, large
    from config.pairs
),

returns as (
    select ticker, trade_date, adj_close
    from staging.returns_daily
    where trade_date >= {{ window_start }}
),

common_dates as (
    -- An equi-join on (ticker, date): only sessions both sides have.
    select
        pairs.pair,
        pairs.small,
        pairs.large,
        small_side.trade_date,
        small_side.adj_close as small_adj_close,
        large_side.adj_close as large_adj_close
    from pairs
    inner join returns as small_side
        on small_side.ticker = pairs.small
    inner join returns as large_side
        on large_side.ticker = pairs.large and large_side.trade_date = small_side.trade_date
)

select
    pair,
    small,
    large,
    trade_date,
    small_adj_close,
    large_adj_close,
    small_adj_close / lag(small_adj_close) over common - 1 as small_ret,
    large_adj_close / lag(large_adj_close) over common - 1 as large_ret
from common_dates
window common as (partition by pair order by trade_date)
