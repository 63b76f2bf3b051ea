"""``core.cutoff_snapshots``: the forecast of each resolved market at 1h, 4h, 1d, 1w and 1m before resolution.

The forecast at a horizon is the last YES price at or before (resolution − horizon), never a later one; its
staleness is kept and rows staler than the horizon's limit are dropped and counted (`mca_core.cutoffs`).
"""

from collections import Counter

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from mca_assets.checklib import non_empty_spec
from mca_assets.common import (
    daily_asset,
    partition_dates,
    preview,
    warehouse_connection,
    write_days,
    written_result,
)
from mca_assets.history.assets import PRICE_HISTORY_KEY
from mca_assets.labels.assets import RESOLUTIONS_KEY
from mca_core.cutoffs import cutoff_snapshots as build_cutoffs
from mca_resources.dagster_resources import MethodsResource
from mca_resources.warehouse import read_frame

CUTOFFS_KEY = dg.AssetKey(["core", "cutoff_snapshots"])


@daily_asset(
    CUTOFFS_KEY,
    group="cutoff",
    description="Last YES price at or before each horizon before resolution, with staleness; stale rows dropped.",
    deps=[RESOLUTIONS_KEY, PRICE_HISTORY_KEY],
    owners=["team:research"],
    check_specs=[non_empty_spec(CUTOFFS_KEY, dg.AssetCheckSeverity.WARN)],
)
def cutoff_snapshots(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, methods: MethodsResource
) -> dg.MaterializeResult:
    frames = {}
    dropped: Counter[str] = Counter()
    max_staleness = methods.settings().max_staleness()
    with warehouse_connection(warehouse) as conn:
        for dt in partition_dates(context):
            cohort = read_frame(conn, "SELECT * FROM core.resolutions WHERE dt = ?", [dt])
            prices = read_frame(conn, "SELECT market_id, ts, p FROM core.price_history WHERE dt = ?", [dt])
            result = build_cutoffs(cohort, prices, max_staleness)
            dropped.update(result.dropped_counts())
            frames[dt] = result.rows.join(
                cohort.select("market_id", "category", "liquidity_bucket", "volume_usd"), on="market_id", how="left"
            ).with_columns(pl.col("y").cast(pl.Int8))
    written = write_days(warehouse, "core.cutoff_snapshots", frames)
    last = frames[max(frames)]
    by_horizon = dict(last.group_by("horizon").len().iter_rows()) if last.height else {}
    return written_result(
        written,
        dg.AssetCheckSeverity.WARN,
        dropped=dg.MetadataValue.json(dict(dropped)),
        rows_by_horizon=dg.MetadataValue.json(by_horizon),
        preview=preview(last),
    )
