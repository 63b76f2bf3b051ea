"""Realtime capture driven by a real ``dagster-daemon`` on a temporary instance against the sandbox's WebSocket.

Shared by the coverage test (a few short windows) and ``bench/bench_realtime_coverage.py`` (minutes of them): the
daemon evaluates ``realtime_capture_sensor`` and launches every window as its own run (queue, a new process that
loads the code location, connect), so the launch latency the sensor must hand over around is the real one. The
warehouse gets a ``core.markets`` day naming the sandbox's live markets, which is all the sensor reads.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import polars as pl
from dagster._core.scheduler.instigation import InstigatorStatus

from mca_resources.warehouse import ensure_schema
from mca_sandbox.world import LIVE
from mca_sensors.jobs import JOB_NAME
from mca_sensors.sensor import SENSOR_NAME
from tests.conftest import REPO, RunningSandbox

DAEMON = str(Path(sys.executable).parent / "dagster-daemon")


@dataclass
class Capture:
    """A finished daemon capture: where its warehouse and instance are, and its runs."""

    data_dir: Path
    home: Path
    runs: list[dg.DagsterRun]

    @property
    def warehouse(self) -> Path:
        return self.data_dir / "warehouse.duckdb"


def seed_markets(warehouse: Path, box: RunningSandbox, markets: int) -> list[str]:
    """A ``core.markets`` day of the sandbox's first ``markets`` live markets; returns their token ids."""
    live = np.flatnonzero(box.world.market_label == LIVE).tolist()[:markets]
    rows = [
        {
            "dt": datetime.now(UTC).date(),
            "market_id": f"m{m}",
            "yes_token_id": box.world.token_ids(m)[0],
            "no_token_id": box.world.token_ids(m)[1],
            "closed": False,
            "volume_usd": float(markets - i),
            "category": "sandbox",
            "liquidity_bucket": "HIGH",
        }
        for i, m in enumerate(live)
    ]
    with duckdb.connect(str(warehouse)) as conn:
        ensure_schema(conn)
        conn.register("m", pl.DataFrame(rows))
        conn.execute("INSERT INTO core.markets BY NAME SELECT * FROM m")
    return [token for row in rows for token in (row["yes_token_id"], row["no_token_id"])]


def capture_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(reversed(instance.get_runs(filters=dg.RunsFilter(job_name=JOB_NAME))))


@contextmanager
def daemon(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``dagster-daemon run`` on the code location, stopped (SIGTERM, then SIGKILL) on exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [DAEMON, "run", "-m", "mca_assets.definitions"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def run_capture(
    box: RunningSandbox, root: Path, *, windows: int, window_s: int, overlap_s: int, interval_s: int,
    prior_latency_s: float, markets: int = 5, timeout_s: float = 600,
) -> Capture:  # fmt: skip
    """Let the daemon capture ``windows`` consecutive windows, then stop it and wait until every run has loaded."""
    data_dir, home = root / "data", root / "dagster_home"
    data_dir.mkdir(parents=True)
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    seed_markets(data_dir / "warehouse.duckdb", box, markets)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MCA_DATA_DIR": str(data_dir),
        "MCA_WS_URL": box.urls["ws"],
        "MCA_RT_SENSOR_ENABLED": "1",
        "MCA_RT_WINDOW_S": str(window_s),
        "MCA_RT_OVERLAP_S": str(overlap_s),
        "MCA_RT_SENSOR_INTERVAL_S": str(interval_s),
        "MCA_RT_LAUNCH_LATENCY_S": str(prior_latency_s),
        "MCA_RT_TOP_N": str(markets),
    }
    deadline = time.monotonic() + timeout_s
    with dg.DagsterInstance.from_config(str(home)) as instance:
        with daemon(env, root / "daemon.log"):
            wait_for(lambda: len(capture_runs(instance)) >= windows, deadline, f"{windows} windows requested", root)
            stop_sensor(instance, SENSOR_NAME)  # as the UI's toggle does; the daemon goes on running the queue
            wait_for(lambda: all(run.is_finished for run in capture_runs(instance)), deadline, "runs finished", root)
        return Capture(data_dir, home, capture_runs(instance))


def wait_for(done: Callable[[], bool], deadline: float, what: str, root: Path) -> None:
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not in time: {what}; see {root / 'daemon.log'}")
        time.sleep(0.5)


def stop_sensor(instance: dg.DagsterInstance, name: str) -> None:
    """Mark the (default-running) sensor stopped in the instance: its next evaluation is skipped."""
    [state] = [s for s in instance.all_instigator_state() if s.name == name]
    instance.update_instigator_state(state.with_status(InstigatorStatus.STOPPED))
