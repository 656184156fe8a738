from pathlib import Path

import dagster as dg

from pipelines.graph import shaped


@dg.definitions
def defs() -> dg.Definitions:
    return shaped(dg.load_from_defs_folder(path_within_project=Path(__file__).parent))
