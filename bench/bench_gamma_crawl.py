"""Gamma crawl of a 100,000-market universe against the sandbox throttled at Polymarket's published limits.

Prints markets/s and its ratio to the rate-limit ceiling (300 requests / 10 s on /markets x 100 markets per
keyset page = 3,000 markets/s). Goal (issue 3): ratio >= 0.8. The sandbox runs in its own process so the client
is measured alone.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

from mca_resources.gamma import GammaClient
from mca_resources.http import HttpUpstream

MARKETS = 100_000
CEILING_MARKETS_PER_S = 300 / 10 * 100


async def crawl(url: str) -> tuple[int, float, int]:
    client = GammaClient(HttpUpstream(url, name="gamma"))  # published limits are the default
    began = time.perf_counter()
    result = await client.markets(progress=lambda s: None)
    elapsed = time.perf_counter() - began
    await client.http.aclose()
    return len(result.records), elapsed, result.stats.pages


def main() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mca_sandbox.cli",
            "--port",
            "0",
            "--markets",
            str(MARKETS),
            "--faults",
            "gamma.*:throttle=on",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        urls = json.loads(line.removeprefix("READY "))
        n, elapsed, pages = asyncio.run(crawl(urls["gamma"]))
    finally:
        proc.terminate()
        proc.wait(10)
    rate = n / elapsed
    print(f"crawled {n:,} markets in {pages:,} keyset pages in {elapsed:.1f} s: {rate:,.0f} markets/s")
    ratio = rate / CEILING_MARKETS_PER_S
    print(f"ceiling at the published limit: {CEILING_MARKETS_PER_S:,.0f} markets/s -> ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
