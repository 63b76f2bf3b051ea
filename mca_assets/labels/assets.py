"""``core.resolutions``: the cohort of markets that resolved on the day, with their labels.

A past day is rebuilt from closed-market data: the cohort of ``dt`` is every market of ``core.markets`` (dt) whose
resolution time (``closedTime``, else ``endDate``) falls on ``dt``. Labels follow ``mca_core.labels``.
"""

from collections import Counter

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from mca_assets.checklib import non_empty_result, non_empty_spec
from mca_assets.common import BACKFILL, WAREHOUSE_POOL, partition_dates, preview, warehouse_connection, write_days
from mca_assets.normalize.assets import MARKETS_KEY
from mca_assets.partitions import daily_partitions
from mca_core.labels import label_markets
from mca_resources.warehouse import read_frame

RESOLUTIONS_KEY = dg.AssetKey(["core", "resolutions"])
RESOLUTION_COLUMNS = [
    "dt", "market_id", "event_id", "condition_id", "yes_token_id", "resolved_ts", "label", "y", "category",
    "liquidity_bucket", "volume_usd",
]  # fmt: skip


def cohort(markets: pl.DataFrame) -> pl.DataFrame:
    """The markets of a ``core.markets`` partition that resolved on its day, labelled."""
    labelled = label_markets(markets)
    return (
        labelled.filter(pl.col("label").is_not_null() & (pl.col("cohort_dt") == pl.col("dt")))
        .select([pl.col(c) for c in RESOLUTION_COLUMNS])
        .with_columns(pl.col("y").cast(pl.Int8))
        .sort("market_id")
    )


@dg.asset(
    key=RESOLUTIONS_KEY,
    check_specs=[non_empty_spec(RESOLUTIONS_KEY, dg.AssetCheckSeverity.WARN)],
    deps=[MARKETS_KEY],
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL,
    pool=WAREHOUSE_POOL,
    group_name="labels",
    kinds={"duckdb", "polars"},
    owners=["team:research"],
    code_version="1",
    description="Markets that resolved on the day (the cohort) labelled RESOLVED_TRUE/FALSE, VOID or UNRESOLVED.",
)
def resolutions(context: dg.AssetExecutionContext, warehouse: DuckDBResource) -> dg.MaterializeResult:
    frames = {}
    with warehouse_connection(warehouse) as conn:
        for dt in partition_dates(context):
            frames[dt] = cohort(read_frame(conn, "SELECT * FROM core.markets WHERE dt = ?", [dt]))
    written = write_days(warehouse, "core.resolutions", frames)
    labels: Counter[str] = Counter()
    for frame in frames.values():
        labels.update(frame["label"].to_list())
    last = frames[max(frames)]
    return dg.MaterializeResult(
        check_results=[non_empty_result(written, dg.AssetCheckSeverity.WARN)],
        metadata={
            "rows": sum(written.values()),
            "rows_per_day": dg.MetadataValue.json(written),
            "labels": dg.MetadataValue.json(dict(labels)),
            "preview": preview(last.select("market_id", "label", "resolved_ts", "category", "liquidity_bucket")),
        },
    )
