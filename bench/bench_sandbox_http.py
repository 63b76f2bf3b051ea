"""Benchmark: Gamma keyset pages from a 100,000-market sandbox over loopback, against a trivial aiohttp handler.

Builds the world in-process (prints the build time, then the venue warm-up the app does on startup), serves it on
127.0.0.1 from a background thread together with a bare aiohttp ``GET /ping`` app (the framework's ceiling on this
machine), then times with one keep-alive ``httpx.Client``:

- N sequential ``/gamma/markets/keyset?limit=100`` pages (a crawl: every page renders markets never seen before),
- the same N pages again (rendered markets now come from the LRU),
- N ``GET /ping``.

Prints p50/p95/p99 in ms for each, as seen by the client and as spent inside the sandbox (a timing middleware
around the app's own middlewares and handler), and the ratio keyset/ping. Goal: keyset p50 < 5 ms. Client and
server share one process (and its GIL), so the client-observed figures include httpx reading ~0.4 MB per page.

Run: .venv/bin/python bench/bench_sandbox_http.py [--markets 100000] [--pages 300] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
from aiohttp import web

from mca_sandbox.server import create_app
from mca_sandbox.world import WorldConfig, build_world


def _serve_in_thread(apps: list[web.Application]) -> tuple[list[int], Callable[[], None]]:
    """Serve each app on its own free loopback port from one background event loop; returns (ports, stop)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runners: list[web.AppRunner] = []

    async def start() -> list[int]:
        ports = []
        for app in apps:
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()  # runs on_startup: the sandbox warms its venue here
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            runners.append(runner)
            ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        return ports

    async def cleanup() -> None:
        for runner in runners:
            await runner.cleanup()

    ports = asyncio.run_coroutine_threadsafe(start(), loop).result(600)

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    return ports, stop


def _percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return f"p50 {statistics.median(ms):7.3f}  p95 {q[94]:7.3f}  p99 {q[98]:7.3f}  (ms, n={len(ms)})"


SIZES: list[int] = []


def _crawl(client: httpx.Client, base: str, pages: int) -> tuple[list[float], int]:
    times: list[float] = []
    cursor: str | None = None
    seen = 0
    for _ in range(pages):
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["after_cursor"] = cursor
        began = time.perf_counter()
        response = client.get(f"{base}/gamma/markets/keyset", params=params)
        times.append(time.perf_counter() - began)
        response.raise_for_status()
        SIZES.append(len(response.content))
        body = response.json()
        seen += len(body["markets"])
        cursor = body.get("next_cursor")
        if not cursor:
            break
    return times, seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markets", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    began = time.perf_counter()
    config = WorldConfig(seed=args.seed, markets=args.markets, start=date(2026, 7, 1), end=date(2026, 10, 31))
    world = build_world(config)
    print(f"world: {world.n_markets} markets, {world.n_events} events built in {time.perf_counter() - began:.2f} s")

    app = create_app(world)
    handler_times: list[float] = []

    @web.middleware
    async def timing(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        """Time spent in the sandbox (middlewares + handler), without the socket and the client."""
        began = time.perf_counter()
        response = await handler(request)
        if request.path == "/gamma/markets/keyset":
            handler_times.append(time.perf_counter() - began)
        return response

    app.middlewares.insert(0, timing)

    async def ping(_: web.Request) -> web.Response:
        return web.Response(body=b'{"ok":true}', content_type="application/json")

    ping_app = web.Application()
    ping_app.router.add_get("/ping", ping)

    began = time.perf_counter()
    (port, ping_port), stop = _serve_in_thread([app, ping_app])
    print(f"servers up (venue + Gamma tables warmed on startup) in {time.perf_counter() - began:.2f} s")
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=30) as client:
            client.get(f"{base}/gamma/markets/keyset", params={"limit": 1}).raise_for_status()  # connection warm-up
            handler_times.clear()
            cold, seen = _crawl(client, base, args.pages)
            cold_server = list(handler_times)
            handler_times.clear()
            warm, _ = _crawl(client, base, args.pages)
            warm_server = list(handler_times)
            client.get(f"http://127.0.0.1:{ping_port}/ping").raise_for_status()
            pings = []
            for _ in range(len(cold)):
                t0 = time.perf_counter()
                client.get(f"http://127.0.0.1:{ping_port}/ping").raise_for_status()
                pings.append(time.perf_counter() - t0)
    finally:
        stop()

    sizes = int(statistics.median(SIZES))
    print(f"keyset limit=100: {len(cold)} pages, {seen} markets, median body {sizes} bytes")
    print(f"  first crawl (rendered), client-observed:   {_percentiles(cold)}")
    print(f"  first crawl (rendered), inside the server: {_percentiles(cold_server)}")
    print(f"  same pages again (LRU), client-observed:   {_percentiles(warm)}")
    print(f"  same pages again (LRU), inside the server: {_percentiles(warm_server)}")
    print(f"aiohttp GET /ping (framework ceiling):       {_percentiles(pings)}")
    ratio = statistics.median(cold) / statistics.median(pings)
    ratio_warm = statistics.median(warm) / statistics.median(pings)
    print(f"ratio p50 keyset/ping: {ratio:.1f}x rendered, {ratio_warm:.1f}x cached")
    verdict = "OK" if statistics.median(cold) < 0.005 else "SLOWER THAN GOAL"
    print(f"goal keyset p50 < 5 ms: {verdict}")


if __name__ == "__main__":
    main()
