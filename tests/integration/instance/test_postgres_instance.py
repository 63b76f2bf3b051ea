"""The production instance config (deploy/dagster.yaml) against a real PostgreSQL server started by the tests.

One partition of ``daily_job`` runs on an instance built from the very file we deploy; the run, its
materializations and its check evaluations are then read back from Postgres both with SQL and through the
instance API, schedule and sensor state must survive a second instance opened from the same config, and the
file's run queue, pool, monitoring, retry and telemetry settings must be the ones the instance uses.
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
import yaml
from dagster._core.remote_representation.external import RemoteRepository
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._core.remote_representation.handle import RepositoryHandle
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.scheduler.instigation import InstigatorStatus
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as Status
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from mca_assets.definitions import build_definitions
from mca_assets.jobs import daily_schedule
from mca_resources.dagster_storage import WAREHOUSE_POOL
from mca_resources.settings import settings_from_env
from mca_sensors.sensor import SENSOR_NAME
from tests.conftest import REPO, RunningSandbox, start_sandbox
from tests.pgserver import PgServer

DEPLOY_CONFIG = REPO / "deploy" / "dagster.yaml"


def resolution_day(sandbox: RunningSandbox) -> date:
    """The day on which most sandbox markets resolve, so the partition has labels, cutoffs and calibration."""
    truth = httpx.get(f"{sandbox.base}/_truth/markets", params={"limit": 10000}).json()["markets"]
    days = Counter(datetime.fromtimestamp(m["resolved_ts"], UTC).date() for m in truth if m["resolved_ts"])
    return max(days, key=lambda d: (days[d], d))


def sql_rows(server: PgServer, query: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()
    finally:
        conn.close()


def remote_repository(defs: dg.Definitions) -> RemoteRepository:
    """The Definitions as the daemon and webserver see them (a code location snapshot), without a code server."""
    repo = defs.get_repository_def()
    handle = RepositoryHandle.for_test(location_name="mca", repository_name=repo.name)
    return RemoteRepository(RepositorySnap.from_def(repo), handle, auto_materialize_use_sensors=True)


def open_instance(home: Path) -> dg.DagsterInstance:
    """``DagsterInstance.from_config`` on the copied file, failing with the cause when the driver is missing."""
    try:
        return dg.DagsterInstance.from_config(str(home))
    except ModuleNotFoundError as exc:
        pytest.fail(
            f"deploy/dagster.yaml cannot open its Postgres storage: {exc}. dagster-postgres installs psycopg2, but"
            " SQLAlchemy >= 2.1 maps postgresql:// URLs to psycopg 3; set `scheme: postgresql+psycopg2` under"
            " storage.postgres.postgres_db, or add psycopg to the dependencies."
        )


@pytest.fixture
def dagster_home(tmp_path: Path, postgres_database: PgServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DAGSTER_HOME holding an unmodified copy of deploy/dagster.yaml, its env pointing at the test server."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DEPLOY_CONFIG, home / "dagster.yaml")
    for name, value in {
        "DAGSTER_PG_HOST": postgres_database.host,
        "DAGSTER_PG_PORT": str(postgres_database.port),
        "DAGSTER_PG_USER": postgres_database.user,
        "DAGSTER_PG_PASSWORD": postgres_database.password,
        "DAGSTER_PG_DB": postgres_database.db,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def test_deploy_instance_config_runs_the_daily_graph_on_postgres(
    dagster_home: Path, postgres_database: PgServer, tmp_path: Path
) -> None:
    pg = postgres_database
    config = yaml.safe_load(DEPLOY_CONFIG.read_text())
    sandbox = start_sandbox(markets=60)
    try:
        settings = settings_from_env(
            {
                "MCA_DATA_DIR": str(tmp_path / "data"),
                "MCA_GAMMA_URL": sandbox.urls["gamma"],
                "MCA_CLOB_URL": sandbox.urls["clob"],
                "MCA_WS_URL": sandbox.urls["ws"],
                "MCA_SUBGRAPH_URL": sandbox.urls["subgraph"],
                "MCA_TOLLAMA_URL": sandbox.urls["tollama"],
            }
        )
        defs = build_definitions(settings)
        partition = resolution_day(sandbox).isoformat()

        with open_instance(dagster_home) as instance:
            # --- storage: all three stores are Postgres, on the server and port the env names -----------------
            for storage, cls in (
                (instance.run_storage, PostgresRunStorage),
                (instance.event_log_storage, PostgresEventLogStorage),
                (instance.schedule_storage, PostgresScheduleStorage),
            ):
                assert isinstance(storage, cls)
                assert storage.postgres_url.endswith(f"@{pg.host}:{pg.port}/{pg.db}")
            assert sql_rows(pg, "SELECT count(*) FROM runs") == [(0,)]  # migrated schema, empty database
            assert sql_rows(pg, "SELECT count(*) FROM concurrency_limits") == [(0,)]

            # --- the file's concurrency, monitoring, retry and telemetry settings (all differ from defaults) ----
            runs_cfg, pools_cfg = config["concurrency"]["runs"], config["concurrency"]["pools"]
            assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
            concurrency = instance.get_concurrency_config()
            assert concurrency.run_queue_config is not None
            assert concurrency.run_queue_config.max_concurrent_runs == runs_cfg["max_concurrent_runs"] == 4
            assert list(concurrency.run_queue_config.tag_concurrency_limits) == runs_cfg["tag_concurrency_limits"]
            assert concurrency.pool_config.default_pool_limit == pools_cfg["default_limit"] == 1
            assert instance.global_op_concurrency_default_limit == 1
            assert instance.run_monitoring_enabled
            assert instance.run_monitoring_poll_interval_seconds == config["run_monitoring"]["poll_interval_seconds"]
            # slots of runs that ended (e.g. failed by monitoring) are freed after 5 minutes (docs/operations.md)
            assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 300
            assert instance.run_retries_enabled
            assert instance.run_retries_max_retries == config["run_retries"]["max_retries"] == 1
            assert not instance.run_retries_retry_on_asset_or_op_failure
            assert not instance.telemetry_enabled

            # --- one partition of the daily graph, executed on this instance ----------------------------------
            job = defs.resolve_job_def("daily_job")
            result = job.execute_in_process(instance=instance, partition_key=partition, raise_on_error=False)
            assert result.success, [e.message for e in result.all_events if e.is_failure]
            run_id = result.run_id

            # the run row, in SQL and through the API
            assert sql_rows(pg, "SELECT pipeline_name, status, partition FROM runs WHERE run_id = %s", run_id) == [
                ("daily_job", "SUCCESS", partition)
            ]
            run = instance.get_run_by_id(run_id)
            assert run is not None
            assert run.status == dg.DagsterRunStatus.SUCCESS
            assert run.tags["dagster/partition"] == partition

            # every materialization of the run, one per asset of the job, all for this partition
            materialized = {e.asset_key for e in result.get_asset_materialization_events()}
            assert materialized == set(job.asset_layer.selected_asset_keys)
            assert len(materialized) >= 10
            stored = sql_rows(
                pg,
                "SELECT asset_key, partition FROM event_logs WHERE run_id = %s AND dagster_event_type = %s",
                run_id,
                "ASSET_MATERIALIZATION",
            )
            assert len(stored) == len(materialized)
            assert {(dg.AssetKey.from_db_string(key), part) for key, part in stored} == {
                (key, partition) for key in materialized
            }
            for key in materialized:
                latest = instance.get_latest_materialization_event(key)
                assert latest is not None
                assert latest.run_id == run_id
                assert latest.dagster_event is not None
                assert latest.dagster_event.partition == partition
            # and every event the run emitted is in Postgres, in the order it was emitted
            stream = iter(
                row[0]
                for row in sql_rows(
                    pg,
                    "SELECT dagster_event_type FROM event_logs WHERE run_id = %s AND dagster_event_type IS NOT NULL"
                    " ORDER BY id",
                    run_id,
                )
            )
            emitted = [e.event_type_value for e in result.all_events]
            assert all(kind in stream for kind in emitted)  # an ordered subsequence (the stream adds planned events)
            assert emitted[0] == "PIPELINE_START"
            assert emitted[-1] == "PIPELINE_SUCCESS"

            # every check evaluation of the run, with its outcome
            evaluations = {e.asset_check_key: e.passed for e in result.get_asset_check_evaluations()}
            assert len(evaluations) >= 10
            assert any(evaluations.values())
            # (completed rows only: Dagster 1.13 plans these unpartitioned checks per partition and stores each
            # evaluation as a new partition-less row, so a PLANNED row per check stays behind for the partition)
            executions = sql_rows(
                pg,
                "SELECT asset_key, check_name, execution_status FROM asset_check_executions"
                " WHERE run_id = %s AND execution_status <> 'PLANNED'",
                run_id,
            )
            assert {
                (dg.AssetCheckKey(dg.AssetKey.from_db_string(key), name), status) for key, name, status in executions
            } == {(key, "SUCCEEDED" if passed else "FAILED") for key, passed in evaluations.items()}
            assert len(executions) == len(evaluations)
            latest_checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(evaluations))
            assert set(latest_checks) == set(evaluations)
            for key, record in latest_checks.items():
                assert record.run_id == run_id
                passed = evaluations[key]
                assert record.status == (Status.SUCCEEDED if passed else Status.FAILED), key

            # --- the pool: the run's warehouse steps claimed slots under the file's default limit --------------
            assert sql_rows(
                pg,
                'SELECT "limit", using_default_limit FROM concurrency_limits WHERE concurrency_key = %s',
                WAREHOUSE_POOL,
            ) == [(1, True)]
            assert sql_rows(
                pg,
                "SELECT count(*), count(run_id) FROM concurrency_slots WHERE concurrency_key = %s AND NOT deleted",
                WAREHOUSE_POOL,
            ) == [(1, 0)]  # one slot for limit 1, released when the run finished
            pool = instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL)
            assert (pool.slot_count, pool.limit, pool.using_default_limit) == (1, 1, True)
            assert pool.claimed_slots == []
            assert pool.pending_steps == []

            # --- schedule and sensor state written through this instance -------------------------------------
            remote = remote_repository(defs)
            schedule = remote.get_schedule(daily_schedule.name)
            sensor = remote.get_sensor(SENSOR_NAME)
            instance.start_schedule(schedule)
            instance.start_sensor(sensor)

        # --- a second instance from the same file sees everything the first one wrote --------------------------
        with open_instance(dagster_home) as second:
            for instigator in (schedule, sensor):
                state = second.get_instigator_state(instigator.get_remote_origin_id(), instigator.selector_id)
                assert state is not None, instigator.name
                assert state.status == InstigatorStatus.RUNNING, instigator.name
            assert sql_rows(
                pg,
                "SELECT status FROM instigators WHERE selector_id IN (%s, %s)",
                schedule.selector_id,
                sensor.selector_id,
            ) == [("RUNNING",), ("RUNNING",)]
            stored_run = second.get_run_by_id(run_id)
            assert stored_run is not None
            assert stored_run.status == dg.DagsterRunStatus.SUCCESS
            some_key = sorted(materialized, key=lambda k: k.to_user_string())[0]
            latest = second.get_latest_materialization_event(some_key)
            assert latest is not None
            assert latest.run_id == run_id
            # and a change made here is what the first config sees next time
            second.stop_schedule(schedule.get_remote_origin_id(), schedule.selector_id, schedule)

        with open_instance(dagster_home) as third:
            state = third.get_instigator_state(schedule.get_remote_origin_id(), schedule.selector_id)
            assert state is not None
            assert state.status == InstigatorStatus.STOPPED
    finally:
        sandbox.stop()
