"""`rotation`: query the warehouse from the shell, always through the read snapshot.

    rotation sql "select * from marts.rotation_dashboard"
    rotation sql --file sql/queries/streak.sql
    rotation tables
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from warehouse import settings
from warehouse.db import connect_active
from warehouse.snapshot import open_for_reading


def _print(conn: duckdb.DuckDBPyConnection, query: str, max_rows: int) -> None:
    relation = conn.sql(query)
    if relation is None:
        return
    relation.show(max_rows=max_rows, max_width=240)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rotation", description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=None,
                        help="the warehouse file (default: the active one, as `make run` and the UI choose it)")
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("sql", help="run a query and print the result as a table")
    q.add_argument("query", nargs="?", help="SQL text")
    q.add_argument("--file", type=Path, help="a .sql file to run instead")
    q.add_argument("--max-rows", type=int, default=40)
    sub.add_parser("tables", help="list the tables and views people can query")
    args = parser.parse_args(argv)

    active = settings.active()
    if args.warehouse is None and active.fallback_reason:
        print(f"-- {active.headline}", file=sys.stderr)
    warehouse = args.warehouse or active.warehouse
    try:
        if args.warehouse is None and active.lake is not None:
            # A lake is queried directly, read-only: no snapshot stands between.
            conn, path = connect_active(active, read_only=True), active.location
        else:
            conn, path = open_for_reading(warehouse)
    except FileNotFoundError as exc:
        print(f"rotation: {exc}", file=sys.stderr)
        return 2
    print(f"-- {path}", file=sys.stderr)
    with conn:
        if args.command == "tables":
            _print(conn, "select schema_name || '.' || table_name as relation, estimated_size as rows, "
                         "column_count as columns from duckdb_tables() where schema_name not in ('meta') "
                         "union all select schema_name || '.' || view_name, null, null from duckdb_views() "
                         "where not internal order by 1", 200)
            return 0
        query = args.file.read_text(encoding="utf-8") if args.file else args.query
        if not query:
            print("rotation sql: give a query or --file", file=sys.stderr)
            return 2
        try:
            _print(conn, query, args.max_rows)
        except duckdb.Error as exc:
            print(f"rotation sql: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
