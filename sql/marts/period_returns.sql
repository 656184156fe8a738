/*
description: >
  Trailing and period-to-date total returns per ticker and session, from adjusted closes.
  ret_<N>d compares a session with the ticker's own row N rows earlier (N sessions back, NULL
  while the ticker has fewer than N earlier rows). ret_wtd/mtd/qtd/ytd compare it with the
  ticker's last stored row strictly before the current ISO week (Monday start), calendar month,
  quarter or year began (NULL when no such row is stored), so a holiday on the period's first
  day or a missing session changes nothing. One row per ticker and session of staging.returns_daily.
date_column: trade_date
unique_key: [ticker, trade_date]
incremental:
  partition_by: ticker
  # ret_252d needs 252 rows; ret_ytd needs the previous calendar year's last row, and a year
  # has at most 254 NYSE sessions (1992, 1996): 260 rows reach it, and the shorter periods' too
  lookback_rows: 260
key_metrics: [ret_5d, ret_21d, ret_63d, ret_252d, ret_ytd]
columns:
  ticker: varchar | Yahoo symbol
  trade_date: date | NYSE session
  close: double | raw close of the session
  adj_close: double | close adjusted for dividends and splits
  ret_5d: double | adj_close / adj_close 5 sessions (own rows) earlier - 1; NULL with fewer than 5 earlier rows
  ret_21d: double | adj_close / adj_close 21 sessions earlier - 1; NULL with fewer than 21 earlier rows
  ret_63d: double | adj_close / adj_close 63 sessions earlier - 1; NULL with fewer than 63 earlier rows
  ret_126d: double | adj_close / adj_close 126 sessions earlier - 1; NULL with fewer than 126 earlier rows
  ret_252d: double | adj_close / adj_close 252 sessions earlier - 1; NULL with fewer than 252 earlier rows
  ret_wtd: double | week to date - adj_close / last adj_close before this ISO week's Monday - 1; NULL when none is stored
  ret_mtd: double | month to date - adj_close / last adj_close before the 1st of the month - 1; NULL when none is stored
  ret_qtd: double | quarter to date - adj_close / last adj_close before the quarter began - 1; NULL when none is stored
  ret_ytd: double | year to date - adj_close / last adj_close of an earlier calendar year - 1; NULL when none is stored
headline:
  iwm_ytd_latest: select ret_ytd from marts.period_returns where ticker = 'IWM' order by trade_date desc limit 1
*/
with returns as (
    select
        ticker,
        trade_date,
        close,
        adj_close,
        -- date_trunc gives a timestamp; dates join cheaper and compare with trade_date directly
        date_trunc('week', trade_date)::date as week_start,  -- ISO week: Monday
        date_trunc('month', trade_date)::date as month_start,
        date_trunc('quarter', trade_date)::date as quarter_start,
        date_trunc('year', trade_date)::date as year_start
    from staging.returns_daily
    where trade_date >= {{ window_start }}
),

period_last_closes as (
    -- Each ticker's last adj_close in every period it has rows in: one grouped pass per period
    -- kind instead of a lookup per row.
    select ticker, 'week' as period, week_start as period_start, arg_max(adj_close, trade_date) as last_adj_close
    from returns
    group by ticker, week_start
    union all
    select ticker, 'month' as period, month_start as period_start, arg_max(adj_close, trade_date) as last_adj_close
    from returns
    group by ticker, month_start
    union all
    select ticker, 'quarter' as period, quarter_start as period_start, arg_max(adj_close, trade_date) as last_adj_close
    from returns
    group by ticker, quarter_start
    union all
    select ticker, 'year' as period, year_start as period_start, arg_max(adj_close, trade_date) as last_adj_close
    from returns
    group by ticker, year_start
),

period_bases as (
    -- The previous period *with rows* ends with the ticker's last stored row before this period
    -- starts, so a lag over the ticker's periods also covers gaps of whole periods.
    select
        ticker,
        period,
        period_start,
        lag(last_adj_close) over (partition by ticker, period order by period_start) as base_adj_close
    from period_last_closes
),

trailing_returns as (
    select
        ticker,
        trade_date,
        close,
        adj_close,
        week_start,
        month_start,
        quarter_start,
        year_start,
        adj_close / lag(adj_close, 5) over sessions - 1 as ret_5d,
        adj_close / lag(adj_close, 21) over sessions - 1 as ret_21d,
        adj_close / lag(adj_close, 63) over sessions - 1 as ret_63d,
        adj_close / lag(adj_close, 126) over sessions - 1 as ret_126d,
        adj_close / lag(adj_close, 252) over sessions - 1 as ret_252d
    from returns
    window sessions as (partition by ticker order by trade_date)
)

select
    trailing_returns.ticker,
    trailing_returns.trade_date,
    trailing_returns.close,
    trailing_returns.adj_close,
    trailing_returns.ret_5d,
    trailing_returns.ret_21d,
    trailing_returns.ret_63d,
    trailing_returns.ret_126d,
    trailing_returns.ret_252d,
    trailing_returns.adj_close / week_base.base_adj_close - 1 as ret_wtd,
    trailing_returns.adj_close / month_base.base_adj_close - 1 as ret_mtd,
    trailing_returns.adj_close / quarter_base.base_adj_close - 1 as ret_qtd,
    trailing_returns.adj_close / year_base.base_adj_close - 1 as ret_ytd
from trailing_returns
left join period_bases as week_base
    on week_base.ticker = trailing_returns.ticker and week_base.period = 'week' and week_base.period_start = trailing_returns.week_start
left join period_bases as month_base
    on month_base.ticker = trailing_returns.ticker and month_base.period = 'month' and month_base.period_start = trailing_returns.month_start
left join period_bases as quarter_base
    on quarter_base.ticker = trailing_returns.ticker and quarter_base.period = 'quarter' and quarter_base.period_start = trailing_returns.quarter_start
left join period_bases as year_base
    on year_base.ticker = trailing_returns.ticker and year_base.period = 'year' and year_base.period_start = trailing_returns.year_start
