"""The venue's clock and the views of the world every REST route answers from.

- ``fixed`` (the default, for tests): the venue's now is ``config.as_of`` forever. One view is built at start-up,
  so the same seed and config always give byte-identical responses.
- ``live``: now = ``config.as_of`` (default: the start-up time) + wall-clock seconds elapsed x ``speed``. Markets
  appear as their creation time passes and close and resolve as their resolution time passes. The REST view (Gamma
  tables, book quotes, CLOB ``/markets`` winners, prices-history's end, the subgraph's head block, the truth's
  ``as_of``) is rebuilt in a worker thread and swapped in whole, at most every ``view_refresh_s`` wall seconds; by
  default (0) every 10 times its last build time, clamped to [1 s, 30 s] (about 1 s for a 2,000-market world, 15 s
  for 100,000). Every REST answer therefore comes from one instant and they all agree with each other; they lag
  the clock by at most that interval plus a build. The WebSocket reads the clock itself (``ws.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from aiohttp import web

from mca_sandbox.appkeys import CLOCK, STATE, WORLD
from mca_sandbox.render import Venue
from mca_sandbox.world import World

log = logging.getLogger(__name__)

MIN_REFRESH_S = 1.0
MAX_REFRESH_S = 30.0
REFRESH_PER_BUILD = 10.0


class Clock:
    """The venue's now (unix seconds, float)."""

    def __init__(self, live: bool, origin_ts: int, speed: float = 1.0) -> None:
        self.live = live
        self.origin = origin_ts
        self.speed = speed
        self.wall0 = time.time()

    def now(self) -> float:
        if not self.live:
            return float(self.origin)
        return self.origin + (time.time() - self.wall0) * self.speed


class Views:
    """The current view (a ``Venue`` at the clock's time, with what route modules derive from it)."""

    def __init__(self, world: World, clock: Clock, refresh_s: float = 0.0) -> None:
        self.world = world
        self.clock = clock
        self.refresh_s = refresh_s
        #: Called on every new view before it is published (route modules build their tables there).
        self.warmers: list[Callable[[Venue], object]] = []
        self._current: Venue | None = None
        self.build_s = 0.0
        self.builds = 0

    def build(self, as_of: int) -> Venue:
        began = time.perf_counter()
        view = Venue(self.world, as_of)
        for warm in self.warmers:
            warm(view)
        self.build_s = time.perf_counter() - began
        self.builds += 1
        return view

    def current(self) -> Venue:
        if self._current is None:
            self._current = self.build(int(self.clock.now()))
        return self._current

    def interval(self) -> float:
        if self.refresh_s > 0:
            return self.refresh_s
        return min(max(REFRESH_PER_BUILD * self.build_s, MIN_REFRESH_S), MAX_REFRESH_S)

    async def run(self) -> None:
        """Live clock: rebuild off the event loop, then swap the view in whole."""
        while True:
            await asyncio.sleep(self.interval())
            as_of = int(self.clock.now())
            if self._current is None or as_of != self._current.as_of:
                try:
                    self._current = await asyncio.to_thread(self.build, as_of)
                except Exception:  # keep serving the last view rather than freezing the clock for good
                    log.exception("view rebuild at %s failed; serving the previous view", as_of)


def views(app: web.Application) -> Views:
    return app[STATE]["views"]


async def _start(app: web.Application) -> None:
    """Build the first view before serving; with a live clock, keep rebuilding it."""
    v = views(app)
    await asyncio.to_thread(v.current)
    if v.clock.live:
        app[STATE]["views_task"] = asyncio.create_task(v.run(), name="views")


async def _stop(app: web.Application) -> None:
    task = app[STATE].get("views_task")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def setup(app: web.Application) -> None:
    """Install the clock and the views (before the route modules, which register their warmers)."""
    world = app[WORLD]
    app[STATE]["views"] = Views(world, app[CLOCK], world.config.view_refresh_s)
    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)
