"""Column documentation read from the DDL files, so the docs live beside the columns they describe."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from warehouse.db import DDL_DIR

TABLE = re.compile(r"create\s+table\s+if\s+not\s+exists\s+([\w.]+)\s*\(", re.I)
COLUMN = re.compile(r"^\s*(\w+)\s+([\w ()]+?)\s*(?:not null)?\s*(?:primary key)?\s*,?\s*--\s*(.+)$", re.I)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str


@lru_cache(maxsize=1)
def core_columns() -> dict[str, tuple[Column, ...]]:
    """{'core.prices_daily': (Column, ...), ...} for every table the DDL creates."""
    tables: dict[str, list[Column]] = {}
    for ddl in sorted(DDL_DIR.glob("*.sql")):
        current: list[Column] | None = None
        for line in ddl.read_text(encoding="utf-8").splitlines():
            if m := TABLE.search(line):
                current = tables.setdefault(m[1], [])
                continue
            if current is None:
                continue
            if line.strip().startswith(")"):
                current = None
                continue
            if m := COLUMN.match(line):
                kind = re.sub(r"\s+(not null|primary key).*$", "", m[2].strip(), flags=re.I)
                current.append(Column(m[1], kind, m[3].strip()))
    return {name: tuple(cols) for name, cols in tables.items()}
