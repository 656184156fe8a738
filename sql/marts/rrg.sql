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
    where ticker in (select ticker from universe)
        or ticker = {{ rrg_benchmark }}
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

ratio_stats as (
    select
        *,
        count(rs) over last_weeks as rs_weeks,
        avg(rs) over last_weeks as rs_mean,
        stddev_samp(rs) over last_weeks as rs_sd
    from relative
    window last_weeks as (
        partition by ticker order by week_end rows between {{ rrg_weeks }} - 1 preceding and current row
    )
),

-- nullif: a constant rs has no z-score (DuckDB would return an infinity, not an error)
ratio as (
    select
        ticker,
        group_name,
        week_end,
        rs,
        case when rs_weeks = {{ rrg_weeks }} then 100 + (rs - rs_mean) / nullif(rs_sd, 0) end
            as rs_ratio
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
        avg(rs_ratio_change) over last_weeks as change_mean,
        stddev_samp(rs_ratio_change) over last_weeks as change_sd
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
            when change_weeks = {{ rrg_weeks }}
                then 100 + (rs_ratio_change - change_mean) / nullif(change_sd, 0)
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
