"""Typed keys of the shared state every route module reads from the aiohttp application."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from mca_sandbox.clock import Clock
    from mca_sandbox.faults import FaultState
    from mca_sandbox.world import World

WORLD: web.AppKey[World] = web.AppKey("world")
FAULTS: web.AppKey[FaultState] = web.AppKey("faults")
#: Wall-clock speed-up of the WebSocket stream (2.0 = events twice as often) and, with a live clock, of the clock.
SPEED: web.AppKey[float] = web.AppKey("speed", float)
#: The venue's clock (fixed at as_of, or live).
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
#: Per-module state (e.g. the WebSocket's truth log) keyed by module name.
STATE: web.AppKey[dict[str, Any]] = web.AppKey("state", dict)
