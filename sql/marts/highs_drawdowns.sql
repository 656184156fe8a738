/*
description: >
  Record highs, rolling highs and the distance from the record per ticker and session, from raw
  closes (a record is a price level, not a total return), plus whether the session's daily return
  is the best or worst of the recent sessions. Windows count the ticker's own rows and come from
  config/models.toml (high_window, extreme_day_window); the column names carry their default
  lengths. The ticker's first stored row is not a record high: there is nothing to beat, and
  counting it would make the start of the stored history look like a breakout. It still sets
  record_close. One row per ticker and session of staging.returns_daily.
date_column: trade_date
unique_key: [ticker, trade_date]
incremental:
  partition_by: ticker
  lookback_rows: greatest({{ high_window }}, {{ extreme_day_window }})
key_metrics: [record_close, high_252d, pct_from_record]
columns:
  ticker: varchar | Yahoo symbol
  trade_date: date | NYSE session
  close: double | raw close of the session
  is_record_high: boolean | close above every earlier stored close of the ticker; false on its first row
  last_record_date: date | the latest record-high session on or before this one; NULL before the first record
  record_close: double | the highest close so far, this session included
  high_252d: double | the highest close of the last high_window (default 252) sessions including this one; NULL until full
  pct_from_record: double | close / record_close - 1; 0 on a new high, negative below it
  is_worst_day_126d: boolean | ret_1d is the lowest of the last extreme_day_window (default 126) sessions' ret_1d including this one; NULL until that many ret_1d exist
  is_best_day_126d: boolean | ret_1d is the highest of the last extreme_day_window (default 126) sessions' ret_1d including this one; NULL until that many ret_1d exist
headline:
  rut_pct_from_record: select pct_from_record from marts.highs_drawdowns where ticker = '^RUT' order by trade_date desc limit 1
*/
with returns as (
    select ticker, trade_date, close, ret_1d
    from staging.returns_daily
    where trade_date >= {{ window_start }}
),

-- The record so far at the last stored row before the rebuilt dates (none in a full build):
-- records need every earlier close, which the stored rows already summarise.
carried as (
    select
        ticker,
        arg_max(record_close, trade_date) as record_close,
        arg_max(last_record_date, trade_date) as last_record_date
    from {{ this }}
    where trade_date >= {{ window_start }} and trade_date < {{ since }}
    group by ticker
),

-- Every window in one pass: they share the partition and the order, so the rows are sorted once.
running as (
    select
        ticker,
        trade_date,
        close,
        ret_1d,
        -- the highest earlier close; arg_max(close, close) is max(close), which DuckDB evaluates
        -- over a growing frame at about half arg_max's speed
        arg_max(close, close) over (by_session rows between unbounded preceding and 1 preceding)
            as previous_close_max,
        -- the window is full when its first row exists: close is never NULL
        lag(close, {{ high_window }} - 1) over by_session is not null as high_window_full,
        max(close) over (by_session rows between {{ high_window }} - 1 preceding and current row)
            as high_window_max,
        -- ret_1d is NULL on a ticker's first row only, so a non-NULL first ret_1d of the window
        -- means every ret_1d in it is there
        lag(ret_1d, {{ extreme_day_window }} - 1) over by_session is not null as extreme_window_full,
        min(ret_1d) over (by_session rows between {{ extreme_day_window }} - 1 preceding and current row)
            as extreme_window_min,
        max(ret_1d) over (by_session rows between {{ extreme_day_window }} - 1 preceding and current row)
            as extreme_window_max
    from returns
    window by_session as (partition by ticker order by trade_date)
),

flagged as (
    select
        running.*,
        carried.last_record_date as carried_last_record_date,
        -- greatest skips NULLs: the ticker's first row has no earlier close, so it is no record
        coalesce(running.close > greatest(carried.record_close, running.previous_close_max), false)
            as is_record_high,
        greatest(running.close, carried.record_close, running.previous_close_max) as record_close
    from running
    left join carried
        on running.ticker = carried.ticker
),

-- A ticker's record closes strictly increase, so a session's record_close names the session that
-- set it: a join finds the last record date without a second pass over the sorted rows.
records as (
    select ticker, record_close, trade_date as record_date
    from flagged
    where is_record_high
)

select
    flagged.ticker,
    flagged.trade_date,
    flagged.close,
    flagged.is_record_high,
    -- no record in the rebuilt rows yet: the one before them, if any
    coalesce(records.record_date, flagged.carried_last_record_date) as last_record_date,
    flagged.record_close,
    case when flagged.high_window_full then flagged.high_window_max end as high_252d,
    flagged.close / flagged.record_close - 1 as pct_from_record,
    case when flagged.extreme_window_full
        then flagged.ret_1d = flagged.extreme_window_min end as is_worst_day_126d,
    case when flagged.extreme_window_full
        then flagged.ret_1d = flagged.extreme_window_max end as is_best_day_126d
from flagged
left join records
    on flagged.ticker = records.ticker and flagged.record_close = records.record_close
-- the rows before `since` only filled the windows above; their record flags are not this build's
where flagged.trade_date >= {{ since }}
