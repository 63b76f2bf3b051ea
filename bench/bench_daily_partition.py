"""One daily partition of the whole graph against the sandbox: wall time and peak memory.

Goal (issues 4 and 13): a universe with about 17,000 live and 1,000 resolving markets on the day, every one with
its day path and hourly on-chain state; wall time within 1.3x the pacing floor, peak RSS under 2 GB on 2 cores.
The sandbox runs in its own process at Polymarket's published rate limits (throttle on), so the time includes
honest network pacing; the peer printed beside it is the pacing floor: the requests the partition made (counted by
the sandbox, per route) divided by the published limit of each route, summed (the stages run one after another).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from fnmatch import fnmatchcase
from pathlib import Path

import dagster as dg
import httpx

from mca_assets.definitions import build_definitions
from mca_resources.settings import Settings
from mca_sandbox.faults import PUBLISHED_LIMITS_PER_10S


def pacing_floor(requests: dict[str, int]) -> tuple[float, dict[str, int]]:
    """Seconds the requests need at the published limits (10 s windows), and the requests per limit group."""
    groups: Counter[str] = Counter()
    for route, n in requests.items():
        key = next((k for k in PUBLISHED_LIMITS_PER_10S if fnmatchcase(route, k)), None)
        if key is not None:
            groups[key] += n
    return sum(n / PUBLISHED_LIMITS_PER_10S[k] * 10 for k, n in groups.items()), dict(groups)


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
        requests = httpx.get(f"{base}/_faults").json().get("requests", {})
        floor, groups = pacing_floor(requests)
        print(f"world: {world['markets']:,} markets; partition {day}: {live:,} live and {cohort:,} resolving markets, "
              f"{windows:,} with a day path")  # fmt: skip
        print(f"whole graph for one partition: {elapsed:.1f} s wall, peak RSS {peak_gb:.2f} GB (goal <= 1.3x the "
              "pacing floor, < 2 GB)")  # fmt: skip
        print(f"requests made: {sum(groups.values()):,} {groups}")
        print(f"pacing floor at the published limits: {floor:.1f} s -> wall / floor {elapsed / floor:.2f}x")
        for step, seconds in steps.most_common(8):
            print(f"  {step:<40} {seconds:6.1f} s")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else MARKETS)
