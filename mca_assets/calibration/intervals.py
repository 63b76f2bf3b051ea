"""Forecast-band backtest, interval metrics and the conformal state the forecaster applies.

As of day ``dt``: the hourly paths of the markets resolved in the 30 days up to ``dt`` are backtested with the
baselines (`mca_core.backtest`); the early origins calibrate a Mondrian split conformal per method and liquidity
bucket, the other markets are the held-out evaluation, reported raw and conformal in ``calib.interval_metrics``.
Run config ``conformal: aci`` (Launchpad or ``--config``) switches to Adaptive Conformal Inference for drifting
series; ``split`` (Mondrian split conformal) is the default.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Literal

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from mca_assets.common import BACKFILL, WRITER_POOL, every_day, partition_dates, preview, warehouse_connection
from mca_assets.history.assets import PRICE_HISTORY_KEY
from mca_assets.labels.assets import RESOLUTIONS_KEY
from mca_assets.partitions import daily_partitions
from mca_core.backtest import BacktestConfig, backtest
from mca_core.conformal import ConformalState
from mca_resources.warehouse import read_frame, replace_partition

BANDS_KEY = dg.AssetKey(["calib", "forecast_bands"])
INTERVAL_METRICS_KEY = dg.AssetKey(["calib", "interval_metrics"])
CONFORMAL_STATE_KEY = dg.AssetKey(["calib", "conformal_state"])
LOOKBACK_DAYS = 30

PATHS_SQL = """
SELECT h.market_id, coalesce(r.liquidity_bucket, 'LOW') AS segment, h.ts, h.p
FROM core.price_history h JOIN core.resolutions r ON r.dt = h.dt AND r.market_id = h.market_id
WHERE h.dt > ? AND h.dt <= ? AND r.label IN ('RESOLVED_TRUE', 'RESOLVED_FALSE')
ORDER BY h.market_id, h.ts
"""


class IntervalConfig(dg.Config):
    """How the held-out bands are calibrated: static Mondrian split conformal, or ACI for drifting series."""

    conformal: Literal["split", "aci"] = "split"
    aci_gamma: float = 0.005


def _state_rows(states: dict[str, ConformalState], dt: date) -> pl.DataFrame:
    rows = []
    for method, state in states.items():
        payload = state.to_json().decode()
        calibrations = [("pooled", state.pooled), *state.groups.items()]
        rows += [(dt, method, segment, g.q_hat, g.n, g.source, state.alpha, payload) for segment, g in calibrations]
    schema = {"dt": pl.Date, "method": pl.String, "segment": pl.String, "q_hat": pl.Float64, "n": pl.Int64,
              "source": pl.String, "alpha": pl.Float64, "state_json": pl.String}  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row")


#: the backtest of day d reads the price paths of the markets resolved in the 30 days up to d
BACKTEST_DEPS = [every_day(PRICE_HISTORY_KEY), every_day(RESOLUTIONS_KEY)]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(BANDS_KEY, deps=BACKTEST_DEPS,
                     group_name="calibration",
                     kinds={"duckdb", "polars"}, owners=["team:research"],
                     description="q10/q50/q90 baseline bands on held-out origins, raw and conformal, with outcomes."),
        dg.AssetSpec(INTERVAL_METRICS_KEY, deps=BACKTEST_DEPS, group_name="calibration",
                     kinds={"duckdb", "polars"}, owners=["team:research"],
                     description="Coverage, width, Winkler, pinball and CRPS of the 80 % bands, raw and conformal."),
        dg.AssetSpec(CONFORMAL_STATE_KEY, deps=BACKTEST_DEPS, group_name="calibration",
                     kinds={"duckdb", "polars"}, owners=["team:research"],
                     description="Mondrian conformal adjustment per method and liquidity bucket (pooled fallback)."),
    ],
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL,
    pool=WRITER_POOL,
    code_version="1",
)  # fmt: skip
def interval_backtest(context: dg.AssetExecutionContext, config: IntervalConfig, warehouse: DuckDBResource):  # type: ignore[no-untyped-def]
    written = {"bands": 0, "metrics": 0, "states": 0}
    metrics = pl.DataFrame()
    with warehouse_connection(warehouse) as conn:
        for dt in partition_dates(context):
            paths = read_frame(conn, PATHS_SQL, [dt - timedelta(days=LOOKBACK_DAYS), dt])
            fitted_at = datetime(dt.year, dt.month, dt.day, tzinfo=UTC) + timedelta(days=1)
            result = backtest(paths, fitted_at, BacktestConfig(conformal=config.conformal, aci_gamma=config.aci_gamma))
            bands = result.bands.with_columns(pl.lit(dt).alias("dt"))
            metrics = result.metrics.with_columns(pl.lit(dt).alias("dt"))
            written["bands"] += replace_partition(conn, "calib.forecast_bands", dt, bands)
            written["metrics"] += replace_partition(conn, "calib.interval_metrics", dt, metrics)
            written["states"] += replace_partition(conn, "calib.conformal_state", dt, _state_rows(result.states, dt))
    overall = metrics.filter(pl.col("segment_type") == "all") if metrics.height else metrics
    yield dg.MaterializeResult(asset_key=BANDS_KEY, metadata={"rows": written["bands"]})
    yield dg.MaterializeResult(
        asset_key=INTERVAL_METRICS_KEY,
        metadata={"rows": written["metrics"], "overall": preview(overall.drop("dt") if overall.height else overall)},
    )
    yield dg.MaterializeResult(
        asset_key=CONFORMAL_STATE_KEY, metadata={"rows": written["states"], "conformal": config.conformal}
    )
