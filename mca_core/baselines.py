"""Baseline quantile bands for the next ``horizon`` steps of a probability series.

Three cheap forecasters, shared by the backtest asset and the forecasting service's fast path
(and its fallback when a model is unavailable). Each takes a probability series ``y`` (values in
``[0, 1]``, oldest first) and returns an array of shape ``(len(quantiles), horizon)``: row ``k``
holds quantile ``quantiles[k]`` for steps ``1..horizon``. Every output is finite, clipped to
``[0, 1]`` and non-decreasing along the quantile axis.

- :func:`ewma_bands`: exponentially weighted level and variance; ``sigma_h = sigma * sqrt(h)``.
- :func:`kalman_bands`: local-level (random walk plus noise) Kalman filter.
- :func:`rolling_quantile_bands`: empirical quantiles of the last ``window`` ``h``-step changes
  added to the last value (distribution-free, widens with ``h``).

``transform="logit"`` (the default, as in the seed's service) works in logit space: values are
clipped to ``[eps, 1 - eps]`` (``eps = 1e-6``), mapped through ``logit``, forecast, and mapped back
with the logistic function. ``transform="none"`` works on raw probabilities.

Parametric bands use ``z = Phi^{-1}(tau)`` from :class:`statistics.NormalDist`; the EWMA level recursion runs as
rescaled prefix sums (``_ewma_levels``) and its variance as one dot product.

Input rules: ``y`` must be a non-empty 1-D finite sequence (NaN or inf raise ``ValueError``);
finite values outside ``[0, 1]`` are clipped, never rejected. ``quantiles`` must be non-empty,
strictly increasing and strictly inside ``(0, 1)``; ``horizon`` a positive int.

Short series: with fewer than :data:`MIN_POINTS_FOR_FIT` points there is nothing to estimate a
spread from, so the bands use a deliberately wide prior per-step standard deviation
(:data:`SHORT_SERIES_STEP_STD`) around the last value. A constant series gives zero-width bands
(valid: every quantile equals the last value).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise
from statistics import NormalDist
from typing import Final, Literal, Protocol

import numpy as np
import numpy.typing as npt
from scipy import special

__all__ = [
    "BASELINES",
    "DEFAULT_QUANTILES",
    "EPS",
    "MIN_POINTS_FOR_FIT",
    "SHORT_SERIES_STEP_STD",
    "BaselineFn",
    "Transform",
    "clip",
    "ewma_bands",
    "kalman_bands",
    "rolling_quantile_bands",
    "z_scores",
]

FloatArray = npt.NDArray[np.float64]
Transform = Literal["none", "logit"]

DEFAULT_QUANTILES: Final = (0.1, 0.5, 0.9)
#: Clipping used before ``logit``: ``[EPS, 1 - EPS]``.
EPS: Final = 1e-6
#: Below this many points the spread is not estimated; the prior step std is used.
MIN_POINTS_FOR_FIT: Final = 3
#: Prior per-step standard deviation for short series, by transform (wide on purpose).
SHORT_SERIES_STEP_STD: Final[dict[str, float]] = {"none": 0.1, "logit": 0.5}
#: Floor on the Kalman observation variance ``R`` when it is estimated (must stay positive).
_R_FLOOR: Final = 1e-8

_NORMAL = NormalDist()


class BaselineFn(Protocol):
    """Common call signature of the registry's functions."""

    def __call__(
        self,
        y: Sequence[float] | npt.ArrayLike,
        horizon: int,
        quantiles: Sequence[float] = ...,
        *,
        transform: Transform = ...,
    ) -> FloatArray: ...


def _check_quantiles(quantiles: Sequence[float]) -> FloatArray:
    try:
        return _quantile_array(tuple(quantiles))
    except TypeError:  # not iterable, or unhashable items: not a flat sequence of numbers
        raise ValueError(f"quantiles must be a non-empty 1-D sequence, got {quantiles!r}") from None


@lru_cache(maxsize=64)
def _quantile_array(quantiles: tuple[float, ...]) -> FloatArray:
    """The validated quantile levels (cached, read-only): a service asks for the same few sets on every request."""
    q = np.asarray(quantiles, dtype=np.float64)
    if q.ndim != 1 or q.size == 0:
        raise ValueError(f"quantiles must be a non-empty 1-D sequence, got {quantiles!r}")
    values = q.tolist()  # plain-float checks: cheaper than numpy reductions on a handful of values
    if not all(0.0 < v < 1.0 for v in values):  # also rejects NaN
        raise ValueError(f"quantiles must lie strictly inside (0, 1), got {quantiles!r}")
    if any(b <= a for a, b in pairwise(values)):
        raise ValueError(f"quantiles must be strictly increasing, got {quantiles!r}")
    q.setflags(write=False)
    return q


@lru_cache(maxsize=64)
def z_scores(quantiles: tuple[float, ...]) -> FloatArray:
    """Standard normal quantiles of ``quantiles`` (cached, read-only): shared with ``mca_core.postprocess``."""
    z = np.array([_NORMAL.inv_cdf(t) for t in quantiles], dtype=np.float64)
    z.setflags(write=False)
    return z


def _prepare(
    y: Sequence[float] | npt.ArrayLike, horizon: int, quantiles: Sequence[float], transform: str
) -> tuple[FloatArray, FloatArray]:
    """Validate inputs; return ``(x, q)`` with ``x`` in the working (transformed) space."""
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon must be a positive int, got {horizon!r}")
    if transform not in ("none", "logit"):
        raise ValueError(f"transform must be 'none' or 'logit', got {transform!r}")
    q = _check_quantiles(quantiles)
    arr = np.asarray(y, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("y is empty: need at least one observation")
    if not np.isfinite(arr).all():
        raise ValueError("y contains NaN or infinite values; clean or forward-fill the series first")
    if transform == "logit":
        p = clip(arr, EPS, 1.0 - EPS)
        x: FloatArray = special.logit(p)
    else:
        x = clip(arr, 0.0, 1.0)
    return x, q


def clip(values: FloatArray, lo: float | FloatArray, hi: float | FloatArray) -> FloatArray:
    """``np.clip`` without its dispatch layers, which cost a few microseconds per call on every service request."""
    out: FloatArray = np.minimum(np.maximum(values, lo), hi)
    return out


def _finish(z_space: FloatArray, transform: str) -> FloatArray:
    """Map working-space bands back to probabilities, enforce monotone quantiles and [0, 1]."""
    if transform == "logit":
        out: FloatArray = special.expit(z_space)  # inside [0, 1] by construction, one ufunc call
    else:
        out = clip(z_space, 0.0, 1.0)
    # Guard against rounding-level crossings; a no-op for already monotone rows.
    return np.maximum.accumulate(out, axis=0)


def _variance(values: FloatArray) -> float:
    """Population variance (``np.var``) as two ufunc passes and a dot product: np.var's wrappers cost 10 µs."""
    centred = values - values.sum() / values.size
    return float(centred @ centred) / values.size


def _normal_bands(level: float, step_var: float, q: FloatArray, horizon: int, extra_var: float = 0.0) -> FloatArray:
    """``level + z_tau * sqrt(step_var * h + extra_var)`` for ``h = 1..horizon``."""
    z = z_scores(tuple(q.tolist()))
    h, root_h = _steps(horizon)
    if extra_var == 0.0:  # a pure random-walk spread: sqrt(step_var) * sqrt(h), one array operation
        sd = math.sqrt(max(step_var, 0.0)) * root_h
    else:
        sd = np.sqrt(np.maximum(step_var * h + extra_var, 0.0))
    return level + z[:, None] * sd


@lru_cache(maxsize=64)
def _steps(horizon: int) -> tuple[FloatArray, FloatArray]:
    """``h = 1..horizon`` as floats and ``sqrt(h)`` (cached, read-only)."""
    h = np.arange(1, horizon + 1, dtype=np.float64)
    root_h = np.sqrt(h)
    h.setflags(write=False)
    root_h.setflags(write=False)
    return h, root_h


def _prior_bands(x: FloatArray, q: FloatArray, horizon: int, transform: str) -> FloatArray:
    std = SHORT_SERIES_STEP_STD[transform]
    return _finish(_normal_bands(float(x[-1]), std * std, q, horizon), transform)


def ewma_bands(
    y: Sequence[float] | npt.ArrayLike,
    horizon: int,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    *,
    alpha: float = 0.2,
    transform: Transform = "logit",
) -> FloatArray:
    """EWMA level/variance bands.

    ``level <- a*x + (1-a)*level`` and ``var <- a*(x - level_prev)**2 + (1-a)*var`` over the
    series (``level`` starts at the first point, ``var`` at the variance of the first differences);
    the ``h``-step band is ``level + z_tau * sqrt(var) * sqrt(h)``.
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    x, q = _prepare(y, horizon, quantiles, transform)
    if x.size < MIN_POINTS_FOR_FIT:
        return _prior_bands(x, q, horizon, transform)
    # only the last variance is needed: var_t = a (x_t - level_{t-1})² + b var_{t-1} unrolls into one dot product
    b = 1.0 - alpha
    m = x.size - 1
    levels = _ewma_levels(x, alpha)
    errors = x[1:] - levels[:-1]
    variance = b**m * _variance(x[1:] - x[:-1]) + float(_decay_weights(m, alpha) @ (errors * errors))
    return _finish(_normal_bands(float(levels[-1]), variance, q, horizon), transform)


def _ewma_levels(x: FloatArray, alpha: float) -> FloatArray:
    """``level_0 = x_0``, ``level_t = a x_t + b level_{t-1}`` (``b = 1 - a``) for every t, as prefix sums.

    Unrolled over a block that starts after step ``s``: ``level_{s+j} = b^j (level_s + a sum_{i<=j} b^-i x_{s+i})``,
    a cumulative sum of rescaled inputs: a few array operations where a recursion (or scipy's ``lfilter`` and its
    argument checks) would cost several times more on a service request. Blocks are short enough for ``b^-j`` to stay
    finite (one block for any series shorter than ~2,500 points at ``a = 0.2``). Each rescaled prefix sum is dominated
    by its latest terms, so the rounding error stays near ``eps * max|x| / a``.
    """
    levels = np.empty_like(x)
    levels[0] = level = x[0]
    if alpha == 1.0:
        levels[1:] = x[1:]
        return levels
    block = max(1, int(_MAX_GROWTH_LN / -math.log1p(-alpha)))
    for start in range(1, x.size, block):
        segment = x[start : start + block]
        grow, shrink = _block_powers(alpha, segment.size)
        levels[start : start + segment.size] = shrink * (level + alpha * np.add.accumulate(grow * segment))
        level = levels[start + segment.size - 1]
    return levels


#: ``ln`` of the largest factor ``b^-j`` a block may reach (1e250), so sums of rescaled inputs stay finite.
_MAX_GROWTH_LN: Final = 250 * math.log(10.0)


@lru_cache(maxsize=64)
def _block_powers(alpha: float, size: int) -> tuple[FloatArray, FloatArray]:
    """``b^-j`` and ``b^j`` for ``j = 1..size`` (``b = 1 - alpha``; cached, read-only)."""
    j = np.arange(1, size + 1, dtype=np.float64)
    grow, shrink = (1.0 - alpha) ** -j, (1.0 - alpha) ** j
    grow.setflags(write=False)
    shrink.setflags(write=False)
    return grow, shrink


@lru_cache(maxsize=64)
def _decay_weights(m: int, alpha: float) -> FloatArray:
    """``alpha * (1 - alpha)**(m - t)`` for ``t = 1..m`` (cached, read-only): the EWMA's weight of each step."""
    weights = alpha * (1.0 - alpha) ** np.arange(m - 1, -1, -1, dtype=np.float64)
    weights.setflags(write=False)
    return weights


def kalman_bands(
    y: Sequence[float] | npt.ArrayLike,
    horizon: int,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    *,
    q_var: float | None = None,
    r_var: float | None = None,
    transform: Transform = "logit",
) -> FloatArray:
    """Local-level Kalman filter bands (``mu_t = mu_{t-1} + eta``, ``x_t = mu_t + eps``).

    Unless given, the state noise is ``Q = var(diff(x))`` and the observation noise
    ``R = max(var(x) - Q, 1e-8)`` (the seed's moment heuristic). The filter starts at the first
    point with ``P = R``. With ``P`` the one-step-ahead predicted state variance after the last
    update (posterior + ``Q``), the ``h``-step observation variance is ``P + (h-1)*Q + R``.
    """
    x, q = _prepare(y, horizon, quantiles, transform)
    if q_var is not None and (not math.isfinite(q_var) or q_var < 0.0):
        raise ValueError(f"q_var must be finite and >= 0, got {q_var!r}")
    if r_var is not None and (not math.isfinite(r_var) or r_var <= 0.0):
        raise ValueError(f"r_var must be finite and > 0, got {r_var!r}")
    if x.size < MIN_POINTS_FOR_FIT and (q_var is None or r_var is None):
        return _prior_bands(x, q, horizon, transform)
    qv = _variance(x[1:] - x[:-1]) if q_var is None else float(q_var)
    rv = max(_variance(x) - qv, _R_FLOOR) if r_var is None else float(r_var)
    values = x.tolist()
    mu = values[0]
    p = rv
    for v in values[1:]:
        p += qv  # predict
        k = p / (p + rv)
        mu += k * (v - mu)
        p *= 1.0 - k
    p_pred = p + qv
    # var_h = P_pred + (h-1)Q + R = h*Q + (P_pred - Q + R)
    return _finish(_normal_bands(mu, qv, q, horizon, extra_var=p_pred - qv + rv), transform)


def rolling_quantile_bands(
    y: Sequence[float] | npt.ArrayLike,
    horizon: int,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    *,
    window: int = 64,
    transform: Transform = "logit",
) -> FloatArray:
    """Empirical-quantile bands: ``x_last + Q_tau(last `window` h-step changes)``.

    For each ``h`` the changes ``x[t] - x[t-h]`` of the most recent ``window`` end points are used
    (numpy's default linear-interpolated quantile). When fewer than two ``h``-step changes exist,
    the spread of the longest horizon ``h' < h`` that has two is scaled by ``sqrt(h / h')`` around the
    last value; with fewer than :data:`MIN_POINTS_FOR_FIT` points the prior band is used.
    """
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 2:
        raise ValueError(f"window must be an int >= 2, got {window!r}")
    x, q = _prepare(y, horizon, quantiles, transform)
    n = x.size
    if n < MIN_POINTS_FOR_FIT:
        return _prior_bands(x, q, horizon, transform)
    last = float(x[-1])
    out = np.empty((q.size, horizon), dtype=np.float64)
    full = min(horizon, n - window) if n > window else 0  # horizons with a complete window
    if full > 0:
        hs = np.arange(1, full + 1)
        # changes[h-1, j] = x[n-window+j] - x[n-window+j-h]
        ends = x[n - window :]
        starts = np.stack([x[n - window - h : n - h] for h in hs.tolist()])
        out[:, :full] = last + np.quantile(ends[None, :] - starts, q, axis=1)
    max_ok = min(horizon, n - 2)  # h with >= 2 changes available
    for h in range(full + 1, max_ok + 1):
        m = min(window, n - h)
        changes = x[n - m :] - x[n - m - h : n - h]
        out[:, h - 1] = last + np.quantile(changes, q)
    for h in range(max_ok + 1, horizon + 1):
        out[:, h - 1] = last + (out[:, max_ok - 1] - last) * math.sqrt(h / max_ok)
    return _finish(out, transform)


#: Name -> baseline function; all share the :class:`BaselineFn` call signature.
BASELINES: Final[dict[str, BaselineFn]] = {
    "ewma": ewma_bands,
    "kalman": kalman_bands,
    "rolling_quantile": rolling_quantile_bands,
}
