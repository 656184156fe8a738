"""SQL models: one file in sql/<layer>/ builds the relation <layer>.<file name>.

A model file starts with a block comment holding YAML: its description, its columns (each with a
description), the column that carries its date, its grain as unique_key (the columns that identify a
row, checked unique and not NULL), optional headline queries whose numeric result is reported on
every build, and optional key_metrics (columns the asset checks require to be non-NULL on the
latest date once their window is full). The SQL after it may use {{ param }} for values from
config/models.toml. Dependencies are read from the SQL by DuckDB's own parser, so adding a model
is adding a file.

A model whose header has an `incremental` block is rebuilt from the first date its inputs changed
(meta.changes) instead of from scratch; see `Incremental` for what its SQL promises.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
import time
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import duckdb
import yaml

from warehouse import changes, settings
from warehouse import lake as ducklake
from warehouse.db import ensure_schema, transaction
from warehouse.universe import Universe

LAYERS = ("staging", "marts")
HEADER = re.compile(r"^\s*/\*(.*?)\*/", re.S)
PARAM = re.compile(r"\{\{\s*(\w+)\s*\}\}")
DECLARED = re.compile(r"^([a-zA-Z][\w ()\[\],]*?)\s*\|\s*(.+)$")


class ModelError(ValueError):
    """A model file that cannot be built; the message names the file."""


# The date a full build passes for {{ since }} and {{ window_start }}: every date is on or after it.
ALL_DATES = "date '-infinity'"


@dataclass(frozen=True)
class Incremental:
    """How a model rebuilds only its tail.

    The SQL reads its inputs from {{ window_start }} on and may read its own stored rows before
    {{ since }} as {{ this }} (running state: a record, a streak, a cumulative sum). The build
    deletes the rows dated on or after `since` and inserts the SQL's rows dated on or after it.
    The build guarantees that, for every value of `partition_by` in `relation` with rows before
    `since` and input rows on or after it (only those get rebuilt rows: `_rebuilt_partitions`),
    its last `lookback_rows` rows before `since` (or all of them, if fewer) are dated on
    or after `window_start`: the SQL's windows then see the same rows a full build gives them.
    A full build passes {{ since }} = {{ window_start }} = -infinity and an empty {{ this }}.
    """

    partition_by: str
    lookback_rows: str  # an integer, or SQL over {{ params }} that DuckDB evaluates to one
    relation: str | None = None  # where the rows are counted; None: the model's own table
    grain: str = "session"  # 'week': one row per ISO week, rebuilt from the week's Monday


@dataclass(frozen=True)
class Model:
    layer: str
    name: str
    path: Path
    body: str
    description: str
    columns: dict[str, str]  # name -> description
    column_types: dict[str, str] = field(default_factory=dict)  # name -> declared DuckDB type
    date_column: str | None = None
    materialized: str = "table"
    headline: dict[str, str] = field(default_factory=dict)
    # Columns that must not be NULL on the latest date once their window is full (asset checks).
    key_metrics: tuple[str, ...] = ()
    incremental: Incremental | None = None
    # The grain: the columns that identify a row (asset check unique_key). None when the header
    # declares none; () for a model of at most one row.
    unique_key: tuple[str, ...] | None = None
    # Key columns that may be NULL, a NULL then being one value of the key (as in GROUP BY).
    unique_key_nullable: tuple[str, ...] = ()
    # Sources of derived columns, beyond what matches by name: column -> ('schema.table.column', ...)
    lineage: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def relation(self) -> str:
        return f"{self.layer}.{self.name}"

    @cached_property
    def code_version(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]

    def render(self, params: dict, window: dict[str, str] | None = None) -> str:
        """The SQL with its parameters filled in; `window` holds since/window_start/this of an
        incremental build (a full build when None)."""
        window = window or {"since": ALL_DATES, "window_start": ALL_DATES, "this": self.empty_relation()}

        def value(match: re.Match) -> str:
            name = match[1]
            if name in window:
                return window[name]
            if name not in params:
                raise ModelError(f"{self.path}: {{{{ {name} }}}} is not a parameter in config/models.toml")
            v = params[name]
            if isinstance(v, bool) or not isinstance(v, int | float | str):
                raise ModelError(f"{self.path}: parameter {name} must be a number or a string")
            return "'" + v.replace("'", "''") + "'" if isinstance(v, str) else repr(v)

        return PARAM.sub(value, self.body)

    def empty_relation(self) -> str:
        """A relation with the model's declared columns and no rows: {{ this }} in a full build."""
        columns = ", ".join(
            f'cast(null as {self.column_types.get(c, "varchar")}) as "{c}"' for c in self.columns
        )
        return f"(select {columns} limit 0)"

    def sql_hash(self, params: dict) -> str:
        """Changes when the file or a parameter it uses changes: the stored table is then stale."""
        return hashlib.sha256(self.render(params).encode()).hexdigest()[:16]

    def dependencies(self, params: dict) -> set[str]:
        """The schema-qualified relations the SQL reads, e.g. {'core.prices_daily'}.

        Read from DuckDB's own parse tree (json_serialize_sql), which needs no binding: the
        tables need not exist yet, and every join type (ASOF included) is understood.
        """
        tree = _parse_tree(self.render(params))
        if tree.get("error"):
            raise ModelError(f"{self.path}: DuckDB cannot parse this model: {tree.get('error_message')}")
        found: set[str] = set()

        def walk(node) -> None:
            if isinstance(node, dict):
                if node.get("type") == "BASE_TABLE" and node.get("schema_name"):
                    found.add(f"{node['schema_name']}.{node['table_name']}")
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(tree)
        return found


@functools.lru_cache(maxsize=1)
def _parser() -> duckdb.DuckDBPyConnection:
    """One in-memory database for parsing: a new one costs tens of milliseconds."""
    return duckdb.connect()


@functools.lru_cache(maxsize=256)
def _parse_tree(sql: str) -> dict:
    """DuckDB's parse of `sql` as JSON. Cached: the definitions ask for every model's inputs
    several times while loading."""
    with _parser().cursor() as conn:
        return json.loads(conn.execute("select json_serialize_sql(?)", [sql]).fetchall()[0][0])


def parse_model(path: Path, layer: str) -> Model:
    text = path.read_text(encoding="utf-8")
    header = HEADER.match(text)
    if not header:
        raise ModelError(f"{path}: a model starts with a /* yaml */ header (description, columns)")
    try:
        meta = yaml.safe_load(header[1]) or {}
    except yaml.YAMLError as exc:
        raise ModelError(f"{path}: the header is not valid YAML: {exc}") from exc
    if not meta.get("description") or not isinstance(meta.get("columns"), dict):
        raise ModelError(f"{path}: the header needs a description and a columns mapping")
    body = text[header.end():].strip().rstrip(";")
    columns, types = {}, {}
    for name, doc in meta["columns"].items():
        doc = " ".join(str(doc).split())
        # "type | description" declares the column's type, so schema drift can be caught.
        if m := DECLARED.match(doc):
            types[str(name)] = m[1].upper()
            doc = m[2]
        columns[str(name)] = doc
    key_metrics = meta.get("key_metrics") or []
    if not isinstance(key_metrics, list) or any(str(k) not in columns for k in key_metrics):
        raise ModelError(f"{path}: key_metrics must be a list of the header's columns, got {key_metrics!r}")
    incremental = _parse_incremental(path, meta, columns, types)
    unique_key, nullable = _parse_unique_key(path, meta, columns)
    return Model(
        layer=layer,
        name=path.stem,
        path=path,
        body=body,
        description=" ".join(str(meta["description"]).split()),
        columns=columns,
        column_types=types,
        date_column=meta.get("date_column"),
        materialized=meta.get("materialized", "view" if layer == "staging" else "table"),
        headline={str(k): str(v) for k, v in (meta.get("headline") or {}).items()},
        key_metrics=tuple(str(k) for k in key_metrics),
        incremental=incremental,
        unique_key=unique_key,
        unique_key_nullable=nullable,
        lineage=_lineage(path, meta.get("lineage"), columns),
    )


def _lineage(path: Path, value, columns: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """The header's `lineage` block: {column: [schema.table.column, ...]} for derived columns."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ModelError(f"{path}: lineage must map a column to a list of schema.table.column")
    out = {}
    for column, sources in value.items():
        if column not in columns:
            raise ModelError(f"{path}: lineage names {column}, which the header does not document")
        sources = [sources] if isinstance(sources, str) else sources
        if not isinstance(sources, list) or not all(isinstance(s, str) and s.count(".") == 2 for s in sources):
            raise ModelError(f"{path}: lineage of {column} must be a list of schema.table.column")
        out[str(column)] = tuple(sources)
    return out


def _key_columns(path: Path, meta: dict, field_name: str, columns: dict) -> tuple[str, ...] | None:
    value = meta.get(field_name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise ModelError(f"{path}: {field_name} must be a list of columns, e.g. [ticker, trade_date]; got {value!r}")
    undocumented = [c for c in value if c not in columns]
    if undocumented:
        raise ModelError(
            f"{path}: {field_name} names {undocumented}, which the header's columns do not document "
            f"(documented: {list(columns)})"
        )
    if len(set(value)) != len(value):
        raise ModelError(f"{path}: {field_name} names a column twice: {value!r}")
    return tuple(value)


def _parse_unique_key(path: Path, meta: dict, columns: dict) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """The header's unique_key (the grain) and the key columns allowed to be NULL."""
    key = _key_columns(path, meta, "unique_key", columns)
    nullable = _key_columns(path, meta, "unique_key_nullable", columns) or ()
    if nullable and not set(nullable) <= set(key or ()):
        raise ModelError(f"{path}: unique_key_nullable must be columns of unique_key {key!r}; got {list(nullable)!r}")
    return key, nullable


def _parse_incremental(path: Path, meta: dict, columns: dict, types: dict) -> Incremental | None:
    block = meta.get("incremental")
    if block is None:
        return None
    if not isinstance(block, dict) or not block.get("partition_by") or "lookback_rows" not in block:
        raise ModelError(f"{path}: incremental needs partition_by and lookback_rows, got {block!r}")
    if not meta.get("date_column"):
        raise ModelError(f"{path}: an incremental model needs a date_column (the rows it rebuilds)")
    untyped = [c for c in columns if c not in types]
    if untyped:
        # {{ this }} of a full build is an empty relation made from the declared types.
        raise ModelError(f"{path}: an incremental model declares every column's type; missing: {untyped}")
    grain = block.get("grain", "session")
    if grain not in ("session", "week"):
        raise ModelError(f"{path}: incremental grain is 'session' or 'week', got {grain!r}")
    return Incremental(
        partition_by=str(block["partition_by"]),
        lookback_rows=str(block["lookback_rows"]),
        relation=block.get("relation"),
        grain=grain,
    )


def discover(sql_dir: Path | None = None) -> list[Model]:
    """Every model under sql/, in layer order. A file is parsed again only when it changed."""
    sql_dir = Path(sql_dir or settings.sql_dir())
    return [
        _parsed(path, layer, path.stat().st_mtime_ns, path.stat().st_size)
        for layer in LAYERS
        for path in sorted((sql_dir / layer).glob("*.sql"))
    ]


@functools.lru_cache(maxsize=512)
def _parsed(path: Path, layer: str, mtime_ns: int, size: int) -> Model:
    return parse_model(path, layer)


def load_params(path: Path | None = None) -> dict:
    path = Path(path or settings.config_dir() / "models.toml")
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(f"{path}: cannot read the model parameters: {exc}") from exc
    params = dict(raw.get("params", {}))
    for name, value in params.items():
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            from warehouse.checks.config import toml_line

            raise ModelError(
                f"{path} line {toml_line(text, 'params', name)}: parameter {name} must be a number or a string, "
                f"got {value!r}"
            )
    params["_breadth_groups"] = raw.get("breadth", {}).get("groups", {})
    return params


CONFIG_TABLES = {
    "config.pairs": "pair varchar, small varchar, large varchar",
    "config.ticker_groups": "ticker varchar, group_name varchar",
    "config.breadth_groups": "group_name varchar, ticker varchar",
    "config.indexes": "index_id varchar, fund varchar, index_symbol varchar",
}


def write_config_tables(conn: duckdb.DuckDBPyConnection, universe: Universe, params: dict) -> None:
    """The universe's pairs and groups as tables, so models join them instead of hard-coding.

    A table whose rows did not change is left alone, so the models reading it can stay
    incremental; a changed one is recorded as changed in full (a new pair touches every date).
    """
    groups = params.get("_breadth_groups", {})
    breadth_rows = []
    for name, members in groups.items():
        if isinstance(members, str):
            if members not in universe.groups:
                raise ModelError(f"config/models.toml [breadth.groups] {name}: no universe group {members!r}")
            members = universe.groups[members]
        breadth_rows += [(name, t) for t in members]
    wanted = {
        "config.pairs": [(p.name, p.small, p.large) for p in universe.pairs],
        "config.ticker_groups": [(t, g) for g, members in universe.groups.items() for t in members],
        "config.breadth_groups": breadth_rows,
        "config.indexes": [(i.index_id, i.fund, i.index_symbol) for i in universe.indexes],
    }
    with transaction(conn):
        ensure_schema(conn)
        conn.execute("create schema if not exists config")
        for relation, rows in wanted.items():
            if _exists(conn, relation) and sorted(conn.execute(f"select * from {relation}").fetchall()) == sorted(rows):
                continue
            conn.execute(f"create or replace table {relation} ({CONFIG_TABLES[relation]})")
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                conn.executemany(f"insert into {relation} values ({marks})", rows)
            changes.record(conn, relation, None)


@dataclass
class BuildResult:
    rows: int | None  # None for a view: counting would run it
    latest_date: dt.date | None
    headline: dict[str, float | None]
    mode: str = "full"  # full | incremental | unchanged | view
    rebuilt_from: dt.date | None = None  # first date rewritten by an incremental build
    rows_written: int | None = None  # rows inserted by this build


@dataclass(frozen=True)
class Plan:
    mode: str
    reason: str
    since: dt.date | None = None


def input_relations(model: Model, params: dict, catalog: dict[str, Model]) -> set[str]:
    """The stored relations a model reads, looking through views to the tables under them."""
    found: set[str] = set()
    for dep in model.dependencies(params):
        upstream = catalog.get(dep)
        if upstream is not None and upstream.materialized == "view":
            found |= input_relations(upstream, params, catalog)
        else:
            found.add(dep)
    return found


def _exists(conn: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, name = relation.split(".")
    return bool(conn.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, name]
    ).fetchall()[0][0])


def plan(
    conn: duckdb.DuckDBPyConnection, model: Model, params: dict, catalog: dict[str, Model], full_refresh: bool = False
) -> Plan:
    """Full, incremental from a date, or unchanged: what the stored table needs."""
    if model.materialized == "view":
        return Plan("view", "a view stores no rows")
    if model.incremental is None:
        return Plan("full", "not an incremental model")
    if full_refresh:
        return Plan("full", "a full refresh was asked for")
    if not _exists(conn, model.relation):
        return Plan("full", "the table does not exist yet")
    state = conn.execute(
        "select sql_hash, last_change_id from meta.model_builds where relation = ?", [model.relation]
    ).fetchall()
    if not state:
        return Plan("full", "no earlier build is recorded")
    sql_hash, last_change_id = state[0]
    if sql_hash != model.sql_hash(params):
        return Plan("full", "the SQL or a parameter it uses changed")
    inputs = sorted(input_relations(model, params, catalog))
    untracked = [r for r, in conn.execute(
        "select unnest(?::varchar[]) except select relation from meta.changes", [inputs]
    ).fetchall()]
    if untracked:
        # written by something that does not record its changes: nothing says what is stale
        return Plan("full", f"no change is recorded for {', '.join(sorted(untracked))}")
    todo = changes.pending(conn, inputs, last_change_id)
    if not todo.changed:
        return Plan("unchanged", "no input changed since the last build")
    if todo.everything:
        return Plan("full", "an input changed as a whole")
    since = todo.since
    if model.incremental.grain == "week":
        since -= dt.timedelta(days=since.weekday())  # the row of a week is rebuilt whole
    first = conn.execute(f"select min({model.date_column}) from {model.relation}").fetchall()[0][0]
    if first is None or since <= first:
        return Plan("full", "the change reaches back to the first stored date")
    return Plan("incremental", "inputs changed from a date on", since)


def window_start(
    conn: duckdb.DuckDBPyConnection, model: Model, params: dict, catalog: dict[str, Model], since: dt.date
) -> dt.date:
    """The earliest input date the SQL needs to rebuild from `since` (see `Incremental`)."""
    inc = model.incremental
    relation = inc.relation or model.relation
    if relation != model.relation and relation not in catalog:
        raise ModelError(f"{model.path}: incremental relation {relation} is not a SQL model, so its date is unknown")
    date_column = catalog[relation].date_column if relation != model.relation else model.date_column
    part = inc.partition_by
    n = conn.execute(f"select ({_render_params(model, inc.lookback_rows, params)})::bigint").fetchall()[0][0]
    if n < 1:
        raise ModelError(f"{model.path}: lookback_rows must be at least 1, got {n}")
    rebuilt_sql, rebuilt_args = _rebuilt_partitions(conn, model, params, catalog, relation, date_column, since)
    rebuilt = f"and {part} in ({rebuilt_sql})" if rebuilt_sql else ""
    # A first guess wide enough for n rows of every partition that trades most sessions (or
    # weeks); the partitions it leaves short are looked up one by one below.
    days = 7 * n + 7 if inc.grain == "week" else n * 3 // 2 + 14
    guess = since - dt.timedelta(days=days)
    counted = conn.execute(
        f"""
        with recent as (
            select {part} as part, {date_column} as day,
                   row_number() over (partition by {part} order by {date_column} desc) as back
            from {relation}
            where {date_column} >= ? and {date_column} < ? {rebuilt}
        ),

        per_partition as (
            select part, count(*) as n_rows, min(day) filter (where back <= ?) as first_needed
            from recent
            group by part
        )

        select min(first_needed), list(part) filter (where n_rows < ?), list(part)
        from per_partition
        """,
        [guess, since, *rebuilt_args, n, n],
    ).fetchall()[0]
    start, short, seen = counted[0] or since, counted[1] or [], counted[2] or []
    # Partitions with no row since the guess but older ones (a halt, a long gap in the data, a
    # newcomer's backfilled history): their next row still continues their windows and running
    # state, so they are looked up below too.
    if rebuilt_sql:
        # Among the rebuilt ones only, read off the inputs from `since` on: a date-range scan, where
        # looking for older rows would scan the whole table (seconds a model at index size).
        short += conn.execute(
            f"select coalesce(list(distinct {part}), []) from ({rebuilt_sql}) where {part} not in (select unnest(?))",
            [*rebuilt_args, seen],
        ).fetchall()[0][0]
    else:
        # Every stored partition counts: reading the partition column of the older rows is the one
        # full scan such a build makes.
        short += conn.execute(
            f"""
            select coalesce(list(distinct {part}), [])
            from {relation}
            where {date_column} < ? and {part} not in (select unnest(?))
            """,
            [guess, seen],
        ).fetchall()[0][0]
    if short:
        # partitions with fewer than n rows since the guess: their own n-th row back, if older
        older = conn.execute(
            f"""
            select min(day) from (
                select {date_column} as day,
                       row_number() over (partition by {part} order by {date_column} desc) as back
                from {relation}
                where {date_column} < ? and {part} in (select unnest(?))
            )
            where back <= ?
            """,
            [since, short, n],
        ).fetchall()[0][0]
        if older is not None:
            start = min(start, older)
    return min(start, since)


def _rebuilt_partitions(
    conn: duckdb.DuckDBPyConnection, model: Model, params: dict, catalog: dict[str, Model], relation: str,
    date_column: str, since: dt.date,
) -> tuple[str | None, list]:
    """A query of the partitions that get rebuilt rows (those with input rows from `since` on) and
    its arguments; None when every partition counts.

    A ticker that stopped trading years ago (a former index member) gets no rebuilt row, so its
    windows need no rows; counting it would pull every daily build back to its last rows. The
    inputs are the incremental relation when it is another model, else the relations the SQL reads
    that have the partition column and a date (the model's own table holds no row from `since`
    yet): models with their declared date column, and loaded tables (core.prices_daily under
    staging.returns_daily) that have the model's own date column. With no such input, every
    partition counts.
    """
    part = model.incremental.partition_by
    if relation != model.relation:
        inputs = [(relation, date_column)]
    else:
        inputs = []
        for r in sorted(model.dependencies(params)):
            if r == model.relation:
                continue
            if r in catalog:
                if catalog[r].date_column and part in catalog[r].columns:
                    inputs.append((r, catalog[r].date_column))
            elif {part, model.date_column} <= _table_columns(conn, r):
                inputs.append((r, model.date_column))
    if not inputs:
        return None, []
    return " union ".join(f"select {part} from {r} where {d} >= ?" for r, d in inputs), [since] * len(inputs)


def _table_columns(conn: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    """The columns of a stored table or view that is no model; none when it does not exist."""
    schema, _, name = relation.rpartition(".")
    return {c for c, in conn.execute(
        "select column_name from information_schema.columns where table_catalog = current_database() "
        "and table_schema = ? and table_name = ?", [schema, name]
    ).fetchall()}


def _render_params(model: Model, text: str, params: dict) -> str:
    return Model(model.layer, model.name, model.path, text, model.description, model.columns).render(params)


def _literal(day: dt.date) -> str:
    return f"date '{day.isoformat()}'"


def build(
    conn: duckdb.DuckDBPyConnection,
    model: Model,
    params: dict,
    *,
    catalog: dict[str, Model] | None = None,
    full_refresh: bool = False,
    run_id: str | None = None,
) -> BuildResult:
    """Bring the model's relation up to date in one transaction: a failure keeps the previous version.

    An incremental model rebuilds from the first date its inputs changed, or not at all when
    none did; any other model (or a full refresh) is rebuilt from scratch.
    """
    if catalog is None:
        catalog = {m.relation: m for m in discover(model.path.parents[1])}
    ensure_schema(conn)
    for attempt in range(1, ducklake.CONFLICT_RETRIES + 1):
        decided = plan(conn, model, params, catalog, full_refresh)
        written = None
        try:
            with transaction(conn):
                if decided.mode == "incremental":
                    written = _rebuild_tail(conn, model, params, catalog, decided.since)
                elif decided.mode in ("full", "view"):
                    _replace(conn, model, params)
                if decided.mode in ("full", "incremental"):
                    changes.record(conn, model.relation, decided.since, run_id)
                    # Delete and insert, not `insert or replace`: a lake's tables have no key.
                    conn.execute("delete from meta.model_builds where relation = ?", [model.relation])
                    conn.execute(
                        "insert into meta.model_builds values (?, ?, ?, ?, ?, current_timestamp)",
                        [model.relation, model.sql_hash(params), changes.latest_id(conn), decided.mode,
                         decided.since],
                    )
        except duckdb.Error as exc:
            if ducklake.is_conflict(exc) and attempt < ducklake.CONFLICT_RETRIES:
                # Another writer of the lake committed first: plan again against what it wrote.
                time.sleep(ducklake.backoff_s_for(attempt))
                continue
            raise ModelError(f"{model.path}: {exc}") from exc
        break
    if decided.mode == "view":
        return BuildResult(None, None, {}, decided.mode)
    rows = conn.execute(f"select count(*) from {model.relation}").fetchall()[0][0]
    if decided.mode == "full":
        written = rows
    latest = None
    if model.date_column:
        latest = conn.execute(f"select max({model.date_column}) from {model.relation}").fetchall()[0][0]
    headline = {}
    for name, query in model.headline.items():
        result = conn.execute(query).fetchall()
        value = result[0][0] if result else None
        headline[name] = float(value) if value is not None else None
    return BuildResult(rows, latest, headline, decided.mode, decided.since, written)


def full_build_sql(model: Model, params: dict) -> str:
    """The query a full build stores."""
    sql = model.render(params)
    if model.incremental is not None:
        # Stored in date order: the next incremental build reads the last dates, and DuckDB skips
        # the row groups whose dates are all older (zone maps) only when rows are clustered so.
        sql = f"select * from (\n{sql}\n) order by {model.date_column}"
    return sql


def _replace(conn: duckdb.DuckDBPyConnection, model: Model, params: dict) -> None:
    sql = full_build_sql(model, params)
    kind = "view" if model.materialized == "view" else "table"
    conn.execute(f"create schema if not exists {model.layer}")
    # A model that changed from view to table (or back) replaces the other kind.
    other = "view" if kind == "table" else "table"
    catalog = "duckdb_views()" if other == "view" else "duckdb_tables()"
    name = "view_name" if other == "view" else "table_name"
    exists = conn.execute(
        f"select count(*) from {catalog} where schema_name = ? and {name} = ?",
        [model.layer, model.name],
    ).fetchall()[0][0]
    if exists:
        conn.execute(f"drop {other} {model.relation}")
    conn.execute(f"create or replace {kind} {model.relation} as\n{sql}")
    actual = [r[0] for r in conn.execute(f"describe {model.relation}").fetchall()]
    undocumented = [c for c in actual if c not in model.columns]
    missing = [c for c in model.columns if c not in actual]
    if undocumented or missing:
        raise ModelError(
            f"{model.path}: the header's columns do not match the SQL "
            f"(undocumented: {undocumented}, documented but absent: {missing})"
        )


def _rebuild_tail(
    conn: duckdb.DuckDBPyConnection, model: Model, params: dict, catalog: dict[str, Model], since: dt.date
) -> int:
    """Replace the rows dated on or after `since` with the SQL's; the rows inserted."""
    start = window_start(conn, model, params, catalog, since)
    sql = model.render(params, {"since": _literal(since), "window_start": _literal(start), "this": model.relation})
    # Computed before the delete: the SQL reads the stored rows before `since` as {{ this }}.
    conn.execute(f"create or replace temp table _tail as select * from ({sql}) where {model.date_column} >= ?", [since])
    conn.execute(f"delete from {model.relation} where {model.date_column} >= ?", [since])
    written = conn.execute(f"insert into {model.relation} by name select * from _tail").fetchall()[0][0]
    conn.execute("drop table _tail")
    return written


def column_types(conn: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {r[0]: r[1] for r in conn.execute(f"describe {relation}").fetchall()}


def in_build_order(models: list[Model], params: dict) -> list[Model]:
    """Models sorted so that each comes after the models it reads."""
    by_relation = {m.relation: m for m in models}
    done: list[Model] = []
    seen: set[str] = set()

    def visit(model: Model, path: tuple[str, ...]) -> None:
        if model.relation in seen:
            return
        if model.relation in path:
            raise ModelError(f"{model.path}: models read each other in a cycle: {' -> '.join(path)}")
        for dep in sorted(model.dependencies(params)):
            if dep in by_relation:
                visit(by_relation[dep], (*path, model.relation))
        seen.add(model.relation)
        done.append(model)

    for model in models:
        visit(model, ())
    return done
