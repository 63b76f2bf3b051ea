"""Delivery against a real receiver on loopback that answers 500 for a while, then drops connections, then
recovers: every alert delivered once by idempotency key, the log right, no URL anywhere in it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from mca_resources.alert_delivery import Sink, deliver_pending, payload
from mca_resources.settings import Settings
from mca_resources.warehouse import ensure_schema, insert_new, read_frame
from tests.integration.alerts.receiver import receiver

NOW = datetime.now(UTC).replace(microsecond=0)


def alert_rows(n: int, severity: str = "HIGH") -> pl.DataFrame:
    ts = [NOW - timedelta(minutes=i) for i in range(n)]
    return pl.DataFrame({
        "alert_id": [f"a{i:03d}" for i in range(n)], "dt": [t.date() for t in ts], "ts": ts,
        "market_id": [f"m{i}" for i in range(n)], "source": "rule", "severity": severity,
        "reason": "BAND_BREACH_UP:HIGH", "reason_codes": [["BAND_BREACH_UP"]] * n, "evidence": "{}",
        "message": [f"alert {i}" for i in range(n)], "first_seen_ts": ts, "last_seen_ts": ts,
    })  # fmt: skip


def warehouse(tmp_path: Path, frame: pl.DataFrame) -> Path:
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as conn:
        ensure_schema(conn)
        insert_new(conn, "alerts.alerts", "alert_id", frame)
    return db


def connector(db: Path):  # type: ignore[no-untyped-def]
    @contextmanager
    def connect() -> Iterator[duckdb.DuckDBPyConnection]:
        with duckdb.connect(str(db)) as conn:  # a new connection per call, as a new process would open
            yield conn

    return connect


SETTINGS = Settings(alert_delivery_attempts=3, alert_delivery_backoff_s=0.01, alert_delivery_timeout_s=2.0)


def log(db: Path) -> pl.DataFrame:
    with duckdb.connect(str(db), read_only=True) as conn:
        return read_frame(conn, "SELECT * FROM alerts.deliveries ORDER BY alert_id")


def test_every_alert_delivered_once_through_500s_and_dropped_connections(tmp_path: Path) -> None:
    db = warehouse(tmp_path, alert_rows(5))
    delays: list[float] = []
    with receiver(fail_500=7, drop=5) as hook:
        sink = Sink("webhook", hook.url)
        ticks = []
        for _ in range(10):  # sensor ticks; each a fresh call and fresh connections, state only in the table
            counts = deliver_pending(connector(db), [sink], SETTINGS, sleep=delays.append)
            ticks.append(counts)
            if counts["pending"] == 0:
                break
        assert ticks[-1] == {"delivered": ticks[-1]["delivered"], "failed": 0, "pending": 0}
        assert set(hook.accepted) == {f"a{i:03d}" for i in range(5)}
        assert not hook.duplicates
        assert hook.requests == 7 + 5 + 5
        rows = log(db)
        assert rows["status"].to_list() == ["delivered"] * 5
        assert rows["attempts"].sum() == hook.requests
        assert dict(zip(rows["alert_id"], rows["attempts"], strict=True)) == dict(hook.seen_keys)
        assert rows["delivered_ts"].null_count() == 0
        assert rows["last_error"].null_count() == 5
        assert hook.accepted["a000"]["message"] == "alert 0"
        # another tick sends nothing
        assert deliver_pending(connector(db), [sink], SETTINGS) == {"delivered": 0, "failed": 0, "pending": 0}
        assert hook.requests == 17
    assert delays
    assert all(0 <= d <= 8.0 for d in delays)


def test_failures_are_logged_as_pending_without_the_url(tmp_path: Path) -> None:
    db = warehouse(tmp_path, alert_rows(2))
    with receiver(fail_500=3, drop=100) as hook:
        sink = Sink("webhook", hook.url)
        counts = deliver_pending(connector(db), [sink], SETTINGS, sleep=lambda _: None)
        assert counts == {"delivered": 0, "failed": 2, "pending": 2}
        rows = log(db)
        assert rows["status"].to_list() == ["pending", "pending"]
        assert rows["attempts"].to_list() == [3, 3]
        assert rows["last_error"].to_list() == ["RemoteProtocolError", "HTTP 500"]  # a001 (older) went first
        text = repr(rows.rows()) + repr(sink)
        assert "T0KEN-SECRET" not in text
        assert "127.0.0.1" not in text
    # the receiver is gone: a connection error, still pending, attempts add up
    deliver_pending(connector(db), [sink], SETTINGS, sleep=lambda _: None)
    assert log(db)["attempts"].to_list() == [6, 6]
    assert log(db)["last_error"].to_list() == ["ConnectError", "ConnectError"]


def test_only_severities_from_the_minimum_and_recent_alerts_are_sent(tmp_path: Path) -> None:
    old = alert_rows(1).with_columns(
        pl.lit("old").alias("alert_id"), (pl.col("ts") - timedelta(days=3)).alias("last_seen_ts")
    )
    db = warehouse(tmp_path, pl.concat([alert_rows(2, "FYI"), old]))
    with receiver() as hook:
        assert deliver_pending(connector(db), [Sink("webhook", hook.url)], SETTINGS)["delivered"] == 0
        loud = replace(SETTINGS, alert_delivery_min_severity="FYI")
        assert deliver_pending(connector(db), [Sink("webhook", hook.url)], loud)["delivered"] == 2
        assert sorted(hook.accepted) == ["a000", "a001"]


def test_slack_body() -> None:
    body = payload({"alert_id": "x", "severity": "HIGH", "source": "check", "message": "m"}, "slack")
    assert body == {"text": "*HIGH* [check] m (alert x)"}
