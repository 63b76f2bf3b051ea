"""Dead runs: a run whose process is gone is marked failed and its pool slots are freed, so later runs go on.

A run killed hard (SIGKILL, the OOM killer, a reboot) records no end: it stays STARTED and keeps the ``warehouse``
pool slot its step had claimed, and every later writer waits for that slot forever. Dagster's run monitoring
only helps runs the daemon launched with a launcher that can check its workers (``DefaultRunLauncher`` cannot),
and a ``dagster asset materialize`` run executes in the CLI's own process, with no daemon involved.

So every run records which process executes it (tags ``mca/host`` and ``mca/process`` =
``<boot id>:<pid>:<process start time>``, which a reused pid or a reboot cannot fake), and the **reaper** judges
runs of its own host only: an unfinished run whose process no longer exists (or is a zombie) is reported failed
(``instance.report_run_failed``) and its slots and queued claims are freed
(``event_log_storage.free_concurrency_slots_for_run``); so are the slots still held by a finished run whose
process is gone, or by a run that no longer exists. Runs of other hosts, or without the tags, are left to run
monitoring (``run_monitoring`` in dagster.yaml, ``free_slots_after_run_end_seconds``). The reaper needs Linux's
``/proc``; elsewhere it judges nothing.

It runs in three places, so that no daemon is needed for "the next run completes": the ``dead_run_reaper`` sensor
in the daemon; the start of every run (``guarded_in_process_executor``, the code location's executor); and every
``REAP_WHILE_BLOCKED_S`` while a run waits for a pool slot. The same executor fixes two faults of Dagster
1.13.27's in-process executor while a step waits for a slot: the wait loop never slept (96 % CPU) and never looked
at SIGTERM/SIGINT, which ``capture_interrupts`` only records; now it sleeps between claim checks and an interrupt
ends the run (failed, queued claims released) instead of being ignored.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import dagster as dg
from dagster._core.definitions.executor_definition import IN_PROC_CONFIG
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.events import DagsterEvent, EngineEventData, JobFailureData, RunFailureReason
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.context.system import PlanExecutionContext, PlanOrchestrationContext
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.plan.execute_plan import inner_plan_execution_iterator
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode
from dagster._core.execution.step_dependency_config import StepDependencyConfig
from dagster._core.executor.in_process import InProcessExecutor
from dagster._core.storage.dagster_run import FINISHED_STATUSES, NOT_FINISHED_STATUSES
from dagster._utils.interrupts import check_captured_interrupt

from mca_resources.settings import Settings

log = logging.getLogger("mca.reaper")

HOST_TAG = "mca/host"
PROCESS_TAG = "mca/process"
SENSOR_NAME = "dead_run_reaper"
#: while a step waits for a slot: look for dead holders this often, and for an interrupt at least this often
REAP_WHILE_BLOCKED_S = 10.0
CLAIM_CHECK_MAX_S = 0.5


@cache
def _boot_id() -> str:
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def supported() -> bool:
    """Whether processes can be judged here (Linux ``/proc``)."""
    return Path("/proc/self/stat").exists() and Path("/proc/sys/kernel/random/boot_id").exists()


def process_identity(pid: int) -> str | None:
    """``<boot id>:<pid>:<start time in clock ticks>`` of a live process of this host, None when there is none
    (or only a zombie: killed, not yet waited for)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    if fields[0] in ("Z", "X"):
        return None
    return f"{_boot_id()}:{pid}:{fields[19]}"  # field 22 of proc(5), starttime


def record_run_process(instance: dg.DagsterInstance, run_id: str) -> None:
    """Tag the run with this host and process, so a reaper on this host can tell when the process is gone."""
    if supported():
        identity = process_identity(os.getpid())
        instance.add_run_tags(run_id, {HOST_TAG: socket.gethostname(), PROCESS_TAG: identity or ""})


def _process_gone(run: dg.DagsterRun, host: str) -> bool:
    identity = run.tags.get(PROCESS_TAG)
    if run.tags.get(HOST_TAG) != host or not identity:
        return False
    return process_identity(int(identity.split(":")[1])) != identity


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark this host's runs whose process is gone failed and free their slots (and slots nobody can use any more);
    returns the ids of the runs whose state or slots were changed."""
    if not supported():
        return []
    host = socket.gethostname()
    reaped: list[str] = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=NOT_FINISHED_STATUSES, tags={HOST_TAG: host})):
        if not _process_gone(run, host):
            continue
        current = instance.get_run_by_id(run.run_id)  # another reaper may have been first
        if current is None or current.status in FINISHED_STATUSES:
            continue
        pid = run.tags[PROCESS_TAG].split(":")[1]
        message = (
            f"The process of this run (pid {pid} on {host}) is gone: it was killed or crashed while the run was "
            f"{run.status.value}. Marked failed by the dead-run reaper; its pool slots were freed."
        )
        instance.report_run_failed(
            current, message, JobFailureData(error=None, failure_reason=RunFailureReason.UNEXPECTED_TERMINATION)
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        log.warning("reaped run %s: %s", run.run_id, message)
        reaped.append(run.run_id)
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return reaped
    holders: set[str] = set()
    for info in storage.get_concurrency_infos(storage.get_concurrency_keys()).values():
        holders.update(slot.run_id for slot in info.claimed_slots)
        holders.update(step.run_id for step in info.pending_steps)
    holders -= set(reaped)
    if not holders:
        return reaped
    runs = {run.run_id: run for run in instance.get_runs(filters=dg.RunsFilter(run_ids=sorted(holders)))}
    for run_id in sorted(holders):
        run = runs.get(run_id)
        if run is None or (run.status in FINISHED_STATUSES and _process_gone(run, host)):
            storage.free_concurrency_slots_for_run(run_id)
            log.warning("freed the pool slots of %s run %s", run.status.value if run else "deleted", run_id)
            reaped.append(run_id)
    return reaped


class _PoolWait(InstanceConcurrencyContext):
    """Dagster's slot claims, with sleeps between checks, interrupts honoured and dead holders reaped."""

    def __init__(self, instance: dg.DagsterInstance, dagster_run: dg.DagsterRun) -> None:
        super().__init__(instance, dagster_run)
        self._next_reap = time.monotonic() + REAP_WHILE_BLOCKED_S

    def claim(self, concurrency_key: str, step_key: str, step_priority: int = 0) -> bool:
        if check_captured_interrupt():
            raise DagsterExecutionInterruptedError(f"interrupted while waiting for a slot of pool {concurrency_key}")
        if super().claim(concurrency_key, step_key, step_priority):
            return True
        if time.monotonic() >= self._next_reap:
            self._next_reap = time.monotonic() + REAP_WHILE_BLOCKED_S
            reap_dead_runs(self._instance)
        return False

    def interval_to_next_pending_claim_check(self) -> float:
        # Dagster 1.13.27 returns min(0, ...) here, never > 0, so the executor's wait loop never sleeps
        waits = [self._pending_timeouts[key] - time.time() for key in self.pending_claim_steps()]
        return min(CLAIM_CHECK_MAX_S, max(0.0, min(waits, default=0.0)))


def _guarded_iterator(
    job_context: PlanExecutionContext,
    execution_plan: ExecutionPlan,
    instance_concurrency_context: InstanceConcurrencyContext | None = None,
) -> Iterator[DagsterEvent]:
    with _PoolWait(job_context.instance, job_context.dagster_run) as pool_wait:
        yield from inner_plan_execution_iterator(job_context, execution_plan, pool_wait)


class GuardedInProcessExecutor(InProcessExecutor):
    """Dagster's in-process executor that first records its process and reaps dead runs, and waits for pool
    slots with ``_PoolWait``."""

    def execute(self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
        instance, run_id = plan_context.instance, plan_context.run_id
        record_run_process(instance, run_id)
        try:
            reaped = reap_dead_runs(instance)
        except Exception:  # a failing reaper must not fail the run it runs in
            log.exception("the dead-run reaper failed")
            reaped = []
        steps = execution_plan.step_keys_to_execute
        message = f"Executing steps in process (pid: {os.getpid()}) on {socket.gethostname()}"
        if reaped:
            message += f"; reaped dead runs first: {', '.join(reaped)}"
        yield DagsterEvent.engine_event(plan_context, message, EngineEventData.in_process(os.getpid(), steps))
        yield from ExecuteRunWithPlanIterable(
            execution_plan=plan_context.execution_plan,
            iterator=_guarded_iterator,
            execution_context_manager=PlanExecutionContextManager(
                job=plan_context.job,
                retry_mode=plan_context.retry_mode,
                execution_plan=plan_context.execution_plan,
                run_config=plan_context.run_config,
                dagster_run=plan_context.dagster_run,
                instance=plan_context.instance,
                raise_on_error=plan_context.raise_on_error,
                output_capture=plan_context.output_capture,
                step_dependency_config=self.step_dependency_config,
            ),
        )


@dg.executor(name="in_process", config_schema=IN_PROC_CONFIG)
def guarded_in_process_executor(init_context: dg.InitExecutorContext) -> GuardedInProcessExecutor:
    """The code location's executor: in-process (one DuckDB writer anyway), reaping dead runs, honouring SIGTERM;
    the same run config as Dagster's ``in_process_executor``."""
    config = init_context.executor_config
    return GuardedInProcessExecutor(
        retries=RetryMode.from_config(config["retries"]),  # type: ignore[arg-type]
        step_dependency_config=StepDependencyConfig.from_config(config.get("step_dependency_config")),  # type: ignore[arg-type]
    )


def build_reaper_sensor(settings: Settings) -> dg.SensorDefinition:
    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=settings.reaper_interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Marks runs of this host whose process is gone as failed and frees their pool slots.",
    )
    def dead_run_reaper(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        reaped = reap_dead_runs(context.instance)
        return dg.SkipReason(f"reaped {', '.join(reaped)}" if reaped else "no dead runs")

    return dead_run_reaper


def main() -> int:
    """``python -m mca_sensors.reaper``: reap this host's dead runs on ``$DAGSTER_HOME``'s instance, once."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with dg.DagsterInstance.get() as instance:
        reaped = reap_dead_runs(instance)
    print(f"reaped {len(reaped)} run(s): {', '.join(reaped)}" if reaped else "no dead runs on this host")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
