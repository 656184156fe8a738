"""The one way rows enter a core table: staged, validated, quarantined, upserted, in one transaction.

Fault isolation: a row that fails a rule of its table (TableSpec.rules, a NULL key, a date that is
no NYSE session, a key given twice with different values) goes to core.quarantine with the
reason, the source, and the file and line when the batch carries them (ORIGIN_COLUMNS); the rest
of the batch loads. A table whose spec logs its batches (TableSpec.batch_log_by) records, per
ticker, how many rows the load was given and how many it refused (meta.load_batches), so a check
can tell one bad bar from a broken source.

Idempotent by construction: a row whose values did not change is left alone (its `loaded_at`
too), so loading the same data twice gives identical tables; a row refused again is not added to
the quarantine twice (its run and time become those of the latest load that refused it). Every
write records its change in meta.changes (warehouse/changes.py) in the same transaction; a write
that changed nothing records nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from warehouse import calendar, changes
from warehouse.db import claim_flavour, transaction
from warehouse.lake import CONFLICT_RETRIES, is_lake, retrying

# Optional columns of a batch naming where each row came from (a file and its line): they are not
# stored in the table, only written to core.quarantine's `origin` for the rows refused.
ORIGIN_COLUMNS = ("origin_file", "origin_line")

# The last load of each table whose spec logs its batches, and of each of its tickers.
BATCH_LOG = "meta.load_batches"
BATCH_LOG_DDL = f"""
create table if not exists {BATCH_LOG} (
    relation   varchar not null,  -- the core table loaded, e.g. core.prices_daily
    part       varchar,           -- the ticker (TableSpec.batch_log_by); NULL: the whole batch
    run_id     varchar,           -- the run of that load
    received   bigint not null,   -- rows given to the load (for the whole batch: source rejects too)
    rejected   bigint not null,   -- rows of them quarantined
    table_rows bigint,            -- whole batch only: rows in the table after the load
    loaded_at  timestamp with time zone not null  -- when
)
"""


@dataclass(frozen=True)
class TableSpec:
    """How to upsert into one core table."""

    name: str  # e.g. core.prices_daily
    key: tuple[str, ...]
    values: tuple[str, ...]
    # (reason, SQL predicate over the staged row): a row matching any rule is quarantined.
    rules: tuple[tuple[str, str], ...] = ()
    # The key column that dates a row: a load compares only the stored rows between the batch's
    # first and last date, and the change log says from which date the table changed. It must be
    # part of the key, so that no stored row outside that range can share a key with the batch.
    date_column: str | None = None
    # A date column whose days must be NYSE sessions (warehouse/calendar.py): a row dated on a
    # weekend or a holiday is quarantined. Days outside the calendar's span are not judged.
    session_column: str | None = None
    # A key column (the ticker) whose values each get a line in meta.load_batches with the rows
    # the load was given and refused, next to a line for the whole batch. None: not logged.
    batch_log_by: str | None = None

    def __post_init__(self) -> None:
        for what, column in (("date_column", self.date_column), ("session_column", self.session_column),
                             ("batch_log_by", self.batch_log_by)):
            if column is not None and column not in self.key:
                raise ValueError(f"{self.name}: {what} {column!r} is not a key column")


@dataclass
class LoadResult:
    table: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    # For a spec with batch_log_by: (rows given, rows refused) of each value (ticker) that had a
    # row refused.
    rejected_by_part: dict[str, tuple[int, int]] = field(default_factory=dict)

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
    conflict_retries: int = CONFLICT_RETRIES,
    log: Callable[[str], None] | None = None,
) -> LoadResult:
    """Validate `rows` and merge them into `spec.name`, all in one transaction.

    Rows failing a rule go to core.quarantine (with `origin_file` and `origin_line`, when `rows`
    has them, as their origin) and the others load. `rejects` are rows the source already refused
    (an unparseable date, say): they go to the quarantine with the batch, so a load reports
    everything it did not take. A load that inserted or updated rows records a change from the
    earliest date it wrote (meta.changes); quarantined rows change no core data table and record
    nothing. On a lake, a commit lost to another writer is retried up to `conflict_retries` times
    (`log` hears of each retry).
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
    origins = [c for c in ORIGIN_COLUMNS if c in table.column_names]
    table = _fewer_chunks(table.select([*columns, *origins]))
    if is_lake(conn):
        # Another writer of the lake may commit first (DuckLake's "Transaction conflict"): the
        # lost load wrote nothing, so it runs again from the start on what the other one wrote.
        return retrying(
            lambda: _upsert_once(conn, spec, table, row_key, columns, source, run_id, rejects, now),
            attempts=conflict_retries, log=log,
        )
    return _upsert_once(conn, spec, table, row_key, columns, source, run_id, rejects, now)


def _upsert_once(conn, spec: TableSpec, table: pa.Table, row_key, columns, source, run_id, rejects, now) -> LoadResult:
    result = LoadResult(spec.name)
    with transaction(conn):
        claim_flavour(conn, source)
        conn.register("_incoming", table)
        try:
            changed_from, received = _merge(conn, spec, table, row_key, columns, source, run_id, now, result)
        finally:
            conn.unregister("_incoming")
        if result.written:
            changes.record(conn, spec.name, changed_from, run_id)

        refused_by_source = 0
        if rejects is not None and len(rejects):
            rejects = rejects.reindex(columns=QUARANTINE_COLUMNS)
            conn.register("_rejects", pa.Table.from_pandas(rejects.astype("object"), preserve_index=False))
            try:
                _quarantine(
                    conn, spec.name,
                    "(select cast(key as varchar) as key, cast(reason as varchar) as reason, "
                    "cast(origin as varchar) as origin, cast(payload as varchar) as payload from _rejects)",
                    source, run_id, now,
                )
            finally:
                conn.unregister("_rejects")
            for reason, count in rejects["reason"].value_counts().items():
                result.quarantine_reasons[reason] = result.quarantine_reasons.get(reason, 0) + int(count)
                result.quarantined += int(count)
                refused_by_source += int(count)
        if spec.batch_log_by is not None:
            _log_batch(conn, spec.name, received, table.num_rows + refused_by_source, result, run_id, now)
    return result


def _quarantine(conn, target: str, rows: str, source: str, run_id: str | None, now) -> None:
    """Put `rows` (a relation of key, reason, origin, payload) into core.quarantine.

    A row already quarantined for the same table, with the same key, reason, origin, payload and
    source, is not added again: a later run gives it its run and time (the latest load that refused
    it), a retry of the same run leaves it alone. So reloading a batch leaves one quarantine row per
    refused row.
    """
    same = (
        "q.target_table = ? and q.source = ? and q.key is not distinct from r.key and q.reason = r.reason "
        "and q.origin is not distinct from r.origin and q.payload is not distinct from r.payload"
    )
    distinct = f"(select distinct key, reason, origin, payload from {rows}) r"
    conn.execute(
        f"update core.quarantine q set run_id = ?, quarantined_at = ? from {distinct} "
        f"where {same} and q.run_id is distinct from ?",
        [run_id, now, target, source, run_id],
    )
    conn.execute(
        f"insert into core.quarantine select ?, r.key, r.reason, r.origin, r.payload, ?, ?, ? from {distinct} "
        f"where not exists (select 1 from core.quarantine q where {same})",
        [target, source, run_id, now, target, source],
    )


def _log_batch(conn, relation: str, received: dict[str, int], batch_rows: int, result: LoadResult,
               run_id: str | None, now) -> None:
    """Replace the lines of meta.load_batches for this table's batch and for each of its tickers."""
    conn.execute(BATCH_LOG_DDL)
    rejected = result.rejected_by_part
    parts = pa.table({
        "part": pa.array(list(received), type=pa.string()),
        "received": pa.array(list(received.values()), type=pa.int64()),
        "rejected": pa.array([rejected.get(p, (0, 0))[1] for p in received], type=pa.int64()),
    })
    conn.register("_batch_parts", parts)
    try:
        conn.execute(
            f"delete from {BATCH_LOG} where relation = ? "
            "and (part is null or part in (select part from _batch_parts))",
            [relation],
        )
        conn.execute(
            f"insert into {BATCH_LOG} select ?, part, ?, received, rejected, null, ? from _batch_parts",
            [relation, run_id, now],
        )
    finally:
        conn.unregister("_batch_parts")
    table_rows = conn.execute(f"select count(*) from {relation}").fetchall()[0][0]
    conn.execute(
        f"insert into {BATCH_LOG} values (?, null, ?, ?, ?, ?, ?)",
        [relation, run_id, batch_rows, result.quarantined, table_rows, now],
    )


def _fewer_chunks(table: pa.Table) -> pa.Table:
    """One chunk instead of many smaller than a DuckDB vector (2048 rows).

    Every scan of the batch pays a fixed cost per Arrow chunk: a session of 3,000 tickers
    concatenated row by row (3,000 chunks) took 0.11 s to upsert, 0.02 s as one chunk. Bulk
    batches of large chunks are left as they are, not copied.
    """
    chunks = table.column(0).num_chunks if table.num_columns else 0
    if chunks > 1 and table.num_rows < 2048 * chunks:
        try:
            return table.combine_chunks()
        except pa.ArrowInvalid:  # a string column too long for one chunk: scan it as it is
            return table
    return table


def _merge(conn, spec: TableSpec, table: pa.Table, row_key, columns, source, run_id, now,
           result: LoadResult) -> tuple[dt.date | None, dict[str, int]]:
    """Quarantine the bad rows of `_incoming`, merge the good ones into the table, and return
    the earliest date written (None when the spec has no date column) and, for a spec with
    batch_log_by, the rows given per value of that column.

    Written for bulk loads: the batch is scanned in place (Arrow, no copy), keys are aggregated
    only when the batch's layout does not already prove them unique, a first load goes straight
    into the table, and there is no ON CONFLICT: changed rows are deleted and inserted again,
    which also works on tables without a primary-key index. A load into a filled table reads
    only the stored rows of the batch's date range, so a daily batch does not scan the history.
    """
    cols = ", ".join(columns)
    key_text = " || ' ' || ".join(f"coalesce(cast({k} as varchar), 'NULL')" for k in row_key)
    literal = "'" + source.replace("'", "''") + "'"  # the rows' source, in SQL text reused below
    date = spec.date_column

    repeated = not _keys_distinct(table, row_key, date)
    if repeated:
        # Keys given more than once; with different values they are a conflict and neither is kept.
        conn.execute(
            f"""
            create or replace temp table _dupkeys as
            with repeated as (select {", ".join(row_key)} from _incoming group by all having count(*) > 1)
            select {", ".join(f"r.{k}" for k in row_key)},
                   count(distinct struct_pack({", ".join(f"i.{c}" for c in columns)})) > 1 as conflict
            from repeated r join _incoming i on {" and ".join(f"i.{k} = r.{k}" for k in row_key)}
            group by all
            """
        )
        repeated = conn.execute("select count(*) from _dupkeys").fetchall()[0][0] > 0
        if not repeated:
            conn.execute("drop table _dupkeys")
    # Any NULL in the key refuses the row: one NULL column is enough.
    reasons = [("a key column is NULL", " or ".join(f"{k} is null" for k in row_key)), *spec.rules]
    if spec.session_column is not None:
        reasons += _session_rules(conn, table, spec.session_column)
    if repeated:
        reasons.append(
            ("the same key appears more than once in this batch with different values", "_conflict")
        )
        on_key = " and ".join(f"i.{k} = d.{k}" for k in row_key)
        # The rules see the batch's own column names, plus _conflict for keys given twice.
        batch = f"(select i.*, d.conflict as _conflict from _incoming i left join _dupkeys d on {on_key}) b"
    else:
        batch = "_incoming"
    reason = "case " + " ".join(f"when {pred} then {_text(why)}" for why, pred in reasons) + " end"
    names = table.column_names
    if "origin_file" in names:
        line = " || coalesce(' line ' || cast(origin_line as varchar), '')" if "origin_line" in names else ""
        origin = f"case when origin_file is not null then cast(origin_file as varchar){line} end"
    else:
        origin = "cast(null as varchar)"
    part = spec.batch_log_by
    conn.execute(
        f"""
        create or replace temp table _rejected as
        select {key_text} as key, {reason} as reason, {origin} as origin,
               to_json(struct_pack({cols}))::varchar as payload,
               {f"cast({part} as varchar)" if part else "null"} as _part
        from {batch} where {reason} is not null
        """
    )
    _quarantine(conn, spec.name, "_rejected", source, run_id, now)
    rejected = 0
    for why, count in conn.execute(
        "select reason, count(*) from _rejected group by 1 order by 1"
    ).fetchall():
        result.quarantine_reasons[why] = count
        rejected += count
    result.quarantined += rejected
    received: dict[str, int] = {}
    if part is not None:
        received = dict(conn.execute(
            f"select cast({part} as varchar), count(*) from _incoming where {part} is not null group by 1"
        ).fetchall())
        if rejected:
            for value, count in conn.execute(
                "select _part, count(*) from _rejected where _part is not null group by 1"
            ).fetchall():
                result.rejected_by_part[value] = (received[value], count)
    conn.execute("drop table _rejected")

    # The good rows, as given, with exact repeats of a row kept once.
    if repeated:
        conn.execute(
            f"""
            create or replace temp table _valid as
            select {cols}, {literal} as source from {batch} where {reason} is null and _conflict is null
            union all
            select distinct {cols}, {literal} as source
            from {batch} where {reason} is null and _conflict is not null
            """
        )
        conn.execute("drop table _dupkeys")
        valid = "_valid"
        valid_rows = conn.execute("select count(*) from _valid").fetchall()[0][0]
    else:
        # Evaluated once, by the one statement that reads it: no copy of a bulk batch. A batch
        # without a refused row (the usual case) is not judged a second time.
        keep = f" where {reason} is null" if rejected else ""
        valid = f"(select {cols}, {literal} as source from _incoming{keep})"
        valid_rows = table.num_rows - rejected

    changed_from = None
    insert = f"insert into {spec.name} ({cols}, source, loaded_at) select {cols}, source, ?"
    if valid_rows == 0:
        pass
    elif _is_empty(conn, spec.name):
        # A first load: nothing to compare with.
        result.inserted = conn.execute(f"{insert} from {valid} s", [now]).fetchall()[0][0]
        if date is not None:
            if rejected == 0:
                changed_from = _date_range(conn, table, date)[0]
            else:
                # The table held nothing before: its earliest date is the earliest written.
                changed_from = conn.execute(f"select min({date}) from {spec.name}").fetchall()[0][0]
    else:
        compared = [*spec.values, "source"]
        join = " and ".join(f"t.{k} = s.{k}" for k in spec.key)
        differs = " or ".join(f"t.{c} is distinct from s.{c}" for c in compared)
        stored_columns = ", ".join(dict.fromkeys([*spec.key, *compared]))
        in_range = ""
        if date is not None:
            first, last = _date_range(conn, table, date)
            # Literals, not parameters, so the scan can skip the row groups outside the range.
            in_range = f"{date} between date '{first.isoformat()}' and date '{last.isoformat()}'"
        stored = f"(select {stored_columns} from {spec.name} {'where ' + in_range if in_range else ''})"
        # Only the rows to write: new keys and changed rows. Unchanged ones are left alone.
        conn.execute(
            f"""
            create or replace temp table _write as
            select s.*, t.{spec.key[0]} is null as _new
            from {valid} s left join {stored} t on {join}
            where t.{spec.key[0]} is null or ({differs})
            """
        )
        result.inserted, result.updated, changed_from = conn.execute(
            f"select count(*) filter (where _new), count(*) filter (where not _new), "
            f"{f'min({date})' if date else 'null'} from _write"
        ).fetchall()[0]
        result.unchanged = valid_rows - result.inserted - result.updated
        if result.updated:
            conn.execute(
                f"delete from {spec.name} t using _write s where not s._new and {join}"
                + (f" and t.{in_range}" if in_range else "")
            )
        if result.written:
            conn.execute(f"{insert} from _write", [now])
        conn.execute("drop table _write")
    if repeated:
        conn.execute("drop table _valid")
    return changed_from, received


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _session_rules(conn, table: pa.Table, column: str) -> list[tuple[str, str]]:
    """Rules refusing the batch's rows dated on a day without an NYSE session, one per kind of
    closure ('weekend', 'Christmas', ...); none when every day of the batch is a session.

    The batch's distinct days are few (a bulk load of 30 years holds ~7,600), so they are judged
    here against the calendar and only the closed ones enter the SQL, as literals."""
    values = table[column]
    if pa.types.is_date(values.type):
        days = [d for d in pc.unique(values).to_pylist() if d is not None]
    else:  # a timestamp, say: the insert casts it to a date, so judge the same date
        days = [d for (d,) in conn.execute(
            f"select distinct cast({column} as date) from _incoming where {column} is not null"
        ).fetchall()]
    if not days:
        return []
    cal = calendar.nyse()
    first, last = cal.first_session.date(), cal.last_session.date()
    judged = [d for d in days if first <= d <= last]
    if not judged:
        return []
    open_days = set(calendar.sessions(min(judged), max(judged)))
    closed: dict[str, list[dt.date]] = {}
    for day in sorted(d for d in judged if d not in open_days):
        closed.setdefault(calendar.closed_reason(day), []).append(day)
    return [
        (
            f"{column} is not an NYSE session ({why})",
            f"cast({column} as date) in ({', '.join(f'date {_text(d.isoformat())}' for d in dates)})",
        )
        for why, dates in closed.items()
    ]


def _is_empty(conn, name: str) -> bool:
    return conn.execute(f"select count(*) from (select 1 from {name} limit 1)").fetchall()[0][0] == 0


def _date_range(conn, table: pa.Table, column: str) -> tuple[dt.date, dt.date]:
    """The first and last date of the batch's `column`, quarantined rows included."""
    values = table[column]
    if pa.types.is_date(values.type):
        bounds = pc.min_max(values)
        return bounds["min"].as_py(), bounds["max"].as_py()
    # Any other type (a timestamp, say) is cast to a date on insert: take the dates the same way.
    return tuple(
        conn.execute(f"select cast(min({column}) as date), cast(max({column}) as date) from _incoming")
        .fetchall()[0]
    )


def _keys_distinct(table: pa.Table, key: tuple[str, ...], date_column: str | None) -> bool:
    """True when the batch's layout proves that no key occurs twice; False says nothing.

    The proof: for one key column g, each run of equal g values has the other key columns
    strictly increasing, and there are as many runs as distinct g values (no value of g comes
    back later). A batch ordered by date, or grouped by ticker with dates ascending, passes in a
    fraction of a second, where a hash aggregate over every key of a bulk load takes seconds.
    """
    rows = table.num_rows
    if rows < 2:
        return True
    if any(table[k].null_count for k in key):
        return False
    try:
        for group in sorted(key, key=lambda k: k != date_column):  # the date column first
            values = table[group]
            same = pc.equal(values.slice(1), values.slice(0, rows - 1))
            ok = pc.invert(same)
            rest = [k for k in key if k != group]
            if rest:
                ok = pc.or_(ok, _strictly_after(table, rest, rows))
            if not pc.all(ok).as_py():
                continue
            runs = rows - pc.sum(same).as_py()
            if runs == pc.count_distinct(values).as_py():
                return True
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        pass  # a column type the kernels do not compare: the aggregate decides
    return False


def _strictly_after(table: pa.Table, columns: list[str], rows: int):
    """Per row from the second on: is (columns) greater than the previous row's, lexicographically?"""
    after = None
    for column in reversed(columns):
        previous, current = table[column].slice(0, rows - 1), table[column].slice(1)
        greater = pc.greater(current, previous)
        after = greater if after is None else pc.or_(greater, pc.and_(pc.equal(current, previous), after))
    return after


def replace_contents(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    rows_sql: str,
    *,
    date_column: str | None,
    run_id: str | None = None,
) -> bool:
    """Make `table` hold exactly the rows of `rows_sql` (a SELECT), inside the caller's
    transaction; whether anything changed.

    For tables rebuilt or reloaded whole. The new rows are compared with the stored ones first:
    when they are the same the table is not rewritten and no change is recorded; otherwise the
    change is recorded from the earliest `date_column` among the rows added or removed (from
    the start, NULL, when the table has no date column).
    """
    # Typed like the table, so the comparison sees the values the table would store.
    conn.execute(f"create or replace temp table _replacement as select * from {table} limit 0")
    conn.execute(f"insert into _replacement by name {rows_sql}")
    described = conn.execute("select * from _replacement limit 0")
    names = [d[0] for d in described.description]
    described.fetchall()  # duckdb 2 keeps an unread result open, which blocks register()
    cols = ", ".join(names)
    difference = (
        f"(select {cols} from _replacement except all select {cols} from {table}) union all "
        f"(select {cols} from {table} except all select {cols} from _replacement)"
    )
    differing, first = conn.execute(
        f"select count(*), {f'min({date_column})' if date_column else 'null'} from ({difference})"
    ).fetchall()[0]
    if differing:
        conn.execute(f"delete from {table}")
        conn.execute(f"insert into {table} ({cols}) select {cols} from _replacement")
        changes.record(conn, table, first, run_id)
    conn.execute("drop table _replacement")
    return bool(differing)


def rejects_frame(records: list[dict]) -> pd.DataFrame:
    """Build a rejects frame from dicts with key, reason, origin and the raw row as `payload`."""
    if not records:
        return empty_rejects()
    out = pd.DataFrame.from_records(records)
    out["payload"] = [json.dumps(p, default=str) if not isinstance(p, str) else p for p in out["payload"]]
    return out.reindex(columns=QUARANTINE_COLUMNS)
