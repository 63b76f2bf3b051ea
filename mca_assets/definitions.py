"""The code location: every asset, check, job, schedule, sensor and resource of the platform.

The graph grows stage by stage (one folder per stage under ``mca_assets/``); this module only assembles it.
"""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from mca_resources.dagster_resources import PolymarketResource, TollamaResource
from mca_resources.settings import get_settings


def build_definitions() -> dg.Definitions:
    settings = get_settings()
    return dg.Definitions(
        resources={
            "warehouse": DuckDBResource(database=str(settings.warehouse_path)),
            "polymarket": PolymarketResource.from_settings(settings),
            "tollama": TollamaResource(url=settings.tollama_url),
        },
    )


defs = build_definitions()
