create schema if not exists core;

-- One daily bar per ticker and NYSE session, as the source published it.
create table if not exists core.prices_daily (
    ticker     varchar not null,  -- Yahoo symbol, e.g. IWM or ^RUT
    trade_date date    not null,  -- the NYSE session (exchange-local date)
    open       double,            -- raw session open (NULL when the source gives only closes)
    high       double,            -- raw session high
    low        double,            -- raw session low
    close      double  not null,  -- raw close, not adjusted for dividends
    adj_close  double  not null,  -- close adjusted for dividends and splits (equals close when the source has no adjustment)
    volume     double,            -- shares (or the index's reported volume), NULL when absent
    source     varchar not null,  -- live | files | sample
    loaded_at  timestamp with time zone not null  -- when this version of the row was written
);
-- Unique on (ticker, trade_date): the loader never writes a key twice and a blocking check
-- verifies it. There is no primary-key index: maintaining it made bulk loads four times slower
-- (2.5 s against 0.66 s for 4.5 million rows), see BENCHMARKS.md.

-- Rows refused at load (NULL or non-positive close, unparseable date, duplicate key in one batch).
-- They never enter a core table; each keeps the reason, where it came from and the run.
create table if not exists core.quarantine (
    target_table   varchar not null,  -- the core table the row was meant for
    key            varchar,           -- the row's key as text, e.g. 'IWM 2024-01-02'
    reason         varchar not null,  -- why it was refused
    origin         varchar,           -- file and line, or the source's name for the row
    payload        varchar,           -- the row as received, JSON
    source         varchar not null,  -- live | files | sample
    run_id         varchar,           -- the Dagster run that tried to load it
    quarantined_at timestamp with time zone not null  -- when it was refused
);
