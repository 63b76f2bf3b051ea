"""Benchmark: the dashboard's first load on loopback in headless Chromium, and what it transfers.

Usage: ``.venv/bin/python bench/bench_dashboard.py [loads]`` (default 7).

The service runs as ``mca serve`` does (uvicorn, one worker) over a snapshot the real daily graph built from a
200-market sandbox world (two days; trust, alerts and postmortems seeded as in the serving tests). Each load opens
a fresh tab with the browser cache off and navigates to ``/#/reliability`` (the heaviest view: BokehJS, the
scoreboard and five drawn diagrams). Timed from the browser's navigation timing: ``loadEventEnd`` (page, BokehJS
and our files parsed and run) and the moment the last diagram is drawn (``performance.now()`` when the view says
ready). Transfer: the encoded bytes of every response (DevTools ``Network.loadingFinished``). Peer, same run and
same browser: a navigation to ``/health`` (one tiny JSON answer), the floor of any page load here.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from mca_serving.app import create_app
from tests.chromium import open_page, running_chromium
from tests.integration.serving.conftest import graph_world
from tests.integration.serving.dashboardlib import live_server

NAVIGATION = "JSON.stringify(performance.getEntriesByType('navigation')[0].toJSON())"


async def one_load(devtools: str, url: str, ready: str | None) -> tuple[float, float, int, list[str]]:
    """(loadEventEnd ms, ready ms, encoded bytes, problems) of one cold load in a fresh tab."""
    async with open_page(devtools, cache=False) as page:
        await page.goto(url)
        drawn = float(await page.wait_for(ready)) if ready else 0.0
        timing = await page.evaluate(NAVIGATION)
        load_end = json.loads(timing)["loadEventEnd"]
        await asyncio.sleep(0.2)  # the last loadingFinished events
        transfer = sum(r.get("encoded_bytes", 0) for r in page.requests.values())
        return load_end, drawn, transfer, page.problems


async def run(devtools: str, base: str, loads: int) -> None:
    ready = (
        "(() => { const v = document.getElementById('view'); return v.dataset.ready === 'true' &&"
        " document.querySelectorAll('[data-chart=reliability][data-points]').length > 0 && performance.now(); })()"
    )
    await one_load(devtools, f"{base}/#/reliability", ready)  # warm the service's caches and the asset gzip
    dash, peer = [], []
    for _ in range(loads):  # interleaved, so both see the same load on the machine
        dash.append(await one_load(devtools, f"{base}/#/reliability", ready))
        peer.append(await one_load(devtools, f"{base}/health", None))
    problems = sorted({p for *_, found in dash for p in found})
    load_ms = statistics.median(d[0] for d in dash)
    drawn_ms = statistics.median(d[1] for d in dash)
    peer_ms = statistics.median(p[0] for p in peer)
    transfer = max(d[2] for d in dash)
    print(f"dashboard first load (/#/reliability), {loads} cold loads, medians:")
    for label, median, index in (("loadEventEnd", load_ms, 0), ("diagrams drawn", drawn_ms, 1)):
        spread = f"min {min(d[index] for d in dash):.1f}, max {max(d[index] for d in dash):.1f}"
        print(f"  {label:<17} {median:7.1f} ms   ({spread})")
    print(f"  peer /health      {peer_ms:7.1f} ms   ratio load/peer {load_ms / peer_ms:.1f}x")
    print(f"  transfer          {transfer / 1e3:7.1f} kB  (goal < 1000 kB)")
    print(f"  goals: drawn < 1000 ms {'met' if drawn_ms < 1000 else 'MISSED'}; "
          f"transfer < 1 MB {'met' if transfer < 1e6 else 'MISSED'}")  # fmt: skip
    if problems:
        print("  page problems:", problems)


def main() -> None:
    loads = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    with tempfile.TemporaryDirectory(prefix="mca-bench-dashboard-") as tmp:
        print("building the world (daily graph over the sandbox, two days) ...", flush=True)
        world = graph_world(Path(tmp))
        settings = replace(world.settings, read_rate_per_min=1e6, read_rate_burst=10_000)
        with live_server(create_app(settings), settings) as base, running_chromium() as devtools:
            asyncio.run(run(devtools, base, loads))


if __name__ == "__main__":
    main()
