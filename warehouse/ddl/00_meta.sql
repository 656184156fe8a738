-- Facts about the warehouse file itself.
create schema if not exists meta;

-- What kind of data this file holds: 'real' (live and files sources) or 'sample' (synthetic).
-- Written once when the first rows are loaded; the loader refuses to mix the two.
create table if not exists meta.warehouse_info (
    key varchar primary key,  -- e.g. 'flavour'
    value varchar not null    -- e.g. 'real' or 'sample'
);
