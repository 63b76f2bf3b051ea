"""The daily schedule asks, each night, for the partition of the day that just ended."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from mca_assets.definitions import defs


def test_the_nightly_tick_requests_yesterday(tmp_path) -> None:
    schedule = defs.resolve_schedule_def("daily_job_schedule")
    assert schedule.cron_schedule == "15 1 * * *"
    assert schedule.execution_timezone in (None, "UTC")
    at = datetime(2026, 11, 23, 1, 15, tzinfo=UTC)
    # the context closed inside the instance's block (tests/conftest.py sensor_tick says why)
    with (
        dg.instance_for_test(temp_dir=str(tmp_path)) as instance,
        dg.build_schedule_context(instance=instance, scheduled_execution_time=at) as context,
    ):
        result = schedule.evaluate_tick(context)
    (request,) = result.run_requests or []
    assert request.partition_key == "2026-11-22"
    assert request.job_name in (None, "daily_job")
