"""The market registry (one row per market ever seen) and the history of its changes (slug renames...).

Both are recomputed from all of ``core.markets`` for the markets of the day, so backfilling days in any order
gives the same registry; the registry table is not partitioned by day (key: market_id), its changes are.
"""

from functools import cache
from importlib import resources

import dagster as dg
from dagster_duckdb import DuckDBResource

from mca_assets.common import (
    BACKFILL,
    WRITER_POOL,
    every_day,
    partition_dates,
    preview,
    warehouse_connection,
)
from mca_assets.normalize.assets import MARKETS_KEY
from mca_assets.partitions import daily_partitions
from mca_resources.warehouse import read_frame, replace_partition, upsert_rows

REGISTRY_KEY = dg.AssetKey(["core", "market_registry"])
CHANGES_KEY = dg.AssetKey(["core", "registry_changes"])


@cache
def _sql(name: str) -> str:
    return resources.files("mca_assets.registry").joinpath("sql", f"{name}.sql").read_text()


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            REGISTRY_KEY, deps=[every_day(MARKETS_KEY)],
            group_name="registry", kinds={"duckdb"}, owners=["team:data"],
            description="Latest identity of every market ever seen (ids, slug, question, tokens), first/last day seen.",
        ),
        dg.AssetSpec(
            CHANGES_KEY, deps=[every_day(MARKETS_KEY)], group_name="registry", kinds={"duckdb"}, owners=["team:data"],
            description="Tracked fields (slug, question, category, ids) that changed, with old and new values.",
        ),
    ],
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL,
    pool=WRITER_POOL,
    code_version="1",
)  # fmt: skip
def market_registry(context: dg.AssetExecutionContext, warehouse: DuckDBResource):  # type: ignore[no-untyped-def]
    changes_total = 0
    registry_rows = 0
    with warehouse_connection(warehouse) as conn:
        for dt in partition_dates(context):
            changes = read_frame(conn, _sql("registry_changes"), {"dt": dt})
            replace_partition(conn, "core.registry_changes", dt, changes)
            registry = read_frame(conn, _sql("market_registry"), {"dt": dt})
            upsert_rows(conn, "core.market_registry", "market_id", registry)
            changes_total += changes.height
            registry_rows += registry.height
        total = conn.execute("SELECT count(*) FROM core.market_registry").fetchone()[0]  # type: ignore[index]
    yield dg.MaterializeResult(asset_key=REGISTRY_KEY, metadata={"markets_updated": registry_rows, "markets": total})
    yield dg.MaterializeResult(asset_key=CHANGES_KEY, metadata={"changes": changes_total, "preview": preview(changes)})
