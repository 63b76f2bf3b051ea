"""Volume and open interest as exact functions of time: monotone, identical over any window, shaped by the hour."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from mca_sandbox.volume import HOUR_SHAPE
from mca_sandbox.world import DAY, LIVE, World, WorldConfig


@pytest.fixture(scope="module")
def world() -> World:
    return World(WorldConfig(seed=13, markets=1500, start=date(2026, 6, 1), end=date(2026, 10, 31)))


def life(world: World, m: int) -> tuple[int, int]:
    e = world.market_event[m]
    return int(world.event_created[e]), int(world.event_resolved[e])


def test_cumulative_volume_starts_at_zero_never_falls_and_ends_at_the_total_plus_bursts(world):
    ep = world.episodes
    for m in range(0, world.n_markets, 37):
        created, resolved = life(world, m)
        ts = np.arange(created - 3600, resolved + 3600, 60)
        volume = world.flow_path(m, ts).volume
        assert volume[0] == 0.0
        assert np.all(np.diff(volume) >= -1e-9 * max(1.0, volume[-1]))
        bursts = ep.volume[ep.of_market(m)].sum()
        assert volume[-1] == pytest.approx(world.market_volume_total[m] + bursts, rel=1e-9)


def test_any_window_of_the_volume_path_is_identical_whatever_asked_for_it(world):
    m = 11
    created, resolved = life(world, m)
    minutes = np.arange(created, resolved, 60)
    every_minute = world.flow_path(m, minutes)
    hourly = minutes[::60]
    alone = world.flow_path(m, hourly)
    assert np.array_equal(every_minute.volume[::60], alone.volume)
    assert np.array_equal(every_minute.open_interest[::60], alone.open_interest)
    at_once = world.flows_at(np.full(world.n_markets, hourly[len(hourly) // 2]))
    assert at_once.volume[m] == alone.volume[len(hourly) // 2]


def test_open_interest_lives_only_while_the_market_trades(world):
    for m in range(0, world.n_markets, 53):
        created, resolved = life(world, m)
        inside = world.flow_path(m, np.linspace(created + 600, resolved - 60, 20).astype(np.int64)).open_interest
        outside = world.flow_path(m, np.array([created - 60, resolved, resolved + DAY])).open_interest
        assert np.all(inside >= 0)
        assert inside.max() > 0
        assert np.all(outside == 0)


def test_the_config_arrays_hold_the_state_at_as_of(world):
    at = np.full(world.n_markets, world.config.as_of_ts)
    flows = world.flows_at(at)
    assert np.array_equal(world.market_volume, np.round(flows.volume, 6))
    assert np.array_equal(world.market_open_interest, np.round(flows.open_interest, 6))
    assert np.all(world.market_open_interest[world.market_label != LIVE] == 0)


def test_background_volume_follows_the_intraday_shape(world):
    """Summed over markets and days, volume per UTC hour tracks HOUR_SHAPE: the US afternoon beats the night."""
    vp = world.volume_paths
    per_hour = np.zeros(24)
    start = world.config.start_ts
    markets = np.arange(world.n_markets)
    for day in range(30):
        edges = start + day * DAY + np.arange(25) * 3600
        cumulative = np.stack([vp.background(markets, np.full(markets.size, t))[0] for t in edges])
        per_hour += np.diff(cumulative, axis=0).sum(axis=1)
    share = per_hour / per_hour.sum() * 24
    assert np.corrcoef(share, HOUR_SHAPE)[0, 1] > 0.8
    assert share[15:18].mean() > 2 * share[5:8].mean()
