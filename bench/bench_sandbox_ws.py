"""Benchmark: messages/s the sandbox's market WebSocket pushes to one client, against a trivial aiohttp WS server.

Starts ``python -m mca_sandbox.cli --port 0 --speed S`` as a child process (reads its ``READY {json}`` line),
connects one client (the ``websockets`` library) subscribing ~50 assets (both tokens of 25 live markets, custom
features on) and counts the frames received over a few seconds after the initial dump. The peer, measured in the
same run with the same client, is a trivial aiohttp WebSocket server (a child process too) that pushes one fixed
``price_change`` frame in a loop: the ceiling of aiohttp plus this client on this machine. Prints both rates and
the ratio sandbox/peer. Goal: >= 50,000 messages/s from the sandbox.

Run: .venv/bin/python bench/bench_sandbox_ws.py [--seconds 5] [--speed 2000] [--markets 25]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from datetime import date

import httpx
import numpy as np
import websockets

from mca_sandbox.world import LIVE, WorldConfig, build_world

START, END = date(2026, 7, 1), date(2026, 10, 31)
WORLD_MARKETS = 2000

#: A representative frame (two-token new-schema price_change, ~620 characters) for the peer server.
PEER_FRAME = json.dumps(
    {
        "market": "0x" + "ab" * 32,
        "price_changes": [
            {
                "asset_id": "7" * 77,
                "price": "0.301",
                "size": "1000",
                "side": "BUY",
                "hash": "b" * 40,
                "best_bid": "0.301",
                "best_ask": "0.397",
            },
            {
                "asset_id": "5" * 77,
                "price": "0.699",
                "size": "1000",
                "side": "SELL",
                "hash": "c" * 40,
                "best_bid": "0.603",
                "best_ask": "0.699",
            },
        ],
        "timestamp": "1790658674035",
        "event_type": "price_change",
    },
    separators=(",", ":"),
)


def run_peer_server() -> None:
    """The trivial aiohttp WS server: after the client's first frame, push PEER_FRAME as fast as it goes."""
    from aiohttp import web

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        await ws.receive()
        try:
            while True:
                await ws.send_str(PEER_FRAME)
        except ConnectionResetError:
            pass
        return ws

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/ws", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        sys.stdout.write("READY " + json.dumps({"ws": f"ws://127.0.0.1:{port}/ws"}) + "\n")
        sys.stdout.flush()
        await asyncio.Event().wait()

    asyncio.run(main())


def spawn(cmd: list[str]) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"child did not start: {cmd} -> {line!r}")
    return proc, json.loads(line[len("READY ") :])


async def count_messages(url: str, first_frame: str, seconds: float, skip_first: bool) -> tuple[int, float]:
    """Frames received in ``seconds`` after the first one (the initial dump when ``skip_first``)."""
    async with websockets.connect(url, compression=None, max_size=None, max_queue=None) as ws:
        await ws.send(first_frame)
        if skip_first:
            await ws.recv()
        n = 0
        began = time.perf_counter()
        deadline = began + seconds
        async for _ in ws:
            n += 1
            if not n & 255 and time.perf_counter() >= deadline:
                break
        return n, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--speed", type=float, default=2000.0)
    parser.add_argument("--markets", type=int, default=25, help="live markets subscribed (both tokens each)")
    parser.add_argument("--peer-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer_server:
        run_peer_server()
        return

    world = build_world(WorldConfig(seed=7, markets=WORLD_MARKETS, start=START, end=END))
    live = np.flatnonzero(world.market_label == LIVE)[: args.markets].tolist()
    assets = [token for m in live for token in world.token_ids(m)]
    subscribe = json.dumps({"assets_ids": assets, "type": "market", "custom_feature_enabled": True})

    sandbox, urls = spawn(
        [
            sys.executable,
            "-m",
            "mca_sandbox.cli",
            "--port",
            "0",
            "--seed",
            "7",
            "--markets",
            str(WORLD_MARKETS),
            "--start",
            START.isoformat(),
            "--end",
            END.isoformat(),
            "--speed",
            str(args.speed),
        ]
    )
    peer, peer_urls = spawn([sys.executable, __file__, "--peer-server"])
    try:
        n, elapsed = asyncio.run(count_messages(urls["ws"], subscribe, args.seconds, skip_first=True))
        rate = n / elapsed
        truth = httpx.get(urls["truth"] + "/ws/connections", timeout=30).json()
        sent = truth[-1]["messages_sent"] if truth else 0
        pn, pelapsed = asyncio.run(count_messages(peer_urls["ws"], "go", args.seconds, skip_first=False))
        peer_rate = pn / pelapsed
    finally:
        for proc in (sandbox, peer):
            proc.terminate()
            proc.wait(10)
    print(
        f"sandbox /ws/market: {len(assets)} assets ({len(live)} markets), speed {args.speed:g}: "
        f"{n:,} frames in {elapsed:.2f} s = {rate:,.0f} messages/s (server sent {sent:,} in total)"
    )
    print(f"peer (trivial aiohttp WS push loop, same client): {peer_rate:,.0f} messages/s")
    verdict = "met" if rate >= 50_000 else "NOT met"
    print(f"ratio sandbox/peer: {rate / peer_rate:.2f}; goal >= 50,000 messages/s: {verdict}")


if __name__ == "__main__":
    main()
