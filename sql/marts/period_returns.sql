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
    select ticker, trade_date, close, adj_close
    from staging.returns_daily
    where trade_date >= {{ window_start }}
),

-- Month, quarter and year bases from one row per ticker and month: the previous period *with
-- rows* ends with the ticker's last stored row before this period starts, so gaps of whole
-- periods are covered too. It scans the table itself: DuckDB would copy a CTE read twice, and
-- a second columnar scan costs less than that copy.
month_closes as (
    select
        ticker,
        date_trunc('month', trade_date)::date as month_start,
        arg_max(adj_close, trade_date) as last_adj_close
    from staging.returns_daily
    where trade_date >= {{ window_start }}
    group by all
),

month_bases as (
    select
        ticker,
        month_start,
        lag(last_adj_close) over months as month_base,
        -- the last month that ended before the quarter (the year) began: a range frame over
        -- month starts, on one row per month, so cheap
        last_value(last_adj_close) over (
            months range between unbounded preceding
            and (month_start - date_trunc('quarter', month_start)::date)::integer + 1 preceding
        ) as quarter_base,
        last_value(last_adj_close) over (
            months range between unbounded preceding
            and (month_start - date_trunc('year', month_start)::date)::integer + 1 preceding
        ) as year_base
    from month_closes
    window months as (partition by ticker order by month_start)
),

-- Every per-row column in one window pass (one sort). A ticker has at most one row a day, so at
-- most 6 earlier rows in the same ISO week: the week's base is the latest of the 7 rows before
-- that is dated before its Monday, without a join.
sessions as (
    select
        ticker,
        trade_date,
        close,
        adj_close,
        date_trunc('week', trade_date)::date as week_start,
        date_trunc('month', trade_date)::date as month_start,
        lag(trade_date, 1) over by_date as date_1,
        lag(trade_date, 2) over by_date as date_2,
        lag(trade_date, 3) over by_date as date_3,
        lag(trade_date, 4) over by_date as date_4,
        lag(trade_date, 5) over by_date as date_5,
        lag(trade_date, 6) over by_date as date_6,
        lag(adj_close, 1) over by_date as adj_close_1,
        lag(adj_close, 2) over by_date as adj_close_2,
        lag(adj_close, 3) over by_date as adj_close_3,
        lag(adj_close, 4) over by_date as adj_close_4,
        lag(adj_close, 5) over by_date as adj_close_5,
        lag(adj_close, 6) over by_date as adj_close_6,
        lag(adj_close, 7) over by_date as adj_close_7,
        lag(adj_close, 21) over by_date as adj_close_21,
        lag(adj_close, 63) over by_date as adj_close_63,
        lag(adj_close, 126) over by_date as adj_close_126,
        lag(adj_close, 252) over by_date as adj_close_252
    from returns
    window by_date as (partition by ticker order by trade_date)
),

week_bases as (
    select
        *,
        case
            when date_1 < week_start then adj_close_1
            when date_2 < week_start then adj_close_2
            when date_3 < week_start then adj_close_3
            when date_4 < week_start then adj_close_4
            when date_5 < week_start then adj_close_5
            when date_6 < week_start then adj_close_6
            else adj_close_7
        end as week_base
    from sessions
)

select
    week_bases.ticker,
    week_bases.trade_date,
    week_bases.close,
    week_bases.adj_close,
    week_bases.adj_close / week_bases.adj_close_5 - 1 as ret_5d,
    week_bases.adj_close / week_bases.adj_close_21 - 1 as ret_21d,
    week_bases.adj_close / week_bases.adj_close_63 - 1 as ret_63d,
    week_bases.adj_close / week_bases.adj_close_126 - 1 as ret_126d,
    week_bases.adj_close / week_bases.adj_close_252 - 1 as ret_252d,
    week_bases.adj_close / week_bases.week_base - 1 as ret_wtd,
    week_bases.adj_close / month_bases.month_base - 1 as ret_mtd,
    week_bases.adj_close / month_bases.quarter_base - 1 as ret_qtd,
    week_bases.adj_close / month_bases.year_base - 1 as ret_ytd
from week_bases
inner join month_bases
    on week_bases.ticker = month_bases.ticker and week_bases.month_start = month_bases.month_start
