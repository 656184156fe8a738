create schema if not exists core;

-- The members of each configured index ([indexes] in config/universe.toml), one snapshot per
-- index and day: the equity holdings of the fund that tracks it, as its holdings file listed them
-- that day. Membership on a session is the latest snapshot on or before it; before an index's
-- first snapshot there is none. A load replaces a whole snapshot (index_id, as_of_date).
create table if not exists core.index_members (
    index_id       varchar not null,  -- the index, as [indexes.<id>] in config/universe.toml names it, e.g. russell_2000
    as_of_date     date    not null,  -- the NYSE session the snapshot describes: the "Fund Holdings as of" date of the holdings file
    ticker         varchar not null,  -- the member's Yahoo symbol (class shares with their separator: MOG-A, BRK-B)
    holding_ticker varchar not null,  -- the ticker as the holdings file writes it (MOGA, BRKB)
    name           varchar,           -- the security's name in the holdings file
    sector         varchar,           -- the sector the holdings file gives (GICS sector names; Communication for Communication Services)
    weight         double,            -- share of the fund's market value held in the member, a fraction (0.0193 = 1.93%); NULL when the file has none
    source         varchar not null,  -- live | files | sample
    loaded_at      timestamp with time zone not null  -- when this snapshot was written
);
-- Unique on (index_id, as_of_date, ticker): a snapshot is written whole by the loader
-- (warehouse/members.py) and a blocking check verifies the key.
