"""The one way rows enter a core table: staged, validated, quarantined, upserted, in one transaction.

Idempotent by construction: a row whose values did not change is left alone (its `loaded_at`
too), so loading the same data twice gives identical tables.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import duckdb
import pandas as pd
import pyarrow as pa

from warehouse.db import claim_flavour, transaction


@dataclass(frozen=True)
class TableSpec:
    """How to upsert into one core table."""

    name: str  # e.g. core.prices_daily
    key: tuple[str, ...]
    values: tuple[str, ...]
    # (reason, SQL predicate over the staged row): a row matching any rule is quarantined.
    rules: tuple[tuple[str, str], ...] = ()


@dataclass
class LoadResult:
    table: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def written(self) -> int:
        return self.inserted + self.updated


QUARANTINE_COLUMNS = ["key", "reason", "origin", "payload"]


def empty_rejects() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="str") for c in QUARANTINE_COLUMNS})


def upsert(
    conn: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    rows: pd.DataFrame | pa.Table,
    *,
    source: str,
    run_id: str | None = None,
    rejects: pd.DataFrame | None = None,
    now: dt.datetime | None = None,
) -> LoadResult:
    """Validate `rows` and merge them into `spec.name`, all in one transaction.

    `rejects` are rows the source already refused (an unparseable date, say): they go to the
    quarantine with the batch, so a load reports everything it did not take.
    """
    now = now or dt.datetime.now(dt.UTC)
    # `source` may be part of a table's key (one figure from several sources); it is then not a
    # column of `rows` but the value given here, stamped on every row like in any other table.
    row_key = tuple(k for k in spec.key if k != "source")
    columns = [*row_key, *spec.values]
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pandas(rows, preserve_index=False)
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise ValueError(f"rows for {spec.name} lack the columns {missing}")
    table = table.select(columns)
    result = LoadResult(spec.name)
    with transaction(conn):
        claim_flavour(conn, source)
        conn.register("_incoming", table)
        try:
            _merge(conn, spec, row_key, columns, source, run_id, now, result)
        finally:
            conn.unregister("_incoming")

        if rejects is not None and len(rejects):
            rejects = rejects.reindex(columns=QUARANTINE_COLUMNS)
            conn.register("_rejects", pa.Table.from_pandas(rejects.astype("object"), preserve_index=False))
            try:
                conn.execute(
                    f"insert into core.quarantine select '{spec.name}', key, reason, origin, "
                    "payload, ?, ?, ? from _rejects",
                    [source, run_id, now],
                )
            finally:
                conn.unregister("_rejects")
            for reason, count in rejects["reason"].value_counts().items():
                result.quarantine_reasons[reason] = result.quarantine_reasons.get(reason, 0) + int(count)
                result.quarantined += int(count)
    return result


def _merge(conn, spec: TableSpec, row_key, columns, source, run_id, now, result: LoadResult) -> None:
    """Quarantine the bad rows of `_incoming` and merge the good ones into the table.

    Written for bulk loads: the batch is scanned in place (Arrow, no copy), only keys given more
    than once are aggregated, and there is no ON CONFLICT: changed rows are deleted and inserted
    again, which also works on tables without a primary-key index.
    """
    cols = ", ".join(columns)
    on_key = " and ".join(f"i.{k} = d.{k}" for k in row_key)
    key_text = " || ' ' || ".join(f"coalesce(cast({k} as varchar), 'NULL')" for k in row_key)
    # Keys given more than once; with different values they are a conflict and neither is kept.
    keys = ", ".join(row_key)
    conn.execute(
        f"""
        create or replace temp table _dupkeys as
        with repeated as (select {keys} from _incoming group by all having count(*) > 1)
        select {", ".join(f"r.{k}" for k in row_key)},
               count(distinct struct_pack({", ".join(f"i.{c}" for c in columns)})) > 1 as conflict
        from repeated r join _incoming i on {" and ".join(f"i.{k} = r.{k}" for k in row_key)}
        group by all
        """
    )
    reasons = [
        ("a key column is NULL", " or ".join(f"{k} is null" for k in row_key)),
        *spec.rules,
        ("the same key appears more than once in this batch with different values", "_conflict"),
    ]
    reason = "case " + " ".join(f"when {pred} then '{why}'" for why, pred in reasons) + " end"
    # The rules see the batch's own column names, plus _conflict for keys given twice.
    batch = f"(select i.*, d.conflict as _conflict from _incoming i left join _dupkeys d on {on_key}) b"
    conn.execute(
        f"""
        create or replace temp table _rejected as
        select {key_text} as key, {reason} as reason, to_json(struct_pack({cols}))::varchar as payload
        from {batch} where {reason} is not null
        """
    )
    conn.execute(
        f"insert into core.quarantine select '{spec.name}', key, reason, null, payload, ?, ?, ? "
        "from _rejected",
        [source, run_id, now],
    )
    for why, count in conn.execute(
        "select reason, count(*) from _rejected group by 1 order by 1"
    ).fetchall():
        result.quarantine_reasons[why] = count
        result.quarantined += count
    # The good rows: as given, with exact repeats of a row kept once.
    good = cols
    literal = "'" + source.replace("'", "''") + "'"  # a view cannot take parameters
    conn.execute(
        f"""
        create or replace temp view _valid as
        select {good}, {literal} as source from {batch} where {reason} is null and _conflict is null
        union all
        select distinct {good}, {literal} as source
        from {batch} where {reason} is null and _conflict is not null
        """
    )

    target_rows = conn.execute(f"select count(*) from (select 1 from {spec.name} limit 1)").fetchall()[0][0]
    join = " and ".join(f"t.{k} = s.{k}" for k in spec.key)
    compared = [*spec.values, "source"]
    differs = " or ".join(f"t.{c} is distinct from s.{c}" for c in compared)
    insert = f"insert into {spec.name} ({cols}, source, loaded_at) select {cols}, source, ? from _valid s"
    if target_rows == 0:
        # A first load: nothing to compare with.
        result.inserted = conn.execute(f"{insert}", [now]).fetchall()[0][0]
    else:
        result.inserted, result.updated, result.unchanged = conn.execute(
            f"""
            select count(*) filter (where t.{spec.key[0]} is null),
                   count(*) filter (where t.{spec.key[0]} is not null and ({differs})),
                   count(*) filter (where t.{spec.key[0]} is not null and not ({differs}))
            from _valid s left join {spec.name} t on {join}
            """
        ).fetchall()[0]
        if result.updated:
            conn.execute(f"delete from {spec.name} t using _valid s where {join} and ({differs})")
        if result.inserted or result.updated:
            conn.execute(f"{insert} where not exists (select 1 from {spec.name} t where {join})", [now])
    conn.execute("drop view _valid")
    conn.execute("drop table _dupkeys")
    conn.execute("drop table _rejected")


def rejects_frame(records: list[dict]) -> pd.DataFrame:
    """Build a rejects frame from dicts with key, reason, origin and the raw row as `payload`."""
    if not records:
        return empty_rejects()
    out = pd.DataFrame.from_records(records)
    out["payload"] = [json.dumps(p, default=str) if not isinstance(p, str) else p for p in out["payload"]]
    return out.reindex(columns=QUARANTINE_COLUMNS)
