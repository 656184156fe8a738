"""Asset checks generated for every SQL model from its header (warehouse/checks/marts.py)."""

import dagster as dg

from pipelines.defs.checks.common import ERROR, WARN, CheckDef, asset_checks
from warehouse import models as sql_models
from warehouse.checks import marts
from warehouse.checks.config import load_config


def _grain(model: sql_models.Model) -> str:
    """The unique_key check's promise, in words."""
    if model.unique_key is None:
        return "its header declares no unique_key, so nothing is checked"
    if not model.unique_key:
        return "it holds at most one row (unique_key: [] in its header)"
    nullable = (
        f" (except {', '.join(model.unique_key_nullable)}, where NULL is one value of the key)"
        if model.unique_key_nullable
        else ""
    )
    return (
        f"it holds one row per ({', '.join(model.unique_key)}), the grain its header declares as "
        f"unique_key, and no key column is NULL{nullable}"
    )


def model_checks(
    model: sql_models.Model, params: dict, models: list[sql_models.Model], settings: dict
) -> dg.AssetChecksDefinition:
    """non_empty, unique_key, latest_date_current, key_metrics_not_null, schema_matches_header of a model."""
    inputs = marts.dated_inputs(
        model,
        params,
        models,
        settings.get("input_dates", {}),
        settings.get("input_filters", {}).get(model.name),
    )
    exempt = settings.get("latest_date_exempt", {}).get(model.name)
    described_inputs = (
        ", ".join(i.relation + (f" ({i.where})" if i.where else "") for i in inputs)
        or "none with a date"
    )
    checks = [
        CheckDef(
            "non_empty",
            lambda conn, cfg, run: marts.non_empty(conn, model),
            ERROR,
            description=(
                f"Protects reports from an empty {model.relation}: the model has rows. ERROR (not "
                "blocking: a mart feeds no ingestion). When it fails: its inputs are empty or the "
                "SQL filters everything out; materialise the upstream assets, then this one."
            ),
        ),
        CheckDef(
            "unique_key",
            lambda conn, cfg, run: marts.unique_key(conn, model),
            ERROR,
            description=(
                f"Protects every reader of {model.relation} from double counting: {_grain(model)}. "
                "ERROR (not blocking). When it fails: the failing rows are the rows that share a key "
                "or have a NULL in it. A join in the SQL fans out (an input with two rows for one "
                "key) or an input holds such rows itself; fix the SQL or the input, then materialise "
                "the model with full_refresh: true."
            ),
        ),
        CheckDef(
            "latest_date_current",
            lambda conn, cfg, run: marts.latest_date(conn, model, inputs=inputs, exempt=exempt),
            WARN,
            description=(
                f"Protects readers from a stale or truncated {model.relation}: its latest "
                f"{model.date_column or 'date'} is the latest date its inputs have in common - not "
                "before the earliest of the inputs' latest dates, not after the newest. Dated "
                f"inputs: {described_inputs}."
                + (f" Not judged: {exempt}." if exempt else "")
                + " WARN. When it fails: materialise the model again after its inputs; if it still "
                "ends early, the SQL drops the latest date (a join with an input that lacks it)."
            ),
        ),
        CheckDef(
            "key_metrics_not_null",
            lambda conn, cfg, run: marts.key_metrics_not_null(conn, model),
            WARN,
            description=(
                f"Protects the headline numbers of {model.relation}: on the latest date the key "
                f"metrics ({', '.join(model.key_metrics) or 'none declared'}; key_metrics in the "
                "header) are not NULL for any row whose entity (the columns before the date "
                "column) had a value before, i.e. whose window is full. WARN. When it fails: an "
                "input lacks "
                "the latest date for that entity (e.g. a yield published later than another); "
                "re-run once the source has it."
            ),
        ),
        CheckDef(
            "schema_matches_header",
            lambda conn, cfg, run: marts.schema_matches(conn, model),
            ERROR,
            description=(
                f"Protects consumers of {model.relation} from a changed shape: its columns and "
                f"types are those declared in {model.path.name}'s header (name: type | doc). "
                "ERROR (not blocking). When it fails: an input's type changed or the SQL changed; "
                "fix the SQL or declare the new type in the header deliberately."
            ),
        ),
    ]
    return asset_checks(
        dg.AssetKey([model.layer, model.name]), checks, name=f"{model.layer}__{model.name}__checks"
    )


@dg.definitions
def mart_checks() -> dg.Definitions:
    params = sql_models.load_params()
    models = sql_models.discover()
    settings = load_config()["marts"]
    return dg.Definitions(asset_checks=[model_checks(m, params, models, settings) for m in models])
