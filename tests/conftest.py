"""Shared fixtures: the real Polymarket fixtures folder and a sandbox venue on a real loopback socket."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.storage.defs_state.base import _current_storage as _current_defs_state_storage

from mca_sandbox.faults import FaultRule, FaultState
from mca_sandbox.server import Urls, create_app, serve
from mca_sandbox.world import World, WorldConfig, build_world

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures" / "polymarket"

#: A fixed window so that tests do not depend on today's date.
TEST_START = date(2026, 7, 1)
TEST_END = date(2026, 10, 31)


def pytest_configure(config: pytest.Config) -> None:
    """pytest turns every Dagster beta/preview warning into an error (pyproject.toml), except the ones we chose;
    a filter added here comes after the ini's, so it wins for the chosen ones."""
    from mca_assets import CHOSEN_BETA_WARNINGS

    config.addinivalue_line("filterwarnings", f"ignore:{CHOSEN_BETA_WARNINGS}:dagster.BetaWarning")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"Polymarket fixtures not found at {FIXTURES} (expected ../shared beside the repo)")
    return FIXTURES


@dataclass
class RunningSandbox:
    """A sandbox served from a background thread's event loop on 127.0.0.1:<free port>."""

    world: World
    faults: FaultState
    urls: dict[str, str]
    port: int
    app: Any
    _stop: Callable[[], None] = field(repr=False, default=lambda: None)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._stop()


def start_sandbox(
    markets: int = 300,
    seed: int = 7,
    rules: list[FaultRule] | None = None,
    speed: float = 1.0,
    **config: Any,
) -> RunningSandbox:
    """Build a world and serve it on a real socket; returns once it accepts connections."""
    config = {"start": TEST_START, "end": TEST_END, **config}
    world = build_world(WorldConfig(seed=seed, markets=markets, **config))
    faults = FaultState(rules or [], seed=seed)
    app = create_app(world, faults, speed=speed)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    def on_ready(urls: Urls) -> None:
        box["urls"] = urls
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        box["task"] = loop.create_task(serve(app, "127.0.0.1", 0, on_ready))
        try:
            loop.run_until_complete(box["task"])
        except asyncio.CancelledError:
            pass
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="sandbox", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("sandbox did not start within 30 s")

    def stop() -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(box["task"].cancel)
        thread.join(10)

    urls: Urls = box["urls"]
    return RunningSandbox(world, faults, urls.as_dict(), urls.port, app, stop)


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., RunningSandbox]]:
    """Start sandboxes with any config; all are stopped at the end of the test."""
    started: list[RunningSandbox] = []

    def factory(**kwargs: Any) -> RunningSandbox:
        box = start_sandbox(**kwargs)
        started.append(box)
        return box

    yield factory
    for box in started:
        box.stop()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    """A fault-free 300-market sandbox shared by a test module."""
    box = start_sandbox()
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def _no_disposed_defs_state_storage() -> None:
    """Dagster keeps the entered instance's defs-state storage in a context variable that every ``Definitions``
    load reads; a tick context closed after its instance (see `sensor_tick`) leaves it naming a disposed instance,
    and every later load in the session fails ("undefined DagsterInstance weakref"). Start each test without one."""
    storage = _current_defs_state_storage.get()
    if storage is not None and storage._instance_weakref is not None and storage._instance_weakref() is None:
        _current_defs_state_storage.set(None)


def sensor_tick(sensor: dg.SensorDefinition, **context: Any) -> dg.SensorResult:
    """One evaluation of ``sensor``, its context closed at once: a context left open re-enters its instance's
    defs-state storage, and closing it later (garbage collection) points Dagster's context variable at an instance
    already disposed, which fails every later ``Definitions`` load in the session."""
    with dg.build_sensor_context(**context) as built:
        return sensor.evaluate_tick(built)  # type: ignore[return-value]
