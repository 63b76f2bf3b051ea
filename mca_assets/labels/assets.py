"""``core.resolutions``: the cohort of markets that resolved on the day, with their labels.

A past day is rebuilt from closed-market data: the cohort of ``dt`` is every market of ``core.markets`` (dt) whose
resolution time (``closedTime``, else ``endDate``) falls on ``dt``. Labels follow ``mca_core.labels``.
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
from mca_assets.normalize.assets import MARKETS_KEY
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


@daily_asset(
    RESOLUTIONS_KEY,
    group="labels",
    description="Markets that resolved on the day (the cohort) labelled RESOLVED_TRUE/FALSE, VOID or UNRESOLVED.",
    deps=[MARKETS_KEY],
    owners=["team:research"],
    check_specs=[non_empty_spec(RESOLUTIONS_KEY, dg.AssetCheckSeverity.WARN)],
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
    return written_result(
        written,
        dg.AssetCheckSeverity.WARN,
        labels=dg.MetadataValue.json(dict(labels)),
        preview=preview(last.select("market_id", "label", "resolved_ts", "category", "liquidity_bucket")),
    )
