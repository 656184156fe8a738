create schema if not exists core;

-- Published claims about the rotation, as config/claims.csv lists them: edited by hand, read by
-- warehouse/claims.py and replaced whole on every load (a table of an older shape is dropped and
-- made again by the loader). The marts claims_<family> compute each claim's figure and
-- marts.claims grades it.
create table if not exists core.published_claims (
    claim_id          varchar not null primary key,  -- short unique name of the claim under one reading, e.g. rut_close_2026_01_08
    publisher         varchar not null,  -- who published it: a newspaper, a broker, a data provider
    source_ref        varchar not null,  -- where: the article's URL, or its title when there is no URL
    published_on      date,              -- the day it was published, when known; a claim about a later day is a forecast
    metric            varchar not null,  -- what it measures: one of the metric kinds of warehouse/claims.py (close, price_return, fed_cuts_in_cycle, ...)
    subject           varchar,           -- the ticker (^RUT), pair (^RUT/^GSPC) or FRED series (CPIAUCSL) it is about; NULL for the Fed metrics
    start_date        date,              -- the start of the span the metric reads (the base session of a price_return); NULL when it reads none
    as_of_date        date    not null,  -- the day the value refers to: the session of a close, the end session of a return, the day of a Fed target
    claimed_value     double  not null,  -- the value as published, in the metric's unit: returns as fractions (0.0469), Fed rates in percent (3.50)
    tolerance         double  not null,  -- how far the figure may be from claimed_value and the claim still holds, same unit
    reading           varchar,           -- how the story's words are read: which dates, which base, which series
    words             varchar,           -- the story's words, quoted
    comparison        varchar not null,  -- about, at_least, at_most, above or below: how the figure is compared with claimed_value
    close_tolerance   double,            -- relative to claimed_value: within it of holding the verdict is 'close'; NULL: never 'close'
    target_level      double,            -- the price target an upside_to_target claim measures to; NULL for every other metric
    claimed_precision double  not null,  -- the unit of the last digit claimed_value is written with (2603.90: 0.01), for 'holds as rounded'
    line_number       integer not null   -- the line of config/claims.csv the row came from
);
