/*
description: >
  Breadth of each sector within each configured index (config.indexes) per session: the measures
  of marts.index_breadth over the index's members of that day whose row in that day's snapshot
  names the sector. Members are those of the index's latest snapshot in core.index_members on or
  before the session, and the sector is the one that snapshot gives (a member that changes sector
  moves with it). One row per index, sector and session on which the sector has members, from the
  index's first snapshot on; with index_breadth_membership = 'projected' (config/models.toml) the
  sessions before it take the first snapshot's members and sectors, labelled 'projected' (with its
  survivorship bias: the stocks that left before the first snapshot are missing). The index's own
  return is left out here: it is the same for every sector, in marts.index_breadth; each row's
  equal-weighted return compares with it there. A member's windows count its own stored sessions
  (staging.ticker_windows) and a member whose window is not yet full is left out of that measure.
date_column: trade_date
unique_key: [index_id, sector, trade_date]
unique_key_nullable: [sector]
incremental:
  # The windows come ready per ticker from staging.ticker_windows and membership is read whole;
  # the A/D line continues from the sector's last stored row, read from all the stored rows
  # before the rebuilt ones (a sector can be absent from an index for a long stretch).
  partition_by: index_id
  lookback_rows: 1
columns:
  index_id: varchar | the index, an index_id of config.indexes (e.g. russell_2000)
  sector: varchar | the sector of the members, as the snapshot in force names it (core.index_members.sector); NULL for members the snapshot gives none
  trade_date: date | session
  membership_basis: varchar | 'point_in_time' - the members of the index's latest snapshot on or before the session; 'projected' - a session before the index's first snapshot, given that snapshot's members (only with index_breadth_membership = 'projected'; survivorship bias)
  members: bigint | members of the index in the sector on the session (rows of the snapshot in force)
  members_with_bar: bigint | of those, members with a bar that session in staging.ticker_windows
  advancers: bigint | members whose ret_1d that session is > 0
  decliners: bigint | members whose ret_1d that session is < 0
  unchanged: bigint | members whose ret_1d that session is 0
  share_advancing: double | advancers / members with a ret_1d that session (0-1); NULL when none has one
  share_above_sma20: double | share (0-1) of members whose close is above their own simple average over their last index_breadth_sma_short (20) sessions including this one, among members with that many sessions; NULL when none has
  share_above_sma50: double | the same against the index_breadth_sma_medium (50) session average; NULL when no member has that many sessions
  share_above_sma200: double | the same against the index_breadth_sma_long (200) session average; NULL when no member has that many sessions
  new_highs_252d: bigint | members whose close is the highest of their last breadth_high_window (252) sessions including this one (ties count), among members with that many sessions; 0 when none has
  new_lows_252d: bigint | members whose close is the lowest of their last breadth_high_window (252) sessions including this one (ties count), among members with that many sessions; 0 when none has
  share_near_high_252d: double | share (0-1) of members whose close is within index_breadth_near_high (10%) of their highest close of the last breadth_high_window (252) sessions, among members with that many sessions; NULL when none has
  ad_line: bigint | the sector's advance/decline line - cumulative sum of advancers - decliners over its rows in the index up to and including this one
  ew_return: double | equal-weighted return of the sector's members - the mean ret_1d of those with one that session; NULL when none has
*/
with indexes as (
    select index_id
    from config.indexes
),

-- every snapshot, however old: the one in force on a rebuilt session may predate the rebuild
index_members as (
    select index_id, as_of_date, ticker, sector
    from core.index_members
    where index_id in (select index_id from indexes)
),

ticker_windows as (
    select ticker, trade_date, close, ret_1d, above_sma_short, above_sma_medium, above_sma_long, high_close_252d,
        low_close_252d
    from staging.ticker_windows
    where trade_date >= {{ since }}
),

-- a misspelt option must fail the build, not quietly give point-in-time rows
options as (
    select
        case
            when {{ index_breadth_membership }} in ('point_in_time', 'projected') then {{ index_breadth_membership }}
            else error('index_breadth_membership in config/models.toml is point_in_time or projected, got '
                || {{ index_breadth_membership }})
        end as membership
),

snapshots as (
    select distinct index_id, as_of_date
    from index_members
),

first_snapshots as (
    select index_id, min(as_of_date) as first_snapshot
    from snapshots
    group by index_id
),

sessions as (
    select distinct trade_date
    from ticker_windows
),

-- The snapshot in force on each session is the latest one on or before it; a session before the
-- first snapshot has none, and is kept only when the projected option lends it the first one.
index_sessions as (
    select
        first_snapshots.index_id,
        sessions.trade_date,
        coalesce(snapshots.as_of_date, first_snapshots.first_snapshot) as snapshot_date,
        case when snapshots.as_of_date is null then 'projected' else 'point_in_time' end as membership_basis
    from sessions
    cross join first_snapshots
    asof left join snapshots
        on snapshots.index_id = first_snapshots.index_id and sessions.trade_date >= snapshots.as_of_date
    where snapshots.as_of_date is not null or (select membership from options) = 'projected'
),

member_days as (
    select
        index_sessions.index_id,
        index_members.sector,
        index_sessions.trade_date,
        index_sessions.membership_basis,
        ticker_windows.ticker is not null as has_bar,
        ticker_windows.ret_1d,
        ticker_windows.above_sma_short,
        ticker_windows.above_sma_medium,
        ticker_windows.above_sma_long,
        ticker_windows.close >= ticker_windows.high_close_252d as new_high,
        ticker_windows.close <= ticker_windows.low_close_252d as new_low,
        ticker_windows.close >= (1 - {{ index_breadth_near_high }}) * ticker_windows.high_close_252d as near_high
    from index_sessions
    inner join index_members
        on index_members.index_id = index_sessions.index_id
        and index_members.as_of_date = index_sessions.snapshot_date
    left join ticker_windows
        on ticker_windows.ticker = index_members.ticker
        and ticker_windows.trade_date = index_sessions.trade_date
),

-- The equal-weighted return is summed in exact decimal arithmetic: a floating-point sum depends
-- on the order the rows arrive in, which is not the same in a full and an incremental build.
daily as (
    select
        index_id,
        sector,
        trade_date,
        membership_basis,
        count(*) as members,
        count(*) filter (where has_bar) as members_with_bar,
        count(*) filter (where ret_1d > 0) as advancers,
        count(*) filter (where ret_1d < 0) as decliners,
        count(*) filter (where ret_1d = 0) as unchanged,
        count(ret_1d) as members_with_return,
        avg(above_sma_short::integer) as share_above_sma20,
        avg(above_sma_medium::integer) as share_above_sma50,
        avg(above_sma_long::integer) as share_above_sma200,
        count(*) filter (where new_high) as new_highs_252d,
        count(*) filter (where new_low) as new_lows_252d,
        avg(near_high::integer) as share_near_high_252d,
        avg(ret_1d::decimal(38, 18))::double as ew_return
    from member_days
    group by index_id, sector, trade_date, membership_basis
),

-- The A/D line at the sector's last stored row before the rebuilt ones (none in a full build).
-- Not bounded by {{ window_start }}: a sector that left the index and came back continues from a
-- row older than any window; the table has a row per index, sector and session, a small read.
carried as (
    select index_id, sector, arg_max(ad_line, trade_date) as ad_line
    from {{ this }}
    where trade_date < {{ since }}
    group by index_id, sector
)

select
    daily.index_id,
    daily.sector,
    daily.trade_date,
    daily.membership_basis,
    daily.members,
    daily.members_with_bar,
    daily.advancers,
    daily.decliners,
    daily.unchanged,
    daily.advancers / nullif(daily.members_with_return, 0) as share_advancing,
    daily.share_above_sma20,
    daily.share_above_sma50,
    daily.share_above_sma200,
    daily.new_highs_252d,
    daily.new_lows_252d,
    daily.share_near_high_252d,
    (coalesce(carried.ad_line, 0) + sum(daily.advancers - daily.decliners) over (
        partition by daily.index_id, daily.sector order by daily.trade_date
        rows between unbounded preceding and current row
    ))::bigint as ad_line,
    daily.ew_return
from daily
left join carried
    on daily.index_id = carried.index_id and daily.sector is not distinct from carried.sector
order by daily.index_id, daily.sector, daily.trade_date
