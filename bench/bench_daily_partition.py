"""One daily partition of the whole graph against the sandbox: wall time and peak memory.

Goal (issue 4): a universe with about 20,000 live and 1,000 resolving markets on the day, under 2 minutes and
2 GB on 2 cores. The sandbox runs in its own process at Polymarket's published rate limits (throttle on), so the
time includes honest network pacing; the peer printed beside it is the pacing floor: the requests the partition
needs divided by the published limits.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import dagster as dg
import httpx

from mca_assets.definitions import build_definitions
from mca_resources.settings import Settings

MARKETS = 210_000


def main(markets: int = MARKETS) -> None:
    throttle = "gamma.*:throttle=on;clob.*:throttle=on;subgraph:throttle=on"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mca_sandbox.cli", "--port", "0", "--markets", str(markets),
         "--start", "2026-06-01", "--end", "2026-10-31", "--faults", throttle],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        urls = json.loads(proc.stdout.readline().removeprefix("READY "))
        base = urls["truth"].rsplit("/", 1)[0]
        world = httpx.get(f"{base}/_truth/world").json()
        day = "2026-10-30"
        data = Path(tempfile.mkdtemp())
        settings = Settings(data_dir=data, gamma_url=urls["gamma"], clob_url=urls["clob"], ws_url=urls["ws"],
                            subgraph_url=urls["subgraph"], tollama_url=urls["tollama"])  # fmt: skip
        defs = build_definitions(settings)
        with dg.instance_for_test() as instance:
            began = time.perf_counter()
            result = defs.resolve_job_def("daily_job").execute_in_process(partition_key=day, instance=instance)
            elapsed = time.perf_counter() - began
        steps = Counter()
        for event in result.all_events:
            if event.event_type_value == "STEP_SUCCESS":
                steps[event.step_key] = event.event_specific_data.duration_ms / 1000
        import duckdb

        with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
            live = conn.execute("SELECT count(*) FROM core.markets WHERE dt = ? AND NOT closed", [day]).fetchone()[0]
            cohort = conn.execute("SELECT count(*) FROM core.resolutions WHERE dt = ?", [day]).fetchone()[0]
            windows = conn.execute(
                "SELECT count(DISTINCT market_id) FROM core.price_history WHERE dt = ?", [day]
            ).fetchone()[0]
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
        gamma_pages = (live + cohort) / 100 * 2  # markets and events crawls, 100 per page (events fewer)
        floor = gamma_pages / 30 + windows * 3 / 100 + (live + cohort) * 3 / 100 / 100
        print(f"world: {world['markets']:,} markets; partition {day}: {live:,} live and {cohort:,} resolving markets")
        print(f"whole graph for one partition: {elapsed:.1f} s wall, peak RSS {peak_gb:.2f} GB (goal < 120 s, < 2 GB)")
        print(
            f"pacing floor at the published limits (requests / limit): {floor:.1f} s -> overhead {elapsed / floor:.2f}x"
        )
        for step, seconds in steps.most_common(8):
            print(f"  {step:<40} {seconds:6.1f} s")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else MARKETS)
