"""The intraday refresh (issue 13): recent paths of the top N = 200 live markets, then their forecast bands.

Goal: under 20 s wall on 2 cores. The sandbox runs in its own process on a live clock at Polymarket's published
rate limits; a daily partition (yesterday) is materialized first (not timed) so ``core.markets`` exists. Peers
printed beside it: the pacing floor of the refresh's requests at the published limits, and the forecast step's
share (the in-process forecaster against the sandbox's tollama).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx

from mca_assets.definitions import build_definitions
from mca_resources.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))
from bench_daily_partition import pacing_floor


def main(markets: int = 20_000, top_n: int = 200, runs: int = 3) -> None:
    today = datetime.now(UTC).date()
    throttle = "gamma.*:throttle=on;clob.*:throttle=on;subgraph:throttle=on"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mca_sandbox.cli", "--port", "0", "--markets", str(markets), "--clock", "live",
         "--start", str(today - timedelta(days=90)), "--end", str(today + timedelta(days=30)), "--faults", throttle],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        urls = json.loads(proc.stdout.readline().removeprefix("READY "))
        base = urls["truth"].rsplit("/", 1)[0]
        settings = Settings(data_dir=Path(tempfile.mkdtemp()), gamma_url=urls["gamma"], clob_url=urls["clob"],
                            ws_url=urls["ws"], subgraph_url=urls["subgraph"], tollama_url=urls["tollama"],
                            tsfm_models="sandbox-quantile,mock")  # fmt: skip
        defs = build_definitions(settings)
        with dg.instance_for_test() as instance:
            daily = defs.resolve_job_def("daily_job").execute_in_process(
                partition_key=str(today - timedelta(days=1)), instance=instance
            )
            assert daily.success
            job = defs.resolve_job_def("intraday_refresh")
            config = {
                "ops": {
                    "core__live_paths": {"config": {"top_n": top_n}},
                    "serving__forecast_bands": {"config": {"top_n": top_n, "model": "sandbox-quantile"}},
                }
            }
            for i in range(runs):
                before = httpx.get(f"{base}/_faults").json()["requests"]
                began = time.perf_counter()
                result = job.execute_in_process(instance=instance, run_config=config)
                wall = time.perf_counter() - began
                after = httpx.get(f"{base}/_faults").json()["requests"]
                made = {k: after.get(k, 0) - before.get(k, 0) for k in after}
                floor, groups = pacing_floor(made)
                steps = {
                    e.step_key: e.event_specific_data.duration_ms / 1000
                    for e in result.all_events
                    if e.event_type_value == "STEP_SUCCESS" and e.step_key in ("core__live_paths",
                                                                               "serving__forecast_bands")
                }  # fmt: skip
                meta = result.asset_materializations_for_node("serving__forecast_bands")[0].metadata
                bands = meta["markets"].value
                print(f"run {i + 1}: {wall:.1f} s wall for N = {top_n} (goal < 20 s); steps {steps}; "
                      f"bands for {bands} markets; requests {groups}, pacing floor {floor:.2f} s")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
