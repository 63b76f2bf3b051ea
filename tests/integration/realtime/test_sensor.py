"""The realtime capture sensor through ``build_sensor_context`` on a persistent test instance: which markets, run
keys that encode the window, cursor progress, contiguous windows each requested the measured launch latency plus
the overlap margin before it opens, and no second request while one is on its way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from dagster_duckdb import DuckDBResource

from mca_resources.settings import Settings
from mca_resources.warehouse import ensure_schema
from mca_sensors.jobs import CONNECTED_TAG, WINDOW_END_TAG, WINDOW_START_TAG, realtime_capture
from mca_sensors.sensor import CAPTURE_TAG, LEAD_TAG, build_realtime_sensor
from tests.conftest import sensor_tick

WINDOW_S, OVERLAP_S, INTERVAL_S, PRIOR_S = 600, 60, 30, 30.0


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """core.markets for two days: the latest day decides; a closed market never counts."""
    db = tmp_path / "warehouse.duckdb"
    rows = [
        # dt, market_id, yes, no, closed, volume_usd, liquidity_usd
        (date(2026, 11, 22), "old", "old-y", "old-n", False, 9e9, 9e9),
        (date(2026, 11, 23), "m1", "m1-y", "m1-n", False, 100.0, 5_000.0),
        (date(2026, 11, 23), "m2", "m2-y", "m2-n", False, 900.0, 10.0),
        (date(2026, 11, 23), "m3", "m3-y", "m3-n", True, 5e6, 5e6),
        (date(2026, 11, 23), "m4", "m4-y", "m4-n", False, 500.0, 1_000.0),
    ]
    frame = pl.DataFrame(
        rows,
        schema=["dt", "market_id", "yes_token_id", "no_token_id", "closed", "volume_usd", "liquidity_usd"],
        orient="row",
    ).with_columns(category=pl.lit("x"), liquidity_bucket=pl.lit("LOW"))
    with duckdb.connect(str(db)) as conn:
        ensure_schema(conn)
        conn.register("m", frame)
        conn.execute("INSERT INTO core.markets BY NAME SELECT * FROM m")
    return db


def sensor_for(**overrides: object) -> dg.SensorDefinition:
    settings = Settings(
        rt_window_s=WINDOW_S, rt_overlap_s=OVERLAP_S, rt_sensor_interval_s=INTERVAL_S, rt_launch_latency_s=PRIOR_S,
        rt_top_n=2, **overrides,  # type: ignore[arg-type]
    )  # fmt: skip
    return build_realtime_sensor(settings)


def evaluate(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, db: Path, cursor: str | None
) -> dg.SensorResult:
    resources = {"warehouse": DuckDBResource(database=str(db))}
    return sensor_tick(sensor, instance=instance, cursor=cursor, resources=resources)


def add_run(
    instance: dg.DagsterInstance, status: dg.DagsterRunStatus, start: datetime, end: datetime, latency_s: float = 0
) -> None:
    """A capture run of window [start, end]; with ``latency_s``, it connected that long after it was created."""
    config = {"asset_ids": ["a"], "window_start": start.isoformat(), "window_end": end.isoformat()}
    run = instance.create_run_for_job(
        job_def=realtime_capture,
        run_config={"ops": {"capture_window": {"config": config}}},
        status=status,
        tags={WINDOW_START_TAG: start.isoformat(), WINDOW_END_TAG: end.isoformat()},
    )
    if latency_s:
        record = instance.get_run_record_by_id(run.run_id)
        assert record is not None
        connected = record.create_timestamp + timedelta(seconds=latency_s)
        instance.add_run_tags(run.run_id, {CONNECTED_TAG: connected.isoformat()})


def clear(instance: dg.DagsterInstance) -> None:
    for run in instance.get_runs():
        instance.delete_run(run.run_id)


def window_of(request: dg.RunRequest) -> tuple[datetime, datetime]:
    config = request.run_config["ops"]["capture_window"]["config"]
    return datetime.fromisoformat(config["window_start"]), datetime.fromisoformat(config["window_end"])


def test_first_tick_requests_a_window_of_the_top_live_markets_with_its_key_cursor_and_max_runtime(
    instance: dg.DagsterInstance, warehouse: Path
) -> None:
    before = datetime.now(UTC)
    data = evaluate(sensor_for(), instance, warehouse, None)
    [request] = data.run_requests
    start, end = window_of(request)
    lead = timedelta(seconds=PRIOR_S + OVERLAP_S)  # no run has connected yet: the assumed latency stands in
    assert before + lead <= start <= before + lead + timedelta(seconds=1)  # a lead ahead: connected when it opens
    assert end - start == timedelta(seconds=WINDOW_S)
    assert request.run_key == f"rt:{start:%Y%m%dT%H%M%SZ}:{end:%Y%m%dT%H%M%SZ}"
    config = request.run_config["ops"]["capture_window"]["config"]
    assert config["asset_ids"] == ["m2-y", "m2-n", "m4-y", "m4-n"]  # top 2 open markets of the latest day by volume
    assert json.loads(data.cursor) == {"end": end.isoformat(), "assets": config["asset_ids"]}
    assert int(request.tags["dagster/max_runtime"]) >= WINDOW_S
    assert request.tags[WINDOW_END_TAG] == end.isoformat()
    assert request.tags[CAPTURE_TAG] == "1"  # the instance caps runs with this tag at two (the hand-over)

    by_liquidity = evaluate(sensor_for(rt_rank_by="liquidity_usd"), instance, warehouse, None)
    assert by_liquidity.run_requests[0].run_config["ops"]["capture_window"]["config"]["asset_ids"][:2] == [
        "m1-y", "m1-n",
    ]  # fmt: skip


def test_no_second_request_while_one_is_on_its_way_and_the_next_window_is_requested_a_prior_lead_ahead(
    instance: dg.DagsterInstance, warehouse: Path
) -> None:
    sensor = sensor_for()
    first = evaluate(sensor, instance, warehouse, None)
    start, end = window_of(first.run_requests[0])

    add_run(instance, dg.DagsterRunStatus.NOT_STARTED, start, end)  # requested, not launched yet
    waiting = evaluate(sensor, instance, warehouse, first.cursor)
    assert waiting.run_requests == []
    assert "waiting to start" in (waiting.skip_message or "")

    # capturing, far from its end: the next window is due only a lead (+ one sensor interval) before it opens
    clear(instance)
    add_run(instance, dg.DagsterRunStatus.STARTED, start, end)
    lead = timedelta(seconds=PRIOR_S + OVERLAP_S)  # no run has connected yet: the assumed latency stands in
    busy = evaluate(sensor, instance, warehouse, None)  # the running capture's window counts even without a cursor
    assert busy.run_requests == []
    due = end - lead - timedelta(seconds=INTERVAL_S)
    assert busy.skip_message == f"next window opens at {end.isoformat()}; requested from {due.isoformat()}"

    # the running capture ends within lead + interval: request the next window, starting where this one ends
    clear(instance)
    now = datetime.now(UTC).replace(microsecond=0)
    last_end = now + lead + timedelta(seconds=INTERVAL_S - 5)
    add_run(instance, dg.DagsterRunStatus.STARTED, last_end - timedelta(seconds=WINDOW_S), last_end)
    handover = evaluate(sensor, instance, warehouse, json.dumps({"end": last_end.isoformat(), "assets": ["m1-y"]}))
    [request] = handover.run_requests
    next_start, next_end = window_of(request)
    assert (next_start, next_end) == (last_end, last_end + timedelta(seconds=WINDOW_S))  # contiguous windows
    assert request.tags[LEAD_TAG] == f"{lead.total_seconds():.1f}"
    assert json.loads(handover.cursor)["end"] == next_end.isoformat()  # progress kept in the cursor
    assert request.run_key != first.run_requests[0].run_key


def test_the_lead_is_the_measured_launch_latency_plus_the_overlap_capped_below_the_window(
    instance: dg.DagsterInstance, warehouse: Path
) -> None:
    sensor = sensor_for()
    now = datetime.now(UTC)
    old_start = now - timedelta(hours=1)
    for latency in (4.0, 7.5, 6.0):  # finished runs that connected this long after their request
        add_run(instance, dg.DagsterRunStatus.SUCCESS, old_start, old_start + timedelta(seconds=WINDOW_S), latency)
    lead = timedelta(seconds=7.5 + OVERLAP_S)  # the slowest of the recent runs, plus the margin
    last_end = (now + lead + timedelta(seconds=INTERVAL_S + 20)).replace(microsecond=0)
    add_run(instance, dg.DagsterRunStatus.STARTED, last_end - timedelta(seconds=WINDOW_S), last_end)
    early = evaluate(sensor, instance, warehouse, None)
    assert early.run_requests == []
    assert f"requested from {(last_end - lead - timedelta(seconds=INTERVAL_S)).isoformat()}" in (
        early.skip_message or ""
    )

    # after a stop of the sensor (the last window is over), the next window opens once a run can be connected
    clear(instance)
    add_run(instance, dg.DagsterRunStatus.SUCCESS, old_start, old_start + timedelta(seconds=WINDOW_S), 7.5)
    stale = json.dumps({"end": (now - timedelta(hours=3)).isoformat(), "assets": []})
    [fresh] = evaluate(sensor, instance, warehouse, stale).run_requests
    assert now + lead <= window_of(fresh)[0] <= datetime.now(UTC) + lead + timedelta(seconds=1)

    # a latency longer than the window allows is capped: two captures at once, never three
    add_run(instance, dg.DagsterRunStatus.SUCCESS, old_start, old_start + timedelta(seconds=WINDOW_S), 900.0)
    [capped] = evaluate(sensor, instance, warehouse, stale).run_requests
    assert capped.tags[LEAD_TAG] == f"{WINDOW_S - 2 * INTERVAL_S:.1f}"


def test_a_busy_warehouse_falls_back_to_the_assets_in_the_cursor(instance: dg.DagsterInstance, warehouse: Path) -> None:
    cursor = json.dumps({"end": "2026-01-01T00:00:00+00:00", "assets": ["kept-y", "kept-n"]})
    with duckdb.connect(str(warehouse)):  # a writer holds the file: the read-only open fails
        data = evaluate(sensor_for(), instance, warehouse, cursor)
    [request] = data.run_requests
    assert request.run_config["ops"]["capture_window"]["config"]["asset_ids"] == ["kept-y", "kept-n"]
    with duckdb.connect(str(warehouse)):
        nothing = evaluate(sensor_for(), instance, warehouse, None)
    assert nothing.run_requests == []
    assert "no live markets" in (nothing.skip_message or "")
