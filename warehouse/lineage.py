"""Column-level lineage of the SQL models, for Dagster's `dagster/column_lineage`.

A model column takes its lineage from the columns of the same name in the relations the model
reads (the relations come from DuckDB's parse of the SQL, `Model.dependencies`): a key or a
value passed through unchanged. A model can name the sources of a derived column in its header,
`lineage: {rs: [staging.pair_sessions.small_adj_close, staging.pair_sessions.large_adj_close]}`;
what the header names is added to what the names match.
"""

from __future__ import annotations

from warehouse.models import Model, ModelError
from warehouse.schema_docs import core_columns


def relation_columns(catalog: dict[str, Model]) -> dict[str, tuple[str, ...]]:
    """The documented columns of every core table and every model."""
    known = {table: tuple(c.name for c in cols) for table, cols in core_columns().items()}
    known.update({relation: tuple(model.columns) for relation, model in catalog.items()})
    return known


def column_lineage(model: Model, params: dict, catalog: dict[str, Model]) -> dict[str, list[tuple[str, str]]]:
    """{column: [(relation, column), ...]} for the model's documented columns."""
    known = relation_columns(catalog)
    inputs = sorted(model.dependencies(params))
    lineage: dict[str, list[tuple[str, str]]] = {}
    for column in model.columns:
        deps = [(relation, column) for relation in inputs if column in known.get(relation, ())]
        for source in model.lineage.get(column, ()):
            relation, _, name = source.rpartition(".")
            if relation not in inputs or name not in known.get(relation, ()):
                raise ModelError(
                    f"{model.path}: lineage of {column} names {source}, which is not a documented "
                    f"column of a relation the model reads ({', '.join(inputs)})"
                )
            if (relation, name) not in deps:
                deps.append((relation, name))
        if deps:
            lineage[column] = deps
    return lineage
