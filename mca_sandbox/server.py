"""The venue: one aiohttp application serving every upstream the platform talks to, on one port.

Route modules each expose ``setup(app)`` and name their routes (``gamma.markets_keyset``...) so the fault plan can
target them. Mount points follow DESIGN.md §9: Gamma under ``/gamma``, CLOB REST under ``/clob``, the market
WebSocket at ``/ws/market``, subgraphs at ``/subgraphs/<name>/<version>/gn``, tollama under ``/tollama``, ground
truth under ``/_truth/`` and fault control at ``/_faults``. ``clock.py`` installs the venue's clock and its views
first: every REST route answers from the current view.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from mca_sandbox import clob, clock, faults, gamma, subgraph, tollama, truth, ws
from mca_sandbox.appkeys import CLOCK, FAULTS, SPEED, STATE, WORLD
from mca_sandbox.clock import Clock
from mca_sandbox.faults import FaultState
from mca_sandbox.world import World

ROUTE_MODULES = (clock, gamma, clob, ws, subgraph, tollama, truth, faults)  # clock first: it holds the views


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Answer unknown paths and bad methods with JSON errors, like the upstreams, and never crash."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return web.json_response({"error": exc.reason}, status=exc.status)


def create_app(world: World, fault_state: FaultState | None = None, speed: float = 1.0) -> web.Application:
    app = web.Application(middlewares=[json_errors, faults.fault_middleware], client_max_size=1 << 20)
    app[WORLD] = world
    app[FAULTS] = fault_state or FaultState()
    app[SPEED] = speed
    app[CLOCK] = Clock(world.config.clock == "live", world.config.as_of_ts, speed)
    app[STATE] = {}
    for module in ROUTE_MODULES:
        module.setup(app)
    return app


@dataclass(frozen=True)
class Urls:
    """The URLs a client (or the ``MCA_*`` settings) needs, as printed on the READY line."""

    host: str
    port: int

    def as_dict(self) -> dict[str, str]:
        base = f"http://{self.host}:{self.port}"
        return {
            "gamma": f"{base}/gamma",
            "clob": f"{base}/clob",
            "ws": f"ws://{self.host}:{self.port}/ws/market",
            "subgraph": f"{base}/subgraphs",
            "tollama": f"{base}/tollama",
            "truth": f"{base}/_truth",
            "faults": f"{base}/_faults",
        }


async def serve(app: web.Application, host: str, port: int, ready: Callable[[Urls], None] | None = None) -> None:
    """Serve until cancelled; call ``ready`` once the socket accepts connections (port 0 = any free port)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
    await site.start()
    sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
    actual = sockets[0].getsockname()[1] if sockets else port
    if ready:
        ready(Urls(host, actual))
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def print_ready(urls: Urls) -> None:
    sys.stdout.write("READY " + json.dumps(urls.as_dict()) + "\n")
    sys.stdout.flush()
