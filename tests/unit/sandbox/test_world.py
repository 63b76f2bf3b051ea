"""The simulator's promises: determinism, exact calibration of the truth, lifecycle mix, negRisk exclusivity."""

from __future__ import annotations

from collections import Counter
from datetime import date

import numpy as np
import pytest

from mca_sandbox.world import (
    DAY,
    LIVE,
    RESOLVED_FALSE,
    RESOLVED_TRUE,
    UNRESOLVED,
    VOID_5050,
    VOID_ZERO_ZERO,
    World,
    WorldConfig,
)


def make(markets: int = 3000, seed: int = 11, **kw: object) -> World:
    return World(WorldConfig(seed=seed, markets=markets, start=date(2026, 6, 1), end=date(2026, 10, 31), **kw))


@pytest.fixture(scope="module")
def world() -> World:
    return make()


def test_same_seed_gives_the_same_world() -> None:
    a, b = make(500, seed=3), make(500, seed=3)
    assert np.array_equal(a.market_outcome, b.market_outcome)
    assert np.array_equal(a.event_resolved, b.event_resolved)
    assert a.token_ids(17) == b.token_ids(17)
    ts_a, pt_a, pm_a = a.paths(17, 0, 2**40, 3600)
    ts_b, pt_b, pm_b = b.paths(17, 0, 2**40, 3600)
    assert np.array_equal(ts_a, ts_b)
    assert np.array_equal(pm_a, pm_b)
    assert np.array_equal(pt_a, pt_b)


def test_other_seed_gives_another_world() -> None:
    assert not np.array_equal(make(500, seed=3).market_outcome, make(500, seed=4).market_outcome)


def test_paths_agree_across_fidelities(world: World) -> None:
    m = 42
    hourly = world.paths(m, 0, 2**40, 3600)
    minute = world.paths(m, 0, 2**40, 60)
    on_grid = np.isin(minute[0], hourly[0])
    assert on_grid.sum() == hourly[0].size
    assert np.array_equal(minute[2][on_grid], hourly[2])


def test_true_probability_ends_at_the_outcome(world: World) -> None:
    resolved = np.flatnonzero(np.isin(world.market_label, [RESOLVED_TRUE, RESOLVED_FALSE]))[:200]
    for m in resolved:
        e = world.market_event[m]
        _, p_true, _ = world.paths(int(m), int(world.event_resolved[e]), int(world.event_resolved[e]) + 1)
        assert p_true[-1] == world.market_outcome[m]
        assert world.market_label[m] == (RESOLVED_TRUE if world.market_outcome[m] else RESOLVED_FALSE)


def test_true_probability_is_calibrated_a_day_before_resolution() -> None:
    """Outcomes drawn from p_true: mean outcome matches mean p_true in every probability bin."""
    w = make(6000, seed=5)
    ps, ys = [], []
    for m in np.flatnonzero(w.market_label <= RESOLVED_FALSE):
        e = w.market_event[m]
        t = (int(w.event_resolved[e]) - DAY) // 60 * 60
        if t <= w.event_created[e]:
            continue
        _, p_true, _ = w.paths(int(m), t, t + 1)
        ps.append(p_true[0])
        ys.append(w.market_outcome[m])
    p, y = np.array(ps), np.array(ys)
    assert len(p) > 2000
    for lo in (0.0, 0.2, 0.4, 0.6, 0.8):
        sel = (p >= lo) & (p < lo + 0.2)
        if sel.sum() < 100:
            continue
        se = np.sqrt(p[sel].mean() * (1 - p[sel].mean()) / sel.sum())
        assert abs(y[sel].mean() - p[sel].mean()) < 4 * se + 0.01


def test_neg_risk_events_have_exactly_one_winner(world: World) -> None:
    events = np.flatnonzero(world.event_neg_risk)
    assert events.size > 10
    for e in events:
        first, size = int(world.event_first[e]), int(world.event_size[e])
        assert world.market_outcome[first : first + size].sum() == 1


def test_lifecycle_has_every_label(world: World) -> None:
    counts = Counter(int(x) for x in world.market_label)
    for label in (RESOLVED_TRUE, RESOLVED_FALSE, VOID_5050, VOID_ZERO_ZERO, UNRESOLVED, LIVE):
        assert counts[label] > 0, label
    assert counts[LIVE] == int((world.event_resolved[world.market_event] > world.config.as_of_ts).sum())


def test_market_price_applies_the_category_distortion() -> None:
    """With beta != 1 the market price is the inverse recalibration of the (lagged) true belief."""
    w = make(
        400,
        seed=9,
        distortion={c: (0.3, 2.0) for c in ("politics", "crypto", "sports", "economics", "culture", "science")},
    )
    ts, _p_true, price = w.paths(5, 0, 2**40, 3600)
    lag = int(w.market_lag_min[5]) * 60
    belief = np.clip(w.true_probability_at(5, ts - lag), 1e-12, 1 - 1e-12)
    expected = 1 / (1 + np.exp(-((np.log(belief / (1 - belief)) - 0.3) / 2.0)))
    tick = w.market_tick[5]
    inside = (expected > 2 * tick) & (expected < 1 - 2 * tick)
    assert np.all(np.abs(price[inside] - expected[inside]) <= tick / 2 + 1e-9)


def test_spread_widens_as_liquidity_falls(world: World) -> None:
    order = np.argsort(world.market_liquidity)
    low, high = order[:50], order[-50:]
    assert np.mean([world.spread(int(m)) for m in low]) > np.mean([world.spread(int(m)) for m in high])


def test_some_slugs_change_once(world: World) -> None:
    changed = np.flatnonzero(world.market_slug_change_ts >= 0)
    assert changed.size > 0
    m = int(changed[0])
    at = int(world.market_slug_change_ts[m])
    assert world.slug(m, at - 1) != world.slug(m, at)
    assert world.slug(m, at).endswith("-v2")


def test_token_ids_are_long_decimal_strings(world: World) -> None:
    yes, no = world.token_ids(0)
    assert yes.isdigit()
    assert no.isdigit()
    assert yes != no
    assert 70 <= len(yes) <= 78
