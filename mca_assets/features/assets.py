"""``core.features``: per market and snapshot, the features trust and alerts read (`mca_core.features`).

Returns and volatility look back up to a day, so the day before is read along with the day itself; only the
day's rows are written.
"""

from datetime import timedelta

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from mca_assets.checklib import non_empty_spec
from mca_assets.common import (
    daily_asset,
    every_day,
    partition_dates,
    preview,
    warehouse_connection,
    write_days,
    written_result,
)
from mca_assets.snapshots.assets import SNAPSHOTS_KEY
from mca_core.features import FEATURE_COLUMNS, FeatureConfig, build_features
from mca_resources.dagster_resources import MethodsResource
from mca_resources.warehouse import read_frame

FEATURES_KEY = dg.AssetKey(["core", "features"])


@daily_asset(
    FEATURES_KEY,
    group="features",
    description="Returns, volatility, volume velocity, open-interest change, time to expiry, liquidity, spread.",
    deps=[every_day(SNAPSHOTS_KEY)],
    owners=["team:research"],
    check_specs=[non_empty_spec(FEATURES_KEY, dg.AssetCheckSeverity.WARN)],
)
def features(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, methods: MethodsResource
) -> dg.MaterializeResult:
    config = FeatureConfig(liquidity=methods.settings().liquidity_edges())
    frames = {}
    with warehouse_connection(warehouse) as conn:
        for dt in partition_dates(context):
            snapshots = read_frame(
                conn,
                "SELECT dt, market_id, ts, p_yes, best_bid, best_ask, volume_usd, open_interest_usd, liquidity_usd, "
                "end_ts FROM core.market_snapshots WHERE dt BETWEEN ? AND ? "
                # the day before's close-of-day row stands at 00:00 of dt, where dt may have its own first point:
                # the day's own row wins
                "QUALIFY row_number() OVER (PARTITION BY market_id, ts ORDER BY dt DESC) = 1",
                [dt - timedelta(days=1), dt],
            )
            built = build_features(snapshots, config)
            frames[dt] = built.filter(pl.col("dt") == dt).select(FEATURE_COLUMNS).sort("market_id", "ts")
    written = write_days(warehouse, "core.features", frames)
    return written_result(
        written,
        dg.AssetCheckSeverity.WARN,
        preview=preview(frames[max(frames)]),
    )
