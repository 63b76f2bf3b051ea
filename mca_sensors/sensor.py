"""The sensor that keeps realtime capture going: one ``realtime_capture`` run per window, each launched early enough
to be connected before its predecessor stops.

Windows are contiguous (the next opens where the last one ends), and a run connects as soon as it starts. A run
takes seconds from request to first frame (run queue, a new process, loading the code location, connecting), so
each window is requested a **lead** before it opens::

    lead = max launch-to-connect latency of the last rt_latency_runs runs + rt_overlap_s

capped at ``rt_window_s - 2 * rt_sensor_interval_s`` so that a run has finished loading before the one after its
successor is requested (two captures at once, never three). The latency is measured, per instance, as the run's
``mca/connected_at`` tag (set by the run at its first frame) minus its creation time (a run that started too
late to connect counts with its start time); ``rt_launch_latency_s`` stands in until a run has been measured.

Each evaluation (milliseconds: two instance queries and, when a run is due, one read-only DuckDB query):

1. **Skip while a request is on its way.** A run of the job that is queued or not started (requested, not yet
   launched): skip. A launched run still starting does not block its successor's request: when launches are
   slower than the lead, waiting for it would open a hole between windows.
2. **Next window.** The last window end is the latest of the cursor's and the running captures'. While it is
   ahead, the next window starts there and is requested once now >= its start - lead - the sensor interval (the
   next evaluation could be too late). When it has passed (first tick, or the sensor was stopped), the next
   window starts now + lead, so that its run is connected when it opens. It lasts ``rt_window_s``. The run key
   ``rt:<start>:<end>`` encodes the window, so one window is never requested twice (Dagster dedupes run keys per
   sensor forever) and the cursor says how far capture has got.
3. **Assets.** The YES and NO tokens of the top ``rt_top_n`` live (not closed) markets of the latest
   ``core.markets`` day by ``rt_rank_by`` (``volume_usd`` or ``liquidity_usd``). The warehouse is opened read-only;
   if a run holds it (or it does not exist yet) the previous window's assets, kept in the cursor, are reused.
4. Runs are tagged ``dagster/max_runtime`` (until the window end + 5 minutes, for the load), with their window
   bounds, and ``mca/capture``: the instance allows two runs with that tag at once (the hand-over), so even a
   sensor bug or a manual launch cannot pile captures up (dagster.yaml, deploy/dagster.yaml).
"""

import json
import math
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from mca_resources.dagster_storage import target_of
from mca_resources.settings import Settings
from mca_resources.warehouse_target import WarehouseTarget, connect
from mca_sensors.jobs import CONNECTED_TAG, JOB_NAME, WINDOW_END_TAG, WINDOW_START_TAG, realtime_capture

SENSOR_NAME = "realtime_capture_sensor"
RANK_COLUMNS = ("volume_usd", "liquidity_usd", "volume_24h")
CAPTURE_TAG = "mca/capture"  # tag_concurrency_limits: at most 2 (the older run's last seconds and its successor)
LEAD_TAG = "mca/lead_s"  # how long before its window the run was requested (seconds)
_WAITING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]  # requested, not launched yet
_ACTIVE = [*_WAITING, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]

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


def launch_latencies(instance: dg.DagsterInstance, runs: int) -> list[float]:
    """Seconds from request (run creation) to first frame of the last ``runs`` capture runs; a run that finished
    without connecting (it started after its window) counts with its start, a lower bound of its latency."""
    latencies = []
    for record in instance.get_run_records(dg.RunsFilter(job_name=JOB_NAME), limit=runs * 2):
        connected = record.dagster_run.tags.get(CONNECTED_TAG)
        if connected is not None:
            latencies.append((datetime.fromisoformat(connected) - record.create_timestamp).total_seconds())
        elif record.dagster_run.is_finished and record.start_time is not None:
            latencies.append(record.start_time - record.create_timestamp.timestamp())
    return latencies[:runs]


def build_realtime_sensor(settings: Settings) -> dg.SensorDefinition:
    window = timedelta(seconds=settings.rt_window_s)
    overlap = timedelta(seconds=settings.rt_overlap_s)
    interval = timedelta(seconds=settings.rt_sensor_interval_s)
    if not timedelta(0) <= overlap < window:
        raise ValueError("rt_overlap_s must be >= 0 and shorter than rt_window_s")
    max_lead = window - 2 * interval
    if max_lead <= timedelta(0):
        raise ValueError("rt_window_s must exceed twice rt_sensor_interval_s (time to hand over)")

    @dg.sensor(
        name=SENSOR_NAME,
        job=realtime_capture,
        minimum_interval_seconds=settings.rt_sensor_interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING if settings.rt_sensor_enabled else dg.DefaultSensorStatus.STOPPED,
        description=f"One realtime_capture run per {settings.rt_window_s} s window of the top "
        f"{settings.rt_top_n} live markets by {settings.rt_rank_by}, each requested the measured launch latency "
        f"+ {settings.rt_overlap_s} s before its window opens.",
    )
    def realtime_capture_sensor(
        context: dg.SensorEvaluationContext, warehouse: DuckDBResource
    ) -> dg.SensorResult | dg.SkipReason:
        now = datetime.now(UTC)
        active = context.instance.get_runs(filters=dg.RunsFilter(job_name=JOB_NAME, statuses=_ACTIVE))
        if any(run.status in _WAITING for run in active):
            return dg.SkipReason("a capture run is waiting to start")
        cursor = json.loads(context.cursor) if context.cursor else {}
        ends = [end for run in active if (end := _window_end(run)) is not None]
        if "end" in cursor:
            ends.append(datetime.fromisoformat(cursor["end"]))
        last_end = max(ends, default=None)
        measured = launch_latencies(context.instance, settings.rt_latency_runs)
        latency = max(measured, default=settings.rt_launch_latency_s)
        lead = min(timedelta(seconds=latency) + overlap, max_lead)
        if last_end is not None and last_end > now:
            due = last_end - lead - interval
            if now < due:
                return dg.SkipReason(f"next window opens at {last_end.isoformat()}; requested from {due.isoformat()}")
            start = last_end
        else:
            start = datetime.fromtimestamp(math.ceil((now + lead).timestamp()), UTC)
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
                LEAD_TAG: f"{lead.total_seconds():.1f}",
            },
        )
        return dg.SensorResult(run_requests=[request], cursor=json.dumps({"end": end.isoformat(), "assets": assets}))

    return realtime_capture_sensor
