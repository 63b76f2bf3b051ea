"""``calib.drift``: is calibration moving? Base-rate swing, Brier trend and PSI of the forecasts per horizon over
the last 90 days of cohorts, and held-out conformal coverage below target per band method (`mca_core.drift`).
A fired detector fails the WARN check ``no_drift`` so an operator (and the alerts stage) sees it.
"""

from datetime import date, timedelta

import dagster as dg
import numpy as np
import polars as pl
from dagster_duckdb import DuckDBResource

from mca_assets.calibration.intervals import BANDS_KEY
from mca_assets.common import BACKFILL, WRITER_POOL, every_day, partition_dates, preview, warehouse_connection
from mca_assets.cutoff.assets import CUTOFFS_KEY
from mca_assets.partitions import daily_partitions
from mca_core.drift import DriftReport, DriftThresholds, drift_report
from mca_resources.dagster_resources import MethodsResource
from mca_resources.warehouse import read_frame, replace_partition

DRIFT_KEY = dg.AssetKey(["calib", "drift"])
WINDOW_DAYS = 90
RECENT_DAYS = 30
MIN_ROWS = 400  # below this a 0.15 base-rate swing between 4 windows is mostly noise
COVERAGE_TARGET = 0.8
DRIFT_SCHEMA = {"dt": pl.Date, "scope": pl.String, "detector": pl.String, "n": pl.Int64, "value": pl.Float64,
                "threshold": pl.Float64, "fired": pl.Boolean}  # fmt: skip


def _rows(dt: date, scope: str, n: int, report: DriftReport) -> list[tuple[object, ...]]:
    names = {"base_rate_swing": "base_rate_swing", "brier_slope": "brier_trend", "psi": "psi", "coverage": "coverage"}
    return [
        (dt, scope, detector, n, report.values.get(key), report.thresholds.get(key), detector in report.fired)
        for key, detector in names.items()
        if key in report.values
    ]


def drift_rows(cutoffs: pl.DataFrame, bands: pl.DataFrame, dt: date, thresholds: DriftThresholds) -> pl.DataFrame:
    """Detector rows of one as-of day (horizons with fewer than MIN_ROWS resolved forecasts are not judged)."""
    rows: list[tuple[object, ...]] = []
    recent_from = dt - timedelta(days=RECENT_DAYS)
    for (horizon,), part in cutoffs.sort("dt", "market_id").group_by(["horizon"], maintain_order=True):
        if part.height < MIN_ROWS:
            continue
        dates = part["dt"].cast(pl.Int32).to_numpy()
        reference = part.filter(pl.col("dt") <= recent_from)["p_yes"].to_numpy()
        current = part.filter(pl.col("dt") > recent_from)["p_yes"].to_numpy()
        report = drift_report(
            y=part["y"].to_numpy().astype(float),
            p=part["p_yes"].to_numpy(),
            dates=dates,
            expected_p=reference if reference.size >= MIN_ROWS // 2 and current.size else None,
            thresholds=thresholds,
        )
        rows += _rows(dt, str(horizon), part.height, report)
    for (method,), part in bands.group_by(["method"], maintain_order=True):
        covered = ((part["y"] >= part["q10"]) & (part["y"] <= part["q90"])).to_numpy()
        report = drift_report(
            covered=covered.astype(np.float64),
            coverage_target=COVERAGE_TARGET,
            covered_clusters=part["market_id"].to_numpy(),
            thresholds=thresholds,
        )
        rows += _rows(dt, f"bands:{method}", part.height, report)
    frame = pl.DataFrame(rows, schema=DRIFT_SCHEMA, orient="row") if rows else pl.DataFrame(schema=DRIFT_SCHEMA)
    return frame.sort("scope", "detector")


@dg.asset(
    key=DRIFT_KEY,
    deps=[every_day(CUTOFFS_KEY), BANDS_KEY],
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL,
    pool=WRITER_POOL,
    group_name="calibration",
    kinds={"duckdb", "polars"},
    owners=["team:research"],
    code_version="1",
    description="Drift detectors (base-rate swing, Brier trend, PSI, coverage below target) as of the day.",
)
def drift(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, methods: MethodsResource
) -> dg.MaterializeResult:
    written = 0
    thresholds = methods.settings().drift_thresholds()
    with warehouse_connection(warehouse) as conn:
        for dt in partition_dates(context):
            cutoffs = read_frame(
                conn,
                "SELECT dt, market_id, horizon, p_yes, y FROM core.cutoff_snapshots WHERE dt > ? AND dt <= ?",
                [dt - timedelta(days=WINDOW_DAYS), dt],
            )
            bands = read_frame(
                conn,
                "SELECT method, market_id, y, q10, q90 FROM calib.forecast_bands "
                "WHERE dt = ? AND band_calibration = 'conformal'",
                [dt],
            )
            frame = drift_rows(cutoffs, bands, dt, thresholds)
            written += replace_partition(conn, "calib.drift", dt, frame)
    fired = frame.filter(pl.col("fired"))
    return dg.MaterializeResult(
        metadata={"rows": written, "fired": fired.height, "detectors": preview(frame.drop("dt"))}
    )
