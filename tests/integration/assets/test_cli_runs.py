"""The graph driven from Dagster's CLI as an operator would: a 30-day backfill, and a run killed half-way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from mca_resources.warehouse import TABLE_KEYS, partition_hash
from mca_sandbox.world import CATEGORIES
from tests.conftest import start_sandbox
from tests.integration.assets.conftest import Graph

REPO = Path(__file__).resolve().parents[3]
DAGSTER = str(Path(sys.executable).parent / "dagster")
# registry changes of a day depend on the days loaded before it, which differ between the two warehouses
PER_DAY_TABLES = [
    t
    for t in TABLE_KEYS
    if t.startswith(("core.", "calib.")) and "dt" in TABLE_KEYS[t] and t != "core.registry_changes"
]


def cli_env(urls: dict[str, str], data_dir: Path, home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MCA_DATA_DIR": str(data_dir),
        "MCA_GAMMA_URL": urls["gamma"],
        "MCA_CLOB_URL": urls["clob"],
        "MCA_SUBGRAPH_URL": urls["subgraph"],
        "MCA_WS_URL": urls["ws"],
        "MCA_PARTITIONS_START": "2026-06-01",
    }


#: every daily asset: the intraday group (core/live_paths, serving/forecast_bands) is not partitioned by day
DAILY = "not group:intraday"
#: the scoreboard and what it reads (gamma, resolutions, price history, cutoffs); the reliability bins are written
#: by the same multi-asset, which is selected whole
SCOREBOARD_LINEAGE = '+key:"calib/scoreboard" or key:"calib/reliability_bins"'


def materialize_cmd(*partition_args: str, select: str = DAILY) -> list[str]:
    return [DAGSTER, "asset", "materialize", "-m", "mca_assets.definitions", "--select", select, *partition_args]


@pytest.mark.slow
@pytest.mark.parametrize(("alpha", "beta"), [(0.0, 1.0), (0.3, 1.6)], ids=["calibrated", "distorted"])
def test_a_30_day_backfill_from_the_cli_recovers_the_world_calibration(
    tmp_path: Path, alpha: float, beta: float
) -> None:
    """Prices of every category follow ``logit p_true = alpha + beta logit price``. The scoreboard's logistic fit
    over the backfilled cohorts recovers (alpha, beta) inside its 95 % intervals at no fewer than four of the five
    horizons (each interval misses with probability 0.05, so all five hold only ~77 % of the time; four of five
    ~98 %). On the calibrated world the debiased ECE's interval holds 0 at every horizon.

    The cutoff prices and labels themselves equal the venue's exactly (test_daily_graph), so a miss here is
    sampling noise, not attenuation by the pipeline. The backfill selects the scoreboard's lineage: a range run of
    the whole daily graph is the DuckLake test's serial reference (tests/integration/instance)."""
    sandbox = start_sandbox(markets=2500, seed=5, distortion={c: (alpha, beta) for c in CATEGORIES})
    try:
        env = cli_env(sandbox.urls, tmp_path / "data", tmp_path / "home")
        first, last = date(2026, 9, 1), date(2026, 9, 30)
        out = subprocess.run(
            materialize_cmd("--partition-range", f"{first}...{last}", select=SCOREBOARD_LINEAGE),
            cwd=REPO, env=env, capture_output=True, text=True, timeout=1200,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as conn:
            days = conn.execute("SELECT count(DISTINCT dt), min(dt), max(dt) FROM core.markets").fetchone()
            assert days == (30, first, last)
            labelled = conn.execute("SELECT count(*) FROM core.resolutions").fetchone()[0]
            assert labelled > 0
            fits = conn.execute(
                "SELECT horizon, n, slope_ci_low, slope_ci_high, intercept_ci_low, intercept_ci_high, "
                "ece_debiased_ci_low, ece_debiased_ci_high "
                "FROM calib.scoreboard WHERE dt = ? AND \"window\" = 'all' AND segment_type = 'all'",
                [last],
            ).fetchall()
        assert len(fits) == 5
        assert sum(row[1] for row in fits) >= 800
        recovered = [row[0] for row in fits if row[2] <= beta <= row[3] and row[4] <= alpha <= row[5]]
        assert len(recovered) >= 4, fits
        if beta == 1.0:
            assert all(row[6] == 0.0 < row[7] for row in fits), fits
        with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
            runs = instance.get_runs()
        assert len(runs) == 1  # one run for the whole range (single-run backfill policy)
    finally:
        sandbox.stop()


@pytest.mark.slow
def test_a_run_killed_half_way_then_rerun_leaves_a_correct_partition(graph: Graph, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = cli_env(graph.sandbox.urls, data_dir, tmp_path / "home")
    proc = subprocess.Popen(
        materialize_cmd("--partition", graph.dt.isoformat()), cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    landed = data_dir / "raw" / "price_history" / f"dt={graph.dt.isoformat()}"
    deadline = time.monotonic() + 300
    while not landed.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    out = subprocess.run(materialize_cmd("--partition", graph.dt.isoformat()), cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    with duckdb.connect(str(graph.settings.warehouse_path), read_only=True) as conn:
        expected = {t: partition_hash(conn, t, graph.dt) for t in PER_DAY_TABLES}
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as conn:
        got = {t: partition_hash(conn, t, graph.dt) for t in PER_DAY_TABLES}
        dupes = conn.execute("SELECT count(*) - count(DISTINCT (dt, market_id, ts)) FROM core.price_history").fetchone()
    assert got == expected
    assert dupes[0] == 0
