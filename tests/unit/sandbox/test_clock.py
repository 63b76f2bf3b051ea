"""The venue's clock and its views, and the checks on the world's new config fields."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from mca_sandbox.clock import MAX_REFRESH_S, MIN_REFRESH_S, Clock, Views
from mca_sandbox.world import World, WorldConfig


def test_a_fixed_clock_stands_still_and_a_live_one_runs_at_its_speed(monkeypatch):
    now = [1_000.0]
    monkeypatch.setattr("mca_sandbox.clock.time.time", lambda: now[0])
    fixed, live = Clock(False, 1_790_000_000), Clock(True, 1_790_000_000, speed=60.0)
    now[0] += 2.5
    assert fixed.now() == 1_790_000_000
    assert live.now() == 1_790_000_150


def test_views_rebuild_at_the_clock_time_and_pace_themselves_by_their_build_time():
    world = World(WorldConfig(seed=3, markets=200, start=date(2026, 6, 1), end=date(2026, 9, 30)))
    clock = Clock(True, world.config.as_of_ts)
    views = Views(world, clock)
    warmed: list[int] = []
    views.warmers.append(lambda v: warmed.append(v.as_of))
    first = views.current()
    assert views.current() is first
    assert warmed == [first.as_of]
    views.build_s = 0.01
    assert views.interval() == MIN_REFRESH_S
    views.build_s = 10.0
    assert views.interval() == MAX_REFRESH_S
    views.build_s = 0.5
    assert views.interval() == 5.0
    assert Views(world, clock, refresh_s=0.2).interval() == 0.2
    assert views.build(first.as_of + 3600).as_of == first.as_of + 3600


def test_a_live_config_without_as_of_starts_now_and_keeps_that_instant():
    config = WorldConfig(seed=1, markets=10, clock="live")
    assert config.as_of is not None
    assert abs(config.as_of_ts - datetime.now(UTC).timestamp()) < 120
    assert config.as_of_ts == config.as_of_ts


@pytest.mark.parametrize(
    "bad",
    [
        {"clock": "sundial"},
        {"manipulation_rate": -1.0},
        {"shock_rate": float("nan")},
        {"ambiguous_share": 1.5},
        {"view_refresh_s": -0.1},
    ],
)
def test_bad_config_values_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        WorldConfig(**bad)
