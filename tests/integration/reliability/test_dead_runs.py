"""Runs killed hard (SIGKILL) or asked to stop (SIGTERM) never block later runs: issue 19.

The reaper (``mca_sensors.reaper``) on a persistent test instance through the daemon's sensor, and the daily graph
run from Dagster's CLI (``dagster asset materialize``, no daemon): a run killed inside a pooled step, a run that
waits for a slot and gets SIGTERM, a slot holder that dies while another run waits, and kills at seeded random
points of the graph, each followed by a run that completes by itself with the tables of a clean run.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import pytest

from mca_resources.dagster_storage import WAREHOUSE_POOL
from mca_resources.settings import Settings
from mca_sensors.reaper import HOST_TAG, PROCESS_TAG, build_reaper_sensor, process_identity
from tests.conftest import sensor_tick
from tests.integration.reliability.conftest import (
    CliGraph,
    Reference,
    kill,
    pool_holders,
    step_starts,
    wait_until,
)

pytestmark = pytest.mark.timeout(900)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(overrides={"concurrency": {"pools": {"default_limit": 1}}}) as inst:
        yield inst


@dg.op
def hold() -> None:
    """Stands for a step that holds the warehouse slot."""


@dg.job
def holding() -> None:
    hold()


def dead_process() -> str:
    """The identity of a process that ran on this host and is gone."""
    proc = subprocess.Popen(["sleep", "30"])
    identity = process_identity(proc.pid)
    proc.kill()
    proc.wait()
    assert identity is not None
    assert process_identity(proc.pid) is None
    return identity


def holder_run(
    instance: dg.DagsterInstance, identity: str, status: dg.DagsterRunStatus = dg.DagsterRunStatus.STARTED,
    host: str | None = None,
) -> str:  # fmt: skip
    """A run executed by process ``identity`` (on ``host``, default this one) that claims the warehouse slot (or
    queues for it when the slot is taken)."""
    run = instance.create_run_for_job(
        job_def=holding,
        status=status,
        tags={HOST_TAG: host or socket.gethostname(), PROCESS_TAG: identity},
    )
    instance.event_log_storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)
    instance.event_log_storage.claim_concurrency_slot(WAREHOUSE_POOL, run.run_id, "load_capture_op")
    return run.run_id


def status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return run.status


def test_the_reaper_fails_this_hosts_runs_whose_process_is_gone_and_frees_their_slots(
    instance: dg.DagsterInstance,
) -> None:
    alive = process_identity(os.getpid())
    assert alive is not None
    boot, pid, _start = alive.split(":")
    reused = f"{boot}:{pid}:1"  # the same pid, but another process (started at another time): gone
    dead = holder_run(instance, dead_process())  # holds the slot
    queued = holder_run(instance, reused)  # dead too, queued behind it
    finished = holder_run(instance, dead_process(), dg.DagsterRunStatus.FAILURE)  # ended, its claim left behind
    living = holder_run(instance, alive)  # this test's own process: alive
    foreign = holder_run(instance, dead_process(), host="another-host")  # not ours to judge
    assert pool_holders(instance) == ({dead}, {queued, finished, living, foreign})

    sensor = build_reaper_sensor(Settings())
    result = sensor_tick(sensor, instance=instance)
    assert result.run_requests == []

    assert status(instance, dead) == status(instance, queued) == dg.DagsterRunStatus.FAILURE
    assert status(instance, finished) == dg.DagsterRunStatus.FAILURE
    assert status(instance, living) == status(instance, foreign) == dg.DagsterRunStatus.STARTED
    pool = instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL)
    assert {s.run_id for s in pool.claimed_slots} | {s.run_id for s in pool.pending_steps} == {living, foreign}
    assert len([s for s in pool.pending_steps if s.assigned_timestamp]) == 1  # the freed slot went to a live claim
    [failure] = instance.all_logs(dead, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert f"on {socket.gethostname()}) is gone" in (failure.message or "")
    again = sensor_tick(sensor, instance=instance)
    assert again.skip_message == "no dead runs"


def test_a_run_killed_inside_a_pooled_step_is_reaped_by_the_next_run_which_completes(
    cli_graph: CliGraph, reference: Reference
) -> None:
    first = cli_graph.start("killed")
    with cli_graph.instance("killed") as instance:
        wait_until(lambda: bool(pool_holders(instance)[0]), "a warehouse step holds the pool slot")
        kill(first)
        first.wait(30)
        [(killed, run)] = [(r.run_id, r) for r in instance.get_runs()]
        assert run.status == dg.DagsterRunStatus.STARTED  # what a killed run leaves: a started run ...
        assert pool_holders(instance)[0] == {killed}  # ... holding the slot
        cli_graph.run("killed")  # no daemon, no manual help
        assert status(instance, killed) == dg.DagsterRunStatus.FAILURE
        assert pool_holders(instance) == (set(), set())
        assert instance.get_runs()[0].status == dg.DagsterRunStatus.SUCCESS  # the newest run
    assert cli_graph.hashes("killed") == reference.hashes


def test_a_run_waiting_for_a_slot_honours_sigterm_and_reaps_a_holder_that_dies(
    cli_graph: CliGraph, reference: Reference
) -> None:
    holder_proc = subprocess.Popen(["sleep", "600"])
    identity = process_identity(holder_proc.pid)
    assert identity is not None
    try:
        cli_graph.env("blocked")  # writes the instance config
        with cli_graph.instance("blocked") as instance:
            holder = holder_run(instance, identity)

            waiting = cli_graph.start("blocked")
            wait_until(lambda: len(pool_holders(instance)[1]) == 1, "the run queues for the slot")
            [waiting_id] = pool_holders(instance)[1]
            kill(waiting, signal.SIGTERM)
            assert waiting.wait(120) != 0  # it stops instead of spinning on the slot
            assert status(instance, waiting_id) == dg.DagsterRunStatus.FAILURE
            assert pool_holders(instance) == ({holder}, set())  # its queued claim is gone, the holder's kept

            patient = cli_graph.start("blocked")
            wait_until(lambda: len(pool_holders(instance)[1]) == 1, "the next run queues for the slot")
            holder_proc.kill()  # the holder dies while that run waits: the run reaps it by itself
            assert patient.wait(300) == 0
            assert status(instance, holder) == dg.DagsterRunStatus.FAILURE
            assert pool_holders(instance) == (set(), set())
        assert cli_graph.hashes("blocked") == reference.hashes
    finally:
        holder_proc.kill()
        holder_proc.wait()


def kill_after_step(cli_graph: CliGraph, instance: dg.DagsterInstance, name: str, step: int, after_s: float) -> None:
    """Start a run and SIGKILL it ``after_s`` after its ``step``-th step started (or let it be, if it ended)."""
    before = {run.run_id for run in instance.get_runs()}
    proc = cli_graph.start(name)

    def reached() -> bool:
        runs = [run.run_id for run in instance.get_runs() if run.run_id not in before]
        return proc.poll() is not None or (bool(runs) and step_starts(instance, runs[0]) >= step)

    wait_until(reached, f"step {step} started")
    time.sleep(after_s)
    kill(proc)
    proc.wait(30)


def kill_and_rerun(cli_graph: CliGraph, reference: Reference, points: list[tuple[int, float]], name: str) -> None:
    """Kill (SIGKILL) a run at each of ``points`` (the step it has started, then a delay) on the data dir and
    instance ``name``; after each, the next run must complete unaided and leave the partition equal to the clean
    run's."""
    cli_graph.env(name)
    for point, (step, after_s) in enumerate(points):
        with cli_graph.instance(name) as instance:
            kill_after_step(cli_graph, instance, name, step, after_s)
            cli_graph.run(name)
            runs = instance.get_runs()
            assert runs[0].status == dg.DagsterRunStatus.SUCCESS, point
            assert all(run.is_finished for run in runs), point  # no killed run is left STARTED
            assert pool_holders(instance) == (set(), set()), point
        assert cli_graph.hashes(name) == reference.hashes, (name, point, step, after_s)


#: the issue's 20 kill points in the release gate (`make release-check` sets MCA_KILL_POINTS=20; 346 s on 2 cores),
#: 6 in CI (.ci/run sets CI=true; the 30-minute budget), 2 in a local `make test`
KILL_POINTS = int(os.environ.get("MCA_KILL_POINTS") or (6 if os.environ.get("CI") else 2))
LANES = 2


@pytest.mark.slow
def test_seeded_kill_points_each_followed_by_a_run_that_recovers_the_partition(
    cli_graph: CliGraph, reference: Reference
) -> None:
    """Seeded points: a random step of the graph, then a random time up to 0.3 s. Two lanes (each its own data dir
    and instance, like two operators' machines) take alternate points, so both cores run a CLI at once."""
    rng = random.Random(1912)
    points = [(rng.randrange(1, reference.steps + 1), rng.uniform(0.0, 0.3)) for _ in range(KILL_POINTS)]
    with ThreadPoolExecutor(LANES) as pool:
        lanes = [pool.submit(kill_and_rerun, cli_graph, reference, points[lane::LANES], f"points-lane{lane}")
                 for lane in range(LANES)]  # fmt: skip
        for lane in lanes:
            lane.result()
