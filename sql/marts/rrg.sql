/*
description: >
  Relative rotation (RRG-style) of every universe ticker against the benchmark rrg_benchmark
  (config/models.toml, SPY by default) on weekly closes: the adjusted close of each ticker's last
  session of each ISO week (Monday to Sunday). One row per ticker and week in which both the ticker
  and the benchmark have a weekly close. rs_ratio is 100 + the z-score of rs over the last
  rrg_weeks (14) such weeks, including this one; rs_momentum is 100 + the z-score, over the last
  rrg_weeks weeks, of rs_ratio's one-week change. Z-scores use the sample standard deviation. Only
  past and current weeks enter a row (no look-ahead); the current, unfinished week uses the latest
  session so far. Windows count the ticker's own rows here and a value whose window is not full is
  NULL, so rs_ratio starts at the rrg_weeks-th week and rs_momentum at the 2 * rrg_weeks-th.
date_column: week_end
unique_key: [ticker, week_end]
incremental:
  grain: week
  partition_by: ticker
  # rs_momentum looks back rrg_weeks changes of rs_ratio, each rs_ratio rrg_weeks rs values
  lookback_rows: 2 * {{ rrg_weeks }}
columns:
  ticker: varchar | Yahoo symbol (every ticker of config/universe.toml except the benchmark)
  group_name: varchar | the ticker's group in config/universe.toml (e.g. sector_etfs), for filtering
  week_end: date | the ticker's last session of the ISO week
  rs: double | 100 * the ticker's weekly adj_close / the benchmark's weekly adj_close of the same ISO week
  rs_ratio: double | 100 + (rs - mean of rs) / sample standard deviation of rs, over the last rrg_weeks weeks including this one; NULL until the window is full or when rs is constant over it
  rs_momentum: double | 100 + z-score (sample standard deviation) of the one-week change of rs_ratio over the last rrg_weeks weeks including this one; NULL until rrg_weeks such changes exist or when they are constant
  quadrant: varchar | leading (rs_ratio >= 100 and rs_momentum >= 100), weakening (rs_ratio >= 100, rs_momentum < 100), lagging (both < 100), improving (rs_ratio < 100, rs_momentum >= 100); NULL when either is NULL
key_metrics: [rs_ratio, rs_momentum]
headline:
  iwm_rs_ratio: select rs_ratio from marts.rrg where ticker = 'IWM' order by week_end desc limit 1
  iwm_rs_momentum: select rs_momentum from marts.rrg where ticker = 'IWM' order by week_end desc limit 1
*/
with universe as (
    select ticker, group_name
    from config.ticker_groups
),

-- the weekly close is the last stored session of the ISO week; date_trunc('week') gives the
-- week's Monday, which also keys the join with the benchmark (the two may end the week on
-- different sessions when one lacks a bar)
weekly as (
    select
        ticker,
        date_trunc('week', trade_date)::date as week_start,
        max(trade_date) as week_end,
        arg_max(adj_close, trade_date) as weekly_close
    from core.prices_daily
    where (ticker in (select ticker from universe) or ticker = {{ rrg_benchmark }})
        -- whole weeks: the weekly close is the week's last session
        and trade_date >= date_trunc('week', {{ window_start }})
    group by ticker, week_start
),

benchmark as (
    select week_start, weekly_close as benchmark_close
    from weekly
    where ticker = {{ rrg_benchmark }}
),

relative as (
    select
        weekly.ticker,
        universe.group_name,
        weekly.week_end,
        100 * weekly.weekly_close / benchmark.benchmark_close as rs
    from weekly
    inner join benchmark
        on weekly.week_start = benchmark.week_start
    inner join universe
        on weekly.ticker = universe.ticker
    where weekly.ticker <> {{ rrg_benchmark }}
),

-- Window sums in exact decimal arithmetic (rs to 10 decimals, its changes to 15): a window's
-- value then does not depend on the weeks before it, so an incremental build gives the full
-- build's figures to the last bit. The sample variance is (n * sum(x^2) - sum(x)^2) / (n(n - 1)).
ratio_stats as (
    select
        *,
        count(rs) over last_weeks as rs_weeks,
        sum(rs::decimal(38, 10)) over last_weeks as rs_sum,
        sum(rs::decimal(38, 10) * rs::decimal(38, 10)) over last_weeks as rs_sum_sq
    from relative
    window last_weeks as (
        partition by ticker order by week_end rows between {{ rrg_weeks }} - 1 preceding and current row
    )
),

-- nullif: a constant rs has no z-score
ratio as (
    select
        ticker,
        group_name,
        week_end,
        rs,
        case when rs_weeks = {{ rrg_weeks }} then
            100 + (rs - (rs_sum / rs_weeks)::double)
                / sqrt(nullif((rs_weeks * rs_sum_sq - rs_sum * rs_sum)::double, 0) / (rs_weeks * (rs_weeks - 1)))
        end as rs_ratio
    from ratio_stats
),

ratio_change as (
    select
        *,
        rs_ratio - lag(rs_ratio) over (partition by ticker order by week_end) as rs_ratio_change
    from ratio
),

-- count() skips the NULL changes of the first weeks, so the window is full only once it holds
-- rrg_weeks actual changes
momentum_stats as (
    select
        *,
        count(rs_ratio_change) over last_weeks as change_weeks,
        sum(rs_ratio_change::decimal(38, 15)) over last_weeks as change_sum,
        sum(rs_ratio_change::decimal(38, 15) * rs_ratio_change::decimal(38, 15)) over last_weeks as change_sum_sq
    from ratio_change
    window last_weeks as (
        partition by ticker order by week_end rows between {{ rrg_weeks }} - 1 preceding and current row
    )
),

momentum as (
    select
        ticker,
        group_name,
        week_end,
        rs,
        rs_ratio,
        case
            when change_weeks = {{ rrg_weeks }} then
                100 + (rs_ratio_change - (change_sum / change_weeks)::double)
                    / sqrt(
                        nullif((change_weeks * change_sum_sq - change_sum * change_sum)::double, 0)
                        / (change_weeks * (change_weeks - 1))
                    )
        end as rs_momentum
    from momentum_stats
)

select
    ticker,
    group_name,
    week_end,
    rs,
    rs_ratio,
    rs_momentum,
    case
        when rs_ratio is null or rs_momentum is null then null
        when rs_ratio >= 100 and rs_momentum >= 100 then 'leading'
        when rs_ratio >= 100 then 'weakening'
        when rs_momentum < 100 then 'lagging'
        else 'improving'
    end as quadrant
from momentum
order by ticker, week_end
