create schema if not exists core;

-- One observation per FRED series and date, as FRED published it (daily, or monthly for CPI and
-- unemployment). A value FRED publishes as '.' or an empty cell is not stored: there is no row.
create table if not exists core.rates_daily (
    series_id varchar not null,  -- FRED series id, e.g. DFF, DFEDTARU, DGS10, CPIAUCSL
    obs_date  date    not null,  -- the observation's date (the first day of the month for monthly series)
    value     double  not null,  -- the value in the series' own units: percent for rates and spreads, an index for CPI
    source    varchar not null,  -- live | files | sample
    loaded_at timestamp with time zone not null,  -- when this version of the row was written
    primary key (series_id, obs_date)
);

-- The policy rate on every calendar day from 1990: rebuilt from core.rates_daily by
-- warehouse/rates.py. DFEDTAR (a single target, to 2008-12-15) is spliced with the target range
-- DFEDTARL/DFEDTARU (from 2008-12-16); a day FRED skipped keeps the target then in force.
create table if not exists core.policy_rate_daily (
    calendar_date       date    not null primary key,  -- every calendar day, weekends and holidays included
    target_lower        double  not null,  -- lower bound of the fed funds target range, percent; before 2008-12-16 the single target
    target_upper        double  not null,  -- upper bound of the target range, percent; before 2008-12-16 the single target
    target_mid          double  not null,  -- midpoint of the range (the single target before 2008-12-16)
    target_kind         varchar not null,  -- 'single' (DFEDTAR) or 'range' (DFEDTARL and DFEDTARU)
    effective           double,            -- effective fed funds rate of the day (DFF), percent; NULL when FRED has none
    effective_in_range  boolean,           -- effective between the bounds, inclusive; before 2008-12-16 only when it equalled the target; NULL without DFF
    effective_spread_bp double             -- effective minus target_mid, in basis points; NULL without DFF
);

-- Every change of the fed funds target from 1990, derived from core.policy_rate_daily: one row
-- per change, dated on the first day the new target was in force.
create table if not exists core.fomc_decisions (
    effective_date date    not null primary key,  -- the first day the new target was in force
    target_lower   double  not null,  -- new lower bound, percent (the single target before 2008-12-16)
    target_upper   double  not null,  -- new upper bound, percent (the single target before 2008-12-16)
    previous_lower double  not null,  -- lower bound the day before
    previous_upper double  not null,  -- upper bound the day before
    change_bp      integer not null,  -- change of the upper bound in basis points, negative for a cut (2008-12-16, single 1.00 to 0-0.25: -75)
    direction      varchar not null,  -- 'cut' or 'hike'
    cycle_start    date    not null,  -- effective_date of the first move of its cycle: a run of hikes, or an easing cycle (a cut after a hike or more than easing_cycle_gap_days after the previous cut)
    target_kind    varchar not null   -- 'single' or 'range': the kind of target after the change
);

-- The decisions as the Federal Reserve published them: config/fomc_decisions.csv, edited by hand
-- and replaced whole on every load. The check on core.fomc_decisions compares the two.
create table if not exists core.fomc_reference (
    effective_date date    not null primary key,  -- the first day the new target was in force
    target_lower   double  not null,  -- new lower bound, percent (the single target before 2008-12-16)
    target_upper   double  not null,  -- new upper bound, percent (the single target before 2008-12-16)
    change_bp      integer not null,  -- change of the upper bound in basis points, negative for a cut
    notes          varchar,           -- free text from the file, e.g. 'intermeeting move'
    line_number    integer not null   -- the line of config/fomc_decisions.csv the row came from
);
