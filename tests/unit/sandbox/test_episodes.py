"""Ground-truth episodes change the served paths as specified, and never break the truth's calibration."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from mca_sandbox.episodes import PUMP, SHOCK, WASH
from mca_sandbox.world import DAY, RESOLVED_FALSE, RESOLVED_TRUE, World, WorldConfig


def make(markets: int = 2000, seed: int = 17, **kw: object) -> World:
    return World(WorldConfig(seed=seed, markets=markets, start=date(2026, 6, 1), end=date(2026, 10, 31), **kw))


@pytest.fixture(scope="module")
def world() -> World:
    return make(manipulation_rate=3.0, shock_rate=3.0)


@pytest.fixture(scope="module")
def twin() -> World:
    """The same world without manipulation: its prices, volume and open interest are the manipulated world's base."""
    return make(manipulation_rate=0.0, shock_rate=3.0)


def episodes_of(world: World, kind: int) -> np.ndarray:
    return np.flatnonzero(world.episodes.kind == kind)


def minutes(start: int, end: int) -> np.ndarray:
    return np.arange(start // 60 * 60, end, 60, dtype=np.int64)


def test_rates_set_how_many_episodes_there_are_and_zero_disables_them():
    quiet = make(500, manipulation_rate=0.0, shock_rate=0.0)
    assert len(quiet.episodes) == 0
    assert quiet.shocks.ts.size == 0
    busy = make(500, manipulation_rate=2.0, shock_rate=0.0)
    kinds = set(busy.episodes.kind.tolist())
    assert kinds == {PUMP, WASH}
    busier = make(500, manipulation_rate=4.0, shock_rate=0.0)
    assert len(busier.episodes) > 1.5 * len(busy.episodes)
    shocks_only = make(500, manipulation_rate=0.0, shock_rate=2.0)
    assert set(shocks_only.episodes.kind.tolist()) == {SHOCK}


def test_same_config_gives_the_same_episodes():
    a, b = make(400, seed=3), make(400, seed=3)
    for name in ("market", "kind", "start", "end", "magnitude", "volume"):
        assert np.array_equal(getattr(a.episodes, name), getattr(b.episodes, name))


def test_a_pump_moves_the_price_and_the_volume_inside_its_window_then_reverts(world, twin):
    ep = world.episodes
    checked = 0
    for i in episodes_of(world, PUMP)[:80].tolist():
        m = int(ep.market[i])
        if len(ep.of_market(m)) - len(twin.episodes.of_market(m)) != 1 or abs(ep.magnitude[i]) < 0.03:
            continue  # the market's only manipulation, big enough to see
        start, end = int(ep.start[i]), int(ep.end[i])
        ts = minutes(start, end)
        moved = world.paths(m, int(ts[0]), int(ts[-1]) + 1)[2] - twin.paths(m, int(ts[0]), int(ts[-1]) + 1)[2]
        peak = int(0.45 * ts.size)
        assert moved[peak] == pytest.approx(ep.magnitude[i], abs=world.market_tick[m] + 1e-9)
        assert np.all(np.sign(moved[np.abs(moved) > 1e-9]) == np.sign(ep.magnitude[i]))
        assert np.all(np.abs(moved[-int(0.08 * ts.size) :]) <= 1e-9)  # reverted before the end
        before = world.paths(m, start - 3600, start)[2] - twin.paths(m, start - 3600, start)[2]
        assert np.all(before == 0)
        window = np.array([start, start + (end - start) // 2, end])
        mine, base = world.flow_path(m, window), twin.flow_path(m, window)
        normal = world.market_hourly_volume[m] * (end - start) / 3600
        assert (mine.volume - base.volume)[2] == pytest.approx(ep.volume[i])
        assert ep.volume[i] > 3 * normal
        bump = mine.open_interest - base.open_interest
        assert bump[0] == pytest.approx(0, abs=1e-6)
        assert bump[2] == pytest.approx(0, abs=1e-6)
        assert bump[1] == pytest.approx(ep.oi[i])
        assert ep.oi[i] > 0
        checked += 1
    assert checked >= 10


def test_a_wash_burst_adds_volume_and_trades_but_leaves_price_and_open_interest(world, twin):
    ep = world.episodes
    checked = 0
    for i in episodes_of(world, WASH)[:200].tolist():
        m = int(ep.market[i])
        if len(ep.of_market(m)) - len(twin.episodes.of_market(m)) != 1:
            continue
        start, end = int(ep.start[i]), int(ep.end[i])
        assert np.array_equal(world.paths(m, start, end)[2], twin.paths(m, start, end)[2])
        window = np.array([start, (start + end) // 2, end])
        mine, base = world.flow_path(m, window), twin.flow_path(m, window)
        assert np.allclose(mine.open_interest, base.open_interest)
        assert (mine.volume - base.volume)[2] == pytest.approx(ep.volume[i])
        extra_trades = (mine.trades - base.trades)[2]
        assert extra_trades == pytest.approx(ep.trades[i])
        assert extra_trades > 3 * ep.volume[i] / world.market_trade_size[m]  # many small trades
        assert ep.magnitude[i] == 0.0
        checked += 1
    assert checked >= 10


def test_an_information_shock_moves_the_truth_and_the_price_follows_after_the_lag(world):
    ep = world.episodes
    big = [i for i in episodes_of(world, SHOCK).tolist() if abs(ep.magnitude[i]) > 0.15]
    checked = 0
    for i in big[:60]:
        m, tau = int(ep.market[i]), int(ep.start[i])
        lag = int(world.market_lag_min[m]) * 60
        resolved = int(world.event_resolved[world.market_event[m]])
        if lag < 120 or tau + lag >= resolved - 60:
            continue
        p_true = world.true_probabilities(np.full(2, m), np.array([tau - 60, tau]))
        assert p_true[1] - p_true[0] == pytest.approx(ep.magnitude[i], abs=0.05)  # a minute of diffusion apart
        assert ep.price_ts[i] == tau + lag
        at = np.array([tau - 60, tau, tau + lag - 60, tau + lag])
        price = world.base_prices(np.full(4, m), at)
        assert abs(price[3] - price[2]) > abs(price[1] - price[0])  # the market moves when it sees the news
        assert np.sign(price[3] - price[2]) == np.sign(ep.magnitude[i])
        burst = world.flow_path(m, np.array([ep.volume_start[i], ep.volume_end[i]]))
        assert burst.volume[1] - burst.volume[0] >= ep.volume[i]
        assert ep.oi[i] > 0
        checked += 1
    assert checked >= 5


def test_shocks_keep_the_truth_a_calibrated_martingale():
    """With many shocks, outcomes still match p_true a day before resolution in every probability bin."""
    w = make(6000, seed=5, shock_rate=4.0, manipulation_rate=0.0)
    assert w.shocks.ts.size > 3000
    resolved = np.flatnonzero(np.isin(w.market_label, [RESOLVED_TRUE, RESOLVED_FALSE]))
    e = w.market_event[resolved]
    t = (w.event_resolved[e] - DAY) // 60 * 60
    keep = t > w.event_created[e]
    p = w.true_probabilities(resolved[keep], t[keep])
    y = w.market_outcome[resolved[keep]]
    assert p.size > 2000
    for lo in (0.0, 0.2, 0.4, 0.6, 0.8):
        sel = (p >= lo) & (p < lo + 0.2)
        if sel.sum() < 100:
            continue
        se = np.sqrt(p[sel].mean() * (1 - p[sel].mean()) / sel.sum())
        assert abs(y[sel].mean() - p[sel].mean()) < 4 * se + 0.01


def test_manipulation_never_touches_the_truth():
    quiet = make(800, seed=9, manipulation_rate=0.0)
    busy = make(800, seed=9, manipulation_rate=5.0)
    assert np.array_equal(quiet.market_outcome, busy.market_outcome)
    for m in (3, 40, 400):
        assert np.array_equal(quiet.paths(m, 0, 2**40, 3600)[1], busy.paths(m, 0, 2**40, 3600)[1])
