"""Past one machine: a Dagster instance on PostgreSQL backfills 8 days, 2 runs at a time, into a DuckLake whose
catalog is PostgreSQL too, and the lake's tables equal a serial run's on the embedded single file, row for row.

Everything is real: the PostgreSQL server (tests/pgserver.py), deploy/dagster.yaml unmodified, a gRPC code server
and one run worker process per run (the default run launcher), all loading the code location with the lake's
``MCA_*`` environment; the backfill and the run queue advance through the daemons' own iterations (called here
instead of waiting out the backfill daemon's fixed 30 s sleep). The service's snapshot reader follows the snapshots
the runs publish while they write, and the instance then runs a schedule tick and a sensor tick.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.scheduler.instigation import TickStatus
from dagster._daemon.sensor import execute_sensor_iteration
from dagster._scheduler.scheduler import launch_scheduled_runs

from mca_assets.alerts.assets import ALERTS_KEY
from mca_assets.definitions import build_definitions
from mca_assets.jobs import daily_schedule
from mca_assets.postmortem.assets import POSTMORTEMS_KEY
from mca_resources.settings import Settings
from mca_resources.warehouse import TABLE_KEYS, partition_hash
from mca_resources.warehouse_target import WarehouseTarget, connect
from mca_sensors.sensor import SENSOR_NAME
from mca_serving.snapshot_reader import SnapshotReader
from tests.backfill_driver import barrier_waves, code_location, overlap_peak, run_backfill
from tests.conftest import REPO, RunningSandbox, start_sandbox
from tests.integration.assets.conftest import busiest_day
from tests.pgserver import PgServer, fresh_database

DEPLOY_CONFIG = REPO / "deploy" / "dagster.yaml"
DAYS = 8
PARALLEL = 2  # deploy/dagster.yaml: tag_concurrency_limits dagster/backfill
DEADLINE_S = 900
#: every table the daily job writes per day, plus the registry (keyed by market only)
DAILY_TABLES = [t for t in TABLE_KEYS if t.startswith(("core.", "calib.")) and "dt" in TABLE_KEYS[t]]
log = logging.getLogger("test_ducklake_backfill")


def upstream_env(sandbox: RunningSandbox, data_dir: Path) -> dict[str, str]:
    return {
        "MCA_DATA_DIR": str(data_dir),
        "MCA_GAMMA_URL": sandbox.urls["gamma"],
        "MCA_CLOB_URL": sandbox.urls["clob"],
        "MCA_WS_URL": sandbox.urls["ws"],
        "MCA_SUBGRAPH_URL": sandbox.urls["subgraph"],
        "MCA_TOLLAMA_URL": sandbox.urls["tollama"],
        "MCA_HTTP_MAX_RETRIES": "4",
    }


def table_hashes(target: WarehouseTarget, days: list[date]) -> dict[tuple[str, str], str]:
    """The ordered hash of every daily table per day, and of the whole registry."""
    with connect(target, read_only=True) as conn:
        hashes = {(t, d.isoformat()): partition_hash(conn, t, d) for t in DAILY_TABLES if t != "core.market_registry"
                  for d in days}  # fmt: skip
        hashes[("core.market_registry", "all")] = partition_hash(conn, "core.market_registry")
        rows = conn.execute("SELECT count(*) FROM core.cutoff_snapshots").fetchone()
    assert rows is not None
    assert rows[0] > 0, "the world is too small: no cutoffs in the backfilled days"
    return hashes


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    box = start_sandbox(markets=150, seed=11)
    yield box
    box.stop()


@pytest.fixture(scope="module")
def days(sandbox: RunningSandbox) -> list[date]:
    last = busiest_day(sandbox)
    return [last - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]


@pytest.fixture(scope="module")
def serial_hashes(sandbox: RunningSandbox, days: list[date], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The reference: the same days in one serial run on the default embedded file (single-run backfill policy)."""
    data_dir = tmp_path_factory.mktemp("serial")
    env = upstream_env(sandbox, data_dir)
    settings = Settings(data_dir=data_dir, gamma_url=env["MCA_GAMMA_URL"], clob_url=env["MCA_CLOB_URL"],
                        ws_url=env["MCA_WS_URL"], subgraph_url=env["MCA_SUBGRAPH_URL"],
                        tollama_url=env["MCA_TOLLAMA_URL"], http_max_retries=4)  # fmt: skip
    assert settings.warehouse_target().single_writer
    job = build_definitions(settings).resolve_job_def("daily_job")
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("serial_home"))) as instance:
        result = job.execute_in_process(
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": days[0].isoformat(),
                "dagster/asset_partition_range_end": days[-1].isoformat(),
            },
            raise_on_error=False,
        )
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return table_hashes(settings.warehouse_target(), days)


@pytest.mark.timeout(1800)  # 16 runs (a process each) on 2 shared cores
def test_backfill_on_ducklake_runs_days_in_parallel_and_equals_the_serial_file(
    sandbox: RunningSandbox,
    days: list[date],
    serial_hashes: dict,
    postgres_server: PgServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with fresh_database(postgres_server, "dagster_lake_runs") as pg, fresh_database(postgres_server, "lake") as cat:
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copyfile(DEPLOY_CONFIG, home / "dagster.yaml")
        dsn = f"dbname={cat.db} host={cat.host} port={cat.port} user={cat.user} password={cat.password}"
        env = {
            **upstream_env(sandbox, tmp_path / "data"),
            "MCA_WAREHOUSE": f"ducklake:postgres:{dsn}",
            "MCA_LAKE_DATA_PATH": str(tmp_path / "lake"),
            "MCA_RT_WINDOW_S": "75",  # more than twice the sensor interval (30 s)
            "MCA_RT_OVERLAP_S": "5",
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_HOST": pg.host,
            "DAGSTER_PG_PORT": str(pg.port),
            "DAGSTER_PG_USER": pg.user,
            "DAGSTER_PG_PASSWORD": pg.password,
            "DAGSTER_PG_DB": pg.db,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)  # the code server and every run worker inherit these
        lake = WarehouseTarget("ducklake", f"postgres:{dsn}", str(tmp_path / "lake") + "/")

        with dg.DagsterInstance.from_config(str(home)) as instance, code_location(instance) as workspace:
            request = workspace.create_request_context()
            repo = next(iter(request.get_code_location("mca").get_repositories().values()))
            local_defs = build_definitions(Settings())
            local_job = local_defs.resolve_job_def("daily_job")
            # the daily job but the alert and postmortem stages: what the tables compared below and the published
            # snapshot need (two fewer barrier waves, 24 runs instead of 40); the serial reference runs them all
            selection = sorted(local_job.asset_layer.selected_asset_keys - {ALERTS_KEY, POSTMORTEMS_KEY})
            assert len(selection) >= 10
            # the lake's code location: no single-writer pool and one run per day (chosen by MCA_WAREHOUSE alone)
            for key in selection:
                node = request.asset_graph.get(key)
                assert node.backfill_policy is not None
                assert node.backfill_policy.max_partitions_per_run == 1, key

            opened: list[None] = []  # one per snapshot the reader moved to
            reader = SnapshotReader(tmp_path / "data" / "serving", on_switch=lambda: opened.append(None))
            reads = {"ok": 0, "torn": 0}

            def read_while_writing() -> None:
                """The service reads its published snapshots while runs write: each read is of one whole day."""
                seen = reader.query(
                    "SELECT count(*) AS n, count(DISTINCT market_id) AS k, count(DISTINCT dt) AS days FROM core.markets"
                )
                if seen is not None:
                    reads["ok"] += 1
                    reads["torn"] += seen.filter((seen["n"] != seen["k"]) | (seen["days"] != 1)).height

            outcome = run_backfill(
                workspace, selection, [d.isoformat() for d in days], "ducklake8", read_while_writing, DEADLINE_S
            )
            assert outcome.status == BulkActionStatus.COMPLETED_SUCCESS, (outcome.status, outcome.failed)
            assert outcome.failed == []
            runs = [r.dagster_run for r in outcome.runs]
            # per day: a run of the day-local graph, then one per wave behind an every-day barrier; never two waves
            waves = barrier_waves(local_defs.resolve_asset_graph(), selection)
            assert len(runs) >= DAYS * (max(waves.values()) + 1)
            assert all(len({waves[k] for k in r.asset_selection or ()}) == 1 for r in runs)
            starts = [r.tags["dagster/asset_partition_range_start"] for r in runs]
            assert starts == [r.tags["dagster/asset_partition_range_end"] for r in runs]  # one day per run
            assert set(starts) == {d.isoformat() for d in days}
            spans = [(r.start_time, r.end_time) for r in outcome.runs if r.start_time and r.end_time]
            assert len(spans) == len(runs)
            assert overlap_peak(spans) == PARALLEL  # days really were written at once, never more than the limit
            reader.close()
            assert reads["ok"] > 0
            assert reads["torn"] == 0
            assert len(opened) >= 2  # it moved to newer snapshots while the runs went on, without a restart

            # --- the lake's tables equal the serial single-file run's, row for row -------------------------------
            assert table_hashes(lake, days) == serial_hashes
            with connect(lake, read_only=True) as conn:
                assert [
                    d for (d,) in conn.execute("SELECT DISTINCT dt FROM core.markets ORDER BY dt").fetchall()
                ] == days

            # --- a schedule tick and a sensor tick on the Postgres instance -----------------------------------
            schedule = repo.get_schedule(daily_schedule.name)
            sensor = repo.get_sensor(SENSOR_NAME)
            instance.start_schedule(schedule)
            instance.start_sensor(sensor)
            # the scheduler evaluates the ticks between the schedule's start and this time (the latest one only)
            tick_until = datetime.now(UTC) + timedelta(days=2)
            list(launch_scheduled_runs(workspace, log, tick_until, {}, max_catchup_runs=1))
            list(execute_sensor_iteration(workspace, log, None, None))
            schedule_ticks = instance.get_ticks(schedule.get_remote_origin_id(), schedule.selector_id)
            sensor_ticks = instance.get_ticks(sensor.get_remote_origin_id(), sensor.selector_id)
            assert [t.status for t in schedule_ticks] == [TickStatus.SUCCESS]
            scheduled = instance.get_run_by_id(schedule_ticks[0].run_ids[0])
            assert scheduled is not None
            assert scheduled.job_name == "daily_job"
            assert scheduled.status == dg.DagsterRunStatus.QUEUED  # the run queue takes it from here
            assert len(sensor_ticks) == 1
            assert sensor_ticks[0].status in (TickStatus.SUCCESS, TickStatus.SKIPPED), sensor_ticks[0].error


def _kill_point_writer(catalog: str, data_path: str, dt: str, ready: str) -> None:
    """Replace one day of core.markets on the lake, then stop before COMMIT until killed."""
    import os

    import polars as pl

    from mca_resources.warehouse import ensure_schema, in_transaction

    target = WarehouseTarget("ducklake", catalog, data_path)
    conn = connect(target)
    ensure_schema(conn)
    day = date.fromisoformat(dt)
    rows = conn.execute("SELECT * FROM core.markets WHERE dt = ?", [day]).pl()
    doubled = pl.concat([rows, rows.with_columns(pl.col("market_id") + "_ghost")])

    def body() -> None:
        conn.execute("DELETE FROM core.markets WHERE dt = ?", [day])
        conn.register("_rows", doubled)
        conn.execute("INSERT INTO core.markets BY NAME SELECT * FROM _rows")
        Path(ready).write_text(str(os.getpid()))
        time.sleep(600)

    in_transaction(conn, body)


def test_a_writer_killed_mid_partition_leaves_the_previous_day_readable(
    postgres_server: PgServer, tmp_path: Path
) -> None:
    import multiprocessing
    import os
    import signal

    import polars as pl

    from mca_resources.warehouse import ensure_schema, replace_partition

    with fresh_database(postgres_server, "lake_kill") as cat:
        catalog = f"postgres:dbname={cat.db} host={cat.host} port={cat.port} user={cat.user} password={cat.password}"
        target = WarehouseTarget("ducklake", catalog, str(tmp_path / "lake") + "/")
        day = date(2026, 9, 1)
        with connect(target) as conn:
            ensure_schema(conn)
            cols = conn.execute("SELECT * FROM core.markets LIMIT 0").pl().schema
            frame = pl.DataFrame(
                {
                    "dt": [day] * 3,
                    "market_id": ["m1", "m2", "m3"],
                    "category": ["politics"] * 3,
                    "closed": [False, True, False],
                    "liquidity_bucket": ["LOW", "MID", "HIGH"],
                    "p_yes": [0.2, 0.5, 0.9],
                }
            ).with_columns(
                [
                    pl.lit(None, dtype=dtype).alias(name)
                    for name, dtype in cols.items()
                    if name not in ("dt", "market_id", "category", "closed", "liquidity_bucket", "p_yes")
                ]
            )
            replace_partition(conn, "core.markets", day, frame)
            before = partition_hash(conn, "core.markets", day)

        ready = tmp_path / "ready"
        ctx = multiprocessing.get_context("spawn")
        writer = ctx.Process(target=_kill_point_writer, args=(catalog, target.data_path, day.isoformat(), str(ready)))
        writer.start()
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert writer.is_alive(), "the writer died before its kill point"
            assert time.monotonic() < deadline
            time.sleep(0.1)
        # mid-partition: the day is deleted and re-inserted (doubled) in the writer's open transaction
        with connect(target, read_only=True) as conn:
            assert partition_hash(conn, "core.markets", day) == before
        assert writer.pid is not None
        os.kill(writer.pid, signal.SIGKILL)
        writer.join(30)
        assert writer.exitcode == -signal.SIGKILL

        with connect(target, read_only=True) as conn:
            assert partition_hash(conn, "core.markets", day) == before  # the previous state, whole
            assert conn.execute("SELECT count(*) FROM core.markets").fetchone() == (3,)
        with connect(target) as conn:  # the re-run
            assert replace_partition(conn, "core.markets", day, frame) == 3
            assert partition_hash(conn, "core.markets", day) == before
            with pytest.raises(duckdb.Error):
                conn.execute("INSERT INTO core.markets (dt, market_id) VALUES (DATE '2026-09-02', 'x')")
