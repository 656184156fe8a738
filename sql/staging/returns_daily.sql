/*
description: >
  Daily total returns per ticker: each session's adjusted close against the ticker's previous
  stored session. One row per ticker and session of core.prices_daily.
date_column: trade_date
unique_key: [ticker, trade_date]
# a table, not a view: four models read it, the incremental ones only their last rows
materialized: table
incremental:
  partition_by: ticker
  lookback_rows: 1  # the previous session, for ret_1d
key_metrics: [ret_1d]
columns:
  ticker: varchar | Yahoo symbol
  trade_date: date | NYSE session
  close: double | raw close of the session
  adj_close: double | close adjusted for dividends and splits
  ret_1d: double | adj_close / previous session's adj_close - 1; NULL on the ticker's first session
headline:
  rows_latest_session: select count(*) from staging.returns_daily where trade_date = (select max(trade_date) from staging.returns_daily)
*/
with prices as (
    select ticker, trade_date, close, adj_close
    from core.prices_daily
    where trade_date >= {{ window_start }}
)

select
    ticker,
    trade_date,
    close,
    adj_close,
    adj_close / lag(adj_close) over (partition by ticker order by trade_date) - 1 as ret_1d
from prices
