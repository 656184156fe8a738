/*
description: >
  Where each ticker's close stands against its own history, per session: above or below its 20-,
  50- and 200-session simple averages, and its highest and lowest close of the last 252 sessions.
  One row per ticker and session of staging.returns_daily. Every window counts the ticker's own
  stored sessions (a ticker with gaps reaches further back in time) and is NULL until it holds its
  length. Prices are the raw close (split- but not dividend-adjusted), as a chart shows them;
  ret_1d is passed through from staging.returns_daily. The index breadth marts read a member on
  every session of every index it belongs to: the windows are computed here once per ticker.
date_column: trade_date
unique_key: [ticker, trade_date]
# a table: two marts read it, the incremental builds only its last dates
materialized: table
incremental:
  partition_by: ticker
  lookback_rows: greatest({{ index_breadth_sma_short }}, {{ index_breadth_sma_medium }}, {{ index_breadth_sma_long }}, {{ breadth_high_window }})
columns:
  ticker: varchar | Yahoo symbol
  trade_date: date | NYSE session
  close: double | raw close of the session
  ret_1d: double | staging.returns_daily.ret_1d - adj_close against the ticker's previous stored session; NULL on its first
  above_sma_short: boolean | close > the mean close (compared at 1e-8 of a close) of the ticker's last index_breadth_sma_short (20) sessions including this one; NULL while it has fewer
  above_sma_medium: boolean | the same against its last index_breadth_sma_medium (50) sessions; NULL while it has fewer
  above_sma_long: boolean | the same against its last index_breadth_sma_long (200) sessions; NULL while it has fewer
  high_close_252d: double | highest close of the ticker's last breadth_high_window (252) sessions including this one; NULL while it has fewer
  low_close_252d: double | lowest close of those sessions; NULL while it has fewer
*/
with bars as (
    select
        ticker,
        trade_date,
        close,
        ret_1d,
        -- Closes in whole units of 1e-8 (far finer than any quote), so the moving averages are
        -- integer window sums: exact, so a window's value does not depend on the rows before it
        -- and an incremental build gives the full build's flags to the last bit, and much cheaper
        -- than decimal sums. Summed as hugeint, so no sum can overflow.
        (close * 100000000)::bigint as close_e8
    from staging.returns_daily
    where trade_date >= {{ window_start }}
),

-- Every window in one pass over the rows sorted once (same partition, same order). A window is
-- full when it holds its length in rows, i.e. from the ticker's row number on that length.
windows as (
    select
        ticker,
        trade_date,
        close,
        close_e8,
        ret_1d,
        row_number() over by_session as session_n,
        sum(close_e8) over (by_session rows between {{ index_breadth_sma_short }} - 1 preceding and current row)
            as sma_short_sum,
        sum(close_e8) over (by_session rows between {{ index_breadth_sma_medium }} - 1 preceding and current row)
            as sma_medium_sum,
        sum(close_e8) over (by_session rows between {{ index_breadth_sma_long }} - 1 preceding and current row)
            as sma_long_sum,
        max(close) over (by_session rows between {{ breadth_high_window }} - 1 preceding and current row)
            as high_close,
        min(close) over (by_session rows between {{ breadth_high_window }} - 1 preceding and current row)
            as low_close
    from bars
    window by_session as (partition by ticker order by trade_date)
)

-- close > sum / n compared as n * close > sum, in integers
select
    ticker,
    trade_date,
    close,
    ret_1d,
    case when session_n >= {{ index_breadth_sma_short }}
        then close_e8::hugeint * {{ index_breadth_sma_short }} > sma_short_sum end as above_sma_short,
    case when session_n >= {{ index_breadth_sma_medium }}
        then close_e8::hugeint * {{ index_breadth_sma_medium }} > sma_medium_sum end as above_sma_medium,
    case when session_n >= {{ index_breadth_sma_long }}
        then close_e8::hugeint * {{ index_breadth_sma_long }} > sma_long_sum end as above_sma_long,
    case when session_n >= {{ breadth_high_window }} then high_close end as high_close_252d,
    case when session_n >= {{ breadth_high_window }} then low_close end as low_close_252d
from windows
where trade_date >= {{ since }}
