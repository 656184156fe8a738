/*
description: >
  The figures of the price claims of core.published_claims (config/claims.csv), from raw closes
  (core.prices_daily: price returns, as index moves are quoted), one row per claim whose metric is
  one of this family's (warehouse/claims.py, METRICS, family prices); marts.claims grades them.
  Exact sessions: a date that is not a stored session of the ticker gives no figure (a misread
  claim, not a reason to take a neighbouring close), and the detail names the missing dates and
  the ticker's stored span. close - the close on as_of_date. price_return - close on as_of_date /
  close on start_date - 1. ytd_return - close on as_of_date / the last close of an earlier year - 1.
  day_return, point_change, low_return - against the previous stored session's close (low_return
  reads the session's low). worse_sessions - sessions from start_date to the day before as_of_date
  with a lower close-to-close return than as_of_date's. record_close, record_high - 1 when the
  close (high) beats every earlier stored one, else 0. max_close - the highest close from
  start_date (or the first stored) to as_of_date; the stored span must cover it. years_since_
  stronger_start - this year's return from the last close of the previous year to as_of_date's day
  of the year against the same span of every earlier year: years back to the latest year at least
  as strong; when every earlier year is weaker, their count, or no figure while that count is below
  the claimed value (the history cannot decide). upside_to_target - target_level / close on
  as_of_date - 1.
unique_key: [claim_id]
columns:
  claim_id: varchar | the claim's name in config/claims.csv
  computed_value: double | the claim's figure from the data, in the metric's unit; NULL when the data lacks what it needs
  evidence: varchar | the data the figure comes from
  detail: varchar | how the figure came out (the closes and dates used), or, without a figure, which series and dates are missing
*/
with claims as (
    select claim_id, metric, subject as ticker, start_date, as_of_date, claimed_value, target_level
    from core.published_claims
    where metric in (
        'close', 'price_return', 'ytd_return', 'day_return', 'point_change', 'low_return',
        'worse_sessions', 'record_close', 'record_high', 'max_close', 'years_since_stronger_start',
        'upside_to_target'
    )
),

-- only the tickers some claim is about: the table holds the whole universe's history
prices as (
    select ticker, trade_date, close, high, low
    from core.prices_daily
    where ticker in (select ticker from claims)
),

sessions as (
    -- each session with its predecessor and the records standing before it
    select
        ticker,
        trade_date,
        close,
        high,
        low,
        lag(trade_date) over by_date as previous_date,
        lag(close) over by_date as previous_close,
        close / lag(close) over by_date - 1 as day_return,
        max(close) over before_day as prior_max_close,
        arg_max(trade_date, close) over before_day as prior_max_close_date,
        max(high) over before_day as prior_max_high,
        arg_max(trade_date, high) over before_day as prior_max_high_date
    from prices
    window
        by_date as (partition by ticker order by trade_date),
        before_day as (
            partition by ticker order by trade_date rows between unbounded preceding and 1 preceding
        )
),

coverage as (
    select ticker, min(trade_date) as first_date, max(trade_date) as last_date
    from prices
    group by ticker
),

on_day as (
    -- the claim's own session, NULL columns when it is not stored
    select
        claims.*,
        sessions.trade_date,
        sessions.close,
        sessions.high,
        sessions.low,
        sessions.previous_date,
        sessions.previous_close,
        sessions.day_return,
        sessions.prior_max_close,
        sessions.prior_max_close_date,
        sessions.prior_max_high,
        sessions.prior_max_high_date
    from claims
    left join sessions
        on sessions.ticker = claims.ticker and sessions.trade_date = claims.as_of_date
),

close_figures as (
    select claim_id, close as computed_value, printf('close %.6f on %s', close, trade_date) as detail
    from on_day
    where metric = 'close' and close is not null
),

return_figures as (
    select
        on_day.claim_id,
        on_day.close / base.close - 1 as computed_value,
        printf(
            '%.2f on %s / %.2f on %s - 1 = %+.2f%%',
            on_day.close, on_day.trade_date, base.close, base.trade_date,
            (on_day.close / base.close - 1) * 100
        ) as detail
    from on_day
    inner join prices as base
        on base.ticker = on_day.ticker and base.trade_date = on_day.start_date
    where on_day.metric = 'price_return' and on_day.close is not null
),

ytd_figures as (
    -- the ticker's last close of an earlier year: the base even when 31 December was no session
    select
        ytd.claim_id,
        ytd.close / base.close - 1 as computed_value,
        printf(
            '%.2f on %s / %.2f on %s (last close of the previous year) - 1 = %+.2f%%',
            ytd.close, ytd.trade_date, base.close, base.trade_date, (ytd.close / base.close - 1) * 100
        ) as detail
    from (
        select *, date_trunc('year', as_of_date)::date as year_start
        from on_day
        where metric = 'ytd_return' and close is not null
    ) as ytd
    asof inner join prices as base
        on base.ticker = ytd.ticker and ytd.year_start > base.trade_date
),

day_figures as (
    select
        claim_id,
        case metric
            when 'day_return' then day_return
            when 'point_change' then close - previous_close
            when 'low_return' then low / previous_close - 1
        end as computed_value,
        case metric
            when 'low_return' then printf(
                'low %.2f on %s / close %.2f on %s - 1 = %+.2f%%',
                low, trade_date, previous_close, previous_date, (low / previous_close - 1) * 100
            )
            else printf(
                'close %.2f on %s against %.2f on %s: %+.2f points, %+.2f%%',
                close, trade_date, previous_close, previous_date, close - previous_close, day_return * 100
            )
        end as detail
    from on_day
    where metric in ('day_return', 'point_change', 'low_return') and previous_close is not null
),

worse_figures as (
    select
        on_day.claim_id,
        case when coverage.first_date <= on_day.start_date then
            count(span.trade_date) filter (where span.day_return < on_day.day_return)
        end::double as computed_value,
        case
            when coverage.first_date > on_day.start_date then printf(
                '%s is stored from %s, after the span''s start %s', on_day.ticker, coverage.first_date,
                on_day.start_date
            )
            else printf(
                '%+.2f%% on %s; %d sessions from %s to %s, %d of them worse; the last worse day before it: %s',
                on_day.day_return * 100, on_day.as_of_date, count(span.trade_date), on_day.start_date,
                max(span.trade_date), count(span.trade_date) filter (where span.day_return < on_day.day_return),
                coalesce((
                    select printf('%s (%+.2f%%)', worse.trade_date, worse.day_return * 100)
                    from sessions as worse
                    where worse.ticker = on_day.ticker
                        and worse.trade_date < on_day.as_of_date
                        and worse.day_return < on_day.day_return
                    order by worse.trade_date desc
                    limit 1
                ), 'none stored')
            )
        end as detail
    from on_day
    inner join coverage
        on coverage.ticker = on_day.ticker
    left join sessions as span
        on span.ticker = on_day.ticker
        and span.trade_date >= on_day.start_date
        and span.trade_date < on_day.as_of_date
    where on_day.metric = 'worse_sessions' and on_day.day_return is not null
    group by on_day.claim_id, on_day.ticker, on_day.start_date, on_day.as_of_date, on_day.day_return,
        coverage.first_date
),

record_figures as (
    select
        on_day.claim_id,
        case on_day.metric
            when 'record_close' then (on_day.close > on_day.prior_max_close)::int
            else (on_day.high > on_day.prior_max_high)::int
        end::double as computed_value,
        case on_day.metric
            when 'record_close' then printf(
                'close %.2f on %s; the highest earlier close %.2f on %s (%s stored from %s)',
                on_day.close, on_day.trade_date, on_day.prior_max_close, on_day.prior_max_close_date,
                on_day.ticker, coverage.first_date
            )
            else printf(
                'high %.2f on %s; the highest earlier high %.2f on %s (%s stored from %s)',
                on_day.high, on_day.trade_date, on_day.prior_max_high, on_day.prior_max_high_date,
                on_day.ticker, coverage.first_date
            )
        end as detail
    from on_day
    inner join coverage
        on coverage.ticker = on_day.ticker
    where on_day.metric in ('record_close', 'record_high') and on_day.prior_max_close is not null
),

max_figures as (
    -- the stored span must cover the claim's, or the highest close may lie in the gap
    select
        claims.claim_id,
        case when covered then max(prices.close) end as computed_value,
        case
            when covered then printf(
                'highest close %.2f on %s, from %s to %s', max(prices.close),
                arg_max(prices.trade_date, prices.close), min(prices.trade_date), max(prices.trade_date)
            )
            else printf(
                '%s is stored from %s to %s, which does not cover %s to %s', claims.ticker,
                coverage.first_date, coverage.last_date, coalesce(claims.start_date::varchar, 'its first session'),
                claims.as_of_date
            )
        end as detail
    from (
        select claims.*, coverage.first_date, coverage.last_date,
            coverage.last_date >= claims.as_of_date
            and coverage.first_date <= coalesce(claims.start_date, coverage.first_date) as covered
        from claims
        inner join coverage
            on coverage.ticker = claims.ticker
        where claims.metric = 'max_close'
    ) as claims
    inner join coverage
        on coverage.ticker = claims.ticker
    left join prices
        on prices.ticker = claims.ticker
        and prices.trade_date between coalesce(claims.start_date, coverage.first_date) and claims.as_of_date
    group by claims.claim_id, claims.ticker, claims.start_date, claims.as_of_date, claims.covered,
        coverage.first_date, coverage.last_date
),

years_back as (
    select unnest(range(0, 200)) as years_back
),

year_spans as (
    -- the same span in every year the ticker's history reaches: previous year's last close to
    -- as_of_date's day of the year (to_years keeps 29 February inside February)
    select
        on_day.claim_id,
        on_day.ticker,
        on_day.claimed_value,
        coverage.first_date,
        years_back.years_back,
        (on_day.as_of_date - to_years(years_back.years_back::integer))::date as span_end,
        date_trunc('year', on_day.as_of_date - to_years(years_back.years_back::integer))::date as year_start
    from on_day
    inner join coverage
        on coverage.ticker = on_day.ticker
    inner join years_back
        on years_back.years_back <= year(on_day.as_of_date) - year(coverage.first_date)
    where on_day.metric = 'years_since_stronger_start' and on_day.close is not null
),

span_ends as (
    select year_spans.*, ends.trade_date as end_date, ends.close as end_close
    from year_spans
    asof inner join prices as ends
        on ends.ticker = year_spans.ticker and year_spans.span_end >= ends.trade_date
),

span_returns as (
    select
        span_ends.*,
        bases.trade_date as base_date,
        span_ends.end_close / bases.close - 1 as span_return
    from span_ends
    asof inner join prices as bases
        on bases.ticker = span_ends.ticker and span_ends.year_start > bases.trade_date
    -- a year without a session between its start and the span's end has no span
    where span_ends.end_date >= span_ends.year_start
),

stronger_figures as (
    select
        this_year.claim_id,
        coalesce(
            min(earlier.years_back) filter (where earlier.span_return >= this_year.span_return),
            case when count(earlier.years_back) >= this_year.claimed_value then count(earlier.years_back) end
        )::double as computed_value,
        printf(
            '%+.2f%% from %s to %s; %s',
            this_year.span_return * 100, this_year.base_date, this_year.end_date,
            coalesce(
                printf(
                    'the latest year at least as strong: %d (%+.2f%%)',
                    year(max(earlier.span_end) filter (where earlier.span_return >= this_year.span_return)),
                    arg_max(earlier.span_return, earlier.span_end) filter (where earlier.span_return >= this_year.span_return) * 100
                ),
                printf(
                    'stronger than all %d earlier years stored (from %d)%s', count(earlier.years_back),
                    year(min(earlier.span_end)),
                    case when count(earlier.years_back) < this_year.claimed_value
                        then printf(': too short a history to decide %d years', this_year.claimed_value::integer)
                        else ''
                    end
                )
            )
        ) as detail
    from span_returns as this_year
    left join span_returns as earlier
        on earlier.claim_id = this_year.claim_id and earlier.years_back > 0
    where this_year.years_back = 0
    group by this_year.claim_id, this_year.span_return, this_year.base_date, this_year.end_date,
        this_year.claimed_value
),

upside_figures as (
    select
        claim_id,
        target_level / close - 1 as computed_value,
        printf('target %.2f / close %.2f on %s - 1 = %+.2f%%', target_level, close, trade_date, (target_level / close - 1) * 100)
            as detail
    from on_day
    where metric = 'upside_to_target' and close is not null
),

figures as (
    select * from close_figures
    union all select * from return_figures
    union all select * from ytd_figures
    union all select * from day_figures
    union all select * from worse_figures
    union all select * from record_figures
    union all select * from max_figures
    union all select * from stronger_figures
    union all select * from upside_figures
),

needed_dates as (
    -- the sessions each claim reads, to name the missing ones when it has no figure
    select claim_id, ticker, as_of_date as needed_date from claims where metric <> 'max_close'
    union all
    select claim_id, ticker, start_date from claims where metric = 'price_return'
),

missing_dates as (
    select
        needed_dates.claim_id,
        string_agg(strftime(needed_dates.needed_date, '%Y-%m-%d'), ', ' order by needed_dates.needed_date) as dates
    from needed_dates
    left join prices
        on prices.ticker = needed_dates.ticker and prices.trade_date = needed_dates.needed_date
    where prices.trade_date is null
    group by needed_dates.claim_id
)

select
    claims.claim_id,
    figures.computed_value,
    'core.prices_daily ' || claims.ticker as evidence,
    coalesce(
        figures.detail,
        case
            when coverage.ticker is null then 'no ' || claims.ticker || ' prices stored'
            when missing_dates.dates is not null then printf(
                'no %s close on %s (%s stored from %s to %s)', claims.ticker, missing_dates.dates,
                claims.ticker, coverage.first_date, coverage.last_date
            )
            else printf(
                'no %s session before the one it needs (%s stored from %s to %s)', claims.ticker,
                claims.ticker, coverage.first_date, coverage.last_date
            )
        end
    ) as detail
from claims
left join figures
    on figures.claim_id = claims.claim_id
left join coverage
    on coverage.ticker = claims.ticker
left join missing_dates
    on missing_dates.claim_id = claims.claim_id
order by claims.claim_id
