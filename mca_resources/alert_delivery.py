"""Alert delivery to webhooks: at-least-once from our side, exactly-once for a receiver that honours
``Idempotency-Key`` (the alert_id), with a delivery log in ``alerts.deliveries``.

One call of ``deliver_pending`` (one delivery run per sensor tick) reads every alert not yet delivered to each sink
(a short connection), posts them with retries (exponential backoff with full jitter, no connection held), then
records each outcome (another short connection). An alert still failing stays ``pending`` with its attempts and
last error and is retried by the next call, in whatever process runs it: the state is the table, so nothing is
lost across restarts, and a receiver down for an hour gets every alert once it is back. Sink URLs are secrets:
errors are recorded as the exception's type or the HTTP status, never the URL, and sinks are named.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import httpx
import polars as pl

from mca_core.alert_params import SEVERITIES
from mca_resources.settings import Settings
from mca_resources.warehouse import read_frame

__all__ = ["Sink", "deliver_pending", "payload", "post_with_retries", "sinks_from_settings"]

BACKOFF_CAP_S = 8.0
BATCH = 500

_PENDING = """
SELECT a.alert_id, a.ts, a.market_id, a.source, a.severity, a.reason, a.reason_codes, a.evidence, a.message,
       a.first_seen_ts, a.last_seen_ts, s.sink, coalesce(d.attempts, 0) AS attempts
FROM alerts.alerts a
CROSS JOIN (SELECT unnest($sinks::VARCHAR[]) AS sink) s
LEFT JOIN alerts.deliveries d ON d.alert_id = a.alert_id AND d.sink = s.sink
WHERE (d.status IS NULL OR d.status <> 'delivered')
  AND list_position($severities::VARCHAR[], a.severity) IS NOT NULL
  AND a.last_seen_ts >= $oldest
ORDER BY a.ts, a.alert_id, s.sink
LIMIT $batch
"""


@dataclass(frozen=True)
class Sink:
    """A named webhook; ``body`` "json" (the alert as JSON) or "slack" (``{"text": ...}`` for Slack-style hooks)."""

    name: str
    url: str = field(repr=False)
    body: str = "json"


def sinks_from_settings(settings: Settings) -> list[Sink]:
    sinks = [
        Sink("webhook", settings.alert_webhook_url, "json"),
        Sink("slack", settings.alert_slack_webhook_url, "slack"),
    ]
    return [s for s in sinks if s.url]


def payload(alert: dict[str, Any], body: str) -> dict[str, Any]:
    """The request body for one alert: the row as JSON, or a Slack-compatible text message."""
    if body == "slack":
        return {"text": f"*{alert['severity']}* [{alert['source']}] {alert['message']} (alert {alert['alert_id']})"}
    return {
        k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in alert.items() if k not in ("sink", "attempts")
    }


def post_with_retries(
    client: httpx.Client,
    sink: Sink,
    alert: dict[str, Any],
    attempts: int,
    backoff_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, int, str | None]:
    """POST one alert up to ``attempts`` times; returns (delivered, attempts made, last error without the URL)."""
    error: str | None = None
    for attempt in range(attempts):
        try:
            response = client.post(
                sink.url, json=payload(alert, sink.body), headers={"Idempotency-Key": str(alert["alert_id"])}
            )
            if 200 <= response.status_code < 300:
                return True, attempt + 1, None
            error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        if attempt + 1 < attempts:
            sleep(random.uniform(0.0, min(BACKOFF_CAP_S, backoff_s * 2**attempt)))
    return False, attempts, error


def _record(conn: duckdb.DuckDBPyConnection, outcomes: pl.DataFrame) -> None:
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.register("_outcomes", outcomes)
        conn.execute(
            "DELETE FROM alerts.deliveries d USING _outcomes o WHERE d.alert_id = o.alert_id AND d.sink = o.sink"
        )
        conn.execute("INSERT INTO alerts.deliveries BY NAME SELECT * FROM _outcomes")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.unregister("_outcomes")


def deliver_pending(
    connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
    sinks: list[Sink],
    settings: Settings,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, int]:
    """Deliver what is pending for every sink; returns counts: delivered and failed in this call, and pending
    (the failed ones, plus one when the batch was full so more wait)."""
    if not sinks:
        return {"delivered": 0, "failed": 0, "pending": 0}
    now = now or datetime.now(UTC)
    quietest = SEVERITIES.index(settings.alert_delivery_min_severity)
    params = {
        "sinks": [s.name for s in sinks],
        "severities": list(SEVERITIES[: quietest + 1]),
        "oldest": now - timedelta(seconds=settings.alert_delivery_max_age_s),
        "batch": BATCH,
    }
    with connect() as conn:
        todo = read_frame(conn, _PENDING, params)
    by_name = {s.name: s for s in sinks}
    rows: list[dict[str, Any]] = []
    with httpx.Client(timeout=settings.alert_delivery_timeout_s) as client:
        for alert in todo.iter_rows(named=True):
            ok, tries, error = post_with_retries(
                client, by_name[alert["sink"]], alert, settings.alert_delivery_attempts,
                settings.alert_delivery_backoff_s, sleep,
            )  # fmt: skip
            stamp = datetime.now(UTC)
            rows.append({
                "alert_id": alert["alert_id"], "sink": alert["sink"], "attempts": int(alert["attempts"]) + tries,
                "status": "delivered" if ok else "pending", "last_error": error, "delivered_ts": stamp if ok else None,
                "updated_ts": stamp,
            })  # fmt: skip
    if rows:
        schema = {"alert_id": pl.String, "sink": pl.String, "attempts": pl.Int32, "status": pl.String,
                  "last_error": pl.String, "delivered_ts": pl.Datetime("us", "UTC"),
                  "updated_ts": pl.Datetime("us", "UTC")}  # fmt: skip
        with connect() as conn:
            _record(conn, pl.DataFrame(rows, schema=schema))
    delivered = sum(r["status"] == "delivered" for r in rows)
    failed = len(rows) - delivered
    return {"delivered": delivered, "failed": failed, "pending": failed + int(todo.height >= BATCH)}
