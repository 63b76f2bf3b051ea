"""``alerts.alerts``: rule alerts of a whole day (daily partition, backfillable) and of the last minutes
(``alerts_intraday``, after each forecast refresh), written insert-or-ignore on the deterministic ``alert_id``.

Both evaluate every point as of its own moment (``mca_core.alerts``) from the same inputs (``inputs.py``), so a
move alerted intraday has the same id in the daily run, which then adds nothing; a second materialization of a
day adds nothing either. Alerts are a log of what was raised: a re-run never deletes one (a delivered alert
cannot be called back). Check, drift and run-failure alerts are written by the alert delivery job
(``mca_sensors.alerts``).
"""

from datetime import UTC, datetime, time, timedelta

import dagster as dg
import duckdb
import polars as pl
from dagster_duckdb import DuckDBResource

from mca_assets.alerts.inputs import rule_alerts
from mca_assets.common import daily_asset, every_day, intraday_asset, partition_dates, warehouse_connection
from mca_assets.forecasts.assets import FORECAST_BANDS_KEY
from mca_assets.live.assets import LIVE_PATHS_KEY
from mca_assets.snapshots.assets import SNAPSHOTS_KEY
from mca_resources.settings import get_settings
from mca_resources.warehouse import insert_new, read_frame

ALERTS_KEY = dg.AssetKey(["alerts", "alerts"])
ALERTS_INTRADAY_KEY = dg.AssetKey(["alerts", "alerts_intraday"])
TRUST_KEY = dg.AssetKey(["trust", "trust_scores"])
NEWEST = 10

_COUNTS = """
SELECT source, severity, count(*) AS n FROM alerts.alerts WHERE dt BETWEEN ? AND ? GROUP BY ALL ORDER BY ALL
"""
_NEWEST = """
SELECT ts, market_id, source, severity, reason, message, alert_id FROM alerts.alerts
WHERE dt BETWEEN ? AND ? ORDER BY ts DESC, alert_id LIMIT ?
"""


def _newest_table(frame: pl.DataFrame) -> dg.TableMetadataValue:
    columns = [dg.TableColumn(name, "string") for name in frame.columns]
    records = [dg.TableRecord({k: str(v) for k, v in row.items()}) for row in frame.iter_rows(named=True)]
    return dg.MetadataValue.table(records=records, schema=dg.TableSchema(columns=columns))


def alerts_metadata(conn: duckdb.DuckDBPyConnection, first: object, last: object, added: int) -> dict[str, object]:
    """What the UI shows: alerts added, counts by severity and source of the days covered, the newest alerts."""
    counts = read_frame(conn, _COUNTS, [first, last])
    by_severity = counts.group_by("severity").agg(pl.col("n").sum()).sort("severity")
    by_source = counts.group_by("source").agg(pl.col("n").sum()).sort("source")
    return {
        "added": added,
        "alerts_on_days": int(counts["n"].sum()) if counts.height else 0,
        "by_severity": dg.MetadataValue.json(dict(by_severity.iter_rows())),
        "by_source": dg.MetadataValue.json(dict(by_source.iter_rows())),
        "newest": _newest_table(read_frame(conn, _NEWEST, [first, last, NEWEST])),
    }


@daily_asset(
    ALERTS_KEY,
    group="alerts",
    deps=[FORECAST_BANDS_KEY, every_day(SNAPSHOTS_KEY), every_day(TRUST_KEY), LIVE_PATHS_KEY],  # the day before too
    owners=("team:research",),
    description="Rule alerts of the day, every point judged as of its moment; insert-or-ignore on alert_id.",
)
def alerts(context: dg.AssetExecutionContext, warehouse: DuckDBResource) -> dg.MaterializeResult:
    config = get_settings().alert_config()
    days = partition_dates(context)
    added, inputs = 0, {}
    with warehouse_connection(warehouse) as conn:
        for dt in days:
            since = datetime.combine(dt, time(), tzinfo=UTC)
            frame, inputs = rule_alerts(conn, since, since + timedelta(days=1), config)
            added += insert_new(conn, "alerts.alerts", "alert_id", frame)
        metadata = alerts_metadata(conn, days[0], days[-1], added)
    return dg.MaterializeResult(metadata={**metadata, "inputs_of_last_day": dg.MetadataValue.json(inputs)})


class AlertsIntradayConfig(dg.Config):
    """``window_s``: the moments judged, back from now (a few refresh intervals, so a missed run loses nothing);
    ``now``: ISO time to evaluate as of (empty = the wall clock), for replays and tests."""

    window_s: int = 1800
    now: str = ""


@intraday_asset(
    ALERTS_INTRADAY_KEY,
    deps=[FORECAST_BANDS_KEY, LIVE_PATHS_KEY],
    owners=["team:research"],
    description="Rule alerts of the last minutes for the live top-N; run right after each forecast refresh.",
)
def alerts_intraday(
    context: dg.AssetExecutionContext, config: AlertsIntradayConfig, warehouse: DuckDBResource
) -> dg.MaterializeResult:
    """Judges the points of ``core.live_paths`` (and hourly snapshots) of the last ``window_s`` against the bands
    of ``serving.forecast_bands`` and writes ``alerts.alerts`` with the ids the daily asset gives the same moves.
    It runs in the ``intraday_refresh`` job, right after the forecast refresh.
    """
    now = datetime.fromisoformat(config.now) if config.now else datetime.now(UTC)
    since = now - timedelta(seconds=config.window_s)
    with warehouse_connection(warehouse) as conn:
        frame, inputs = rule_alerts(conn, since, now + timedelta(microseconds=1), get_settings().alert_config())
        added = insert_new(conn, "alerts.alerts", "alert_id", frame)
        metadata = alerts_metadata(conn, since.date(), now.date(), added)
    context.log.info("intraday alerts %s .. %s: %d new", since.isoformat(), now.isoformat(), added)
    return dg.MaterializeResult(
        metadata={**metadata, "as_of": now.isoformat(), "inputs": dg.MetadataValue.json(inputs)}
    )
