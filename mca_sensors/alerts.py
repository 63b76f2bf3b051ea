"""Check, drift and run-failure alerts, and the delivery of every alert: the ``alert_events_sensor`` and the
``alert_delivery`` job it starts.

Each tick the sensor reads, from the instance's event log, the asset-check evaluations and the failures of the
watched jobs (``MCA_ALERT_RUN_JOBS``) after its cursor, and turns them into alert rows (``mca_core.event_alerts``):
a failing check opens an alert, a check still failing on its next evaluation only moves that alert's
``last_seen_ts``, a passing evaluation closes it. It requests a delivery run when there are rows to write, when the
rule-alert assets materialized since the last tick, or when the last delivery run left alerts pending (its
``alerts/deliveries`` materialization says how many), so a failed delivery is retried on the next tick. The
sensor never opens the warehouse (only runs do); the run writes the rows and delivers (``alert_delivery``).

The cursor (JSON, shown in the UI) holds the event-log positions, the open check alerts and a request counter for
unique run keys. It is saved only with the run request, so no event is lost if a tick fails; while a delivery run
is queued or running the tick skips without moving it.
"""

import json
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import polars as pl
from dagster._core.event_api import EventRecordsFilter, RunShardedEventsCursor
from dagster._core.events import DagsterEventType
from dagster_duckdb import DuckDBResource

from mca_core.event_alerts import check_alert, run_alert
from mca_resources.alert_delivery import deliver_pending, sinks_from_settings
from mca_resources.dagster_storage import WRITER_POOL, warehouse_connection
from mca_resources.settings import Settings, get_settings

JOB_NAME = "alert_delivery"
SENSOR_NAME = "alert_events_sensor"
DELIVERIES_KEY = dg.AssetKey(["alerts", "deliveries"])
RULE_ALERT_KEYS = (dg.AssetKey(["alerts", "alerts"]), dg.AssetKey(["alerts", "alerts_intraday"]))
_BUSY = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
         dg.DagsterRunStatus.STARTED]  # fmt: skip
_PAGE = 500

_UPDATE_SEEN = """
UPDATE alerts.alerts SET last_seen_ts = greatest(alerts.alerts.last_seen_ts, e.last_seen_ts)
FROM _events e WHERE alerts.alerts.alert_id = e.alert_id
"""
_INSERT_NEW = """
INSERT INTO alerts.alerts BY NAME
SELECT alert_id, CAST(ts AS DATE) AS dt, ts, market_id, source, severity, reason, reason_codes, evidence, message,
       first_seen_ts, last_seen_ts
FROM _events WHERE alert_id NOT IN (SELECT alert_id FROM alerts.alerts)
"""


class AlertEventsConfig(dg.Config):
    """``events``: JSON list of alert rows from the sensor (``mca_core.event_alerts``); empty = delivery only."""

    events: str = "[]"


def _write_events(conn: Any, events: list[dict[str, Any]]) -> None:
    frame = pl.DataFrame(events).with_columns(
        pl.col(c).str.to_datetime(time_zone="UTC", time_unit="us") for c in ("ts", "first_seen_ts", "last_seen_ts")
    )
    # the last evaluation of an alert wins within one batch
    frame = frame.sort("last_seen_ts").unique("alert_id", keep="last", maintain_order=True)
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.register("_events", frame)
        conn.execute(_UPDATE_SEEN)
        conn.execute(_INSERT_NEW)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.unregister("_events")


@dg.op(pool=WRITER_POOL)
def record_and_deliver(context: dg.OpExecutionContext, config: AlertEventsConfig, warehouse: DuckDBResource) -> None:
    """Write the sensor's check/drift/run alerts, then deliver every pending alert to every configured sink."""
    events = json.loads(config.events)
    if events:
        with warehouse_connection(warehouse) as conn:
            _write_events(conn, events)
    settings = get_settings()
    sinks = sinks_from_settings(settings)
    counts = deliver_pending(lambda: warehouse_connection(warehouse), sinks, settings)
    context.log.info("alert events %d; deliveries %s to sinks %s", len(events), counts, [s.name for s in sinks])
    context.log_event(
        dg.AssetMaterialization(
            asset_key=DELIVERIES_KEY,
            metadata={"events": len(events), **counts, "sinks": dg.MetadataValue.json([s.name for s in sinks])},
        )
    )


@dg.job(name=JOB_NAME, description="Write check/drift/run alerts from the alert sensor and deliver pending alerts.")
def alert_delivery() -> None:
    record_and_deliver()


def _plain(metadata: Any) -> dict[str, object]:
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def _partition(instance: dg.DagsterInstance, run_id: str, cache: dict[str, str | None]) -> str | None:
    if run_id not in cache:
        run = instance.get_run_by_id(run_id)
        tags = run.tags if run else {}
        start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
        cache[run_id] = tags.get("dagster/partition") or (f"{start}..{end}" if start and end else None)
    return cache[run_id]


def _check_events(instance: dg.DagsterInstance, state: dict[str, Any]) -> list[dict[str, object]]:
    """Check evaluations after the cursor: by storage id where ids are global (Postgres), by event time on the
    run-sharded SQLite storage (its ids restart per run), scanning only runs updated since a day before."""
    last_id, last_ts = state["checks"]["id"], state["checks"]["ts"]
    runs_after = datetime.fromtimestamp(max(last_ts - 86_400, 0), UTC)
    records = instance.event_log_storage.get_event_records(
        EventRecordsFilter(
            event_type=DagsterEventType.ASSET_CHECK_EVALUATION,
            after_cursor=RunShardedEventsCursor(id=last_id, run_updated_after=runs_after),
            after_timestamp=last_ts or None,
        ),
        limit=_PAGE,
        ascending=True,
    )
    rows, partitions = [], {}  # type: ignore[var-annotated]
    for record in sorted(records, key=lambda r: (r.timestamp, r.storage_id)):
        state["checks"] = {"id": max(record.storage_id, last_id), "ts": max(record.timestamp, last_ts)}
        last_id, last_ts = state["checks"]["id"], state["checks"]["ts"]
        evaluation = record.event_log_entry.dagster_event.asset_check_evaluation_data  # type: ignore[union-attr]
        asset = evaluation.asset_key.to_user_string()
        key = f"{asset}:{evaluation.check_name}"
        if evaluation.passed:
            state["open"].pop(key, None)
            continue
        row = check_alert(
            asset=asset, check=evaluation.check_name,
            partition=evaluation.partition or _partition(instance, record.run_id, partitions),
            severity=evaluation.severity.value, metadata=_plain(evaluation.metadata),
            ts=datetime.fromtimestamp(record.timestamp, UTC), opened=state["open"].get(key),
        )  # fmt: skip
        state["open"][key] = {"alert_id": row["alert_id"], "first_seen_ts": row["first_seen_ts"]}
        rows.append(row)
    return rows


def _run_events(instance: dg.DagsterInstance, state: dict[str, Any], jobs: set[str]) -> list[dict[str, object]]:
    result = instance.fetch_run_status_changes(
        DagsterEventType.RUN_FAILURE, limit=_PAGE, cursor=state["runs"], ascending=True
    )
    if result.records:
        state["runs"] = result.cursor
    rows, partitions = [], {}  # type: ignore[var-annotated]
    for record in result.records:
        run = instance.get_run_by_id(record.run_id)
        if run is None or run.job_name not in jobs:
            continue
        rows.append(
            run_alert(
                job=run.job_name, run_id=run.run_id, partition=_partition(instance, run.run_id, partitions),
                error=record.event_log_entry.dagster_event.message or "",  # type: ignore[union-attr]
                ts=datetime.fromtimestamp(record.timestamp, UTC),
            )
        )  # fmt: skip
    return rows


def _latest_storage_id(instance: dg.DagsterInstance, key: dg.AssetKey) -> int:
    records = instance.fetch_materializations(key, limit=1).records
    return records[0].storage_id if records else 0


def _pending_deliveries(instance: dg.DagsterInstance) -> int:
    records = instance.fetch_materializations(DELIVERIES_KEY, limit=1).records
    if not records:
        return 0
    materialization = records[0].event_log_entry.asset_materialization
    value = materialization.metadata.get("pending") if materialization else None
    return int(getattr(value, "value", 0) or 0)


def build_alert_sensor(settings: Settings) -> dg.SensorDefinition:
    jobs = {j.strip() for j in settings.alert_run_jobs.split(",") if j.strip()}

    @dg.sensor(
        name=SENSOR_NAME,
        job=alert_delivery,
        minimum_interval_seconds=settings.alert_sensor_interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING
        if settings.alert_sensor_enabled
        else dg.DefaultSensorStatus.STOPPED,
        description="Failed checks, drift triggers and failed daily runs -> alerts; delivers pending alerts.",
    )
    def alert_events_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        instance = context.instance
        if instance.get_runs(filters=dg.RunsFilter(job_name=JOB_NAME, statuses=_BUSY), limit=1):
            return dg.SkipReason("a delivery run is queued or running")
        state = json.loads(context.cursor) if context.cursor else {}
        state = {"checks": {"id": 0, "ts": 0.0}, "runs": None, "open": {}, "rule_alerts": 0, "requests": 0, **state}
        events = _check_events(instance, state) + _run_events(instance, state, jobs)
        rule_alerts = max(_latest_storage_id(instance, key) for key in RULE_ALERT_KEYS)
        new_rule_alerts, state["rule_alerts"] = rule_alerts > state["rule_alerts"], rule_alerts
        pending = _pending_deliveries(instance)
        if not (events or new_rule_alerts or pending):
            return dg.SensorResult(cursor=json.dumps(state), skip_reason="no new alert event, nothing pending")
        state["requests"] += 1
        request = dg.RunRequest(
            run_key=f"alerts:{state['requests']}",
            run_config={"ops": {"record_and_deliver": {"config": {"events": json.dumps(events)}}}},
            tags={"mca/alert_events": str(len(events)), "mca/pending_before": str(pending)},
        )
        return dg.SensorResult(run_requests=[request], cursor=json.dumps(state))

    return alert_events_sensor
