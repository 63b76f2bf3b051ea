"""``serving_snapshot``: the service's tables copied into a new read-only snapshot and switched to atomically.

Last in the daily graph (it depends on the leaves the service reads); the intraday refresh publishes through the
same `mca_resources.serving_snapshot.publish_snapshot`. Not a table in the warehouse: files under
``data/serving/`` (DESIGN.md §4).
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from mca_assets.alerts.assets import ALERTS_INTRADAY_KEY, ALERTS_KEY
from mca_assets.calibration.assets import BINS_KEY, SCOREBOARD_KEY
from mca_assets.calibration.drift import DRIFT_KEY
from mca_assets.calibration.intervals import CONFORMAL_STATE_KEY, INTERVAL_METRICS_KEY
from mca_assets.common import BACKFILL, WRITER_POOL, intraday_asset, warehouse_connection
from mca_assets.forecasts.assets import FORECAST_BANDS_KEY
from mca_assets.history.assets import PRICE_HISTORY_KEY
from mca_assets.labels.assets import RESOLUTIONS_KEY
from mca_assets.live.assets import LIVE_PATHS_KEY
from mca_assets.normalize.assets import MARKETS_KEY
from mca_assets.partitions import daily_partitions
from mca_assets.postmortem.assets import POSTMORTEMS_KEY
from mca_assets.registry.assets import REGISTRY_KEY
from mca_assets.trust.assets import TRUST_KEY
from mca_resources.dagster_storage import StorageResource
from mca_resources.serving_snapshot import SnapshotWindow, publish_snapshot
from mca_resources.settings import get_settings

SERVING_SNAPSHOT_KEY = dg.AssetKey(["serving", "snapshot"])
SERVING_SNAPSHOT_INTRADAY_KEY = dg.AssetKey(["serving", "snapshot_intraday"])


@dg.asset(
    key=SERVING_SNAPSHOT_KEY,
    deps=[MARKETS_KEY, REGISTRY_KEY, RESOLUTIONS_KEY, PRICE_HISTORY_KEY, SCOREBOARD_KEY, BINS_KEY,
          INTERVAL_METRICS_KEY, CONFORMAL_STATE_KEY, DRIFT_KEY, TRUST_KEY, ALERTS_KEY, POSTMORTEMS_KEY],
    group_name="publish",
    kinds={"duckdb"},
    owners=["team:platform"],
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL,
    pool=WRITER_POOL,
    description="The tables the HTTP service reads, in a new read-only DuckDB file under data/serving/, "
    "published by an atomic pointer switch (older snapshots pruned once no reader holds them).",
)  # fmt: skip
def serving_snapshot(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, storage: StorageResource
) -> dg.MaterializeResult:
    days = context.partition_key_range  # a single-run backfill covers a range of days
    return _publish(context, warehouse, storage, days.start if days.start == days.end else f"{days.start}..{days.end}")


@intraday_asset(
    SERVING_SNAPSHOT_INTRADAY_KEY,
    deps=[LIVE_PATHS_KEY, FORECAST_BANDS_KEY, ALERTS_INTRADAY_KEY],
    owners=["team:platform"],
    kinds=["duckdb"],
    description="The same snapshot published after each intraday refresh, so the service sees the fresh paths, "
    "bands and alerts within the refresh interval.",
)
def serving_snapshot_intraday(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, storage: StorageResource
) -> dg.MaterializeResult:
    return _publish(context, warehouse, storage, "intraday")


def _publish(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, storage: StorageResource, source: str
) -> dg.MaterializeResult:
    settings = get_settings()
    window = SnapshotWindow(settings.serving_history_days, settings.serving_bars_hours, settings.serving_alerts_days)
    with warehouse_connection(warehouse) as conn:
        published = publish_snapshot(conn, storage.serving_dir, window, source=source, keep=settings.serving_keep)
    if published.empty_defaults:
        context.log.info("created empty (not produced yet): %s", ", ".join(published.empty_defaults))
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(published.path)),
            "published_ts": published.published_ts.isoformat(),
            "rows": dg.MetadataValue.json(published.rows),
            "empty_defaults": published.empty_defaults,
            "pruned": len(published.pruned),
        }
    )
