create schema if not exists core;

-- Published claims about the rotation, as config/claims.csv lists them: edited by hand, read by
-- warehouse/claims.py and replaced whole on every load. marts.claims checks each against the data.
create table if not exists core.published_claims (
    claim_id      varchar not null primary key,  -- short unique name of the claim, e.g. rut_close_2026_01_08
    publisher     varchar not null,  -- who published it: a newspaper, a broker, a data provider
    source_ref    varchar not null,  -- where: the article's URL, or its title when there is no URL
    published_on  date,              -- the day it was published, when known
    metric        varchar not null,  -- what it measures: one of the metric kinds of warehouse/claims.py (close, price_return, ytd_return, ...)
    subject       varchar,           -- the ticker (e.g. ^RUT) or pair (e.g. ^RUT/^GSPC) it is about; NULL for the Fed metrics
    start_date    date,              -- base session of a price_return claim (its close is the base); NULL for every other metric
    as_of_date    date    not null,  -- the day the value refers to: the session of a close, the end session of a return, the day of a Fed target
    claimed_value double  not null,  -- the value as published, in the metric's unit: returns and discounts as fractions (0.0469), Fed rates in percent (3.50)
    tolerance     double  not null,  -- how far the computed value may be from claimed_value and the claim still holds, same unit
    notes         varchar,           -- the reading chosen where the account is ambiguous (which dates, which base)
    line_number   integer not null   -- the line of config/claims.csv the row came from
);
