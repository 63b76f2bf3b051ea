"""Interval metrics against slow pure-Python references (to 1e-12)."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mca_core.intervals import (
    coverage,
    crps_from_quantiles,
    interval_summary,
    mean_width,
    nominal_key,
    pinball,
    winkler,
)


def ref_pinball(y: float, q: float, tau: float) -> float:
    return tau * (y - q) if y >= q else (1 - tau) * (q - y)


def ref_winkler(y: float, lo: float, hi: float, alpha: float) -> float:
    s = hi - lo
    if y < lo:
        s += 2 / alpha * (lo - y)
    if y > hi:
        s += 2 / alpha * (y - hi)
    return s


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def sample(n: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[float]]:
    rng = np.random.default_rng(seed)
    y = rng.uniform(0, 1, n)
    taus = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]
    centre = np.clip(y + rng.normal(0, 0.1, n), 0, 1)
    spread = rng.uniform(0.01, 0.3, n)
    z = np.array([NormalDist().inv_cdf(t) for t in taus])
    bands = np.clip(centre[None, :] + z[:, None] * spread[None, :], 0, 1)
    return y, bands, taus


def test_scalar_metrics_match_reference() -> None:
    y, bands, taus = sample()
    lo, hi = bands[1], bands[-2]
    yl, ll, hl = y.tolist(), lo.tolist(), hi.tolist()
    ref_cov = mean([float(a <= b <= c) for a, b, c in zip(ll, yl, hl, strict=True)])
    assert coverage(y, lo, hi) == pytest.approx(ref_cov, abs=1e-12)
    assert mean_width(lo, hi) == pytest.approx(mean([c - a for a, c in zip(ll, hl, strict=True)]), abs=1e-12)
    ref_w = mean([ref_winkler(b, a, c, 0.2) for a, b, c in zip(ll, yl, hl, strict=True)])
    assert winkler(y, lo, hi, 0.2) == pytest.approx(ref_w, abs=1e-12)
    for k, tau in enumerate(taus):
        ref_p = mean([ref_pinball(b, q, tau) for b, q in zip(yl, bands[k].tolist(), strict=True)])
        assert pinball(y, bands[k], tau) == pytest.approx(ref_p, abs=1e-12)
    ref_crps = mean(
        [2 / len(taus) * sum(ref_pinball(yl[i], bands[k, i], t) for k, t in enumerate(taus)) for i in range(len(yl))]
    )
    assert crps_from_quantiles(y, bands, taus) == pytest.approx(ref_crps, abs=1e-12)


def test_hand_values() -> None:
    assert coverage([0.5, 0.1, 0.9], [0.4, 0.2, 0.9], [0.6, 0.3, 0.95]) == pytest.approx(2 / 3)
    assert winkler([0.5], [0.4], [0.6], 0.2) == pytest.approx(0.2)
    assert winkler([0.3], [0.4], [0.6], 0.2) == pytest.approx(0.2 + 10 * 0.1)
    assert winkler([0.7], [0.4], [0.6], 0.1) == pytest.approx(0.2 + 20 * 0.1)
    assert pinball([1.0], [0.8], 0.9) == pytest.approx(0.9 * 0.2)
    assert pinball([0.0], [0.8], 0.9) == pytest.approx(0.1 * 0.8)


def test_crps_approximation_of_point_mass() -> None:
    # all quantiles equal the outcome: zero loss
    assert crps_from_quantiles([0.3, 0.6], [[0.3, 0.6], [0.3, 0.6]], [0.25, 0.75]) == 0.0


def test_summary_keys_and_values() -> None:
    y, bands, taus = sample(seed=2)
    s = interval_summary(y, bands, taus)
    assert s["n"] == 500
    assert s["coverage_80"] == coverage(y, bands[1], bands[5])
    assert s["coverage_90"] == coverage(y, bands[0], bands[6])
    assert s["width_90"] == mean_width(bands[0], bands[6])
    assert s["winkler_80"] == winkler(y, bands[1], bands[5], 0.2)
    assert s["winkler_90"] == pytest.approx(winkler(y, bands[0], bands[6], 0.1), abs=1e-12)
    for k, tau in enumerate(taus):
        assert s[f"pinball_{tau:g}"] == pinball(y, bands[k], tau)
    assert s["crps"] == crps_from_quantiles(y, bands, taus)


def test_summary_skips_missing_nominal_and_handles_2d() -> None:
    rng = np.random.default_rng(1)
    y = rng.uniform(size=(20, 12))  # 20 forecasts x 12 horizons
    bands = np.sort(rng.uniform(size=(3, 20, 12)), axis=0)
    s = interval_summary(y, bands, (0.1, 0.5, 0.9))
    assert "coverage_80" in s
    assert "coverage_90" not in s
    assert s["n"] == 240
    assert set(s) >= {"pinball_0.1", "pinball_0.5", "pinball_0.9", "crps", "width_80", "winkler_80"}


def test_nominal_key() -> None:
    assert nominal_key(0.8) == "80"
    assert nominal_key(0.9) == "90"
    assert nominal_key(0.975) == "97.5"


def test_errors_and_empty() -> None:
    with pytest.raises(ValueError, match="alpha"):
        winkler([0.5], [0.4], [0.6], 0.0)
    with pytest.raises(ValueError, match="tau"):
        pinball([0.5], [0.4], 1.0)
    with pytest.raises(ValueError, match="rows"):
        crps_from_quantiles([0.5], [[0.4]], [0.1, 0.9])
    with pytest.raises(ValueError, match="shape"):
        interval_summary([0.5, 0.6], [[0.4], [0.6]], [0.1, 0.9])
    assert math.isnan(coverage([], [], []))
    assert math.isnan(mean_width([], []))


@settings(max_examples=100, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)),
        min_size=1,
        max_size=40,
    ),
    alpha=st.floats(0.01, 0.99),
)
def test_winkler_and_pinball_property(data: list[tuple[float, float, float]], alpha: float) -> None:
    y = [d[0] for d in data]
    lo = [min(d[1], d[2]) for d in data]
    hi = [max(d[1], d[2]) for d in data]
    ref = mean([ref_winkler(a, b, c, alpha) for a, b, c in zip(y, lo, hi, strict=True)])
    assert winkler(y, lo, hi, alpha) == pytest.approx(ref, rel=1e-12, abs=1e-12)
    # interval score = (2/alpha) * (pinball(alpha/2) + pinball(1 - alpha/2))
    identity = 2 / alpha * (pinball(y, lo, alpha / 2) + pinball(y, hi, 1 - alpha / 2))
    assert winkler(y, lo, hi, alpha) == pytest.approx(identity, rel=1e-9, abs=1e-9)


def test_clustered_se_equals_a_slow_cr1_reference_and_grows_with_correlation() -> None:
    from mca_core.intervals import clustered_se

    rng = np.random.default_rng(3)
    values = rng.integers(0, 2, 300).astype(float)
    clusters = rng.integers(0, 17, 300)
    mean = values.mean()
    groups = sorted(set(clusters.tolist()))
    totals = [sum(v - mean for v, c in zip(values, clusters, strict=True) if c == g) for g in groups]
    reference = (len(groups) / (len(groups) - 1) * sum(t * t for t in totals)) ** 0.5 / len(values)
    assert clustered_se(values, clusters) == pytest.approx(reference, rel=1e-12)
    # a market either all inside or all outside its band: 20 markets are 20 observations, not 2,000 points
    blocks = np.repeat(np.arange(20), 100)
    inside = np.repeat(rng.integers(0, 2, 20), 100).astype(float)
    assert clustered_se(inside, blocks) > 5 * clustered_se(inside, np.arange(2000))
    assert np.isnan(clustered_se([1.0, 0.0], ["a", "a"]))
