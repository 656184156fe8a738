"""One set of rules applied to every asset of the code location, in one place.

- Group = the key's first part (its layer): `config`, `core`, `staging`, `marts`, `reports`.
  The asset graph then reads in the order data moves, and a key tells its group.
- Code references: each asset links to its SQL file (models) and its Python definition, as
  links into the repository when its address is known (ROTATION_GIT_URL, else the git remote
  `origin` when it is on GitHub or GitLab), at ROTATION_GIT_BRANCH (else the checked-out commit).
- Freshness: Dagster's own policies on the ingest tables, due after the evening loads.
- Every asset's definition metadata names the active source, warehouse and data flavour.
"""

from __future__ import annotations

import datetime as dt
import inspect
import os
import re
import subprocess
import warnings
from pathlib import Path

import dagster as dg
from dagster._core.definitions.metadata.source_code import (
    CodeReferencesMetadataSet,
    CodeReferencesMetadataValue,
    LocalFileCodeReference,
    UrlCodeReference,
)

from warehouse import calendar, settings

LAYERS = ("config", "core", "staging", "marts", "reports")

# The evening loads run at 18:30 New York every weekday, holidays included (a holiday's run
# re-checks the month and records that the last session is still the latest), so a weekday
# without a load since 21:00 the day before is late, and weekends are never due. Rates are
# fetched every day at 19:00.
SESSION_LOAD_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="0 21 * * 1-5", lower_bound_delta=dt.timedelta(hours=24), timezone=calendar.NEW_YORK
)
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=dt.timedelta(hours=50), warn_window=dt.timedelta(hours=26)
)
FRESHNESS = {
    dg.AssetKey(["core", "prices_daily"]): SESSION_LOAD_FRESHNESS,
    dg.AssetKey(["core", "valuations"]): SESSION_LOAD_FRESHNESS,
    dg.AssetKey(["core", "rates_daily"]): DAILY_FRESHNESS,
}


def group_of(key: dg.AssetKey) -> str:
    """The layer an asset belongs to: its key's first part."""
    layer = key.path[0]
    if layer not in LAYERS:
        raise ValueError(f"asset {key.to_user_string()} is outside the layers {', '.join(LAYERS)}")
    return layer


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=settings.PROJECT_ROOT, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def repository_url() -> str | None:
    """The web address of the project's repository, or None when it is not known."""
    url = os.environ.get("ROTATION_GIT_URL") or _git("config", "--get", "remote.origin.url")
    if not url:
        return None
    ssh = re.fullmatch(r"git@([^:]+):(.+?)(\.git)?", url)
    if ssh:
        url = f"https://{ssh.group(1)}/{ssh.group(2)}"
    url = url.removesuffix(".git").rstrip("/")
    return url if ("github" in url or "gitlab" in url) and url.startswith("https://") else None


def source_link(path: Path, line: int | None, label: str, repo: str | None, ref: str | None):
    """A link to `path` in the repository, or the local file when the repository is not known."""
    path = Path(path).resolve()
    if repo and ref:
        relative = path.relative_to(settings.PROJECT_ROOT).as_posix()
        tree = "-/blob" if "gitlab" in repo else "blob"
        anchor = f"#L{line}" if line else ""
        return UrlCodeReference(url=f"{repo}/{tree}/{ref}/{relative}{anchor}", label=label)
    return LocalFileCodeReference(file_path=str(path), line_number=line, label=label)


def _python_definition(assets_def: dg.AssetsDefinition) -> tuple[Path, int] | None:
    compute = getattr(assets_def.node_def, "compute_fn", None)
    fn = getattr(compute, "decorated_fn", compute)
    if fn is None:
        return None
    try:
        return Path(inspect.getsourcefile(fn)), inspect.getsourcelines(fn)[1]
    except (OSError, TypeError):
        return None


def code_references(defs: dg.Definitions) -> dict[dg.AssetKey, list]:
    """Each asset's references: its SQL file first (a `dagster/sql_file` path in its metadata),
    then the Python that defines it."""
    repo = repository_url()
    ref = os.environ.get("ROTATION_GIT_BRANCH") or (_git("rev-parse", "HEAD") if repo else None)
    found: dict[dg.AssetKey, list] = {}
    for assets_def in defs.assets or []:
        if not isinstance(assets_def, dg.AssetsDefinition):
            continue
        python = _python_definition(assets_def)
        for key in assets_def.keys:
            refs = []
            sql = assets_def.metadata_by_key.get(key, {}).get("sql_file")
            if sql is not None:
                refs.append(source_link(Path(getattr(sql, "path", sql)), None, "SQL model", repo, ref))
            if python is not None:
                refs.append(source_link(python[0], python[1], "Python definition", repo, ref))
            found[key] = refs
    return found


def shaped(defs: dg.Definitions) -> dg.Definitions:
    """`defs` with the layer groups, code references, freshness policies and active-source
    metadata applied to every asset."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        references = code_references(defs)
    active = settings.active().metadata()

    def shape(spec: dg.AssetSpec) -> dg.AssetSpec:
        metadata = dict(spec.metadata)
        metadata.pop("sql_file", None)  # now a code reference
        if references.get(spec.key):
            value = CodeReferencesMetadataValue(code_references=references[spec.key])
            metadata.update(CodeReferencesMetadataSet(code_references=value))
        metadata.update({f"active_{name}": value for name, value in active.items()})
        return spec.replace_attributes(
            group_name=group_of(spec.key),
            metadata=metadata,
            freshness_policy=FRESHNESS.get(spec.key, spec.freshness_policy),
        )

    with warnings.catch_warnings():
        # Code references and map_asset_specs are marked beta/preview in Dagster 1.13.
        warnings.simplefilter("ignore", dg.BetaWarning)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_asset_specs(func=shape)
