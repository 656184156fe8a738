/*
description: >
  Daily small-vs-large contests of every universe pair on its common dates (sessions where both
  tickers have a row), and the running streak of sessions the small side has won. Returns are
  taken between consecutive common dates from adjusted closes. A tie is not a win. The first
  common date has no returns, so small_beats is NULL and the streak 0 there. One row per pair and
  common date.
date_column: trade_date
unique_key: [pair, trade_date]
incremental:
  partition_by: pair
  lookback_rows: 1  # the streak of the previous common date
key_metrics: [small_ret, large_ret, small_beats, streak]
columns:
  pair: varchar | the pair, small/large, e.g. IWM/SPY
  small: varchar | the small-cap ticker of the pair
  large: varchar | the large-cap ticker of the pair
  trade_date: date | a session on which both tickers have a row
  small_ret: double | small adj_close / its adj_close on the previous common date - 1; NULL on the first common date
  large_ret: double | large adj_close / its adj_close on the previous common date - 1; NULL on the first common date
  small_beats: boolean | small_ret > large_ret; NULL on the first common date
  streak: bigint | consecutive common dates up to and including this one on which small beat large; 0 when it did not
headline:
  iwm_spy_streak: select streak from marts.outperformance_streaks where pair = 'IWM/SPY' order by trade_date desc limit 1
  rut_gspc_streak: select streak from marts.outperformance_streaks where pair = '^RUT/^GSPC' order by trade_date desc limit 1
*/
with contests as (
    select pair, small, large, trade_date, small_ret, large_ret
    from staging.pair_sessions
    where trade_date >= {{ since }}
),

-- the streak on the pair's last stored date before the rebuilt ones (none in a full build)
carried as (
    select pair, arg_max(streak, trade_date) as streak
    from {{ this }}
    where trade_date >= {{ window_start }} and trade_date < {{ since }}
    group by pair
),

islands as (
    -- Gaps and islands: every session small did not win (including the first, undecided one)
    -- opens a new island; the wins that follow it belong to that island. Island 0 holds the
    -- wins before the first non-win of the rebuilt dates: they extend the carried streak.
    select
        *,
        small_ret > large_ret as small_beats,
        sum(case when small_ret > large_ret then 0 else 1 end)
            over (partition by pair order by trade_date rows between unbounded preceding and current row)
            as island
    from contests
)

select
    islands.pair,
    islands.small,
    islands.large,
    islands.trade_date,
    islands.small_ret,
    islands.large_ret,
    islands.small_beats,
    -- an island's opening row is the non-win, so its wins so far are the rows after it
    case
        when islands.island = 0 then coalesce(carried.streak, 0) + count(*) over island_rows
        else count(*) over island_rows - 1
    end as streak
from islands
left join carried
    on islands.pair = carried.pair
window island_rows as (
    partition by islands.pair, islands.island order by islands.trade_date
    rows between unbounded preceding and current row
)
