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
    key_sql = ", ".join(row_key)
    key_text = " || ' ' || ".join(f"coalesce(cast({k} as varchar), 'NULL')" for k in row_key)

    with transaction(conn):
        claim_flavour(conn, source)
        conn.register("_incoming", table)
        try:
            conn.execute("create or replace temp table _stage as select distinct * from _incoming")
        finally:
            conn.unregister("_incoming")

        # A key given twice with different values in one batch: neither can be trusted.
        reasons = [
            *spec.rules,
            (
                "the same key appears more than once in this batch with different values",
                f"({key_sql}) in (select {key_sql} from _stage group by all having count(*) > 1)",
            ),
            ("a key column is NULL", " or ".join(f"{k} is null" for k in row_key)),
        ]
        case = " ".join(f"when {pred} then '{reason}'" for reason, pred in reasons)
        conn.execute(
            f"create or replace temp table _checked as "
            f"select *, case {case} else null end as _reason from _stage"
        )
        conn.execute(
            f"""
            insert into core.quarantine
            select '{spec.name}', {key_text}, _reason, null,
                   to_json(struct_pack({", ".join(columns)}))::varchar, ?, ?, ?
            from _checked where _reason is not null
            """,
            [source, run_id, now],
        )
        for reason, count in conn.execute(
            "select _reason, count(*) from _checked where _reason is not null group by 1 order by 1"
        ).fetchall():
            result.quarantine_reasons[reason] = count
            result.quarantined += count

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

        compared = [*spec.values, "source"]
        join = " and ".join(f"t.{k} = s.{k}" for k in spec.key)
        differs = " or ".join(f"t.{c} is distinct from s.{c}" for c in compared)
        counts = conn.execute(
            f"""
            select count(*) filter (where t.{spec.key[0]} is null),
                   count(*) filter (where t.{spec.key[0]} is not null and ({differs})),
                   count(*) filter (where t.{spec.key[0]} is not null and not ({differs}))
            from (select *, ? as source from _checked where _reason is null) s
            left join {spec.name} t on {join}
            """,
            [source],
        ).fetchone()
        result.inserted, result.updated, result.unchanged = counts

        excluded_differs = " or ".join(f"{spec.name}.{c} is distinct from excluded.{c}" for c in compared)
        assignments = ", ".join(f"{c} = excluded.{c}" for c in [*compared, "loaded_at"])
        conn.execute(
            f"""
            insert into {spec.name} ({", ".join(columns)}, source, loaded_at)
            select {", ".join(columns)}, ?, ? from _checked where _reason is null
            on conflict ({", ".join(spec.key)}) do update set {assignments}
            where {excluded_differs}
            """,
            [source, now],
        )
        conn.execute("drop table _stage")
        conn.execute("drop table _checked")
    return result


def rejects_frame(records: list[dict]) -> pd.DataFrame:
    """Build a rejects frame from dicts with key, reason, origin and the raw row as `payload`."""
    if not records:
        return empty_rejects()
    out = pd.DataFrame.from_records(records)
    out["payload"] = [json.dumps(p, default=str) if not isinstance(p, str) else p for p in out["payload"]]
    return out.reindex(columns=QUARANTINE_COLUMNS)
