/*
description: >
  The Treasury yield curve and the high-yield credit spread, one row per date on which FRED
  published a 10-year yield (DGS10). The 3-month and 2-year yields are those of the same date
  (NULL when not published that day). The 10y-2y spread is FRED's own T10Y2Y where it is published
  for the date and dgs10 - dgs2 otherwise (a date T10Y2Y lacks, or a warehouse without that
  series). The high-yield option-adjusted spread (BAMLH0A0HYM2) is taken as of the date: its
  latest observation on or before it, so a date without a print carries the previous one. The
  changes compare a row with the row curve_change_window (config/models.toml, 63 by default) rows
  of this table earlier and are NULL until that many earlier rows exist. Values in percent; computed
  differences are rounded to 6 decimals (FRED publishes 2) to drop floating-point noise.
date_column: obs_date
unique_key: [obs_date]
columns:
  obs_date: date | date of the DGS10 observation
  dgs3mo: double | 3-month Treasury constant-maturity yield that date, percent; NULL when not published
  dgs2: double | 2-year Treasury constant-maturity yield that date, percent; NULL when not published
  dgs10: double | 10-year Treasury constant-maturity yield that date, percent
  spread_10y2y: double | 10-year minus 2-year yield, percentage points - FRED's T10Y2Y where published that date, else dgs10 - dgs2; NULL when neither is available
  spread_change_63d: double | spread_10y2y minus spread_10y2y of the row curve_change_window (config/models.toml, 63) observations earlier; NULL until that many earlier rows exist or when either is NULL
  hy_spread: double | ICE BofA US high-yield option-adjusted spread (BAMLH0A0HYM2) as of the date - its latest observation on or before it, percent; NULL before its first observation
  hy_spread_change_63d: double | hy_spread minus hy_spread of the row curve_change_window (config/models.toml, 63) observations earlier; NULL until that many earlier rows exist or when either is NULL
  curve_steepening: boolean | spread_change_63d > 0 - the 10y-2y spread widened over the window; NULL when spread_change_63d is NULL
key_metrics: [spread_10y2y, hy_spread]
headline:
  spread_10y2y_latest: select spread_10y2y from marts.yield_curve where spread_10y2y is not null order by obs_date desc limit 1
  hy_spread_latest: select hy_spread from marts.yield_curve where hy_spread is not null order by obs_date desc limit 1
*/
with rates as (
    select series_id, obs_date, value
    from core.rates_daily
    where series_id in ('DGS3MO', 'DGS2', 'DGS10', 'T10Y2Y', 'BAMLH0A0HYM2')
        and value is not null
),

-- one row per date any of the series was published, the series side by side
by_date as (
    select
        obs_date,
        max(value) filter (where series_id = 'DGS3MO') as dgs3mo,
        max(value) filter (where series_id = 'DGS2') as dgs2,
        max(value) filter (where series_id = 'DGS10') as dgs10,
        max(value) filter (where series_id = 'T10Y2Y') as t10y2y,
        max(value) filter (where series_id = 'BAMLH0A0HYM2') as hy_print
    from rates
    group by obs_date
),

-- the credit spread is published on its own calendar (dates without a Treasury print and the
-- reverse), so it is carried forward over every date before the curve's dates are kept: each
-- then holds the latest print on or before it. (A window rather than an ASOF join: DuckDB's
-- get_table_names, which reads the model's dependencies, cannot parse ASOF joins.)
carried as (
    select
        *,
        last_value(hy_print ignore nulls) over (
            order by obs_date rows between unbounded preceding and current row
        ) as hy_spread
    from by_date
),

-- the curve's dates are DGS10's; the spread falls back on the two yields where FRED has no T10Y2Y
curve as (
    select
        obs_date,
        dgs3mo,
        dgs2,
        dgs10,
        -- FRED publishes two decimals: rounding the difference drops floating-point noise
        -- (4.19 - 3.69 is 0.5000000000000004), which would otherwise make a flat spread "change"
        coalesce(t10y2y, round(dgs10 - dgs2, 6)) as spread_10y2y,
        hy_spread
    from carried
    where dgs10 is not null
),

-- lag counts this table's rows, i.e. DGS10 observations, after the filter above; the changes
-- are rounded for the same reason as the spread, so an unchanged spread is 0, not steepening
changes as (
    select
        *,
        round(spread_10y2y - lag(spread_10y2y, {{ curve_change_window }}) over (order by obs_date), 6)
            as spread_change_63d,
        round(hy_spread - lag(hy_spread, {{ curve_change_window }}) over (order by obs_date), 6)
            as hy_spread_change_63d
    from curve
)

select
    obs_date,
    dgs3mo,
    dgs2,
    dgs10,
    spread_10y2y,
    spread_change_63d,
    hy_spread,
    hy_spread_change_63d,
    spread_change_63d > 0 as curve_steepening
from changes
order by obs_date
