"""The code location: every asset, check, job, schedule, sensor and resource of the platform.

The graph grows stage by stage (one folder per stage under ``mca_assets/``); this module only assembles it.
"""

from __future__ import annotations

import dagster as dg

from mca_assets.alerts import assets as alerts_assets
from mca_assets.alerts import checks as alerts_checks
from mca_assets.calibration import assets as calibration_assets
from mca_assets.calibration import checks as calibration_checks
from mca_assets.calibration import drift as calibration_drift
from mca_assets.calibration import intervals as calibration_intervals
from mca_assets.cutoff import assets as cutoff_assets
from mca_assets.cutoff import checks as cutoff_checks
from mca_assets.features import assets as features_assets
from mca_assets.features import checks as features_checks
from mca_assets.forecasts import assets as forecasts_assets
from mca_assets.forecasts import checks as forecasts_checks
from mca_assets.history import assets as history_assets
from mca_assets.history import checks as history_checks
from mca_assets.ingest import assets as ingest_assets
from mca_assets.jobs import daily_job, daily_schedule
from mca_assets.labels import assets as labels_assets
from mca_assets.labels import checks as labels_checks
from mca_assets.live import assets as live_assets
from mca_assets.live import checks as live_checks
from mca_assets.normalize import assets as normalize_assets
from mca_assets.normalize import checks as normalize_checks
from mca_assets.postmortem import assets as postmortem_assets
from mca_assets.postmortem import checks as postmortem_checks
from mca_assets.publish import assets as publish_assets
from mca_assets.realtime import assets as realtime_assets
from mca_assets.realtime import checks as realtime_checks
from mca_assets.registry import assets as registry_assets
from mca_assets.registry import checks as registry_checks
from mca_assets.snapshots import assets as snapshots_assets
from mca_assets.snapshots import checks as snapshots_checks
from mca_assets.subgraph import assets as subgraph_assets
from mca_assets.subgraph import checks as subgraph_checks
from mca_assets.trust import assets as trust_assets
from mca_assets.trust import checks as trust_checks
from mca_resources.dagster_resources import MethodsResource, PolymarketResource, TollamaResource, TrustResource
from mca_resources.dagster_storage import StorageResource, WarehouseResource
from mca_resources.settings import Settings, get_settings
from mca_resources.threads import limit_blas_threads
from mca_sensors.alerts import alert_delivery, build_alert_sensor
from mca_sensors.jobs import realtime_capture
from mca_sensors.reaper import build_reaper_sensor, guarded_in_process_executor
from mca_sensors.sensor import build_realtime_sensor

ASSET_MODULES = [
    ingest_assets, normalize_assets, registry_assets, subgraph_assets, history_assets, snapshots_assets,
    labels_assets, cutoff_assets, features_assets, calibration_assets,
    calibration_intervals, calibration_drift, trust_assets, postmortem_assets,
    realtime_assets, live_assets, forecasts_assets, alerts_assets, publish_assets,
]  # fmt: skip
CHECK_MODULES = [
    normalize_checks, registry_checks, subgraph_checks, history_checks, snapshots_checks, labels_checks,
    cutoff_checks, features_checks, calibration_checks, trust_checks, postmortem_checks,
    realtime_checks, live_checks, forecasts_checks, alerts_checks,
]  # fmt: skip


def resources_for(settings: Settings) -> dict[str, object]:
    """The resources of a deployment (tests build them for a temporary data directory and the sandbox)."""
    return {
        "warehouse": WarehouseResource.from_target(settings.warehouse_target()),
        "storage": StorageResource(data_dir=str(settings.data_dir)),
        "polymarket": PolymarketResource.from_settings(settings),
        "tollama": TollamaResource(url=settings.tollama_url),
        "methods": MethodsResource.from_settings(settings),
        "trust": TrustResource.from_settings(settings),
    }


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or get_settings()
    limit_blas_threads(settings.blas_threads)
    return dg.Definitions(
        assets=dg.load_assets_from_modules(ASSET_MODULES),
        asset_checks=[check for module in CHECK_MODULES for check in module.checks],
        jobs=[daily_job, realtime_capture, forecasts_assets.intraday_job, alert_delivery],
        schedules=[daily_schedule, forecasts_assets.intraday_schedule],
        sensors=[build_realtime_sensor(settings), build_reaper_sensor(settings), build_alert_sensor(settings)],
        resources=resources_for(settings),
        # a process per step costs seconds per step, and parallelism comes from partitions (one run per day on a
        # DuckLake, docs/decisions.md): run steps in-process, reaping dead runs first and waiting for pool slots
        # without spinning or ignoring SIGTERM
        executor=guarded_in_process_executor,
    )


defs = build_definitions()
