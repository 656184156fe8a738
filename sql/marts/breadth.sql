/*
description: >
  Market breadth per configured group ([breadth.groups] in config/models.toml, as
  config.breadth_groups; by default the sector ETFs as 'sectors' and, as 'story_stocks', the
  stocks named in the rotation story) and session: how many members rose and fell, the share
  trading above their own moving averages, new highs and lows, and the cumulative advance/decline
  line. One row per group and date on which at least one member has a bar. Every window counts
  the member's own stored sessions and a member whose window is not yet full is left out of that
  measure. Prices are the raw close (split- but not dividend-adjusted), as a chart shows them;
  daily moves are ret_1d of staging.returns_daily (total return against the member's previous
  stored session). Closes are compared with their averages exactly, in whole units of 1e-8.
date_column: trade_date
unique_key: [group_name, trade_date]
incremental:
  # the windows count each member's own rows of staging.returns_daily
  relation: staging.returns_daily
  partition_by: ticker
  lookback_rows: greatest({{ breadth_sma_short }}, {{ breadth_sma_long }}, {{ breadth_high_window }})
columns:
  group_name: varchar | breadth group, from [breadth.groups] in config/models.toml
  trade_date: date | session
  members: bigint | members of the group with a bar that session
  advancers: bigint | members whose ret_1d that session is > 0
  decliners: bigint | members whose ret_1d that session is < 0
  share_advancing: double | advancers / members with a ret_1d that session (0-1); NULL when none has one
  share_above_sma50: double | share (0-1) of members whose close is above their own simple average of close over their last breadth_sma_short (50) sessions including this one, among members with that many sessions; NULL when none has
  share_above_sma200: double | the same against the breadth_sma_long (200) session average; NULL when no member has that many sessions
  new_highs_252d: bigint | members whose close is the highest of their last breadth_high_window (252) sessions including this one (ties count), among members with that many sessions; 0 when none has
  new_lows_252d: bigint | members whose close is the lowest of their last breadth_high_window (252) sessions including this one (ties count), among members with that many sessions; 0 when none has
  ad_line: bigint | advance/decline line - cumulative sum of advancers - decliners over the group's dates up to and including this one
key_metrics: [share_advancing, share_above_sma50, share_above_sma200]
headline:
  story_stocks_share_above_sma50: select share_above_sma50 from marts.breadth where group_name = 'story_stocks' order by trade_date desc limit 1
  sectors_share_above_sma50: select share_above_sma50 from marts.breadth where group_name = 'sectors' order by trade_date desc limit 1
*/
-- a ticker listed twice in a group (a list with a repeat) must count once
with members as (
    select distinct group_name, ticker
    from config.breadth_groups
),

-- the windows are computed once per ticker, whatever the number of groups it belongs to, and
-- only for tickers some group reads
bars as (
    select
        ticker,
        trade_date,
        close,
        ret_1d,
        -- Closes in whole units of 1e-8 (far finer than any quote), so the moving averages are
        -- integer window sums: exact, so a window's value does not depend on the rows before it
        -- and an incremental build gives the full build's figures to the last bit, and cheaper
        -- than decimal sums. Summed as hugeint, so no sum can overflow.
        (close * 100000000)::bigint as close_e8
    from staging.returns_daily
    where ticker in (select ticker from members)
        and trade_date >= {{ window_start }}
),

-- Every window in one pass over the rows sorted once (same partition, same order). A window is
-- full when it holds its length in rows, i.e. from the member's row number on that length: a
-- member with less history is left out.
member_windows as (
    select
        ticker,
        trade_date,
        close,
        close_e8,
        ret_1d,
        row_number() over by_session as session_n,
        sum(close_e8) over (by_session rows between {{ breadth_sma_short }} - 1 preceding and current row)
            as sma_short_sum,
        sum(close_e8) over (by_session rows between {{ breadth_sma_long }} - 1 preceding and current row)
            as sma_long_sum,
        max(close) over (by_session rows between {{ breadth_high_window }} - 1 preceding and current row)
            as high_close,
        min(close) over (by_session rows between {{ breadth_high_window }} - 1 preceding and current row)
            as low_close
    from bars
    window by_session as (partition by ticker order by trade_date)
),

-- per member and session: NULL where the window is not full, so the group's shares only count
-- members that have the history the measure needs; close > sum / n compared as n * close > sum
member_flags as (
    select
        ticker,
        trade_date,
        ret_1d,
        case when session_n >= {{ breadth_sma_short }}
            then close_e8::hugeint * {{ breadth_sma_short }} > sma_short_sum end as above_sma_short,
        case when session_n >= {{ breadth_sma_long }}
            then close_e8::hugeint * {{ breadth_sma_long }} > sma_long_sum end as above_sma_long,
        case when session_n >= {{ breadth_high_window }} then close >= high_close end as new_high,
        case when session_n >= {{ breadth_high_window }} then close <= low_close end as new_low
    from member_windows
    where trade_date >= {{ since }}
),

daily as (
    select
        members.group_name,
        member_flags.trade_date,
        count(*) as members,
        count(*) filter (where member_flags.ret_1d > 0) as advancers,
        count(*) filter (where member_flags.ret_1d < 0) as decliners,
        count(member_flags.ret_1d) as members_with_return,
        count(*) filter (where member_flags.above_sma_short) as above_sma_short,
        count(member_flags.above_sma_short) as with_sma_short,
        count(*) filter (where member_flags.above_sma_long) as above_sma_long,
        count(member_flags.above_sma_long) as with_sma_long,
        count(*) filter (where member_flags.new_high) as new_highs_252d,
        count(*) filter (where member_flags.new_low) as new_lows_252d
    from member_flags
    inner join members
        on member_flags.ticker = members.ticker
    group by members.group_name, member_flags.trade_date
),

-- the A/D line at the group's last stored date before the rebuilt ones (none in a full build)
carried as (
    select group_name, arg_max(ad_line, trade_date) as ad_line
    from {{ this }}
    where trade_date >= {{ window_start }} and trade_date < {{ since }}
    group by group_name
)

select
    daily.group_name,
    daily.trade_date,
    daily.members,
    daily.advancers,
    daily.decliners,
    daily.advancers / nullif(daily.members_with_return, 0) as share_advancing,
    daily.above_sma_short / nullif(daily.with_sma_short, 0) as share_above_sma50,
    daily.above_sma_long / nullif(daily.with_sma_long, 0) as share_above_sma200,
    daily.new_highs_252d,
    daily.new_lows_252d,
    (coalesce(carried.ad_line, 0) + sum(daily.advancers - daily.decliners) over (
        partition by daily.group_name order by daily.trade_date rows between unbounded preceding and current row
    ))::bigint as ad_line
from daily
left join carried
    on daily.group_name = carried.group_name
order by daily.group_name, daily.trade_date
