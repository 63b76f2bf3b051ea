"""The sensor that keeps realtime capture going: one ``realtime_capture`` run per window, windows overlapping.

Each evaluation (a few milliseconds: one instance query and, when a run is due, one read-only DuckDB query):

1. **Skip while a capture is busy.** A run of the job that is queued/not started/starting means a request is
   already on its way: skip. A started run whose window ends more than ``rt_overlap_s`` from now is capturing:
   skip. So at most one capture is requested at a time, and two captures run side by side only during the last
   ``rt_overlap_s`` of the older one: that hand-over is what keeps a gap from opening between runs (a run needs
   seconds to launch and connect); the ticks seen twice are dropped by their ``dedupe_key`` on load.
2. **Next window.** The cursor holds the last requested window end. If now is within the hand-over margin of it,
   the next window starts ``rt_overlap_s`` before it; otherwise (first tick, or the sensor was stopped) it starts
   now. It lasts ``rt_window_s``. The run key ``rt:<start>:<end>`` encodes the window, so one window is never
   requested twice (Dagster dedupes run keys per sensor forever) and the cursor says how far capture has got.
3. **Assets.** The YES and NO tokens of the top ``rt_top_n`` live (not closed) markets of the latest
   ``core.markets`` day by ``rt_rank_by`` (``volume_usd`` or ``liquidity_usd``). The warehouse is opened read-only;
   if a run holds it (or it does not exist yet) the previous window's assets, kept in the cursor, are reused.
4. Runs are tagged ``dagster/max_runtime`` (window + 5 minutes, for the load), with their window bounds, and
   ``mca/capture``: the instance allows two runs with that tag at once (the hand-over), so even a sensor bug or a
   manual launch cannot pile captures up (dagster.yaml, deploy/dagster.yaml).
"""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from mca_resources.dagster_storage import target_of
from mca_resources.settings import Settings
from mca_resources.warehouse_target import WarehouseTarget, connect
from mca_sensors.jobs import JOB_NAME, WINDOW_END_TAG, WINDOW_START_TAG, realtime_capture

SENSOR_NAME = "realtime_capture_sensor"
RANK_COLUMNS = ("volume_usd", "liquidity_usd", "volume_24h")
CAPTURE_TAG = "mca/capture"  # tag_concurrency_limits: at most 2 (the older run's last seconds and its successor)
_WAITING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING]

TOP_MARKETS_SQL = """
SELECT yes_token_id, no_token_id FROM core.markets
WHERE dt = (SELECT max(dt) FROM core.markets) AND NOT closed AND yes_token_id IS NOT NULL
ORDER BY {rank} DESC NULLS LAST, market_id
LIMIT ?
"""


def top_assets(target: WarehouseTarget, n: int, rank_by: str) -> list[str] | None:
    """Token ids of the top-``n`` live markets, or None when the warehouse cannot be read right now."""
    if rank_by not in RANK_COLUMNS:
        raise ValueError(f"rt_rank_by must be one of {RANK_COLUMNS}, got {rank_by!r}")
    try:
        with connect(target, read_only=True) as conn:
            rows = conn.execute(TOP_MARKETS_SQL.format(rank=rank_by), [n]).fetchall()
    except duckdb.Error:
        return None
    return [token for pair in rows for token in pair if token]


def _window_end(run: dg.DagsterRun) -> datetime | None:
    text = run.tags.get(WINDOW_END_TAG)
    return datetime.fromisoformat(text) if text else None


def build_realtime_sensor(settings: Settings) -> dg.SensorDefinition:
    window = timedelta(seconds=settings.rt_window_s)
    overlap = timedelta(seconds=settings.rt_overlap_s)
    if not timedelta(0) <= overlap < window:
        raise ValueError("rt_overlap_s must be >= 0 and shorter than rt_window_s")

    @dg.sensor(
        name=SENSOR_NAME,
        job=realtime_capture,
        minimum_interval_seconds=settings.rt_sensor_interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING if settings.rt_sensor_enabled else dg.DefaultSensorStatus.STOPPED,
        description=f"One realtime_capture run per {settings.rt_window_s} s window of the top "
        f"{settings.rt_top_n} live markets by {settings.rt_rank_by}, windows overlapping by {settings.rt_overlap_s} s.",
    )
    def realtime_capture_sensor(
        context: dg.SensorEvaluationContext, warehouse: DuckDBResource
    ) -> dg.SensorResult | dg.SkipReason:
        now = datetime.now(UTC).replace(microsecond=0)
        active = context.instance.get_runs(
            filters=dg.RunsFilter(job_name=JOB_NAME, statuses=[*_WAITING, dg.DagsterRunStatus.STARTED])
        )
        if any(run.status in _WAITING for run in active):
            return dg.SkipReason("a capture run is waiting to start")
        capturing = [end for run in active if (end := _window_end(run)) is not None and end - overlap > now]
        if capturing:
            return dg.SkipReason(f"capture running until {max(capturing).isoformat()}")
        cursor = json.loads(context.cursor) if context.cursor else {}
        last_end = datetime.fromisoformat(cursor["end"]) if "end" in cursor else None
        start = last_end - overlap if last_end is not None and last_end - overlap <= now < last_end else now
        end = start + window
        assets = top_assets(target_of(warehouse), settings.rt_top_n, settings.rt_rank_by)
        if assets is None:
            assets = cursor.get("assets") or []
        if not assets:
            return dg.SkipReason("no live markets in core.markets yet (or the warehouse is busy)")
        request = dg.RunRequest(
            run_key=f"rt:{start:%Y%m%dT%H%M%SZ}:{end:%Y%m%dT%H%M%SZ}",
            run_config={
                "ops": {
                    "capture_window": {
                        "config": {
                            "asset_ids": assets,
                            "window_start": start.isoformat(),
                            "window_end": end.isoformat(),
                        }
                    }
                }
            },
            tags={
                "dagster/max_runtime": str(int((end - now + timedelta(minutes=5)).total_seconds())),
                CAPTURE_TAG: "1",
                WINDOW_START_TAG: start.isoformat(),
                WINDOW_END_TAG: end.isoformat(),
            },
        )
        return dg.SensorResult(run_requests=[request], cursor=json.dumps({"end": end.isoformat(), "assets": assets}))

    return realtime_capture_sensor
