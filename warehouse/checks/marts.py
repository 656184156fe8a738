"""Checks generated for every SQL model from its header, and the schema check of the core tables.

- `non_empty`: the model has rows.
- `latest_date`: the model is as recent as its inputs (see the function).
- `unique_key`: no two rows share the header's unique_key (the grain) and no key column is NULL.
- `key_metrics_not_null`: the header's key_metrics are not NULL on the latest date once their
  window is full.
- `schema_matches`: the built relation has the header's columns with the declared types;
  `core_schema_matches` does the same for a core table against its DDL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import duckdb

from warehouse.checks.base import MAX_ROWS, CheckOutcome, missing_table, plural, table_exists
from warehouse.models import Model
from warehouse.schema_docs import core_columns


def non_empty(conn: duckdb.DuckDBPyConnection, model: Model) -> CheckOutcome:
    name = "non_empty"
    if not table_exists(conn, model.relation):
        return missing_table(name, model.relation)
    rows = conn.execute(f"select count(*) from {model.relation}").fetchall()[0][0]
    summary = (
        f"{model.relation} holds {plural(rows, 'row')}" if rows else f"{model.relation} is empty"
    )
    return CheckOutcome(
        name, rows > 0, summary, failing=0 if rows else 1, counts={"rows": int(rows)}
    )


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def unique_key(conn: duckdb.DuckDBPyConnection, model: Model) -> CheckOutcome:
    """The header's unique_key is the model's grain: no two rows share it, and none of its columns
    is NULL (but those in unique_key_nullable, where NULL is one value of the key). An empty key
    means at most one row. Fails with the offending rows, whole, behind a `key_problem` column."""
    name = "unique_key"
    if model.unique_key is None:
        return CheckOutcome(name, True, f"{model.path.name} declares no unique_key: nothing to check")
    if not table_exists(conn, model.relation):
        return missing_table(name, model.relation)
    key = [_quoted(c) for c in model.unique_key]
    null = " or ".join(f"{_quoted(c)} is null" for c in model.unique_key if c not in model.unique_key_nullable)
    null = null or "false"
    # one aggregation when all is well; the rows themselves are read only when something failed
    per_key = (
        f"select count(*) as copies, count(*) filter (where {null}) as null_rows "
        f"from {model.relation}" + (f" group by {', '.join(key)}" if key else "")
    )
    rows_total, duplicated_keys, duplicated_rows, null_rows = (
        int(v) for v in conn.execute(
            f"""
            select coalesce(sum(copies), 0), count(*) filter (where copies > 1),
                   coalesce(sum(copies) filter (where copies > 1), 0), coalesce(sum(null_rows), 0)
            from ({per_key})
            """
        ).fetchall()[0]
    )
    counts = {
        "rows": rows_total,
        "unique_key": ", ".join(model.unique_key) or "[] (at most one row)",
        "duplicated_keys": duplicated_keys,
        "rows_with_duplicated_key": duplicated_rows,
        "rows_with_null_key": null_rows,
    }
    grain = f"one row per ({', '.join(model.unique_key)})"
    if not duplicated_keys and not null_rows:
        summary = (
            f"{model.relation} is {grain}: {plural(rows_total, 'row')}"
            if key
            else f"{model.relation} holds {plural(rows_total, 'row')}, as unique_key: [] allows (at most one)"
        )
        return CheckOutcome(name, True, summary, counts=counts)
    partition = f"partition by {', '.join(key)}" if key else ""
    offending = f"""
        select case when {null} then 'NULL in the key'
                    else 'key stored ' || _copies || ' times' end as key_problem,
               * exclude (_copies)
        from (select *, count(*) over ({partition}) as _copies from {model.relation})
        where _copies > 1 or {null}
    """
    order = f" order by {', '.join(k + ' nulls first' for k in key)}" if key else ""
    cursor = conn.execute(f"select * from ({offending}){order} limit {MAX_ROWS}")
    columns = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    failing = conn.execute(f"select count(*) from ({offending})").fetchall()[0][0]
    found = []
    if duplicated_keys:
        found.append(f"{plural(duplicated_keys, 'key')} stored more than once ({duplicated_rows} rows)")
    if null_rows:
        found.append(f"{plural(null_rows, 'row')} with a NULL in the key")
    summary = (
        f"{model.relation} is not {grain}: " + ", ".join(found)
        if key
        else f"{model.relation} holds {rows_total} rows, but unique_key: [] allows one"
    )
    return CheckOutcome(name, False, summary, columns, rows, int(failing), counts)


@dataclass(frozen=True)
class DatedInput:
    """An input of a model whose latest date is comparable with the model's."""

    relation: str
    date_column: str
    where: str | None = None  # only these rows feed the model's dates, e.g. series_id = 'DGS10'


def dated_inputs(
    model: Model,
    params: dict,
    models: Iterable[Model],
    input_dates: Mapping[str, str],
    input_filters: Mapping[str, str] | None = None,
) -> list[DatedInput]:
    """The inputs of `model` that carry a date: other models by their date_column, core tables by
    `input_dates` (config/checks.toml); `input_filters` narrows an input to the rows the model
    reads."""
    by_relation = {m.relation: m for m in models}
    out = []
    for relation in sorted(model.dependencies(params)):
        if relation == model.relation:
            continue
        column = (
            by_relation[relation].date_column
            if relation in by_relation
            else input_dates.get(relation)
        )
        if column:
            out.append(DatedInput(relation, column, (input_filters or {}).get(relation)))
    return out


def latest_date(
    conn: duckdb.DuckDBPyConnection,
    model: Model,
    *,
    inputs: Iterable[DatedInput],
    exempt: str | None = None,
) -> CheckOutcome:
    """The model's latest date is the latest date its inputs have in common: not before the
    earliest of the inputs' latest dates (the model was rebuilt and drops no date its inputs all
    have) and not after the latest of them (it invents no date). With one dated input: equal.
    """
    name = "latest_date_current"
    columns = ["relation", "latest_date", "role"]
    if exempt:
        return CheckOutcome(name, True, f"not judged: {exempt}", counts={"exempt": exempt})
    if not model.date_column:
        return CheckOutcome(
            name, True, f"{model.relation} declares no date_column: nothing to compare"
        )
    if not table_exists(conn, model.relation):
        return missing_table(name, model.relation)
    latest = conn.execute(f"select max({model.date_column}) from {model.relation}").fetchall()[0][0]
    found = []
    for item in inputs:
        if not table_exists(conn, item.relation):
            continue
        where = f" where {item.where}" if item.where else ""
        value = conn.execute(
            f"select max({item.date_column}) from {item.relation}{where}"
        ).fetchall()[0][0]
        if value is not None:
            found.append((item.relation + (f" ({item.where})" if item.where else ""), value))
    if not found:
        return CheckOutcome(
            name,
            True,
            "no dated input has rows: nothing to compare",
            counts={"latest_date": str(latest)},
        )
    common = min(v for _, v in found)
    newest = max(v for _, v in found)
    ok = latest is not None and common <= latest <= newest
    rows = [(model.relation, latest, "model"), *((r, v, "input") for r, v in sorted(found))]
    if latest is None:
        summary = f"{model.relation} has no date; its inputs reach {common}"
    elif latest < common:
        summary = (
            f"{model.relation} ends {latest}, before {common}, the latest date all its inputs have"
        )
    elif latest > newest:
        summary = f"{model.relation} ends {latest}, after every input (the newest ends {newest})"
    else:
        summary = f"{model.relation} ends {latest}; its inputs' latest common date is {common}"
    counts = {
        "latest_date": str(latest),
        "inputs_latest_common_date": str(common),
        "inputs_newest_date": str(newest),
    }
    return CheckOutcome(name, ok, summary, columns, rows if not ok else [], 0 if ok else 1, counts)


def entity_columns(model: Model) -> list[str]:
    """The columns that name what a row is about (pair, ticker, group): by the header convention,
    those declared before the date column."""
    names = list(model.columns)
    if not model.date_column or model.date_column not in names:
        return []
    return [c for c in names[: names.index(model.date_column)] if c not in model.key_metrics]


def key_metrics_not_null(conn: duckdb.DuckDBPyConnection, model: Model) -> CheckOutcome:
    """On the model's latest date no key metric is NULL where its window is full: a row fails when
    the metric is NULL although the same entity (the columns before the date column) had a value
    for it on an earlier date. A metric still filling its window (never a value yet) passes."""
    name = "key_metrics_not_null"
    if not model.key_metrics:
        return CheckOutcome(name, True, "the header names no key_metrics")
    if not model.date_column:
        return CheckOutcome(name, True, f"{model.relation} declares no date_column: no latest date")
    if not table_exists(conn, model.relation):
        return missing_table(name, model.relation)
    entity = entity_columns(model)
    d = model.date_column
    join = " and ".join(
        [f"earlier.{c} is not distinct from latest.{c}" for c in entity]
        + [f"earlier.{d} < latest.{d}"]
    )
    entity_select = "".join(f"cast(latest.{c} as varchar) as {c}, " for c in entity)
    parts = []
    for metric in model.key_metrics:
        parts.append(
            f"""
            select {entity_select}
                   latest.{d} as latest_date, '{metric}' as key_metric,
                   (select max(earlier.{d}) from {model.relation} earlier
                    where {join} and earlier.{metric} is not null) as last_value_date
            from {model.relation} latest
            where latest.{d} = (select max({d}) from {model.relation})
              and latest.{metric} is null
            """
        )
    sql = "select * from (" + " union all ".join(parts) + ") where last_value_date is not null"
    cursor = conn.execute(
        f"select * from ({sql}) order by key_metric{''.join(', ' + c for c in entity)} limit 20"
    )
    columns = [c[0] for c in cursor.description]
    rows = cursor.fetchall()
    total = conn.execute(f"select count(*) from ({sql})").fetchall()[0][0]
    latest = conn.execute(f"select max({d}) from {model.relation}").fetchall()[0][0]
    summary = (
        f"{', '.join(model.key_metrics)} have a value on {latest} wherever they had one before"
        if not total
        else f"{plural(total, 'key metric value')} NULL on {latest} although the window was "
        "full before"
    )
    return CheckOutcome(
        name,
        total == 0,
        summary,
        columns,
        rows,
        int(total),
        {"latest_date": str(latest), "key_metrics": ", ".join(model.key_metrics)},
    )


TYPE_ALIASES = {
    "INT": "INTEGER",
    "INT4": "INTEGER",
    "SIGNED": "INTEGER",
    "INT8": "BIGINT",
    "LONG": "BIGINT",
    "INT2": "SMALLINT",
    "SHORT": "SMALLINT",
    "INT1": "TINYINT",
    "FLOAT8": "DOUBLE",
    "NUMERIC": "DECIMAL",
    "FLOAT4": "FLOAT",
    "REAL": "FLOAT",
    "STRING": "VARCHAR",
    "TEXT": "VARCHAR",
    "CHAR": "VARCHAR",
    "BPCHAR": "VARCHAR",
    "BOOL": "BOOLEAN",
    "LOGICAL": "BOOLEAN",
    "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE",
    "DATETIME": "TIMESTAMP",
}


def normalise_type(kind: str) -> str:
    kind = " ".join(kind.upper().split())
    base = re.match(r"^[A-Z0-9_]+", kind)
    if (
        base
        and base[0] in TYPE_ALIASES
        and (len(kind) == len(base[0]) or kind[len(base[0])] in " (")
    ):
        kind = TYPE_ALIASES[base[0]] + kind[len(base[0]) :]
    return kind


def compare_columns(
    relation: str, declared: list[tuple[str, str | None]], actual: list[tuple[str, str]]
) -> tuple[list[tuple], dict]:
    actual_types = dict(actual)
    declared_names = [n for n, _ in declared]
    rows = []
    for name, kind in declared:
        if name not in actual_types:
            rows.append((name, kind, None, "declared but absent"))
        elif kind and normalise_type(kind) != normalise_type(actual_types[name]):
            rows.append((name, kind, actual_types[name], "type differs"))
    for name, kind in actual:
        if name not in declared_names:
            rows.append((name, None, kind, "present but not declared"))
    counts = {
        "columns_declared": len(declared),
        "columns_actual": len(actual),
        "types_declared": sum(1 for _, k in declared if k),
    }
    return rows, counts


def _describe(conn: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in conn.execute(f"describe {relation}").fetchall()]


def schema_matches(conn: duckdb.DuckDBPyConnection, model: Model) -> CheckOutcome:
    """The built relation has exactly the header's columns, each with its declared type."""
    name = "schema_matches_header"
    if not table_exists(conn, model.relation):
        return missing_table(name, model.relation)
    declared = [(c, model.column_types.get(c)) for c in model.columns]
    rows, counts = compare_columns(model.relation, declared, _describe(conn, model.relation))
    summary = (
        f"{plural(len(declared), 'column')} as declared in {model.path.name}"
        if not rows
        else f"{plural(len(rows), 'column')} of {model.relation} differ from "
        f"{model.path.name}'s header"
    )
    return CheckOutcome(
        name,
        not rows,
        summary,
        ["column", "declared_type", "actual_type", "problem"],
        rows[:20],
        len(rows),
        counts,
    )


def core_schema_matches(conn: duckdb.DuckDBPyConnection, table: str) -> CheckOutcome:
    """A core table has exactly the columns and types its DDL (warehouse/ddl/*.sql) declares, so a
    warehouse file made by an older DDL, or a table replaced by hand, is caught."""
    name = "schema_matches_ddl"
    if not table_exists(conn, table):
        return missing_table(name, table)
    declared = [(c.name, c.type) for c in core_columns().get(table, ())]
    if not declared:
        return CheckOutcome(name, False, f"no DDL in warehouse/ddl declares {table}", failing=1)
    rows, counts = compare_columns(table, declared, _describe(conn, table))
    summary = (
        f"{plural(len(declared), 'column')} as the DDL declares"
        if not rows
        else f"{plural(len(rows), 'column')} of {table} differ from warehouse/ddl"
    )
    return CheckOutcome(
        name,
        not rows,
        summary,
        ["column", "declared_type", "actual_type", "problem"],
        rows[:20],
        len(rows),
        counts,
    )
