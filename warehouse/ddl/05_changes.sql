-- What changed in which relation, so SQL models rebuild only the dates a load touched.
create schema if not exists meta;

-- One row per write: every loader and every model build appends one.
create table if not exists meta.changes (
    change_id    bigint primary key,  -- increasing; a model remembers the last one it has seen
    relation     varchar not null,    -- schema-qualified, e.g. core.prices_daily
    changed_from date,                -- earliest date whose rows were written; NULL: the whole relation may have changed
    run_id       varchar,             -- the Dagster run that wrote it, when known
    changed_at   timestamp with time zone not null  -- when
);

-- The state of each SQL model's table after its last build.
create table if not exists meta.model_builds (
    relation       varchar primary key,  -- e.g. marts.highs_drawdowns
    sql_hash       varchar not null,     -- hash of the rendered SQL: a new file or parameter forces a full build
    last_change_id bigint not null,      -- every change up to this one is in the table
    mode           varchar not null,     -- full | incremental | unchanged
    rebuilt_from   date,                 -- first date rewritten by an incremental build; NULL for a full one
    built_at       timestamp with time zone not null  -- when
);
