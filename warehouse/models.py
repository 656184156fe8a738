"""SQL models: one file in sql/<layer>/ builds the relation <layer>.<file name>.

A model file starts with a block comment holding YAML: its description, its columns (each with a
description), the column that carries its date, optional headline queries whose numeric
result is reported on every build, and optional key_metrics (columns the asset checks require to
be non-NULL on the latest date once their window is full). The SQL after it may use {{ param }} for values from
config/models.toml. Dependencies are read from the SQL by DuckDB's own parser, so adding a model
is adding a file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import duckdb
import yaml

from warehouse import settings
from warehouse.db import transaction
from warehouse.universe import Universe

LAYERS = ("staging", "marts")
HEADER = re.compile(r"^\s*/\*(.*?)\*/", re.S)
PARAM = re.compile(r"\{\{\s*(\w+)\s*\}\}")
DECLARED = re.compile(r"^([a-zA-Z][\w ()\[\],]*?)\s*\|\s*(.+)$")


class ModelError(ValueError):
    """A model file that cannot be built; the message names the file."""


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

    @property
    def relation(self) -> str:
        return f"{self.layer}.{self.name}"

    @cached_property
    def code_version(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]

    def render(self, params: dict) -> str:
        def value(match: re.Match) -> str:
            name = match[1]
            if name not in params:
                raise ModelError(f"{self.path}: {{{{ {name} }}}} is not a parameter in config/models.toml")
            v = params[name]
            if isinstance(v, bool) or not isinstance(v, int | float | str):
                raise ModelError(f"{self.path}: parameter {name} must be a number or a string")
            return "'" + v.replace("'", "''") + "'" if isinstance(v, str) else repr(v)

        return PARAM.sub(value, self.body)

    def dependencies(self, params: dict) -> set[str]:
        """The schema-qualified relations the SQL reads, e.g. {'core.prices_daily'}.

        Read from DuckDB's own parse tree (json_serialize_sql), which needs no binding: the
        tables need not exist yet, and every join type (ASOF included) is understood.
        """
        with duckdb.connect() as conn:
            tree = json.loads(
                conn.execute("select json_serialize_sql(?)", [self.render(params)]).fetchall()[0][0]
            )
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
    )


def discover(sql_dir: Path | None = None) -> list[Model]:
    sql_dir = Path(sql_dir or settings.sql_dir())
    models = []
    for layer in LAYERS:
        for path in sorted((sql_dir / layer).glob("*.sql")):
            models.append(parse_model(path, layer))
    return models


def load_params(path: Path | None = None) -> dict:
    path = Path(path or settings.config_dir() / "models.toml")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(f"{path}: cannot read the model parameters: {exc}") from exc
    params = dict(raw.get("params", {}))
    params["_breadth_groups"] = raw.get("breadth", {}).get("groups", {})
    return params


def write_config_tables(conn: duckdb.DuckDBPyConnection, universe: Universe, params: dict) -> None:
    """The universe's pairs and groups as tables, so models join them instead of hard-coding."""
    groups = params.get("_breadth_groups", {})
    breadth_rows = []
    for name, members in groups.items():
        if isinstance(members, str):
            if members not in universe.groups:
                raise ModelError(f"config/models.toml [breadth.groups] {name}: no universe group {members!r}")
            members = universe.groups[members]
        breadth_rows += [(name, t) for t in members]
    with transaction(conn):
        conn.execute("create schema if not exists config")
        conn.execute("create or replace table config.pairs (pair varchar, small varchar, large varchar)")
        conn.executemany("insert into config.pairs values (?, ?, ?)",
                         [(p.name, p.small, p.large) for p in universe.pairs])
        conn.execute("create or replace table config.ticker_groups (ticker varchar, group_name varchar)")
        conn.executemany("insert into config.ticker_groups values (?, ?)",
                         [(t, g) for g, members in universe.groups.items() for t in members])
        conn.execute("create or replace table config.breadth_groups (group_name varchar, ticker varchar)")
        if breadth_rows:
            conn.executemany("insert into config.breadth_groups values (?, ?)", breadth_rows)


@dataclass
class BuildResult:
    rows: int
    latest_date: dt.date | None
    headline: dict[str, float | None]


def build(conn: duckdb.DuckDBPyConnection, model: Model, params: dict) -> BuildResult:
    """Replace the model's relation in one transaction: a failure keeps the previous version."""
    sql = model.render(params)
    kind = "view" if model.materialized == "view" else "table"
    try:
        with transaction(conn):
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
    except duckdb.Error as exc:
        raise ModelError(f"{model.path}: {exc}") from exc
    rows = conn.execute(f"select count(*) from {model.relation}").fetchall()[0][0]
    latest = None
    if model.date_column:
        latest = conn.execute(f"select max({model.date_column}) from {model.relation}").fetchall()[0][0]
    headline = {}
    for name, query in model.headline.items():
        result = conn.execute(query).fetchall()
        value = result[0][0] if result else None
        headline[name] = float(value) if value is not None else None
    return BuildResult(rows, latest, headline)


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
