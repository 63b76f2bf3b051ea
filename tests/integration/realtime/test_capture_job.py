"""The ``realtime_capture`` job end to end against the sandbox (real DuckDB file, real Dagster instance), the
daily ``rt_bars`` asset rebuilding exactly what the capture wrote, and every realtime check failing on a bad row."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pytest
from dagster_duckdb import DuckDBResource

from mca_assets.definitions import build_definitions
from mca_assets.realtime.assets import RT_BARS_KEY, rt_bars
from mca_assets.realtime.checks import checks
from mca_resources.settings import Settings
from mca_resources.warehouse import partition_hash
from mca_sandbox.world import LIVE
from tests.conftest import RunningSandbox

pytestmark = pytest.mark.timeout(180)

BAR_TABLES = ("rt.bars_1m", "rt.bars_5m")


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def hashes(db: Path) -> dict[str, str]:
    with duckdb.connect(str(db)) as conn:
        return {t: partition_hash(conn, t) for t in BAR_TABLES}


def sql(db: Path, statement: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db)) as conn:
        return conn.execute(statement).fetchall()


def run_checks(db: Path, instance: dg.DagsterInstance) -> dict[str, bool]:
    result = dg.materialize(
        [rt_bars, *checks],
        selection=dg.AssetSelection.checks_for_assets(RT_BARS_KEY),
        resources={"warehouse": DuckDBResource(database=str(db))},
        instance=instance,
        raise_on_error=False,
    )
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def rebuild(db: Path, instance: dg.DagsterInstance, day: date) -> None:
    result = dg.materialize(
        [rt_bars],
        partition_key=day.isoformat(),
        resources={"warehouse": DuckDBResource(database=str(db))},
        instance=instance,
    )
    assert result.success


def test_capture_job_writes_rt_tables_and_the_daily_asset_rebuilds_them_identically(
    sandbox_factory: Callable[..., RunningSandbox], tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    box = sandbox_factory(speed=80)
    ms = np.flatnonzero(box.world.market_label == LIVE).tolist()[:2]
    assets = [t for m in ms for t in box.world.token_ids(m)]
    settings = Settings(data_dir=tmp_path / "data", ws_url=box.urls["ws"])
    defs = build_definitions(settings)
    start = datetime.now(UTC) + timedelta(seconds=5)  # the run connects at once, well ahead of its window
    end = start + timedelta(seconds=2.5)
    config = {"asset_ids": assets, "window_start": start.isoformat(), "window_end": end.isoformat()}
    result = defs.resolve_job_def("realtime_capture").execute_in_process(
        run_config={"ops": {"capture_window": {"config": config}}}, instance=instance
    )
    assert result.success
    written = result.output_for_node("load_capture_op")
    assert written["ticks"] > 100
    assert written["bars_1m"] >= len(assets)
    db = settings.warehouse_path
    [(run_id, messages, status, coverage, gaps)] = sql(
        db, "SELECT run_id, messages, status, coverage, gaps FROM rt.capture_runs"
    )
    assert (run_id, status, coverage, gaps) == (result.run_id, "captured", 1.0, 0)  # connected before it opened
    [capture] = [e for e in result.all_node_events if e.is_successful_output and e.step_key == "capture_window"]
    assert capture.event_specific_data.metadata["coverage"].value == 1.0  # type: ignore[union-attr]
    assert messages > written["ticks"] / 4
    assert (tmp_path / "data" / "capture" / f"{result.run_id}.jsonl").exists()

    # today's daily partition only exists once the day is over: move the capture one day back, ticks and bars alike
    sql(db, "UPDATE rt.ticks SET dt = dt - 1, ts = ts - INTERVAL 1 DAY, recv_ts = recv_ts - INTERVAL 1 DAY")
    for table in BAR_TABLES:
        sql(db, f"UPDATE {table} SET dt = dt - 1, bucket_start = bucket_start - INTERVAL 1 DAY")
    days = sorted({d for (d,) in sql(db, "SELECT DISTINCT dt FROM rt.ticks")})
    assert days
    assert days[-1] < datetime.now(UTC).date()
    captured = hashes(db)
    for day in days:
        rebuild(db, instance, day)
    assert hashes(db) == captured  # the daily rebuild equals what the capture wrote ...
    for day in days:
        rebuild(db, instance, day)
    assert hashes(db) == captured  # ... and is idempotent
    all_checks = ("keys_unique", "ohlc_consistent", "inside_its_day", "capture_gap_share", "capture_coverage")
    assert run_checks(db, instance) == dict.fromkeys((*all_checks, "capture_continuity"), True)
    sql(db, "CREATE TABLE good_runs AS SELECT * FROM rt.capture_runs")

    # every check fails on one corrupted row, and passes again once the row is repaired
    corruptions = {
        "keys_unique": "INSERT INTO rt.bars_5m SELECT * FROM rt.bars_5m LIMIT 1",
        "ohlc_consistent": "UPDATE rt.bars_1m SET close = high + 0.01 "
        "WHERE rowid = (SELECT min(rowid) FROM rt.bars_1m WHERE n_mid > 0)",
        "inside_its_day": "UPDATE rt.bars_1m SET dt = dt - 1 WHERE rowid = (SELECT min(rowid) FROM rt.bars_1m)",
        "capture_gap_share": "UPDATE rt.capture_runs SET gap_share = 0.5",
        "capture_coverage": "UPDATE rt.capture_runs SET coverage = 0.97",
        "capture_continuity": "UPDATE rt.capture_runs SET window_end = window_end + INTERVAL 1 SECOND",
    }
    for check, corrupt in corruptions.items():
        sql(db, corrupt)
        outcome = run_checks(db, instance)
        assert outcome[check] is False, check
        assert all(passed for name, passed in outcome.items() if name != check), (check, outcome)
        sql(db, "DELETE FROM rt.bars_1m; DELETE FROM rt.bars_5m; DELETE FROM rt.capture_runs")
        sql(db, "INSERT INTO rt.capture_runs SELECT * FROM good_runs")
        for day in days:
            rebuild(db, instance, day)
        assert hashes(db) == captured
