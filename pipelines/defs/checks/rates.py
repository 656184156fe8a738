"""Asset checks of the rates tables; the logic is warehouse/checks/rates.py."""

import dagster as dg

from pipelines.defs.checks.common import (
    ERROR,
    WARN,
    CheckDef,
    asset_checks,
    no_rows_quarantined,
    schema_matches_ddl,
)
from warehouse.checks import rates
from warehouse.universe import load_universe

RATES_KEY = dg.AssetKey(["core", "rates_daily"])
POLICY_KEY = dg.AssetKey(["core", "policy_rate_daily"])
DECISIONS_KEY = dg.AssetKey(["core", "fomc_decisions"])
REFERENCE_KEY = dg.AssetKey(["core", "fomc_reference"])


def _keys(table: str, what: str) -> CheckDef:
    return CheckDef(
        "unique_keys",
        lambda conn, cfg, run: rates.unique_keys(conn, table=table),
        ERROR,
        blocking=True,
        description=(
            f"Protects every model reading {table} from double counting: each {what} appears once "
            "and no key is NULL. ERROR and blocking. When it fails: the table was altered outside "
            "the loader (which upserts on the key); rebuild it by re-materialising the asset."
        ),
    )


RATES_CHECKS = [
    _keys("core.rates_daily", "(series_id, obs_date)"),
    schema_matches_ddl("core.rates_daily", "20_rates.sql"),
    CheckDef(
        "target_range_sane",
        lambda conn, cfg, run: rates.target_range(conn, **cfg),
        ERROR,
        blocking=True,
        config_key="rates.target_range",
        description=(
            "Protects the policy-rate history and the easing cycles: on every date of FRED's "
            "target range both DFEDTARL and DFEDTARU exist, the lower is below the upper and they "
            "are 25 bp apart (width_bp); DFEDTAR is a finite, non-negative number. ERROR and "
            "blocking: core/policy_rate_daily and the Fed marts are not rebuilt from it. When it "
            "fails: re-load the two series from FRED (a half-published day fixes itself on the "
            "next run); a file source needs both series for the same dates."
        ),
    ),
    CheckDef(
        "rates_fresh",
        lambda conn, cfg, run: rates.freshness(
            conn, series=list(load_universe().rate_series), **cfg
        ),
        WARN,
        config_key="rates.freshness",
        description=(
            "Protects the rate figures from being stale: each series of config/universe.toml "
            "[rates] has an observation recent for its frequency (daily, monthly: "
            "[rates.freshness] max_age_days, by calendar days in New York). WARN: FRED publishes "
            "late around holidays. When it fails: materialise core/rates_daily; a series that "
            "keeps lagging may be discontinued (list it under discontinued)."
        ),
    ),
    no_rows_quarantined(
        "core.rates_daily",
        what="observations",
        why="a value that is not a number, an unparseable date",
        fix="fix the file or wait for FRED's correction, then re-run.",
    ),
]

POLICY_CHECKS = [
    _keys("core.policy_rate_daily", "calendar_date"),
    schema_matches_ddl("core.policy_rate_daily", "20_rates.sql"),
    CheckDef(
        "effective_in_range",
        lambda conn, cfg, run: rates.effective_in_range(conn, **cfg),
        WARN,
        config_key="rates.effective_in_range",
        description=(
            "Protects readings of the effective rate against the target: DFF lies inside the "
            "target range (+/- tolerance_bp) on every day of the range era (from 2008-12-16). "
            "WARN: the real series leaves the range on a few days (2015-12-16, 2016-12-14: the "
            "day a hike took effect; 2019-09-17: the repo spike). When it fails on other days: "
            "check DFF and the range series for those dates at FRED."
        ),
    ),
]

DECISION_CHECKS = [
    _keys("core.fomc_decisions", "effective_date"),
    schema_matches_ddl("core.fomc_decisions", "20_rates.sql"),
    CheckDef(
        "decisions_match_reference",
        lambda conn, cfg, run: rates.decisions_match_reference(conn),
        ERROR,
        blocking=True,
        additional_deps=(REFERENCE_KEY,),
        description=(
            "Protects the easing-cycle study from a wrong Fed history: the target changes derived "
            "from FRED's series agree with the shipped reference config/fomc_decisions.csv on "
            "every day core.policy_rate_daily covers (date, bounds, change in bp). ERROR and "
            "blocking when they disagree or a change is missing on either side; WARN when the data "
            "only holds changes newer than the file. When it fails: a change missing from the data "
            "means the target series are incomplete (re-load core/rates_daily); a change missing "
            "from the file means the file needs a row (add it, then materialise "
            "core/fomc_reference)."
        ),
    ),
]

rates_daily_checks = asset_checks(RATES_KEY, RATES_CHECKS, name="core__rates_daily__checks")
policy_rate_checks = asset_checks(POLICY_KEY, POLICY_CHECKS, name="core__policy_rate_daily__checks")
fomc_decision_checks = asset_checks(
    DECISIONS_KEY, DECISION_CHECKS, name="core__fomc_decisions__checks"
)
