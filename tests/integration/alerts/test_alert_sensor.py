"""The alert sensor over a real instance and the real delivery job: a check forced to fail gives exactly one alert
and one delivery; failing again updates last_seen_ts; fixed, then failing on a later partition, a new alert; a failed
run of the daily job is an alert too."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from mca_resources import settings as settings_module
from mca_resources.settings import Settings
from mca_resources.warehouse import ensure_schema, read_frame
from mca_sensors.alerts import alert_delivery, build_alert_sensor
from tests.conftest import sensor_tick
from tests.integration.alerts.receiver import receiver

PARTITIONS = dg.DailyPartitionsDefinition(start_date="2026-05-01")


def probe_defs(flag: Path) -> tuple[dg.AssetsDefinition, dg.AssetChecksDefinition]:
    @dg.asset(key=["test", "probe"], partitions_def=PARTITIONS)
    def probe() -> None:
        return None

    @dg.asset_check(asset=probe, name="probe_ok")
    def probe_ok() -> dg.AssetCheckResult:
        failing = flag.exists()
        return dg.AssetCheckResult(passed=not failing, metadata={"violations": int(failing)})

    return probe, probe_ok


@dg.op
def boom() -> None:
    raise RuntimeError("upstream exploded")


@dg.job(name="daily_job")
def failing_daily_job() -> None:
    boom()


def test_check_and_run_failures_become_alerts_delivered_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as conn:
        ensure_schema(conn)
    flag = tmp_path / "fail"
    probe, probe_ok = probe_defs(flag)
    resources = {"warehouse": DuckDBResource(database=str(db))}

    def rows() -> list[dict]:
        with duckdb.connect(str(db), read_only=True) as conn:
            return read_frame(conn, "SELECT * FROM alerts.alerts ORDER BY first_seen_ts").rows(named=True)

    def deliveries() -> list[tuple]:
        with duckdb.connect(str(db), read_only=True) as conn:
            return read_frame(conn, "SELECT alert_id, status, attempts FROM alerts.deliveries ORDER BY ALL").rows()

    with dg.instance_for_test() as instance, receiver() as hook:
        monkeypatch.setenv("MCA_ALERT_WEBHOOK_URL", hook.url)
        settings_module.get_settings.cache_clear()
        sensor = build_alert_sensor(Settings())
        cursor: list[str | None] = [None]

        def tick() -> list[dg.RunRequest]:
            result = sensor_tick(sensor, instance=instance, cursor=cursor[0])
            cursor[0] = result.cursor
            for request in result.run_requests or []:
                run = alert_delivery.execute_in_process(
                    run_config=request.run_config, instance=instance, resources=resources
                )
                assert run.success
            return list(result.run_requests or [])

        def check(partition: str, failing: bool) -> None:
            if failing:
                flag.touch()
            else:
                flag.unlink(missing_ok=True)
            dg.materialize([probe, probe_ok], partition_key=partition, instance=instance)

        assert tick() == []  # nothing yet
        check("2026-05-01", failing=True)
        (request,) = tick()
        assert len(json.loads(request.run_config["ops"]["record_and_deliver"]["config"]["events"])) == 1
        (first,) = rows()
        assert first["source"] == "check"
        assert first["severity"] == "HIGH"
        evidence = json.loads(first["evidence"])
        assert evidence["asset"] == "test/probe"
        assert evidence["check"] == "probe_ok"
        assert evidence["partition"] == "2026-05-01"
        assert evidence["metadata"] == {"violations": 1}
        assert list(hook.accepted) == [first["alert_id"]]
        assert deliveries() == [(first["alert_id"], "delivered", 1)]
        assert hook.url not in cursor[0]  # type: ignore[operator]
        assert "test/probe:probe_ok" in json.loads(cursor[0])["open"]  # type: ignore[arg-type]

        check("2026-05-02", failing=True)  # still failing on the next evaluation: same alert, later last_seen
        tick()
        (again,) = rows()
        assert again["alert_id"] == first["alert_id"]
        assert again["last_seen_ts"] > first["last_seen_ts"]
        assert len(hook.accepted) == 1
        assert hook.requests == 1

        check("2026-05-03", failing=False)  # fixed: closes the alert, nothing to send
        assert tick() == []
        assert json.loads(cursor[0])["open"] == {}  # type: ignore[arg-type]

        check("2026-05-04", failing=True)  # failing again on a later partition: a new alert, delivered once
        tick()
        later = rows()
        assert len(later) == 2
        assert json.loads(later[1]["evidence"])["partition"] == "2026-05-04"
        assert set(hook.accepted) == {r["alert_id"] for r in later}
        assert hook.requests == 2

        failed = failing_daily_job.execute_in_process(instance=instance, raise_on_error=False)
        assert not failed.success
        tick()
        run_alert = rows()[-1]
        assert run_alert["source"] == "run"
        assert json.loads(run_alert["evidence"])["run_id"] == failed.run_id
        assert len(hook.accepted) == 3
        assert tick() == []  # nothing new, nothing pending
    settings_module.get_settings.cache_clear()
