"""A small sandbox world, one partition of the daily graph run from Dagster's CLI, and one clean reference run.

Each test gets its own DAGSTER_HOME (the repository's dagster.yaml: SQLite storage, the warehouse pool limited to
1) and data directory; the reference run's tables are what every recovered partition must equal.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from mca_resources.dagster_storage import WAREHOUSE_POOL
from mca_resources.warehouse import partition_hash
from tests.conftest import REPO, RunningSandbox, start_sandbox
from tests.integration.assets.conftest import busiest_day
from tests.integration.assets.test_cli_runs import PER_DAY_TABLES, cli_env, materialize_cmd

#: a run that waits this long has not recovered by itself
RUN_TIMEOUT_S = 300


@dataclass
class CliGraph:
    """One partition of the daily graph, run with ``dagster asset materialize`` on a data dir and instance."""

    sandbox: RunningSandbox
    dt: date
    root: Path

    def env(self, name: str) -> dict[str, str]:
        return cli_env(self.sandbox.urls, self.root / name / "data", self.root / name / "home")

    def start(self, name: str) -> subprocess.Popen[bytes]:
        """Start a run (own process group, output in ``<name>/cli-<n>.log``)."""
        env = self.env(name)
        logs = sorted((self.root / name).glob("cli-*.log"))
        with (self.root / name / f"cli-{len(logs):03d}.log").open("wb") as log:
            return subprocess.Popen(
                materialize_cmd("--partition", self.dt.isoformat()), cwd=REPO, env=env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def run(self, name: str) -> None:
        """A run that must complete by itself."""
        proc = self.start(name)
        code = proc.wait(RUN_TIMEOUT_S)
        log = sorted((self.root / name).glob("cli-*.log"))[-1]
        assert code == 0, log.read_text()[-4000:]

    def instance(self, name: str) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.root / name / "home"))

    def hashes(self, name: str) -> dict[str, str]:
        with duckdb.connect(str(self.root / name / "data" / "warehouse.duckdb"), read_only=True) as conn:
            return {t: partition_hash(conn, t, self.dt) for t in PER_DAY_TABLES}


@dataclass
class Reference:
    """The clean run: its tables, and how many steps its graph ran."""

    hashes: dict[str, str]
    steps: int


def step_starts(instance: dg.DagsterInstance, run_id: str) -> int:
    return len(instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START, limit=10_000).records)


@pytest.fixture(scope="module")
def cli_graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliGraph]:
    """On tmpfs where the machine has one: each of the ~45 CLI runs commits its SQLite event log event by event,
    and a disk's fsyncs were a sixth of a run's time."""
    shm = Path("/dev/shm")
    root = Path(tempfile.mkdtemp(prefix="mca-cli-", dir=shm)) if shm.is_dir() else tmp_path_factory.mktemp("cli")
    sandbox = start_sandbox(markets=80, seed=11)
    try:
        yield CliGraph(sandbox, busiest_day(sandbox), root)
    finally:
        sandbox.stop()
        if root.parent == shm:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def reference(cli_graph: CliGraph) -> Reference:
    cli_graph.run("reference")
    with cli_graph.instance("reference") as instance:
        [run] = instance.get_runs()
        steps = step_starts(instance, run.run_id)
    return Reference(cli_graph.hashes("reference"), steps)


def pool_holders(instance: dg.DagsterInstance) -> tuple[set[str], set[str]]:
    """Run ids holding a warehouse slot, and run ids with a step queued for one (not yet assigned a slot)."""
    info = instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL)
    queued = {s.run_id for s in info.pending_steps if s.assigned_timestamp is None}
    return {s.run_id for s in info.claimed_slots}, queued


def wait_until(done: Callable[[], bool], what: str, timeout_s: float = RUN_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"not in time: {what}"
        time.sleep(0.05)


def kill(proc: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGKILL) -> None:
    """Signal the run's process group (nothing to do when it has already exited)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
