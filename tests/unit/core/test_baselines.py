"""Baseline quantile bands: shapes, monotone quantiles, [0, 1], short series, errors, hand-checked maths."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mca_core.baselines import (
    BASELINES,
    EPS,
    SHORT_SERIES_STEP_STD,
    ewma_bands,
    kalman_bands,
    rolling_quantile_bands,
)

NAMES = sorted(BASELINES)


def random_walk(n: int, seed: int = 0, step: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1.0 / (1.0 + np.exp(-np.cumsum(rng.normal(0.0, step, n))))


def logit(p: float) -> float:
    p = min(max(p, EPS), 1 - EPS)
    return math.log(p / (1 - p))


def expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("transform", ["none", "logit"])
def test_shape_and_validity(name: str, transform: str) -> None:
    out = BASELINES[name](random_walk(300), 12, (0.05, 0.1, 0.5, 0.9, 0.95), transform=transform)  # type: ignore[arg-type]
    assert out.shape == (5, 12)
    assert np.all(np.isfinite(out))
    assert np.all((out >= 0) & (out <= 1))
    assert np.all(np.diff(out, axis=0) >= 0)


@pytest.mark.parametrize("name", NAMES)
def test_default_quantiles(name: str) -> None:
    out = BASELINES[name](random_walk(100), 3)
    assert out.shape == (3, 3)


@pytest.mark.parametrize("name", NAMES)
def test_bands_widen_with_horizon(name: str) -> None:
    out = BASELINES[name](random_walk(600, seed=3), 24, transform="none")
    width = out[-1] - out[0]
    assert width[-1] > width[0]


def hand_ewma(y: np.ndarray, a: float) -> tuple[float, float]:
    """The EWMA level and variance by the recursion in ``ewma_bands``'s docstring, one step at a time."""
    level = float(y[0])
    var = float(np.var(np.diff(y)))
    for x in y[1:].tolist():
        var = a * (x - level) ** 2 + (1 - a) * var
        level = a * x + (1 - a) * level
    return level, var


@pytest.mark.parametrize(
    ("y", "a"),
    [
        (np.array([0.40, 0.42, 0.41, 0.45, 0.50, 0.48]), 0.2),
        (random_walk(288, seed=4), 0.2),  # the service's input length
        (random_walk(6000, seed=5), 0.2),  # three prefix-sum blocks
        (random_walk(3000, seed=6), 0.9),  # blocks of ~250 steps
        (random_walk(500, seed=7), 1e-4),
        (random_walk(50, seed=8), 1.0),  # the level is the last value
    ],
)
def test_ewma_matches_hand_recursion(y: np.ndarray, a: float) -> None:
    level, var = hand_ewma(y, a)
    z = NormalDist().inv_cdf(0.9)
    out = ewma_bands(y, 4, (0.1, 0.5, 0.9), alpha=a, transform="none")
    for h in range(1, 5):
        sd = math.sqrt(var) * math.sqrt(h)
        expected = np.clip([level - z * sd, level, level + z * sd], 0.0, 1.0)
        assert out[:, h - 1] == pytest.approx(expected, abs=1e-12)


def test_ewma_logit_maps_back() -> None:
    y = np.array([0.10, 0.12, 0.11, 0.15, 0.13])
    out = ewma_bands(y, 2, (0.5,), transform="logit")
    xs = [logit(v) for v in y]
    level = xs[0]
    for x in xs[1:]:
        level = 0.2 * x + 0.8 * level
    assert out[0] == pytest.approx([expit(level)] * 2, abs=1e-12)


def test_kalman_matches_hand_filter() -> None:
    y = np.array([0.30, 0.35, 0.33, 0.40, 0.38, 0.42, 0.41])
    q = float(np.var(np.diff(y)))
    r = max(float(np.var(y)) - q, 1e-8)
    mu, p = y[0], r
    for x in y[1:]:
        p += q
        k = p / (p + r)
        mu += k * (x - mu)
        p *= 1 - k
    p_pred = p + q
    z = NormalDist().inv_cdf(0.9)
    out = kalman_bands(y, 3, (0.1, 0.5, 0.9), transform="none")
    for h in range(1, 4):
        sd = math.sqrt(p_pred + (h - 1) * q + r)
        assert out[:, h - 1] == pytest.approx(np.clip([mu - z * sd, mu, mu + z * sd], 0, 1), abs=1e-12)


def test_kalman_given_noise_is_used() -> None:
    y = random_walk(50)
    narrow = kalman_bands(y, 1, transform="none", q_var=1e-6, r_var=1e-6)
    wide = kalman_bands(y, 1, transform="none", q_var=1e-2, r_var=1e-2)
    assert (narrow[-1] - narrow[0])[0] < (wide[-1] - wide[0])[0]


def test_rolling_quantile_matches_numpy() -> None:
    y = random_walk(200, seed=5)
    out = rolling_quantile_bands(y, 5, (0.1, 0.5, 0.9), window=64, transform="none")
    for h in range(1, 6):
        changes = y[-64:] - y[-64 - h : -h]
        assert out[:, h - 1] == pytest.approx(np.clip(y[-1] + np.quantile(changes, [0.1, 0.5, 0.9]), 0, 1), abs=1e-12)


def test_rolling_quantile_short_history_scales() -> None:
    y = np.array([0.5, 0.52, 0.49, 0.53, 0.51])  # 5 points: h<=3 has >=2 changes
    out = rolling_quantile_bands(y, 6, (0.1, 0.9), transform="none")
    assert out.shape == (2, 6)
    assert np.all(np.diff(out, axis=0) >= 0)
    # h=4..6 extrapolate the h=3 spread by sqrt(h/3)
    for h in (4, 5, 6):
        assert out[:, h - 1] == pytest.approx(np.clip(y[-1] + (out[:, 2] - y[-1]) * math.sqrt(h / 3), 0, 1))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [1, 2])
def test_short_series_prior_band(name: str, n: int) -> None:
    y = np.full(n, 0.5)
    out = BASELINES[name](y, 4, (0.1, 0.5, 0.9), transform="none")
    z = NormalDist().inv_cdf(0.9)
    std = SHORT_SERIES_STEP_STD["none"]
    assert out[:, 0] == pytest.approx([0.5 - z * std, 0.5, 0.5 + z * std])
    assert out[2, 3] - out[0, 3] > 0.4  # wide on purpose


@pytest.mark.parametrize("name", NAMES)
def test_constant_and_extreme_series(name: str) -> None:
    for y in (np.full(40, 0.3), np.zeros(40), np.ones(40), np.array([0.0, 1.0] * 20)):
        out = BASELINES[name](y, 5)
        assert np.all(np.isfinite(out))
        assert np.all((out >= 0) & (out <= 1))
        assert np.all(np.diff(out, axis=0) >= 0)


@pytest.mark.parametrize("name", NAMES)
def test_out_of_range_finite_values_clipped(name: str) -> None:
    out = BASELINES[name]([1.2, -0.1, 0.5, 0.7], 2)
    assert np.all((out >= 0) & (out <= 1))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("y", "quantiles", "horizon", "match"),
    [
        ([0.5, float("nan"), 0.4], (0.1, 0.9), 2, "NaN"),
        ([0.5, float("inf")], (0.1, 0.9), 2, "NaN or infinite"),
        ([], (0.1, 0.9), 2, "empty"),
        ([[0.5, 0.4]], (0.1, 0.9), 2, "1-D"),
        ([0.5, 0.4], (0.9, 0.1), 2, "increasing"),
        ([0.5, 0.4], (0.1, 0.1), 2, "increasing"),
        ([0.5, 0.4], (0.0, 0.5), 2, r"\(0, 1\)"),
        ([0.5, 0.4], (0.5, 1.0), 2, r"\(0, 1\)"),
        ([0.5, 0.4], (), 2, "non-empty"),
        ([0.5, 0.4], (0.1, 0.9), 0, "horizon"),
    ],
)
def test_bad_input_raises(name: str, y: list[float], quantiles: tuple[float, ...], horizon: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        BASELINES[name](y, horizon, quantiles)


def test_bad_transform_raises() -> None:
    with pytest.raises(ValueError, match="transform"):
        ewma_bands([0.5, 0.4, 0.3], 2, transform="probit")  # type: ignore[arg-type]


quantile_sets = st.lists(st.floats(0.01, 0.99), min_size=1, max_size=7, unique=True).map(sorted)


@settings(max_examples=150, deadline=None)
@given(
    y=st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=120),
    horizon=st.integers(1, 30),
    quantiles=quantile_sets,
    name=st.sampled_from(NAMES),
    transform=st.sampled_from(["none", "logit"]),
)
def test_properties(y: list[float], horizon: int, quantiles: list[float], name: str, transform: str) -> None:
    if np.any(np.diff(quantiles) <= 0):  # unique floats can still be equal after sorting? guard anyway
        return
    out = BASELINES[name](y, horizon, quantiles, transform=transform)  # type: ignore[arg-type]
    assert out.shape == (len(quantiles), horizon)
    assert np.all(np.isfinite(out))
    assert np.all((out >= 0.0) & (out <= 1.0))
    assert np.all(np.diff(out, axis=0) >= 0.0)
