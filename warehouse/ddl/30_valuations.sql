create schema if not exists core;

-- Valuation figures (P/E, P/B, ...) per day, ticker and metric, with how each was made.
-- Free sources give valuations only as of today, so the live source snapshots them every session
-- and the history builds up here; figures published before the warehouse existed come from
-- config/published_valuations.csv. Words allowed and how to read them: warehouse/valuation_terms.py.
create table if not exists core.valuations (
    as_of_date date    not null,  -- the day the figure describes: the NYSE session of a snapshot, a period end, or the day a publisher's figure refers to
    ticker     varchar not null,  -- Yahoo symbol as in config/universe.toml (IWM, ^RUT, ^GSPC, ^SP600), or a pair SMALL/LARGE (^RUT/^GSPC) for discounts
    metric     varchar not null,  -- <measure>_<basis>, e.g. pe_trailing, pe_forward, holdings_pe_trailing, pe_discount_forward
    value      double  not null,  -- the figure: a ratio (18.11 for 18.11x), or a fraction for discounts (0.19 = small caps 19% cheaper)
    basis      varchar not null,  -- trailing (reported earnings, book, sales) or forward (estimates); repeats the metric's suffix
    method     varchar not null,  -- how it was made: provider_field, holdings_average, aggregate, ex_negative_earnings, relative, historical_average, unstated, synthetic
    publisher  varchar,           -- who computed the figure (Yahoo Finance, a newspaper, an index provider); NULL when the files source does not say
    url        varchar,           -- where the figure can be checked, for published ones
    notes      varchar,           -- the provider's field name, or how a vague date or basis was read
    source     varchar not null,  -- live | files | sample | published (rows of config/published_valuations.csv)
    loaded_at  timestamp with time zone not null,  -- when this version of the row was written
    primary key (as_of_date, ticker, metric, source)
);
